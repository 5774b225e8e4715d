import type { Row, Value } from '../../core/data-type.js';

/**
 * One change of a stream between the operators of a query: a row added (`+1`: Flink's +I / +U) or retracted
 * (`-1`: -U / -D). A retraction always repeats the row exactly as it was added.
 */
export interface Delta {
  readonly sign: 1 | -1;
  readonly row: Row;
}

/** Receives the changes an operator emits, in order. */
export type Emit = (delta: Delta) => void;

/**
 * A value as text that is equal exactly when the values are (same type assumed; callers coerce keys of
 * different types to one type first): the identity of a group, a join key, a distinct value or a row.
 */
export function encodeValue(value: Value): string {
  switch (typeof value) {
    case 'string':
      return `s${value.length}:${value}`;
    case 'number':
      return Object.is(value, -0) ? 'n0' : `n${value}`;
    case 'bigint':
      return `n${bigintText(value)}`;
    case 'boolean':
      return value ? 't' : 'f';
    default:
      return value === null ? 'N' : `x${Buffer.from(value).toString('hex')}`;
  }
}

/**
 * A bigint's decimal digits, as `value.toString()`. A BIGINT key or column is turned into text at every change
 * that touches it: by way of a number when the number holds it exactly, which V8 does about 3× faster.
 */
export function bigintText(value: bigint): string {
  const n = Number(value);
  return Number.isSafeInteger(n) ? String(n) : value.toString();
}

/** Several values as one key (length-prefixed strings make the concatenation unambiguous). */
export function encodeValues(values: readonly Value[]): string {
  let key = '';
  for (const value of values) key += encodeValue(value) + '|';
  return key;
}

/**
 * A value as JSON for a checkpoint (rows hold bigints and bytes, which JSON does not): bigint → {"b": "…"},
 * bytes → {"x": hex}, a number JSON cannot hold → {"d": "NaN"}; everything else as it is.
 */
export type JsonValue = null | boolean | number | string | { b: string } | { x: string } | { d: string };

export function valueToJson(value: Value): JsonValue {
  switch (typeof value) {
    case 'bigint':
      return { b: value.toString() };
    case 'number':
      return Number.isFinite(value) ? value : { d: String(value) };
    case 'object':
      return value === null ? null : { x: Buffer.from(value).toString('hex') };
    default:
      return value;
  }
}

export function valueFromJson(json: JsonValue): Value {
  if (json === null || typeof json !== 'object') return json;
  if ('b' in json) return BigInt(json.b);
  if ('x' in json) return new Uint8Array(Buffer.from(json.x, 'hex'));
  return Number(json.d);
}

export const rowToJson = (row: Row): JsonValue[] => row.map(valueToJson);
export const rowFromJson = (json: readonly JsonValue[]): Row => json.map(valueFromJson);

/** `JSON.stringify(valueToJson(value))`, without the objects in between (a join side serialises every row). */
export function valueToJsonText(value: Value): string {
  switch (typeof value) {
    case 'string':
      return JSON.stringify(value);
    case 'bigint':
      return `{"b":"${bigintText(value)}"}`;
    case 'number':
      return Number.isFinite(value) ? String(value) : `{"d":"${value}"}`;
    case 'boolean':
      return value ? 'true' : 'false';
    default:
      return value === null ? 'null' : `{"x":"${Buffer.from(value).toString('hex')}"}`;
  }
}

/** `JSON.stringify(rowToJson(row))`, without the objects in between. */
export function rowToJsonText(row: Row): string {
  let text = '[';
  for (let i = 0; i < row.length; i++) text += (i === 0 ? '' : ',') + valueToJsonText(row[i] ?? null);
  return text + ']';
}
