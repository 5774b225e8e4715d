import { describe, expect, it } from 'vitest';
import type { Value } from '../../src/core/data-type.js';
import { CopyNulCharacterError, encodeCopyValue } from '../../src/connectors/postgres/postgres-copy-encoder.js';
import { CopyTextWriter } from '../../src/connectors/postgres/postgres-copy-writer.js';

const VALUES: readonly Value[] = [
  null,
  true,
  false,
  0,
  -0,
  7,
  -128,
  4294967295,
  Number.MAX_SAFE_INTEGER,
  -Number.MAX_SAFE_INTEGER,
  2 ** 53 + 2,
  0.1,
  Math.fround(0.1),
  1e21,
  -1.5e-300,
  Number.NaN,
  Number.POSITIVE_INFINITY,
  Number.NEGATIVE_INFINITY,
  0n,
  -9223372036854775808n,
  18446744073709551615n,
  '',
  'plain',
  '-12345678901234567890123456789012345.123456789012345678901234567890',
  '2024-01-01 00:00:00.000001',
  'a\tb\nc\rd\\e',
  '\\N',
  'Grüße, 北京, Ελλάδα 🦀👩‍💻',
  '🦀\t🦀',
  'ascii then ü',
  'x'.repeat(200) + '\\',
  'long ascii '.repeat(50),
  '\u0001\u007f control',
  'lone \ud800 surrogate',
  new Uint8Array([0, 1, 0xab, 0xff]),
  new Uint8Array([]),
  Buffer.from('hi'),
];

/** What the string path sent: fields joined by tabs, a newline per row, UTF-8. */
function expectedBytes(rows: readonly (readonly Value[])[]): Buffer {
  return Buffer.from(rows.map((r) => r.map(encodeCopyValue).join('\t') + '\n').join(''), 'utf8');
}

function written(rows: readonly (readonly Value[])[]): Buffer {
  const out = new CopyTextWriter();
  for (const row of rows) {
    row.forEach((v, i) => {
      if (i > 0) out.char(0x09);
      out.value(v);
    });
    out.char(0x0a);
  }
  return Buffer.concat(out.take());
}

describe('CopyTextWriter', () => {
  it('writes the same bytes as encodeCopyValue joined and UTF-8 encoded, for every kind of value', () => {
    const rows = VALUES.map((v) => [v, v]);
    expect(written(rows).equals(expectedBytes(rows))).toBe(true);
  });

  it('cuts pieces of about 1 MB and loses nothing across them', () => {
    const rows: Value[][] = [];
    for (let i = 0; i < 40_000; i++) rows.push([BigInt(i), i * 7, `row ${i} ünïcode`, 'z'.repeat(i % 97), '1.25']);
    const out = new CopyTextWriter();
    const pieces: Buffer[] = [];
    for (const row of rows) {
      row.forEach((v, i) => {
        if (i > 0) out.char(0x09);
        out.value(v);
      });
      out.char(0x0a);
      if (out.hasFullPiece()) pieces.push(...out.take());
    }
    pieces.push(...out.take());
    expect(pieces.length).toBeGreaterThan(1);
    expect(Buffer.concat(pieces).equals(expectedBytes(rows))).toBe(true);
    expect(out.isEmpty()).toBe(true);
  });

  it('keeps the small pieces it handed out intact while it writes on (one writer for many small tables)', () => {
    const out = new CopyTextWriter();
    const tables = Array.from({ length: 50 }, (_, t) =>
      Array.from({ length: 40 + t }, (_, i): Value[] => [BigInt(i), `table ${t} row ${i}`, 'ü'.repeat(t % 7)]),
    );
    const pieces = tables.map((rows) => {
      for (const row of rows) {
        row.forEach((v, i) => {
          if (i > 0) out.char(0x09);
          out.value(v);
        });
        out.char(0x0a);
      }
      return Buffer.concat(out.take());
    });
    tables.forEach((rows, t) => expect(pieces[t]!.equals(expectedBytes(rows))).toBe(true));
  });

  it('writes a value larger than a piece whole', () => {
    const big = 'é'.repeat(1_500_000);
    expect(written([[1, big]]).equals(expectedBytes([[1, big]]))).toBe(true);
  });

  it('refuses a NUL character, short or long text', () => {
    expect(() => new CopyTextWriter().value('a\u0000b')).toThrow(CopyNulCharacterError);
    expect(() => new CopyTextWriter().value('a'.repeat(500) + '\u0000')).toThrow(CopyNulCharacterError);
  });
});
