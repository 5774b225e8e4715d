import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { postgresSink } from '../src/connectors/postgres/postgres-sink.js';
import { dataChange, type ChangeEvent } from '../src/core/change-event.js';
import type { Row } from '../src/core/data-type.js';
import type { Checkpoint, Sink } from '../src/core/sink.js';
import { tableId, type TableSchema } from '../src/core/table-schema.js';
import { createLogger } from '../src/runtime/logger.js';
import { freshPostgresDatabase, type FreshPostgresDatabase } from './harness/databases.js';
import { caught, checkpoint, del, ins, schemaEvent, snapshotSource, upd } from './harness/sink-events.js';

/**
 * Write mode `upsert` COPYs a batch of only reads and inserts straight into the target, inside a savepoint, and
 * falls back to staging + ON CONFLICT when a key exists already. The target must end up exactly as the upsert
 * path would leave it, and a rolled-back transaction must leave nothing of a direct COPY behind.
 */
describe('postgres sink, write-mode upsert: direct COPY of new rows', () => {
  let db: FreshPostgresDatabase;
  const sinks: Sink[] = [];
  const log = createLogger({ write: () => undefined, timestamps: false });
  const open = async (pipeline: string): Promise<Sink & { readonly last: Checkpoint | null }> => {
    const sink = postgresSink({ url: db.url }, { log });
    sinks.push(sink);
    return Object.assign(sink, { last: await sink.open(pipeline) });
  };
  const table = (name: string): TableSchema => ({
    id: tableId('direct', name),
    columns: [
      { name: 'id', type: { kind: 'int64' }, nullable: false },
      { name: 'name', type: { kind: 'varchar', length: 32 }, nullable: true },
      { name: 'n', type: { kind: 'int32' }, nullable: true },
    ],
    primaryKey: ['id'],
  });
  const read = (schema: TableSchema, row: Row): ChangeEvent => dataChange(schema.id, 'read', null, row, snapshotSource);
  const rows = async (schema: TableSchema): Promise<unknown[][]> =>
    (
      await db.query<{ id: string; name: string | null; n: number | null }>(
        `SELECT id, name, n FROM direct."${schema.id.name}" ORDER BY id`,
      )
    ).map((r) => [Number(r.id), r.name, r.n]);
  const range = (from: number, to: number, name: string): Row[] =>
    Array.from({ length: to - from + 1 }, (_, i) => [BigInt(from + i), `${name}${from + i}`, from + i]);
  const expected = (from: number, to: number, name: string): unknown[][] =>
    range(from, to, name).map((r) => [Number(r[0]), r[1], r[2]]);

  /** A sink on pipeline `name` whose table `direct.<name>` holds rows 1–3 (`a1`…), committed as `committed`. */
  const withThreeRows = async (name: string) => {
    const t = table(name);
    const sink = await open(name);
    const committed = checkpoint(name, { pos: 1 });
    await sink.write([schemaEvent(t), ...range(1, 3, 'a').map((r) => ins(t, r))]);
    await sink.commit(committed);
    return { t, sink, committed };
  };

  beforeAll(async () => {
    db = await freshPostgresDatabase('pgdirect');
  });
  afterAll(async () => {
    for (const sink of sinks) await sink.close();
    await db.drop();
  });

  it('loads snapshot reads over rows the target holds already: the batch wins, other rows stay', async () => {
    const t = table('prefilled');
    const sink = await open('prefilled');
    await sink.write([schemaEvent(t)]);
    await sink.commit(checkpoint('prefilled', { pos: 0 }));
    await db.query(`INSERT INTO direct.prefilled SELECT g, 'old' || g, -g FROM generate_series(5, 14) g`);

    // Chunk 1 overlaps the pre-filled rows (the direct COPY conflicts and falls back); chunks 2–4 are new to
    // the target, and go by the upsert path while the table's conflict is remembered, or directly after.
    await sink.write(range(1, 10, 'r').map((r) => read(t, r)));
    for (let chunk = 1; chunk < 4; chunk++)
      await sink.write(range(chunk * 10 + 1, chunk * 10 + 10, 'r').map((r) => read(t, r)));
    await sink.commit(checkpoint('prefilled', { pos: 1 }));
    expect(await rows(t)).toEqual(expected(1, 40, 'r'));
  });

  it('falls back when a key of an insert-only batch exists, keeping the transaction’s earlier batches', async () => {
    const t = table('conflict');
    const sink = await open('conflict');
    await sink.write([schemaEvent(t), ...range(1, 5, 'a').map((r) => ins(t, r))]);
    await sink.commit(checkpoint('conflict', { pos: 1 }));

    // In one transaction: a batch of new keys (direct), then a batch that deletes and re-inserts key 3 (collapsed
    // to an insert of a key the target holds: the direct COPY conflicts), deletes key 1 and inserts keys 6–8.
    await sink.write(range(10, 12, 'b').map((r) => ins(t, r)));
    await sink.write([
      del(t, [3n, 'a3', 3]),
      ins(t, [3n, 'again3', 33]),
      del(t, [1n, 'a1', 1]),
      ...range(6, 8, 'c').map((r) => ins(t, r)),
    ]);
    await sink.commit(checkpoint('conflict', { pos: 2 }));
    expect(await rows(t)).toEqual([
      [2, 'a2', 2],
      [3, 'again3', 33],
      [4, 'a4', 4],
      [5, 'a5', 5],
      ...expected(6, 8, 'c'),
      ...expected(10, 12, 'b'),
    ]);

    // Later batches of the table keep working, directly or not, with updates in between.
    await sink.write([...range(20, 22, 'd').map((r) => ins(t, r)), upd(t, [2n, 'a2', 2], [2n, 'u2', 22])]);
    await sink.write(range(23, 25, 'd').map((r) => ins(t, r)));
    await sink.commit(checkpoint('conflict', { pos: 3 }));
    expect((await rows(t)).filter((r) => Number(r[0]) >= 20 || r[0] === 2)).toEqual([
      [2, 'u2', 22],
      ...expected(20, 25, 'd'),
    ]);
  });

  it('leaves nothing of a direct COPY when the transaction does not commit', async () => {
    const { t, sink, committed } = await withThreeRows('crash');
    await sink.write(range(4, 100, 'b').map((r) => read(t, r)));
    await sink.close(); // a crash before the commit

    const again = await open('crash');
    expect(again.last?.id).toBe(committed.id);
    expect(await rows(t)).toEqual(expected(1, 3, 'a'));
    await again.write([schemaEvent(t), ...range(4, 100, 'b').map((r) => read(t, r))]);
    await again.commit(checkpoint('crash', { pos: 2 }));
    expect(await rows(t)).toEqual([...expected(1, 3, 'a'), ...expected(4, 100, 'b')]);
  });

  it('reports a violated unique index other than the key as the upsert path does, and keeps the checkpoint', async () => {
    const { t, sink, committed } = await withThreeRows('unique');
    await db.query('CREATE UNIQUE INDEX unique_name ON direct."unique" (name)');

    const error = await caught(
      (async () => {
        await sink.write([ins(t, [4n, 'a4', 4]), ins(t, [5n, 'a1', 5])]);
        await sink.commit(checkpoint('unique', { pos: 2 }));
      })(),
    );
    expect(error.code).toBe('SINK_WRITE_FAILED');
    expect(error.message).toContain('23505');
    await sink.close();
    const again = await open('unique');
    expect(again.last?.id).toBe(committed.id);
    expect(await rows(t)).toEqual(expected(1, 3, 'a'));
  });

  it('loads a batch of many fresh tables, a table that existed, a fresh one another session filled and a chunk with a key twice', async () => {
    const fresh = Array.from({ length: 30 }, (_, i) => table(`fresh_${i}`));
    const [existed, raced, twice, big] = ['existed', 'raced', 'twice', 'big'].map((name) => table(`fresh_${name}`)) as [
      TableSchema,
      TableSchema,
      TableSchema,
      TableSchema,
    ];
    await db.query(`CREATE SCHEMA IF NOT EXISTS direct`);
    await db.query(`CREATE TABLE direct.fresh_existed (id bigint PRIMARY KEY, name varchar(32), n integer)`);
    await db.query(`INSERT INTO direct.fresh_existed SELECT g, 'old' || g, -g FROM generate_series(5, 14) g`);
    const sink = await open('fresh');
    await sink.write([...fresh, existed, raced, twice, big].map((t) => schemaEvent(t)));
    await sink.commit(checkpoint('fresh', { pos: 0 }));
    // Another session writes to a table the sink created and has not written yet.
    await db.query(`INSERT INTO direct.fresh_raced VALUES (3, 'other', -3), (50, 'other', -50)`);

    const reads = (t: TableSchema, rows: Row[]) => rows.map((r) => read(t, r));
    await sink.write([
      ...fresh.slice(0, 15).flatMap((t) => reads(t, range(1, 20, t.id.name))),
      ...reads(raced, range(1, 10, 'r')),
      ...reads(existed, range(1, 10, 'e')),
      ...fresh.slice(15).flatMap((t) => reads(t, range(1, 20, t.id.name))),
      // Several MB of COPY data in one query: sent in pieces, with the socket's back-pressure.
      ...reads(big, range(1, 60_000, 'a long value, big table, #')),
    ]);
    // A chunk with one key twice (as a source whose key compares differently could send): the last one wins.
    await sink.write([
      ...reads(twice, [
        [1n, 'first', 1],
        [2n, 'two', 2],
        [1n, 'last', 11],
      ]),
      ...reads(fresh[0]!, range(21, 22, 'more')),
    ]);
    await sink.commit(checkpoint('fresh', { pos: 1 }));

    expect(await rows(fresh[0]!)).toEqual([...expected(1, 20, 'fresh_0'), ...expected(21, 22, 'more')]);
    for (const t of fresh.slice(1)) expect(await rows(t)).toEqual(expected(1, 20, t.id.name));
    expect(await rows(existed)).toEqual([...expected(1, 10, 'e'), ...[11, 12, 13, 14].map((n) => [n, `old${n}`, -n])]);
    expect(await rows(raced)).toEqual([...expected(1, 10, 'r'), [50, 'other', -50]]);
    expect(await rows(big)).toEqual(expected(1, 60_000, 'a long value, big table, #'));
    expect(await rows(twice)).toEqual([
      [1, 'last', 11],
      [2, 'two', 2],
    ]);
    await sink.close();
    expect((await open('fresh')).last?.position).toEqual({ pos: 1 });
  });

  it('leaves nothing of a batch into fresh tables that fails or is cut off, and the replay loads them', async () => {
    const tables = Array.from({ length: 5 }, (_, i) => table(`replay_${i}`));
    const batch = (bad: boolean) =>
      tables.flatMap((t, i) =>
        range(1, 50, t.id.name).map((r) => read(t, bad && i === 3 && r[0] === 25n ? [r[0], 'nul\u0000', 0] : r)),
      );
    // The tables are created in the transaction that fails: the replay creates them again, fresh again.
    const sink = await open('replay');
    await sink.write(tables.map((t) => schemaEvent(t)));
    const error = await caught(
      (async () => {
        await sink.write(batch(true));
        await sink.commit(checkpoint('replay', { pos: 1 }));
      })(),
    );
    expect(error.code).toBe('SINK_WRITE_FAILED');
    await sink.close();
    const exists = async () =>
      (await db.query<{ t: string | null }>(`SELECT to_regclass('direct.replay_0')::text AS t`))[0]?.t ?? null;
    expect(await exists()).toBeNull();

    // Replayed: created and loaded, then a crash before the commit of the next batch of fresh rows.
    const again = await open('replay');
    expect(again.last).toBeNull();
    await again.write(tables.map((t) => schemaEvent(t)));
    await again.write(batch(false).filter((e) => e.kind === 'data' && Number(e.after![0]) <= 30));
    await again.commit(checkpoint('replay', { pos: 1 }));
    await again.write(batch(false).filter((e) => e.kind === 'data' && Number(e.after![0]) > 30));
    await again.close(); // a crash before the commit
    for (const t of tables) expect(await rows(t)).toEqual(expected(1, 30, t.id.name));

    const third = await open('replay');
    expect(third.last?.position).toEqual({ pos: 1 });
    await third.write(tables.map((t) => schemaEvent(t)));
    await third.write(batch(false).filter((e) => e.kind === 'data' && Number(e.after![0]) > 30));
    await third.commit(checkpoint('replay', { pos: 2 }));
    for (const t of tables) expect(await rows(t)).toEqual(expected(1, 50, t.id.name));
  });

  it('takes the upsert path for a table whose row-level security refuses COPY', async () => {
    const role = `direct_rls_${db.name.slice(-8)}`;
    await db.query(`CREATE ROLE ${role} LOGIN`);
    try {
      await db.query(
        `GRANT ALL ON SCHEMA direct TO ${role}; GRANT CREATE, TEMPORARY ON DATABASE "${db.name}" TO ${role}`,
      );
      await db.query(`CREATE TABLE direct.rls (id bigint PRIMARY KEY, name varchar(32), n integer)`);
      await db.query(`ALTER TABLE direct.rls ENABLE ROW LEVEL SECURITY`);
      await db.query(`CREATE POLICY everything ON direct.rls USING (true) WITH CHECK (true)`);
      await db.query(`GRANT SELECT, INSERT, UPDATE, DELETE ON direct.rls TO ${role}`);
      const url = new URL(db.url);
      url.username = role;
      const sink = postgresSink({ url: url.toString(), 'checkpoint.schema': role }, { log });
      sinks.push(sink);
      await sink.open('rls');
      const t = table('rls');
      await sink.write([schemaEvent(t), ...range(1, 5, 'a').map((r) => read(t, r))]);
      await sink.write(range(6, 9, 'b').map((r) => ins(t, r)));
      await sink.commit(checkpoint('rls', { pos: 1 }));
      await sink.close();
      expect(await rows(t)).toEqual([...expected(1, 5, 'a'), ...expected(6, 9, 'b')]);
    } finally {
      await db.query(`DROP OWNED BY ${role}; DROP ROLE ${role}`).catch(() => undefined);
    }
  });
});
