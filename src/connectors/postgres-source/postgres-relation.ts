import type { Column, TableSchema } from '../../core/index.js';
import type { RelationMessage } from './pgoutput-decoder.js';
import type { PgTable, PgTypeCatalog } from './postgres-source-catalog.js';
import type { PgColumnType } from './postgres-source-types.js';

/**
 * The table as a Relation message describes it (the types already loaded into `types`): its columns in the
 * order the rows after it have them, nullability and defaults kept from `previous` where a column is the same,
 * the key kept while its columns remain. A string names a column whose type cannot be captured.
 */
export function relationTable(
  message: RelationMessage,
  previous: PgTable | undefined,
  types: PgTypeCatalog,
): PgTable | string {
  const columns: Column[] = [];
  const converters: PgColumnType[] = [];
  for (const c of message.columns) {
    const mapped = types.columnType(c.typeOid, c.typmod);
    if (typeof mapped === 'string') return `${c.name}: ${mapped}`;
    const before = previous?.schema.columns.find((p) => p.name === c.name);
    converters.push(mapped);
    columns.push({
      name: c.name,
      type: mapped.type,
      nullable: before?.nullable ?? !c.key,
      sourceType: mapped.sourceType,
      ...(before?.defaultValue !== undefined && sameType(before, mapped.type)
        ? { defaultValue: before.defaultValue }
        : {}),
    });
  }
  const names = new Set(columns.map((c) => c.name));
  const primaryKey =
    previous && previous.schema.primaryKey.every((k) => names.has(k))
      ? previous.schema.primaryKey
      : message.replicaIdentity === 'f'
        ? []
        : message.columns.filter((c) => c.key).map((c) => c.name);
  const schema: TableSchema = { id: { namespace: message.namespace, name: message.name }, columns, primaryKey };
  const table: PgTable = {
    oid: message.oid,
    schema,
    types: converters,
    replicaIdentity: message.replicaIdentity,
    problems: [],
    rowsEstimate: undefined,
  };
  return table;
}

function sameType(column: Column, type: Column['type']): boolean {
  return JSON.stringify(column.type) === JSON.stringify(type);
}

export function sameColumns(a: TableSchema, b: TableSchema): boolean {
  return (
    a.columns.length === b.columns.length &&
    a.columns.every((c, i) => c.name === b.columns[i]!.name && sameType(c, b.columns[i]!.type))
  );
}

export function emptyTable(message: RelationMessage): PgTable {
  return {
    oid: message.oid,
    schema: { id: { namespace: message.namespace, name: message.name }, columns: [], primaryKey: [] },
    types: [],
    replicaIdentity: message.replicaIdentity,
    problems: [],
    rowsEstimate: undefined,
  };
}
