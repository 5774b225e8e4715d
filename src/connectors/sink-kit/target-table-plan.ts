import type { ColumnRename, SchemaChangeEvent } from '../../core/change-event.js';
import type { DataType } from '../../core/data-type.js';
import type { Column, TableSchema } from '../../core/table-schema.js';

/** A column of an existing sink table, as the sink's catalog describes it. */
export interface ExistingColumn {
  readonly name: string;
  /** The sink's type name, as DDL can write it. */
  readonly type: string;
  readonly notNull: boolean;
  readonly hasDefault: boolean;
}

/** One change to a sink table's columns. `type` is always a sink type name (from the sink's `typeOf`). */
export type ColumnChange =
  | { readonly kind: 'rename'; readonly from: string; readonly to: string }
  | { readonly kind: 'drop'; readonly column: string }
  | { readonly kind: 'alterType'; readonly column: string; readonly from: string; readonly to: string }
  | { readonly kind: 'dropNotNull'; readonly column: string }
  /** `default`: the SQL expression that fills the rows already in the table (see {@link TargetTablePlanInput.defaultOf}). */
  | { readonly kind: 'add'; readonly column: Column; readonly type: string; readonly default?: string };

export interface TargetTablePlanInput {
  /** The sink table's columns as they are now. */
  readonly current: readonly ExistingColumn[];
  /** The source schema the table followed until now; undefined when unknown (then nothing is dropped or retyped). */
  readonly previous: TableSchema | undefined;
  /** The source schema the table must follow from now on. */
  readonly next: TableSchema;
  readonly renames: readonly ColumnRename[];
  /** The sink type of a canonical type. */
  readonly typeOf: (type: DataType) => string;
  /** Whether two column names denote one column in the sink (DuckDB: case-insensitively). */
  readonly sameName: (a: string, b: string) => boolean;
  /** Keep columns the source dropped (a changelog never loses history); they only lose NOT NULL. */
  readonly keepDropped?: boolean;
  /**
   * The DEFAULT expression a new column is added with, from its `defaultValue`, so that the rows already in
   * the table get the value the source gave its own rows. Unset (a changelog, whose history rows never had
   * the column): new columns are added without one, and old rows hold NULL.
   */
  readonly defaultOf?: (column: Column, type: string) => string | undefined;
}

/**
 * The plan of what must change on a sink table so that rows of `next` can be written and the table holds the
 * source's columns: renames first (so data stays with its column), then drops of columns the source had and no
 * longer has, type changes of columns whose canonical type changed, NOT NULL dropped where the source allows
 * NULL now (or no longer writes the column), and last the new columns, nullable, at the end (with the default
 * of {@link TargetTablePlanInput.defaultOf}, if any). Columns the sink
 * has and the source never had (added by hand) are kept. NOT NULL is never added, nor the key changed.
 * Applying the changes in order is valid: each refers to the names the previous ones left.
 */
export function planTargetTable(input: TargetTablePlanInput): ColumnChange[] {
  const { next, typeOf, sameName } = input;
  const changes: ColumnChange[] = [];
  const columns = input.current.map((c): Mutable<ExistingColumn> => ({ ...c }));
  const find = (name: string) => columns.find((c) => sameName(c.name, name));
  /** The previous source column now called `name` (renames followed). */
  const previousOf = (name: string): Column | undefined => {
    const rename = input.renames.find((r) => sameName(r.to, name));
    const old = rename === undefined ? name : rename.from;
    return input.previous?.columns.find((c) => sameName(c.name, old));
  };

  for (const { from, to } of input.renames) {
    const column = find(from);
    if (column === undefined || find(to) !== undefined || sameName(from, to)) continue;
    changes.push({ kind: 'rename', from: column.name, to });
    column.name = to;
  }

  const inNext = (name: string): Column | undefined => next.columns.find((c) => sameName(c.name, name));
  if (input.previous !== undefined && input.keepDropped !== true) {
    for (const column of [...columns]) {
      if (inNext(column.name) !== undefined || previousOf(column.name) === undefined) continue;
      changes.push({ kind: 'drop', column: column.name });
      columns.splice(columns.indexOf(column), 1);
    }
  }

  for (const target of next.columns) {
    const column = find(target.name);
    const before = previousOf(target.name);
    if (column === undefined || before === undefined) continue;
    const to = typeOf(target.type);
    if (typeOf(before.type) === to) continue;
    changes.push({ kind: 'alterType', column: column.name, from: column.type, to });
    column.type = to;
  }

  const key = (name: string): boolean => next.primaryKey.some((k) => sameName(k, name));
  for (const column of columns) {
    if (!column.notNull || key(column.name)) continue;
    const target = inNext(column.name);
    const relax = target === undefined ? !column.hasDefault : target.nullable;
    if (!relax) continue;
    changes.push({ kind: 'dropNotNull', column: column.name });
    column.notNull = false;
  }

  for (const target of next.columns) {
    if (find(target.name) !== undefined) continue;
    const type = typeOf(target.type);
    const fill = input.defaultOf?.(target, type);
    changes.push({ kind: 'add', column: target, type, ...(fill === undefined ? {} : { default: fill }) });
  }
  return changes;
}

/** A column of the table a plan leads to, and where its values come from. */
export interface PlannedColumn {
  readonly name: string;
  readonly type: string;
  readonly notNull: boolean;
  /** The current column whose values it takes (renames followed); undefined for a new column. */
  readonly source: string | undefined;
  /** The values change type on the way (a cast is needed). */
  readonly retyped: boolean;
  /** For a new column: the DEFAULT expression that fills the rows copied over (from the planned change). */
  readonly default?: string;
}

/**
 * The columns of the table after `changes`, in table order (new ones at the end), each with the column of
 * `current` it takes its values from: what a sink that rebuilds a table instead of altering it needs.
 */
export function plannedColumns(
  current: readonly ExistingColumn[],
  changes: readonly ColumnChange[],
  sameName: (a: string, b: string) => boolean,
): PlannedColumn[] {
  const columns = current.map((c): Mutable<PlannedColumn> & { hasDefault: boolean } => ({
    ...c,
    source: c.name,
    retyped: false,
  }));
  const find = (name: string) => columns.find((c) => sameName(c.name, name));
  for (const change of changes) {
    switch (change.kind) {
      case 'rename':
        find(change.from)!.name = change.to;
        break;
      case 'drop':
        columns.splice(columns.indexOf(find(change.column)!), 1);
        break;
      case 'alterType': {
        const column = find(change.column)!;
        column.type = change.to;
        column.retyped = true;
        break;
      }
      case 'dropNotNull':
        find(change.column)!.notNull = false;
        break;
      case 'add':
        columns.push({
          name: change.column.name,
          type: change.type,
          notNull: false,
          hasDefault: change.default !== undefined,
          source: undefined,
          retyped: false,
          ...(change.default === undefined ? {} : { default: change.default }),
        });
        break;
    }
  }
  return columns.map(({ name, type, notNull, source, retyped, default: fill }) => ({
    name,
    type,
    notNull,
    source,
    retyped,
    ...(fill === undefined ? {} : { default: fill }),
  }));
}

/**
 * The columns `event` renames: its `renamedColumns`, or — for a `renameColumn` event without them — the one
 * column that left `previous` and the one that joined, when exactly one did each.
 */
export function columnRenames(event: SchemaChangeEvent, previous: TableSchema | undefined): readonly ColumnRename[] {
  if (event.renamedColumns !== undefined) return event.renamedColumns;
  if (event.change !== 'renameColumn' || previous === undefined) return [];
  const nextNames = new Set(event.schema.columns.map((c) => c.name));
  const previousNames = new Set(previous.columns.map((c) => c.name));
  const removed = previous.columns.filter((c) => !nextNames.has(c.name));
  const added = event.schema.columns.filter((c) => !previousNames.has(c.name));
  return removed.length === 1 && added.length === 1 ? [{ from: removed[0]!.name, to: added[0]!.name }] : [];
}

type Mutable<T> = { -readonly [K in keyof T]: T[K] };
