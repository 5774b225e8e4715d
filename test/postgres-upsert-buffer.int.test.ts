import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { postgresSink } from '../src/connectors/postgres/postgres-sink.js';
import type { Row } from '../src/core/data-type.js';
import type { Sink } from '../src/core/sink.js';
import { tableId, type TableSchema } from '../src/core/table-schema.js';
import { createLogger } from '../src/runtime/logger.js';
import { freshPostgresDatabase, type FreshPostgresDatabase } from './harness/databases.js';
import { checkpoint, del, ins, schemaEvent, upd } from './harness/sink-events.js';

/**
 * Sink option `buffer.max-rows` (write-mode upsert): changes wait, collapsed per key, until the commit or until that
 * many rows wait — a SQL job's result, whose groups change with every row, is written once per key and commit. The
 * table must hold the same rows as without it at every commit, and a trigger counts the row writes PostgreSQL did.
 */
describe('postgres sink, write-mode upsert with buffer.max-rows', () => {
  let db: FreshPostgresDatabase;
  const sinks: Sink[] = [];
  const log = createLogger({ write: () => undefined, timestamps: false });
  const table = (name: string): TableSchema => ({
    id: tableId('buffered', name),
    columns: [
      { name: 'id', type: { kind: 'int64' }, nullable: false },
      { name: 'n', type: { kind: 'int64' }, nullable: true },
    ],
    primaryKey: ['id'],
  });
  const open = async (pipeline: string, options: Record<string, unknown>) => {
    const sink = postgresSink({ url: db.url, ...options }, { log });
    sinks.push(sink);
    await sink.open(pipeline);
    return sink;
  };
  const rows = async (t: TableSchema) =>
    (await db.query<{ id: string; n: string }>(`SELECT id, n FROM buffered."${t.id.name}" ORDER BY id`)).map((r) => [
      Number(r.id),
      Number(r.n),
    ]);
  /**
   * Row writes (inserts, updates, deletes) PostgreSQL made in `t` since {@link countWrites}: a trigger takes a number
   * from a sequence per write, and a sequence is seen by every session at once, before the sink's commit.
   */
  const writes = async (t: TableSchema) =>
    Number(
      (
        await db.query<{ n: string }>(
          `SELECT CASE WHEN is_called THEN last_value ELSE 0 END AS n FROM buffered."writes_${t.id.name}"`,
        )
      )[0]!.n,
    );
  const countWrites = async (t: TableSchema) => {
    await db.query(`CREATE SEQUENCE buffered."writes_${t.id.name}"`);
    await db.query(`CREATE OR REPLACE FUNCTION buffered.count_write() RETURNS trigger LANGUAGE plpgsql AS $$
      BEGIN
        PERFORM nextval(format('buffered.%I', 'writes_' || TG_TABLE_NAME));
        RETURN NULL;
      END $$`);
    await db.query(`CREATE TRIGGER counted AFTER INSERT OR UPDATE OR DELETE ON buffered."${t.id.name}"
      FOR EACH ROW EXECUTE FUNCTION buffered.count_write()`);
  };

  /**
   * 10 groups; 20 batches, each changing every group's count (+1), one checkpoint. Then a second checkpoint that
   * deletes group 3, re-adds it, and deletes group 7.
   */
  const run = async (name: string, options: Record<string, unknown>) => {
    const t = table(name);
    const sink = await open(name, options);
    await sink.write([schemaEvent(t)]);
    await sink.commit(checkpoint(name, { pos: 0 }));
    await countWrites(t);
    const group = (id: number, n: number): Row => [BigInt(id), BigInt(n)];
    await sink.write(Array.from({ length: 10 }, (_, id) => ins(t, group(id, 1))));
    for (let batch = 2; batch <= 20; batch++) {
      await sink.write(Array.from({ length: 10 }, (_, id) => upd(t, group(id, batch - 1), group(id, batch))));
    }
    await sink.commit(checkpoint(name, { pos: 1 }));
    const first = { rows: await rows(t), writes: await writes(t) };
    await sink.write([del(t, group(3, 20))]);
    await sink.write([ins(t, group(3, 1)), del(t, group(7, 20))]);
    await sink.commit(checkpoint(name, { pos: 2 }));
    return { first, second: { rows: await rows(t), writes: (await writes(t)) - first.writes } };
  };

  beforeAll(async () => {
    db = await freshPostgresDatabase('pgbuffer');
    await db.query('CREATE SCHEMA IF NOT EXISTS buffered');
  });
  afterAll(async () => {
    for (const sink of sinks) await sink.close();
    await db.drop();
  });

  it('writes each key once per commit, and the table holds what it holds without it', async () => {
    const plain = await run('plain', {});
    const held = await run('held', { 'buffer.max-rows': 1000 });
    const groups = (n: number) => Array.from({ length: 10 }, (_, id) => [id, n]);
    expect(plain.first.rows).toEqual(groups(20));
    expect(held.first.rows).toEqual(plain.first.rows);
    expect(held.second.rows).toEqual(plain.second.rows);
    expect(held.second.rows).toEqual(groups(20).flatMap(([id, n]) => (id === 7 ? [] : [[id, id === 3 ? 1 : n]])));
    // Without: every change of every batch (200); with: each group once.
    expect(plain.first.writes).toBe(200);
    expect(held.first.writes).toBe(10);
    // Group 3's delete and insert collapse to its last state; group 7's delete is one write.
    expect(held.second.writes).toBeLessThanOrEqual(3);
  });

  it('writes what waits once that many rows wait, before the commit', async () => {
    const t = table('bounded');
    const sink = await open('bounded', { 'buffer.max-rows': 50 });
    await sink.write([schemaEvent(t)]);
    await sink.commit(checkpoint('bounded', { pos: 0 }));
    await countWrites(t);
    for (let id = 0; id < 120; id += 10) {
      await sink.write(Array.from({ length: 10 }, (_, i) => ins(t, [BigInt(id + i), 1n])));
    }
    // 120 new keys in batches of 10: written when 50 wait (twice), the last 20 at the commit. (Each write waits for
    // the one before: the second 50 are written once the last write returns.)
    expect(await writes(t)).toBe(100);
    await sink.commit(checkpoint('bounded', { pos: 1 }));
    expect(await writes(t)).toBe(120);
    expect((await rows(t)).length).toBe(120);
  });
});
