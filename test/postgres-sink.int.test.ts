import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PostgresMergeWriter } from '../src/connectors/postgres/postgres-merge-writer.js';
import { postgresSink } from '../src/connectors/postgres/postgres-sink.js';
import { PostgresStagingTables } from '../src/connectors/postgres/postgres-staging-tables.js';
import { PostgresTargetTables } from '../src/connectors/postgres/postgres-target-tables.js';
import { dataChange, type ChangeOp, type SourceInfo } from '../src/core/change-event.js';
import type { Row } from '../src/core/data-type.js';
import type { OptionValues } from '../src/core/option-spec.js';
import type { Checkpoint, Sink } from '../src/core/sink.js';
import { tableId, type TableSchema } from '../src/core/table-schema.js';
import { createLogger } from '../src/runtime/logger.js';
import { canonicalText, normalizeText } from './harness/canonical-text.js';
import {
  freshPostgresDatabase,
  postgresUrl,
  tolerateDisconnects,
  uniqueName,
  type FreshPostgresDatabase,
} from './harness/databases.js';
import { readPostgresTable } from './harness/postgres-table-text.js';
import {
  allTypes,
  allTypesEmpty,
  allTypesFull,
  allTypesSpecial,
  caught,
  checkpoint,
  del,
  ins,
  manyTablesCheckpoint,
  schemaEvent,
  snapshotSource,
  student,
  studentChanges,
  studentLoad,
  upd,
  writeAndCommit,
} from './harness/sink-events.js';

const logLines: string[] = [];
const log = createLogger({ write: (line) => logLines.push(line), timestamps: false });
const createTable = schemaEvent;
const source = snapshotSource;

/** What `open` returns for a committed checkpoint (the time as PostgreSQL gives it back). */
const stored = (committed: Checkpoint): Checkpoint => ({
  ...committed,
  committedAt: new Date(committed.committedAt).toISOString(),
});

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
      const probe = tolerateDisconnects(
        new pg.Client({
          host: options.hostname,
          port: options.port,
          user: role,
          password: 'Wrong-Passw0rd',
          database: db.name,
        }),
      );
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
  it('asks for DELETE on the table of checkpoint chunks that someone else created', async () => {
    const role = uniqueName('limited');
    await db.query(`CREATE ROLE "${role}" LOGIN PASSWORD 'limited-pw'`);
    try {
      await db.query('CREATE SCHEMA cp_owned');
      await db.query(`GRANT USAGE, CREATE ON SCHEMA cp_owned TO "${role}"`);
      await db.query(
        'CREATE TABLE cp_owned.checkpoints (pipeline text PRIMARY KEY, checkpoint_id bigint NOT NULL, position jsonb NOT NULL, ' +
          'committed_at timestamptz NOT NULL, last_seq bigint, operators jsonb, bulk jsonb)',
      );
      await db.query(
        'CREATE TABLE cp_owned.checkpoints_chunks (pipeline text, chunk text, body text NOT NULL, PRIMARY KEY (pipeline, chunk))',
      );
      await db.query(`GRANT SELECT, INSERT, UPDATE ON cp_owned.checkpoints TO "${role}"`);
      await db.query(`GRANT SELECT, INSERT ON cp_owned.checkpoints_chunks TO "${role}"`);
      const url = new URL(db.url);
      const sink = open({
        url: '',
        hostname: url.hostname,
        port: Number(url.port),
        username: role,
        password: 'limited-pw',
        database: db.name,
        schema: 'cp_owned',
        'checkpoint.schema': 'cp_owned',
      });
      const error = await caught(sink.validate());
      await sink.close();
      expect(error.code).toBe('SINK_PRIVILEGES_MISSING');
      expect(error.message).toContain('cp_owned.checkpoints_chunks');
      expect(error.hint).toContain(`GRANT SELECT, INSERT, DELETE ON cp_owned.checkpoints_chunks TO "${role}"`);
    } finally {
      await db.query('DROP SCHEMA IF EXISTS cp_owned CASCADE');
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
    const sink = open();
    await sink.open('student');
    await writeAndCommit(sink, [createTable(student), ...studentLoad(student)], checkpoint('student', { pos: 100 }));
    await sink.close();
  });
  afterAll(async () => {
    for (const sink of sinks) await sink.close();
    await db.drop();
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

  it('ends at the last state per key when inserts replay existing keys or follow other changes in one commit', async () => {
    // Inserts of keys new to the target go straight in with COPY (both modes); these are the cases where that
    // must not change the result: a key that exists (a replay), a key deleted earlier in the same commit, rows
    // updated or deleted after they went in directly.
    const t: TableSchema = { ...student, id: tableId('', 'student_direct') };
    // A database of its own: the other tests count the checkpoint rows of this one.
    const own = await freshPostgresDatabase(`pgsink_direct_${mode}`);
    const sink = postgresSink({ url: own.url, 'write-mode': mode }, { log });
    await sink.open('student_direct');
    await writeAndCommit(
      sink,
      [createTable(t), ins(t, [1, 'a', 1, '1']), ins(t, [2, 'b', 2, '0'])],
      checkpoint('student_direct', { pos: 1 }),
    );
    // A key inserted, deleted and inserted again in one commit, the first time beside an update (so staged).
    await sink.write([ins(t, [7, 'g', 7, '0']), upd(t, [2, 'b', 2, '0'], [2, 'b1', 2, '0'])]);
    await sink.write([del(t, [7, 'g', 7, '0'])]);
    await sink.write([ins(t, [7, 'g2', 70, '1'])]);
    await sink.commit(checkpoint('student_direct', { pos: 2 }));
    // New rows, then changes to them, in one commit.
    await sink.write([ins(t, [4, 'd', 4, '0']), ins(t, [5, 'e', 5, '1'])]);
    await sink.write([upd(t, [4, 'd', 4, '0'], [4, 'd2', 40, '0'])]);
    await sink.write([del(t, [5, 'e', 5, '1'])]);
    await sink.write([ins(t, [6, 'f', 6, '1'])]);
    await sink.commit(checkpoint('student_direct', { pos: 3 }));
    // A replay of an existing key, and a key deleted then inserted again.
    await sink.write([ins(t, [1, 'a2', 10, '1'])]);
    await sink.write([del(t, [2, 'b1', 2, '0'])]);
    await sink.write([ins(t, [2, 'b2', 20, '1']), ins(t, [3, 'c', 3, '0'])]);
    await sink.commit(checkpoint('student_direct', { pos: 4 }));
    await sink.close();
    const rows = (
      await own.query<Record<string, unknown>>('SELECT id, name, score, sex FROM public.student_direct ORDER BY id')
    ).map((r) => Object.values(r));
    await own.drop();
    expect(rows).toEqual([
      [1, 'a2', 10, '1'],
      [2, 'b2', 20, '1'],
      [3, 'c', 3, '0'],
      [4, 'd2', 40, '0'],
      [6, 'f', 6, '1'],
      [7, 'g2', 70, '1'],
    ]);
  });

  it.runIf(mode === 'merge')('applies with DELETE + INSERT instead of MERGE before PostgreSQL 15', async () => {
    const old: TableSchema = { ...student, id: tableId('pg14', 'student') };
    const client = tolerateDisconnects(new pg.Client({ connectionString: db.url }));
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
    expect(rows.map((r) => r.pipeline)).toEqual(['student']);
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
    const all = allTypes;
    const sink = open();
    await sink.open('types');
    const changed = [allTypesFull[0]!, false, ...allTypesFull.slice(2)];
    await sink.write([
      createTable(all),
      change(all, 'insert', null, allTypesFull, 200),
      change(all, 'insert', null, allTypesEmpty, 201),
      change(all, 'insert', null, allTypesSpecial, 202),
      change(all, 'update', allTypesFull, changed, 203),
      change(all, 'update', allTypesSpecial, [...allTypesSpecial], 204),
      change(all, 'delete', allTypesEmpty, null, 205),
    ]);
    await sink.commit(checkpoint('types', { pos: 1 }));
    await sink.close();

    const changelog = (await readPostgresTable(db, tableId('Types Schema', 'All Types_changelog')))!;
    const rowsOf = (op: string) =>
      changelog.rows
        .filter((r) => r[changelog.columns.indexOf('_op')] === op)
        .map((r) =>
          all.columns.map((c) => {
            const value = r[changelog.columns.indexOf(c.name)] ?? null;
            return value === null ? null : normalizeText(value, c.type);
          }),
        );
    const text = (row: Row) => all.columns.map((c, i) => canonicalText(row[i] ?? null, c.type));
    expect(rowsOf('insert')).toEqual(expect.arrayContaining([allTypesFull, allTypesEmpty, allTypesSpecial].map(text)));
    expect(rowsOf('insert')).toHaveLength(3);
    // The delete's row is the deleted row.
    expect(rowsOf('delete')).toEqual([text(allTypesEmpty)]);

    const table = '"Types Schema"."All Types_changelog"';
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
      dec38: ['number', '-1234567890123456789012345678.1234567890'],
      dec7: ['number', '27.02'],
      f: ['number', String(Math.fround(0.1))],
      d: ['number', String(Math.PI)],
      ch: ['string', 'ab'],
      Select: ['string', 'tab\there\nnew line\r\\back\\slash 🦀 Grüße 北京'],
      txt: ['string', 'x'.repeat(100_000)],
      bin: ['string', '\\x00ff5c0a'],
      blob: ['string', '\\x' + Buffer.from(Array.from({ length: 300 }, (_, k) => k % 256)).toString('hex')],
      dt: ['string', '2024-02-29'],
      tm: ['string', '-838:59:59.000001'],
      ts: ['string', '2038-01-19 03:14:07.999999'],
      tstz: ['string', '1970-01-01 00:00:00.000001Z'],
      yr: ['number', '2155'],
      js: ['object', '{"a": [1.50, "x\\ty", 12345678901234567890, -9007199254740993], "b": 1}'],
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

  it('follows renames, type changes and table renames in the changelog, and keeps dropped columns with their history', async () => {
    const v1: TableSchema = {
      id: tableId('evolve', 'parts'),
      columns: [
        { name: 'id', type: { kind: 'int32' }, nullable: false },
        { name: 'name', type: { kind: 'varchar', length: 8 }, nullable: false },
        { name: 'qty', type: { kind: 'int16' }, nullable: true },
      ],
      primaryKey: ['id'],
    };
    const v2: TableSchema = {
      ...v1,
      columns: [
        v1.columns[0]!,
        { name: 'label', type: { kind: 'varchar', length: 64 }, nullable: false },
        { name: 'qty', type: { kind: 'int64' }, nullable: true },
      ],
    };
    const v3: TableSchema = { ...v2, columns: v2.columns.slice(0, 2) };
    const v4: TableSchema = { ...v3, id: tableId('evolve', 'parts2') };
    const sink = open({ 'append.table-suffix': '_log' });
    await sink.open('parts');
    await sink.write([
      createTable(v1),
      change(v1, 'insert', null, [1, 'one', 1], 400),
      createTable(v2, 'refreshTable', { renamedColumns: [{ from: 'name', to: 'label' }] }),
      change(v2, 'insert', null, [2, 'a longer label', 5_000_000_000n], 401),
      createTable(v3, 'dropColumn'),
      change(v3, 'insert', null, [3, 'three'], 402),
      { ...createTable(v4, 'renameTable'), table: v3.id },
      change(v4, 'delete', [3, 'three'], null, 403),
    ]);
    await sink.commit(checkpoint('parts', { pos: 1 }));
    await sink.close();
    expect(await db.query("SELECT to_regclass('evolve.parts_log') AS t")).toEqual([{ t: null }]);
    expect(
      await db.query('SELECT "_op" AS op, id, label, qty::text AS qty FROM evolve.parts2_log ORDER BY "_seq"'),
    ).toEqual([
      { op: 'insert', id: 1, label: 'one', qty: '1' },
      { op: 'insert', id: 2, label: 'a longer label', qty: '5000000000' },
      { op: 'insert', id: 3, label: 'three', qty: null },
      { op: 'delete', id: 3, label: 'three', qty: null },
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

describe('postgres sink: the checkpoint of many tables (issue 21)', () => {
  let db: FreshPostgresDatabase;
  const sinks: Sink[] = [];
  const open = (): Sink => {
    const sink = postgresSink({ url: db.url }, { log });
    sinks.push(sink);
    return sink;
  };
  beforeAll(async () => {
    db = await freshPostgresDatabase('pgsink_bulk');
  });
  afterAll(async () => {
    for (const sink of sinks) await sink.close();
    await db.drop();
  });

  it('reads a checkpoint row of an earlier release whole, and then writes its bulk as chunks, once', async () => {
    // The checkpoint table as the previous release made it: everything in the row, no `bulk`, no chunk table.
    await db.query('CREATE SCHEMA tributary');
    await db.query(
      'CREATE TABLE tributary.checkpoints (pipeline text PRIMARY KEY, checkpoint_id bigint NOT NULL, ' +
        'position jsonb NOT NULL, committed_at timestamptz NOT NULL, last_seq bigint, operators jsonb)',
    );
    const old = manyTablesCheckpoint('old', { tablesDone: 10 });
    await db.query('INSERT INTO tributary.checkpoints VALUES ($1, $2, $3, $4, NULL, $5)', [
      old.pipeline,
      old.id,
      JSON.stringify(old.position),
      old.committedAt,
      JSON.stringify(old.operators),
    ]);
    const sink = open();
    expect(await sink.open('old')).toEqual(stored(old));

    const next = manyTablesCheckpoint('old', { tablesDone: 20 });
    await sink.commit(next);
    await sink.close();
    const [row] = await db.query<{ position: Record<string, unknown>; size: number; chunks: number }>(
      'SELECT position, octet_length(position::text) + octet_length(operators::text) + octet_length(bulk::text) AS size, ' +
        "(SELECT count(*)::int FROM tributary.checkpoints_chunks WHERE pipeline = 'old') AS chunks " +
        "FROM tributary.checkpoints WHERE pipeline = 'old'",
    );
    // Small fields stay in the row, readable in SQL; the schema history is a marker there.
    expect(row?.position['binlog']).toEqual(next.position['binlog']);
    expect(row?.position['schemas']).toEqual({ $chunked: expect.any(Number) as number });
    expect(row?.size).toBeLessThan(4096);
    expect(row?.chunks).toBeGreaterThan(3);
    // The chunk table made by this release compresses its bodies with lz4 (cheaper than pglz for a SQL job's
    // megabytes of state per commit).
    const [column] = await db.query<{ compression: string }>(
      "SELECT attcompression::text AS compression FROM pg_attribute WHERE attrelid = 'tributary.checkpoints_chunks'::regclass AND attname = 'body'",
    );
    expect(column?.compression).toBe('l');
    const again = open();
    expect(await again.open('old')).toEqual(stored(next));
    await again.close();
  });

  it('rolls back the chunks of a commit that fails after writing them, and the next commit writes them again', async () => {
    const sink = open();
    await sink.open('rollback');
    const first = manyTablesCheckpoint('rollback', { tablesDone: 0 });
    await sink.commit(first);
    // A NUL in the head (jsonb refuses \u0000) fails the commit after its new chunks were inserted.
    const failing = manyTablesCheckpoint('rollback', { tablesDone: 500, comment: 'new' });
    const bad = { ...failing, position: { ...failing.position, serverUuid: 'nul\u0000' } };
    const error = await caught(sink.commit(bad));
    expect(error.code).toMatch(/^SINK_/);
    await sink.close();

    const again = open();
    expect(await again.open('rollback')).toEqual(stored(first));
    const good = { ...failing, id: failing.id + 1 };
    await again.commit(good);
    await again.close();
    const last = open();
    expect(await last.open('rollback')).toEqual(stored(good));
    await last.close();
  });
});
