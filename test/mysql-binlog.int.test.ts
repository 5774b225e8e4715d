import { createHash } from 'node:crypto';
import { createConnection, type Connection, type FieldPacket, type RowDataPacket } from 'mysql2/promise';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { DataType, Value } from '../src/core/data-type.js';
import { openBinlogStream, type BinlogStreamOptions } from '../src/connectors/mysql/protocol/binlog-client.js';
import type { BinlogEvent, RowsEvent } from '../src/connectors/mysql/protocol/binlog-event.js';
import { BinlogStreamError } from '../src/connectors/mysql/protocol/binlog-errors.js';
import { compareBinlogPositions, type BinlogPosition } from '../src/connectors/mysql/protocol/binlog-position.js';
import type { ColumnInfo } from '../src/connectors/mysql/protocol/canonical-types.js';
import { mysqlAdmin, mysqlUrl, tolerateDisconnects, uniqueName } from './harness/databases.js';

/** Every column type the decoder handles, with the canonical type and charset the source would pass. */
const COLUMNS: readonly { name: string; sql: string; info: ColumnInfo }[] = [
  { name: 'id', sql: 'INT NOT NULL PRIMARY KEY', info: { type: { kind: 'int32' } } },
  { name: 'ti', sql: 'TINYINT', info: { type: { kind: 'int8' } } },
  { name: 'tiu', sql: 'TINYINT UNSIGNED', info: { type: { kind: 'uint8' } } },
  { name: 'si', sql: 'SMALLINT', info: { type: { kind: 'int16' } } },
  { name: 'siu', sql: 'SMALLINT UNSIGNED', info: { type: { kind: 'uint16' } } },
  { name: 'mi', sql: 'MEDIUMINT', info: { type: { kind: 'int32' } } },
  { name: 'miu', sql: 'MEDIUMINT UNSIGNED', info: { type: { kind: 'int32' }, unsigned: true } },
  { name: 'i', sql: 'INT', info: { type: { kind: 'int32' } } },
  { name: 'iu', sql: 'INT UNSIGNED', info: { type: { kind: 'uint32' } } },
  { name: 'bi', sql: 'BIGINT', info: { type: { kind: 'int64' } } },
  { name: 'biu', sql: 'BIGINT UNSIGNED', info: { type: { kind: 'uint64' } } },
  { name: 'f', sql: 'FLOAT', info: { type: { kind: 'float' } } },
  { name: 'd', sql: 'DOUBLE', info: { type: { kind: 'double' } } },
  { name: 'dec1', sql: 'DECIMAL(10,2)', info: { type: { kind: 'decimal', precision: 10, scale: 2 } } },
  { name: 'dec2', sql: 'DECIMAL(65,30)', info: { type: { kind: 'decimal', precision: 65, scale: 30 } } },
  { name: 'dec3', sql: 'DECIMAL(10,0)', info: { type: { kind: 'decimal', precision: 10, scale: 0 } } },
  { name: 'dec4', sql: 'DECIMAL(5,5)', info: { type: { kind: 'decimal', precision: 5, scale: 5 } } },
  { name: 'y', sql: 'YEAR', info: { type: { kind: 'year' } } },
  { name: 'dt', sql: 'DATE', info: { type: { kind: 'date' } } },
  { name: 't0', sql: 'TIME', info: { type: { kind: 'time', precision: 0 } } },
  { name: 't2', sql: 'TIME(2)', info: { type: { kind: 'time', precision: 2 } } },
  { name: 't6', sql: 'TIME(6)', info: { type: { kind: 'time', precision: 6 } } },
  { name: 'dt0', sql: 'DATETIME', info: { type: { kind: 'timestamp', precision: 0 } } },
  { name: 'dt3', sql: 'DATETIME(3)', info: { type: { kind: 'timestamp', precision: 3 } } },
  { name: 'dt6', sql: 'DATETIME(6)', info: { type: { kind: 'timestamp', precision: 6 } } },
  { name: 'ts0', sql: 'TIMESTAMP NULL', info: { type: { kind: 'timestamptz', precision: 0 } } },
  { name: 'ts6', sql: 'TIMESTAMP(6) NULL', info: { type: { kind: 'timestamptz', precision: 6 } } },
  { name: 'c', sql: 'CHAR(10)', info: { type: { kind: 'char', length: 10 }, charset: 'utf8mb4' } },
  { name: 'c255', sql: 'CHAR(255)', info: { type: { kind: 'char', length: 255 }, charset: 'utf8mb4' } },
  { name: 'vc', sql: 'VARCHAR(100)', info: { type: { kind: 'varchar', length: 100 }, charset: 'utf8mb4' } },
  {
    name: 'vcl',
    sql: 'VARCHAR(20) CHARACTER SET latin1',
    info: { type: { kind: 'varchar', length: 20 }, charset: 'latin1' },
  },
  { name: 'txt', sql: 'TEXT', info: { type: { kind: 'string' }, charset: 'utf8mb4' } },
  { name: 'ltxt', sql: 'LONGTEXT', info: { type: { kind: 'string' }, charset: 'utf8mb4' } },
  { name: 'bn', sql: 'BINARY(4)', info: { type: { kind: 'binary', length: 4 }, charset: 'binary' } },
  { name: 'vb', sql: 'VARBINARY(20)', info: { type: { kind: 'varbinary', length: 20 }, charset: 'binary' } },
  { name: 'bl', sql: 'BLOB', info: { type: { kind: 'bytes' }, charset: 'binary' } },
  {
    name: 'e',
    sql: "ENUM('a','b','c')",
    info: { type: { kind: 'enum', values: ['a', 'b', 'c'] }, charset: 'utf8mb4' },
  },
  { name: 's', sql: "SET('x','y','z')", info: { type: { kind: 'set', values: ['x', 'y', 'z'] }, charset: 'utf8mb4' } },
  { name: 'b1', sql: 'BIT(1)', info: { type: { kind: 'bit', length: 1 } } },
  { name: 'b10', sql: 'BIT(10)', info: { type: { kind: 'bit', length: 10 } } },
  { name: 'b64', sql: 'BIT(64)', info: { type: { kind: 'bit', length: 64 } } },
  { name: 'j', sql: 'JSON', info: { type: { kind: 'json' }, charset: 'utf8mb4' } },
  { name: 'g', sql: 'GEOMETRY', info: { type: { kind: 'bytes' }, charset: 'binary' } },
];

const NAMES = COLUMNS.map((c) => c.name);
const NINES = (n: number): string => '9'.repeat(n);

/** Column → SQL literal; missing columns are NULL. Row 2 holds maximum values, row 3 minimum ones, row 4 edges. */
// prettier-ignore
const ROWS: Record<string, string>[] = [
  { id: '1' },
  {
    id: '2', ti: '127', tiu: '255', si: '32767', siu: '65535', mi: '8388607', miu: '16777215', i: '2147483647',
    iu: '4294967295', bi: '9223372036854775807', biu: '18446744073709551615', f: '3.40282e38', d: '1.7976931348623157e308',
    dec1: '99999999.99', dec2: `${NINES(35)}.${NINES(30)}`, dec3: '9999999999', dec4: '0.99999', y: '2155', dt: "'9999-12-31'",
    t0: "'838:59:59'", t2: "'838:59:59.99'", t6: "'838:59:59.000000'", dt0: "'9999-12-31 23:59:59'",
    dt3: "'9999-12-31 23:59:59.999'", dt6: "'9999-12-31 23:59:59.999999'", ts0: "'2038-01-19 03:14:07'",
    ts6: "'2038-01-19 03:14:07.999999'", c: "'héllo 😀'", c255: `'${'é'.repeat(255)}'`, vc: "'Grüße, 世界 🌍'",
    vcl: "_utf8mb4'€uro Ÿ ©'", txt: "'text\\nwith\\tcontrol \\\\ chars'", ltxt: "REPEAT('long ', 1000)", bn: "x'00ff0000'",
    vb: "x'000102ff00'", bl: "x'deadbeef00'", e: "'c'", s: "'x,y,z'", b1: "b'1'", b10: "b'1111111111'",
    b64: "b'1111111111111111111111111111111111111111111111111111111111111111'",
    j: '\'{"big": 12345678901234567890123, "pi": 3.141592653589793238, "arr": [1, "two", null, true]}\'',
    g: "ST_GeomFromText('POINT(1.5 -2.25)', 4326)",
  },
  {
    id: '3', ti: '-128', tiu: '0', si: '-32768', siu: '0', mi: '-8388608', miu: '0', i: '-2147483648', iu: '0',
    bi: '-9223372036854775808', biu: '0', f: '-1.17549e-38', d: '-2.2250738585072014e-308', dec1: '-99999999.99',
    dec2: `-${NINES(35)}.${NINES(30)}`, dec3: '-9999999999', dec4: '-0.99999', y: '1901', dt: "'1000-01-01'",
    t0: "'-838:59:59'", t2: "'-838:59:59.99'", t6: "'-838:59:59.000000'", dt0: "'1000-01-01 00:00:00'",
    dt3: "'1000-01-01 00:00:00.000'", dt6: "'1000-01-01 00:00:00.000000'", ts0: "'1970-01-01 00:00:01'",
    ts6: "'1970-01-01 00:00:01.000000'", c: "''", c255: "''", vc: "''", vcl: "''", txt: "''", ltxt: "''", bn: "''",
    vb: "''", bl: "''", e: "'a'", s: "''", b1: "b'0'", b10: "b'0'", b64: "b'0'", j: "'[]'",
    g: "ST_GeomFromText('LINESTRING(0 0, 1 1, 2 0)')",
  },
  {
    id: '4', ti: '0', tiu: '1', si: '-1', siu: '1', mi: '-1', miu: '1', i: '-1', iu: '1', bi: '-1', biu: '9007199254740993',
    f: '1.1', d: '0.1', dec1: '0.05', dec2: '0.000000000000000000000000000001', dec3: '0', dec4: '-0.00001', y: '0000',
    dt: "'2020-00-10'", t0: "'-00:00:01'", t2: "'-00:00:00.5'", t6: "'-00:00:01.000001'", dt0: "'0000-00-00 00:00:00'",
    dt3: "'2020-05-00 10:00:00.5'", dt6: "'2024-02-29 12:34:56.000001'", ts0: "'0000-00-00 00:00:00'",
    ts6: "'2024-02-29 23:59:59.5'", c: "'trailing  '", c255: "'x'", vc: "'  spaces  '", vcl: "'\\0nul'", txt: "'é'",
    ltxt: "'{\"not\": \"json\"}'", bn: "x'01'", vb: "x'00'", bl: "x'00'", e: "'invalid'", s: "'z,x'", b1: "b'1'",
    b10: "b'1000000001'", b64: "b'1000000000000000000000000000000000000000000000000000000000000001'",
    j: "'{\"nested\": {\"a\": [1.5, -0.0, 1e300]}, \"s\": \"quote\\\\\" and \\\\\\\\\"}'", g: "ST_GeomFromText('POINT(0 0)')",
  },
];

const ZERO_DATE = /^\d{4}-00-|^\d{4}-\d{2}-00|^0000-00-00/;

/** SELECT values (mysql2 with dateStrings, big numbers as strings, raw GEOMETRY) → canonical values. */
function canonicalFromSelect(type: DataType, value: unknown): Value {
  if (value === null) return null;
  switch (type.kind) {
    case 'int64':
    case 'uint64':
      return BigInt(value as string | number);
    case 'float':
      return Math.fround(Number(value));
    case 'bit': {
      const bytes = value as Buffer;
      const bits = [...bytes].map((b) => b.toString(2).padStart(8, '0')).join('');
      return bits.slice(bits.length - type.length);
    }
    case 'date':
    case 'timestamp':
      return ZERO_DATE.test(value as string) ? null : (value as string);
    case 'timestamptz':
      return ZERO_DATE.test(value as string) ? null : `${value as string}Z`;
    case 'binary':
    case 'varbinary':
    case 'bytes':
      return Buffer.from(value as Buffer);
    default:
      return value as Value;
  }
}

async function selectRows(connection: Connection, table: string): Promise<Value[][]> {
  const [rows] = await connection.query<RowDataPacket[]>({
    sql: `SELECT ${NAMES.map((n) => `\`${n}\``).join(', ')} FROM ${table} ORDER BY id`,
    rowsAsArray: true,
    typeCast: (field: FieldPacket & { buffer(): Buffer | null; type: string }, next: () => unknown) =>
      field.type === 'GEOMETRY' ? field.buffer() : next(),
  } as never);
  return (rows as unknown as unknown[][]).map((row) =>
    row.map((v, i) => canonicalFromSelect(COLUMNS[i]!.info.type, v)),
  );
}

async function currentPosition(connection: Connection): Promise<BinlogPosition> {
  const [rows] = await connection.query<RowDataPacket[]>('SHOW MASTER STATUS');
  return { file: String(rows[0]!['File']), pos: Number(rows[0]!['Position']) };
}

function connectionOptions(): Pick<BinlogStreamOptions, 'host' | 'port' | 'user' | 'password'> {
  const url = new URL(mysqlUrl());
  return {
    host: url.hostname,
    port: Number(url.port || 3306),
    user: decodeURIComponent(url.username),
    password: decodeURIComponent(url.password),
  };
}

let serverIds = 7000 + Math.floor(Math.random() * 1000);

/** Reads the binlog from `from` until an event ends at or after `to`; returns every event. */
async function readRange(
  from: BinlogPosition,
  to: BinlogPosition,
  options: Partial<BinlogStreamOptions> = {},
): Promise<BinlogEvent[]> {
  const stream = await openBinlogStream({
    ...connectionOptions(),
    serverId: serverIds++,
    file: from.file,
    position: from.pos,
    ...options,
  });
  const events: BinlogEvent[] = [];
  let file = from.file;
  for await (const batch of stream) {
    for (const event of batch) {
      events.push(event);
      if (event.kind === 'rotate') file = event.nextFile;
      else if (event.header.logPos > 0 && compareBinlogPositions({ file, pos: event.header.logPos }, to) >= 0) {
        await stream.close();
      }
    }
  }
  return events;
}

const rowsOf = (events: BinlogEvent[], table: string): RowsEvent[] =>
  events.filter((e): e is RowsEvent => e.kind === 'rows' && e.table === table);

describe('binlog reader against MariaDB', () => {
  let admin: Connection;
  let database: string;

  beforeAll(async () => {
    admin = await mysqlAdmin();
    database = uniqueName('binlog');
    await admin.query(`CREATE DATABASE ${database}`);
    await admin.query(`USE ${database}`);
    await admin.query("SET SESSION time_zone = '+00:00', SESSION sql_mode = ''");
  });

  afterAll(async () => {
    await admin?.query(`DROP DATABASE IF EXISTS ${database}`);
    await admin?.end();
  });

  it('decodes every column type to what SELECT returns, through inserts, updates and deletes', async () => {
    const table = 'all_types';
    await admin.query(`CREATE TABLE ${table} (${COLUMNS.map((c) => `\`${c.name}\` ${c.sql}`).join(', ')})`);
    const select = tolerateDisconnects(
      await createConnection({
        uri: mysqlUrl(),
        database,
        dateStrings: true,
        supportBigNumbers: true,
        bigNumberStrings: true,
        decimalNumbers: false,
        jsonStrings: true,
        charset: 'utf8mb4',
      }),
    );
    await select.query("SET SESSION time_zone = '+00:00'");
    try {
      const from = await currentPosition(admin);
      for (const row of ROWS) {
        const names = Object.keys(row);
        await admin.query(
          `INSERT INTO ${table} (${names.map((n) => `\`${n}\``).join(', ')}) VALUES (${names.map((n) => row[n]).join(', ')})`,
        );
      }
      const inserted = await selectRows(select, table);
      await admin.query(
        `UPDATE ${table} SET vc = CONCAT('upd-', id), bi = bi DIV 2, dec1 = -dec1, t6 = '-00:00:00.000001' WHERE id IN (2, 4)`,
      );
      const updated = await selectRows(select, table);
      await admin.query(`DELETE FROM ${table} WHERE id IN (1, 3)`);
      const to = await currentPosition(admin);

      const columns = COLUMNS.map((c) => c.info);
      for (const mode of ['given columns', 'derived from the table map'] as const) {
        const events = await readRange(
          from,
          to,
          mode === 'given columns'
            ? { columnsFor: (db, t) => (db === database && t === table ? columns : undefined) }
            : {},
        );
        const rows = rowsOf(events, table);
        // the server splits a statement's rows into events of about 8 KB
        const of = (action: RowsEvent['action']): Value[][] =>
          rows.filter((e) => e.action === action).flatMap((e) => e.rows);
        expect([...new Set(rows.map((e) => e.action))], mode).toEqual(['insert', 'update', 'delete']);
        expect(of('insert'), mode).toEqual(inserted);
        expect(of('update'), mode).toEqual([inserted[1], updated[1], inserted[3], updated[3]]);
        expect(of('delete'), mode).toEqual([updated[0], updated[2]]);
        expect(rows.every((e) => !e.partial)).toBe(true);
      }
      // spot checks of the representation itself, independent of the SELECT conversion
      const maxRow = inserted[1]!;
      expect(maxRow[NAMES.indexOf('biu')]).toBe(18446744073709551615n);
      expect(maxRow[NAMES.indexOf('dec2')]).toBe(`${NINES(35)}.${NINES(30)}`);
      expect(maxRow[NAMES.indexOf('t2')]).toBe('838:59:59.99');
      expect(maxRow[NAMES.indexOf('ts6')]).toBe('2038-01-19 03:14:07.999999Z');
      expect(maxRow[NAMES.indexOf('vcl')]).toBe('€uro Ÿ ©');
      expect(maxRow[NAMES.indexOf('bn')]).toEqual(Buffer.from([0, 0xff, 0, 0]));
      const edgeRow = inserted[3]!;
      expect(edgeRow[NAMES.indexOf('dt')]).toBeNull();
      expect(edgeRow[NAMES.indexOf('t2')]).toBe('-00:00:00.50');
      expect(edgeRow[NAMES.indexOf('dec4')]).toBe('-0.00001');
      expect(edgeRow[NAMES.indexOf('e')]).toBe('');
    } finally {
      await select.end();
    }
  });

  it('reassembles events larger than one 16 MB packet', async () => {
    const table = 'big_blobs';
    await admin.query(`CREATE TABLE ${table} (id INT PRIMARY KEY, a LONGBLOB, b LONGBLOB)`);
    const from = await currentPosition(admin);
    // one row of 20 MB (two 10 MB values), and one whose event is just over 2^24 - 1 bytes with its status byte
    await admin.query(
      `INSERT INTO ${table} VALUES (1, REPEAT(x'ABCD', 5 * 1024 * 1024), REPEAT('b', 10 * 1024 * 1024))`,
    );
    await admin.query(`INSERT INTO ${table} VALUES (2, REPEAT('z', 16777215 - 46), NULL)`);
    const to = await currentPosition(admin);
    const [expected] = await admin.query<RowDataPacket[]>(
      `SELECT id, MD5(a) AS a, MD5(b) AS b FROM ${table} ORDER BY id`,
    );
    const rows = rowsOf(await readRange(from, to), table).flatMap((e) => e.rows);
    const md5 = (v: Value): string | null =>
      v === null
        ? null
        : createHash('md5')
            .update(v as Uint8Array)
            .digest('hex');
    expect(rows.map((r) => ({ id: r[0], a: md5(r[1]!), b: md5(r[2]!) }))).toEqual(
      expected.map((r) => ({ id: r['id'] as number, a: r['a'] as string, b: r['b'] as string | null })),
    );
    expect((rows[0]![1] as Uint8Array).length).toBe(10 * 1024 * 1024);
  });

  it('keeps memory bounded for a large transaction read slowly, and loses nothing', async () => {
    const table = 'many_rows';
    await admin.query(`CREATE TABLE ${table} (id INT PRIMARY KEY, v VARCHAR(40))`);
    const from = await currentPosition(admin);
    await admin.query(`INSERT INTO ${table} SELECT seq, CONCAT('value-', seq) FROM seq_1_to_50000`);
    const to = await currentPosition(admin);
    const stream = await openBinlogStream({
      ...connectionOptions(),
      serverId: serverIds++,
      file: from.file,
      position: from.pos,
      maxQueuedEvents: 20,
      maxBatchEvents: 5,
    });
    let count = 0;
    let sum = 0;
    let file = from.file;
    for await (const batch of stream) {
      await new Promise((resolve) => setTimeout(resolve, 1));
      for (const event of batch) {
        if (event.kind === 'rotate') file = event.nextFile;
        if (event.kind === 'rows' && event.table === table) {
          count += event.rows.length;
          for (const row of event.rows) sum += row[0] as number;
        }
        if (event.header.logPos > 0 && compareBinlogPositions({ file, pos: event.header.logPos }, to) >= 0)
          await stream.close();
      }
    }
    expect(count).toBe(50000);
    expect(sum).toBe((50000 * 50001) / 2);
  });

  it('reports the end position and heartbeats on an idle stream', async () => {
    const at = await currentPosition(admin);
    const stream = await openBinlogStream({
      ...connectionOptions(),
      serverId: serverIds++,
      file: at.file,
      position: at.pos,
      heartbeatMs: 200,
    });
    const kinds: string[] = [];
    for await (const batch of stream) {
      kinds.push(...batch.map((e) => e.kind));
      if (kinds.includes('heartbeat')) break;
    }
    expect(kinds[0]).toBe('rotate');
    expect(kinds).toContain('heartbeat');
    expect(stream.position).toEqual(at);
  });

  it('classifies errors: unknown binlog file, bad password, nothing listening, no privilege, same server id', async () => {
    const missing = openBinlogStream({
      ...connectionOptions(),
      serverId: serverIds++,
      file: 'mysql-bin.999999',
      position: 4,
    });
    const stream = await missing;
    const error = await (async () => {
      try {
        for await (const _ of stream) {
          /* nothing arrives */
        }
      } catch (e) {
        return e;
      }
      return undefined;
    })();
    expect(error).toBeInstanceOf(BinlogStreamError);
    expect(error).toMatchObject({ code: 'SOURCE_BINLOG_PURGED', errno: 1236, retryable: false });

    await expect(
      openBinlogStream({ ...connectionOptions(), password: 'wrong', serverId: 1, file: 'x', position: 4 }),
    ).rejects.toMatchObject({
      code: 'SOURCE_AUTH_FAILED',
      errno: 1045,
    });
    await expect(
      openBinlogStream({ ...connectionOptions(), port: 1, serverId: 1, file: 'x', position: 4 }),
    ).rejects.toMatchObject({
      code: 'SOURCE_UNREACHABLE',
      retryable: true,
    });

    const user = uniqueName('nobinlog').slice(0, 32);
    await admin.query(`CREATE USER '${user}'@'%' IDENTIFIED BY 'pw1'`);
    await admin.query(`GRANT SELECT ON *.* TO '${user}'@'%'`);
    try {
      const limited = await openBinlogStream({
        ...connectionOptions(),
        user,
        password: 'pw1',
        serverId: serverIds++,
        file: 'x',
        position: 4,
      });
      await expect(limited[Symbol.asyncIterator]().next()).rejects.toMatchObject({ code: 'SOURCE_PRIVILEGES_MISSING' });
    } finally {
      await admin.query(`DROP USER '${user}'@'%'`);
    }

    const at = await currentPosition(admin);
    const serverId = serverIds++;
    const first = await openBinlogStream({
      ...connectionOptions(),
      serverId,
      file: at.file,
      position: at.pos,
      heartbeatMs: 200,
    });
    const iterator = first[Symbol.asyncIterator]();
    await iterator.next();
    const second = await openBinlogStream({ ...connectionOptions(), serverId, file: at.file, position: at.pos });
    const failure = await (async () => {
      try {
        for (let i = 0; i < 100; i++) await iterator.next();
      } catch (e) {
        return e;
      }
      return undefined;
    })();
    await second.close();
    expect(failure).toMatchObject({ code: 'SOURCE_SERVER_ID_CONFLICT', errno: 4052 });
  });
});
