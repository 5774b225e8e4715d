import type { Value } from '../../core/data-type.js';
import { encodeCopyValue } from './postgres-copy-encoder.js';

/** A piece handed on once it holds about this many bytes: few socket writes, bounded memory. */
const PIECE_BYTES = 1 << 20;

/** A last piece up to this size is copied out by {@link CopyTextWriter.take}, its buffer kept. */
const SMALL_PIECE_BYTES = 64 * 1024;

/** Strings up to this length are copied by a JS loop (cheaper than a native call for short text). */
const SHORT_STRING = 128;

/**
 * COPY text format written straight into byte buffers: the same bytes as joining {@link encodeCopyValue} of
 * each field with tabs and newlines, then UTF-8 encoding — a unit test holds them equal — without a string per
 * field or per line. (Appending to one big string and encoding it at the end spent more CPU flattening the
 * string than everything else in the snapshot's sink.) Full pieces are taken with {@link take}.
 */
export class CopyTextWriter {
  private buf: Buffer = Buffer.allocUnsafe(PIECE_BYTES + 1024);
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
        else this.ascii(encodeCopyValue(value));
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

  /** True when nothing has been written since the last {@link take}. */
  isEmpty(): boolean {
    return this.pos === 0 && this.full.length === 0;
  }

  /** Whether a piece of about 1 MB is ready for {@link take}. */
  hasFullPiece(): boolean {
    return this.full.length > 0 || this.pos >= PIECE_BYTES;
  }

  /** The pieces written so far (the caller owns them), and starts anew. */
  take(): Buffer[] {
    if (this.full.length === 0 && this.pos > 0 && this.pos <= SMALL_PIECE_BYTES) {
      // A small table's rows: copied out, and the piece buffer kept for the next rows (a new 1 MB buffer per
      // COPY cost more than the copy).
      const piece = Buffer.from(this.buf.subarray(0, this.pos));
      this.pos = 0;
      return [piece];
    }
    if (this.pos > 0) this.cut(PIECE_BYTES + 1024);
    return this.full.splice(0);
  }

  private text(value: string): void {
    const length = value.length;
    if (length <= SHORT_STRING) {
      // Worst case 4 bytes per character when a character needs escaping or UTF-8.
      if (this.pos + length * 4 > this.buf.length) this.grow(length * 4);
      const buf = this.buf;
      let pos = this.pos;
      for (let i = 0; i < length; i++) {
        const c = value.charCodeAt(i);
        if (c >= 0x20 && c < 0x7f && c !== 0x5c) {
          buf[pos++] = c;
          continue;
        }
        // Escapes, control characters or non-ASCII: the rest goes the general way.
        this.pos = pos;
        this.general(i === 0 ? value : value.slice(i));
        return;
      }
      this.pos = pos;
      return;
    }
    this.general(value);
  }

  private general(value: string): void {
    const text = NEEDS_ESCAPE.test(value) ? encodeCopyValue(value) : value;
    const max = text.length * 3;
    if (this.pos + max > this.buf.length) this.grow(max);
    this.pos += (this.buf as unknown as Utf8Write).utf8Write(text, this.pos);
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
    this.cut(Math.max(PIECE_BYTES + 1024, bytes));
  }

  private cut(nextSize: number): void {
    if (this.pos > 0) this.full.push(this.buf.subarray(0, this.pos));
    this.buf = Buffer.allocUnsafe(nextSize);
    this.pos = 0;
  }
}

/** Buffer's own UTF-8 write (what `write` calls after checking its arguments), as charsets.ts uses its slices. */
interface Utf8Write {
  utf8Write(text: string, offset: number): number;
}

/** In COPY text format a field must not contain a raw backslash, tab, newline or carriage return (nor NUL). */
const NEEDS_ESCAPE = /[\\\t\n\r\0]/;
