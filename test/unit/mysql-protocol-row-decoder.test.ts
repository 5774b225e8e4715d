import { describe, expect, it } from 'vitest';
import type { DataType, Value } from '../../src/core/data-type.js';
import { ColumnType as T } from '../../src/connectors/mysql/protocol/binlog-constants.js';
import type { TableMap } from '../../src/connectors/mysql/protocol/binlog-event.js';
import { BinlogSchemaMismatchError } from '../../src/connectors/mysql/protocol/binlog-errors.js';
import { canonicalTypesFromTableMap, type ColumnInfo } from '../../src/connectors/mysql/protocol/canonical-types.js';
import { prepareRowDecoder } from '../../src/connectors/mysql/protocol/row-decoder.js';

function tableMap(columns: { type: number; meta?: number }[], extra: Partial<TableMap> = {}): TableMap {
  return {
    tableId: 7,
    database: 'db',
    table: 't',
    columnTypes: columns.map((c) => c.type),
    columnMeta: columns.map((c) => c.meta ?? 0),
    nullable: columns.map(() => true),
    ...extra,
  };
}

const bitmap = (bits: boolean[]): number[] => {
  const out = new Array<number>((bits.length + 7) >> 3).fill(0);
  bits.forEach((set, i) => {
    if (set) out[i >> 3]! |= 1 << (i & 7);
  });
  return out;
};
const allPresent = (n: number): Uint8Array => Uint8Array.from(bitmap(new Array<boolean>(n).fill(true)));

/** One row image: null bitmap over `values.length` columns, then the encoded non-null values. */
function image(values: (number[] | null)[]): number[] {
  return [...bitmap(values.map((v) => v === null)), ...values.flatMap((v) => v ?? [])];
}

function decode(
  map: TableMap,
  columns: readonly ColumnInfo[] | undefined,
  images: number[][],
  update = false,
): Value[][] {
  const decoder = prepareRowDecoder(map, columns);
  const buf = Buffer.from([0xee, ...images.flat(), 0xcc, 0xcc, 0xcc, 0xcc]); // a stray byte before, a "CRC" after
  const rows: Value[][] = [];
  const present = allPresent(map.columnTypes.length);
  const partial = decoder.decodeRows(buf, 1, buf.length - 4, present, update ? present : undefined, rows);
  expect(partial).toBe(false);
  return rows;
}

const le = (value: bigint, bytes: number): number[] => {
  const out: number[] = [];
  let v = BigInt.asUintN(bytes * 8, value);
  for (let i = 0; i < bytes; i++) {
    out.push(Number(v & 0xffn));
    v >>= 8n;
  }
  return out;
};
const type = (t: DataType, extra: Omit<ColumnInfo, 'type'> = {}): ColumnInfo => ({ type: t, ...extra });

describe('row decoder: integers', () => {
  it('decodes signed and unsigned integers of every width, 64-bit ones as bigint', () => {
    const map = tableMap([
      { type: T.TINY },
      { type: T.TINY },
      { type: T.SHORT },
      { type: T.SHORT },
      { type: T.INT24 },
      { type: T.INT24 },
      { type: T.LONG },
      { type: T.LONG },
      { type: T.LONGLONG },
      { type: T.LONGLONG },
      { type: T.LONGLONG },
    ]);
    const columns = [
      type({ kind: 'int8' }),
      type({ kind: 'uint8' }),
      type({ kind: 'int16' }),
      type({ kind: 'uint16' }),
      type({ kind: 'int32' }),
      type({ kind: 'int32' }, { unsigned: true }), // MEDIUMINT UNSIGNED maps to int32
      type({ kind: 'int32' }),
      type({ kind: 'uint32' }),
      type({ kind: 'int64' }),
      type({ kind: 'uint64' }),
      type({ kind: 'int64' }),
    ];
    const [row] = decode(map, columns, [
      image([
        le(-128n, 1),
        le(255n, 1),
        le(-32768n, 2),
        le(65535n, 2),
        le(-8388608n, 3),
        le(16777215n, 3),
        le(-2147483648n, 4),
        le(4294967295n, 4),
        le(-9223372036854775808n, 8),
        le(18446744073709551615n, 8),
        le(-1n, 8),
      ]),
    ]);
    expect(row).toEqual([
      -128,
      255,
      -32768,
      65535,
      -8388608,
      16777215,
      -2147483648,
      4294967295,
      -9223372036854775808n,
      18446744073709551615n,
      -1n,
    ]);
  });

  it('takes signedness from the table map when the canonical type does not say it', () => {
    const map = tableMap([{ type: T.INT24 }, { type: T.LONGLONG }], { signedness: ['unsigned', 'unsigned'] });
    const [row] = decode(map, undefined, [image([le(16777215n, 3), le(2n ** 63n, 8)])]);
    expect(row).toEqual([16777215, 9223372036854775808n]);
    expect(canonicalTypesFromTableMap(map)).toEqual([{ kind: 'int32' }, { kind: 'uint64' }]);
  });

  it('decodes 64-bit values around 2^53 exactly', () => {
    const map = tableMap([{ type: T.LONGLONG }, { type: T.LONGLONG }, { type: T.LONGLONG }]);
    const values = [2n ** 53n + 1n, -(2n ** 53n) - 1n, 1234567890123456789n];
    const [row] = decode(
      map,
      [type({ kind: 'int64' }), type({ kind: 'int64' }), type({ kind: 'int64' })],
      [image(values.map((v) => le(v, 8)))],
    );
    expect(row).toEqual(values);
  });

  it('reads TINYINT as boolean when the canonical type is boolean, and YEAR', () => {
    const map = tableMap([{ type: T.TINY }, { type: T.TINY }, { type: T.YEAR }, { type: T.YEAR }]);
    const [row] = decode(
      map,
      [type({ kind: 'boolean' }), type({ kind: 'boolean' }), type({ kind: 'year' }), type({ kind: 'year' })],
      [image([[0], [2], [124], [0]])],
    );
    expect(row).toEqual([false, true, 2024, 0]);
  });

  it('rejects a canonical type narrower than the wire', () => {
    const map = tableMap([{ type: T.LONGLONG }]);
    expect(() => prepareRowDecoder(map, [type({ kind: 'int32' })])).toThrow(BinlogSchemaMismatchError);
  });
});

describe('row decoder: null bitmaps, images and errors', () => {
  it('handles null bitmaps over more than 8 columns', () => {
    const n = 11;
    const map = tableMap(Array.from({ length: n }, () => ({ type: T.TINY })));
    const columns = Array.from({ length: n }, () => type({ kind: 'int8' }));
    const values = Array.from({ length: n }, (_, i) => (i % 3 === 0 ? null : [i]));
    const [row] = decode(map, columns, [image(values)]);
    expect(row).toEqual(values.map((v) => (v === null ? null : v[0])));
  });

  it('returns update images as before, after pairs', () => {
    const map = tableMap([{ type: T.LONG }, { type: T.VARCHAR, meta: 20 }]);
    const columns = [type({ kind: 'int32' }), type({ kind: 'varchar', length: 20 }, { charset: 'utf8mb4' })];
    const str = (s: string): number[] => [Buffer.byteLength(s), ...Buffer.from(s)];
    const rows = decode(
      map,
      columns,
      [
        image([le(1n, 4), str('a')]),
        image([le(1n, 4), str('b')]),
        image([le(2n, 4), null]),
        image([le(2n, 4), str('c')]),
      ],
      true,
    );
    expect(rows).toEqual([
      [1, 'a'],
      [1, 'b'],
      [2, null],
      [2, 'c'],
    ]);
  });

  it('leaves columns absent from a partial image null and says so', () => {
    const map = tableMap([{ type: T.LONG }, { type: T.LONG }, { type: T.LONG }]);
    const decoder = prepareRowDecoder(map, [type({ kind: 'int32' }), type({ kind: 'int32' }), type({ kind: 'int32' })]);
    const present = Uint8Array.from(bitmap([true, false, true]));
    // null bitmap over the 2 present columns: none null
    const buf = Buffer.from([0, ...le(5n, 4), ...le(6n, 4), 0b10]); // second image: second present column null
    const rows: Value[][] = [];
    expect(decoder.decodeRows(buf, 0, buf.length - 1, present, undefined, rows)).toBe(true);
    expect(rows).toEqual([[5, null, 6]]);
    const rows2: Value[][] = [];
    const buf2 = Buffer.from([0b10, ...le(9n, 4)]);
    expect(decoder.decodeRows(buf2, 0, buf2.length, present, undefined, rows2)).toBe(true);
    expect(rows2).toEqual([[9, null, null]]);
  });

  it('throws a schema mismatch when the column counts differ', () => {
    const map = tableMap([{ type: T.LONG }, { type: T.LONG }]);
    expect(() => prepareRowDecoder(map, [type({ kind: 'int32' })])).toThrow(BinlogSchemaMismatchError);
    expect(() => prepareRowDecoder(map, [type({ kind: 'int32' }), type({ kind: 'date' })])).toThrow(/column #2/);
  });

  it('reports wire types it cannot decode as unsupported, not as a stale schema', () => {
    const map = tableMap([{ type: T.DECIMAL }, { type: T.BLOB_COMPRESSED, meta: 2 }]);
    const columns = [type({ kind: 'decimal', precision: 10, scale: 2 }), type({ kind: 'string' })];
    expect(() => prepareRowDecoder(map, columns)).toThrow(expect.objectContaining({ code: 'SOURCE_UNSUPPORTED_TYPE' }));
    expect(() => prepareRowDecoder(map)).toThrow(expect.objectContaining({ code: 'SOURCE_UNSUPPORTED_TYPE' }));
  });

  it('throws a protocol error for a truncated row', () => {
    const map = tableMap([{ type: T.LONGLONG }]);
    const decoder = prepareRowDecoder(map, [type({ kind: 'int64' })]);
    const buf = Buffer.from([0, 1, 2, 3]);
    expect(() => decoder.decodeRows(buf, 0, buf.length, allPresent(1), undefined, [])).toThrow(/cannot decode a row/);
  });
});

describe('row decoder: strings, bytes, BIT, ENUM, SET, decimals, floats', () => {
  it('decodes text by character set and copies bytes', () => {
    const map = tableMap([
      { type: T.VARCHAR, meta: 400 }, // utf8mb4 VARCHAR(100): 2-byte length
      { type: T.VARCHAR, meta: 10 }, // latin1
      { type: T.BLOB, meta: 2 }, // TEXT
      { type: T.BLOB, meta: 4 }, // LONGBLOB
      { type: T.VARCHAR, meta: 10 }, // VARBINARY
    ]);
    const columns = [
      type({ kind: 'varchar', length: 100 }, { charset: 'utf8mb4' }),
      type({ kind: 'varchar', length: 10 }, { charset: 'latin1' }),
      type({ kind: 'string' }, { charset: 'utf8mb4' }),
      type({ kind: 'bytes' }, { charset: 'binary' }),
      type({ kind: 'varbinary', length: 10 }, { charset: 'binary' }),
    ];
    const utf8 = Buffer.from('héllo 😀 wörld');
    const [row] = decode(map, columns, [
      image([
        [...le(BigInt(utf8.length), 2), ...utf8],
        [4, 0x80, 0x75, 0xe9, 0x9f],
        [...le(3n, 2), ...Buffer.from('abc')],
        [...le(3n, 4), 0, 255, 0],
        [2, 0xde, 0xad],
      ]),
    ]);
    expect(row).toEqual(['héllo 😀 wörld', '€uéŸ', 'abc', Buffer.from([0, 255, 0]), Buffer.from([0xde, 0xad])]);
    expect(row![3]).toBeInstanceOf(Uint8Array);
  });

  it('pads BINARY(n) back to its length and decodes long CHAR columns (length bits in the type byte)', () => {
    // CHAR(100) utf8mb4 = 400 bytes: byte0 = 0xfe ^ ((400 & 0x300) >> 4) = 0xee, byte1 = 400 & 0xff
    const charMeta = (0xee << 8) | (400 & 0xff);
    const map = tableMap([
      { type: T.STRING, meta: (0xfe << 8) | 4 },
      { type: T.STRING, meta: charMeta },
    ]);
    const text = 'x'.repeat(300);
    const [row] = decode(
      map,
      [
        type({ kind: 'binary', length: 4 }, { charset: 'binary' }),
        type({ kind: 'char', length: 100 }, { charset: 'utf8mb4' }),
      ],
      [
        image([
          [1, 0x61],
          [...le(300n, 2), ...Buffer.from(text)],
        ]),
      ],
    );
    expect(row).toEqual([Buffer.from([0x61, 0, 0, 0]), text]);
  });

  it('decodes BIT(n) into n binary digits', () => {
    const map = tableMap([
      { type: T.BIT, meta: (1 << 8) | 2 }, // BIT(10): 1 full byte + 2 bits
      { type: T.BIT, meta: 1 }, // BIT(1)
      { type: T.BIT, meta: 8 << 8 }, // BIT(64)
      { type: T.BIT, meta: 1 << 8 }, // BIT(8)
    ]);
    const [row] = decode(
      map,
      [
        type({ kind: 'bit', length: 10 }),
        type({ kind: 'bit', length: 1 }),
        type({ kind: 'bit', length: 64 }),
        type({ kind: 'bit', length: 8 }),
      ],
      [image([[0b10, 0b10101010], [1], [0xff, 0, 0, 0, 0, 0, 0, 1], [0x0f]])],
    );
    expect(row).toEqual([
      '1010101010',
      '1',
      '1111111100000000000000000000000000000000000000000000000000000001',
      '00001111',
    ]);
  });

  it('decodes ENUM and SET through their labels, from the canonical type or the table map', () => {
    const enumMeta = (T.ENUM << 8) | 1;
    const setMeta = (T.SET << 8) | 2;
    const map = tableMap(
      [
        { type: T.STRING, meta: enumMeta },
        { type: T.STRING, meta: setMeta },
        { type: T.STRING, meta: enumMeta },
      ],
      {
        enumValues: [['x', 'y'], undefined, ['p', 'q']],
        setValues: [undefined, Array.from({ length: 10 }, (_, i) => `s${i}`), undefined],
      },
    );
    const enumType: DataType = { kind: 'enum', values: ['a', 'b', 'c'] };
    const [fromCanonical] = decode(
      map,
      [type(enumType), type({ kind: 'set', values: [] }), type({ kind: 'enum', values: [] })],
      [image([[3], [0b101, 0b10], [0]])],
    );
    expect(fromCanonical).toEqual(['c', 's0,s2,s9', '']);
    const [fromMap] = decode(map, undefined, [image([[2], [0, 0], [1]])]);
    expect(fromMap).toEqual(['y', '', 'p']);
    expect(canonicalTypesFromTableMap(map)[0]).toEqual({ kind: 'enum', values: ['x', 'y'] });
  });

  it('decodes DECIMAL exactly and FLOAT/DOUBLE as numbers', () => {
    const map = tableMap([
      { type: T.NEWDECIMAL, meta: (14 << 8) | 4 },
      { type: T.FLOAT, meta: 4 },
      { type: T.DOUBLE, meta: 8 },
    ]);
    const f = Buffer.alloc(4);
    f.writeFloatLE(1.1);
    const d = Buffer.alloc(8);
    d.writeDoubleLE(Math.PI);
    const [row] = decode(
      map,
      [type({ kind: 'decimal', precision: 14, scale: 4 }), type({ kind: 'float' }), type({ kind: 'double' })],
      [image([[...Buffer.from('810dfb38d204d2', 'hex')], [...f], [...d]])],
    );
    expect(row).toEqual(['1234567890.1234', Math.fround(1.1), Math.PI]);
  });

  it('decodes MySQL binary JSON to text, big integers exactly', () => {
    // {"a": 12345678901234567890, "b": [1, "x"]} as a small object
    const arr = [2, 0, 0, 0, 0x05, 1, 0, 0x0c, 0, 0]; // count 2, size (patched), int16 1 inline, string at offset
    const arrayValue = Buffer.from([...arr, 1, 0x78]);
    arrayValue.writeUInt16LE(arrayValue.length, 2);
    arrayValue.writeUInt16LE(arr.length, 8);
    const header = 4 + 2 * 4 + 2 * 3; // count, size, 2 key entries, 2 value entries
    const keysAt = header;
    const bigAt = keysAt + 2;
    const arrayAt = bigAt + 8;
    const obj = Buffer.alloc(arrayAt + arrayValue.length);
    obj.writeUInt16LE(2, 0);
    obj.writeUInt16LE(obj.length, 2);
    obj.writeUInt16LE(keysAt, 4);
    obj.writeUInt16LE(1, 6);
    obj.writeUInt16LE(keysAt + 1, 8);
    obj.writeUInt16LE(1, 10);
    obj[12] = 0x0a; // uint64
    obj.writeUInt16LE(bigAt, 13);
    obj[15] = 0x02; // small array
    obj.writeUInt16LE(arrayAt, 16);
    obj.write('ab', keysAt);
    obj.writeBigUInt64LE(12345678901234567890n, bigAt);
    arrayValue.copy(obj, arrayAt);
    const doc = Buffer.concat([Buffer.from([0x00]), obj]);
    const map = tableMap([
      { type: T.JSON, meta: 4 },
      { type: T.JSON, meta: 4 },
    ]);
    const [row] = decode(
      map,
      [type({ kind: 'json' }), type({ kind: 'json' })],
      [
        image([
          [...le(BigInt(doc.length), 4), ...doc],
          [0, 0, 0, 0],
        ]),
      ],
    );
    expect(row).toEqual(['{"a": 12345678901234567890, "b": [1, "x"]}', 'null']);
  });

  it('derives canonical types from FULL table-map metadata', () => {
    const map = tableMap(
      [
        { type: T.VARCHAR, meta: 40 },
        { type: T.VARCHAR, meta: 40 },
        { type: T.BLOB, meta: 2 },
        { type: T.STRING, meta: (0xfe << 8) | 16 },
        { type: T.DATETIME2, meta: 3 },
        { type: T.TIMESTAMP2, meta: 6 },
        { type: T.TIME2, meta: 0 },
        { type: T.NEWDECIMAL, meta: (65 << 8) | 30 },
        { type: T.BIT, meta: (1 << 8) | 2 },
        { type: T.GEOMETRY, meta: 4 },
      ],
      { charsets: [45, 63, 8, 63, undefined, undefined, undefined, undefined, undefined, 63] },
    );
    expect(canonicalTypesFromTableMap(map)).toEqual([
      { kind: 'varchar', length: 10 },
      { kind: 'varbinary', length: 40 },
      { kind: 'string' },
      { kind: 'binary', length: 16 },
      { kind: 'timestamp', precision: 3 },
      { kind: 'timestamptz', precision: 6 },
      { kind: 'time', precision: 0 },
      { kind: 'decimal', precision: 65, scale: 30 },
      { kind: 'bit', length: 10 },
      { kind: 'bytes' },
    ]);
  });
});
