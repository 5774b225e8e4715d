import type { ChangeOp } from '../core/change-event.js';
import type { DataType } from '../core/data-type.js';
import type { TableId } from '../core/table-schema.js';

/**
 * Metadata columns that a projection can name like ordinary columns (Flink CDC's names). Each becomes a
 * NOT NULL column of the output table:
 * - `__schema_name__`, `__namespace_name__`: the source database (MySQL/MariaDB; both give the same value,
 *   `__namespace_name__` exists for files written for other Flink CDC sources) — `varchar(64)`, MySQL's
 *   longest identifier.
 * - `__table_name__`: the source table — `varchar(64)`.
 * - `__data_event_type__`: Flink's row kind — `varchar(2)`, see {@link opTypeCode}.
 * A source column of the same name is hidden by the metadata column.
 */
export const METADATA_COLUMN_NAMES = [
  '__schema_name__',
  '__namespace_name__',
  '__table_name__',
  '__data_event_type__',
] as const;

export type MetadataColumnName = (typeof METADATA_COLUMN_NAMES)[number];

const NAMES: ReadonlySet<string> = new Set(METADATA_COLUMN_NAMES);

export function isMetadataColumn(name: string): name is MetadataColumnName {
  return NAMES.has(name);
}

export function metadataColumnType(name: MetadataColumnName): DataType {
  return name === '__data_event_type__' ? { kind: 'varchar', length: 2 } : { kind: 'varchar', length: 64 };
}

/** The value of a metadata column that is the same for every row of `table` (all but the event type). */
export function metadataTableValue(name: Exclude<MetadataColumnName, '__data_event_type__'>, table: TableId): string {
  return name === '__table_name__' ? table.name : table.namespace;
}

/** Flink's row kinds: insert, update before-image, update after-image, delete. */
export type OpTypeCode = '+I' | '-U' | '+U' | '-D';

/**
 * The `__data_event_type__` value of one row image, in Flink's spelling: snapshot reads and inserts are
 * `+I`; an update's before image is `-U` and its after image `+U`; a delete's before image is `-D`.
 */
export function opTypeCode(op: ChangeOp, image: 'before' | 'after'): OpTypeCode {
  switch (op) {
    case 'read':
    case 'insert':
      return '+I';
    case 'update':
      return image === 'before' ? '-U' : '+U';
    case 'delete':
      return '-D';
  }
}
