import type { DataType, Row, Value } from '../../../core/data-type.js';
import { EXACT_POWERS_OF_TEN } from '../../../core/powers-of-ten.js';
import { snapshotValue } from '../mysql-types.js';

/**
 * Decodes one field of a text-protocol row, `buf[start, end)`, into its canonical value. The result equals
 * `snapshotValue(type, buf.subarray(start, end), onZeroDate)` — a unit test holds every kind to that — but is
 * read straight from the packet: no Buffer view per value, integers without an intermediate string.
 */
type FieldDecoder = (buf: Buffer, start: number, end: number) => Value;

/**
 * Decodes the rows of a text-protocol result set (COM_QUERY) whose columns have the canonical `types`, straight
 * from the packet bytes. The snapshot session's settings (time_zone '+00:00', utf8mb4) are assumed, as
 * {@link snapshotValue} assumes them.
 */
export class TextRowDecoder {
  private readonly fields: FieldDecoder[];

  constructor(types: readonly DataType[], onZeroDate: readonly (((text: string) => never) | undefined)[] = []) {
    this.fields = types.map((type, i) => fieldDecoder(type, onZeroDate[i]));
  }

  /** The value of column `column` whose (non-NULL) text is `buf[start, end)`, as {@link decode} reads it. */
  decodeField(column: number, buf: Buffer, start: number, end: number): Value {
    return this.fields[column]!(buf, start, end);
  }

  /** The row in the payload `buf[start, end)`: one length-encoded string or NULL (0xFB) per column. */
  decode(buf: Buffer, start: number, end: number): Row {
    const fields = this.fields;
    const width = fields.length;
    const row = new Array<Value>(width);
    let pos = start;
    for (let i = 0; i < width; i++) {
      if (pos >= end) throw new Error(`text row ends after ${i} of ${width} columns`);
      const first = buf[pos]!;
      let length: number;
      if (first < 0xfb) {
        length = first;
        pos += 1;
      } else if (first === 0xfb) {
        row[i] = null;
        pos += 1;
        continue;
      } else if (first === 0xfc) {
        length = buf.readUInt16LE(pos + 1);
        pos += 3;
      } else if (first === 0xfd) {
        length = buf.readUIntLE(pos + 1, 3);
        pos += 4;
      } else {
        length = Number(buf.readBigUInt64LE(pos + 1));
        pos += 9;
      }
      const fieldEnd = pos + length;
      if (fieldEnd > end) throw new Error(`text row column ${i + 1} runs past the packet`);
      row[i] = fields[i]!(buf, pos, fieldEnd);
      pos = fieldEnd;
    }
    return row;
  }
}

function fieldDecoder(type: DataType, onZeroDate: ((text: string) => never) | undefined): FieldDecoder {
  switch (type.kind) {
    case 'int8':
    case 'int16':
    case 'int32':
    case 'uint8':
    case 'uint16':
    case 'uint32':
    case 'year':
      return (buf, start, end) => smallInteger(buf, start, end) ?? Number(latin1(buf, start, end));
    case 'int64':
    case 'uint64':
      return (buf, start, end) => {
        const n = smallInteger(buf, start, end);
        return n === undefined ? BigInt(latin1(buf, start, end)) : BigInt(n);
      };
    case 'decimal':
      return latin1;
    case 'double':
      return (buf, start, end) => shortDecimal(buf, start, end) ?? Number(latin1(buf, start, end));
    case 'float':
      return (buf, start, end) => Math.fround(shortDecimal(buf, start, end) ?? Number(latin1(buf, start, end)));
    case 'boolean':
      return (buf, start, end) => !(end - start === 1 && buf[start] === 0x30);
    case 'date':
    case 'timestamp':
      return (buf, start, end) =>
        mayBeZeroDate(buf, start, end) ? general(type, buf, start, end, onZeroDate) : latin1(buf, start, end);
    case 'timestamptz':
      return (buf, start, end) =>
        mayBeZeroDate(buf, start, end) ? general(type, buf, start, end, onZeroDate) : latin1(buf, start, end) + 'Z';
    case 'char':
    case 'varchar':
    case 'string':
    case 'json':
    case 'enum':
    case 'set':
    case 'time':
      return utf8;
    default:
      // Rarer kinds (bytes, bit): the general conversion on a view of the field.
      return (buf, start, end) => general(type, buf, start, end, onZeroDate);
  }
}

/** MAX_SAFE_INTEGER has 16 digits: up to 15 digits (and a sign) a number holds the value exactly. */
const MAX_EXACT_DIGITS = 15;

/** The decimal integer `buf[start, end)` as a number, or undefined when it is not one of at most 15 digits. */
function smallInteger(buf: Buffer, start: number, end: number): number | undefined {
  let i = start;
  const negative = buf[i] === 0x2d;
  if (negative) i++;
  if (i === end || end - i > MAX_EXACT_DIGITS) return undefined;
  let n = 0;
  for (; i < end; i++) {
    const digit = buf[i]! - 0x30;
    if (digit < 0 || digit > 9) return undefined;
    n = n * 10 + digit;
  }
  return negative ? -n : n;
}

/**
 * The decimal `buf[start, end)` (`[-]digits[.digits]`, at most 15 digits in all) as the double `Number` reads
 * from that text, or undefined for any other text (an exponent, more digits), which `Number` then reads. Both
 * the digits m and 10^k are exact doubles, so m / 10^k is the correctly rounded quotient: the double nearest the
 * decimal, as `Number` rounds it (the fast path of Clinger's algorithm). `-0` stays -0.
 */
function shortDecimal(buf: Buffer, start: number, end: number): number | undefined {
  let i = start;
  const negative = buf[i] === 0x2d;
  if (negative) i++;
  let m = 0;
  let digits = 0;
  let point = -1;
  for (; i < end; i++) {
    const c = buf[i]!;
    if (c === 0x2e && point < 0) {
      point = digits;
      continue;
    }
    const digit = c - 0x30;
    if (digit < 0 || digit > 9 || ++digits > MAX_EXACT_DIGITS) return undefined;
    m = m * 10 + digit;
  }
  // Neither no digits nor a point without digits on both sides ('.5', '5.'): those go to Number.
  if (digits === 0 || point === 0 || point === digits) return undefined;
  const value = point < 0 ? m : m / EXACT_POWERS_OF_TEN[digits - point]!;
  return negative ? -value : value;
}

/**
 * False for every date that is certainly not zero or partial-zero; true for those (`0000-00-00…`, `YYYY-00-…`,
 * `YYYY-MM-00…`) and a few real ones (year 0000), which the general conversion then decides exactly.
 */
export function mayBeZeroDate(buf: Buffer, start: number, end: number): boolean {
  if (end - start < 10) return true;
  const zeroYear = buf[start] === 0x30 && buf[start + 1] === 0x30 && buf[start + 2] === 0x30 && buf[start + 3] === 0x30;
  const zeroMonth = buf[start + 5] === 0x30 && buf[start + 6] === 0x30;
  const zeroDay = buf[start + 8] === 0x30 && buf[start + 9] === 0x30;
  return zeroYear || zeroMonth || zeroDay;
}

/** {@link snapshotValue} on a view of the field. */
function general(
  type: DataType,
  buf: Buffer,
  start: number,
  end: number,
  onZeroDate: ((text: string) => never) | undefined,
): Value {
  return snapshotValue(type, buf.subarray(start, end), onZeroDate);
}

interface BufferSlices {
  utf8Slice(start: number, end: number): string;
  latin1Slice(start: number, end: number): string;
}

/** Buffer's own slices, without `toString`'s argument checks (as charsets.ts uses them). */
function latin1(buf: Buffer, start: number, end: number): string {
  return (buf as unknown as BufferSlices).latin1Slice(start, end);
}

function utf8(buf: Buffer, start: number, end: number): string {
  return (buf as unknown as BufferSlices).utf8Slice(start, end);
}
