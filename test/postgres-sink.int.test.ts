import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PostgresMergeWriter } from '../src/connectors/postgres/postgres-merge-writer.js';
import { postgresSink } from '../src/connectors/postgres/postgres-sink.js';
import { PostgresStagingTables } from '../src/connectors/postgres/postgres-staging-tables.js';
import { PostgresTargetTables } from '../src/connectors/postgres/postgres-target-tables.js';
import {
  dataChange,
  type ChangeEvent,
  type ChangeOp,
  type SchemaChangeEvent,
  type SourceInfo,
} from '../src/core/change-event.js';
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
/** What `open` returns for a committed checkpoint (the time as PostgreSQL gives it back). */
const stored = (committed: Checkpoint): Checkpoint => ({
  ...committed,
  committedAt: new Date(committed.committedAt).toISOString(),
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

/** Write, then commit: depending on the mode a bad value fails the one or the other. */
async function writeAndCommit(sink: Sink, events: readonly ChangeEvent[], committed: Checkpoint): Promise<void> {
  await sink.write(events);
  await sink.commit(committed);
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

/** /work/shared/scenarios/student: source.sql, then changes.sql, all inside one checkpoint interval. */
const studentLoad = (schema: TableSchema): ChangeEvent[] => [
  ins(schema, [1, 'student1', 65, '1']),
  ins(schema, [2, 'student2', 75, '0']),
  ins(schema, [3, 'student3', 85, '1']),
  ins(schema, [4, 'student4', 95, '0']),
];
const studentChanges = (schema: TableSchema): ChangeEvent[] => [
  upd(schema, [2, 'student2', 75, '0'], [2, 'student2', 75, '1']),
  upd(schema, [3, 'student3', 85, '1'], [3, 'student3', null, null]),
  upd(schema, [4, 'student4', 95, '0'], [4, 'student4', null, null]),
  ins(schema, [5, 'student5', 50, '1']),
  upd(schema, [5, 'student5', 50, '1'], [5, 'student5', 55, '1']),
  del(schema, [5, 'student5', 55, '1']),
  ins(schema, [6, 'student6', 60, '0']),
];
const studentAfterChanges = [
  [1, 'student1', 65, '1'],
  [2, 'student2', 75, '1'],
  [3, 'student3', null, null],
  [4, 'student4', null, null],
  [6, 'student6', 60, '0'],
];

/** Every canonical type, with extreme, empty and special values. */
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

/** The rows of `all` as PostgreSQL prints them (`::text`), in id order. */
const allAsText = [
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
];

/** The columns of `all` as text (timestamptz in UTC), for comparing exactly. */
const allColumnsAsText = all.columns
  .map((c) => (c.name === 'tstz' ? `("tstz" AT TIME ZONE 'UTC')::text AS "tstz"` : `"${c.name}"::text AS "${c.name}"`))
  .join(', ');

describe('postgres sink: connecting', () => {
  let db: FreshPostgresDatabase;
  const sinks: Sink[] = [];
  const open = (options: OptionValues = {}): Sink => {
    const sink = postgresSink({ url: db.url, ...options }, { log });
    sinks.push(sink);
    return sink;
  };

  beforeAll(async () => {
    db = await freshPostgresDatabase('pgconn');
  });
  afterAll(async () => {
    for (const sink of sinks) await sink.close();
    await db.drop();
  });

  it('validate() connects and reports the server version', async () => {
    const sink = open();
    await sink.validate();
    expect(logLines.some((l) => /connected to postgres@127\.0\.0\.1:\d+\/pgconn_\w+ \(PostgreSQL \d+/.test(l))).toBe(
      true,
    );
    await sink.close();
  });

  it('refuses write() and commit() before open()', async () => {
    const sink = open();
    expect((await caught(sink.write([createTable(student)]))).code).toBe('INTERNAL');
    expect((await caught(sink.commit(checkpoint('x', { pos: 1 })))).code).toBe('INTERNAL');
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
});

describe.each(['upsert', 'merge'] as const)('postgres sink, write-mode %s', (mode) => {
  let db: FreshPostgresDatabase;
  const sinks: Sink[] = [];
  const open = (options: OptionValues = {}): Sink => {
    const sink = postgresSink({ url: db.url, 'write-mode': mode, ...options }, { log });
    sinks.push(sink);
    return sink;
  };
  const rowsOf = async (table: string): Promise<unknown[][]> =>
    (
      await db.query<{ id: number; name: string | null; score: number | null; sex: string | null }>(
        `SELECT id, name, score, sex FROM ${table} ORDER BY id`,
      )
    ).map((r) => [r.id, r.name, r.score, r.sex]);
  const studentRows = (): Promise<unknown[][]> => rowsOf('public.student');

  beforeAll(async () => {
    db = await freshPostgresDatabase(`pgsink_${mode}`);
  });
  afterAll(async () => {
    for (const sink of sinks) await sink.close();
    await db.drop();
  });

  it('student scenario: several operations on one key within one checkpoint leave exactly the last state', async () => {
    const pipeline = 'student';
    const sink = open();
    expect(await sink.open(pipeline)).toBeNull();

    await sink.write([createTable(student), ...studentLoad(student)]);
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

    await sink.write(studentChanges(student));
    const second = checkpoint(pipeline, { file: 'mysql-bin.000001', pos: 900, gtid: 'a:1-7' });
    await sink.commit(second);
    expect(await studentRows()).toEqual(studentAfterChanges);
    await sink.close();

    const again = open();
    expect(await again.open(pipeline)).toEqual(stored(second));
    await again.close();
  });

  it('student scenario with every change in a batch of its own: the last state, visible only at the commit', async () => {
    const batches: TableSchema = { ...student, id: tableId('batches', 'student') };
    const sink = open();
    await sink.open('student-batches');
    await sink.write([createTable(batches)]);
    for (const event of studentLoad(batches)) await sink.write([event]);
    await sink.commit(checkpoint('student-batches', { pos: 1 }));
    for (const event of studentChanges(batches)) await sink.write([event]);
    expect(sink.pending()).toBe(7);
    // Nothing of the open transaction is visible before the commit.
    expect((await rowsOf('batches.student')).map((r) => r[0])).toEqual([1, 2, 3, 4]);
    await sink.commit(checkpoint('student-batches', { pos: 2 }));
    expect(await rowsOf('batches.student')).toEqual(studentAfterChanges);
    await sink.close();
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

  it('follows chains and swaps of primary keys within one checkpoint, in one batch or several', async () => {
    const keys: TableSchema = { ...student, id: tableId('keys', 'student') };
    const sink = open();
    await sink.open('keys');
    await sink.write([createTable(keys), ...studentLoad(keys)]);
    await sink.commit(checkpoint('keys', { pos: 1 }));
    const a: Row = [1, 'student1', 65, '1'];
    const b: Row = [2, 'student2', 75, '0'];
    const changes = [
      // swap keys 1 and 2 through 100
      upd(keys, a, [100, 'student1', 65, '1']),
      upd(keys, b, [1, 'student2', 75, '0']),
      upd(keys, [100, 'student1', 65, '1'], [2, 'student1', 65, '1']),
      // a chain 3 → 30 → 31, and 3 inserted again
      upd(keys, [3, 'student3', 85, '1'], [30, 'student3', 85, '1']),
      upd(keys, [30, 'student3', 85, '1'], [31, 'student3', 86, '1']),
      ins(keys, [3, 'new3', 1, '0']),
      // 4 → 40, then 40 deleted
      upd(keys, [4, 'student4', 95, '0'], [40, 'student4', 95, '0']),
      del(keys, [40, 'student4', 95, '0']),
    ];
    const expected = [
      [1, 'student2', 75, '0'],
      [2, 'student1', 65, '1'],
      [3, 'new3', 1, '0'],
      [31, 'student3', 86, '1'],
    ];
    await sink.write(changes);
    await sink.commit(checkpoint('keys', { pos: 2 }));
    expect(await rowsOf('keys.student')).toEqual(expected);

    // The same history again, from the initial rows, one change per batch.
    await sink.write([...expected.map((row) => del(keys, row)), ...studentLoad(keys).map((e) => e)]);
    await sink.commit(checkpoint('keys', { pos: 3 }));
    expect((await rowsOf('keys.student')).map((r) => r[0])).toEqual([1, 2, 3, 4]);
    for (const change of changes) await sink.write([change]);
    await sink.commit(checkpoint('keys', { pos: 4 }));
    expect(await rowsOf('keys.student')).toEqual(expected);
    await sink.close();
  });

  it('rolls back data and checkpoint together when a write or commit fails', async () => {
    const before = await studentRows();
    const sink = open();
    const last = await sink.open('student');
    expect(last).not.toBeNull();
    const error = await caught(
      writeAndCommit(
        sink,
        [
          createTable(student),
          ins(student, [7, 'student7', 70, '1']),
          upd(student, [1, 'student1', 65, '1'], [1, 'x'.repeat(33), 65, '1']),
        ],
        checkpoint('student', { pos: 2000 }),
      ),
    );
    expect(error.code).toBe('SINK_WRITE_FAILED');
    expect(error.retryable).toBe(false);
    expect(error.message).toContain('public.student');
    expect(error.message).toMatch(/22001/);
    // A failed sink refuses more work until it is re-opened (its transaction is gone).
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
    const sink = open();
    await sink.open('types');
    await sink.write([createTable(all), ins(all, full), ins(all, empty), ins(all, special)]);
    await sink.commit(checkpoint('types', { pos: 1 }));
    await sink.close();
    expect(await db.query(`SELECT ${allColumnsAsText} FROM "Types Schema"."All Types" ORDER BY id`)).toEqual(allAsText);
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
    const error = await caught(writeAndCommit(sink, [createTable(t3)], checkpoint('evolve', { pos: 2 })));
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
    const error = await caught(
      writeAndCommit(
        sink,
        [createTable(student), ins(student, [9, 'bad\u0000name', 1, '1'])],
        checkpoint('student', { pos: 3000 }),
      ),
    );
    expect(error.code).toBe('SINK_WRITE_FAILED');
    expect(error.message).toContain('public.student.name');
    await sink.close();
    const reopened = open();
    expect(await reopened.open('student')).toEqual(last);
    await reopened.close();
    expect((await studentRows()).map((r) => r[0])).not.toContain(9);
  });

  it.runIf(mode === 'merge')('applies with DELETE + INSERT instead of MERGE before PostgreSQL 15', async () => {
    const old: TableSchema = { ...student, id: tableId('pg14', 'student') };
    const client = new pg.Client({ connectionString: db.url });
    await client.connect();
    try {
      const tables = new PostgresTargetTables(client, 'public');
      const writer = new PostgresMergeWriter(client, tables, new PostgresStagingTables(client), 140_000);
      await client.query('BEGIN');
      await writer.write([createTable(old), ...studentLoad(old)]);
      await writer.flush();
      await client.query('COMMIT');
      await client.query('BEGIN');
      await writer.write(studentChanges(old));
      await writer.write([
        upd(old, [6, 'student6', 60, '0'], [60, 'student6', 60, '0']),
        del(old, [1, 'x', null, null]),
      ]);
      await writer.flush();
      await client.query('COMMIT');
    } finally {
      await client.end();
    }
    expect(await rowsOf('pg14.student')).toEqual([
      [2, 'student2', 75, '1'],
      [3, 'student3', null, null],
      [4, 'student4', null, null],
      [60, 'student6', 60, '0'],
    ]);
  });

  it('keeps one checkpoint row per pipeline in tributary.checkpoints, as jsonb', async () => {
    const rows = await db.query<{ pipeline: string; position: unknown; last_seq: unknown }>(
      'SELECT pipeline, position, last_seq FROM tributary.checkpoints ORDER BY pipeline',
    );
    expect(rows.map((r) => r.pipeline)).toEqual([
      'evolve',
      'keys',
      'order',
      'people',
      'student',
      'student-batches',
      'types',
    ]);
    expect(rows.find((r) => r.pipeline === 'student')?.position).toEqual({ pos: 2500 });
    expect(rows.every((r) => r.last_seq === null)).toBe(true);
  });
});

describe('postgres sink, write-mode append', () => {
  let db: FreshPostgresDatabase;
  const sinks: Sink[] = [];
  const open = (options: OptionValues = {}): Sink => {
    const sink = postgresSink({ url: db.url, 'write-mode': 'append', ...options }, { log });
    sinks.push(sink);
    return sink;
  };

  /** A binlog change: a unique, increasing position and a commit time, as the mysql source sends them. */
  const at = (n: number): SourceInfo => ({
    tsMs: Date.UTC(2026, 10, 21, 12, 0, n),
    position: `mysql-bin.000001:${String(1000 + n).padStart(12, '0')}:${String(0).padStart(10, '0')}`,
  });
  const change = (schema: TableSchema, op: ChangeOp, before: Row | null, after: Row | null, n?: number) =>
    dataChange(schema.id, op, before, after, n === undefined ? source : at(n));

  interface ChangelogRow {
    op: string;
    position: string | null;
    seq: string;
    commit_ts: string | null;
    ingest_ts: Date;
    id: number | null;
    name: string | null;
    score: number | null;
    sex: string | null;
    before: unknown;
  }
  const changelog = (table: string): Promise<ChangelogRow[]> =>
    db.query<ChangelogRow & Record<string, unknown>>(
      `SELECT "_op" AS op, "_position" AS position, "_seq"::text AS seq,
              to_char("_commit_ts" AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS') AS commit_ts,
              "_ingest_ts" AS ingest_ts, id, name, score, sex, "_before" AS before
         FROM ${table} ORDER BY "_seq"`,
    );
  const count = async (table: string): Promise<number> =>
    Number((await db.query<{ n: string }>(`SELECT count(*)::text AS n FROM ${table}`))[0]?.n);
  const lastSeq = async (pipeline: string): Promise<string | null | undefined> =>
    (
      await db.query<{ s: string | null }>(
        'SELECT last_seq::text AS s FROM tributary.checkpoints WHERE pipeline = $1',
        [pipeline],
      )
    )[0]?.s;

  beforeAll(async () => {
    db = await freshPostgresDatabase('pgsink_append');
  });
  afterAll(async () => {
    for (const sink of sinks) await sink.close();
    await db.drop();
  });

  it('records the student scenario change by change: op, position, sequence, commit time, row and before image', async () => {
    const sink = open();
    expect(await sink.open('student')).toBeNull();
    // The snapshot: reads, without position or commit time.
    await sink.write([createTable(student), ...studentLoad(student).map((e) => ({ ...e, op: 'read' as const }))]);
    await sink.commit(checkpoint('student', { pos: 1 }));
    await sink.write([
      change(student, 'update', [2, 'student2', 75, '0'], [2, 'student2', 75, '1'], 1),
      change(student, 'update', [3, 'student3', 85, '1'], [3, 'student3', null, null], 2),
      change(student, 'update', [4, 'student4', 95, '0'], [4, 'student4', null, null], 3),
      change(student, 'insert', null, [5, 'student5', 50, '1'], 4),
      change(student, 'update', [5, 'student5', 50, '1'], [5, 'student5', 55, '1'], 5),
      change(student, 'delete', [5, 'student5', 55, '1'], null, 6),
      change(student, 'insert', null, [6, 'student6', 60, '0'], 7),
    ]);
    await sink.commit(checkpoint('student', { pos: 2 }));
    await sink.close();

    const rows = await changelog('public.student_changelog');
    expect(rows.map((r) => [r.op, r.position, r.seq, r.commit_ts, r.id, r.name, r.score, r.sex, r.before])).toEqual([
      ['read', null, '1', null, 1, 'student1', 65, '1', null],
      ['read', null, '2', null, 2, 'student2', 75, '0', null],
      ['read', null, '3', null, 3, 'student3', 85, '1', null],
      ['read', null, '4', null, 4, 'student4', 95, '0', null],
      [
        'update',
        at(1).position,
        '5',
        '2026-11-21T12:00:01',
        2,
        'student2',
        75,
        '1',
        { id: 2, name: 'student2', score: 75, sex: '0' },
      ],
      [
        'update',
        at(2).position,
        '6',
        '2026-11-21T12:00:02',
        3,
        'student3',
        null,
        null,
        { id: 3, name: 'student3', score: 85, sex: '1' },
      ],
      [
        'update',
        at(3).position,
        '7',
        '2026-11-21T12:00:03',
        4,
        'student4',
        null,
        null,
        { id: 4, name: 'student4', score: 95, sex: '0' },
      ],
      ['insert', at(4).position, '8', '2026-11-21T12:00:04', 5, 'student5', 50, '1', null],
      [
        'update',
        at(5).position,
        '9',
        '2026-11-21T12:00:05',
        5,
        'student5',
        55,
        '1',
        { id: 5, name: 'student5', score: 50, sex: '1' },
      ],
      // A delete carries the row that was deleted.
      ['delete', at(6).position, '10', '2026-11-21T12:00:06', 5, 'student5', 55, '1', null],
      ['insert', at(7).position, '11', '2026-11-21T12:00:07', 6, 'student6', 60, '0', null],
    ]);
    expect(rows.every((r) => r.ingest_ts instanceof Date)).toBe(true);
    // Append mode writes the changelog only.
    expect(await db.query("SELECT to_regclass('public.student') AS t")).toEqual([{ t: null }]);
    expect(await lastSeq('student')).toBe('11');
  });

  it('records every change exactly once across a crash and a replay from the checkpoint', async () => {
    const items: TableSchema = { ...student, id: tableId('crash', 'items') };
    const events = Array.from({ length: 10 }, (_, i) =>
      change(items, 'insert', null, [i + 1, `row${i + 1}`, i, '1'], 100 + i),
    );

    const first = open();
    expect(await first.open('crash')).toBeNull();
    await first.write([createTable(items), ...events.slice(0, 4)]);
    const committed = checkpoint('crash', { after: 4 });
    await first.commit(committed);
    await first.write(events.slice(4, 7)); // written, never committed
    // kill -9 of the process: the server sees the connection drop and rolls the open transaction back.
    await db.query(
      "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = 'tributary' AND datname = current_database()",
    );
    await first.close();
    expect(await count('crash.items_changelog')).toBe(4);

    // A new process: open returns the checkpoint, the source replays what follows it.
    const second = open();
    expect(await second.open('crash')).toEqual(stored(committed));
    await second.write([createTable(items), ...events.slice(4)]);
    await second.commit(checkpoint('crash', { after: 10 }));
    await second.close();

    const rows = await changelog('crash.items_changelog');
    expect(rows).toHaveLength(events.length);
    expect(rows.map((r) => r.position)).toEqual(events.map((e) => e.source.position));
    expect(rows.map((r) => r.seq)).toEqual(events.map((_, i) => String(i + 1)));
    expect(await lastSeq('crash')).toBe('10');
  });

  it('refuses to record a source position twice, with a clear SINK_WRITE_FAILED, and keeps the checkpoint', async () => {
    const items: TableSchema = { ...student, id: tableId('crash', 'items') };
    const sink = open();
    const last = await sink.open('crash');
    const duplicate = change(items, 'insert', null, [3, 'row3', 2, '1'], 102);
    const error = await caught(
      writeAndCommit(
        sink,
        [createTable(items), change(items, 'insert', null, [11, 'row11', 10, '1'], 110), duplicate],
        checkpoint('crash', { after: 11 }),
      ),
    );
    expect(error.code).toBe('SINK_WRITE_FAILED');
    expect(error.retryable).toBe(false);
    expect(error.message).toContain('crash.items_changelog');
    expect(error.message).toContain('already in the changelog');
    expect(error.message).toContain(at(102).position);
    expect(error.hint).toContain('append.table-suffix');
    await sink.close();

    expect(await count('crash.items_changelog')).toBe(10);
    const reopened = open();
    expect(await reopened.open('crash')).toEqual(last);
    await reopened.close();
  });

  it('continues _seq after --reset above what the changelog holds', async () => {
    const items: TableSchema = { ...student, id: tableId('crash', 'items') };
    const sink = open();
    await sink.reset!('crash');
    expect(await sink.open('crash')).toBeNull();
    // A new snapshot after --reset appends its reads after the history.
    await sink.write([createTable(items), change(items, 'read', null, [1, 'row1', 0, '1'])]);
    await sink.commit(checkpoint('crash', { after: 'reset' }));
    await sink.close();
    const rows = await changelog('crash.items_changelog');
    expect(rows.map((r) => r.seq).slice(-2)).toEqual(['10', '11']);
    expect(rows.at(-1)?.op).toBe('read');
    expect(await lastSeq('crash')).toBe('11');
  });

  it('round-trips every canonical type exactly, and keeps an update’s before image as exact jsonb', async () => {
    const sink = open();
    await sink.open('types');
    const changed = [full[0]!, false, ...full.slice(2)];
    await sink.write([
      createTable(all),
      change(all, 'insert', null, full, 200),
      change(all, 'insert', null, empty, 201),
      change(all, 'insert', null, special, 202),
      change(all, 'update', full, changed, 203),
      change(all, 'update', special, [...special], 204),
      change(all, 'delete', empty, null, 205),
    ]);
    await sink.commit(checkpoint('types', { pos: 1 }));
    await sink.close();

    const table = '"Types Schema"."All Types_changelog"';
    expect(await db.query(`SELECT ${allColumnsAsText} FROM ${table} WHERE "_op" = 'insert' ORDER BY id`)).toEqual(
      allAsText,
    );
    // The delete's row is the deleted row.
    expect(await db.query(`SELECT ${allColumnsAsText} FROM ${table} WHERE "_op" = 'delete'`)).toEqual([allAsText[0]]);

    const before = async (seq: number): Promise<Record<string, [string, string | null]>> =>
      Object.fromEntries(
        (
          await db.query<{ key: string; type: string; value: string | null }>(
            `SELECT e.key, jsonb_typeof(b."_before" -> e.key) AS type, e.value
               FROM ${table} b, jsonb_each_text(b."_before") e WHERE b."_seq" = $1`,
            [seq],
          )
        ).map((r) => [r.key, [r.type, r.value]]),
      );
    expect(await before(4)).toEqual({
      id: ['number', '9223372036854775807'],
      bool: ['boolean', 'true'],
      i8: ['number', '-128'],
      u8: ['number', '255'],
      i16: ['number', '-32768'],
      u16: ['number', '65535'],
      i32: ['number', '-2147483648'],
      u32: ['number', '4294967295'],
      u64: ['number', '18446744073709551615'],
      dec: ['number', '-12345678901234567890123456789012345.123456789012345678901234567890'],
      f: ['number', String(Math.fround(0.1))],
      d: ['number', String(Math.PI)],
      ch: ['string', 'ab'],
      Select: ['string', 'tab\there\nnew line\r\\back\\slash 🦀 Grüße 北京'],
      txt: ['string', 'x'.repeat(100_000)],
      bin: ['string', '\\x00ff5c0a'],
      blob: ['string', '\\x' + Buffer.from(Array.from({ length: 300 }, (_, k) => k % 256)).toString('hex')],
      dt: ['string', '2024-02-29'],
      tm: ['string', '-838:59:59.000000'],
      ts: ['string', '2038-01-19 03:14:07.999999'],
      tstz: ['string', '1970-01-01 00:00:00.000001Z'],
      yr: ['number', '2155'],
      js: ['object', '{"a": [1.50, "x\\ty", 12345678901234567890], "b": 1}'],
      en: ['string', 'large'],
      st: ['string', 'a,c'],
      bits: ['string', '10101'],
    });
    const specialBefore = await before(5);
    expect(specialBefore['f']).toEqual(['string', 'NaN']);
    expect(specialBefore['d']).toEqual(['string', '-Infinity']);
    expect(specialBefore['bin']).toEqual(['string', '\\x']);
    expect(specialBefore['dec']).toEqual(['number', '0.000000000000000000000000000001']);
    expect(await db.query(`SELECT "_seq"::int AS seq FROM ${table} WHERE "_before" IS NOT NULL ORDER BY 1`)).toEqual([
      { seq: 4 },
      { seq: 5 },
    ]);
  });

  it('adds columns as the source gains them, and keeps the history through truncate and drop', async () => {
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
    const sink = open({ 'append.table-suffix': '_log' });
    await sink.open('evolve');
    await sink.write([
      createTable(t1),
      change(t1, 'insert', null, [1, 'one'], 300),
      createTable(t2, 'addColumn'),
      change(t2, 'insert', null, [2, 'two', '9.99'], 301),
      createTable(t2, 'truncateTable'),
      change(t2, 'insert', null, [3, 'three', '1.00'], 302),
      { ...createTable(t2), change: 'dropTable' },
    ]);
    await sink.commit(checkpoint('evolve', { pos: 1 }));
    expect(
      await db.query('SELECT "_op" AS op, id, name, price::text AS price FROM evolve.items_log ORDER BY "_seq"'),
    ).toEqual([
      { op: 'insert', id: 1, name: 'one', price: null },
      { op: 'insert', id: 2, name: 'two', price: '9.99' },
      { op: 'insert', id: 3, name: 'three', price: '1.00' },
    ]);

    // A source column with the name of a changelog column cannot be captured as it is.
    const clash: TableSchema = {
      id: tableId('evolve', 'clash'),
      columns: [
        { name: 'id', type: { kind: 'int32' }, nullable: false },
        { name: '_op', type: { kind: 'string' }, nullable: true },
      ],
      primaryKey: ['id'],
    };
    const error = await caught(writeAndCommit(sink, [createTable(clash)], checkpoint('evolve', { pos: 2 })));
    expect(error.code).toBe('SINK_SCHEMA_MISMATCH');
    expect(error.message).toContain('_op');
    expect(error.hint).toContain('projection');
    await sink.close();

    // A table of that name that is not a changelog is not written into.
    await db.query('CREATE TABLE evolve.other_log (id int PRIMARY KEY)');
    const other = open({ 'append.table-suffix': '_log' });
    await other.open('evolve');
    const mismatch = await caught(
      writeAndCommit(other, [createTable({ ...t1, id: tableId('evolve', 'other') })], checkpoint('evolve', { pos: 3 })),
    );
    expect(mismatch.code).toBe('SINK_SCHEMA_MISMATCH');
    expect(mismatch.message).toContain('evolve.other_log');
    expect(mismatch.message).toContain('not a changelog table');
    await other.close();
  });
});
