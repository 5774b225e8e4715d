/**
 * The ceiling probe of issue 16 (snapshot-path-probe.ts `--direct`): COPY text written straight from the bytes of
 * a text-protocol row packet, with no JS string per value and no row array; only the primary-key columns are
 * decoded into values (what the dblog merge compares). Measurement code, not a pipeline stage: it writes what
 * the general path (TextRowDecoder → CopyTextWriter) writes, byte for byte, for the column kinds it passes
 * through, and takes the general path for one field when the text differs (see {@link FieldCopy}).
 */
import type { DataType, Value } from '../../src/core/index.js';
import { snapshotValue } from '../../src/connectors/mysql/mysql-types.js';
import { CopyNulCharacterError, encodeCopyValue } from '../../src/connectors/postgres/postgres-copy-encoder.js';

/** A piece handed on once it holds about this many bytes (as CopyTextWriter). */
const PIECE_BYTES = 1 << 20;

/**
 * How one field's text goes to COPY:
 * - `ascii`: as the server sends it, nothing to escape (integers without leading zeros, decimals, dates and
 *   datetimes that are not zero dates);
 * - `text`: as sent, with COPY escaping (backslash, tab, newline, CR; NUL refused): UTF-8 strings, JSON, enum,
 *   set, time (the connection's charset is utf8mb4, so the bytes are what utf8Slice → utf8Write gives back);
 * - `tz`: like `ascii` plus the `Z` the canonical timestamptz carries;
 * - `bool`: `0` → `f`, anything else `t`;
 * - `double`: as sent when it is in fixed notation (the server prints the shortest round-trip digits, as
 *   `String(n)` does), else general;
 * - `hex`: bytea hex `\\x…` from the raw bytes;
 * - `general`: snapshotValue → encodeCopyValue (bit, and every fall-back above).
 */
type FieldCopy = 'ascii' | 'int' | 'text' | 'tz' | 'bool' | 'double' | 'hex' | 'general';

function fieldCopy(type: DataType): FieldCopy {
  switch (type.kind) {
    case 'int8':
    case 'int16':
    case 'int32':
    case 'int64':
    case 'uint8':
    case 'uint16':
    case 'uint32':
    case 'uint64':
    case 'year':
      return 'int';
    case 'decimal':
      return 'ascii';
    case 'date':
    case 'timestamp':
      return 'ascii'; // zero dates checked per value
    case 'timestamptz':
      return 'tz';
    case 'boolean':
      return 'bool';
    case 'float':
    case 'double':
      return 'double';
    case 'bytes':
    case 'binary':
    case 'varbinary':
      return 'hex';
    case 'char':
    case 'varchar':
    case 'string':
    case 'json':
    case 'enum':
    case 'set':
    case 'time':
      return 'text';
    default:
      return 'general';
  }
}

const HEX = '0123456789abcdef';

/**
 * Writes the COPY line of each row packet into ~1 MB pieces, and returns the row's key: the key value for a
 * one-column key, an array of them for a composite one.
 */
export class PacketCopyEncoder {
  private buf = Buffer.allocUnsafe(PIECE_BYTES + 4096);
  private pos = 0;
  private readonly copies: FieldCopy[];
  private readonly dateKinds: boolean[];
  private readonly keySlot: number[];
  private readonly keyValues: Value[];
  /** Per column: how many of its fields took the general path (text the server sends differs from the COPY's). */
  readonly generalFields: number[];

  constructor(
    private readonly types: readonly DataType[],
    private readonly keyIndexes: readonly number[],
    /** Receives each full piece, and the last one on {@link flush}; the piece is reused after the call. */
    private readonly onPiece: (piece: Buffer) => void,
  ) {
    this.copies = types.map(fieldCopy);
    this.dateKinds = types.map((t) => t.kind === 'date' || t.kind === 'timestamp' || t.kind === 'timestamptz');
    this.keySlot = types.map((_, i) => keyIndexes.indexOf(i));
    this.keyValues = new Array<Value>(keyIndexes.length);
    this.generalFields = types.map(() => 0);
  }

  /** The row in `buf[start, end)` as a COPY line; its key. */
  row(buf: Buffer, start: number, end: number): Value | Value[] {
    const width = this.copies.length;
    let pos = start;
    let key: Value | Value[] = null;
    const composite = this.keyIndexes.length > 1;
    for (let i = 0; i < width; i++) {
      if (i > 0) this.byte(0x09);
      const first = buf[pos]!;
      let length: number;
      if (first < 0xfb) {
        length = first;
        pos += 1;
      } else if (first === 0xfb) {
        this.ensure(2);
        this.buf[this.pos++] = 0x5c;
        this.buf[this.pos++] = 0x4e;
        pos += 1;
        if (this.keySlot[i]! >= 0) this.keyValues[this.keySlot[i]!] = null;
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
      this.field(i, buf, pos, fieldEnd);
      const slot = this.keySlot[i]!;
      if (slot >= 0) {
        const value = keyValue(this.types[i]!, buf, pos, fieldEnd);
        if (composite) this.keyValues[slot] = value;
        else key = value;
      }
      pos = fieldEnd;
    }
    this.byte(0x0a);
    if (this.pos >= PIECE_BYTES) this.flush();
    return composite ? this.keyValues.slice() : key;
  }

  /** Hands on what is written. */
  flush(): void {
    if (this.pos === 0) return;
    this.onPiece(this.buf.subarray(0, this.pos));
    this.pos = 0;
  }

  private field(i: number, buf: Buffer, start: number, end: number): void {
    switch (this.copies[i]) {
      case 'int':
        // ZEROFILL prints leading zeros; the canonical number has none.
        if (end - start > 1 && (buf[start] === 0x30 || (buf[start] === 0x2d && buf[start + 1] === 0x30))) break;
        this.raw(buf, start, end);
        return;
      case 'ascii':
        if (this.dateKinds[i] && mayBeZeroDate(buf, start, end)) break;
        this.raw(buf, start, end);
        return;
      case 'tz':
        if (mayBeZeroDate(buf, start, end)) break;
        this.raw(buf, start, end);
        this.byte(0x5a);
        return;
      case 'text':
        this.escaped(buf, start, end);
        return;
      case 'bool':
        this.byte(end - start === 1 && buf[start] === 0x30 ? 0x66 : 0x74);
        return;
      case 'double':
        if (!fixedNotation(buf, start, end)) break;
        this.raw(buf, start, end);
        return;
      case 'hex':
        this.hex(buf, start, end);
        return;
    }
    this.generalFields[i]!++;
    this.general(this.types[i]!, buf, start, end);
  }

  private general(type: DataType, buf: Buffer, start: number, end: number): void {
    const text = encodeCopyValue(snapshotValue(type, buf.subarray(start, end)));
    const max = text.length * 3;
    this.ensure(max);
    this.pos += this.buf.write(text, this.pos, 'utf8');
  }

  private raw(buf: Buffer, start: number, end: number): void {
    const length = end - start;
    this.ensure(length);
    if (length > 32) {
      buf.copy(this.buf, this.pos, start, end);
      this.pos += length;
      return;
    }
    const out = this.buf;
    let pos = this.pos;
    for (let j = start; j < end; j++) out[pos++] = buf[j]!;
    this.pos = pos;
  }

  /** The UTF-8 bytes with COPY escaping: UTF-8 continuation and lead bytes are ≥ 0x80, never one of these. */
  private escaped(buf: Buffer, start: number, end: number): void {
    let j = start;
    for (; j < end; j++) {
      const c = buf[j]!;
      if (c === 0x5c || c < 0x0e) break;
    }
    if (j === end) {
      this.raw(buf, start, end);
      return;
    }
    this.ensure(2 * (end - start));
    const out = this.buf;
    let pos = this.pos;
    for (let k = start; k < end; k++) {
      const c = buf[k]!;
      if (c === 0x5c) {
        out[pos++] = 0x5c;
        out[pos++] = 0x5c;
      } else if (c === 0x09) {
        out[pos++] = 0x5c;
        out[pos++] = 0x74;
      } else if (c === 0x0a) {
        out[pos++] = 0x5c;
        out[pos++] = 0x6e;
      } else if (c === 0x0d) {
        out[pos++] = 0x5c;
        out[pos++] = 0x72;
      } else if (c === 0x00) {
        throw new CopyNulCharacterError();
      } else out[pos++] = c;
    }
    this.pos = pos;
  }

  private hex(buf: Buffer, start: number, end: number): void {
    this.ensure(3 + 2 * (end - start));
    const out = this.buf;
    let pos = this.pos;
    out[pos++] = 0x5c;
    out[pos++] = 0x5c;
    out[pos++] = 0x78;
    for (let k = start; k < end; k++) {
      out[pos++] = HEX.charCodeAt(buf[k]! >> 4);
      out[pos++] = HEX.charCodeAt(buf[k]! & 15);
    }
    this.pos = pos;
  }

  private byte(code: number): void {
    this.ensure(1);
    this.buf[this.pos++] = code;
  }

  private ensure(bytes: number): void {
    if (this.pos + bytes <= this.buf.length) return;
    this.flush();
    if (bytes > this.buf.length) this.buf = Buffer.allocUnsafe(bytes + PIECE_BYTES);
  }
}

/** The key column's canonical value (as TextRowDecoder gives it): integers without a string, else snapshotValue. */
function keyValue(type: DataType, buf: Buffer, start: number, end: number): Value {
  switch (type.kind) {
    case 'int8':
    case 'int16':
    case 'int32':
    case 'uint8':
    case 'uint16':
    case 'uint32': {
      const n = smallInteger(buf, start, end);
      if (n !== undefined) return n;
      break;
    }
    case 'int64':
    case 'uint64': {
      const n = smallInteger(buf, start, end);
      if (n !== undefined) return BigInt(n);
      break;
    }
  }
  return snapshotValue(type, buf.subarray(start, end));
}

function smallInteger(buf: Buffer, start: number, end: number): number | undefined {
  let i = start;
  const negative = buf[i] === 0x2d;
  if (negative) i++;
  if (i === end || end - i > 15) return undefined;
  let n = 0;
  for (; i < end; i++) {
    const digit = buf[i]! - 0x30;
    if (digit < 0 || digit > 9) return undefined;
    n = n * 10 + digit;
  }
  return negative ? -n : n;
}

/** As TextRowDecoder's: false for every date that is certainly not a (partial) zero date. */
function mayBeZeroDate(buf: Buffer, start: number, end: number): boolean {
  if (end - start < 10) return true;
  const zeroYear = buf[start] === 0x30 && buf[start + 1] === 0x30 && buf[start + 2] === 0x30 && buf[start + 3] === 0x30;
  const zeroMonth = buf[start + 5] === 0x30 && buf[start + 6] === 0x30;
  const zeroDay = buf[start + 8] === 0x30 && buf[start + 9] === 0x30;
  return zeroYear || zeroMonth || zeroDay;
}

/**
 * `[-]digits[.digits]` with at most 15 significant digits and no leading zero before other digits: then the
 * server's text is the one `String(Number(text))` writes (both the shortest round-trip digits in fixed notation,
 * for 1e-5 ≤ |x| < 1e15 as CopyTextWriter.shortDecimal bounds it). Anything else (exponents, 16–17 digits, NaN)
 * takes the general path.
 */
function fixedNotation(buf: Buffer, start: number, end: number): boolean {
  let i = start;
  if (buf[i] === 0x2d) i++;
  if (i === end) return false;
  let digits = 0;
  let point = -1;
  let leading = true;
  for (let j = i; j < end; j++) {
    const c = buf[j]!;
    if (c === 0x2e) {
      if (point >= 0) return false;
      point = j;
      continue;
    }
    if (c < 0x30 || c > 0x39) return false;
    if (leading && c === 0x30) continue;
    leading = false;
    digits++;
  }
  if (digits === 0 || digits > 15) return false; // 0, -0 and 17-digit doubles: general
  if (point === i || point === end - 1) return false;
  // integral part "0" with a fraction (0.001): fine if the value is ≥ 1e-5, i.e. at most 4 zeros after the point
  if (buf[i] === 0x30) {
    if (point !== i + 1) return false;
    let zeros = 0;
    for (let j = point + 1; j < end && buf[j] === 0x30; j++) zeros++;
    if (zeros > 4) return false;
  }
  return true;
}
