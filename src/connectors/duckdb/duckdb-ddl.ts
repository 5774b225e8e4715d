import type { Column, TableSchema } from '../../core/table-schema.js';
import { TributaryError } from '../../core/errors.js';
import { duckdbType } from './duckdb-types.js';

/**
 * Where a sink table lives. Names always carry the catalog (the attached database, named after the file):
 * DuckDB binds a two-part name `a.b` as catalog `a` as well as schema `a`, so a schema named like the file
 * (`warehouse` in warehouse.duckdb) would make every two-part name ambiguous.
 */
export interface DuckdbTableName {
  readonly catalog: string;
  readonly schema: string;
  readonly table: string;
}

/**
 * A quoted identifier: always quoted, so reserved words and any character survive. DuckDB keeps the case as
 * written but matches identifiers case-insensitively, even quoted ones: `Order` and `order` are one table.
 */
export function quoteIdent(name: string): string {
  return `"${name.replace(/"/g, '""')}"`;
}

export function qualifiedName(name: DuckdbTableName): string {
  return `${quoteIdent(name.catalog)}.${quoteIdent(name.schema)}.${quoteIdent(name.table)}`;
}

/** `schema.table` for messages (unquoted, readable). */
export function displayName(name: DuckdbTableName): string {
  return `${name.schema}.${name.table}`;
}

/** A string literal for the statements that take no parameters. */
export function quoteLiteral(value: string): string {
  return `'${value.replace(/'/g, "''")}'`;
}

/** Throws SINK_SCHEMA_MISMATCH for a name DuckDB cannot hold. DuckDB has no length limit on identifiers. */
export function checkIdentifier(name: string, what: string): void {
  if (name === '') {
    throw new TributaryError('SINK_SCHEMA_MISMATCH', `${what} has an empty name`, {
      hint: 'route the table to a non-empty name',
    });
  }
  if (name.includes('\0')) {
    throw new TributaryError('SINK_SCHEMA_MISMATCH', `${what} ${JSON.stringify(name)} contains a NUL character`, {
      hint: 'route the table or rename the column so that its name has no NUL character',
    });
  }
}

export function createSchemaSql(catalog: string, schema: string): string {
  return `CREATE SCHEMA IF NOT EXISTS ${quoteIdent(catalog)}.${quoteIdent(schema)}`;
}

function columnDefinition(column: Column, inPrimaryKey: boolean): string {
  const notNull = !column.nullable || inPrimaryKey ? ' NOT NULL' : '';
  return `${quoteIdent(column.name)} ${duckdbType(column.type)}${notNull}`;
}

/**
 * CREATE TABLE IF NOT EXISTS with the columns in source order, NOT NULL where the source has it, and the
 * source's primary key. No defaults, indexes or other constraints: the sink holds the source's values.
 */
export function createTableSql(name: DuckdbTableName, schema: TableSchema): string {
  const key = new Set(schema.primaryKey);
  const parts = schema.columns.map((c) => columnDefinition(c, key.has(c.name)));
  if (schema.primaryKey.length > 0) parts.push(`PRIMARY KEY (${schema.primaryKey.map(quoteIdent).join(', ')})`);
  return `CREATE TABLE IF NOT EXISTS ${qualifiedName(name)} (\n  ${parts.join(',\n  ')}\n)`;
}

/** New columns are always added nullable: rows already in the table have no value for them. */
export function addColumnSql(name: DuckdbTableName, column: Column): string {
  return `ALTER TABLE ${qualifiedName(name)} ADD COLUMN IF NOT EXISTS ${quoteIdent(column.name)} ${duckdbType(column.type)}`;
}

export function dropColumnSql(name: DuckdbTableName, column: string): string {
  return `ALTER TABLE ${qualifiedName(name)} DROP COLUMN IF EXISTS ${quoteIdent(column)}`;
}

export function renameColumnSql(name: DuckdbTableName, from: string, to: string): string {
  return `ALTER TABLE ${qualifiedName(name)} RENAME COLUMN ${quoteIdent(from)} TO ${quoteIdent(to)}`;
}

export function alterColumnTypeSql(name: DuckdbTableName, column: Column): string {
  const type = duckdbType(column.type);
  const col = quoteIdent(column.name);
  return `ALTER TABLE ${qualifiedName(name)} ALTER COLUMN ${col} TYPE ${type} USING CAST(${col} AS ${type})`;
}

export function dropNotNullSql(name: DuckdbTableName, column: string): string {
  return `ALTER TABLE ${qualifiedName(name)} ALTER COLUMN ${quoteIdent(column)} DROP NOT NULL`;
}

/** DuckDB's TRUNCATE is a DELETE of every row: transactional, like the rest of the commit. */
export function truncateTableSql(name: DuckdbTableName): string {
  return `TRUNCATE TABLE ${qualifiedName(name)}`;
}

export function dropTableSql(name: DuckdbTableName): string {
  return `DROP TABLE IF EXISTS ${qualifiedName(name)}`;
}

/**
 * Renames a table. DuckDB cannot move a table to another schema (`SET SCHEMA` is not implemented), so a move
 * creates the new table from `schema`, copies the rows and drops the old one, all in the caller's transaction.
 */
export function renameTableSql(from: DuckdbTableName, to: DuckdbTableName, schema: TableSchema): string[] {
  if (from.schema.toLowerCase() === to.schema.toLowerCase()) {
    return [`ALTER TABLE ${qualifiedName(from)} RENAME TO ${quoteIdent(to.table)}`];
  }
  const columns = schema.columns.map((c) => quoteIdent(c.name)).join(', ');
  return [
    createTableSql(to, schema),
    `INSERT INTO ${qualifiedName(to)} (${columns}) SELECT ${columns} FROM ${qualifiedName(from)}`,
    `DROP TABLE ${qualifiedName(from)}`,
  ];
}
