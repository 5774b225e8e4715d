import { spawn, type ChildProcess } from 'node:child_process';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DuckDBDecimalValue, DuckDBInstance } from '@duckdb/node-api';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { duckdbSink } from '../src/connectors/duckdb/duckdb-sink.js';
import type { OptionValues } from '../src/core/option-spec.js';
import type { Sink } from '../src/core/sink.js';
import { tableId, type TableSchema } from '../src/core/table-schema.js';
import { createLogger } from '../src/runtime/logger.js';
import { allTypes, caught, checkpoint, ins, schemaEvent, student } from './harness/sink-events.js';
import { thrown } from './harness/thrown.js';
import { TributaryError } from '../src/core/errors.js';

const logLines: string[] = [];
const log = createLogger({ write: (line) => logLines.push(line), timestamps: false });

/** DuckDB values read back through the API, in the canonical representation they were written in. */
function canonical(value: unknown): unknown {
  if (value instanceof DuckDBDecimalValue) return value.toString();
  return value;
}

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

  beforeAll(async () => {
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

  it('sets DuckDB memory_limit from sink option memory-limit, and refuses a value that is not a memory size', async () => {
    // A file of its own: the setting belongs to the database instance, which every user of the file shares.
    const limited = join(dir, 'limited.duckdb');
    const sink = duckdbSink({ path: limited, 'memory-limit': '64 mb' }, { log });
    sinks.push(sink);
    await sink.open('limited');
    await sink.write([schemaEvent(student), ins(student, [1, 'student1', 65, '1'])]);
    await sink.commit(checkpoint('limited', { pos: 1 }));
    const instance = await DuckDBInstance.fromCache(limited);
    const connection = await instance.connect();
    const setting = (await connection.runAndReadAll("SELECT current_setting('memory_limit')")).getRows()[0]?.[0];
    connection.closeSync();
    instance.closeSync();
    await sink.close();
    expect(setting).toBe('64.0 MiB');
    for (const value of ['lots', '16 mb']) {
      const error = thrown(() => duckdbSink({ path: limited, 'memory-limit': value }, { log }), TributaryError);
      expect(error).toMatchObject({ code: 'CONFIG_INVALID', message: expect.stringContaining('memory-limit') });
    }
  });

  it('maps the canonical types to the DuckDB column types of docs/type-mapping.md', async () => {
    const sink = open();
    await sink.open('types');
    await sink.write([schemaEvent(allTypes)]);
    await sink.commit(checkpoint('types', { pos: 1 }));
    await sink.close();
    const types = await query(
      `SELECT column_name, data_type FROM duckdb_columns() WHERE schema_name = 'Types Schema' AND table_name = 'All Types' ORDER BY column_index`,
    );
    expect(Object.fromEntries(types)).toMatchObject({
      u8: 'UTINYINT',
      u64: 'UBIGINT',
      dec: 'VARCHAR',
      dec38: 'DECIMAL(38,10)',
      tm: 'INTERVAL',
      ts: 'TIMESTAMP',
      tstz: 'TIMESTAMP WITH TIME ZONE',
      js: 'JSON',
      bits: 'BIT',
      blob: 'BLOB',
    });
  });

  it('qualifies names with the catalog: a schema named like the file works', async () => {
    const t: TableSchema = { ...student, id: tableId('warehouse', 'student') };
    const sink = open();
    await sink.open('catalog');
    await sink.write([schemaEvent(t), ins(t, [1, 'a', 1, '1'])]);
    await sink.commit(checkpoint('catalog', { pos: 1 }));
    await sink.close();
    expect(await query('SELECT id, name FROM warehouse.warehouse.student')).toEqual([[1, 'a']]);
  });

  it('names table and column of a value of the wrong type, and keeps the checkpoint', async () => {
    const sink = open();
    const last = await sink.open('student');
    await sink.write([schemaEvent(student), ins(student, [10, 'ten', 'not a number', '1'])]);
    const error = await caught(sink.commit(checkpoint('student', { pos: 3000 })));
    expect(error.code).toBe('SINK_WRITE_FAILED');
    expect(error.retryable).toBe(false);
    expect(error.message).toContain('main.student.score');
    await sink.close();
    const reopened = open();
    expect(await reopened.open('student')).toEqual(last);
    await reopened.close();
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
    await sink.write([schemaEvent(student), ins(student, [1, 'a', 1, '1'])]);
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
    child.on('error', reject);
  });
  return child;
}
