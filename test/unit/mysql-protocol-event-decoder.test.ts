import { crc32, deflateSync } from 'node:zlib';
import { describe, expect, it } from 'vitest';
import { ColumnType as T, EventType as E } from '../../src/connectors/mysql/protocol/binlog-constants.js';
import type { BinlogEvent } from '../../src/connectors/mysql/protocol/binlog-event.js';
import {
  createDecoderContext,
  decodeEvent,
  type DecoderContext,
} from '../../src/connectors/mysql/protocol/binlog-event-decoder.js';
import { BinlogStreamError } from '../../src/connectors/mysql/protocol/binlog-errors.js';
import { compareBinlogPositions } from '../../src/connectors/mysql/protocol/binlog-position.js';

/** A whole event: 19-byte header, body and (optionally) its CRC32. */
function event(
  type: number,
  body: number[] | Buffer,
  options: { crc?: boolean; logPos?: number; flags?: number } = {},
): Buffer {
  const crc = options.crc ?? true;
  const size = 19 + body.length + (crc ? 4 : 0);
  const buf = Buffer.alloc(size);
  buf.writeUInt32LE(1_700_000_000, 0);
  buf[4] = type;
  buf.writeUInt32LE(1, 5);
  buf.writeUInt32LE(size, 9);
  buf.writeUInt32LE(options.logPos ?? 1000, 13);
  buf.writeUInt16LE(options.flags ?? 0, 17);
  Buffer.from(body).copy(buf, 19);
  if (crc) buf.writeUInt32LE(crc32(buf.subarray(0, size - 4)), size - 4);
  return buf;
}

const u16 = (v: number): number[] => [v & 0xff, (v >> 8) & 0xff];
const u32 = (v: number): number[] => [v & 0xff, (v >>> 8) & 0xff, (v >>> 16) & 0xff, v >>> 24];
const u48 = (v: number): number[] => [...u32(v % 2 ** 32), ...u16(Math.floor(v / 2 ** 32))];
const u64 = (v: bigint): number[] => {
  const b = Buffer.alloc(8);
  b.writeBigUInt64LE(v);
  return [...b];
};
const str = (s: string): number[] => [...Buffer.from(s)];
const lenStr = (s: string): number[] => [Buffer.byteLength(s), ...str(s)];

function formatDescription(checksum: 0 | 1): Buffer {
  const version = Buffer.alloc(50);
  version.write('10.11.19-MariaDB-log');
  const postHeaders = new Array<number>(172).fill(0);
  postHeaders[E.QUERY - 1] = 13;
  postHeaders[E.TABLE_MAP - 1] = 8;
  postHeaders[E.WRITE_ROWS_V1 - 1] = 8;
  const body = [...u16(4), ...version, ...u32(0), 19, ...postHeaders, checksum];
  // The FDE always ends with 4 checksum bytes, even when its algorithm is "none".
  const fde = event(E.FORMAT_DESCRIPTION, body, { crc: true, logPos: 256 });
  return fde;
}

function decodeAll(ctx: DecoderContext, events: Buffer[]): BinlogEvent[] {
  return events.map((e) => decodeEvent(e, ctx));
}

/** TABLE_MAP of db.t (id INT, name VARCHAR(20) utf8mb4, tag ENUM('a','b')) with FULL optional metadata. */
function tableMapEvent(tableId: number): Buffer {
  const enumMeta = [T.ENUM, 1];
  // prettier-ignore
  const optional = [
    1, 1, 0x00, // SIGNEDNESS: one numeric column, signed
    2, 1, 45, // DEFAULT_CHARSET utf8mb4_general_ci
    4, 12, ...lenStr('id'), ...lenStr('name'), ...lenStr('tag'), // COLUMN_NAME
    6, 5, 2, ...lenStr('a'), ...lenStr('b'), // ENUM_STR_VALUE
    8, 1, 0, // SIMPLE_PRIMARY_KEY: column 0
    10, 1, 45, // ENUM_AND_SET_DEFAULT_CHARSET
  ];
  const body = [
    ...u48(tableId),
    ...u16(1),
    ...lenStr('db'),
    0,
    ...lenStr('t'),
    0,
    3,
    T.LONG,
    T.VARCHAR,
    T.STRING,
    4, // metadata length
    ...u16(80),
    ...enumMeta,
    0b110, // nullable: name, tag
    ...optional,
  ];
  return event(E.TABLE_MAP, body);
}

function rowsBody(tableId: number, columns: number, images: number[][], extra?: number[]): number[] {
  const bitmap = [(1 << columns) - 1];
  return [...u48(tableId), ...u16(1), ...(extra ?? []), columns, ...bitmap, ...images.flat()];
}

describe('binlog event decoder', () => {
  it('reads the format description, strips checksums and decodes a MariaDB transaction', () => {
    const ctx = createDecoderContext();
    const row = (id: number, name: string | null, tag: number): number[] => [
      name === null ? 0b010 : 0,
      ...u32(id),
      ...(name === null ? [] : lenStr(name)),
      tag,
    ];
    const events = decodeAll(ctx, [
      event(E.ROTATE, [...u64(4n), ...str('mysql-bin.000001')], { crc: false, logPos: 0, flags: 0x20 }),
      formatDescription(1),
      event(E.MARIADB_GTID, [...u64(42n), ...u32(3), 0x0c, 0, 0, 0, 0, 0, 0]),
      tableMapEvent(77),
      event(E.WRITE_ROWS_V1, rowsBody(77, 3, [row(1, 'héllo', 1), row(2, null, 2)])),
      event(E.UPDATE_ROWS_V1, [...u48(77), ...u16(1), 3, 0b111, 0b111, ...row(1, 'héllo', 1), ...row(1, 'x', 2)]),
      event(E.DELETE_ROWS_V1, rowsBody(77, 3, [row(2, null, 2)])),
      event(E.XID, u64(99n)),
    ]);
    expect(events.map((e) => e.kind)).toEqual([
      'rotate',
      'formatDescription',
      'gtid',
      'tableMap',
      'rows',
      'rows',
      'rows',
      'xid',
    ]);
    expect(events[0]).toMatchObject({ nextFile: 'mysql-bin.000001', nextPos: 4, artificial: true });
    expect(events[1]).toMatchObject({ checksumAlg: 'crc32', binlogVersion: 4, serverVersion: '10.11.19-MariaDB-log' });
    expect(events[2]).toMatchObject({
      flavor: 'mariadb',
      domainId: 3,
      sequence: 42n,
      serverId: 1,
      standalone: false,
      gtid: '3-1-42',
    });
    expect(events[3]).toMatchObject({
      map: {
        tableId: 77,
        database: 'db',
        table: 't',
        columnNames: ['id', 'name', 'tag'],
        signedness: ['signed', undefined, undefined],
        charsets: [undefined, 45, 45],
        enumValues: [undefined, undefined, ['a', 'b']],
        primaryKey: [0],
        nullable: [false, true, true],
      },
    });
    expect(events[4]).toMatchObject({
      action: 'insert',
      database: 'db',
      table: 't',
      rows: [
        [1, 'héllo', 'a'],
        [2, null, 'b'],
      ],
      partial: false,
    });
    expect(events[5]).toMatchObject({
      action: 'update',
      rows: [
        [1, 'héllo', 'a'],
        [1, 'x', 'b'],
      ],
    });
    expect(events[6]).toMatchObject({ action: 'delete', rows: [[2, null, 'b']] });
    expect(events[7]).toMatchObject({ kind: 'xid', xid: 99n, header: { logPos: 1000, type: E.XID } });
    // A rows event whose image leaves a column out (binlog_row_image MINIMAL / NOBLOB): its bitmap is read, not
    // taken for a full one. The after image has id and tag only (its null bitmap covers those two).
    const [minimal] = decodeAll(ctx, [
      event(E.UPDATE_ROWS_V1, [...u48(77), ...u16(1), 3, 0b111, 0b101, ...row(1, 'x', 2), 0, ...u32(1), 1]),
    ]);
    expect(minimal).toMatchObject({
      action: 'update',
      rows: [
        [1, 'x', 'b'],
        [1, null, 'a'],
      ],
      partial: true,
    });
  });

  it('decodes v2 rows events (extra data) and MariaDB compressed rows events', () => {
    const ctx = createDecoderContext({ checksum: 'crc32', verifyChecksum: true });
    decodeEvent(tableMapEvent(5), ctx);
    const image = [0, ...u32(7), ...lenStr('z'), 2];
    const v2 = decodeEvent(event(E.WRITE_ROWS_V2, rowsBody(5, 3, [image], [...u16(4), 0xaa, 0xbb])), ctx);
    expect(v2).toMatchObject({ kind: 'rows', action: 'insert', rows: [[7, 'z', 'b']] });
    const raw = Buffer.from([...image, ...image]);
    const compressed = deflateSync(raw);
    const payload = [0x80 | 1, raw.length, ...compressed];
    const v1c = decodeEvent(event(E.WRITE_ROWS_COMPRESSED_V1, rowsBody(5, 3, [payload])), ctx);
    expect(v1c).toMatchObject({
      kind: 'rows',
      action: 'insert',
      rows: [
        [7, 'z', 'b'],
        [7, 'z', 'b'],
      ],
    });
  });

  it('asks columnsFor at the first rows event and honours includeTable', () => {
    const asked: string[] = [];
    const ctx = createDecoderContext({
      checksum: 'crc32',
      columnsFor: (db, table) => {
        asked.push(`${db}.${table}`);
        return [
          { type: { kind: 'int64' } },
          { type: { kind: 'string' }, charset: 'latin1' },
          { type: { kind: 'uint8' } },
        ];
      },
      includeTable: (_db, table) => table !== 'skipped',
    });
    decodeEvent(tableMapEvent(9), ctx);
    expect(asked).toEqual([]);
    const rows = decodeEvent(event(E.WRITE_ROWS_V1, rowsBody(9, 3, [[0, ...u32(1), ...lenStr('\u00e9'), 1]])), ctx);
    expect(asked).toEqual(['db.t']);
    // utf8 'é' read as latin1 shows both bytes: the given charset wins over the table map's
    expect(rows).toMatchObject({ rows: [[1n, 'Ã©', 1]] });
  });

  it('fails clearly on a rows event without its table map, a bad CRC and a size mismatch', () => {
    const ctx = createDecoderContext({ checksum: 'crc32', verifyChecksum: true });
    expect(() => decodeEvent(event(E.WRITE_ROWS_V1, rowsBody(123, 1, [[0, 1]])), ctx)).toThrow(/without its table map/);
    const bad = event(E.XID, u64(1n));
    bad[20] = bad[20]! ^ 1;
    expect(() => decodeEvent(bad, ctx)).toThrow(BinlogStreamError);
    expect(() => decodeEvent(bad, ctx)).toThrow(/CRC32/);
    const badTrailer = event(E.XID, u64(1n));
    badTrailer[badTrailer.length - 1] = badTrailer[badTrailer.length - 1]! ^ 0x80;
    expect(() => decodeEvent(badTrailer, ctx)).toThrow(/CRC32/);
    expect(() => decodeEvent(event(E.XID, u64(1n)).subarray(0, 25), ctx)).toThrow(/says 31 bytes but has 25/);
  });

  it('decodes queries (plain and compressed), heartbeats, checkpoints, GTID lists and MySQL GTIDs', () => {
    const ctx = createDecoderContext({ checksum: 'crc32' });
    const queryBody = (sql: number[]): number[] => [
      ...u32(12),
      ...u32(0),
      2,
      ...u16(0),
      ...u16(2),
      0xff,
      0xee,
      ...str('db'),
      0,
      ...sql,
    ];
    const sql = 'ALTER TABLE t ADD COLUMN c INT';
    const compressedSql = deflateSync(Buffer.from(sql));
    const uuid = Buffer.from('3e11fa47-71ca-11e1-9e33-c80aa9429562'.replace(/-/g, ''), 'hex');
    const events = decodeAll(ctx, [
      event(E.QUERY, queryBody(str(sql))),
      event(E.QUERY_COMPRESSED, queryBody([0x81, sql.length, ...compressedSql])),
      event(E.HEARTBEAT, str('mysql-bin.000007'), { crc: false, logPos: 4711 }),
      event(E.HEARTBEAT, str('mysql-bin.000007'), { crc: true, logPos: 4711 }),
      event(E.BINLOG_CHECKPOINT, [...u32(16), ...str('mysql-bin.000007')]),
      event(E.MARIADB_GTID_LIST, [...u32(2), ...u32(0), ...u32(1), ...u64(10n), ...u32(5), ...u32(2), ...u64(3n)]),
      event(E.GTID, [1, ...uuid, ...u64(23n), 2, ...u64(0n), ...u64(0n)]),
      event(E.PREVIOUS_GTIDS, [...u64(1n), ...uuid, ...u64(2n), ...u64(1n), ...u64(6n), ...u64(8n), ...u64(9n)]),
      event(E.ANNOTATE_ROWS, str('INSERT INTO t VALUES (1)')),
      event(E.MARIADB_GTID, [...u64(5n), ...u32(0), 0x03, ...u64(17n)]),
      event(E.INTVAR, [2, ...u64(5n)]),
      event(E.HEARTBEAT_V2, [1, ...lenStr('binlog.000042'), 2, 3, 0xfc, ...u16(4711)], { crc: true, logPos: 0 }),
      event(E.HEARTBEAT_V2, [1, 200, 1, 2], { crc: true, logPos: 99 }),
    ]);
    expect(events[0]).toMatchObject({ kind: 'query', database: 'db', sql, threadId: 12, errorCode: 0 });
    expect(events[1]).toMatchObject({ kind: 'query', sql });
    expect(events[2]).toMatchObject({ kind: 'heartbeat', logFile: 'mysql-bin.000007', logPos: 4711 });
    expect(events[3]).toMatchObject({ kind: 'heartbeat', logFile: 'mysql-bin.000007' });
    expect(events[4]).toMatchObject({ kind: 'mariadbBinlogCheckpoint', logFile: 'mysql-bin.000007' });
    expect(events[5]).toMatchObject({
      kind: 'gtidList',
      gtids: [
        { domainId: 0, serverId: 1, sequence: 10n },
        { domainId: 5, serverId: 2, sequence: 3n },
      ],
    });
    expect(events[6]).toMatchObject({
      kind: 'gtid',
      flavor: 'mysql',
      anonymous: false,
      gtid: '3e11fa47-71ca-11e1-9e33-c80aa9429562:23',
    });
    expect(events[7]).toMatchObject({ kind: 'previousGtids', gtidSet: '3e11fa47-71ca-11e1-9e33-c80aa9429562:1-5:8' });
    expect(events[8]).toMatchObject({ kind: 'annotateRows', sql: 'INSERT INTO t VALUES (1)' });
    expect(events[9]).toMatchObject({ kind: 'gtid', standalone: true, commitId: 17n, sequence: 5n });
    expect(events[10]).toMatchObject({ kind: 'other', type: E.INTVAR });
    expect(events[11]).toMatchObject({ kind: 'heartbeat', logFile: 'binlog.000042', logPos: 4711 });
    expect(events[12]).toMatchObject({ kind: 'heartbeat', logFile: '', logPos: 99 }); // malformed: header values
  });

  it('follows the checksum setting of each format description', () => {
    const ctx = createDecoderContext({ checksum: 'crc32' });
    decodeEvent(formatDescription(0), ctx);
    expect(ctx.checksum).toBe('none');
    expect(decodeEvent(event(E.XID, u64(5n), { crc: false }), ctx)).toMatchObject({ xid: 5n });
    decodeEvent(formatDescription(1), ctx);
    expect(decodeEvent(event(E.XID, u64(6n), { crc: true }), ctx)).toMatchObject({ xid: 6n });
  });
});

describe('binlog positions', () => {
  it('orders files by their numeric suffix, then by offset', () => {
    const sorted = [
      { file: 'mysql-bin.000010', pos: 4 },
      { file: 'mysql-bin.000009', pos: 900 },
      { file: 'mysql-bin.1000000', pos: 4 },
      { file: 'mysql-bin.000009', pos: 120 },
      { file: 'mysql-bin.999999', pos: 4 },
    ].sort(compareBinlogPositions);
    expect(sorted.map((p) => `${p.file}:${p.pos}`)).toEqual([
      'mysql-bin.000009:120',
      'mysql-bin.000009:900',
      'mysql-bin.000010:4',
      'mysql-bin.999999:4',
      'mysql-bin.1000000:4',
    ]);
  });
});
