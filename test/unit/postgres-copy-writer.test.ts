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

  it('cuts pieces of about 64 KB and loses nothing across them', () => {
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

  it('keeps the pieces it handed out intact while it writes on, across its buffers (one writer, COPY after COPY)', () => {
    const out = new CopyTextWriter();
    // ~2.5 MB in all: the pieces are views of the writer's buffers, which must never be written where one was cut.
    const tables = Array.from({ length: 50 }, (_, t) =>
      Array.from({ length: 40 + t * 30 }, (_, i): Value[] => [
        BigInt(i),
        `table ${t} row ${i}`,
        'ü'.repeat((t % 7) + 20),
      ]),
    );
    const pieces = tables.map((rows) => {
      const taken: Buffer[] = [];
      for (const row of rows) {
        row.forEach((v, i) => {
          if (i > 0) out.char(0x09);
          out.value(v);
        });
        out.char(0x0a);
        if (out.hasFullPiece()) taken.push(...out.take());
      }
      taken.push(...out.take());
      return taken; // kept as views until every table is written
    });
    expect(pieces.flat().reduce((n, piece) => n + piece.length, 0)).toBeGreaterThan(2 << 20);
    tables.forEach((rows, t) => expect(Buffer.concat(pieces[t]!).equals(expectedBytes(rows))).toBe(true));
  });

  it('drops what a COPY given up half-way wrote, and the next COPY starts clean', () => {
    const out = new CopyTextWriter();
    const first = Array.from({ length: 5_000 }, (_, i): Value[] => [i, `given up ${i}`]);
    for (const row of first) {
      out.value(row[0]!);
      out.char(0x09);
      out.value(row[1]!);
      out.char(0x0a);
    }
    out.value('half a row');
    out.discard();
    expect(out.isEmpty()).toBe(true);
    const next: Value[][] = [[1, 'next']];
    out.value(1);
    out.char(0x09);
    out.value('next');
    out.char(0x0a);
    expect(Buffer.concat(out.take()).equals(expectedBytes(next))).toBe(true);
  });

  it('writes a value larger than a piece whole', () => {
    const big = 'é'.repeat(1_500_000);
    expect(written([[1, big]]).equals(expectedBytes([[1, big]]))).toBe(true);
  });

  it('writes doubles as String() spells them (the short-decimal path and the general one)', () => {
    const doubles: number[] = [
      0.5,
      -0.5,
      0.1,
      -0.1,
      1.5,
      142857.1429,
      -142857.1429,
      0.3 + 0.6,
      0.1 + 0.2,
      1e-5,
      1.5e-5,
      9.99e-6,
      1e-7,
      123456789012345.6,
      99999999999999.9,
      999999999999999.9,
      1e15 + 0.5,
      2 ** -20,
      0.000123,
      12.25,
      1 / 3,
      2 / 3,
      Math.PI,
      Math.fround(0.1),
      Math.fround(3.14),
      5e-324,
      1.7976931348623157e308,
      4503599627370495.5,
    ];
    // Decimals of every length and scale, as a DOUBLE or DECIMAL column sends them, and random doubles.
    let seed = 7;
    const next = () => (seed = (seed * 1103515245 + 12345) % 2 ** 31);
    for (let i = 0; i < 20_000; i++) {
      const digits = 1 + (next() % 15);
      const scale = next() % 17;
      const m = next() * 2 ** 20 + next();
      doubles.push(
        Number(`${i % 2 ? '-' : ''}${String(m).slice(0, digits)}e-${scale}`),
        i / 7,
        -i / 100,
        next() / 2 ** 31,
      );
    }
    const rows = doubles.map((v) => [v]);
    expect(written(rows).toString('latin1')).toBe(rows.map(([v]) => `${encodeCopyValue(v!)}\n`).join(''));
  });

  it('writes BIGINTs at and beyond the safe-integer bounds as their decimal text', () => {
    const values = [0n, 1n, -1n, 9007199254740991n, -9007199254740991n, 9007199254740992n, -9007199254740992n];
    const rows = values.map((v) => [v, v + 10n ** 12n]);
    expect(written(rows).equals(expectedBytes(rows))).toBe(true);
  });

  it('escapes text of every length around the short-text loop (tabs, newlines, backslashes, unicode)', () => {
    const texts: string[] = [];
    for (let n = 0; n <= 70; n++) {
      const base = 'abcdefghij'.repeat(8).slice(0, n);
      texts.push(
        base,
        base + '\\',
        '\t' + base,
        base.slice(0, n >> 1) + '\n\r' + base.slice(n >> 1),
        base + 'é',
        '🦀' + base,
      );
    }
    const rows = texts.map((t) => [t, t]);
    expect(written(rows).equals(expectedBytes(rows))).toBe(true);
  });

  it('refuses a NUL character, short or long text', () => {
    expect(() => new CopyTextWriter().value('a\u0000b')).toThrow(CopyNulCharacterError);
    expect(() => new CopyTextWriter().value('a'.repeat(500) + '\u0000')).toThrow(CopyNulCharacterError);
  });
});
