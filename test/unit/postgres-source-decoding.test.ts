import { describe, expect, it } from 'vitest';
import { formatLsn, parseLsn } from '../../src/connectors/postgres-source/pg-lsn.js';
import { decodePgoutput, UNCHANGED_TOAST } from '../../src/connectors/postgres-source/pgoutput-decoder.js';
import {
  arrayToJson,
  pgColumnType,
  type PgTypeRow,
} from '../../src/connectors/postgres-source/postgres-source-types.js';

const int64 = (n: bigint) => {
  const b = Buffer.alloc(8);
  b.writeBigUInt64BE(n);
  return b;
};
const int32 = (n: number) => {
  const b = Buffer.alloc(4);
  b.writeInt32BE(n);
  return b;
};
const int16 = (n: number) => {
  const b = Buffer.alloc(2);
  b.writeInt16BE(n);
  return b;
};
const str = (s: string) => Buffer.concat([Buffer.from(s), Buffer.from([0])]);
const text = (s: string) => Buffer.concat([Buffer.from('t'), int32(Buffer.byteLength(s)), Buffer.from(s)]);

describe('pgoutput messages', () => {
  it('decodes an update with the old row, an unchanged TOAST value and a NULL', () => {
    const tuple = (...cols: Buffer[]) => Buffer.concat([int16(cols.length), ...cols]);
    const message = Buffer.concat([
      Buffer.from('U'),
      int32(16384),
      Buffer.from('O'),
      tuple(text('1'), text('old'), Buffer.from('n')),
      Buffer.from('N'),
      tuple(text('1'), Buffer.from('u'), text('é')),
    ]);
    expect(decodePgoutput(message)).toEqual({
      tag: 'update',
      relation: 16384,
      beforeKind: 'old',
      before: ['1', 'old', null],
      after: ['1', UNCHANGED_TOAST, 'é'],
    });
  });

  it('decodes a relation, a commit and refuses what it does not know', () => {
    const relation = Buffer.concat([
      Buffer.from('R'),
      int32(7),
      str('shop'),
      str('orders'),
      Buffer.from('d'),
      int16(2),
      Buffer.from([1]),
      str('id'),
      int32(20),
      int32(-1),
      Buffer.from([0]),
      str('price'),
      int32(1700),
      int32(((10 << 16) | 2) + 4),
    ]);
    expect(decodePgoutput(relation)).toMatchObject({
      tag: 'relation',
      namespace: 'shop',
      name: 'orders',
      columns: [
        { key: true, name: 'id', typeOid: 20, typmod: -1 },
        { key: false, name: 'price', typeOid: 1700 },
      ],
    });
    const commit = Buffer.concat([Buffer.from('C'), Buffer.from([0]), int64(0x10n), int64(0x20n), int64(0n)]);
    expect(decodePgoutput(commit)).toMatchObject({
      tag: 'commit',
      commitLsn: 0x10n,
      endLsn: 0x20n,
      tsMs: 946684800000,
    });
    expect(() => decodePgoutput(Buffer.from('Z'))).toThrow(/unknown pgoutput message 'Z'/);
    expect(() => decodePgoutput(Buffer.from('S'))).toThrow(/cut short/); // protocol 2's Stream Start, without its xid
    expect(() => decodePgoutput(Buffer.from('I'))).toThrow(/cut short/);
  });

  it('reads and writes LSNs as the server does', () => {
    expect(formatLsn(parseLsn('16/B374D848'))).toBe('16/B374D848');
    expect(parseLsn('0/10')).toBe(16n);
  });
});

describe('postgres source types', () => {
  const catalog: PgTypeRow[] = [
    {
      oid: 1700,
      name: 'numeric',
      namespace: 'pg_catalog',
      typtype: 'b',
      category: 'N',
      elem: 0,
      baseType: 0,
      baseTypmod: -1,
      enumLabels: null,
    },
    {
      oid: 1231,
      name: '_numeric',
      namespace: 'pg_catalog',
      typtype: 'b',
      category: 'A',
      elem: 1700,
      baseType: 0,
      baseTypmod: -1,
      enumLabels: null,
    },
    {
      oid: 1184,
      name: 'timestamptz',
      namespace: 'pg_catalog',
      typtype: 'b',
      category: 'D',
      elem: 0,
      baseType: 0,
      baseTypmod: -1,
      enumLabels: null,
    },
    {
      oid: 600,
      name: 'point',
      namespace: 'pg_catalog',
      typtype: 'b',
      category: 'G',
      elem: 701,
      baseType: 0,
      baseTypmod: -1,
      enumLabels: null,
    },
  ];
  const lookup = (oid: number) => catalog.find((row) => row.oid === oid);

  it('maps numeric(p,s), rejects NaN as a decimal, and writes it as a string inside an array', () => {
    const numeric = pgColumnType(1700, ((10 << 16) | 2) + 4, lookup);
    if (typeof numeric === 'string') throw new Error(numeric);
    expect(numeric.type).toEqual({ kind: 'decimal', precision: 10, scale: 2 });
    expect(numeric.convert('-12.50')).toBe('-12.50');
    expect(() => numeric.convert('NaN')).toThrow(/NaN/);
    const array = pgColumnType(1231, -1, lookup);
    if (typeof array === 'string') throw new Error(array);
    expect(array.convert('{1.5,NaN,NULL}')).toBe('[1.5,"NaN",null]');
  });

  it('gives timestamptz in UTC with the declared fraction digits, and refuses infinity', () => {
    const ts = pgColumnType(1184, 3, lookup);
    if (typeof ts === 'string') throw new Error(ts);
    expect(ts.convert('2024-03-01 10:00:00.5+00')).toBe('2024-03-01 10:00:00.500Z');
    expect(() => ts.convert('infinity')).toThrow(/no canonical timestamp/);
  });

  it('names an unsupported type', () => {
    expect(pgColumnType(600, -1, lookup)).toBe('type point is not supported');
  });

  it('parses array text with quotes, escapes, nesting and lower bounds', () => {
    const quote = (s: string) => JSON.stringify(s);
    expect(arrayToJson('{"a,b","c\\"d",NULL,"NULL"}', quote)).toBe('["a,b","c\\"d",null,"NULL"]');
    expect(arrayToJson('{{1,2},{3,4}}', (s) => s)).toBe('[[1,2],[3,4]]');
    expect(arrayToJson('[0:1]={7,8}', (s) => s)).toBe('[7,8]');
    expect(arrayToJson('{}', (s) => s)).toBe('[]');
  });
});
