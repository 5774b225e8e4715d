import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { postgresSink } from '../src/connectors/postgres/postgres-sink.js';
import type { Checkpoint, Sink } from '../src/core/sink.js';
import { tableId, type TableSchema } from '../src/core/table-schema.js';
import { createLogger } from '../src/runtime/logger.js';
import {
  freshPostgresDatabase,
  tolerateDisconnects,
  waitFor,
  type FreshPostgresDatabase,
} from './harness/databases.js';
import { caught, checkpoint, ins, schemaEvent, student, studentLoad, upd } from './harness/sink-events.js';

const log = createLogger({ write: () => undefined, timestamps: false });

/** What `open` returns for a committed checkpoint (the time as PostgreSQL gives it back). */
const stored = (committed: Checkpoint): Checkpoint => ({
  ...committed,
  committedAt: new Date(committed.committedAt).toISOString(),
});

/**
 * The fence of scale-out apply workers (docs/scale-out.md#fencing): two owners of one partition pipeline, the
 * second with the larger token (a later lease). Whatever the first did not commit before the second opened is
 * refused, and none of its rows reach the target.
 */
describe('postgres sink: fencing tokens', () => {
  let db: FreshPostgresDatabase;
  const sinks: Sink[] = [];
  const sink = (fenceToken?: bigint): Sink => {
    const opened = postgresSink({ url: db.url }, { log, ...(fenceToken === undefined ? {} : { fenceToken }) });
    sinks.push(opened);
    return opened;
  };
  const rows = async (table: string) =>
    (
      await db.query<{ id: number; name: string; score: number | null }>(
        `SELECT id, name, score FROM public.${table} ORDER BY id`,
      )
    ).map((r) => [r.id, r.name, r.score]);

  beforeAll(async () => {
    db = await freshPostgresDatabase('pgsink_fence');
  });
  afterAll(async () => {
    for (const s of sinks) await s.close();
    await db.drop();
  });

  it("the new owner ends the old one's session and fences it: its commit fails, its rows are not in the target, its re-open is refused (SINK_FENCED)", async () => {
    const old = sink(100n);
    expect(await old.open('shop-p3')).toBeNull();
    const first = checkpoint('shop-p3', { seq: 10 });
    await old.write([schemaEvent(student), ...studentLoad()]);
    await old.commit(first);
    // The old owner goes on writing (upsert mode: applied inside its open transaction), then is cut off.
    await old.write([upd(student, [2, 'student2', 75, '0'], [2, 'stale', 0, '0']), ins(student, [10, 'late', 1, '1'])]);

    const taker = sink(200n + 10n ** 20n);
    expect(await taker.open('shop-p3')).toEqual(stored(first));

    // The taker ended the old owner's session at open (its open transaction would hold row locks for as long
    // as the old process is cut off): the commit fails, and nothing of it lands.
    const refused = await caught(old.commit(checkpoint('shop-p3', { seq: 20 })));
    expect(refused.code).toBe('SINK_UNREACHABLE'); // retried: the re-open is refused at the fence (below)
    const committed = [
      [1, 'student1', 65],
      [2, 'student2', 75],
      [3, 'student3', 85],
      [4, 'student4', 95],
    ];
    expect(await rows('student')).toEqual(committed);

    // The new owner replays from the first checkpoint (each start declares the tables first) and commits.
    const next = checkpoint('shop-p3', { seq: 20 });
    await taker.write([
      schemaEvent(student),
      upd(student, [2, 'student2', 75, '0'], [2, 'student2', 76, '0']),
      ins(student, [10, 'x', 1, '1']),
    ]);
    await taker.commit(next);
    expect(await rows('student')).toEqual([
      [1, 'student1', 65],
      [2, 'student2', 76],
      ...committed.slice(2),
      [10, 'x', 1],
    ]);

    // The old owner coming back (a retry after the pause) is refused at open; the new one re-opens where it was.
    await old.close();
    const refusedOpen = await caught(sink(100n).open('shop-p3'));
    expect(refusedOpen.code).toBe('SINK_FENCED');
    await taker.close();
    expect(await sink(200n + 10n ** 20n).open('shop-p3')).toEqual(stored(next));
  });

  it('an owner that committed nothing yet is fenced too; the fence alone reads as no checkpoint', async () => {
    const table: TableSchema = { ...student, id: tableId('', 'student_first') };
    const old = sink(5n);
    expect(await old.open('shop-p4')).toBeNull();
    await old.write([schemaEvent(table), ...studentLoad(table)]);
    const taker = sink(6n);
    expect(await taker.open('shop-p4')).toBeNull();
    expect((await caught(old.commit(checkpoint('shop-p4', { seq: 1 })))).code).toBe('SINK_UNREACHABLE');
    expect((await caught(sink(5n).open('shop-p4'))).code).toBe('SINK_FENCED');
    // A reader without a token (validate, `tributary state`) sees no checkpoint either.
    expect(await sink().savedCheckpoint!('shop-p4')).toBeNull();
    const exists = await db.query<{ t: string | null }>("SELECT to_regclass('public.student_first')::text AS t");
    expect(exists[0]?.t).toBeNull();

    const first = checkpoint('shop-p4', { seq: 1 });
    await taker.write([schemaEvent(table), ...studentLoad(table)]);
    await taker.commit(first);
    expect(await rows('student_first')).toHaveLength(4);
    expect(await sink().savedCheckpoint!('shop-p4')).toEqual(stored(first));
  });

  it("opening waits for a commit holding the checkpoint row, and resumes from that commit's position", async () => {
    const owner = sink(7n);
    await owner.open('shop-p5');
    const first = checkpoint('shop-p5', { seq: 1 });
    await owner.commit(first);
    await owner.close();
    // Another session in the middle of a commit: the checkpoint row is upserted, not yet committed.
    const client = tolerateDisconnects(new pg.Client({ connectionString: db.url }));
    await client.connect();
    try {
      await client.query('BEGIN');
      await client.query(
        `UPDATE tributary.checkpoints SET checkpoint_id = checkpoint_id + 1, position = '{"seq": 2}' WHERE pipeline = 'shop-p5'`,
      );
      const taker = sink(8n);
      const opening = taker.open('shop-p5');
      opening.catch(() => undefined); // awaited below
      await waitFor(
        async () =>
          (
            await db.query<{ n: number }>(
              "SELECT count(*)::int AS n FROM pg_stat_activity WHERE wait_event_type = 'Lock' AND datname = current_database()",
            )
          )[0]?.n === 1,
        { message: 'the new owner waiting for the checkpoint row', timeoutMs: 60_000 },
      );
      await client.query('COMMIT');
      expect((await opening)?.position).toEqual({ seq: 2 });
    } finally {
      await client.end();
    }
  });

  it('a checkpoint table of an earlier release (no fence column) keeps working, with and without a token', async () => {
    const legacy = await freshPostgresDatabase('pgsink_fence_old');
    try {
      await legacy.query('CREATE SCHEMA tributary');
      await legacy.query(
        'CREATE TABLE tributary.checkpoints (pipeline text PRIMARY KEY, checkpoint_id bigint NOT NULL, ' +
          'position jsonb NOT NULL, committed_at timestamptz NOT NULL, last_seq bigint, operators jsonb, bulk jsonb)',
      );
      const columns = async () =>
        (
          await legacy.query<{ column_name: string }>(
            "SELECT column_name FROM information_schema.columns WHERE table_schema = 'tributary' AND table_name = 'checkpoints'",
          )
        ).map((c) => c.column_name);
      const open = (fenceToken?: bigint): Sink => {
        const opened = postgresSink({ url: legacy.url }, { log, ...(fenceToken === undefined ? {} : { fenceToken }) });
        sinks.push(opened);
        return opened;
      };
      // One process per pipeline: nothing about the table changes.
      const single = open();
      expect(await single.open('one')).toBeNull();
      const one = checkpoint('one', { seq: 1 });
      await single.commit(one);
      await single.close();
      expect(await columns()).not.toContain('fence');
      expect(await open().open('one')).toEqual(stored(one));

      // An apply worker adds the column (NULL: no fence) and fences its own pipeline.
      const worker = open(3n);
      expect(await worker.open('one-p0')).toBeNull();
      expect(await columns()).toContain('fence');
      const p0 = checkpoint('one-p0', { seq: 1 });
      await worker.commit(p0);
      const fences = await legacy.query<{ pipeline: string; fence: string | null }>(
        'SELECT pipeline, fence::text AS fence FROM tributary.checkpoints ORDER BY pipeline',
      );
      expect(fences).toEqual([
        { pipeline: 'one', fence: null },
        { pipeline: 'one-p0', fence: '3' },
      ]);
      expect(await open().open('one')).toEqual(stored(one));
    } finally {
      for (const s of sinks.splice(0)) await s.close();
      await legacy.drop();
    }
  });
});
