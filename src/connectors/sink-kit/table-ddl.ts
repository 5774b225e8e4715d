import type { DataType } from '../../core/data-type.js';
import type { Column, TableSchema } from '../../core/table-schema.js';
import type { ColumnChange } from './target-table-plan.js';
import { quoteIdent, quoteLiteral } from './sql-text.js';

/**
 * The table statements PostgreSQL and DuckDB spell alike. `table` is the qualified, quoted name; types are
 * the sink's own type names. What differs (schemas, moving a table, catalog queries) stays in each sink.
 */

/**
 * CREATE TABLE IF NOT EXISTS with the columns in source order, NOT NULL where the source has it, and the
 * source's primary key. No defaults, indexes or other constraints: the sink holds the source's values.
 */
export function createTableSql(table: string, schema: TableSchema, typeOf: (type: DataType) => string): string {
  const key = new Set(schema.primaryKey);
  const parts = schema.columns.map((c) => {
    const notNull = !c.nullable || key.has(c.name) ? ' NOT NULL' : '';
    return `${quoteIdent(c.name)} ${typeOf(c.type)}${notNull}`;
  });
  if (schema.primaryKey.length > 0) parts.push(`PRIMARY KEY (${schema.primaryKey.map(quoteIdent).join(', ')})`);
  return `CREATE TABLE IF NOT EXISTS ${table} (\n  ${parts.join(',\n  ')}\n)`;
}

/**
 * The ALTER TABLE statement of one planned column change. New columns are always added nullable (rows of a
 * merged shard without the column, or refused by a projection, are NULL there); with the planned `default`
 * when there is one, so the rows already in the table get the source's default. A type change converts the
 * values with a cast (`USING CAST(…)`).
 */
export function columnChangeSql(table: string, change: ColumnChange): string {
  const alter = `ALTER TABLE ${table}`;
  switch (change.kind) {
    case 'rename':
      return `${alter} RENAME COLUMN ${quoteIdent(change.from)} TO ${quoteIdent(change.to)}`;
    case 'drop':
      return `${alter} DROP COLUMN IF EXISTS ${quoteIdent(change.column)}`;
    case 'alterType': {
      const column = quoteIdent(change.column);
      return `${alter} ALTER COLUMN ${column} TYPE ${change.to} USING CAST(${column} AS ${change.to})`;
    }
    case 'dropNotNull':
      return `${alter} ALTER COLUMN ${quoteIdent(change.column)} DROP NOT NULL`;
    case 'add':
      return `${alter} ADD COLUMN IF NOT EXISTS ${quoteIdent(change.column.name)} ${change.type}${change.default === undefined ? '' : ` DEFAULT ${change.default}`}`;
  }
}

/**
 * The DEFAULT expression for a column added to an existing sink table: the source's default (`Column.defaultValue`,
 * canonical text) cast to the sink type, which reads that text exactly as it reads row values. None for binary
 * types, whose canonical text is not their bytes.
 */
export function addedColumnDefaultSql(column: Column, type: string): string | undefined {
  const value = column.defaultValue;
  if (value === undefined || BINARY_KINDS.has(column.type.kind)) return undefined;
  return `CAST(${quoteLiteral(value)} AS ${type})`;
}

const BINARY_KINDS: ReadonlySet<DataType['kind']> = new Set(['binary', 'varbinary', 'bytes']);

export function truncateTableSql(table: string): string {
  return `TRUNCATE TABLE ${table}`;
}

export function dropTableSql(table: string): string {
  return `DROP TABLE IF EXISTS ${table}`;
}
