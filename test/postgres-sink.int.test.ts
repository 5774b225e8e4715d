import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { postgresSink } from '../src/connectors/postgres/postgres-sink.js';
import { dataChange, type ChangeEvent, type SchemaChangeEvent } from '../src/core/change-event.js';
import type { Row } from '../src/core/data-type.js';
import { TributaryError } from '../src/core/errors.js';
import type { OptionValues } from '../src/core/option-spec.js';
import type { Checkpoint, Sink } from '../src/core/sink.js';
import { tableId, type TableSchema } from '../src/core/table-schema.js';
import { createLogger } from '../src/runtime/logger.js';
import { freshPostgresDatabase, postgresUrl, uniqueName, type FreshPostgresDatabase } from './harness/databases.js';

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

describe('postgres sink', () => {
  let db: FreshPostgresDatabase;
  const sinks: Sink[] = [];
  const open = (options: OptionValues = {}): Sink => {
    const sink = postgresSink({ url: db.url, ...options }, { log });
    sinks.push(sink);
    return sink;
  };
  const studentRows = async (): Promise<unknown[][]> =>
    (
      await db.query<{ id: number; name: string | null; score: number | null; sex: string | null }>(
        'SELECT id, name, score, sex FROM public.student ORDER BY id',
      )
    ).map((r) => [r.id, r.name, r.score, r.sex]);

  beforeAll(async () => {
    db = await freshPostgresDatabase('pgsink');
  });
  afterAll(async () => {
    for (const sink of sinks) await sink.close();
    await db.drop();
  });

  it('validate() connects and reports the server version', async () => {
    const sink = open();
    await sink.validate();
    expect(logLines.some((l) => /connected to postgres@127\.0\.0\.1:\d+\/pgsink_\w+ \(PostgreSQL \d+/.test(l))).toBe(
      true,
    );
    await sink.close();
  });

  it('merges the student scenario: only the last state per key, checkpoint with the data', async () => {
    const pipeline = 'student';
    const sink = open();
    expect(await sink.open(pipeline)).toBeNull();

    await sink.write([
      createTable(student),
      ins(student, [1, 'student1', 65, '1']),
      ins(student, [2, 'student2', 75, '0']),
      ins(student, [3, 'student3', 85, '1']),
      ins(student, [4, 'student4', 95, '0']),
    ]);
    expect(sink.pending()).toBe(5);
    const first = checkpoint(pipeline, { file: 'mysql-bin.000001', pos: 100 });
    await sink.commit(first);
    expect(sink.pending()).toBe(0);
    expect(await studentRows()).toEqual([
      [1, 'student1', 65, '1'],
      [2, 'student2', 75, '0'],
      [3, 'student3', 85, '1'],
      [4, 'student4', 95, '0'],
    ]);

    // fixtures/scenarios/student/changes.sql, all inside one checkpoint interval.
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
    expect(await again.open(pipeline)).toEqual({ ...second, committedAt: new Date(second.committedAt).toISOString() });
    await again.close();
  });

  it('moves a row whose primary key changes', async () => {
    const sink = open();
    await sink.open('student');
    await sink.write([createTable(student), upd(student, [6, 'student6', 60, '0'], [60, 'student6', 61, '0'])]);
    await sink.commit(checkpoint('student', { pos: 1000 }));
    const rows = await studentRows();
    expect(rows.map((r) => r[0])).toEqual([1, 2, 3, 4, 60]);
    expect(rows[4]).toEqual([60, 'student6', 61, '0']);
    await sink.close();
  });

  it('rolls back data and checkpoint together when a commit fails', async () => {
    const before = await studentRows();
    const sink = open();
    const last = await sink.open('student');
    expect(last).not.toBeNull();
    await sink.write([
      createTable(student),
      ins(student, [7, 'student7', 70, '1']),
      upd(student, [1, 'student1', 65, '1'], [1, 'x'.repeat(33), 65, '1']),
    ]);
    const error = await caught(sink.commit(checkpoint('student', { pos: 2000 })));
    expect(error.code).toBe('SINK_WRITE_FAILED');
    expect(error.retryable).toBe(false);
    expect(error.message).toContain('public.student');
    expect(error.message).toMatch(/22001/);
    // A failed sink refuses more work until it is re-opened (its buffered events are gone).
    await expect(sink.write([ins(student, [8, 'a', 1, '1'])])).rejects.toThrow(/re-open/);
    await sink.close();

    expect(await studentRows()).toEqual(before);
    const reopened = open();
    expect(await reopened.open('student')).toEqual(last);
    await reopened.close();
  });

  it('reports a dropped connection as retryable, closes cleanly, and resumes from the checkpoint', async () => {
    const before = await studentRows();
    const sink = open();
    const last = await sink.open('student');
    await sink.write([createTable(student), ins(student, [8, 'student8', 80, '0'])]);
    await db.query(
      "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = 'tributary' AND datname = current_database()",
    );
    const error = await caught(sink.commit(checkpoint('student', { pos: 2500 })));
    expect(error.code).toBe('SINK_UNREACHABLE');
    expect(error.retryable).toBe(true);
    await sink.close();
    expect(await studentRows()).toEqual(before);

    // What the runtime does next: re-open, replay from the checkpoint, commit.
    const again = open();
    expect(await again.open('student')).toEqual(last);
    await again.write([createTable(student), ins(student, [8, 'student8', 80, '0'])]);
    await again.commit(checkpoint('student', { pos: 2500 }));
    await again.close();
    expect((await studentRows()).map((r) => r[0])).toContain(8);
    await db.query('DELETE FROM public.student WHERE id = 8');
  });

  it('round-trips every canonical type exactly', async () => {
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
        { name: 'dec', type: { kind: 'decimal', precision: 65, scale: 30 }, nullable: true },
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
      Math.fround(0.1),
      Math.PI,
      'ab',
      'tab\there\nnew line\r\\back\\slash 🦀 Grüße 北京',
      'x'.repeat(100_000),
      new Uint8Array([0, 0xff, 0x5c, 0x0a]),
      new Uint8Array(Array.from({ length: 300 }, (_, i) => i % 256)),
      '2024-02-29',
      '-838:59:59.000000',
      '2038-01-19 03:14:07.999999',
      '1970-01-01 00:00:00.000001Z',
      2155,
      '{"b":1,"a":[1.50,"x\\ty",12345678901234567890]}',
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

    const columns = all.columns
      .map((c) =>
        c.name === 'tstz' ? `("tstz" AT TIME ZONE 'UTC')::text AS "tstz"` : `"${c.name}"::text AS "${c.name}"`,
      )
      .join(', ');
    const rows = await db.query(`SELECT ${columns} FROM "Types Schema"."All Types" ORDER BY id`);
    expect(rows).toEqual([
      Object.fromEntries(all.columns.map((c, i) => [c.name, i === 0 ? '-9223372036854775808' : null])),
      Object.fromEntries(
        all.columns.map((c, i) => [
          c.name,
          [
            '1',
            'false',
            '0',
            '0',
            '0',
            '0',
            '0',
            '0',
            '0',
            '0.000000000000000000000000000001',
            'NaN',
            '-Infinity',
            '',
            '',
            '',
            '\\x',
            '\\x',
            '0001-01-01',
            '00:00:00',
            '0001-01-01 00:00:00',
            '9999-12-31 23:59:59.999999',
            '1901',
            '[]',
            'small',
            '',
            '00000',
          ][i],
        ]),
      ),
      Object.fromEntries(
        all.columns.map((c, i) => [
          c.name,
          [
            '9223372036854775807',
            'true',
            '-128',
            '255',
            '-32768',
            '65535',
            '-2147483648',
            '4294967295',
            '18446744073709551615',
            '-12345678901234567890123456789012345.123456789012345678901234567890',
            '0.1',
            '3.141592653589793',
            'ab', // char(3) pads with blanks; the cast to text removes them again
            'tab\there\nnew line\r\\back\\slash 🦀 Grüße 北京',
            'x'.repeat(100_000),
            '\\x00ff5c0a',
            '\\x' + Buffer.from(Array.from({ length: 300 }, (_, k) => k % 256)).toString('hex'),
            '2024-02-29',
            '-838:59:59',
            '2038-01-19 03:14:07.999999',
            '1970-01-01 00:00:00.000001',
            '2155',
            // jsonb: keys reordered and whitespace normalised, numbers kept exactly.
            '{"a": [1.50, "x\\ty", 12345678901234567890], "b": 1}',
            'large',
            'a,c',
            '10101',
          ][i],
        ]),
      ),
    ]);
  });

  it('quotes mixed-case and reserved names, and puts unqualified tables into `schema`', async () => {
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
    expect(await db.query('SELECT "user", "Line" FROM "Mart"."Order"')).toEqual([{ user: 1, Line: 1 }]);
  });

  it('adds a column in the same commit as the rows around it', async () => {
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
    expect(await db.query('SELECT id, name, price::text AS price FROM evolve.items ORDER BY id')).toEqual([
      { id: 1, name: 'one', price: '1.00' },
      { id: 2, name: 'two', price: '9.99' },
    ]);

    // A restart whose createTable names a column the existing table lacks is a schema mismatch.
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

  it('follows rename, type change, drop column, truncate and drop table', async () => {
    const v1: TableSchema = {
      id: tableId('evolve', 'people'),
      columns: [
        { name: 'id', type: { kind: 'int32' }, nullable: false },
        { name: 'nick', type: { kind: 'varchar', length: 8 }, nullable: false },
        { name: 'age', type: { kind: 'int16' }, nullable: true },
        { name: 'tmp', type: { kind: 'string' }, nullable: false },
      ],
      primaryKey: ['id'],
    };
    const v2: TableSchema = {
      ...v1,
      columns: [v1.columns[0]!, { ...v1.columns[1]!, name: 'handle' }, v1.columns[2]!, v1.columns[3]!],
    };
    const v3: TableSchema = {
      ...v2,
      columns: [
        v2.columns[0]!,
        { ...v2.columns[1]!, type: { kind: 'varchar', length: 64 } },
        v2.columns[2]!,
        v2.columns[3]!,
      ],
    };
    const v4: TableSchema = { ...v3, columns: v3.columns.slice(0, 3) };
    const sink = open();
    await sink.open('people');
    await sink.write([
      createTable(v1),
      ins(v1, [1, 'ann', 30, 'x']),
      createTable(v2, 'renameColumn'),
      createTable(v3, 'alterColumnType'),
      ins(v3, [2, 'a-much-longer-handle', 40, 'y']),
      createTable(v4, 'dropColumn'),
      ins(v4, [3, 'cy', null]),
    ]);
    await sink.commit(checkpoint('people', { pos: 1 }));
    expect(await db.query('SELECT * FROM evolve.people ORDER BY id')).toEqual([
      { id: 1, handle: 'ann', age: 30 },
      { id: 2, handle: 'a-much-longer-handle', age: 40 },
      { id: 3, handle: 'cy', age: null },
    ]);

    await sink.write([createTable(v4, 'truncateTable'), ins(v4, [4, 'dee', 1])]);
    await sink.commit(checkpoint('people', { pos: 2 }));
    expect(await db.query('SELECT id FROM evolve.people')).toEqual([{ id: 4 }]);

    await sink.write([{ ...createTable(v4), change: 'dropTable' }]);
    await sink.commit(checkpoint('people', { pos: 3 }));
    expect(await db.query("SELECT to_regclass('evolve.people') AS t")).toEqual([{ t: null }]);
    await sink.close();
  });

  it('refuses a NUL character with an error naming table and column, and keeps the checkpoint', async () => {
    const sink = open();
    const last = await sink.open('student');
    await sink.write([createTable(student), ins(student, [9, 'bad\u0000name', 1, '1'])]);
    const error = await caught(sink.commit(checkpoint('student', { pos: 3000 })));
    expect(error.code).toBe('SINK_WRITE_FAILED');
    expect(error.message).toContain('public.student.name');
    await sink.close();
    const reopened = open();
    expect(await reopened.open('student')).toEqual(last);
    await reopened.close();
    expect((await studentRows()).map((r) => r[0])).not.toContain(9);
  });

  it('reports a missing database and an unknown role with the fix, never the password', async () => {
    const url = new URL(postgresUrl());
    const base = { url: '', hostname: url.hostname, port: Number(url.port), password: 'Sup3r-Secret-pw' };

    const realPassword = decodeURIComponent(url.password);
    const missing = await caught(
      open({
        ...base,
        username: decodeURIComponent(url.username),
        password: realPassword,
        database: 'no_such_db_x',
      }).validate(),
    );
    expect(missing.code).toBe('SINK_DATABASE_MISSING');
    expect(missing.hint).toMatch(/`database`/);
    if (realPassword !== '') expect(missing.format()).not.toContain(realPassword);

    const role = await caught(open({ ...base, username: 'no_such_role_x', database: db.name }).validate());
    expect(role.code).toBe('SINK_AUTH_FAILED');
    expect(role.hint).toMatch(/`username`/);
    expect(role.format()).not.toContain('Sup3r-Secret-pw');

    const refused = await caught(
      open({ url: '', hostname: '127.0.0.1', port: 1, database: 'x', password: 'Sup3r-Secret-pw' }).validate(),
    );
    expect(refused.code).toBe('SINK_UNREACHABLE');
    expect(refused.retryable).toBe(true);
    expect(refused.hint).toMatch(/`hostname`/);
  });

  it('reports a wrong password as SINK_AUTH_FAILED without the password (on a server that checks passwords)', async (ctx) => {
    const role = uniqueName('pw_role');
    await db.query(`CREATE ROLE "${role}" LOGIN PASSWORD 'right-password'`);
    try {
      const url = new URL(db.url);
      const options = { url: '', hostname: url.hostname, port: Number(url.port), username: role, database: db.name };
      // The embedded test server trusts local connections; point TRIBUTARY_TEST_POSTGRES_URL at one that does not.
      const probe = new pg.Client({
        host: options.hostname,
        port: options.port,
        user: role,
        password: 'Wrong-Passw0rd',
        database: db.name,
      });
      const trusted = await probe.connect().then(
        () => true,
        () => false,
      );
      await probe.end().catch(() => undefined);
      if (trusted) ctx.skip();
      const error = await caught(open({ ...options, password: 'Wrong-Passw0rd' }).validate());
      expect(error.code).toBe('SINK_AUTH_FAILED');
      expect(error.hint).toMatch(/`password`/);
      expect(error.format()).not.toContain('Wrong-Passw0rd');
    } finally {
      await db.query(`DROP ROLE IF EXISTS "${role}"`);
    }
  });

  it('names the missing privilege and the GRANT that fixes it', async () => {
    const role = uniqueName('limited');
    await db.query(`CREATE ROLE "${role}" LOGIN PASSWORD 'limited-pw'`);
    try {
      const url = new URL(db.url);
      const sink = open({
        url: '',
        hostname: url.hostname,
        port: Number(url.port),
        username: role,
        password: 'limited-pw',
        database: db.name,
        schema: 'mart_missing',
        'checkpoint.schema': 'cp_missing',
      });
      const error = await caught(sink.validate());
      await sink.close();
      expect(error.code).toBe('SINK_PRIVILEGES_MISSING');
      expect(error.message).toContain('schema mart_missing does not exist');
      expect(error.hint).toContain('`schema`');
      expect(error.hint).toMatch(/GRANT CREATE ON DATABASE/);
    } finally {
      await db.query(`DROP ROLE IF EXISTS "${role}"`);
    }
  });

  it('keeps one checkpoint row per pipeline in tributary.checkpoints, as jsonb', async () => {
    const rows = await db.query<{ pipeline: string; position: unknown }>(
      'SELECT pipeline, position FROM tributary.checkpoints ORDER BY pipeline',
    );
    expect(rows.map((r) => r.pipeline)).toEqual(['evolve', 'order', 'people', 'student', 'types']);
    expect(rows.find((r) => r.pipeline === 'student')?.position).toEqual({ pos: 2500 });
  });
});
