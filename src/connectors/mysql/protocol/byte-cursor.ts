/**
 * A read position in a buffer with the little-endian integer forms of the replication protocol. Reads past
 * `end` throw a RangeError (the decoder turns it into a protocol error). Row decoding shares the class for its
 * position only and checks bounds per row image instead of per value.
 */
export class ByteCursor {
  constructor(
    readonly buf: Buffer,
    public pos: number,
    public end: number,
  ) {}

  get remaining(): number {
    return this.end - this.pos;
  }

  private need(n: number): number {
    const p = this.pos;
    if (p + n > this.end) {
      throw new RangeError(`read of ${n} bytes at ${p} past the end of the event (${this.end})`);
    }
    this.pos = p + n;
    return p;
  }

  skip(n: number): void {
    this.need(n);
  }

  u8(): number {
    return this.buf[this.need(1)]!;
  }

  u16(): number {
    return this.buf.readUInt16LE(this.need(2));
  }

  u24(): number {
    return this.buf.readUIntLE(this.need(3), 3);
  }

  u32(): number {
    return this.buf.readUInt32LE(this.need(4));
  }

  /** 6-byte little-endian integer (table ids). */
  u48(): number {
    return this.buf.readUIntLE(this.need(6), 6);
  }

  u64(): bigint {
    return this.buf.readBigUInt64LE(this.need(8));
  }

  /** A 64-bit unsigned integer as a number; throws when it exceeds 2^53 (positions, counts). */
  u64Number(): number {
    const p = this.need(8);
    const lo = this.buf.readUInt32LE(p);
    const hi = this.buf.readUInt32LE(p + 4);
    if (hi >= 0x200000) throw new RangeError(`64-bit value at ${p} exceeds 2^53`);
    return hi * 0x100000000 + lo;
  }

  /** Length-encoded ("packed") integer: < 251 in one byte, then 0xfc + 2, 0xfd + 3, 0xfe + 8 bytes. */
  packed(): number {
    const first = this.u8();
    if (first < 0xfb) return first;
    if (first === 0xfc) return this.u16();
    if (first === 0xfd) return this.u24();
    if (first === 0xfe) return this.u64Number();
    throw new RangeError(`invalid length-encoded integer prefix 0x${first.toString(16)} at ${this.pos - 1}`);
  }

  /** A view (not a copy) of the next n bytes. */
  bytes(n: number): Buffer {
    const p = this.need(n);
    return this.buf.subarray(p, p + n);
  }

  string(n: number, encoding: BufferEncoding = 'utf8'): string {
    const p = this.need(n);
    return this.buf.toString(encoding, p, p + n);
  }

  /** The rest up to `end`, as text. */
  rest(encoding: BufferEncoding = 'utf8'): string {
    const p = this.pos;
    this.pos = this.end;
    return this.buf.toString(encoding, p, this.end);
  }
}
