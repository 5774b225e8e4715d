import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { freshPostgresDatabase, waitFor, type FreshPostgresDatabase } from './harness/databases.js';
import { startPostgresSourcePipeline } from './harness/postgres-source-pipelines.js';
import type { RunningPipeline } from './harness/pipelines.js';

/**
 * A pipeline whose replication connection is killed mid-stream, restarted from its checkpoint while the source
 * kept changing: the changelog (append mode, one row per change, `_position` unique) holds every change once.
 */
describe('postgres source: kill and restart', () => {
  let source: FreshPostgresDatabase;
  let sink: FreshPostgresDatabase;
  const running: (RunningPipeline & { stateDir: string })[] = [];
  const slot = 'tributary_pgsrc_resume';

  beforeAll(async () => {
    source = await freshPostgresDatabase('pgsrc_resume_src');
    sink = await freshPostgresDatabase('pgsrc_resume_sink');
    await source.query(`CREATE TABLE public.items (id int PRIMARY KEY, v text NOT NULL, n int)`);
    await source.query(`INSERT INTO public.items SELECT g, 'v' || g, 0 FROM generate_series(1, 300) g`);
  });

  afterAll(async () => {
    if (process.env['TRIBUTARY_TEST_DEBUG']) console.log(running.flatMap((r) => r.logs).join('\n'));
    for (const r of running) await r.stop().catch(() => undefined);
    await source?.query(`SELECT pg_drop_replication_slot($1)`, [slot]).catch(() => undefined);
    await source?.drop();
    await sink?.drop();
  });

  const start = (stateDir?: string, tables = 'public.items') =>
    startPostgresSourcePipeline({
      name: 'pgsrc_resume',
      sourceUrl: source.url,
      tables,
      sinkYaml: `  type: postgres\n  url: ${sink.url}\n  write-mode: append`,
      chunkSize: 50,
      ...(stateDir ? { stateDir } : {}),
    });
  const changes = async (op: string, table = 'items'): Promise<number> =>
    Number(
      (
        await sink
          .query<{ n: string }>(`SELECT count(*) AS n FROM public.${table}_changelog WHERE _op = $1`, [op])
          .catch(() => [{ n: '0' }])
      )[0]!.n,
    );

  it('delivers every change exactly once across a killed replication connection', async () => {
    const first = await start();
    running.push(first);
    await waitFor(async () => (await changes('read')) === 300, { message: '300 snapshot reads' });
    // One large transaction and many small ones; the replication connection is killed while they stream.
    await source.query(`INSERT INTO public.items SELECT g, 'big' || g, 1 FROM generate_series(1001, 6000) g`);
    for (let i = 1; i <= 20; i++) await source.query(`UPDATE public.items SET n = n + 1 WHERE id = $1`, [i]);
    await waitFor(async () => (await changes('insert')) > 0, { message: 'the stream to begin' });
    await source.query(
      `SELECT pg_terminate_backend(pid) FROM pg_stat_replication WHERE application_name = 'tributary-replication'`,
    );
    await first.done.catch(() => undefined);
    // While it is down, the source goes on.
    await source.query(`DELETE FROM public.items WHERE id BETWEEN 101 AND 150`);
    await source.query(`INSERT INTO public.items SELECT g, 'late' || g, 2 FROM generate_series(7001, 7100) g`);

    const second = await start(first.stateDir);
    running.push(second);
    await waitFor(async () => (await changes('insert')) === 5100 && (await changes('delete')) === 50, {
      message: 'every insert and delete in the changelog',
    });
    await waitFor(async () => (await changes('update')) === 20, { message: '20 updates' });
    await second.stop();
    expect(await changes('read')).toBe(300);
    expect(await changes('insert')).toBe(5100);
    expect(await changes('update')).toBe(20);
    expect(await changes('delete')).toBe(50);
    const positions = await sink.query<{ n: string; d: string }>(
      `SELECT count(*) AS n, count(DISTINCT _position) AS d FROM public.items_changelog WHERE _position IS NOT NULL`,
    );
    expect(positions[0]!.n).toBe(positions[0]!.d);
  });

  it('has the slot confirm what the sink committed, and an idle slot follow the WAL', async () => {
    const third = await start(running[0]!.stateDir);
    running.push(third);
    await source.query(`UPDATE public.items SET n = 100 WHERE id = 1`);
    // WAL written elsewhere (not a captured table) while the captured one is idle.
    await source.query(`CREATE TABLE public.other (x int)`);
    await source.query(`INSERT INTO public.other SELECT generate_series(1, 1000)`);
    const walNow = (await source.query<{ lsn: string }>(`SELECT pg_current_wal_lsn()::text AS lsn`))[0]!.lsn;
    await waitFor(
      async () =>
        (
          await source.query<{ ok: boolean }>(
            `SELECT confirmed_flush_lsn >= $1::pg_lsn AS ok FROM pg_replication_slots WHERE slot_name = $2`,
            [walNow, slot],
          )
        )[0]?.ok === true,
      { message: `the slot to confirm ${walNow}` },
    );
    expect(await changes('update')).toBe(21);
    await third.stop();
  });

  it('snapshots a table that the widened pattern matches on restart, then streams it', async () => {
    await source.query(`CREATE TABLE public.extra (id int PRIMARY KEY, v text)`);
    await source.query(`INSERT INTO public.extra SELECT g, 'x' FROM generate_series(1, 40) g`);
    const fourth = await start(running[0]!.stateDir, 'public.items,public.extra');
    running.push(fourth);
    await waitFor(async () => (await changes('read', 'extra')) === 40, { message: '40 snapshot reads of extra' });
    await source.query(`INSERT INTO public.extra VALUES (41, 'y')`);
    await source.query(`UPDATE public.items SET n = 200 WHERE id = 2`);
    await waitFor(async () => (await changes('insert', 'extra')) === 1 && (await changes('update')) === 22, {
      message: 'the stream of both tables',
    });
    await fourth.stop();
    expect(await changes('read')).toBe(300);
  });
});
