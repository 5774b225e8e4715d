import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { freshPostgresDatabase, postgresUrl, waitFor, type FreshPostgresDatabase } from './harness/databases.js';
import { startPostgresSourcePipeline } from './harness/postgres-source-pipelines.js';
import type { RunningPipeline } from './harness/pipelines.js';

const rowsOf = async (db: FreshPostgresDatabase, sql: string): Promise<string[]> =>
  (await db.query<{ r: string }>(`SELECT t::text AS r FROM (${sql}) t`)).map((row) => row.r);

describe('postgres source → postgres sink: snapshot, then inserts, updates, deletes', () => {
  let source: FreshPostgresDatabase;
  let sink: FreshPostgresDatabase;
  let running: RunningPipeline | undefined;

  beforeAll(async () => {
    source = await freshPostgresDatabase('pgsrc_src');
    sink = await freshPostgresDatabase('pgsrc_sink');
    await source.query(`CREATE SCHEMA shop`);
    await source.query(
      `CREATE TABLE shop.orders (id bigint PRIMARY KEY, customer text NOT NULL, amount numeric(10,2), placed timestamptz(3))`,
    );
    await source.query(
      `INSERT INTO shop.orders SELECT g, 'c' || g, g * 1.25, timestamptz '2024-03-01 10:00:00.123+00' + g * interval '1 minute' FROM generate_series(1, 2500) g`,
    );
    await source.query(`CREATE TABLE shop.notes (k text PRIMARY KEY, body text)`);
    await source.query(`INSERT INTO shop.notes VALUES ('a', 'first'), ('b', NULL)`);
  });

  afterAll(async () => {
    if (process.env['TRIBUTARY_TEST_DEBUG']) console.log(running?.logs.join('\n'));
    await running?.stop().catch(() => undefined);
    await source
      ?.query(
        `SELECT pg_drop_replication_slot(slot_name) FROM pg_replication_slots WHERE slot_name LIKE 'tributary_pgsrc%' AND NOT active`,
      )
      .catch(() => undefined);
    await source?.drop();
    await sink?.drop();
  });

  it('copies the tables, then streams every change', async () => {
    void postgresUrl;
    running = await startPostgresSourcePipeline({
      name: 'pgsrc_basic',
      sourceUrl: source.url,
      tables: 'shop.\\.*',
      sinkYaml: `  type: postgres\n  url: ${sink.url}`,
    });
    const count = async () =>
      Number(
        (await sink.query<{ n: string }>('SELECT count(*) AS n FROM shop.orders').catch(() => [{ n: '0' }]))[0]!.n,
      );
    await waitFor(async () => (await count()) === 2500, { message: 'the snapshot of 2500 orders' });
    await source.query(`INSERT INTO shop.orders VALUES (5000, 'new', 1.50, '2024-05-01 00:00:00.5+02')`);
    await source.query(`UPDATE shop.orders SET customer = 'changed', amount = NULL WHERE id = 7`);
    await source.query(`DELETE FROM shop.orders WHERE id BETWEEN 100 AND 199`);
    await source.query(`UPDATE shop.notes SET k = 'c' WHERE k = 'a'`);
    await source.query(`INSERT INTO shop.notes VALUES ('d', 'x'); DELETE FROM shop.notes WHERE k = 'd'`);
    const sql = 'SELECT id, customer, amount, placed FROM shop.orders ORDER BY id';
    await waitFor(async () => (await count()) === 2401, { message: 'the stream to reach the sink' });
    await waitFor(async () => JSON.stringify(await rowsOf(sink, sql)) === JSON.stringify(await rowsOf(source, sql)), {
      message: 'orders equal at both ends',
    });
    const notes = 'SELECT k, body FROM shop.notes ORDER BY k';
    await waitFor(
      async () => JSON.stringify(await rowsOf(sink, notes)) === JSON.stringify(await rowsOf(source, notes)),
      {
        message: 'notes equal at both ends',
      },
    );
    expect(await rowsOf(sink, notes)).toEqual(['(b,)', '(c,first)']);
  });
});
