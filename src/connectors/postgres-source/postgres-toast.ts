import { TributaryError } from '../../core/index.js';
import { UNCHANGED_TOAST, type TupleData } from './pgoutput-decoder.js';
import { quoteIdent, quoteTable, type PgTable } from './postgres-source-catalog.js';

/**
 * Fills the unchanged TOAST values of an update: from the old row under REPLICA IDENTITY FULL (exact), else
 * by reading the current row by key (the value now — later changes of it follow in the stream). Null when the
 * row no longer exists.
 */
export async function resolveToast(
  query: <R>(text: string, values: unknown[]) => Promise<R[]>,
  after: TupleData,
  before: TupleData | null,
  beforeKind: 'key' | 'old' | null,
  table: PgTable,
  name: string,
): Promise<(string | null)[] | null> {
  const filled: TupleData[number][] = after.map((v, i) =>
    v === UNCHANGED_TOAST && beforeKind === 'old' && before && before[i] !== UNCHANGED_TOAST ? before[i]! : v,
  );
  const missing = filled.map((v, i) => (v === UNCHANGED_TOAST ? i : -1)).filter((i) => i >= 0);
  if (missing.length === 0) return filled as (string | null)[];
  const keyIndexes = table.schema.primaryKey.map((k) => table.schema.columns.findIndex((c) => c.name === k));
  const keyValues = keyIndexes.map((i) => filled[i]);
  if (keyValues.some((v) => v === UNCHANGED_TOAST || v === null || v === undefined)) {
    throw new TributaryError(
      'SOURCE_PROTOCOL',
      `${name}: an update left a TOASTed key column unchanged; its value is not in the stream`,
      {
        hint: `ALTER TABLE ${quoteTable(table.schema.id)} REPLICA IDENTITY FULL;`,
      },
    );
  }
  const columns = missing.map((i) => quoteIdent(table.schema.columns[i]!.name)).join(', ');
  const where = table.schema.primaryKey.map((k, i) => `${quoteIdent(k)} = $${i + 1}`).join(' AND ');
  const rows = await query<Record<string, string | null>>(
    `SELECT ${columns} FROM ${quoteTable(table.schema.id)} WHERE ${where}`,
    keyValues,
  );
  if (rows.length === 0) return null;
  const row = rows[0]!;
  for (const i of missing) filled[i] = row[table.schema.columns[i]!.name] ?? null;
  return filled as (string | null)[];
}
