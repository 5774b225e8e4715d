import type { Row, Value } from '../../core/data-type.js';
import type { Column, TableSchema } from '../../core/table-schema.js';

/** A JSON number as RFC 8259 writes it; decimal text of this form is kept as an exact jsonb number. */
const JSON_NUMBER = /^-?(?:0|[1-9]\d*)(?:\.\d+)?(?:[eE][+-]?\d+)?$/;

/**
 * A row as the text of a JSON object keyed by column name, for a jsonb column (append mode's `_before`).
 * jsonb keeps numbers exactly, so: integers, bigints and decimals are JSON numbers with every digit; doubles
 * too (shortest round-trip text), except NaN and ±Infinity, which become the strings "NaN", "Infinity",
 * "-Infinity"; booleans are booleans; a `json` column is embedded as JSON; bytes are the string "\x…" (hex,
 * as PostgreSQL's `to_jsonb` writes bytea); everything else (text, dates, times, timestamps, enum, set, bit)
 * is the string of its canonical value.
 */
export function rowJson(row: Row, schema: TableSchema): string {
  const parts: string[] = [];
  schema.columns.forEach((column, i) => {
    parts.push(`${JSON.stringify(column.name)}:${valueJson(row[i] ?? null, column)}`);
  });
  return `{${parts.join(',')}}`;
}

function valueJson(value: Value, column: Column): string {
  if (value === null) return 'null';
  if (value instanceof Uint8Array) {
    return `"\\\\x${Buffer.from(value.buffer, value.byteOffset, value.byteLength).toString('hex')}"`;
  }
  switch (typeof value) {
    case 'boolean':
      return value ? 'true' : 'false';
    case 'bigint':
      return value.toString();
    case 'number':
      return Number.isFinite(value) ? String(value) : JSON.stringify(String(value));
    default:
      if (column.type.kind === 'json') return value;
      if (column.type.kind === 'decimal' && JSON_NUMBER.test(value)) return value;
      return JSON.stringify(value);
  }
}
