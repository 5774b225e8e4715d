/**
 * Numeric codes of the MySQL/MariaDB replication protocol: binlog event types and column (field) types.
 * Values are the servers' own (`Log_event_type`, `enum_field_types`); names drop the `_EVENT` / `MYSQL_TYPE_`
 * prefixes and suffixes.
 */
export const EventType = {
  UNKNOWN: 0,
  START_V3: 1,
  QUERY: 2,
  STOP: 3,
  ROTATE: 4,
  INTVAR: 5,
  SLAVE: 7,
  APPEND_BLOCK: 9,
  DELETE_FILE: 11,
  RAND: 13,
  USER_VAR: 14,
  FORMAT_DESCRIPTION: 15,
  XID: 16,
  BEGIN_LOAD_QUERY: 17,
  EXECUTE_LOAD_QUERY: 18,
  TABLE_MAP: 19,
  WRITE_ROWS_V0: 20,
  UPDATE_ROWS_V0: 21,
  DELETE_ROWS_V0: 22,
  WRITE_ROWS_V1: 23,
  UPDATE_ROWS_V1: 24,
  DELETE_ROWS_V1: 25,
  INCIDENT: 26,
  HEARTBEAT: 27,
  IGNORABLE: 28,
  ROWS_QUERY: 29,
  WRITE_ROWS_V2: 30,
  UPDATE_ROWS_V2: 31,
  DELETE_ROWS_V2: 32,
  GTID: 33,
  ANONYMOUS_GTID: 34,
  PREVIOUS_GTIDS: 35,
  TRANSACTION_CONTEXT: 36,
  VIEW_CHANGE: 37,
  XA_PREPARE: 38,
  PARTIAL_UPDATE_ROWS: 39,
  TRANSACTION_PAYLOAD: 40,
  HEARTBEAT_V2: 41,
  GTID_TAGGED: 42,
  // MariaDB
  ANNOTATE_ROWS: 160,
  BINLOG_CHECKPOINT: 161,
  MARIADB_GTID: 162,
  MARIADB_GTID_LIST: 163,
  START_ENCRYPTION: 164,
  QUERY_COMPRESSED: 165,
  WRITE_ROWS_COMPRESSED_V1: 166,
  UPDATE_ROWS_COMPRESSED_V1: 167,
  DELETE_ROWS_COMPRESSED_V1: 168,
  WRITE_ROWS_COMPRESSED_V2: 169,
  UPDATE_ROWS_COMPRESSED_V2: 170,
  DELETE_ROWS_COMPRESSED_V2: 171,
  PARTIAL_ROW_DATA: 172,
} as const;

/** Column types as they appear in table-map events (`enum_field_types`). */
export const ColumnType = {
  DECIMAL: 0,
  TINY: 1,
  SHORT: 2,
  LONG: 3,
  FLOAT: 4,
  DOUBLE: 5,
  NULL: 6,
  TIMESTAMP: 7,
  LONGLONG: 8,
  INT24: 9,
  DATE: 10,
  TIME: 11,
  DATETIME: 12,
  YEAR: 13,
  NEWDATE: 14,
  VARCHAR: 15,
  BIT: 16,
  TIMESTAMP2: 17,
  DATETIME2: 18,
  TIME2: 19,
  TYPED_ARRAY: 20,
  /** MariaDB: a compressed BLOB/TEXT column (`COMPRESSED` attribute). */
  BLOB_COMPRESSED: 140,
  /** MariaDB: a compressed VARCHAR column. */
  VARCHAR_COMPRESSED: 141,
  VECTOR: 242,
  JSON: 245,
  NEWDECIMAL: 246,
  ENUM: 247,
  SET: 248,
  TINY_BLOB: 249,
  MEDIUM_BLOB: 250,
  LONG_BLOB: 251,
  BLOB: 252,
  VAR_STRING: 253,
  STRING: 254,
  GEOMETRY: 255,
} as const;

/** Event header flag: the event was made up by the server for the stream (fake rotate), not read from a file. */
export const LOG_EVENT_ARTIFICIAL_F = 0x20;

/** Rows-event flag: last rows event of its statement. */
export const ROWS_STMT_END_F = 0x0001;

/** MariaDB GTID event flag: the event group has no terminating COMMIT/XID (DDL and other auto-committed). */
export const MARIADB_GTID_FL_STANDALONE = 0x01;
/** MariaDB GTID event flag: a commit id (group commit) follows the flags byte. */
export const MARIADB_GTID_FL_GROUP_COMMIT_ID = 0x02;

/** Size of the common event header (binlog format v4). */
export const EVENT_HEADER_LENGTH = 19;
