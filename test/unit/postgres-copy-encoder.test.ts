import { describe, expect, it } from 'vitest';
import { CopyNulCharacterError, encodeCopyValue } from '../../src/connectors/postgres/postgres-copy-encoder.js';

describe('COPY text encoding of canonical values', () => {
  it('writes NULL as \\N and booleans as t/f', () => {
    expect(encodeCopyValue(null)).toBe('\\N');
    expect(encodeCopyValue(true)).toBe('t');
    expect(encodeCopyValue(false)).toBe('f');
  });

  it('writes integers, 64-bit integers and uint64 max exactly', () => {
    expect(encodeCopyValue(0)).toBe('0');
    expect(encodeCopyValue(-128)).toBe('-128');
    expect(encodeCopyValue(4294967295)).toBe('4294967295');
    expect(encodeCopyValue(9223372036854775807n)).toBe('9223372036854775807');
    expect(encodeCopyValue(-9223372036854775808n)).toBe('-9223372036854775808');
    expect(encodeCopyValue(18446744073709551615n)).toBe('18446744073709551615');
    expect(encodeCopyValue(2155)).toBe('2155'); // year
  });

  it('passes decimal text through untouched, including decimal(65,30)', () => {
    const d = '-12345678901234567890123456789012345.123456789012345678901234567890';
    expect(encodeCopyValue(d)).toBe(d);
    expect(encodeCopyValue('0.000000000000000000000000000001')).toBe('0.000000000000000000000000000001');
  });

  it('writes doubles with full precision and special values as PostgreSQL spells them', () => {
    expect(encodeCopyValue(0.1)).toBe('0.1');
    expect(Number(encodeCopyValue(Math.PI))).toBe(Math.PI);
    expect(Number(encodeCopyValue(Number.MIN_VALUE))).toBe(Number.MIN_VALUE);
    expect(encodeCopyValue(Number.MAX_VALUE)).toBe('1.7976931348623157e+308');
    expect(encodeCopyValue(1e21)).toBe('1e+21');
    expect(encodeCopyValue(-0)).toBe('-0');
    expect(encodeCopyValue(Number.NaN)).toBe('NaN');
    expect(encodeCopyValue(Number.POSITIVE_INFINITY)).toBe('Infinity');
    expect(encodeCopyValue(Number.NEGATIVE_INFINITY)).toBe('-Infinity');
    // A float32 value widened to a double: PostgreSQL's real input rounds it back to the same float.
    expect(encodeCopyValue(Math.fround(0.1))).toBe('0.10000000149011612');
  });

  it('escapes backslash, tab, newline and carriage return, and nothing else', () => {
    expect(encodeCopyValue('a\tb\nc\rd\\e')).toBe('a\\tb\\nc\\rd\\\\e');
    expect(encodeCopyValue('\\.')).toBe('\\\\.');
    expect(encodeCopyValue('\\N')).toBe('\\\\N');
    expect(encodeCopyValue('')).toBe('');
    expect(encodeCopyValue('plain, "quoted" \'text\' ; | ,')).toBe('plain, "quoted" \'text\' ; | ,');
  });

  it('keeps unicode and emoji as they are', () => {
    expect(encodeCopyValue('Grüße, 北京, Ελλάδα 🦀👩‍💻')).toBe('Grüße, 北京, Ελλάδα 🦀👩‍💻');
    expect(encodeCopyValue('🦀\t🦀')).toBe('🦀\\t🦀');
  });

  it('writes bytes as bytea hex with an escaped backslash', () => {
    expect(encodeCopyValue(new Uint8Array([0, 1, 0xab, 0xff]))).toBe('\\\\x0001abff');
    expect(encodeCopyValue(new Uint8Array([]))).toBe('\\\\x');
    const backing = new Uint8Array([9, 9, 0xde, 0xad, 9]);
    expect(encodeCopyValue(backing.subarray(2, 4))).toBe('\\\\xdead');
    expect(encodeCopyValue(Buffer.from('hi'))).toBe('\\\\x6869');
  });

  it('writes dates, times, timestamps with micros and JSON as text', () => {
    expect(encodeCopyValue('2024-02-29')).toBe('2024-02-29');
    expect(encodeCopyValue('-838:59:59.000000')).toBe('-838:59:59.000000');
    expect(encodeCopyValue('2038-01-19 03:14:07.999999')).toBe('2038-01-19 03:14:07.999999');
    expect(encodeCopyValue('1970-01-01 00:00:00.000001Z')).toBe('1970-01-01 00:00:00.000001Z');
    expect(encodeCopyValue('{"a":"x\\ty","n":12345678901234567890}')).toBe('{"a":"x\\\\ty","n":12345678901234567890}');
    expect(encodeCopyValue('101')).toBe('101'); // bit(3)
  });

  it('refuses a string with a NUL character', () => {
    expect(() => encodeCopyValue('a\u0000b')).toThrow(CopyNulCharacterError);
  });
});
