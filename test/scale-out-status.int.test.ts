import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { hostname } from 'node:os';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startCli, type CliProcess } from './harness/cli-process.js';
import { waitFor } from './harness/databases.js';
import { startNatsServer, type TestNatsServer } from './harness/nats-server.js';
import { parsePrometheusText, sampleValue, type PromScrape } from './harness/prometheus-text.js';
import { BROWSER_CHECKS, inChromium } from './harness/browser.js';
import { startScaleOutCluster, type ScaleOutCluster } from './harness/scale-out-cluster.js';

const ROWS = 3_000;
const PARTITIONS = 4;

/**
 * Issue 17, scale-out status: 1 capture (with its dashboard) + 2 apply workers over one JetStream server,
 * MariaDB → PostgreSQL. The capture's /metrics, its page and `tributary status` list both workers with their
 * partitions; the lag goes to 0 once the writer stops; after kill -9 of a worker it shows as down once its
 * heartbeat expired, and the other worker holds every partition.
 */
describe('scale-out status: every worker, its partitions and lag on the capture dashboard, /metrics and status', () => {
  let nats: TestNatsServer;
  let so: ScaleOutCluster;
  let capture: CliProcess;
  let url: string;
  /** The dashboard of the second worker (the first runs with --no-http). */
  let workerUrl: string;
  const workers: CliProcess[] = [];
  const until = (condition: () => Promise<boolean> | boolean, what: string, timeoutMs = 60_000) =>
    so.until(condition, timeoutMs, what);
  const scrape = async (at = url): Promise<PromScrape> =>
    parsePrometheusText(await (await fetch(new URL('metrics', at))).text());
  const workerId = (p: CliProcess) => `${hostname()}-${p.child.pid}-`;
  /** The worker series of a scrape, by the worker process (its id starts with host-pid). */
  const seriesOf = (s: PromScrape, name: string, p: CliProcess) =>
    s.samples.filter((x) => x.name === name && x.labels['worker']?.startsWith(workerId(p)));

  beforeAll(async () => {
    nats = await startNatsServer();
    so = await startScaleOutCluster({
      prefix: 'sostat',
      name: 'sostat',
      servers: nats.url,
      rows: ROWS,
      chunkSize: 1000,
      scaleOut: [`  partitions: ${PARTITIONS}`, '  lease.ttl: 3s'],
    });
    capture = so.start('capture', { http: true });
    workers.push(so.start('apply'), so.start('apply', { http: true }));
    url = await so.dashboardUrl(capture);
    workerUrl = await so.dashboardUrl(workers[1]!);
  });

  afterAll(async () => {
    await so?.stop();
    await nats?.stop();
  });

  it('lists both workers with their partitions, lag 0 after the writer stops; a killed worker goes down, the other takes all', async () => {
    const { db, source, file, env, outputs, targetCount } = so;
    await until(async () => (await targetCount()) === ROWS, 'the snapshot in PostgreSQL', 120_000);
    // A writer for a while, then quiet.
    for (let round = 1; round <= 20; round++) {
      await source.query(`UPDATE ${db}.items SET n = n + 1 WHERE id % 20 = ${round % 20}`);
      await source.query(`INSERT INTO ${db}.items VALUES (${ROWS + round}, 'new', 0)`);
    }
    await until(async () => (await targetCount()) === ROWS + 20, 'the writes in PostgreSQL');

    // Both workers up, holding the partitions between them (two each: the fair share), every partition caught up,
    // and the rows applied counted (the workers' heartbeats carry the counts: a beat may trail the lag's 0 — a full
    // CI run under a busy loop once read 2,877 of 3,020).
    let s: PromScrape | undefined;
    const appliedOf = (scrape: PromScrape) =>
      scrape.samples
        .filter((x) => x.name === 'tributary_scaleout_worker_rows_applied_total')
        .reduce((sum, x) => sum + x.value, 0);
    await until(async () => {
      s = await scrape();
      const held = workers.map((w) => seriesOf(s!, 'tributary_scaleout_worker_partitions', w)[0]?.value ?? 0);
      const lags = s.samples.filter((x) => x.name === 'tributary_scaleout_partition_lag_messages');
      return (
        held.every((n) => n === PARTITIONS / 2) &&
        lags.length === PARTITIONS &&
        lags.every((x) => x.value === 0) &&
        appliedOf(s) >= ROWS + 20
      );
    }, 'both workers with two partitions each, lag 0 everywhere and every row counted, on the capture /metrics');
    for (const w of workers) expect(seriesOf(s!, 'tributary_scaleout_worker_up', w)[0]?.value).toBe(1);
    const holders = s!.samples
      .filter((x) => x.name === 'tributary_scaleout_partition_position')
      .map((x) => [x.labels['partition'], x.labels['worker']!.slice(0, workerId(workers[0]!).length)]);
    expect(holders.map(([p]) => Number(p)).sort()).toEqual([0, 1, 2, 3]);
    expect(new Set(holders.map(([, w]) => w))).toEqual(new Set(workers.map(workerId)));
    const streamLast = sampleValue(s!, 'tributary_scaleout_stream_last_sequence')!;
    for (const x of s!.samples.filter((x) => x.name === 'tributary_scaleout_partition_position')) {
      expect(x.value).toBeGreaterThan(0);
      expect(x.value).toBeLessThanOrEqual(streamLast);
    }
    expect(appliedOf(s!)).toBeGreaterThanOrEqual(ROWS + 20);
    expect(sampleValue(s!, 'tributary_scaleout_partitions', { state: 'unleased' })).toBe(0);

    // `tributary status` reads the same from the lease bucket: both workers, every partition with its worker.
    const status = startCli(['status', file, '--json'], env);
    expect(await status.exited, status.output()).toBe(0);
    const json = JSON.parse(status.output()) as {
      capture: { state: string };
      scaleOut: { workers: { id: string; up: boolean; partitions: number[] }[]; partitions: { worker: string }[] };
    };
    expect(json.capture.state).toBe('running');
    expect(json.scaleOut.workers.filter((w) => w.up).map((w) => w.id.slice(0, workerId(workers[0]!).length))).toEqual(
      expect.arrayContaining(workers.map(workerId)),
    );
    expect(json.scaleOut.partitions.every((p) => p.worker !== null)).toBe(true);

    // The capture's page renders the worker table (a real browser, where chromium is installed).
    if (BROWSER_CHECKS) {
      await inChromium(url, async (page) => {
        await waitFor(async () => (await page.locator('#worker-table tbody tr[data-up="true"]').count()) === 2, {
          message: 'two workers up in the page',
        });
        expect(await page.locator('#partition-table tbody tr').count()).toBe(PARTITIONS);
        const text = (await page.locator('#worker-table').textContent()) ?? '';
        for (const w of workers) expect(text).toContain(workerId(w));
        // To refresh the picture in docs/: TRIBUTARY_SCREENSHOT_DIR=docs/images npx vitest run test/scale-out-status.int.test.ts
        const keep = process.env['TRIBUTARY_SCREENSHOT_DIR'];
        if (keep) {
          await mkdir(keep, { recursive: true });
          await page.locator('section:has(#workers)').screenshot({ path: join(keep, 'scale-out-workers.png') });
        }
      });
    }

    // kill -9 of one worker: once its heartbeat expires it is down, and the other holds every partition.
    const [dead, alive] = workers as [CliProcess, CliProcess];
    dead.child.kill('SIGKILL');
    expect(await dead.exited).toBe('SIGKILL');
    await until(async () => {
      s = await scrape();
      return (
        (seriesOf(s, 'tributary_scaleout_worker_up', dead)[0]?.value ?? 0) === 0 &&
        seriesOf(s, 'tributary_scaleout_worker_partitions', alive)[0]?.value === PARTITIONS
      );
    }, 'the killed worker down and the other holding every partition');
    // Rows written now reach the target through the remaining worker, and its lag returns to 0.
    await source.query(`INSERT INTO ${db}.items VALUES (${ROWS + 100}, 'after the kill', 0)`);
    await until(async () => (await targetCount()) === ROWS + 21, 'a row written after the kill');
    await until(async () => {
      s = await scrape();
      const lags = seriesOf(s, 'tributary_scaleout_partition_lag_messages', alive);
      return lags.length === PARTITIONS && lags.every((x) => x.value === 0);
    }, 'every partition caught up on the remaining worker');
    expect(sampleValue(s!, 'tributary_scaleout_partitions', { state: 'leased' })).toBe(PARTITIONS);

    // The remaining worker's own /metrics: the same cluster view, and its own rows per sink table; it is ready.
    await until(async () => {
      const own = await scrape(workerUrl);
      return seriesOf(own, 'tributary_scaleout_worker_partitions', alive)[0]?.value === PARTITIONS;
    }, "the remaining worker's /metrics to show it holding every partition");
    const own = await scrape(workerUrl);
    expect(own.samples.find((x) => x.name === 'tributary_scaleout_worker_up')?.labels['pipeline']).toBe('sostat-apply');
    expect(sampleValue(own, 'tributary_sink_rows_total', { table: `${db}.items` })).toBeGreaterThan(0);
    expect((await fetch(new URL('readyz', workerUrl))).status).toBe(200);
    expect(capture.child.exitCode, outputs()).toBeNull();
    expect(alive.child.exitCode, outputs()).toBeNull();
  }, 240_000);
});
