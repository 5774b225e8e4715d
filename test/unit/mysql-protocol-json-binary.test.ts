import { describe, expect, it } from 'vitest';
import { jsonBinaryToText } from '../../src/connectors/mysql/protocol/json-binary.js';

/** A scalar in one of the binary forms the format has (several for numbers). */
class Typed {
  constructor(
    readonly type: number,
    readonly bytes: number[],
  ) {}
}
const le = (v: number, size: number): number[] =>
  Array.from({ length: size }, (_, i) => Math.floor(v / 256 ** i) % 256);
const word = (write: (b: Buffer) => void): number[] => {
  const b = Buffer.alloc(8);
  write(b);
  return [...b];
};
const int16 = (v: number): Typed => new Typed(0x05, le(v & 0xffff, 2));
const int32 = (v: number): Typed => new Typed(0x07, le(v >>> 0, 4));
const uint64 = (v: bigint): Typed =>
  new Typed(
    0x0a,
    word((b) => b.writeBigUInt64LE(v)),
  );
const int64 = (v: bigint): Typed =>
  new Typed(
    0x09,
    word((b) => b.writeBigInt64LE(v)),
  );
const double = (v: number): Typed =>
  new Typed(
    0x0b,
    word((b) => b.writeDoubleLE(v)),
  );
const opaque = (fieldType: number, data: number[]): Typed => new Typed(0x0f, [fieldType, data.length, ...data]);

type J = null | boolean | string | Typed | J[] | { [key: string]: J };

/** Independent encoder of MySQL's binary JSON (json_binary.cc layout), small or large containers. */
function encode(value: J, large = false): { type: number; bytes: number[] } {
  const n = large ? 4 : 2;
  if (value === null) return { type: 0x04, bytes: [0] };
  if (value === true) return { type: 0x04, bytes: [1] };
  if (value === false) return { type: 0x04, bytes: [2] };
  if (value instanceof Typed) return value;
  if (typeof value === 'string') {
    const utf8 = [...Buffer.from(value)];
    const length: number[] = [];
    let len = utf8.length;
    do {
      length.push((len & 0x7f) | (len > 0x7f ? 0x80 : 0));
      len >>= 7;
    } while (len > 0);
    return { type: 0x0c, bytes: [...length, ...utf8] };
  }
  const isArray = Array.isArray(value);
  const entries = isArray ? value.map((v) => ['', v] as const) : Object.entries(value);
  const count = entries.length;
  const headerSize = 2 * n + (isArray ? 0 : count * (n + 2)) + count * (1 + n);
  const keys = isArray ? [] : entries.map(([k]) => [...Buffer.from(k)]);
  let offset = headerSize + keys.reduce((sum, k) => sum + k.length, 0);
  const keyEntries: number[] = [];
  let keyOffset = headerSize;
  for (const key of keys) {
    keyEntries.push(...le(keyOffset, n), ...le(key.length, 2));
    keyOffset += key.length;
  }
  const valueEntries: number[] = [];
  const values: number[] = [];
  for (const [, v] of entries) {
    const encoded = encode(v, large);
    const inlined = encoded.type === 0x04 || encoded.type === 0x05 || (large && encoded.type === 0x07);
    if (inlined) {
      valueEntries.push(encoded.type, ...encoded.bytes, ...new Array<number>(n - encoded.bytes.length).fill(0));
    } else {
      valueEntries.push(encoded.type, ...le(offset, n));
      values.push(...encoded.bytes);
      offset += encoded.bytes.length;
    }
  }
  const body = [...keyEntries, ...valueEntries, ...keys.flat(), ...values];
  const size = 2 * n + body.length;
  return { type: (isArray ? 0x02 : 0x00) + (large ? 1 : 0), bytes: [...le(count, n), ...le(size, n), ...body] };
}

function text(value: J, large = false): string {
  const { type, bytes } = encode(value, large);
  const buf = Buffer.from([0xaa, type, ...bytes, 0xbb]);
  return jsonBinaryToText(buf, 1, buf.length - 1);
}

describe('MySQL binary JSON', () => {
  it('prints scalars the way MySQL does', () => {
    expect(text(null)).toBe('null');
    expect(text(true)).toBe('true');
    expect(text('a "quoted" \\ \n é 😀')).toBe(JSON.stringify('a "quoted" \\ \n é 😀'));
    expect(text(uint64(18446744073709551615n))).toBe('18446744073709551615');
    expect(text(int64(-9223372036854775808n))).toBe('-9223372036854775808');
    expect(text(double(1))).toBe('1.0');
    expect(text(double(-0))).toBe('-0.0');
    expect(text(double(1.5e300))).toBe('1.5e300');
    expect(text(double(0.1))).toBe('0.1');
    expect(text('x'.repeat(300))).toBe(`"${'x'.repeat(300)}"`);
  });

  it.each([false, true])('prints nested objects and arrays (large containers: %s)', (large) => {
    const doc: J = {
      a: int16(-5),
      bb: [int16(1), null, false, int32(-70000), 'str', { k: [] }, {}],
      ccc: uint64(12345678901234567890n),
    };
    expect(text(doc, large)).toBe(
      '{"a": -5, "bb": [1, null, false, -70000, "str", {"k": []}, {}], "ccc": 12345678901234567890}',
    );
  });

  it('prints opaque decimals and temporals', () => {
    // DECIMAL(14,4) 1234567890.1234
    const decimal = [14, 4, ...Buffer.from('810dfb38d204d2', 'hex')];
    const packed = (v: bigint): number[] => word((b) => b.writeBigInt64LE(v));
    const ymd = (2015n * 13n + 1n) * 32n + 15n;
    const hms = (23n << 12n) | (24n << 6n) | 25n;
    const doc: J = [
      opaque(246, decimal),
      opaque(12, packed(((ymd << 17n) | hms) << 24n)),
      opaque(10, packed(ymd << 41n)),
      opaque(11, packed(-(hms << 24n))),
      opaque(252, [0xde, 0xad]),
    ];
    expect(text(doc)).toBe(
      '[1234567890.1234, "2015-01-15 23:24:25.000000", "2015-01-15", "-23:24:25.000000", "base64:type252:3q0="]',
    );
  });

  it('treats an empty value as null and rejects unknown types', () => {
    expect(jsonBinaryToText(Buffer.alloc(0), 0, 0)).toBe('null');
    expect(() => jsonBinaryToText(Buffer.from([0x0e, 0]), 0, 2)).toThrow(/unknown binary JSON type/);
  });
});
