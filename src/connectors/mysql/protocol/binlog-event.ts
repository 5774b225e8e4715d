import type { Value } from '../../../core/data-type.js';

/** The common header of every binlog event (format v4). */
export interface BinlogEventHeader {
  /** Seconds since the epoch when the statement began on the server (0 for some artificial events). */
  readonly timestamp: number;
  /** The raw event type code (see `EventType`). */
  readonly type: number;
  readonly serverId: number;
  /** Size of the whole event in bytes, header and checksum included. */
  readonly eventSize: number;
  /** Position just after this event in its binlog file; 0 for artificial events (fake rotate, some FDEs). */
  readonly logPos: number;
  readonly flags: number;
  /** The event's CRC32 trailer, when the server writes checksums (`binlog_checksum=CRC32`). */
  readonly checksum?: number;
}

interface EventBase {
  readonly header: BinlogEventHeader;
}

/**
 * Switches the stream to another binlog file. The server sends an artificial one first (header.logPos 0,
 * `artificial: true`) naming the file it starts from; real ones end each file.
 */
export interface RotateEvent extends EventBase {
  readonly kind: 'rotate';
  readonly nextFile: string;
  readonly nextPos: number;
  readonly artificial: boolean;
}

export interface FormatDescriptionEvent extends EventBase {
  readonly kind: 'formatDescription';
  readonly binlogVersion: number;
  readonly serverVersion: string;
  /** Whether the events of this file end with a CRC32 checksum (already removed from what is decoded). */
  readonly checksumAlg: 'none' | 'crc32';
}

/**
 * The layout of a table as the binlog describes it; row events refer to it by `tableId`. The optional fields
 * are present when the server writes them (`binlog_row_metadata=FULL`; MINIMAL gives signedness and charsets).
 */
export interface TableMap {
  readonly tableId: number;
  readonly database: string;
  readonly table: string;
  /** Wire type per column (`ColumnType`); STRING columns hide ENUM/SET in `columnMeta`. */
  readonly columnTypes: readonly number[];
  /**
   * Per-column metadata as the server stores it: decimal `precision << 8 | scale`, VARCHAR max bytes, BLOB
   * length bytes, fsp of temporal2 types, BIT `bytes << 8 | bits`, STRING/ENUM/SET `byte0 << 8 | byte1`.
   */
  readonly columnMeta: readonly number[];
  readonly nullable: readonly boolean[];
  readonly columnNames?: readonly string[];
  /** Per column: signedness of numeric columns, undefined for the others. */
  readonly signedness?: readonly ('signed' | 'unsigned' | undefined)[];
  /**
   * Per column: the collation id (the protocol calls it charset; `charsetOfCollation` names the character set)
   * of character, BLOB, GEOMETRY and ENUM/SET columns, undefined for the others.
   */
  readonly charsets?: readonly (number | undefined)[];
  /** Per column: labels of ENUM columns, undefined for the others. */
  readonly enumValues?: readonly (readonly string[] | undefined)[];
  /** Per column: labels of SET columns, undefined for the others. */
  readonly setValues?: readonly (readonly string[] | undefined)[];
  /** Column indexes of the primary key, in key order. */
  readonly primaryKey?: readonly number[];
}

/**
 * A table map. Its `map` is the one the decoder keeps for the table id: every statement repeats its table's map, and
 * an identical one is not decoded again.
 */
export interface TableMapEvent extends EventBase {
  readonly kind: 'tableMap';
  readonly map: TableMap;
}

/**
 * Row changes of one table. `rows` holds one array per row image, values in table column order and in the
 * representation of the columns' canonical types (core/data-type.ts):
 * - insert: the new rows; delete: the old rows;
 * - update: before and after images alternate — `rows[2k]` is row k before, `rows[2k + 1]` after.
 * With a non-FULL row image the columns the server left out are `null` and `partial` is true.
 * Row arrays are fresh per event; values never alias the network buffer.
 */
export interface RowsEvent extends EventBase {
  readonly kind: 'rows';
  readonly action: 'insert' | 'update' | 'delete';
  readonly tableId: number;
  readonly database: string;
  readonly table: string;
  /**
   * `database.table`, made once per table map: the same string for every rows event of that map (each statement
   * repeats it), so that a lookup by it hashes it once.
   */
  readonly qualifiedName: string;
  readonly rows: Value[][];
  readonly partial: boolean;
  /** Rows-event flags (`ROWS_STMT_END_F` …). */
  readonly flags: number;
}

export interface XidEvent extends EventBase {
  readonly kind: 'xid';
  readonly xid: bigint;
}

/** A statement: BEGIN / COMMIT of non-XA engines, DDL, and statement-logged DML. */
export interface QueryEvent extends EventBase {
  readonly kind: 'query';
  /** The default database of the session (may be ''). */
  readonly database: string;
  readonly sql: string;
  readonly errorCode: number;
  readonly threadId: number;
  readonly executionTime: number;
}

/** MariaDB GTID (type 162) or MySQL GTID / anonymous GTID (33 / 34). */
export type GtidEvent = MariadbGtidEvent | MysqlGtidEvent;

export interface MariadbGtidEvent extends EventBase {
  readonly kind: 'gtid';
  readonly flavor: 'mariadb';
  readonly domainId: number;
  readonly serverId: number;
  readonly sequence: bigint;
  /** GTID flags (`FL_STANDALONE` = 1, `FL_GROUP_COMMIT_ID` = 2, `FL_TRANSACTIONAL` = 4, `FL_DDL` = 32 …). */
  readonly flags: number;
  /** No COMMIT/XID closes this group (DDL and other auto-committed statements). */
  readonly standalone: boolean;
  readonly commitId?: bigint;
  /** `domain-server-sequence`. */
  readonly gtid: string;
}

export interface MysqlGtidEvent extends EventBase {
  readonly kind: 'gtid';
  readonly flavor: 'mysql';
  readonly anonymous: boolean;
  readonly uuid: string;
  readonly gno: bigint;
  readonly flags: number;
  /** `uuid:gno`. */
  readonly gtid: string;
}

/** MariaDB GTID list (163): the binlog state at the start of a file. */
export interface GtidListEvent extends EventBase {
  readonly kind: 'gtidList';
  readonly gtids: readonly { readonly domainId: number; readonly serverId: number; readonly sequence: bigint }[];
}

/** MySQL previous GTIDs (35): the GTID set executed before this file, as `uuid:1-5:7,uuid2:1-3`. */
export interface PreviousGtidsEvent extends EventBase {
  readonly kind: 'previousGtids';
  readonly gtidSet: string;
}

/** The SQL of the statement whose row events follow (MariaDB 160; MySQL rows-query 29). */
export interface AnnotateRowsEvent extends EventBase {
  readonly kind: 'annotateRows';
  readonly sql: string;
}

/** Sent by the server when it has had nothing to send for the heartbeat period; never in a file. */
export interface HeartbeatEvent extends EventBase {
  readonly kind: 'heartbeat';
  /** The binlog file the server is at ('' if a v2 heartbeat did not say). */
  readonly logFile: string;
  /** The position in it: the end of the last event sent (`header.logPos`, or the v2 heartbeat's own field). */
  readonly logPos: number;
}

export interface MariadbBinlogCheckpointEvent extends EventBase {
  readonly kind: 'mariadbBinlogCheckpoint';
  readonly logFile: string;
}

/** The server lost events (e.g. a non-transactional statement that failed midway): replication is unsafe. */
export interface IncidentEvent extends EventBase {
  readonly kind: 'incident';
  readonly incident: number;
  readonly message: string;
}

/** Anything else (intvar, rand, user var, stop, MySQL transaction context …), undecoded. */
export interface OtherEvent extends EventBase {
  readonly kind: 'other';
  readonly type: number;
}

export type BinlogEvent =
  | RotateEvent
  | FormatDescriptionEvent
  | TableMapEvent
  | RowsEvent
  | XidEvent
  | QueryEvent
  | GtidEvent
  | GtidListEvent
  | PreviousGtidsEvent
  | AnnotateRowsEvent
  | HeartbeatEvent
  | MariadbBinlogCheckpointEvent
  | IncidentEvent
  | OtherEvent;

export type BinlogEventKind = BinlogEvent['kind'];
