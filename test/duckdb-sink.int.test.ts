import { spawn, type ChildProcess } from 'node:child_process';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  DuckDBBitValue,
  DuckDBBlobValue,
  DuckDBDateValue,
  DuckDBDecimalValue,
  DuckDBInstance,
  DuckDBIntervalValue,
  DuckDBTimestampTZValue,
  DuckDBTimestampValue,
} from '@duckdb/node-api';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { duckdbSink } from '../src/connectors/duckdb/duckdb-sink.js';
import { dataChange, type ChangeEvent, type SchemaChangeEvent } from '../src/core/change-event.js';
import type { Row } from '../src/core/data-type.js';
import { TributaryError } from '../src/core/errors.js';
import type { OptionValues } from '../src/core/option-spec.js';
import type { Checkpoint, Sink } from '../src/core/sink.js';
import { tableId, type TableSchema } from '../src/core/table-schema.js';
import { createLogger } from '../src/runtime/logger.js';

const source = { tsMs: 0 };
const logLines: string[] = [];
const log = createLogger({ write: (line) => logLines.push(line), timestamps: false });

const createTable = (schema: TableSchema, change: SchemaChangeEvent['change'] = 'createTable'): SchemaChangeEvent => ({
  kind: 'schema',
  table: schema.id,
  change,
  schema,
  source,
});
const ins = (schema: TableSchema, row: Row): ChangeEvent => dataChange(schema.id, 'insert', null, row, source);
const upd = (schema: TableSchema, before: Row, after: Row): ChangeEvent =>
  dataChange(schema.id, 'update', before, after, source);
const del = (schema: TableSchema, before: Row): ChangeEvent => dataChange(schema.id, 'delete', before, null, source);

let checkpointId = 0;
const checkpoint = (pipeline: string, position: Record<string, unknown>): Checkpoint => ({
  pipeline,
  id: ++checkpointId,
  position,
  committedAt: new Date().toISOString(),
});

async function caught(promise: Promise<unknown>): Promise<TributaryError> {
  try {
    await promise;
  } catch (error) {
    expect(error).toBeInstanceOf(TributaryError);
    return error as TributaryError;
  }
  throw new Error('expected a TributaryError');
}

/** DuckDB values read back through the API, in the canonical representation they were written in. */
function canonical(value: unknown): unknown {
  if (value instanceof DuckDBDecimalValue || value instanceof DuckDBDateValue || value instanceof DuckDBBitValue) {
    return value.toString();
  }
  if (value instanceof DuckDBTimestampValue) return value.toString();
  if (value instanceof DuckDBTimestampTZValue) return `${value.toString().replace(/\+00$/, '')}Z`;
  if (value instanceof DuckDBBlobValue) return new Uint8Array(value.bytes);
  if (value instanceof DuckDBIntervalValue) return { months: value.months, days: value.days, micros: value.micros };
  return value;
}

const student: TableSchema = {
  id: tableId('', 'student'),
  columns: [
    { name: 'id', type: { kind: 'int32' }, nullable: false },
    { name: 'name', type: { kind: 'varchar', length: 32 }, nullable: true },
    { name: 'score', type: { kind: 'int32' }, nullable: true },
    { name: 'sex', type: { kind: 'char', length: 1 }, nullable: true },
  ],
  primaryKey: ['id'],
};

describe('duckdb sink', () => {
  let dir: string;
  let path: string;
  const sinks: Sink[] = [];
  const open = (options: OptionValues = {}): Sink => {
    const sink = duckdbSink({ path, ...options }, { log });
    sinks.push(sink);
    return sink;
  };
  /** Reads through the DuckDB API on a connection of its own (the instance is shared with the sink's, if open). */
  const query = async (sql: string): Promise<unknown[][]> => {
    const instance = await DuckDBInstance.fromCache(path);
    const connection = await instance.connect();
    try {
      return (await connection.runAndReadAll(sql)).getRows().map((row) => row.map(canonical));
    } finally {
      connection.closeSync();
      instance.closeSync();
    }
  };
  const studentRows = (): Promise<unknown[][]> => query('SELECT id, name, score, sex FROM main.student ORDER BY id');

  beforeAll(async () => {
    DuckDBTimestampTZValue.timezoneOffsetInMinutes = 0;
    dir = await mkdtemp(join(tmpdir(), 'tributary-duckdb-'));
    path = join(dir, 'nested', 'warehouse.duckdb');
  });
  afterAll(async () => {
    for (const sink of sinks) await sink.close();
    await rm(dir, { recursive: true, force: true });
  });

  it('validate() creates nothing; open() creates file, directory and checkpoint table', async () => {
    const sink = open();
    await sink.validate();
    expect(logLines.some((l) => l.includes('will be created'))).toBe(true);
    expect(await sink.open('student')).toBeNull();
    expect(logLines.some((l) => /duckdb: opened .*warehouse\.duckdb \(DuckDB v1\.\d+/.test(l))).toBe(true);
    await sink.close();
    expect(
      await query("SELECT table_schema, table_name FROM information_schema.tables WHERE table_name = 'checkpoints'"),
    ).toEqual([['tributary', 'checkpoints']]);
  });

  it('merges the student scenario: only the last state per key, checkpoint with the data', async () => {
    const pipeline = 'student';
    const sink = open();
    expect(await sink.open(pipeline)).toBeNull();

    // /work/shared/scenarios/student/source.sql
    await sink.write([
      createTable(student),
      ins(student, [1, 'student1', 65, '1']),
      ins(student, [2, 'student2', 75, '0']),
      ins(student, [3, 'student3', 85, '1']),
      ins(student, [4, 'student4', 95, '0']),
    ]);
    expect(sink.pending()).toBe(5);
    await sink.commit(checkpoint(pipeline, { file: 'mysql-bin.000001', pos: 100 }));
    expect(sink.pending()).toBe(0);
    expect(await studentRows()).toEqual([
      [1, 'student1', 65, '1'],
      [2, 'student2', 75, '0'],
      [3, 'student3', 85, '1'],
      [4, 'student4', 95, '0'],
    ]);

    // changes.sql, all inside one checkpoint interval.
    await sink.write([
      upd(student, [2, 'student2', 75, '0'], [2, 'student2', 75, '1']),
      upd(student, [3, 'student3', 85, '1'], [3, 'student3', null, null]),
      upd(student, [4, 'student4', 95, '0'], [4, 'student4', null, null]),
      ins(student, [5, 'student5', 50, '1']),
      upd(student, [5, 'student5', 50, '1'], [5, 'student5', 55, '1']),
      del(student, [5, 'student5', 55, '1']),
      ins(student, [6, 'student6', 60, '0']),
    ]);
    const second = checkpoint(pipeline, { file: 'mysql-bin.000001', pos: 900, gtid: 'a:1-7' });
    await sink.commit(second);
    expect(await studentRows()).toEqual([
      [1, 'student1', 65, '1'],
      [2, 'student2', 75, '1'],
      [3, 'student3', null, null],
      [4, 'student4', null, null],
      [6, 'student6', 60, '0'],
    ]);
    await sink.close();

    const again = open();
    expect(await again.open(pipeline)).toEqual(second);
    await again.close();
  });

  it('applies inserts, updates, deletes and key changes of one commit, deleting and re-inserting keys', async () => {
    const t: TableSchema = {
      // The schema is named like the file (warehouse.duckdb → catalog `warehouse`): names must be fully qualified.
      id: tableId('warehouse', 'orders'),
      columns: [
        { name: 'region', type: { kind: 'varchar', length: 8 }, nullable: false },
        { name: 'id', type: { kind: 'int64' }, nullable: false },
        { name: 'amount', type: { kind: 'decimal', precision: 12, scale: 2 }, nullable: true },
      ],
      primaryKey: ['region', 'id'],
    };
    const sink = open();
    await sink.open('orders');
    await sink.write([createTable(t), ...[1n, 2n, 3n, 4n, 5n].map((id) => ins(t, ['eu', id, `${id}.00`]))]);
    await sink.commit(checkpoint('orders', { pos: 1 }));

    await sink.write([
      ins(t, ['us', 1n, '10.50']),
      upd(t, ['eu', 1n, '1.00'], ['eu', 1n, '1.01']), // plain update
      upd(t, ['eu', 2n, '2.00'], ['eu', 20n, '2.00']), // key change: 2 → 20
      upd(t, ['eu', 3n, '3.00'], ['eu', 2n, '3.00']), // another row takes the freed key 2
      del(t, ['eu', 4n, '4.00']),
      ins(t, ['eu', 4n, '4.44']), // deleted and inserted again: an update in the end
      ins(t, ['us', 2n, '1.00']),
      del(t, ['us', 2n, '1.00']), // inserted and deleted: never visible
      // A schema event splits the table's run: the key deleted before it is inserted again after it, in the
      // same transaction (DuckDB's eager constraint checks must accept this).
      del(t, ['eu', 5n, '5.00']),
      createTable(t, 'refreshTable'),
      ins(t, ['eu', 5n, '5.55']),
      upd(t, ['eu', 1n, '1.01'], ['eu', 1n, '1.02']),
    ]);
    await sink.commit(checkpoint('orders', { pos: 2 }));
    await sink.close();
    expect(await query('SELECT region, id, amount FROM warehouse.warehouse.orders ORDER BY region, id')).toEqual([
      ['eu', 1n, '1.02'],
      ['eu', 2n, '3.00'],
      ['eu', 4n, '4.44'],
      ['eu', 5n, '5.55'],
      ['eu', 20n, '2.00'],
      ['us', 1n, '10.50'],
    ]);
    const key = await query(
      "SELECT constraint_column_names FROM duckdb_constraints() WHERE table_name = 'orders' AND constraint_type = 'PRIMARY KEY'",
    );
    expect(key).toHaveLength(1);
  });

  it('rolls back data, DDL and checkpoint together when a commit fails', async () => {
    const before = await studentRows();
    const sink = open();
    const last = await sink.open('student');
    expect(last).not.toBeNull();
    const other: TableSchema = { ...student, id: tableId('rollback', 'created_in_failed_commit') };
    await sink.write([
      createTable(student),
      ins(student, [7, 'student7', 70, '1']),
      upd(student, [1, 'student1', 65, '1'], [1, 'changed', 65, '1']),
      createTable(other),
      ins(other, [1, 'x', 1, '1']),
      ins(student, [null, 'student8', 80, '1']), // a NULL key: DuckDB refuses it, the commit fails
    ]);
    const error = await caught(sink.commit(checkpoint('student', { pos: 2000 })));
    expect(error.code).toBe('SINK_WRITE_FAILED');
    expect(error.retryable).toBe(false);
    expect(error.message).toContain('main.student');
    expect(error.message).toMatch(/Constraint Error: NOT NULL/);
    // A failed sink refuses more work until it is re-opened (its buffered events are gone).
    await expect(sink.write([ins(student, [9, 'a', 1, '1'])])).rejects.toThrow(/re-open/);
    await sink.close();

    expect(await studentRows()).toEqual(before);
    expect(await query("SELECT * FROM duckdb_tables() WHERE table_name = 'created_in_failed_commit'")).toEqual([]);
    const reopened = open();
    expect(await reopened.open('student')).toEqual(last);
    await reopened.close();
  });

  it('round-trips every canonical type exactly, read back through the DuckDB API', async () => {
    const all: TableSchema = {
      id: tableId('Types Schema', 'All Types'),
      columns: [
        { name: 'id', type: { kind: 'int64' }, nullable: false },
        { name: 'bool', type: { kind: 'boolean' }, nullable: true },
        { name: 'i8', type: { kind: 'int8' }, nullable: true },
        { name: 'u8', type: { kind: 'uint8' }, nullable: true },
        { name: 'i16', type: { kind: 'int16' }, nullable: true },
        { name: 'u16', type: { kind: 'uint16' }, nullable: true },
        { name: 'i32', type: { kind: 'int32' }, nullable: true },
        { name: 'u32', type: { kind: 'uint32' }, nullable: true },
        { name: 'u64', type: { kind: 'uint64' }, nullable: true },
        { name: 'dec65', type: { kind: 'decimal', precision: 65, scale: 30 }, nullable: true },
        { name: 'dec38', type: { kind: 'decimal', precision: 38, scale: 10 }, nullable: true },
        { name: 'dec7', type: { kind: 'decimal', precision: 7, scale: 2 }, nullable: true },
        { name: 'f', type: { kind: 'float' }, nullable: true },
        { name: 'd', type: { kind: 'double' }, nullable: true },
        { name: 'ch', type: { kind: 'char', length: 3 }, nullable: true },
        { name: 'Select', type: { kind: 'varchar', length: 64 }, nullable: true },
        { name: 'txt', type: { kind: 'string' }, nullable: true },
        { name: 'bin', type: { kind: 'binary', length: 4 }, nullable: true },
        { name: 'blob', type: { kind: 'bytes' }, nullable: true },
        { name: 'dt', type: { kind: 'date' }, nullable: true },
        { name: 'tm', type: { kind: 'time', precision: 6 }, nullable: true },
        { name: 'ts', type: { kind: 'timestamp', precision: 6 }, nullable: true },
        { name: 'tstz', type: { kind: 'timestamptz', precision: 6 }, nullable: true },
        { name: 'yr', type: { kind: 'year' }, nullable: true },
        { name: 'js', type: { kind: 'json' }, nullable: true },
        { name: 'en', type: { kind: 'enum', values: ['small', 'large'] }, nullable: true },
        { name: 'st', type: { kind: 'set', values: ['a', 'b', 'c'] }, nullable: true },
        { name: 'bits', type: { kind: 'bit', length: 5 }, nullable: true },
      ],
      primaryKey: ['id'],
    };
    const blob = new Uint8Array(Array.from({ length: 300 }, (_, i) => i % 256));
    const full: Row = [
      9223372036854775807n,
      true,
      -128,
      255,
      -32768,
      65535,
      -2147483648,
      4294967295,
      18446744073709551615n,
      '-12345678901234567890123456789012345.123456789012345678901234567890',
      '-1234567890123456789012345678.1234567890',
      '27.02',
      Math.fround(0.1),
      Math.PI,
      'ab',
      'tab\there\nnew line\r\\back\\slash 🦀 Grüße 北京 nul:\u0000:',
      'x'.repeat(100_000),
      new Uint8Array([0, 0xff, 0x5c, 0x0a]),
      blob,
      '2024-02-29',
      '-838:59:59.000001',
      '2038-01-19 03:14:07.999999',
      '1970-01-01 00:00:00.000001Z',
      2155,
      '{"b":1,  "a":[1.50,"x\\ty",12345678901234567890]}',
      'large',
      'a,c',
      '10101',
    ];
    const empty: Row = [-9223372036854775808n, ...all.columns.slice(1).map(() => null)];
    const special: Row = [
      1n,
      false,
      0,
      0,
      0,
      0,
      0,
      0,
      0n,
      '0.000000000000000000000000000001',
      '0.0000000001',
      '-0.01',
      Number.NaN,
      Number.NEGATIVE_INFINITY,
      '',
      '',
      '',
      new Uint8Array([]),
      new Uint8Array([]),
      '0001-01-01',
      '00:00:00',
      '0001-01-01 00:00:00',
      '9999-12-31 23:59:59.999999Z',
      1901,
      '[]',
      'small',
      '',
      '00000',
    ];
    const sink = open();
    await sink.open('types');
    await sink.write([createTable(all), ins(all, full), ins(all, empty), ins(all, special)]);
    await sink.commit(checkpoint('types', { pos: 1 }));
    await sink.close();

    const columns = all.columns.map((c) => `"${c.name}"`).join(', ');
    const rows = await query(`SELECT ${columns} FROM "Types Schema"."All Types" ORDER BY id`);
    const interval = (micros: bigint) => ({ months: 0, days: 0, micros });
    const withTime = (row: Row, micros: bigint) =>
      row.map((value, i) => (all.columns[i]!.name === 'tm' ? interval(micros) : value));
    expect(rows[0]).toEqual(empty);
    expect(rows[1]).toEqual(withTime(special, 0n));
    expect(rows[2]).toEqual(withTime(full, -3_020_399_000_001n));

    const types = await query(
      `SELECT column_name, data_type FROM duckdb_columns() WHERE schema_name = 'Types Schema' AND table_name = 'All Types' ORDER BY column_index`,
    );
    expect(Object.fromEntries(types)).toMatchObject({
      u8: 'UTINYINT',
      u64: 'UBIGINT',
      dec65: 'VARCHAR',
      dec38: 'DECIMAL(38,10)',
      tm: 'INTERVAL',
      ts: 'TIMESTAMP',
      tstz: 'TIMESTAMP WITH TIME ZONE',
      js: 'JSON',
      bits: 'BIT',
      blob: 'BLOB',
    });
  });

  it('puts unqualified tables into `schema`, keeps reserved and mixed-case names', async () => {
    const order: TableSchema = {
      id: tableId('', 'Order'),
      columns: [
        { name: 'user', type: { kind: 'int32' }, nullable: false },
        { name: 'Line', type: { kind: 'int32' }, nullable: false },
      ],
      primaryKey: ['user', 'Line'],
    };
    const sink = open({ schema: 'Mart' });
    await sink.open('order');
    await sink.write([
      createTable(order),
      ins(order, [1, 1]),
      ins(order, [1, 2]),
      ins(order, [1, 1]),
      del(order, [1, 2]),
    ]);
    await sink.commit(checkpoint('order', { pos: 1 }));
    await sink.close();
    expect(await query('SELECT "user", "Line" FROM "Mart"."Order"')).toEqual([[1, 1]]);
  });

  it('adds a column in the same commit as the rows around it; a missing column on restart is a mismatch', async () => {
    const t1: TableSchema = {
      id: tableId('evolve', 'items'),
      columns: [
        { name: 'id', type: { kind: 'int32' }, nullable: false },
        { name: 'name', type: { kind: 'string' }, nullable: true },
      ],
      primaryKey: ['id'],
    };
    const t2: TableSchema = {
      ...t1,
      columns: [...t1.columns, { name: 'price', type: { kind: 'decimal', precision: 10, scale: 2 }, nullable: false }],
    };
    const sink = open();
    await sink.open('evolve');
    await sink.write([
      createTable(t1),
      ins(t1, [1, 'one']),
      createTable(t2, 'addColumn'),
      ins(t2, [2, 'two', '9.99']),
      upd(t2, [1, 'one', null], [1, 'one', '1.00']),
    ]);
    await sink.commit(checkpoint('evolve', { pos: 1 }));
    expect(await query('SELECT id, name, price FROM evolve.items ORDER BY id')).toEqual([
      [1, 'one', '1.00'],
      [2, 'two', '9.99'],
    ]);

    const t3: TableSchema = {
      ...t2,
      columns: [...t2.columns, { name: 'colour', type: { kind: 'string' }, nullable: true }],
    };
    await sink.write([createTable(t3)]);
    const error = await caught(sink.commit(checkpoint('evolve', { pos: 2 })));
    expect(error.code).toBe('SINK_SCHEMA_MISMATCH');
    expect(error.message).toContain('evolve.items');
    expect(error.message).toContain('colour');
    await sink.close();
  });

  it('names table and column of a value of the wrong type, and keeps the checkpoint', async () => {
    const sink = open();
    const last = await sink.open('student');
    await sink.write([createTable(student), ins(student, [10, 'ten', 'not a number', '1'])]);
    const error = await caught(sink.commit(checkpoint('student', { pos: 3000 })));
    expect(error.code).toBe('SINK_WRITE_FAILED');
    expect(error.retryable).toBe(false);
    expect(error.message).toContain('main.student.score');
    await sink.close();
    const reopened = open();
    expect(await reopened.open('student')).toEqual(last);
    await reopened.close();
  });

  it('reset() forgets the checkpoint and keeps the rows', async () => {
    const rows = await studentRows();
    const sink = open();
    await sink.reset!('student');
    expect(await sink.open('student')).toBeNull();
    await sink.close();
    expect(await studentRows()).toEqual(rows);
    expect(await query('SELECT pipeline FROM tributary.checkpoints ORDER BY pipeline')).toEqual([
      ['evolve'],
      ['order'],
      ['orders'],
      ['types'],
    ]);
  });

  it('reports a file locked by another process as SINK_UNREACHABLE (retryable) with the fix', async () => {
    const locked = join(dir, 'locked.duckdb');
    const holder = await holdDuckdbFile(locked);
    try {
      for (const action of [(s: Sink) => s.validate(), (s: Sink) => s.open('x')]) {
        const error = await caught(action(open({ path: locked })));
        expect(error.code).toBe('SINK_UNREACHABLE');
        expect(error.retryable).toBe(true);
        expect(error.message).toContain(locked);
        expect(error.hint).toMatch(/another process/);
        expect(error.hint).toContain('`path`');
      }
    } finally {
      holder.kill();
    }
  });

  it('refuses a file that is not a DuckDB database, and a directory, without retrying', async () => {
    const foreign = join(dir, 'notes.txt');
    await writeFile(foreign, 'not a database, just some text');
    const notDuckdb = await caught(open({ path: foreign }).open('x'));
    expect(notDuckdb.code).toBe('SINK_UNREACHABLE');
    expect(notDuckdb.retryable).toBe(false);
    expect(notDuckdb.message).toContain('is not a DuckDB database file');

    const folder = join(dir, 'a-folder');
    await mkdir(folder);
    const directory = await caught(open({ path: folder }).validate());
    expect(directory.code).toBe('SINK_UNREACHABLE');
    expect(directory.retryable).toBe(false);
    expect(directory.hint).toContain('`path`');
  });

  it('keeps everything in memory with path :memory:', async () => {
    const sink = duckdbSink({ path: ':memory:' }, { log });
    expect(await sink.open('mem')).toBeNull();
    await sink.write([createTable(student), ins(student, [1, 'a', 1, '1'])]);
    await sink.commit(checkpoint('mem', { pos: 1 }));
    expect(await sink.open('mem')).toMatchObject({ position: { pos: 1 } });
    await sink.close();
  });
});

/** A child process that opens `path` read-write with DuckDB and keeps it open (and locked) until killed. */
async function holdDuckdbFile(path: string): Promise<ChildProcess> {
  const script =
    "const { DuckDBInstance } = require('@duckdb/node-api');" +
    'DuckDBInstance.create(process.argv[1]).then(async (db) => { await (await db.connect()).run("CREATE TABLE IF NOT EXISTS t (x INTEGER)"); console.log("ready"); setInterval(() => {}, 1000); });';
  const child = spawn(process.execPath, ['-e', script, path], { stdio: ['ignore', 'pipe', 'inherit'] });
  await new Promise<void>((resolve, reject) => {
    child.stdout.on('data', (data: Buffer) => {
      if (data.toString().includes('ready')) resolve();
    });
    child.on('exit', (code) => reject(new Error(`the lock holder exited with ${String(code)}`)));
  });
  return child;
}
