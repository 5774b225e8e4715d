import type { StreamEvent } from './packed-rows.js';
import type { TableId, TableSchema } from './table-schema.js';
import type { KeyBound, TableChecksums } from './table-checksums.js';
import type { ValidationCheck } from './validation-check.js';

/**
 * A source's resume state, JSON-serialisable and opaque to everything but its source: for MySQL the binlog
 * position plus snapshot progress. It is committed together with the effects of the events before it, so a
 * restart from it neither skips nor repeats a change.
 */
export type SourcePosition = { readonly [key: string]: unknown };

/** Events travel in batches; each batch carries the position to resume from after its last event. */
export interface ChangeBatch {
  /** Change events; packed snapshot reads only after {@link Source.packReads}. */
  readonly events: readonly StreamEvent[];
  /** Resume state after the last event of this batch (applies to the whole stream, not one table). */
  readonly position: SourcePosition;
  /** The source had nothing more buffered when it handed this batch over: a good moment to commit. */
  readonly caughtUp: boolean;
}

/** What `validate` found: the tables the pipeline will capture, with their schemas. */
export interface SourceDescription {
  readonly tables: readonly TableSchema[];
  /** One line per check that passed, for `tributary validate`. */
  readonly checks: readonly string[];
  /** What passed but should change (a binlog kept too briefly, a chunk key that is not unique …). */
  readonly warnings?: readonly ValidationCheck[];
}

/** Key columns of one source table, for {@link Source.keyOverlaps}. */
export interface TableKey {
  readonly table: TableId;
  /** Source column names, in key order. */
  readonly columns: readonly string[];
}

/** Whether two source tables hold rows with the same key values (merged into one sink table, they would collide). */
export interface KeyOverlap {
  readonly a: TableId;
  readonly b: TableId;
  /**
   * True: their key ranges overlap (and, when `commonKeys` is set, that many keys are in both); false: no key
   * is in both (yet); undefined: not found out.
   */
  readonly overlapping: boolean | undefined;
  /** The number of keys in both, when counted exactly (small tables). */
  readonly commonKeys?: number;
  /** For humans: e.g. `db.a and db.b both hold id 1..500 (500 keys in common)`. */
  readonly description: string;
}

/**
 * A source connector. `validate` runs every check a user can fail before anything moves (reachability,
 * credentials, server settings, privileges, keys). `open` then starts reading at `resume` (or, without one,
 * where the startup mode says); `batches` yields changes in source history order per key until `close` is
 * called or, for a bounded source (snapshot-only), until it is done.
 */
export interface Source {
  validate(): Promise<SourceDescription>;
  /**
   * The checks `open(position)` makes of a saved position before it reads anything (it belongs to this server,
   * the server still has it), without opening: throws the error `open` would throw; returns what was checked.
   */
  checkResume?(position: SourcePosition): Promise<string>;
  /**
   * For tables merged into one sink table: whether their keys overlap, per pair of `tables`, as far as the
   * source can tell cheaply. Reads the tables; changes nothing.
   */
  keyOverlaps?(tables: readonly TableKey[]): Promise<KeyOverlap[]>;
  open(resume: SourcePosition | null): Promise<void>;
  /**
   * Called before `open`: each batch should hold events of at most `maxTables` distinct tables, so that the
   * runtime can commit between batches before a sink transaction touches more tables than the sink allows. A
   * batch is cut only where its position is a valid resume point; a source that cannot cut (or does not
   * implement this) hands over larger batches, which the sink then writes in one transaction.
   */
  limitBatchTables?(maxTables: number): void;
  /**
   * Called before `open` when every stage after the source takes {@link PackedReadEvent}s: snapshot reads may
   * then come as packed runs (a source without a packed form ignores it, or does not implement it).
   */
  packReads?(): void;
  batches(): AsyncIterable<ChangeBatch>;
  /**
   * Called after the runtime committed a checkpoint with `position` (in the sink and the state store): the
   * source may now let its server forget the log before it (a PostgreSQL slot's `confirmed_flush_lsn`).
   */
  committed?(position: SourcePosition): void;
  /**
   * Reads key ranges of one table again while the log flows (`verify --repair` of a running pipeline), each in a
   * snapshot window as the initial snapshot reads chunks, and emits the rows as upserts and the request's
   * sink-only keys the window proves gone as deletes. Resolves once all of it is committed with a checkpoint.
   */
  repair?(request: RepairRequest): Promise<RepairOutcome>;
  /** Progress for humans: snapshot chunks done, binlog position, lag. */
  progress(): SourceProgress;
  /** Checksums of the source's tables for `tributary verify` (own connection; needs no `open`). */
  /**
   * Reads one snapshot chunk that a capture process handed out through {@link RemoteChunks} (the scale-out
   * snapshot-reader role), on a connection of this source's own; the result is what the capture's `read`
   * resolves with. Only sources that support remote snapshot readers have it.
   */
  readChunkItem?(item: unknown): Promise<unknown>;
  checksums?(): Promise<TableChecksums>;
  close(): Promise<void>;
}

/** One table of a snapshot in {@link SourceProgress}. */
export interface SnapshotTableProgress {
  /** `db.table` */
  readonly table: string;
  readonly rowsRead: number;
  readonly rowsEstimate: number | undefined;
}

export interface SourceProgress {
  readonly phase: 'starting' | 'snapshot' | 'streaming' | 'done';
  readonly snapshotTablesDone: number;
  readonly snapshotTablesTotal: number;
  readonly snapshotRowsRead: number;
  /**
   * The source's estimate of the rows the snapshot reads in all (e.g. MySQL's `TABLE_ROWS` statistics, which may be
   * off by tens of percent), when it has one. For progress lines only: never compared with what was read.
   */
  readonly snapshotRowsEstimate?: number;
  /** Per table being snapshotted: rows read so far by this run and the estimate, for detail at debug level. */
  readonly snapshotTables?: readonly SnapshotTableProgress[];
  /** Rows read by this run's snapshot per table (`db.table`), finished tables included. */
  readonly snapshotRowsByTable?: ReadonlyMap<string, number>;
  /** Snapshot chunks read so far by this run. */
  readonly snapshotChunksRead?: number;
  /** About how many rows one snapshot chunk holds (`chunk.size`), to estimate the chunks left. */
  readonly snapshotChunkSize?: number;
  /** Human-readable log position, e.g. `mysql-bin.000003:1234`. */
  readonly logPosition: string;
  /** How far the last event read lags behind the source's clock, in ms (0 when caught up). */
  readonly lagMs: number;
  /** How many bytes of log the server has written past the position read, when the source knows. */
  readonly lagBytes?: number;
  /**
   * How many messages of the log are past the position read, when the source knows (the `nats` source of one
   * scale-out partition: that partition's messages in the stream not yet taken, from its consumer's info).
   */
  readonly lagMessages?: number;
}

/** Key ranges of one source table to read again while the pipeline runs ({@link Source.repair}). */
export interface RepairRequest {
  readonly table: TableId;
  readonly chunks: readonly RepairChunk[];
}

/** One range of a {@link RepairRequest}, by the table's primary key, as `tributary verify` chunks it. */
export interface RepairChunk {
  /** Rows with key in (`lo`, `hi`]; null is the open end. Canonical key texts (see TableChecksums). */
  readonly lo: KeyBound;
  readonly hi: KeyBound;
  /** Keys verify found only in the sink (canonical key texts): deleted unless the source holds them by then. */
  readonly onlyInSink: readonly string[];
}

/** What {@link Source.repair} wrote once committed. */
export interface RepairOutcome {
  /** Rows read again and written as upserts. */
  readonly upserted: number;
  /** Sink-only keys deleted. */
  readonly deleted: number;
}
