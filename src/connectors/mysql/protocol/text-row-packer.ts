import type { DataType, Row, Value } from '../../../core/data-type.js';
import { PACKED_NULL, type PackedForm, type PackedRows } from '../../../core/packed-rows.js';
import { mayBeZeroDate, type TextRowDecoder } from './text-row-decoder.js';

/**
 * How the packer checks one column's fields: whether the text the server sends is the canonical value's text
 * (see {@link PackedForm}), per column kind, with the per-field exceptions the text can show.
 */
type FieldCheck = 'integer' | 'raw' | 'date' | 'double' | 'text' | 'bytes' | 'decode';

function fieldCheck(type: DataType): FieldCheck {
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
      return 'integer';
    case 'decimal':
      return 'raw';
    case 'date':
    case 'timestamp':
      return 'date';
    case 'float':
    case 'double':
      return 'double';
    case 'bytes':
    case 'binary':
    case 'varbinary':
      return 'bytes';
    case 'char':
    case 'varchar':
    case 'string':
    case 'json':
    case 'enum':
    case 'set':
    case 'time':
      return 'text';
    default:
      // BOOLEAN (t/f from 0/1), TIMESTAMP as timestamptz (a `Z` appended), BIT (binary digits): decoded.
      return 'decode';
  }
}

function formOf(check: FieldCheck): PackedForm {
  switch (check) {
    case 'integer':
    case 'raw':
    case 'date':
    case 'double':
      return 'raw';
    case 'text':
      return 'text';
    case 'bytes':
      return 'bytes';
    case 'decode':
      return 'decode';
  }
}

/**
 * Packets up to this size are copied byte by byte; longer ones by `set` on a view, whose ~50 ns a call the loop
 * (~2 ns a byte) costs from about 24 bytes on (measured on Node 20).
 */
const SHORT_COPY = 24;

/** Bytes a chunk's buffer starts with before the first chunk tells the real size. */
const FIRST_BUFFER_BYTES = 256 * 1024;

/**
 * Collects the row packets of one chunk query (`queryDecodedRows`' `(buf, start, end)`) into {@link PackedRows}:
 * each packet's bytes copied into one buffer, each field's offset and length noted, and the fields whose text is
 * not the canonical value's text — a ZEROFILL integer, a zero date, a double in exponent form or with more than
 * 15 significant digits — marked for decoding. What the decoding gives is exactly the general path's: the same
 * {@link TextRowDecoder} on the same bytes.
 */
export class TextRowPacker {
  private readonly checks: FieldCheck[];
  private readonly forms: PackedForm[];
  private readonly width: number;
  private buf: Buffer;
  private pos = 0;
  private fields: Int32Array;
  private rowStarts: Int32Array;
  private rows = 0;
  /** Rows {@link fields} and {@link rowStarts} have room for. */
  private capacity: number;

  /**
   * `expectedRows` and `expectedBytes` size the arrays and the buffer (each doubles when full): a good guess saves
   * copies and garbage — large buffers are what makes the garbage collector run a full collection.
   */
  constructor(
    types: readonly DataType[],
    private readonly decoder: TextRowDecoder,
    expectedRows = 1024,
    expectedBytes = FIRST_BUFFER_BYTES,
  ) {
    this.checks = types.map(fieldCheck);
    this.forms = this.checks.map(formOf);
    this.width = types.length;
    this.buf = Buffer.allocUnsafe(Math.max(1024, expectedBytes));
    this.capacity = Math.max(1, expectedRows);
    this.fields = new Int32Array(this.capacity * this.width * 2);
    this.rowStarts = new Int32Array(this.capacity + 1);
  }

  /** Adds the row in the payload `buf[start, end)`: one length-encoded string or NULL (0xFB) per column. */
  add(buf: Buffer, start: number, end: number): void {
    const size = end - start;
    if (this.pos + size > this.buf.length) this.growBuffer(size);
    if (this.rows >= this.capacity) this.growRows();
    const out = this.buf;
    const base = this.pos;
    if (size <= SHORT_COPY) {
      for (let i = 0; i < size; i++) out[base + i] = buf[start + i]!;
    } else {
      out.set(buf.subarray(start, end), base);
    }
    this.pos = base + size;
    this.rowStarts[this.rows] = base;
    this.rowStarts[this.rows + 1] = this.pos;
    const fields = this.fields;
    const checks = this.checks;
    const width = this.width;
    let f = this.rows * width * 2;
    let pos = base;
    const rowEnd = this.pos;
    for (let i = 0; i < width; i++, f += 2) {
      if (pos >= rowEnd) throw new Error(`text row ends after ${i} of ${width} columns`);
      const first = out[pos]!;
      let length: number;
      if (first < 0xfb) {
        length = first;
        pos += 1;
      } else if (first === 0xfb) {
        fields[f] = pos;
        fields[f + 1] = PACKED_NULL;
        pos += 1;
        continue;
      } else if (first === 0xfc) {
        length = out.readUInt16LE(pos + 1);
        pos += 3;
      } else if (first === 0xfd) {
        length = out.readUIntLE(pos + 1, 3);
        pos += 4;
      } else {
        length = Number(out.readBigUInt64LE(pos + 1));
        pos += 9;
      }
      const fieldEnd = pos + length;
      if (fieldEnd > rowEnd) throw new Error(`text row column ${i + 1} runs past the packet`);
      fields[f] = pos;
      fields[f + 1] = asSent(checks[i]!, out, pos, fieldEnd) ? length : -2 - length;
      pos = fieldEnd;
    }
    this.rows++;
  }

  /** The rows added, packed (the packer is done). */
  take(): PackedRows {
    return new TextPackedRows(
      this.rows,
      this.width,
      this.forms,
      this.buf.subarray(0, this.pos),
      this.fields.subarray(0, this.rows * this.width * 2),
      this.rowStarts.subarray(0, this.rows + 1),
      this.decoder,
    );
  }

  private growBuffer(bytes: number): void {
    const next = Buffer.allocUnsafe(Math.max(this.buf.length * 2, this.pos + bytes));
    this.buf.copy(next, 0, 0, this.pos);
    this.buf = next;
  }

  private growRows(): void {
    this.capacity *= 2;
    const rowStarts = new Int32Array(this.capacity + 1);
    rowStarts.set(this.rowStarts);
    this.rowStarts = rowStarts;
    const fields = new Int32Array(this.capacity * this.width * 2);
    fields.set(this.fields);
    this.fields = fields;
  }
}

/** Whether the field's text is its canonical value's text (else it is decoded). */
function asSent(check: FieldCheck, buf: Buffer, start: number, end: number): boolean {
  switch (check) {
    case 'integer':
      // ZEROFILL prints leading zeros (and YEAR 0 as 0000); the canonical number has none.
      return !(end - start > 1 && (buf[start] === 0x30 || (buf[start] === 0x2d && buf[start + 1] === 0x30)));
    case 'date':
      return !mayBeZeroDate(buf, start, end);
    case 'double':
      return fixedNotation(buf, start, end);
    case 'decode':
      return false;
    default:
      return true;
  }
}

/**
 * `[-]digits.digits` or `[-]digits` with at most 15 significant digits, no leading zero before other digits and
 * 1e-5 ≤ |x| < 1e15: the server's text (`col + 0e0`, the shortest text that reads back as the double) is then
 * the one `String(Number(text))` writes — both the shortest round-trip digits in fixed notation. Anything else
 * (exponents, 16–17 digits, zero, `-0`) is decoded.
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
  if (digits === 0 || digits > 15) return false;
  if (point === i || point === end - 1) return false;
  // Without a leading zero every integral digit is significant: at most 15 of them keep it < 1e15.
  if (buf[i] === 0x30) {
    // 0.000ddd: at most 4 zeros after the point keeps it ≥ 1e-5 (smaller ones `String` writes with an exponent).
    if (point !== i + 1) return false;
    let zeros = 0;
    for (let j = point + 1; j < end && buf[j] === 0x30; j++) zeros++;
    if (zeros > 4) return false;
  }
  return true;
}

/** {@link PackedRows} over MySQL text-protocol row packets. */
class TextPackedRows implements PackedRows {
  constructor(
    readonly length: number,
    readonly width: number,
    readonly forms: readonly PackedForm[],
    readonly buffer: Buffer,
    readonly fields: Int32Array,
    private readonly rowStarts: Int32Array,
    private readonly decoder: TextRowDecoder,
  ) {}

  field(row: number, column: number): Value {
    const f = (row * this.width + column) * 2;
    const length = this.fields[f + 1]!;
    if (length === PACKED_NULL) return null;
    const start = this.fields[f]!;
    return this.decoder.decodeField(column, this.buffer, start, start + (length < 0 ? -2 - length : length));
  }

  row(index: number): Row {
    return this.decoder.decode(this.buffer, this.rowStarts[index]!, this.rowStarts[index + 1]!);
  }
}
