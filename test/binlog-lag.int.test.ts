import pg from 'pg';
import type { Connection } from 'mysql2/promise';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { prometheusRegistry } from '../src/ui/prometheus-exporter.js';
import {
  freshPostgresDatabase,
  mysqlAdmin,
  tolerateDisconnects,
  uniqueName,
  waitFor,
  type FreshPostgresDatabase,
} from './harness/databases.js';
import { startTestPipeline, type RunningPipeline } from './harness/pipelines.js';

/**
 * Issue 14: the binlog lag in bytes. While the pipeline cannot write (a lock in the sink holds its commit), the
 * server's binlog grows past the position the source has read, and `tributary_source_lag_bytes` says by how
 * much; once the sink is free again, the pipeline catches up and the gauge returns to 0.
 */
describe('binlog lag in bytes', () => {
  const db = uniqueName('lagbytes');
  let source: Connection;
  let sink: FreshPostgresDatabase;
  let running: RunningPipeline;
  let blocker: pg.Client | undefined;

  const scrape = async (): Promise<number | undefined> => {
    const text = await prometheusRegistry(running.pipeline.metrics).metrics();
    const line = text.split('\n').find((l) => l.startsWith('tributary_source_lag_bytes{'));
    return line === undefined ? undefined : Number(line.slice(line.lastIndexOf(' ') + 1));
  };

  beforeAll(async () => {
    source = await mysqlAdmin();
    await source.query(`CREATE DATABASE ${db}; CREATE TABLE ${db}.t (id INT PRIMARY KEY, pad VARCHAR(2000))`);
    await source.query(`INSERT INTO ${db}.t VALUES (1, 'first')`);
    sink = await freshPostgresDatabase('lagbytes');
    running = await startTestPipeline({ name: 'lag-bytes', tables: `${db}.t`, sinkUrl: sink.url });
    await waitFor(async () => (await sink.query(`SELECT 1 FROM ${db}.t`).catch(() => [])).length === 1, {
      message: 'the snapshot in the sink',
    });
  });

  afterAll(async () => {
    await blocker?.end().catch(() => undefined);
    await running?.stop().catch(() => undefined);
    await source?.query(`DROP DATABASE IF EXISTS ${db}`);
    await source?.end();
    await sink?.drop();
  });

  it('is 0 when caught up, grows while the sink holds the pipeline back, and returns to 0 when it caught up', async () => {
    await waitFor(async () => (await scrape()) === 0, { message: 'lag 0 bytes once streaming' });

    blocker = tolerateDisconnects(new pg.Client({ connectionString: sink.url }));
    await blocker.connect();
    await blocker.query(`BEGIN; LOCK TABLE ${db}.t IN ACCESS EXCLUSIVE MODE`);
    // The first change gets the runner stuck in the sink's commit; the next ones stay unread in the binlog.
    await source.query(`INSERT INTO ${db}.t VALUES (2, 'stuck')`);
    await new Promise((resolve) => setTimeout(resolve, 1500));
    for (let i = 3; i < 103; i++) await source.query(`INSERT INTO ${db}.t VALUES (${i}, REPEAT('x', 1000))`);
    let behind: number | undefined;
    await waitFor(
      async () => {
        behind = await scrape();
        return behind !== undefined && behind > 100 * 1000;
      },
      { message: 'a lag of more than 100 rows of 1,000 bytes' },
    );
    expect(running.pipeline.metrics.status().lagBytes).toBeGreaterThan(0);

    await blocker.query('COMMIT');
    await waitFor(async () => (await scrape()) === 0, { message: 'lag 0 bytes after catching up' });
    // The lag is what the source has not read yet: the sink commits the last rows read a moment later (a full CI
    // run under a busy loop once counted 3 rows right after the gauge said 0).
    let rows = 0;
    await waitFor(
      async () => {
        const [row] = await sink.query<{ n: number }>(`SELECT count(*)::int AS n FROM ${db}.t`);
        rows = row?.n ?? 0;
        return rows === 102;
      },
      { message: 'every row in the sink' },
    );
    expect(rows).toBe(102);
  });
});
