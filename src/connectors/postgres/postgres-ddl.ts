import { TributaryError } from '../../core/errors.js';
import { checkIdentifier as checkSqlIdentifier, quoteIdent } from '../sink-kit/sql-text.js';

export { quoteIdent, quoteLiteral } from '../sink-kit/sql-text.js';

/** Where a sink table lives in PostgreSQL. Names are exact (case and all), never folded. */
export interface PostgresTableName {
  readonly schema: string;
  readonly table: string;
}

/** PostgreSQL truncates identifiers beyond NAMEDATALEN - 1 = 63 bytes, silently; we refuse them instead. */
const MAX_IDENTIFIER_BYTES = 63;

export function qualifiedName(name: PostgresTableName): string {
  return `${quoteIdent(name.schema)}.${quoteIdent(name.table)}`;
}

/** `schema.table` for messages (unquoted, readable). */
export function displayName(name: PostgresTableName): string {
  return `${name.schema}.${name.table}`;
}

/** Throws SINK_SCHEMA_MISMATCH for a name PostgreSQL would truncate or reject. */
export function checkIdentifier(name: string, what: string): void {
  checkSqlIdentifier(name, what);
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
