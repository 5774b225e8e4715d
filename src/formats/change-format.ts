import type { DataChangeEvent, SchemaChangeEvent } from '../core/change-event.js';
import type { TableSchema } from '../core/table-schema.js';

/**
 * One message of a change log: `key` is the row's primary key as JSON (null for a table without a key),
 * `value` the change as the format writes it, null for a tombstone (the key's last message on a compacted
 * topic after a delete).
 */
export interface LogRecord {
  readonly key: string | null;
  readonly value: string | null;
}

/** The formats a log sink writes: each turns one data change into its records, in order. */
export interface ChangeFormat {
  readonly name: 'debezium-json' | 'canal-json' | 'json';
  /** The records of `event`, a row of `schema`'s table. Pure: the same event and clock give the same text. */
  encode(event: DataChangeEvent, schema: TableSchema): LogRecord[];
  /**
   * The records of a table-level change that consumers of the log must see: a truncate (debezium-json `op: t`,
   * canal-json `TRUNCATE`) or a dropped table (canal-json `ERASE`); none for other changes or formats without a
   * way to say it. Keyless, so a log sink writes them where keyless records go (partition 0).
   */
  encodeTableChange(event: SchemaChangeEvent): LogRecord[];
}

/** What the formats need of their surroundings. */
export interface FormatContext {
  /** Debezium's `topic.prefix` / source `name`: the logical name of the captured server. */
  readonly serverName: string;
  /** The processing time written as the envelope's `ts_ms` (injectable, so golden tests are stable). */
  readonly nowMs: () => number;
}
