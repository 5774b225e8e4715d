import { plural } from '../core/index.js';

/**
 * Renders rows as a plain-text table, the way psql does, for the demo and `tributary` output: a column whose
 * values are all numbers (numbers, bigints, or text that is a decimal number, as drivers return DECIMAL and
 * BIGINT) is right-aligned, so that digits line up; other columns are left-aligned.
 */
export function formatTable(rows: readonly Record<string, unknown>[]): string {
  if (rows.length === 0) return '(no rows)';
  const columns = Object.keys(rows[0]!);
  const cells = rows.map((row) => columns.map((c) => cellText(row[c])));
  const widths = columns.map((c, i) => Math.max(c.length, ...cells.map((r) => r[i]!.length)));
  const numeric = columns.map(
    (c) => rows.some((row) => isNumber(row[c])) && rows.every((row) => isNumberOrNull(row[c])),
  );
  const line = (values: string[], header = false) =>
    ' ' + values.map((v, i) => (numeric[i] && !header ? v.padStart(widths[i]!) : v.padEnd(widths[i]!))).join(' | ');
  return [
    line(columns, true),
    '-' + widths.map((w) => '-'.repeat(w)).join('-+-') + '-',
    ...cells.map((r) => line(r)),
    `(${plural(rows.length, 'row')})`,
  ].join('\n');
}

const NUMBER_TEXT = /^-?\d+(\.\d+)?$/;

function isNumber(value: unknown): boolean {
  if (typeof value === 'number' || typeof value === 'bigint') return true;
  return typeof value === 'string' && NUMBER_TEXT.test(value);
}

function isNumberOrNull(value: unknown): boolean {
  return value === null || value === undefined || isNumber(value);
}

function cellText(value: unknown): string {
  if (value === null || value === undefined) return '';
  if (typeof value === 'string') return value;
  if (typeof value === 'number' || typeof value === 'bigint' || typeof value === 'boolean') return value.toString();
  if (value instanceof Date) return value.toISOString();
  if (Buffer.isBuffer(value)) return '\\x' + value.toString('hex');
  return JSON.stringify(value);
}
