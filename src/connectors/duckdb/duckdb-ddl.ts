import { quoteIdent } from '../sink-kit/sql-text.js';
import type { PlannedColumn } from '../sink-kit/target-table-plan.js';

export { checkIdentifier, quoteIdent, quoteLiteral } from '../sink-kit/sql-text.js';

/**
 * Where a sink table lives. Names always carry the catalog (the attached database, named after the file):
 * DuckDB binds a two-part name `a.b` as catalog `a` as well as schema `a`, so a schema named like the file
 * (`warehouse` in warehouse.duckdb) would make every two-part name ambiguous. DuckDB keeps the case of a name
 * as written but matches names case-insensitively, even quoted ones: `Order` and `order` are one table.
 */
export interface DuckdbTableName {
  readonly catalog: string;
  readonly schema: string;
  readonly table: string;
}

export function qualifiedName(name: DuckdbTableName): string {
  return `${quoteIdent(name.catalog)}.${quoteIdent(name.schema)}.${quoteIdent(name.table)}`;
}

/** `schema.table` for messages (unquoted, readable). */
export function displayName(name: DuckdbTableName): string {
  return `${name.schema}.${name.table}`;
}

export function createSchemaSql(catalog: string, schema: string): string {
  return `CREATE SCHEMA IF NOT EXISTS ${quoteIdent(catalog)}.${quoteIdent(schema)}`;
}

/** Renames a table within its schema (DuckDB cannot move a table to another schema: see {@link copyTableSql}). */
export function renameTableSql(from: DuckdbTableName, to: string): string {
  return `ALTER TABLE ${qualifiedName(from)} RENAME TO ${quoteIdent(to)}`;
}

/**
 * Copies a table into a new one of the planned columns (values cast where the type changes; new columns
 * take their planned default, else NULL) with the primary key `key`, and drops the old one: how DuckDB moves a table to another schema, and
 * changes columns it cannot alter in place. All in the caller's transaction.
 */
export function copyTableSql(
  from: DuckdbTableName,
  to: DuckdbTableName,
  columns: readonly PlannedColumn[],
  key: readonly string[],
): string[] {
  const keySet = new Set(key.map((k) => k.toLowerCase()));
  const definitions = columns.map((c) => {
    const notNull = c.notNull || keySet.has(c.name.toLowerCase()) ? ' NOT NULL' : '';
    return `${quoteIdent(c.name)} ${c.type}${notNull}${c.default === undefined ? '' : ` DEFAULT ${c.default}`}`;
  });
  if (key.length > 0) definitions.push(`PRIMARY KEY (${key.map(quoteIdent).join(', ')})`);
  const copied = columns.filter((c) => c.source !== undefined);
  const values = copied.map((c) => {
    const value = quoteIdent(c.source!);
    return c.retyped ? `CAST(${value} AS ${c.type})` : value;
  });
  return [
    `CREATE TABLE ${qualifiedName(to)} (\n  ${definitions.join(',\n  ')}\n)`,
    `INSERT INTO ${qualifiedName(to)} (${copied.map((c) => quoteIdent(c.name)).join(', ')}) SELECT ${values.join(', ')} FROM ${qualifiedName(from)}`,
    `DROP TABLE ${qualifiedName(from)}`,
  ];
}
