import { ColumnType } from './binlog-constants.js';
import { decodeDecimal } from './decimal.js';
import { formatPackedTemporal } from './temporal.js';

/**
 * MySQL's binary JSON (the storage form of JSON columns, as rows carry it) → JSON text, formatted the way
 * MySQL prints JSON (`{"a": 1, "b": [true, null]}`), so the binlog and a SELECT of the same value agree.
 * Integers are printed from their 64-bit form and decimals from their exact digits: nothing passes through a
 * JavaScript number except doubles. MariaDB stores JSON as text and never reaches this code.
 */

const JsonType = {
  SmallObject: 0x00,
  LargeObject: 0x01,
  SmallArray: 0x02,
  LargeArray: 0x03,
  Literal: 0x04,
  Int16: 0x05,
  Uint16: 0x06,
  Int32: 0x07,
  Uint32: 0x08,
  Int64: 0x09,
  Uint64: 0x0a,
  Double: 0x0b,
  String: 0x0c,
  Opaque: 0x0f,
} as const;

/** Decodes bytes [start, end) of `buf`; an empty value (a column added without default) is JSON null. */
export function jsonBinaryToText(buf: Buffer, start: number, end: number): string {
  if (end <= start) return 'null';
  return value(buf, buf[start]!, start + 1, end);
}

function value(buf: Buffer, type: number, pos: number, end: number): string {
  switch (type) {
    case JsonType.SmallObject:
      return container(buf, pos, end, false, true);
    case JsonType.LargeObject:
      return container(buf, pos, end, true, true);
    case JsonType.SmallArray:
      return container(buf, pos, end, false, false);
    case JsonType.LargeArray:
      return container(buf, pos, end, true, false);
    case JsonType.Literal:
      return literal(buf[pos]!);
    case JsonType.Int16:
      return String(buf.readInt16LE(pos));
    case JsonType.Uint16:
      return String(buf.readUInt16LE(pos));
    case JsonType.Int32:
      return String(buf.readInt32LE(pos));
    case JsonType.Uint32:
      return String(buf.readUInt32LE(pos));
    case JsonType.Int64:
      return buf.readBigInt64LE(pos).toString();
    case JsonType.Uint64:
      return buf.readBigUInt64LE(pos).toString();
    case JsonType.Double:
      return formatDouble(buf.readDoubleLE(pos));
    case JsonType.String: {
      const [length, p] = varLength(buf, pos);
      return JSON.stringify(buf.toString('utf8', p, p + length));
    }
    case JsonType.Opaque:
      return opaque(buf, pos);
    default:
      throw new RangeError(`unknown binary JSON type 0x${type.toString(16)}`);
  }
}

function literal(code: number): string {
  if (code === 0) return 'null';
  if (code === 1) return 'true';
  if (code === 2) return 'false';
  throw new RangeError(`unknown binary JSON literal ${code}`);
}

/** Objects and arrays: element count, byte size, (key entries), value entries; offsets from `pos`. */
function container(buf: Buffer, pos: number, end: number, large: boolean, isObject: boolean): string {
  const n = large ? 4 : 2;
  const read = (p: number): number => (large ? buf.readUInt32LE(p) : buf.readUInt16LE(p));
  const count = read(pos);
  const size = read(pos + n);
  if (pos + size > end) throw new RangeError('binary JSON container exceeds its value');
  const keyEntries = pos + 2 * n;
  const valueEntries = keyEntries + (isObject ? count * (n + 2) : 0);
  let out = isObject ? '{' : '[';
  for (let i = 0; i < count; i++) {
    if (i > 0) out += ', ';
    if (isObject) {
      const keyEntry = keyEntries + i * (n + 2);
      const keyOffset = read(keyEntry);
      const keyLength = buf.readUInt16LE(keyEntry + n);
      out += `${JSON.stringify(buf.toString('utf8', pos + keyOffset, pos + keyOffset + keyLength))}: `;
    }
    const entry = valueEntries + i * (1 + n);
    const type = buf[entry]!;
    if (isInlined(type, large)) {
      out += inlined(buf, type, entry + 1);
    } else {
      out += value(buf, type, pos + read(entry + 1), pos + size);
    }
  }
  return out + (isObject ? '}' : ']');
}

function isInlined(type: number, large: boolean): boolean {
  switch (type) {
    case JsonType.Literal:
    case JsonType.Int16:
    case JsonType.Uint16:
      return true;
    case JsonType.Int32:
    case JsonType.Uint32:
      return large;
    default:
      return false;
  }
}

function inlined(buf: Buffer, type: number, pos: number): string {
  switch (type) {
    case JsonType.Literal:
      return literal(buf[pos]!);
    case JsonType.Int16:
      return String(buf.readInt16LE(pos));
    case JsonType.Uint16:
      return String(buf.readUInt16LE(pos));
    case JsonType.Int32:
      return String(buf.readInt32LE(pos));
    default:
      return String(buf.readUInt32LE(pos));
  }
}

/** Variable-length length: 7 bits per byte, least significant first, high bit = more bytes follow. */
function varLength(buf: Buffer, pos: number): [number, number] {
  let length = 0;
  for (let i = 0; i < 5; i++) {
    const byte = buf[pos + i]!;
    length += (byte & 0x7f) * 2 ** (7 * i);
    if ((byte & 0x80) === 0) return [length, pos + i + 1];
  }
  throw new RangeError('binary JSON length longer than 5 bytes');
}

/** MySQL prints doubles in the shortest form that reads back the same, and keeps ".0" on whole numbers. */
function formatDouble(d: number): string {
  if (Object.is(d, -0)) return '-0.0';
  const s = String(d).replace('e+', 'e');
  return /[.eEn]/.test(s) ? s : `${s}.0`;
}

/** Opaque scalars (decimals, dates and times, other column types) carried with their MySQL type code. */
function opaque(buf: Buffer, pos: number): string {
  const fieldType = buf[pos]!;
  const [length, p] = varLength(buf, pos + 1);
  switch (fieldType) {
    case ColumnType.NEWDECIMAL:
      return decodeDecimal(buf, p + 2, buf[p]!, buf[p + 1]!);
    case ColumnType.DATE:
    case ColumnType.NEWDATE:
      return `"${formatPackedTemporal(buf.readBigInt64LE(p), 'date')}"`;
    case ColumnType.TIME:
    case ColumnType.TIME2:
      return `"${formatPackedTemporal(buf.readBigInt64LE(p), 'time')}"`;
    case ColumnType.DATETIME:
    case ColumnType.DATETIME2:
    case ColumnType.TIMESTAMP:
    case ColumnType.TIMESTAMP2:
      return `"${formatPackedTemporal(buf.readBigInt64LE(p), 'datetime')}"`;
    default:
      return `"base64:type${fieldType}:${buf.toString('base64', p, p + length)}"`;
  }
}
