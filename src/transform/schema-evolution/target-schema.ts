import type { ColumnRename } from '../../core/change-event.js';
import { formatDataType, type DataType } from '../../core/data-type.js';
import { TributaryError } from '../../core/errors.js';
import { tableIdToString, type Column, type TableId, type TableSchema } from '../../core/table-schema.js';
import { widenType } from './type-widening.js';

/** One source table feeding a sink table, with its schema as the transform outputs it. */
export interface ShardSchema {
  readonly source: TableId;
  readonly schema: TableSchema;
}

/** How a target's columns are derived from its shards. */
export type MergeRule =
  /** The union of the shards' current columns (drops and type changes apply; a rename keeps its place). */
  | 'union'
  /** The previous target plus every shard column: nothing is dropped or narrowed, new columns are nullable. */
  | 'grow';

/**
 * The schema a sink table must have to hold the rows of all `shards`: columns of `previous` first, in its
 * order, then new ones in shard order; each column's type is the widest of the shards' types (under `grow`,
 * of the previous type too); a column some shard lacks is nullable. Throws TributaryError SCHEMA_CHANGE_REJECTED
 * naming both tables, the column and both types when two types have no common wider type, or the tables and
 * keys when the shards' primary keys differ. `renames` (old → new, from the change being applied) keep a
 * renamed column in its place under `union`; the renames applied are returned.
 */
export function mergeTargetSchema(
  id: TableId,
  shards: readonly ShardSchema[],
  previous: TableSchema | undefined,
  rule: MergeRule,
  renames: readonly ColumnRename[] = [],
): { schema: TableSchema; renames: ColumnRename[] } {
  const inShards = (name: string) => shards.some((s) => s.schema.columns.some((c) => c.name === name));
  const applied = rule === 'grow' || previous === undefined ? [] : renamesToApply(previous, renames, inShards);
  const names: string[] = [];
  for (const column of previous?.columns ?? []) {
    const name = applied.find((r) => r.from === column.name)?.to ?? column.name;
    if (rule === 'grow' || inShards(name)) names.push(name);
  }
  for (const shard of shards) {
    for (const column of shard.schema.columns) if (!names.includes(column.name)) names.push(column.name);
  }

  const columns = names.map((name): Column => {
    const base = rule === 'grow' ? previous?.columns.find((c) => c.name === name) : undefined;
    let type: DataType | undefined = base?.type;
    let from = base === undefined ? undefined : `sink table ${tableIdToString(id)}`;
    let nullable = base?.nullable ?? (rule === 'grow' && previous !== undefined);
    let sourceType = base?.sourceType;
    for (const shard of shards) {
      const column = shard.schema.columns.find((c) => c.name === name);
      if (column === undefined) {
        nullable = true;
        continue;
      }
      nullable ||= column.nullable;
      const label = `source table ${tableIdToString(shard.source)}`;
      if (type === undefined || from === undefined) {
        type = column.type;
        from = label;
        sourceType = column.sourceType;
        continue;
      }
      const wider = widenType(type, column.type);
      if (wider === undefined) {
        // Name the shard whose own type clashes, when there is one, rather than the merged sink column.
        const clash = shards
          .filter((other) => other !== shard)
          .map((other) => ({ other, c: other.schema.columns.find((c) => c.name === name) }))
          .find(({ c }) => c !== undefined && widenType(c.type, column.type) === undefined);
        if (clash?.c === undefined) throw incompatible(id, name, from, type, label, column.type);
        throw incompatible(
          id,
          name,
          `source table ${tableIdToString(clash.other.source)}`,
          clash.c.type,
          label,
          column.type,
        );
      }
      if (formatDataType(wider) !== formatDataType(type)) {
        type = wider;
        sourceType = formatDataType(wider) === formatDataType(column.type) ? column.sourceType : undefined;
      }
    }
    if (type === undefined)
      throw new TributaryError('INTERNAL', `column ${name} of ${tableIdToString(id)} has no type`);
    const defaultValue = commonDefault(name, shards, renames);
    return {
      name,
      type,
      nullable,
      ...(sourceType === undefined ? {} : { sourceType }),
      ...(defaultValue === undefined ? {} : { defaultValue }),
    };
  });
  const primaryKey = commonPrimaryKey(id, shards) ?? previous?.primaryKey ?? [];
  return { schema: { id, columns, primaryKey }, renames: applied };
}

/**
 * The default a sink adds column `name` with (so the rows already in the table get it): the shards' default
 * when every shard has the column with that same default — rows of a shard without the column, or with
 * another default, must not get it. None for the new name of a renamed column: the rows hold the old
 * column's values at the source, not the default.
 */
function commonDefault(
  name: string,
  shards: readonly ShardSchema[],
  renames: readonly ColumnRename[],
): string | undefined {
  if (renames.some((r) => r.to === name)) return undefined;
  let value: string | undefined;
  for (const [i, shard] of shards.entries()) {
    const own = shard.schema.columns.find((c) => c.name === name)?.defaultValue;
    if (own === undefined || (i > 0 && own !== value)) return undefined;
    value = own;
  }
  return value;
}

/**
 * The primary key every shard has (undefined without shards). Throws TributaryError SCHEMA_CHANGE_REJECTED
 * naming two shards and their keys when they differ: rows of one key could not be told apart otherwise.
 */
export function commonPrimaryKey(id: TableId, shards: readonly ShardSchema[]): readonly string[] | undefined {
  const [first, ...rest] = shards;
  if (first === undefined) return undefined;
  const key = first.schema.primaryKey;
  for (const shard of rest) {
    const other = shard.schema.primaryKey;
    if (other.length !== key.length || other.some((k, i) => k !== key[i])) {
      throw new TributaryError(
        'SCHEMA_CHANGE_REJECTED',
        `source tables ${tableIdToString(first.source)} (primary key ${formatKey(key)}) and ${tableIdToString(shard.source)} (primary key ${formatKey(other)}) are merged into sink table ${tableIdToString(id)}, but their primary keys differ`,
        {
          hint: 'give the shards the same primary key (set primary-keys on a transform rule for them), or route them to separate sink tables',
        },
      );
    }
  }
  return key;
}

/** Renames that move a column of `previous` to a new name the shards have while none has the old one. */
function renamesToApply(
  previous: TableSchema,
  renames: readonly ColumnRename[],
  inShards: (name: string) => boolean,
): ColumnRename[] {
  const has = (name: string) => previous.columns.some((c) => c.name === name);
  return renames.filter((r) => has(r.from) && !has(r.to) && !inShards(r.from) && inShards(r.to));
}

function incompatible(
  id: TableId,
  column: string,
  from: string,
  type: DataType,
  other: string,
  otherType: DataType,
): TributaryError {
  return new TributaryError(
    'SCHEMA_CHANGE_REJECTED',
    `column "${column}" of sink table ${tableIdToString(id)} cannot hold both ${formatDataType(type)} (${from}) and ${formatDataType(otherType)} (${other}): neither type widens to the other`,
    {
      hint: 'make the column types compatible at the source (see docs/04-schema-evolution.md#widening), leave the column out with a transform projection, route the tables to separate sink tables, or use schema.change.behavior: evolve for a table that has one source table',
    },
  );
}

function formatKey(key: readonly string[]): string {
  return key.length === 0 ? '(none)' : `(${key.join(', ')})`;
}
