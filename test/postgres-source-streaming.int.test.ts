import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { freshPostgresDatabase, waitFor, type FreshPostgresDatabase } from './harness/databases.js';
import { startPostgresSourcePipeline } from './harness/postgres-source-pipelines.js';
import type { RunningPipeline } from './harness/pipelines.js';

const rowsOf = async (db: FreshPostgresDatabase, sql: string): Promise<string[]> =>
  (await db.query<{ r: string }>(`SELECT t::text AS r FROM (${sql}) t`)).map((row) => row.r);

/**
 * Issue 13: pgoutput protocol 2. With `logical_decoding_work_mem` at its minimum (64kB) the server streams a
 * larger transaction while it runs; the source keeps its blocks to the commit and delivers it whole, in commit
 * order with a small transaction that committed meanwhile; a rolled-back subtransaction and a rolled-back
 * streamed transaction deliver nothing.
 */
describe('postgres source: large transactions streamed in progress (protocol 2)', () => {
  let source: FreshPostgresDatabase;
  let sink: FreshPostgresDatabase;
  let running: RunningPipeline | undefined;
  const name = 'pgsrc_streaming';

  beforeAll(async () => {
    source = await freshPostgresDatabase('pgsrc_stream_src');
    sink = await freshPostgresDatabase('pgsrc_stream_sink');
    // The walsender of this database's slot decodes with 64kB: transactions beyond it are streamed.
    await source.query(`ALTER DATABASE "${source.name}" SET logical_decoding_work_mem = '64kB'`);
    await source.query(`CREATE SCHEMA shop`);
    await source.query(`CREATE TABLE shop.big (id bigint PRIMARY KEY, body text, n int)`);
    await source.query(`INSERT INTO shop.big SELECT g, 'seed', 0 FROM generate_series(1, 10) g`);
  });

  afterAll(async () => {
    if (process.env['TRIBUTARY_TEST_DEBUG']) console.log(running?.logs.join('\n'));
    await running?.stop().catch(() => undefined);
    await source
      ?.query(
        `SELECT pg_drop_replication_slot(slot_name) FROM pg_replication_slots WHERE slot_name = $1 AND NOT active`,
        [`tributary_${name}`],
      )
      .catch(() => undefined);
    await source?.drop();
    await sink?.drop();
  });

  it('delivers a streamed transaction whole at its commit, and nothing of rolled-back work', async () => {
    running = await startPostgresSourcePipeline({
      name,
      sourceUrl: source.url,
      tables: 'shop.big',
      sinkYaml: `  type: postgres\n  url: ${sink.url}`,
    });
    const count = async () =>
      Number((await sink.query<{ n: string }>('SELECT count(*) AS n FROM shop.big').catch(() => [{ n: '0' }]))[0]!.n);
    await waitFor(async () => (await count()) === 10, { message: 'the snapshot of 10 rows' });

    const big = new pg.Client({ connectionString: source.url });
    big.on('error', () => undefined);
    await big.connect();
    try {
      await big.query('BEGIN');
      // ~1 MB of changes: far beyond 64kB, so the server streams them in blocks before the commit.
      await big.query(`INSERT INTO shop.big SELECT g, repeat('x', 300) || g, 1 FROM generate_series(1000, 3999) g`);
      await big.query('SAVEPOINT s');
      await big.query(`INSERT INTO shop.big SELECT g, repeat('r', 300), 2 FROM generate_series(50000, 50999) g`);
      await big.query('ROLLBACK TO SAVEPOINT s');
      await big.query(`UPDATE shop.big SET n = n + 10 WHERE id BETWEEN 1000 AND 1999`);
      await big.query(`DELETE FROM shop.big WHERE id BETWEEN 3900 AND 3999`);
      // A small transaction commits while the large one is open: it comes first in commit order, so the large
      // one's later update of the same row wins at the sink as at the source.
      await source.query(`UPDATE shop.big SET body = 'small' WHERE id IN (1, 2)`);
      await big.query(`UPDATE shop.big SET body = 'large' WHERE id = 1`);
      await big.query('COMMIT');

      // A large transaction rolled back after the server streamed some of it.
      await big.query('BEGIN');
      await big.query(`INSERT INTO shop.big SELECT g, repeat('a', 300), 3 FROM generate_series(60000, 62999) g`);
      await big.query('ROLLBACK');
    } finally {
      await big.end();
    }
    await source.query(`INSERT INTO shop.big VALUES (9999999, 'last', 4)`);

    const sql = 'SELECT id, body, n FROM shop.big ORDER BY id';
    await waitFor(async () => (await count()) === 10 + 3000 - 100 + 1, {
      message: 'the streamed transaction and the last insert to reach the sink',
      timeoutMs: 120_000,
    });
    await waitFor(async () => JSON.stringify(await rowsOf(sink, sql)) === JSON.stringify(await rowsOf(source, sql)), {
      message: 'the rows equal at both ends',
    });
    expect(await rowsOf(sink, 'SELECT count(*) FROM shop.big WHERE n IN (2, 3)')).toEqual(['(0)']);
    expect(await rowsOf(sink, 'SELECT body FROM shop.big WHERE id IN (1, 2) ORDER BY id')).toEqual([
      '(large)',
      '(small)',
    ]);
    // The server did stream: the slot's statistics count streamed transactions.
    await waitFor(
      async () =>
        Number(
          (
            await source.query<{ n: string }>(
              'SELECT coalesce(sum(stream_txns), 0) AS n FROM pg_stat_replication_slots WHERE slot_name = $1',
              [`tributary_${name}`],
            )
          )[0]?.n ?? 0,
        ) > 0,
      { message: 'pg_stat_replication_slots to count a streamed transaction', timeoutMs: 30_000 },
    );
  }, 240_000);
});
