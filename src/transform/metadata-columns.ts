import type { ChangeOp } from '../core/change-event.js';
import type { DataType } from '../core/data-type.js';
import type { TableId } from '../core/table-schema.js';
import type { Compiled } from './expression/eval-context.js';
import { formatTimestamp } from './expression/temporal.js';

/**
 * Metadata columns that a projection or filter can name like ordinary columns (Flink CDC's names). Each
 * becomes a NOT NULL column of the output table:
 * - `__schema_name__`, `__namespace_name__`: the source database (MySQL/MariaDB; both give the same value,
 *   `__namespace_name__` exists for files written for other Flink CDC sources) — `varchar(64)`, MySQL's
 *   longest identifier.
 * - `__table_name__`: the source table — `varchar(64)`.
 * - `__data_event_type__`: Flink's row kind — `varchar(2)`, see {@link opTypeCode}.
 * - `op_ts`: when the source committed the change — `timestamptz(3)`; 1970-01-01 for snapshot rows, as in
 *   Flink CDC. A source column named `op_ts` (the MySQL source's `metadata.list`) takes precedence.
 * A source column of the same name is hidden by the `__…__` metadata columns.
 */
export const METADATA_COLUMN_NAMES = [
  '__schema_name__',
  '__namespace_name__',
  '__table_name__',
  '__data_event_type__',
  'op_ts',
] as const;

export type MetadataColumnName = (typeof METADATA_COLUMN_NAMES)[number];

const NAMES: ReadonlySet<string> = new Set(METADATA_COLUMN_NAMES);

export function isMetadataColumn(name: string): name is MetadataColumnName {
  return NAMES.has(name);
}

export function metadataColumnType(name: MetadataColumnName): DataType {
  if (name === 'op_ts') return { kind: 'timestamptz', precision: 3 };
  return name === '__data_event_type__' ? { kind: 'varchar', length: 2 } : { kind: 'varchar', length: 64 };
}

/** The value of a metadata column that is the same for every row of `table` (the names). */
export function metadataTableValue(
  name: Exclude<MetadataColumnName, '__data_event_type__' | 'op_ts'>,
  table: TableId,
): string {
  return name === '__table_name__' ? table.name : table.namespace;
}

/**
 * The metadata columns of `table` for the expression compiler: the names are constants of the table, the
 * event type and op_ts are read from the row's change event. `op_ts` yields to a source column so named.
 */
export function metadataResolver(table: TableId): (name: string, hasColumn: boolean) => Compiled | undefined {
  return (name, hasColumn) => {
    if (!isMetadataColumn(name)) return undefined;
    const type = metadataColumnType(name);
    switch (name) {
      case '__data_event_type__':
        return { type, nullable: false, evaluate: (ctx) => opTypeCode(ctx.op, ctx.image) };
      case 'op_ts':
        return hasColumn
          ? undefined
          : { type, nullable: false, evaluate: (ctx) => formatTimestamp(BigInt(ctx.tsMs) * 1000n, 3, 'Z') };
      default: {
        const value = metadataTableValue(name, table);
        return { type, nullable: false, constant: true, evaluate: () => value };
      }
    }
  };
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
