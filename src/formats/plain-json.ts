import type { DataChangeEvent } from '../core/change-event.js';
import type { DataType, Row, Value } from '../core/data-type.js';
import { primaryKeyIndexes, type TableSchema } from '../core/table-schema.js';
import type { ChangeFormat, LogRecord } from './change-format.js';
import { JsonNumber, float32Text, jsonText, type JsonOut } from './json-value.js';

/**
 * A canonical value as plain JSON: integers as JSON numbers (64-bit ones exact, as digits), floats as numbers,
 * decimals as strings (exact), bytes as base64, everything else as the canonical text of docs/01-events.md.
 */
export function plainJsonValue(value: Value, type: DataType): JsonOut {
  if (value === null) return null;
  if (value instanceof Uint8Array) return Buffer.from(value).toString('base64');
  if (type.kind === 'decimal') return value;
  if (typeof value === 'number' && !Number.isFinite(value)) return String(value);
  if (type.kind === 'float') return new JsonNumber(float32Text(value as number));
  return value;
}

/** `{"id":1}`: the key columns of `row` as a JSON object, in key order; null for a table without a key. */
export function plainJsonKey(table: TableSchema, row: Row, keyIndexes = primaryKeyIndexes(table)): string | null {
  if (keyIndexes.length === 0) return null;
  const out: Record<string, JsonOut> = {};
  for (const i of keyIndexes) out[table.columns[i]!.name] = plainJsonValue(row[i] ?? null, table.columns[i]!.type);
  return jsonText(out);
}

/**
 * The plain `json` format, with the meaning of an upsert log (Flink's `upsert-kafka`): the key is the primary
 * key, the value the row after the change; a delete is a tombstone (null value). No envelope, no metadata.
 */
export function plainJsonFormat(): ChangeFormat {
  const keys = new WeakMap<TableSchema, number[]>();
  return {
    name: 'json',
    encode(event: DataChangeEvent, table: TableSchema): LogRecord[] {
      let keyIndexes = keys.get(table);
      if (!keyIndexes) keys.set(table, (keyIndexes = primaryKeyIndexes(table)));
      const key = plainJsonKey(table, (event.after ?? event.before)!, keyIndexes);
      if (event.op === 'delete') return [{ key, value: null }];
      const out: Record<string, JsonOut> = {};
      table.columns.forEach((c, i) => (out[c.name] = plainJsonValue(event.after![i] ?? null, c.type)));
      return [{ key, value: jsonText(out) }];
    },
    // An upsert log has no way to say "every key is gone" short of a tombstone per key, which it does not know.
    encodeTableChange: () => [],
  };
}
