import type { Row, Value } from '../../core/data-type.js';
import type { IcebergField, IcebergSchema } from './iceberg-table-metadata.js';

/**
 * Iceberg partition specs and transforms ("Partitioning" and "Partition Transforms" of the table spec):
 * identity, bucket[N] (32-bit Murmur3, x86 variant, seed 0, of the value's byte encoding in Appendix B),
 * truncate[W] (int, long, string, binary), year, month, day, hour. Values come in the canonical representation
 * (docs/01-events.md) and are read as the column's Iceberg type (see iceberg-types.ts).
 */

/** A partition field as table metadata holds it (Appendix C). Field ids start at 1000. */
export interface PartitionSpecField {
  readonly name: string;
  readonly transform: string;
  readonly 'source-id': number;
  readonly 'field-id': number;
}

export interface PartitionSpec {
  readonly 'spec-id': number;
  readonly fields: readonly PartitionSpecField[];
}

/** A partition value: int/date results as numbers, long/timestamp as bigints, strings, binary, booleans. */
export type PartitionValue = number | bigint | string | boolean | Uint8Array | null;

/** One requested partition field, before field ids are known: `bucket[16](id)` is `{ source: 'id', transform: 'bucket[16]' }`. */
export interface PartitionRequest {
  readonly source: string;
  readonly transform: string;
}

const TRANSFORM = /^(identity|year|month|day|hour|bucket\[(\d+)\]|truncate\[(\d+)\])$/;

/**
 * Parses `partition-by` text: comma-separated `column` (identity) or `transform(column)` with transforms
 * `identity`, `bucket[N]`, `truncate[W]`, `year`, `month`, `day`, `hour` (the spellings of the Iceberg spec).
 */
export function parsePartitionBy(text: string): { fields: PartitionRequest[] } | { problem: string } {
  const fields: PartitionRequest[] = [];
  for (const part of splitTopLevel(text)) {
    const item = part.trim();
    if (item === '') continue;
    const call = /^([a-z]+(?:\[\s*\d+\s*\])?)\s*\(\s*([^()]+?)\s*\)$/i.exec(item);
    const transform = call === null ? 'identity' : call[1]!.toLowerCase().replace(/\s+/g, '');
    const source = (call === null ? item : call[2]!).replace(/^[`"](.*)[`"]$/, '$1');
    const match = TRANSFORM.exec(transform);
    if (match === null || /[\s()]/.test(source)) {
      return {
        problem:
          `"${item}" is not a partition field — write \`column\` or \`transform(column)\` with transform identity, ` +
          'bucket[N], truncate[W], year, month, day or hour, e.g. `bucket[16](id), day(created_at)`',
      };
    }
    const width = Number(match[2] ?? match[3] ?? 1);
    if (width < 1 || width > 2 ** 31 - 1) return { problem: `"${item}": N and W must be between 1 and 2147483647` };
    fields.push({ source, transform });
  }
  return { fields };
}

function splitTopLevel(text: string): string[] {
  const parts: string[] = [];
  let depth = 0;
  let start = 0;
  for (let i = 0; i < text.length; i++) {
    const c = text[i];
    if (c === '(' || c === '[') depth++;
    else if (c === ')' || c === ']') depth--;
    else if (c === ',' && depth === 0) {
      parts.push(text.slice(start, i));
      start = i + 1;
    }
  }
  parts.push(text.slice(start));
  return parts;
}

/** The source types each transform takes (Iceberg type spellings; decimals match `decimal(`). */
function accepts(transform: string, type: string): boolean {
  const base = type.startsWith('decimal(') ? 'decimal' : type;
  if (transform === 'identity')
    return ['int', 'long', 'string', 'date', 'timestamp', 'timestamptz', 'boolean', 'binary'].includes(base);
  if (transform.startsWith('bucket[')) {
    return ['int', 'long', 'decimal', 'date', 'timestamp', 'timestamptz', 'string', 'binary'].includes(base);
  }
  if (transform.startsWith('truncate[')) return ['int', 'long', 'string', 'binary'].includes(base);
  if (transform === 'hour') return base === 'timestamp' || base === 'timestamptz';
  return base === 'date' || base === 'timestamp' || base === 'timestamptz';
}

/** The partition field name Iceberg's reference implementation gives: `id_bucket`, `created_at_day`, `name`. */
function fieldName(source: string, transform: string): string {
  if (transform === 'identity') return source;
  if (transform.startsWith('bucket[')) return `${source}_bucket`;
  if (transform.startsWith('truncate[')) return `${source}_trunc`;
  return `${source}_${transform}`;
}

/**
 * The partition spec `specId` of `requests` over `schema`, field ids from `lastPartitionId + 1`, or why it
 * cannot be built (a column that is not in the schema, a transform the column's type does not take).
 */
export function buildPartitionSpec(
  requests: readonly PartitionRequest[],
  schema: IcebergSchema,
  specId: number,
  lastPartitionId: number,
): PartitionSpec | { problem: string } {
  const fields: PartitionSpecField[] = [];
  let id = lastPartitionId;
  for (const request of requests) {
    const source = schema.fields.find((f) => f.name === request.source);
    if (source === undefined) {
      return {
        problem: `partition column "${request.source}" is not a column (${schema.fields.map((f) => f.name).join(', ')})`,
      };
    }
    if (!accepts(request.transform, source.type)) {
      return {
        problem: `partition transform ${request.transform} does not take column "${source.name}" of Iceberg type ${source.type}`,
      };
    }
    const name = fieldName(source.name, request.transform);
    if (fields.some((f) => f.name === name)) return { problem: `partition field ${name} is given twice` };
    fields.push({ name, transform: request.transform, 'source-id': source.id, 'field-id': ++id });
  }
  return { 'spec-id': specId, fields };
}

/** The result type of a partition field (its Iceberg type), which decides its Avro type in manifests. */
export function resultType(field: PartitionSpecField, schema: IcebergSchema): string {
  const t = field.transform;
  if (t.startsWith('bucket[') || t === 'year' || t === 'month' || t === 'hour') return 'int';
  if (t === 'day') return 'date';
  const source = schema.fields.find((f) => f.id === field['source-id']);
  return source?.type ?? 'string';
}

/** The Avro type of a partition value in manifests (Appendix A). */
export function avroTypeOf(type: string): 'int' | 'long' | 'string' | 'boolean' | 'bytes' {
  switch (type) {
    case 'int':
    case 'date':
      return 'int';
    case 'long':
    case 'timestamp':
    case 'timestamptz':
      return 'long';
    case 'boolean':
      return 'boolean';
    case 'binary':
      return 'bytes';
    default:
      return 'string';
  }
}

/** Computes partition tuples of rows laid out as `columns` (names in row order). */
export class Partitioner {
  private readonly steps: readonly { index: number; source: IcebergField; transform: string }[];

  constructor(
    readonly spec: PartitionSpec,
    schema: IcebergSchema,
    columns: readonly string[],
  ) {
    this.steps = spec.fields.map((field) => {
      const source = schema.fields.find((f) => f.id === field['source-id']);
      if (source === undefined)
        throw new Error(`partition field ${field.name}: source field ${field['source-id']} is gone`);
      return { index: columns.indexOf(source.name), source, transform: field.transform };
    });
  }

  /** The tuple of `row`, in spec field order. */
  tuple(row: Row): PartitionValue[] {
    return this.steps.map((s) =>
      s.index < 0 ? null : applyTransform(s.transform, s.source.type, row[s.index] ?? null),
    );
  }
}

/** A string that is equal for equal tuples, to group rows by partition. */
export function tupleKey(tuple: readonly PartitionValue[]): string {
  return JSON.stringify(
    tuple.map((v) =>
      v instanceof Uint8Array ? `b:${Buffer.from(v).toString('hex')}` : typeof v === 'bigint' ? `n:${v}` : v,
    ),
  );
}

/** The partition value of the canonical value `value` of a column of Iceberg type `type` under `transform`. */
export function applyTransform(transform: string, type: string, value: Value): PartitionValue {
  if (value === null) return null;
  const v = icebergValue(type, value);
  if (transform === 'identity') return v;
  if (transform.startsWith('bucket[')) {
    const n = Number(transform.slice(7, -1));
    return (hashValue(type, v) & 0x7fffffff) % n;
  }
  if (transform.startsWith('truncate[')) return truncate(Number(transform.slice(9, -1)), v);
  const micros = type === 'date' ? BigInt(v as number) * 86_400_000_000n : (v as bigint);
  const days = Number(floorDiv(micros, 86_400_000_000n));
  switch (transform) {
    case 'day':
      return days;
    case 'hour':
      return Number(floorDiv(micros, 3_600_000_000n));
    case 'month': {
      const [y, m] = civilFromDays(days);
      return (y - 1970) * 12 + (m - 1);
    }
    case 'year':
      return civilFromDays(days)[0] - 1970;
    default:
      throw new Error(`unknown partition transform ${transform}`);
  }
}

/** A canonical value as the Iceberg type's value: date → days, timestamps → µs (bigint), long → bigint. */
function icebergValue(type: string, value: Value): Exclude<PartitionValue, null> {
  switch (type) {
    case 'int':
      return Number(value);
    case 'long':
      return BigInt(value as number | bigint);
    case 'date':
      return daysOf(String(value));
    case 'timestamp':
    case 'timestamptz':
      return microsOf(String(value));
    case 'boolean':
      return value === true;
    case 'binary':
      return value as Uint8Array;
    default:
      return typeof value === 'string' ? value : String(value);
  }
}

function floorDiv(a: bigint, b: bigint): bigint {
  const q = a / b;
  return a % b !== 0n && a < 0n !== b < 0n ? q - 1n : q;
}

/** Days from 1970-01-01 of a proleptic Gregorian date (H. Hinnant's days_from_civil). */
export function daysFromCivil(y: number, m: number, d: number): number {
  const yy = m <= 2 ? y - 1 : y;
  const era = Math.floor(yy / 400);
  const yoe = yy - era * 400;
  const doy = Math.floor((153 * (m + (m > 2 ? -3 : 9)) + 2) / 5) + d - 1;
  const doe = yoe * 365 + Math.floor(yoe / 4) - Math.floor(yoe / 100) + doy;
  return era * 146097 + doe - 719468;
}

function civilFromDays(days: number): [number, number, number] {
  const z = days + 719468;
  const era = Math.floor(z / 146097);
  const doe = z - era * 146097;
  const yoe = Math.floor((doe - Math.floor(doe / 1460) + Math.floor(doe / 36524) - Math.floor(doe / 146096)) / 365);
  const doy = doe - (365 * yoe + Math.floor(yoe / 4) - Math.floor(yoe / 100));
  const mp = Math.floor((5 * doy + 2) / 153);
  const d = doy - Math.floor((153 * mp + 2) / 5) + 1;
  const m = mp < 10 ? mp + 3 : mp - 9;
  return [yoe + era * 400 + (m <= 2 ? 1 : 0), m, d];
}

/** 'YYYY-MM-DD' → days from 1970-01-01. */
export function daysOf(text: string): number {
  const m = /^(-?\d+)-(\d{2})-(\d{2})/.exec(text);
  if (m === null) throw new Error(`not a date: ${text}`);
  return daysFromCivil(Number(m[1]), Number(m[2]), Number(m[3]));
}

/** 'YYYY-MM-DD HH:MM:SS[.ffffff][Z]' (or with 'T') → microseconds from 1970-01-01 00:00:00 (UTC). */
export function microsOf(text: string): bigint {
  const m = /^(-?\d+-\d{2}-\d{2})[ T](\d{2}):(\d{2}):(\d{2})(?:\.(\d{1,9}))?/.exec(text);
  if (m === null) throw new Error(`not a timestamp: ${text}`);
  const seconds = daysOf(m[1]!) * 86400 + Number(m[2]) * 3600 + Number(m[3]) * 60 + Number(m[4]);
  const fraction = (m[5] ?? '').padEnd(6, '0').slice(0, 6);
  return BigInt(seconds) * 1_000_000n + BigInt(fraction);
}

function truncate(width: number, v: Exclude<PartitionValue, null>): PartitionValue {
  if (typeof v === 'number') return v - (((v % width) + width) % width);
  if (typeof v === 'bigint') {
    const w = BigInt(width);
    return v - (((v % w) + w) % w);
  }
  if (typeof v === 'string') return [...v].slice(0, width).join('');
  if (v instanceof Uint8Array) return v.subarray(0, width);
  return v;
}

/** The 32-bit hash of a value of Iceberg type `type` (Appendix B), as a signed int. */
export function hashValue(type: string, v: Exclude<PartitionValue, null>): number {
  if (typeof v === 'number' || typeof v === 'bigint') return murmur3(longBytes(BigInt(v)));
  if (v instanceof Uint8Array) return murmur3(v);
  if (typeof v === 'string') {
    return murmur3(type.startsWith('decimal(') ? decimalBytes(v) : Buffer.from(v, 'utf8'));
  }
  return murmur3(longBytes(v ? 1n : 0n));
}

function longBytes(v: bigint): Uint8Array {
  const bytes = Buffer.alloc(8);
  bytes.writeBigInt64LE(BigInt.asIntN(64, v));
  return bytes;
}

/** The unscaled value of decimal text as the fewest two's-complement big-endian bytes. */
export function decimalBytes(text: string): Uint8Array {
  let unscaled = BigInt(text.replace('.', ''));
  const bytes: number[] = [];
  for (;;) {
    const byte = Number(BigInt.asUintN(8, unscaled));
    bytes.unshift(byte);
    unscaled >>= 8n;
    // Done when the rest is the sign extension of this byte's top bit.
    if ((unscaled === 0n && (byte & 0x80) === 0) || (unscaled === -1n && (byte & 0x80) !== 0)) break;
  }
  return Uint8Array.from(bytes);
}

/** MurmurHash3, x86 32-bit variant, seed 0. */
export function murmur3(bytes: Uint8Array, seed = 0): number {
  const c1 = 0xcc9e2d51;
  const c2 = 0x1b873593;
  let h = seed | 0;
  const blocks = bytes.length >> 2;
  for (let i = 0; i < blocks; i++) {
    const o = i * 4;
    let k = bytes[o]! | (bytes[o + 1]! << 8) | (bytes[o + 2]! << 16) | (bytes[o + 3]! << 24);
    k = Math.imul(k, c1);
    k = (k << 15) | (k >>> 17);
    k = Math.imul(k, c2);
    h ^= k;
    h = (h << 13) | (h >>> 19);
    h = (Math.imul(h, 5) + 0xe6546b64) | 0;
  }
  const tail = blocks * 4;
  const rest = bytes.length & 3;
  if (rest > 0) {
    let k = 0;
    if (rest === 3) k ^= bytes[tail + 2]! << 16;
    if (rest >= 2) k ^= bytes[tail + 1]! << 8;
    k ^= bytes[tail]!;
    k = Math.imul(k, c1);
    k = (k << 15) | (k >>> 17);
    k = Math.imul(k, c2);
    h ^= k;
  }
  h ^= bytes.length;
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return h | 0;
}

/** Single-value serialization (Appendix D) of a partition value of Iceberg type `type`, for manifest bounds. */
export function singleValueBytes(type: string, v: Exclude<PartitionValue, null>): Uint8Array {
  switch (type) {
    case 'int':
    case 'date': {
      const b = Buffer.alloc(4);
      b.writeInt32LE(Number(v));
      return b;
    }
    case 'long':
    case 'timestamp':
    case 'timestamptz':
      return longBytes(BigInt(v as number | bigint));
    case 'boolean':
      return Uint8Array.of(v === true ? 1 : 0);
    case 'binary':
      return v as Uint8Array;
    default:
      return Buffer.from(String(v), 'utf8');
  }
}

/** Orders partition values of one field as Iceberg compares them (strings by UTF-8 bytes, unsigned). */
export function compareValues(a: Exclude<PartitionValue, null>, b: Exclude<PartitionValue, null>): number {
  if (typeof a === 'string' && typeof b === 'string')
    return Buffer.compare(Buffer.from(a, 'utf8'), Buffer.from(b, 'utf8'));
  if (a instanceof Uint8Array && b instanceof Uint8Array) return Buffer.compare(a, b);
  if (typeof a === 'boolean' || typeof b === 'boolean') return Number(a) - Number(b);
  const x = BigInt(a as number | bigint);
  const y = BigInt(b as number | bigint);
  return x < y ? -1 : x > y ? 1 : 0;
}
