import type { ColumnRename, SchemaChangeType } from '../../core/change-event.js';
import { formatDataType } from '../../core/data-type.js';
import type { Column, TableSchema } from '../../core/table-schema.js';
import type { SchemaChangeTypeName } from './schema-change-types.js';

/** What changed between two schemas of one sink table, by column name (renames given, not guessed). */
export interface SchemaDiff {
  readonly added: readonly string[];
  readonly dropped: readonly string[];
  readonly renamed: readonly ColumnRename[];
  /** Columns whose type or nullability changed (under their new name when renamed). */
  readonly altered: readonly string[];
  readonly keyChanged: boolean;
}

export function diffSchemas(previous: TableSchema, next: TableSchema, renames: readonly ColumnRename[]): SchemaDiff {
  const added: string[] = [];
  const dropped: string[] = [];
  const altered: string[] = [];
  const renamed = renames.filter((r) => hasColumn(previous, r.from) && hasColumn(next, r.to));
  for (const column of previous.columns) {
    const name = renamed.find((r) => r.from === column.name)?.to ?? column.name;
    const now = next.columns.find((c) => c.name === name);
    if (now === undefined) dropped.push(column.name);
    else if (!sameColumnType(column, now)) altered.push(name);
  }
  for (const column of next.columns) {
    const before = renamed.find((r) => r.to === column.name)?.from ?? column.name;
    if (!hasColumn(previous, before)) added.push(column.name);
  }
  const keyChanged =
    previous.primaryKey.length !== next.primaryKey.length ||
    previous.primaryKey.some((k, i) => k !== next.primaryKey[i]);
  return { added, dropped, renamed, altered, keyChanged };
}

/**
 * `next` with only the changes the sink accepts applied to `previous`: a refused drop keeps the column (made
 * nullable, since new rows have no value for it), a refused rename is a drop plus an add, each accepted or
 * not on its own; a refused add leaves the column out; a refused alter keeps the old type.
 */
export function acceptedSchema(
  previous: TableSchema,
  next: TableSchema,
  renames: readonly ColumnRename[],
  accepted: ReadonlySet<SchemaChangeTypeName>,
): { schema: TableSchema; renames: ColumnRename[] } {
  const applied = accepted.has('rename.column')
    ? renames.filter((r) => hasColumn(previous, r.from) && hasColumn(next, r.to))
    : [];
  const columns: Column[] = [];
  const matched = new Set<string>();
  for (const column of previous.columns) {
    const name = applied.find((r) => r.from === column.name)?.to ?? column.name;
    const now = next.columns.find((c) => c.name === name);
    if (now === undefined) {
      if (!accepted.has('drop.column')) columns.push({ ...column, nullable: true });
      continue;
    }
    matched.add(name);
    columns.push(sameColumnType(column, now) || !accepted.has('alter.column.type') ? { ...column, name } : now);
  }
  if (accepted.has('add.column')) {
    for (const column of next.columns) {
      if (matched.has(column.name)) continue;
      // A refused rename adds the new name: its rows hold the old column's values, not the default.
      const { defaultValue: _, ...withoutDefault } = column;
      columns.push(renames.some((r) => r.to === column.name) ? withoutDefault : column);
    }
  }
  const keyFits = next.primaryKey.every((k) => columns.some((c) => c.name === k));
  return {
    schema: { id: next.id, columns, primaryKey: keyFits ? next.primaryKey : previous.primaryKey },
    renames: applied,
  };
}

/**
 * For `try_evolve`: the column changes a sink refused, by column name — the column as it was asked for, or
 * null for a drop. Not asked again while the source asks for the same thing.
 */
export type RefusedColumns = Map<string, Column | null>;

/** Adds to `refused` the column changes that lead from `previous` to `failed` (a change the sink refused). */
export function noteRefused(previous: TableSchema, failed: TableSchema, refused: RefusedColumns): void {
  for (const column of failed.columns) {
    const before = previous.columns.find((c) => c.name === column.name);
    if (before === undefined || !sameColumnType(before, column)) refused.set(column.name, column);
  }
  for (const column of previous.columns) if (!hasColumn(failed, column.name)) refused.set(column.name, null);
}

/**
 * `next` without the column changes the sink refused before, as long as the source asks for exactly those:
 * a refused add stays out, a refused type change keeps `current`'s column, a refused drop keeps the column
 * (nullable). A column for which the source asks something else now leaves `refused`.
 */
export function withoutRefused(current: TableSchema, next: TableSchema, refused: RefusedColumns): TableSchema {
  const stillRefused = (name: string, wanted: Column | undefined): boolean => {
    const tried = refused.get(name);
    if (tried === undefined) return false;
    const same = tried === null ? wanted === undefined : wanted !== undefined && sameColumnType(tried, wanted);
    if (!same) refused.delete(name);
    return same;
  };
  const columns: Column[] = [];
  for (const column of current.columns) {
    const wanted = next.columns.find((c) => c.name === column.name);
    if (wanted === undefined) {
      if (stillRefused(column.name, undefined)) columns.push({ ...column, nullable: true });
    } else {
      columns.push(stillRefused(column.name, wanted) ? column : wanted);
    }
  }
  for (const column of next.columns) {
    if (!hasColumn(current, column.name) && !stillRefused(column.name, column)) columns.push(column);
  }
  const keyFits = next.primaryKey.every((k) => columns.some((c) => c.name === k));
  return { id: next.id, columns, primaryKey: keyFits ? next.primaryKey : current.primaryKey };
}

/** The change kind that describes `diff`: the one kind when only one sort changed, else `refreshTable`. */
export function changeKindOf(diff: SchemaDiff): SchemaChangeType | undefined {
  const kinds: SchemaChangeType[] = [];
  if (diff.added.length > 0) kinds.push('addColumn');
  if (diff.dropped.length > 0) kinds.push('dropColumn');
  if (diff.renamed.length > 0) kinds.push('renameColumn');
  if (diff.altered.length > 0) kinds.push('alterColumnType');
  if (diff.keyChanged) kinds.push('refreshTable');
  return kinds.length === 0 ? undefined : kinds.length === 1 ? kinds[0] : 'refreshTable';
}

/** Same columns, types, nullability and key, in the same order. */
export function sameSchema(a: TableSchema, b: TableSchema): boolean {
  const d = diffSchemas(a, b, []);
  return (
    changeKindOf(d) === undefined &&
    a.columns.length === b.columns.length &&
    a.columns.every((c, i) => c.name === b.columns[i]?.name)
  );
}

function hasColumn(schema: TableSchema, name: string): boolean {
  return schema.columns.some((c) => c.name === name);
}

function sameColumnType(a: Column, b: Column): boolean {
  return a.nullable === b.nullable && formatDataType(a.type) === formatDataType(b.type);
}
