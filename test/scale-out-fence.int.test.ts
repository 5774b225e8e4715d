import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { CliProcess } from './harness/cli-process.js';
import { startNatsServer, type TestNatsServer } from './harness/nats-server.js';
import { startScaleOutCluster, type ScaleOutCluster } from './harness/scale-out-cluster.js';

const ROWS = 2_000;

/**
 * Issue 17, the fence (docs/scale-out.md#fencing-a-worker-that-was-cut-off): an apply worker is frozen with
 * SIGSTOP while its sink transaction holds rows it has not committed, longer than the lease TTL; the other worker
 * takes its partition over, ends the frozen worker's sink session (whose row locks would stall it) and fences the
 * partition. Resumed with SIGCONT, the frozen worker stops that partition (fenced, or its lease found lost) and
 * keeps running, and the target ends equal to the source.
 */
describe('scale-out fence: a worker frozen past its lease cannot commit the batch it held', () => {
  let nats: TestNatsServer;
  let so: ScaleOutCluster;
  /** Sink sessions of the workers inside a transaction whose last statement was not the checkpoint's. */
  const openTransactions = () =>
    so.sink.query<{ pid: number; port: number }>(
      "SELECT pid, client_port AS port FROM pg_stat_activity WHERE application_name LIKE 'tributary%' AND " +
        "datname = current_database() AND state = 'idle in transaction' AND query NOT LIKE '%checkpoints%'",
    );
  /** Each partition pipeline's fence in the sink's checkpoint table. */
  const fences = async () =>
    new Map(
      (
        await so.sink.query<{ pipeline: string; fence: string | null }>(
          'SELECT pipeline, fence::text AS fence FROM tributary.checkpoints',
        )
      ).map((r) => [r.pipeline, BigInt(r.fence ?? '0')]),
    );
  /** The process owning the client end of a TCP connection from local port `port`. */
  const pidOfPort = async (port: number): Promise<number | undefined> => {
    const { stdout } = await promisify(execFile)('ss', ['-tnpH', `( sport = :${port} )`]);
    const pid = /pid=(\d+)/.exec(stdout)?.[1];
    return pid === undefined ? undefined : Number(pid);
  };

  beforeAll(async () => {
    nats = await startNatsServer();
    so = await startScaleOutCluster({
      prefix: 'sofence',
      name: 'sofence',
      servers: nats.url,
      rows: ROWS,
      checkpointInterval: '1s',
      scaleOut: ['  partitions: 2', '  lease.ttl: 5s'],
    });
    for (const role of ['capture', 'apply', 'apply'] as const) so.start(role);
  });

  afterAll(async () => {
    // A worker may still be stopped: SIGKILL ends it all the same.
    await so?.stop();
    await nats?.stop();
  });

  it('the frozen worker is fenced on resume, keeps running, and the target equals the source', async () => {
    const { db, source, until, outputs, targetCount, sourceRows, targetRows, processes } = so;
    const workers = processes.slice(1);
    await until(async () => (await targetCount()) === ROWS, 90_000, 'the snapshot in PostgreSQL');
    await until(
      () => workers.every((w) => /applying partition \d/.test(w.output())),
      90_000,
      'each worker to apply a partition',
    );
    // A writer touching every key again and again, in small transactions.
    let writing = true;
    let round = 0;
    const writer = (async () => {
      while (writing) {
        round++;
        await source.query(`UPDATE ${db}.items SET n = n + 1 WHERE id % 50 = ${round % 50}`);
        await new Promise((resolve) => setTimeout(resolve, 10));
      }
    })();
    writer.catch(() => undefined); // awaited below
    const found: CliProcess[] = [];
    const frozenBackend: number[] = [];
    try {
      // Freeze a worker whose sink session is inside a transaction with rows and no checkpoint yet.
      await until(
        async () => {
          for (const { pid: backend, port } of await openTransactions()) {
            const pid = await pidOfPort(port);
            const candidate = workers.find((w) => w.child.pid === pid);
            if (candidate === undefined) continue;
            candidate.child.kill('SIGSTOP');
            // Still idle in that transaction once any statement sent just before the stop has been answered.
            await new Promise((resolve) => setTimeout(resolve, 500));
            const still = (await openTransactions()).some((t) => t.pid === backend);
            if (still) {
              found.push(candidate);
              frozenBackend.push(backend);
              return true;
            }
            candidate.child.kill('SIGCONT');
          }
          return false;
        },
        90_000,
        'a worker frozen with an open sink transaction holding rows',
      );
      const frozen = found[0]!;
      // Past the TTL the other worker takes the frozen worker's partitions over and fences them in the sink.
      const held = [...frozen.output().matchAll(/partitions applied here: (.*)/g)].at(-1)?.[1]?.split(', ') ?? [];
      expect(held.length, outputs()).toBeGreaterThan(0);
      const before = await fences();
      await until(
        async () => {
          const now = await fences();
          return held.every((p) => (now.get(`sofence-p${p}`) ?? 0n) > (before.get(`sofence-p${p}`) ?? 0n));
        },
        90_000,
        'the other worker to take the frozen partitions over and fence them',
      );
      // No stall behind the frozen worker's open transaction (its row locks): the new owner ended its session.
      await until(
        async () =>
          (await so.sink.query('SELECT 1 FROM pg_stat_activity WHERE pid = $1', [frozenBackend[0]])).length === 0,
        90_000,
        "the new owner to end the frozen worker's sink session",
      );
      expect(workers.find((w) => w !== frozen)?.output()).toMatch(/ended session \d+ of an earlier owner/);
      frozen.child.kill('SIGCONT');
      // Resumed, it finds its transaction gone and stops the partitions: refused at its fence, or its lease
      // found lost or expired first.
      await until(
        () =>
          /another worker took it over while this one was cut off|lease lost to another worker|lease not renewed/.test(
            frozen.output(),
          ),
        90_000,
        'the resumed worker to stop the partitions it lost',
      );
    } finally {
      writing = false;
      await writer;
    }

    const expected = await sourceRows();
    await until(
      async () => JSON.stringify(await targetRows()) === JSON.stringify(expected),
      90_000,
      'the target to equal the source',
    );
    expect(await targetRows()).toEqual(expected);
    // Fenced, not failed: every process still runs.
    expect(processes.map((p) => p.child.exitCode)).toEqual([null, null, null]);
    // It committed nothing after the takeover: each partition's fence is the new owner's, and nothing doubled (above).
  }, 300_000);
});
