import { isUtf8 } from 'node:buffer';
import type { Value } from '../../core/data-type.js';
import { EXACT_POWERS_OF_TEN } from '../../core/powers-of-ten.js';
import { CopyNulCharacterError, encodeCopyValue } from './postgres-copy-encoder.js';

/**
 * A piece is handed on once it holds about this many bytes, so that the server starts on a COPY's first rows while
 * the rest are written (a whole snapshot chunk written before its first byte went out kept PostgreSQL idle for
 * that long, ~5 ms a chunk of the narrow table).
 */
const PIECE_BYTES = 64 * 1024;

/** The buffers pieces are cut from: written on from where the last piece ended, a new one when full. */
const BUFFER_BYTES = 1 << 20;

/**
 * Strings up to this length are copied by a JS loop: cheaper than the escape check and native UTF-8 write below
 * about 30 characters, dearer above (measured on Node 20: ~2 ns a character against ~60 ns a call and ~0.8 ns a
 * character).
 */
const SHORT_STRING = 32;

/** Doubles written by {@link CopyTextWriter.shortDecimal}: at most 15 significant digits, in fixed notation. */
const MIN_SHORT_DECIMAL = 1e-5;
const MAX_SHORT_DECIMAL = 1e15;
const MAX_FRACTION_DIGITS = 15;

/**
 * COPY text format written straight into byte buffers: the same bytes as joining {@link encodeCopyValue} of
 * each field with tabs and newlines, then UTF-8 encoding — a unit test holds them equal — without a string per
 * field or per line. (Appending to one big string and encoding it at the end spent more CPU flattening the
 * string than everything else in the snapshot's sink.) Full pieces are taken with {@link take}: views of the
 * buffer, which is never written again where a piece was cut, so one writer serves COPY after COPY of a connection
 * without a buffer per COPY.
 */
export class CopyTextWriter {
  private buf: Buffer = Buffer.allocUnsafe(BUFFER_BYTES);
  /** Where the piece being written starts in `buf`: bytes before it were handed on. */
  private start = 0;
  private pos = 0;
  private readonly full: Buffer[] = [];

  /** Appends one ASCII character (a tab, a newline, `u`, …). */
  char(code: number): void {
    if (this.pos >= this.buf.length) this.grow(1);
    this.buf[this.pos++] = code;
  }

  /** Appends ASCII text as it is (no escaping): markers like `\N\tu\t`. */
  ascii(text: string): void {
    const length = text.length;
    if (this.pos + length > this.buf.length) this.grow(length);
    const buf = this.buf;
    let pos = this.pos;
    for (let i = 0; i < length; i++) buf[pos++] = text.charCodeAt(i);
    this.pos = pos;
  }

  /** Appends one value as a COPY field ({@link encodeCopyValue}); throws CopyNulCharacterError for a NUL. */
  value(value: Value): void {
    switch (typeof value) {
      case 'string':
        this.text(value);
        return;
      case 'number':
        if (Number.isSafeInteger(value) && !Object.is(value, -0)) this.integer(value);
        else if (!this.shortDecimal(value)) this.ascii(encodeCopyValue(value));
        return;
      case 'bigint':
        this.ascii(value.toString());
        return;
      case 'boolean':
        this.char(value ? 0x74 : 0x66);
        return;
      default:
        this.ascii(encodeCopyValue(value));
    }
  }

  /** Appends `buf[start, end)` as it is: text that holds nothing to escape (a number, a date as text). */
  bytes(buf: Uint8Array, start: number, end: number): void {
    const length = end - start;
    if (this.pos + length > this.buf.length) this.grow(length);
    const out = this.buf;
    if (length > SHORT_STRING) {
      out.set(buf.subarray(start, end), this.pos);
      this.pos += length;
      return;
    }
    let pos = this.pos;
    for (let i = start; i < end; i++) out[pos++] = buf[i]!;
    this.pos = pos;
  }

  /**
   * Appends the string whose UTF-8 is `buf[start, end)` as a COPY field — the bytes {@link value} writes for that
   * string. Returns false, writing nothing, when the bytes are not valid UTF-8 (the string they decode to holds
   * replacement characters instead: the caller writes that). Throws CopyNulCharacterError for a NUL.
   */
  utf8Text(buf: Buffer, start: number, end: number): boolean {
    let i = start;
    let ascii = true;
    let checked = false;
    if (end - start >= NATIVE_SCAN_BYTES) {
      // Long text: native scans (memchr) beat the byte loop from ~200 bytes on.
      const view = buf.subarray(start, end);
      if (!isUtf8(view)) return false;
      if (!hasCopyEscape(view)) {
        this.bytes(buf, start, end);
        return true;
      }
      checked = true; // valid UTF-8; the loop below finds where escaping starts
    }
    for (; i < end; i++) {
      const c = buf[i]!;
      if (c === 0x5c || c < 0x0e) break;
      if (c >= 0x80) ascii = false;
    }
    // Unchecked bytes past an escape, or non-ASCII ones before it, may not be UTF-8.
    if (!checked && (i < end || !ascii) && !isUtf8(buf.subarray(start, end))) return false;
    if (i === end) {
      this.bytes(buf, start, end);
      return true;
    }
    const length = end - start;
    if (this.pos + 2 * length > this.buf.length) this.grow(2 * length);
    const out = this.buf;
    let pos = this.pos;
    for (let k = start; k < i; k++) out[pos++] = buf[k]!;
    for (let k = i; k < end; k++) {
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
    return true;
  }

  /** Appends the binary value `buf[start, end)` as bytea hex (`\\x…`, the backslash escaped), as {@link value} does. */
  hex(buf: Uint8Array, start: number, end: number): void {
    const length = 3 + 2 * (end - start);
    if (this.pos + length > this.buf.length) this.grow(length);
    const out = this.buf;
    let pos = this.pos;
    out[pos++] = 0x5c;
    out[pos++] = 0x5c;
    out[pos++] = 0x78;
    for (let k = start; k < end; k++) {
      const b = buf[k]!;
      out[pos++] = HEX_DIGITS[b >> 4]!;
      out[pos++] = HEX_DIGITS[b & 15]!;
    }
    this.pos = pos;
  }

  /** True when nothing has been written since the last {@link take}. */
  isEmpty(): boolean {
    return this.pos === this.start && this.full.length === 0;
  }

  /** Whether a piece is ready for {@link take}. */
  hasFullPiece(): boolean {
    return this.full.length > 0 || this.pos - this.start >= PIECE_BYTES;
  }

  /** The pieces written so far (the caller owns them: they are never written again), and starts anew. */
  take(): Buffer[] {
    if (this.pos > this.start) {
      this.full.push(this.buf.subarray(this.start, this.pos));
      this.start = this.pos;
    }
    // A buffer grown for one huge value is not kept for the connection's life: the next write starts a new one.
    if (this.buf.length > BUFFER_BYTES) this.grow(0);
    return this.full.splice(0);
  }

  /** Drops what was written since the last {@link take}: a COPY given up half-way (a row failed to write). */
  discard(): void {
    this.pos = this.start;
    this.full.length = 0;
  }

  private text(value: string): void {
    const length = value.length;
    if (length <= SHORT_STRING) {
      // Worst case 4 bytes per character when a character needs escaping or UTF-8.
      if (this.pos + length * 4 > this.buf.length) this.grow(length * 4);
      const buf = this.buf;
      const pos = this.pos;
      for (let i = 0; i < length; i++) {
        const c = value.charCodeAt(i);
        if (c < 0x20 || c >= 0x7f || c === 0x5c) {
          // Escapes, control characters or non-ASCII: the rest goes the general way.
          this.pos = pos + i;
          this.general(i === 0 ? value : value.slice(i));
          return;
        }
        buf[pos + i] = c;
      }
      this.pos = pos + length;
      return;
    }
    this.general(value);
  }

  private general(value: string): void {
    const text = needsEscape(value) ? encodeCopyValue(value) : value;
    const max = text.length * 3;
    if (this.pos + max > this.buf.length) this.grow(max);
    this.pos += (this.buf as unknown as Utf8Write).utf8Write(text, this.pos);
  }

  /**
   * Writes a double that is not an integer the way `String(value)` spells it — when that is cheap to know, else
   * returns false and writes nothing. It is when some m < 10^15 and k ≤ 15 give m / 10^k === value: then the
   * decimal m·10^-k rounds to the value, and as two decimals of at most 15 significant digits never round to the
   * same double (DBL_DIG), no other decimal of as few digits does; so m's digits are the shortest that round-trip,
   * which `String` writes, and for 1e-5 ≤ |value| < 10^15 in fixed notation (ECMA-262 Number::toString).
   * The first k found has m not divisible by 10 (else k − 1 had matched): no trailing zeros to trim.
   */
  private shortDecimal(value: number): boolean {
    const x = value < 0 ? -value : value;
    if (!(x >= MIN_SHORT_DECIMAL && x < MAX_SHORT_DECIMAL)) return false; // NaN and infinities too
    for (let k = 1; k <= MAX_FRACTION_DIGITS; k++) {
      const scale = EXACT_POWERS_OF_TEN[k]!;
      const m = Math.round(x * scale);
      if (m >= MAX_SHORT_DECIMAL) return false;
      if (m / scale !== x) continue;
      // m < 2^51: m / scale lies further from an integer than half an ulp, so its floor is exact.
      const whole = Math.floor(m / scale);
      if (this.pos + 40 > this.buf.length) this.grow(40);
      if (value < 0) this.buf[this.pos++] = 0x2d;
      this.integer(whole);
      const buf = this.buf;
      buf[this.pos++] = 0x2e;
      let fraction = m - whole * scale;
      let end = this.pos + k;
      this.pos = end;
      for (let j = 0; j < k; j++) {
        const q = Math.floor(fraction / 10);
        buf[--end] = 0x30 + (fraction - q * 10);
        fraction = q;
      }
      return true;
    }
    return false;
  }

  private integer(value: number): void {
    if (this.pos + 17 > this.buf.length) this.grow(17);
    const buf = this.buf;
    let n = value;
    if (n < 0) {
      buf[this.pos++] = 0x2d;
      n = -n;
    }
    if (n < 10) {
      buf[this.pos++] = 0x30 + n;
      return;
    }
    let digits = 0;
    for (let m = n; m > 0; m = Math.floor(m / 10)) digits++;
    let end = this.pos + digits;
    this.pos = end;
    while (n > 0) {
      const q = Math.floor(n / 10);
      buf[--end] = 0x30 + (n - q * 10);
      n = q;
    }
  }

  /** Makes room for `bytes` more: hands the current piece on when it has anything, or enlarges it. */
  private grow(bytes: number): void {
    if (this.pos > this.start) this.full.push(this.buf.subarray(this.start, this.pos));
    this.buf = Buffer.allocUnsafe(Math.max(BUFFER_BYTES, bytes));
    this.start = 0;
    this.pos = 0;
  }
}

/** Text fields at least this long are checked by native scans (see {@link CopyTextWriter.utf8Text}). */
const NATIVE_SCAN_BYTES = 200;

/** Whether `bytes` hold a backslash, tab, newline, carriage return or NUL (five native scans). */
function hasCopyEscape(bytes: Buffer): boolean {
  return (
    bytes.indexOf(0x5c) >= 0 ||
    bytes.indexOf(0x09) >= 0 ||
    bytes.indexOf(0x0a) >= 0 ||
    bytes.indexOf(0x0d) >= 0 ||
    bytes.indexOf(0x00) >= 0
  );
}

/** The ASCII codes of the hex digits, by value. */
const HEX_DIGITS = Uint8Array.from('0123456789abcdef', (c) => c.charCodeAt(0));

/** Buffer's own UTF-8 write (what `write` calls after checking its arguments), as charsets.ts uses its slices. */
interface Utf8Write {
  utf8Write(text: string, offset: number): number;
}

/**
 * Whether `text` holds a backslash, tab, newline or carriage return (escaped in COPY text format) or a NUL (which
 * it cannot hold). Five `indexOf` scans, not a regular expression with the class of the five: V8 scans a string
 * for one character several times faster than its regular expressions run, ~70 ns against ~300 ns for 300
 * characters on Node 20.
 */
function needsEscape(text: string): boolean {
  return (
    text.indexOf('\\') >= 0 ||
    text.indexOf('\t') >= 0 ||
    text.indexOf('\n') >= 0 ||
    text.indexOf('\r') >= 0 ||
    text.indexOf('\0') >= 0
  );
}
