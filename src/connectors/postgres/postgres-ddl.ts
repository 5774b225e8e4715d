import type { Column, TableSchema } from '../../core/table-schema.js';
import { TributaryError } from '../../core/errors.js';
import { postgresType } from './postgres-types.js';

/** Where a sink table lives in PostgreSQL. Names are exact (case and all), never folded. */
export interface PostgresTableName {
  readonly schema: string;
  readonly table: string;
}

/** PostgreSQL truncates identifiers beyond NAMEDATALEN - 1 = 63 bytes, silently; we refuse them instead. */
const MAX_IDENTIFIER_BYTES = 63;

/**
 * A quoted identifier: always quoted, so mixed case, reserved words and any character survive exactly as
 * the source spelled them (`Order` stays `Order`, not `order`).
 */
export function quoteIdent(name: string): string {
  return `"${name.replace(/"/g, '""')}"`;
}

export function qualifiedName(name: PostgresTableName): string {
  return `${quoteIdent(name.schema)}.${quoteIdent(name.table)}`;
}

/** `schema.table` for messages (unquoted, readable). */
export function displayName(name: PostgresTableName): string {
  return `${name.schema}.${name.table}`;
}

/** A string literal for the few DDL statements that cannot take parameters. */
export function quoteLiteral(value: string): string {
  return `'${value.replace(/'/g, "''")}'`;
}

/** Throws SINK_SCHEMA_MISMATCH for a name PostgreSQL would truncate or reject. */
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
  if (Buffer.byteLength(name, 'utf8') > MAX_IDENTIFIER_BYTES) {
    throw new TributaryError(
      'SINK_SCHEMA_MISMATCH',
      `${what} ${JSON.stringify(name)} is longer than PostgreSQL's 63-byte identifier limit`,
      { hint: 'route the table to a shorter name (a route with `sink-table:`), or rename the column at the source' },
    );
  }
}

export function createSchemaSql(schema: string): string {
  return `CREATE SCHEMA IF NOT EXISTS ${quoteIdent(schema)}`;
}

function columnDefinition(column: Column, inPrimaryKey: boolean): string {
  const notNull = !column.nullable || inPrimaryKey ? ' NOT NULL' : '';
  return `${quoteIdent(column.name)} ${postgresType(column.type)}${notNull}`;
}

/**
 * CREATE TABLE IF NOT EXISTS with the columns in source order, NOT NULL where the source has it, and the
 * source's primary key. No defaults, indexes or other constraints: the sink holds the source's values.
 */
export function createTableSql(name: PostgresTableName, schema: TableSchema): string {
  const key = new Set(schema.primaryKey);
  const parts = schema.columns.map((c) => columnDefinition(c, key.has(c.name)));
  if (schema.primaryKey.length > 0) parts.push(`PRIMARY KEY (${schema.primaryKey.map(quoteIdent).join(', ')})`);
  return `CREATE TABLE IF NOT EXISTS ${qualifiedName(name)} (\n  ${parts.join(',\n  ')}\n)`;
}

/** New columns are always added nullable: rows already in the table have no value for them. */
export function addColumnSql(name: PostgresTableName, column: Column): string {
  return `ALTER TABLE ${qualifiedName(name)} ADD COLUMN IF NOT EXISTS ${quoteIdent(column.name)} ${postgresType(column.type)}`;
}

export function dropColumnSql(name: PostgresTableName, column: string): string {
  return `ALTER TABLE ${qualifiedName(name)} DROP COLUMN IF EXISTS ${quoteIdent(column)}`;
}

export function renameColumnSql(name: PostgresTableName, from: string, to: string): string {
  return `ALTER TABLE ${qualifiedName(name)} RENAME COLUMN ${quoteIdent(from)} TO ${quoteIdent(to)}`;
}

export function alterColumnTypeSql(name: PostgresTableName, column: Column): string {
  const type = postgresType(column.type);
  const col = quoteIdent(column.name);
  return `ALTER TABLE ${qualifiedName(name)} ALTER COLUMN ${col} TYPE ${type} USING ${col}::${type}`;
}

export function dropNotNullSql(name: PostgresTableName, column: string): string {
  return `ALTER TABLE ${qualifiedName(name)} ALTER COLUMN ${quoteIdent(column)} DROP NOT NULL`;
}

export function truncateTableSql(name: PostgresTableName): string {
  return `TRUNCATE TABLE ${qualifiedName(name)}`;
}

export function dropTableSql(name: PostgresTableName): string {
  return `DROP TABLE IF EXISTS ${qualifiedName(name)}`;
}

/** Renames and, when the schema differs, moves a table; the two steps PostgreSQL needs, in order. */
export function renameTableSql(from: PostgresTableName, to: PostgresTableName): string[] {
  const statements: string[] = [];
  let current = from;
  if (from.schema !== to.schema) {
    statements.push(`ALTER TABLE ${qualifiedName(current)} SET SCHEMA ${quoteIdent(to.schema)}`);
    current = { schema: to.schema, table: from.table };
  }
  if (from.table !== to.table) {
    statements.push(`ALTER TABLE ${qualifiedName(current)} RENAME TO ${quoteIdent(to.table)}`);
  }
  return statements;
}
