import { hostname } from 'node:os';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startCli, type CliProcess } from './harness/cli-process.js';
import { waitFor } from './harness/databases.js';
import { readStream, startNatsServer, type TestNatsServer } from './harness/nats-server.js';
import { parsePrometheusText, sampleValue } from './harness/prometheus-text.js';
import { BROWSER_CHECKS, inChromium } from './harness/browser.js';
import { startScaleOutCluster, type ScaleOutCluster } from './harness/scale-out-cluster.js';

const ROWS = 20_000;

/**
 * Issue 17, snapshot chunks as work items: the capture hands the chunks of a 20,000-row table out through the
 * JetStream work queue to two snapshot-reader processes (each capped at 500 rows/s, so the snapshot takes a
 * while) while a writer changes the table and the capture keeps reading the binlog; one apply worker writes
 * PostgreSQL. Before any reader runs the capture must say that nobody takes its chunks; one reader is killed
 * with SIGKILL during the snapshot (the item it held goes to the other after `snapshot.ack-wait`). The target
 * ends equal to the source row for row. The capture's /api/status, /metrics, page and `tributary status` show
 * both readers reading during the snapshot, and the killed one down afterwards.
 */

/** A snapshot reader as the capture's /api/status and `tributary status --json` show it. */
interface ReaderView {
  readonly id: string;
  readonly up: boolean;
  readonly pid: number;
  readonly chunksRead: number;
  readonly rowsRead: number;
}
interface ScaleOutView {
  readonly readers: readonly ReaderView[];
  readonly snapshotQueue: { readonly waiting: number; readonly inFlight: number } | null;
}
describe('scale-out: snapshot chunks read by snapshot readers through a JetStream work queue', () => {
  let nats: TestNatsServer;
  let so: ScaleOutCluster;

  beforeAll(async () => {
    nats = await startNatsServer();
    so = await startScaleOutCluster({
      prefix: 'snapq',
      name: 'snapq',
      servers: nats.url,
      rows: ROWS,
      chunkSize: 500,
      // Per reader: a chunk of 500 rows, then a second's wait holding the next item (the kill lands there).
      sourceYaml: '  scan.snapshot.rows-per-second: 500\n',
      scaleOut: ['  partitions: 2', '  snapshot.readers: remote', '  snapshot.in-flight: 4', '  snapshot.ack-wait: 3s'],
    });
  });

  afterAll(async () => {
    await so?.stop();
    await nats?.stop();
  });

  it('capture + 2 snapshot readers (one killed mid-snapshot) + 1 apply worker under a writer: target equals source', async () => {
    const { db, source, start, outputs, until, sourceRows, targetRows, targetCount } = so;
    const capture = start('capture', { http: true });
    start('apply');
    const url = await so.dashboardUrl(capture);
    /** The cluster view on the capture's /api/status. */
    const clusterView = async () =>
      ((await (await fetch(new URL('api/status', url))).json()) as { scaleOut: ScaleOutView | null }).scaleOut;
    const readerOf = (view: ScaleOutView | null | undefined, p: CliProcess) =>
      view?.readers.find((r) => r.pid === p.child.pid && r.id.startsWith(`${hostname()}-${p.child.pid}-`));
    // No reader yet: the capture says its chunks wait for one (it does not stall silently).
    await until(
      () => Promise.resolve(capture.output().includes('no snapshot reader takes them')),
      60_000,
      'the no-reader warning',
    );

    let writing = true;
    let round = 0;
    // Changes all over the table while the snapshot is read: updates raise n, inserts beyond the table, deletes.
    const writer = (async () => {
      while (writing) {
        round++;
        const id = 1 + ((round * 7919) % ROWS);
        await source.query(`UPDATE ${db}.items SET n = n + 1, val = 'w${round}' WHERE id IN (${id}, ${ROWS - id + 1})`);
        await source.query(`INSERT INTO ${db}.items VALUES (${ROWS + round}, 'new', 0)`);
        if (round % 5 === 0) await source.query(`DELETE FROM ${db}.items WHERE id IN (${ROWS + round - 3}, ${id + 1})`);
        await new Promise((r) => setTimeout(r, 20));
      }
    })();
    try {
      const doomed = start('snapshot-reader', { args: ['--log-level', 'debug'] });
      const survivor = start('snapshot-reader');
      await until(async () => (await targetCount()) >= 2_000, 120_000, 'the snapshot to begin arriving');
      // While the snapshot runs the capture shows both readers up, each with rows read, and chunks in the queue.
      await until(
        async () => {
          const view = await clusterView();
          const queued = (view?.snapshotQueue?.waiting ?? 0) + (view?.snapshotQueue?.inFlight ?? 0);
          return (
            [doomed, survivor].every((p) => readerOf(view, p)?.up && readerOf(view, p)!.rowsRead > 0) && queued > 0
          );
        },
        60_000,
        "both readers up with rows read, and chunks in the work queue, on the capture's /api/status",
      );
      // Killed while it holds an item it has not reported: stopped (SIGSTOP) when its last word on a chunk is
      // `taken`, and still so once the output it wrote before the stop has arrived — its log says `read` only after
      // the item is acknowledged, and a busy machine may deliver that line late; else it goes on and we try again.
      const holding = () => [...doomed.output().matchAll(/snapshot chunk \S+ (taken|read)/g)].at(-1)?.[1];
      await waitFor(
        async () => {
          if (holding() !== 'taken') return false;
          doomed.child.kill('SIGSTOP');
          await new Promise((r) => setTimeout(r, 500));
          if (holding() === 'taken') return true;
          doomed.child.kill('SIGCONT');
          return false;
        },
        { timeoutMs: 60_000, intervalMs: 50, message: 'the doomed reader to hold an item' },
      );
      const atKill = await targetCount();
      doomed.child.kill('SIGKILL');
      expect(await doomed.exited).toBe('SIGKILL');
      // Every chunk arrives: the rows of the snapshot and the writer's, with the survivor reading alone.
      await until(
        () => Promise.resolve(capture.output().includes('snapshot complete')),
        180_000,
        'the capture to complete the snapshot',
      );
      writing = false;
      await writer;
      await until(
        async () => JSON.stringify(await targetRows()) === JSON.stringify(await sourceRows()),
        90_000,
        'PostgreSQL to equal MariaDB',
      );
      // The killed reader is down once its heartbeat expired (lease.ttl); the survivor is up, its figures grown.
      await until(
        async () => {
          const view = await clusterView();
          return readerOf(view, doomed)?.up === false && readerOf(view, survivor)?.up === true;
        },
        60_000,
        "the killed reader down and the survivor up on the capture's /api/status",
      );
      const scrape = parsePrometheusText(await (await fetch(new URL('metrics', url))).text());
      const readerSample = (name: string, p: CliProcess) =>
        scrape.samples.find((x) => x.name === name && x.labels['reader']?.startsWith(`${hostname()}-${p.child.pid}-`))
          ?.value;
      expect(readerSample('tributary_scaleout_reader_up', doomed), outputs()).toBe(0);
      expect(readerSample('tributary_scaleout_reader_up', survivor)).toBe(1);
      expect(readerSample('tributary_scaleout_reader_rows_read_total', doomed)).toBeGreaterThan(0);
      expect(readerSample('tributary_scaleout_reader_rows_read_total', survivor)).toBeGreaterThan(0);
      expect(readerSample('tributary_scaleout_reader_chunks_read_total', survivor)).toBeGreaterThan(0);
      expect(readerSample('tributary_scaleout_reader_heartbeat_age_seconds', survivor)).toBeGreaterThanOrEqual(0);
      // The snapshot is complete: soon no chunk waits or is held. Not at once: an item whose reader was killed
      // after publishing its result but before acknowledging it is handed to the survivor after ack-wait, read
      // again and acknowledged (the capture ignores the duplicate result) — after the target already converged.
      await until(
        async () => {
          const now = parsePrometheusText(await (await fetch(new URL('metrics', url))).text());
          return (
            sampleValue(now, 'tributary_scaleout_snapshot_queue_chunks', { state: 'waiting' }) === 0 &&
            sampleValue(now, 'tributary_scaleout_snapshot_queue_chunks', { state: 'in_flight' }) === 0
          );
        },
        60_000,
        'the snapshot work queue empty on /metrics',
      );
      // `tributary status` reads the same from NATS itself.
      const status = startCli(['status', so.file, '--json'], so.env);
      expect(await status.exited, status.output()).toBe(0);
      const listed = (JSON.parse(status.output()) as { scaleOut: ScaleOutView }).scaleOut;
      expect(readerOf(listed, survivor)).toMatchObject({ up: true });
      expect(readerOf(listed, survivor)!.rowsRead).toBeGreaterThan(0);
      // The capture's page: a row per reader, the killed one down (a real browser, where chromium is installed).
      if (BROWSER_CHECKS) {
        await inChromium(url, async (page) => {
          expect(await page.locator('#reader-table tbody tr[data-up="true"]').count()).toBe(1);
          expect(await page.locator('#reader-table tbody tr[data-up="false"]').count()).toBe(1);
          const text = (await page.locator('#reader-table').textContent()) ?? '';
          for (const p of [doomed, survivor]) expect(text).toContain(`${hostname()}-${p.child.pid}-`);
        });
      }
      const redelivered = survivor.output().match(/delivery \d+ \(a reader before/g)?.length ?? 0;
      console.log(
        `snapshot reader killed at ${atKill} of ${ROWS} rows; ${round} writer rounds; chunks the survivor took over: ${redelivered}`,
      );
      expect(survivor.child.exitCode).toBeNull();
      expect(capture.child.exitCode).toBeNull();
      expect(survivor.output()).toContain('snapshot chunks read');
      // The item the killed reader held went to the survivor (after snapshot.ack-wait).
      expect(redelivered, outputs()).toBeGreaterThan(0);
    } finally {
      writing = false;
      await writer.catch(() => undefined);
    }
    expect(await targetCount()).toBe((await sourceRows()).length);
    // Nothing doubled: in the stream, every key has at most one snapshot read (a chunk merged once, whichever
    // reader's result came first), and every row of the table had one or a change of its own.
    const readsByKey = new Map<string, number>();
    for (const message of await readStream(nats.url, so.stream, `${so.stream}.${db}.items.*`)) {
      const payload = (message.value?.['payload'] ?? message.value) as { op?: string; after?: { id?: unknown } };
      if (payload?.op !== 'r') continue;
      const key = String(payload.after?.id);
      readsByKey.set(key, (readsByKey.get(key) ?? 0) + 1);
    }
    expect([...readsByKey].filter(([, n]) => n > 1)).toEqual([]);
    expect(readsByKey.size).toBeGreaterThan(ROWS * 0.9);
  }, 400_000);
});
