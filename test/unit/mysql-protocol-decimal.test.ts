import { describe, expect, it } from 'vitest';
import { decimalBinarySize, decimalLayout } from '../../src/connectors/mysql/protocol/decimal.js';

const DIGIT_BYTES = [0, 1, 1, 2, 2, 3, 3, 4, 4, 4];

/** Independent encoder of MySQL's binary DECIMAL (decimal2bin), for round trips. */
function encodeDecimal(text: string, precision: number, scale: number): Buffer {
  const negative = text.startsWith('-');
  const [intRaw = '', fracRaw = ''] = text.replace('-', '').split('.');
  const intg = precision - scale;
  const intDigits = intRaw.padStart(intg, '0');
  const fracDigits = fracRaw.padEnd(scale, '0');
  const bytes: number[] = [];
  const push = (digits: string): void => {
    if (digits.length === 0) return;
    const n = DIGIT_BYTES[digits.length]!;
    let v = Number(digits);
    const group: number[] = [];
    for (let i = 0; i < n; i++) {
      group.unshift(v & 0xff);
      v = Math.floor(v / 256);
    }
    bytes.push(...group);
  };
  const lead = intg % 9;
  push(intDigits.slice(0, lead));
  for (let i = lead; i < intg; i += 9) push(intDigits.slice(i, i + 9));
  for (let i = 0; i + 9 <= scale; i += 9) push(fracDigits.slice(i, i + 9));
  push(fracDigits.slice(scale - (scale % 9)));
  bytes[0] = bytes[0]! ^ 0x80;
  return Buffer.from(negative ? bytes.map((b) => b ^ 0xff) : bytes);
}

describe('binary DECIMAL', () => {
  it('decodes the documented example 1234567890.1234 as DECIMAL(14,4), and its negative', () => {
    const layout = decimalLayout(14, 4);
    expect(layout.size).toBe(7);
    expect(layout.decode(Buffer.from('810dfb38d204d2', 'hex'), 0)).toBe('1234567890.1234');
    expect(layout.decode(Buffer.from('7ef204c72dfb2d', 'hex'), 0)).toBe('-1234567890.1234');
  });

  it.each([
    ['-1234.50', 10, 2],
    ['1234.50', 10, 2],
    ['0.00', 10, 2],
    ['0.05', 10, 2],
    ['-0.05', 10, 2],
    ['0.001', 5, 3],
    ['7', 10, 0],
    ['-7', 10, 0],
    ['0', 10, 0],
    ['9999999999', 10, 0],
    ['-9999999999', 10, 0],
    ['1000000000', 10, 0],
    ['0.000000001', 10, 9],
    ['0.123456789', 9, 9],
    ['-0.100000000000000000000000000001', 31, 30],
    ['12345678901234567890123456789012345.123456789012345678901234567890', 65, 30],
    ['-99999999999999999999999999999999999.999999999999999999999999999999', 65, 30],
    ['0.000000000000000000000000000000', 65, 30],
    ['100000000000000000000000000000000000000000000000000000000000000', 65, 0],
    ['-1.5', 2, 1],
    ['123456789.987654321', 18, 9],
  ])('round-trips %s as DECIMAL(%i,%i)', (text, precision, scale) => {
    const bin = encodeDecimal(text, precision, scale);
    expect(bin.length).toBe(decimalBinarySize(precision, scale));
    const layout = decimalLayout(precision, scale);
    // at an offset, inside a larger buffer
    const buf = Buffer.concat([Buffer.from([1, 2, 3]), bin, Buffer.from([9])]);
    expect(layout.decode(buf, 3)).toBe(text);
  });

  it('never prints a negative zero', () => {
    // -0.00 as a server could write it: the inverted zero with the sign bit clear
    const bin = encodeDecimal('0.00', 10, 2).map((b) => b ^ 0xff);
    expect(decimalLayout(10, 2).decode(Buffer.from(bin), 0)).toBe('0.00');
  });

  it('rejects impossible precision and scale', () => {
    expect(() => decimalLayout(66, 0)).toThrow(RangeError);
    expect(() => decimalLayout(5, 6)).toThrow(RangeError);
  });
});
