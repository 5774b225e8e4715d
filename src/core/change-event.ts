import type { Row } from './data-type.js';
import type { TableId, TableSchema } from './table-schema.js';

/** Where in the source's history an event comes from. `position` is the source's own typed offset. */
export interface SourceInfo {
  /** Milliseconds since the epoch at which the source committed the change (0 for snapshot reads). */
  readonly tsMs: number;
  /** The source transaction, when it has one (a GTID for MySQL/MariaDB). */
  readonly txId?: string;
  /**
   * Where this change stands in the source's log, unique per change and increasing in log order within one
   * source (MySQL: `file:transaction-start:row-index`, zero-padded so that text order is log order). Absent
   * for snapshot reads. Append-mode sinks key their changelog by it.
   */
  readonly position?: string;
  /**
   * A log change of a row whose table's snapshot had not delivered it yet, which the source could not leave out
   * (docs/02-snapshots.md): the row may come again as a snapshot read, and an update's or delete's old row was
   * never delivered. Upserts absorb it; a consumer that needs an exact changelog (a SQL job) cannot.
   */
  readonly snapshotPending?: true;
}

export type ChangeOp = 'read' | 'insert' | 'update' | 'delete';

/**
 * One row change. `before` is set for update and delete, `after` for read, insert and update; both are
 * arrays in the column order of the table's schema in force when the event was produced (the last
 * {@link SchemaChangeEvent} seen for `table`).
 */
export interface DataChangeEvent {
  readonly kind: 'data';
  readonly table: TableId;
  readonly op: ChangeOp;
  readonly before: Row | null;
  readonly after: Row | null;
  readonly source: SourceInfo;
}

export type SchemaChangeType =
  | 'createTable'
  | 'addColumn'
  | 'dropColumn'
  | 'renameColumn'
  | 'alterColumnType'
  | 'renameTable'
  | 'dropTable'
  | 'truncateTable'
  /** The schema changed in a way that was not classified; `schema` is the table as it is now. */
  | 'refreshTable';

/**
 * A table's schema appeared or changed. Every table's first event in a stream is a `createTable`, so a
 * stage downstream always knows how to read the rows that follow. `schema` is the complete schema after
 * the change; stages that only need the new shape can ignore `change`. For `renameTable`, `table` is the
 * old name and `schema.id` the new one; for `truncateTable` and `dropTable`, `schema` is the table's last schema.
 */
export interface SchemaChangeEvent {
  readonly kind: 'schema';
  readonly table: TableId;
  readonly change: SchemaChangeType;
  readonly schema: TableSchema;
  /** The DDL statement that caused the change, when there was one. */
  readonly ddl?: string;
  /**
   * Columns renamed by this change, old name → new name, so that a stage downstream renames rather than
   * dropping one column and adding another (set with `renameColumn`, and with any change that renames).
   */
  readonly renamedColumns?: readonly ColumnRename[];
  readonly source: SourceInfo;
}

/** One column rename inside a {@link SchemaChangeEvent}. */
export interface ColumnRename {
  readonly from: string;
  readonly to: string;
}

/** Everything that flows from a source through the transforms into a sink. */
export type ChangeEvent = DataChangeEvent | SchemaChangeEvent;

export function dataChange(
  table: TableId,
  op: ChangeOp,
  before: Row | null,
  after: Row | null,
  source: SourceInfo,
): DataChangeEvent {
  return { kind: 'data', table, op, before, after, source };
}
