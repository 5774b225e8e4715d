import type { Connection, RowDataPacket } from 'mysql2/promise';

/** Rows as arrays of text (NULL stays null), so values of both databases compare exactly. */
export function textRows(rows: readonly Record<string, unknown>[]): string[][] {
  return rows.map((row) =>
    Object.values(row).map((v) => (v === null || v === undefined ? (null as unknown as string) : toText(v))),
  );
}

function toText(value: unknown): string {
  if (Buffer.isBuffer(value)) return value.toString('hex');
  if (value instanceof Date) return value.toISOString();
  return String(value);
}

/** Runs a query on MySQL and returns its rows as text arrays (numbers and dates as the server spells them). */
export async function mysqlRows(conn: Connection, sql: string, values: unknown[] = []): Promise<string[][]> {
  const [rows] = await conn.query<RowDataPacket[]>({ sql, values, rowsAsArray: true, typeCast: false });
  return (rows as unknown as (Buffer | null)[][]).map((r) =>
    r.map((v) => (v === null ? (null as unknown as string) : v.toString('utf8'))),
  );
}
