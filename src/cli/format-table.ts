/** Renders rows as a plain-text table, the way psql does, for the demo and `tributary` output. */
export function formatTable(rows: readonly Record<string, unknown>[]): string {
  if (rows.length === 0) return '(no rows)';
  const columns = Object.keys(rows[0]!);
  const cells = rows.map((row) => columns.map((c) => cellText(row[c])));
  const widths = columns.map((c, i) => Math.max(c.length, ...cells.map((r) => r[i]!.length)));
  const line = (values: string[]) => ' ' + values.map((v, i) => v.padEnd(widths[i]!)).join(' | ');
  return [
    line(columns),
    '-' + widths.map((w) => '-'.repeat(w)).join('-+-') + '-',
    ...cells.map(line),
    `(${rows.length} rows)`,
  ].join('\n');
}

function cellText(value: unknown): string {
  if (value === null || value === undefined) return '';
  if (typeof value === 'string') return value;
  if (typeof value === 'number' || typeof value === 'bigint' || typeof value === 'boolean') return value.toString();
  if (value instanceof Date) return value.toISOString();
  if (Buffer.isBuffer(value)) return '\\x' + value.toString('hex');
  return JSON.stringify(value);
}
