import type { SchemaChangeType } from '../../core/change-event.js';

/**
 * The schema change types a sink can accept or refuse, named as Flink CDC 3 names them in the sink options
 * `include.schema.changes` / `exclude.schema.changes` (plus `rename.table`, which Flink CDC does not have).
 */
export const SCHEMA_CHANGE_TYPE_NAMES = [
  'create.table',
  'add.column',
  'alter.column.type',
  'drop.column',
  'rename.column',
  'truncate.table',
  'drop.table',
  'rename.table',
] as const;
export type SchemaChangeTypeName = (typeof SCHEMA_CHANGE_TYPE_NAMES)[number];

/** Group names that stand for several types, as in Flink CDC (`drop` = drop.column and drop.table, …). */
const GROUPS: Readonly<Record<string, readonly SchemaChangeTypeName[]>> = {
  add: ['add.column'],
  alter: ['alter.column.type'],
  create: ['create.table'],
  drop: ['drop.column', 'drop.table'],
  rename: ['rename.column', 'rename.table'],
  truncate: ['truncate.table'],
  column: ['add.column', 'alter.column.type', 'drop.column', 'rename.column'],
  table: ['create.table', 'truncate.table', 'drop.table', 'rename.table'],
};

/** Every name a list may hold: the types and the groups. */
export const SCHEMA_CHANGE_LIST_NAMES: readonly string[] = [...SCHEMA_CHANGE_TYPE_NAMES, ...Object.keys(GROUPS)];

/** The type name of a table-level change kind; column-level kinds are classified from the schema diff instead. */
export function tableChangeTypeName(change: SchemaChangeType): SchemaChangeTypeName | undefined {
  switch (change) {
    case 'createTable':
      return 'create.table';
    case 'truncateTable':
      return 'truncate.table';
    case 'dropTable':
      return 'drop.table';
    case 'renameTable':
      return 'rename.table';
    default:
      return undefined;
  }
}

/**
 * Splits a list as written (`add.column, drop` or YAML's `[add.column, drop]` joined by commas) into the
 * types it names; `unknown` holds the names that are neither a type nor a group.
 */
export function parseSchemaChangeList(text: string): { types: SchemaChangeTypeName[]; unknown: string[] } {
  const types = new Set<SchemaChangeTypeName>();
  const unknown: string[] = [];
  for (const raw of text.replace(/^\s*\[|\]\s*$/g, '').split(',')) {
    const name = raw.trim().toLowerCase();
    if (name === '') continue;
    const group = GROUPS[name];
    if (group !== undefined) group.forEach((t) => types.add(t));
    else if ((SCHEMA_CHANGE_TYPE_NAMES as readonly string[]).includes(name)) types.add(name as SchemaChangeTypeName);
    else unknown.push(raw.trim());
  }
  return { types: [...types], unknown };
}

/**
 * The types a sink accepts: those `include` names (all when it is absent), less those `exclude` names
 * (exclusion wins). `create.table` is always accepted: without it no row could be written.
 */
export function acceptedSchemaChanges(include?: string, exclude?: string): ReadonlySet<SchemaChangeTypeName> {
  const included = include === undefined ? [...SCHEMA_CHANGE_TYPE_NAMES] : parseSchemaChangeList(include).types;
  const excluded = new Set(exclude === undefined ? [] : parseSchemaChangeList(exclude).types);
  const accepted = new Set(included.filter((t) => !excluded.has(t)));
  accepted.add('create.table');
  return accepted;
}
