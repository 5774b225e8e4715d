import type { TableId } from '../../src/core/table-schema.js';
import type { FreshPostgresDatabase } from './databases.js';
import type { SinkTable } from './sink-conformance.js';

/** A column as canonical text, by its PostgreSQL type (see test/harness/canonical-text.ts). */
function asText(column: string, type: string): string {
  const c = `"${column.replace(/"/g, '""')}"`;
  if (type === 'bytea') return `encode(${c}, 'hex')`;
  if (type.startsWith('timestamp') && type.endsWith('with time zone')) return `(${c} AT TIME ZONE 'UTC')::text || 'Z'`;
  if (type === 'real') return `${c}::float8::text`;
  return `${c}::text`;
}

/** A PostgreSQL table as canonical text, for the conformance suite; undefined when it does not exist. */
export async function readPostgresTable(db: FreshPostgresDatabase, id: TableId): Promise<SinkTable | undefined> {
  const schema = id.namespace === '' ? 'public' : id.namespace;
  const columns = await db.query<{ name: string; type: string }>(
    `SELECT a.attname AS name, format_type(a.atttypid, a.atttypmod) AS type
       FROM pg_attribute a JOIN pg_class c ON c.oid = a.attrelid JOIN pg_namespace n ON n.oid = c.relnamespace
      WHERE n.nspname = $1 AND c.relname = $2 AND a.attnum > 0 AND NOT a.attisdropped ORDER BY a.attnum`,
    [schema, id.name],
  );
  if (columns.length === 0) return undefined;
  const select = columns.map((c, i) => `${asText(c.name, c.type)} AS c${i}`).join(', ');
  const table = `"${schema.replace(/"/g, '""')}"."${id.name.replace(/"/g, '""')}"`;
  const rows = await db.query<Record<string, string | null>>(`SELECT ${select} FROM ${table}`);
  return { columns: columns.map((c) => c.name), rows: rows.map((r) => columns.map((_, i) => r[`c${i}`] ?? null)) };
}
