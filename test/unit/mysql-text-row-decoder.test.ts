import { describe, expect, it } from 'vitest';
import type { DataType, Value } from '../../src/core/data-type.js';
import { TextRowDecoder } from '../../src/connectors/mysql/protocol/text-row-decoder.js';
import { snapshotValue } from '../../src/connectors/mysql/mysql-types.js';
import { rowPayload } from '../harness/text-row-payload.js';

/** Each case: a type and field texts as MariaDB's text protocol sends them. */
const CASES: readonly (readonly [DataType, readonly (string | Buffer | null)[]])[] = [
  [{ kind: 'int8' }, ['0', '-128', '127', null]],
  [{ kind: 'int32' }, ['-2147483648', '2147483647', '7']],
  [{ kind: 'uint32' }, ['4294967295', '0']],
  [{ kind: 'year' }, ['2155', '0000', '1901']],
  [
    { kind: 'int64' },
    [
      '0',
      '-1',
      '999999999999999',
      '-999999999999999',
      '9007199254740993',
      '9223372036854775807',
      '-9223372036854775808',
    ],
  ],
  [{ kind: 'uint64' }, ['18446744073709551615', '1234567890123456']],
  [
    { kind: 'decimal', precision: 65, scale: 30 },
    ['-12345678901234567890123456789012345.123456789012345678901234567890', '0.00'],
  ],
  [{ kind: 'float' }, ['3.4028234663852886e38', '0.1', '-0']],
  [{ kind: 'double' }, ['0.1', '1e308', '-0']],
  [{ kind: 'boolean' }, ['0', '1']],
  [{ kind: 'varchar', length: 64 }, ['', 'plain', 'Grüße, 北京 🦀', 'tab\there', 'x'.repeat(300), 'y'.repeat(70000)]],
  [{ kind: 'json' }, ['{"a": [1, 2.50, "x"]}']],
  [{ kind: 'enum', values: ['a', 'b'] }, ['b']],
  [{ kind: 'time', precision: 6 }, ['-838:59:59.000000', '12:00:00.000001']],
  [{ kind: 'date' }, ['2024-02-29', '0000-00-00', '2024-00-10', '2024-05-00', '0000-01-01']],
  [
    { kind: 'timestamp', precision: 6 },
    ['2024-01-01 00:00:00.000001', '0000-00-00 00:00:00.000000', '0000-01-01 00:00:00'],
  ],
  [{ kind: 'timestamptz', precision: 6 }, ['1970-01-01 00:00:01.500000', '0000-00-00 00:00:00']],
  [{ kind: 'bytes' }, [Buffer.from([0, 1, 0xfb, 0xff]), Buffer.alloc(0)]],
  [{ kind: 'varbinary', length: 4 }, [Buffer.from('ab')]],
  [{ kind: 'bit', length: 10 }, [Buffer.from([0x02, 0x01])]],
];

describe('TextRowDecoder', () => {
  it('decodes every kind exactly as snapshotValue does (NULL, empty text, 64-bit, zero dates, bytes, unicode)', () => {
    for (const [type, fields] of CASES) {
      const decoder = new TextRowDecoder(fields.map(() => type));
      const payload = rowPayload(fields);
      const framed = Buffer.concat([Buffer.from([9, 9, 9]), payload, Buffer.from([7])]);
      const row = decoder.decode(framed, 3, 3 + payload.length);
      const expected: Value[] = fields.map((f) =>
        snapshotValue(type, f === null ? null : typeof f === 'string' ? Buffer.from(f, 'utf8') : f),
      );
      expect(row, type.kind).toEqual(expected);
      for (let i = 0; i < row.length; i++) expect(typeof row[i], `${type.kind} #${i}`).toBe(typeof expected[i]);
    }
  });

  it('reads DOUBLE, FLOAT and BOOLEAN texts as snapshotValue does, -0 and every digit count included', () => {
    const texts = [
      '0',
      '-0',
      '0.0',
      '-0.0',
      '1',
      '-1',
      '0.5',
      '-0.5',
      '142857.1429',
      '-142857.1429',
      '000123.4500',
      '.5',
      '5.',
      '-',
      '',
      '1.2.3',
      '1e308',
      '-2.2250738585072014e-308',
      '3.4028234663852886e38',
      '123456789012345',
      '1234567890123456',
      '12345678901234.5',
      '1234567890123.456',
      '0.000000000000001',
      '0.0000000000000001',
      '9007199254740993',
      '1.7976931348623157e308',
      'inf',
      'nan',
    ];
    let seed = 11;
    const next = () => (seed = (seed * 48271) % 2147483647);
    for (let i = 0; i < 5000; i++) {
      const digits = String(next()) + String(next());
      const length = 1 + (next() % 17);
      const point = next() % (length + 1);
      const body = digits.slice(0, length);
      texts.push(`${i % 2 ? '-' : ''}${point === 0 ? body : `${body.slice(0, point)}.${body.slice(point)}`}`);
    }
    for (const type of [{ kind: 'double' }, { kind: 'float' }, { kind: 'boolean' }] as const) {
      const decoder = new TextRowDecoder(texts.map(() => type));
      const payload = rowPayload(texts);
      const row = decoder.decode(payload, 0, payload.length);
      texts.forEach((text, i) => {
        const expected = snapshotValue(type, Buffer.from(text, 'latin1'));
        expect(Object.is(row[i], expected), `${type.kind} ${JSON.stringify(text)}: ${String(row[i])}`).toBe(true);
      });
    }
  });

  it('reads a row of mixed columns and tells NULL from the empty string', () => {
    const types: DataType[] = [{ kind: 'int64' }, { kind: 'varchar', length: 10 }, { kind: 'varchar', length: 10 }];
    const payload = rowPayload(['42', '', null]);
    expect(new TextRowDecoder(types).decode(payload, 0, payload.length)).toEqual([42n, '', null]);
  });

  it('calls the zero-date handler for zero dates only', () => {
    const types: DataType[] = [{ kind: 'date' }, { kind: 'date' }];
    const onZero = (text: string): never => {
      throw new Error(`zero date ${text}`);
    };
    const decoder = new TextRowDecoder(types, [onZero, onZero]);
    const good = rowPayload(['2024-01-02', '0000-01-01']);
    expect(decoder.decode(good, 0, good.length)).toEqual(['2024-01-02', '0000-01-01']);
    const zero = rowPayload(['2024-01-02', '2024-00-01']);
    expect(() => decoder.decode(zero, 0, zero.length)).toThrow('zero date 2024-00-01');
  });

  it('refuses a row that is shorter than its columns', () => {
    const payload = rowPayload(['1']);
    const decoder = new TextRowDecoder([{ kind: 'int32' }, { kind: 'int32' }]);
    expect(() => decoder.decode(payload, 0, payload.length)).toThrow(/ends after 1 of 2 columns/);
  });
});
