import type { DataType, Row, Value } from '../../core/data-type.js';
import type { StateKey } from './keyed-state.js';

/**
 * One change of a stream between the operators of a query: a row added (`+1`: Flink's +I / +U) or retracted
 * (`-1`: -U / -D). A retraction always repeats the row exactly as it was added.
 */
export interface Delta {
  readonly sign: 1 | -1;
  readonly row: Row;
  /**
   * An added row that replaces the row of the same sink key, its retraction left out (Flink's +U without its -U):
   * only on the way from an aggregate to a sink that keeps the result by that key (see the planner's
   * `upsertUpdates`). The sink writes it as an update.
   */
  readonly update?: true;
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

/**
 * One value as the key of a state with number keys (`StateCodec.numberKeys`): an integer in JavaScript's safe range
 * (a number, or a BIGINT that a number holds exactly) as that number, anything else as `encodeValues([value])`.
 */
export function valueKey(value: Value): StateKey {
  if (typeof value === 'number') {
    // + 0: -0 as 0 (a Map takes them as one key already; its text is `n0|` either way).
    if (Number.isSafeInteger(value)) return value + 0;
  } else if (typeof value === 'bigint') {
    const n = Number(value);
    if (Number.isSafeInteger(n)) return n;
  }
  return encodeValue(value) + '|';
}

/**
 * Several values as the key of a state with number keys: one value as {@link valueKey} gives it, several as
 * {@link encodeValues}. Every key of such a state comes this way (or as `valueKey` of its one value), so that a key
 * of one integer is its number everywhere.
 */
export function valuesKey(values: readonly Value[]): StateKey {
  return values.length === 1 ? valueKey(values[0] ?? null) : encodeValues(values);
}

/**
 * The values of `row` at `positions` as the key of a state with number keys: `valuesKey` of those values, without
 * their array.
 */
export function positionsKey(row: readonly Value[], positions: readonly number[]): StateKey {
  if (positions.length === 1) return valueKey(row[positions[0]!] ?? null);
  let key = '';
  for (const i of positions) key += encodeValue(row[i] ?? null) + '|';
  return key;
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
  for (let i = 0; i < row.length; i++) {
    if (i > 0) text += ',';
    text += valueToJsonText(row[i] ?? null);
  }
  return text + ']';
}

/**
 * Rows of one type as JSON and back: as {@link rowToJson} / {@link rowFromJson}, except that the values of a
 * 64-bit integer column (bigints) are plain JSON numbers when a number holds them exactly — `123`, not
 * `{"b":"123"}`: about a quarter of a join row's JSON, which is written (and read back) at every change. A number
 * in such a column is read as a bigint; the `{"b": …}` form (larger values, and state written before) still reads.
 * A JavaScript number there (none, by the types' convention) is written as `{"d": …}` to come back a number.
 */
export class RowJson {
  private readonly bigints: readonly boolean[];

  constructor(types: readonly DataType[]) {
    this.bigints = types.map((t) => t.kind === 'int64' || t.kind === 'uint64');
  }

  /** `JSON.stringify(this.toJson(row))`, without the objects in between. */
  toText(row: Row): string {
    let text = '[';
    for (let i = 0; i < row.length; i++) {
      const value = row[i] ?? null;
      if (i > 0) text += ',';
      if (this.bigints[i] === true && value !== null) {
        const n = Number(value);
        if (typeof value === 'bigint' && Number.isSafeInteger(n)) text += String(n);
        else if (typeof value === 'number' && Number.isFinite(value)) text += `{"d":"${value}"}`;
        else text += valueToJsonText(value);
      } else {
        text += valueToJsonText(value);
      }
    }
    return text + ']';
  }

  toJson(row: Row): JsonValue[] {
    return row.map((value, i) => {
      if (this.bigints[i] !== true || value === null) return valueToJson(value);
      const n = Number(value);
      if (typeof value === 'bigint' && Number.isSafeInteger(n)) return n;
      if (typeof value === 'number' && Number.isFinite(value)) return { d: String(value) };
      return valueToJson(value);
    });
  }

  fromJson(json: readonly JsonValue[]): Row {
    return json.map((value, i) =>
      typeof value === 'number' && this.bigints[i] === true ? BigInt(value) : valueFromJson(value),
    );
  }
}
