import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DuckDBInstance } from '@duckdb/node-api';
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
    await source.query(`TRUNCATE shop.notes`);
    await source.query(`INSERT INTO shop.notes VALUES ('after', 'truncate')`);
    // A TRUNCATE is a truncateTable event; under the default behaviour (lenient) the sink keeps its rows.
    await waitFor(
      async () =>
        JSON.stringify(await rowsOf(sink, notes)) === JSON.stringify(['(after,truncate)', '(b,)', '(c,first)']),
      { message: 'the insert after the truncate' },
    );
  });
});

describe('postgres source: TOAST values an update leaves unchanged, schema changes, and DuckDB', () => {
  let source: FreshPostgresDatabase;
  let sink: FreshPostgresDatabase;
  const pipelines: RunningPipeline[] = [];
  let dir: string;

  beforeAll(async () => {
    source = await freshPostgresDatabase('pgsrc_toast_src');
    sink = await freshPostgresDatabase('pgsrc_toast_sink');
    dir = await mkdtemp(join(tmpdir(), 'tributary-pgsrc-duckdb-'));
    for (const table of ['docs_default', 'docs_full']) {
      await source.query(`CREATE TABLE public.${table} (id int PRIMARY KEY, title text, body text)`);
      // EXTERNAL: stored out of line uncompressed, so a 100 kB value is surely TOASTed.
      await source.query(`ALTER TABLE public.${table} ALTER COLUMN body SET STORAGE EXTERNAL`);
    }
    await source.query(`ALTER TABLE public.docs_full REPLICA IDENTITY FULL`);
  });

  afterAll(async () => {
    if (process.env['TRIBUTARY_TEST_DEBUG']) console.log(pipelines.flatMap((p) => p.logs).join('\n'));
    for (const p of pipelines) await p.stop().catch(() => undefined);
    await source
      ?.query(
        `SELECT pg_drop_replication_slot(slot_name) FROM pg_replication_slots WHERE slot_name LIKE 'tributary_pgsrc_t%'`,
      )
      .catch(() => undefined);
    await source?.drop();
    await sink?.drop();
    await rm(dir, { recursive: true, force: true });
  });

  it('keeps an unchanged TOASTed value (REPLICA IDENTITY DEFAULT: looked up; FULL: from the old row)', async () => {
    const pipeline = await startPostgresSourcePipeline({
      name: 'pgsrc_toast',
      sourceUrl: source.url,
      tables: 'public.docs_\\.*',
      sinkYaml: `  type: postgres\n  url: ${sink.url}`,
    });
    pipelines.push(pipeline);
    await waitFor(async () => (await sink.query('SELECT 1 FROM public.docs_full').catch(() => null)) !== null, {
      message: 'the sink tables',
    });
    for (const table of ['docs_default', 'docs_full']) {
      await source.query(
        `INSERT INTO public.${table} SELECT 1, 'first', string_agg(md5(g::text), '') FROM generate_series(1, 3000) g`,
      );
      await source.query(`UPDATE public.${table} SET title = 'second' WHERE id = 1`);
    }
    const sql = (table: string) => `SELECT id, title, md5(body) AS h, length(body) AS l FROM public.${table}`;
    for (const table of ['docs_default', 'docs_full']) {
      await waitFor(async () => (await rowsOf(sink, sql(table)))[0]?.includes('second') === true, {
        message: `the update of ${table}`,
      });
      expect(await rowsOf(sink, sql(table))).toEqual(await rowsOf(source, sql(table)));
      expect((await rowsOf(sink, sql(table)))[0]).toContain('96000');
    }
  });

  it('follows an added column (a Relation message with new columns → refreshTable)', async () => {
    await source.query(`ALTER TABLE public.docs_full ADD COLUMN tags text[]`);
    await source.query(`INSERT INTO public.docs_full (id, title, body, tags) VALUES (2, 't', 'b', '{x,y}')`);
    await waitFor(
      async () =>
        (
          await sink
            .query<{ tags: string }>('SELECT tags::text AS tags FROM public.docs_full WHERE id = 2')
            .catch(() => [])
        )[0]?.tags === '["x", "y"]',
      { message: 'the new column in the sink' },
    );
  });

  it('snapshots and streams into DuckDB', async () => {
    const path = join(dir, 'w.duckdb');
    const pipeline = await startPostgresSourcePipeline({
      name: 'pgsrc_tduck',
      sourceUrl: source.url,
      tables: 'public.docs_default',
      sinkYaml: `  type: duckdb\n  path: ${path}`,
    });
    pipelines.push(pipeline);
    const query = async (sql: string): Promise<string[]> => {
      const instance = await DuckDBInstance.fromCache(path);
      const connection = await instance.connect();
      try {
        return (await connection.runAndReadAll(sql)).getRowsJson().map((row) => JSON.stringify(row));
      } finally {
        connection.closeSync();
        instance.closeSync();
      }
    };
    const rows = () => query('SELECT id, title, md5(body) FROM public.docs_default ORDER BY id').catch(() => []);
    await waitFor(async () => (await rows()).length === 1, { message: 'the snapshot in DuckDB' });
    await source.query(`INSERT INTO public.docs_default VALUES (5, 'five', 'small')`);
    await source.query(`UPDATE public.docs_default SET title = 'third' WHERE id = 1`);
    await waitFor(async () => (await rows()).length === 2 && (await rows())[0]!.includes('third'), {
      message: 'the stream in DuckDB',
    });
    const sourceHash = (
      await source.query<{ h: string }>(`SELECT md5(body) AS h FROM public.docs_default WHERE id = 1`)
    )[0]!.h;
    expect((await rows())[0]).toBe(JSON.stringify([1, 'third', sourceHash]));
    await pipeline.stop();
  });
});
