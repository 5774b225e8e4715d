import { setTimeout as sleep } from 'node:timers/promises';
import { connect, type NatsConnection } from 'nats';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PartitionLeases } from '../src/scale-out/partition-leases.js';
import { startNatsCluster, type TestNatsCluster } from './harness/nats-cluster.js';

/** `attempt()`, again for up to 20 s while JetStream has no leader for a moment (503, timeouts). */
async function retried<T>(attempt: () => Promise<T>): Promise<T> {
  const deadline = Date.now() + 20_000;
  for (;;) {
    try {
      return await attempt();
    } catch (error) {
      if (Date.now() > deadline) throw error;
      await sleep(200);
    }
  }
}

/**
 * The lease bucket's fencing tokens are comparable between workers. Their epoch was the stream info's `created`:
 * when workers start together each finds no bucket and creates it, and the servers then tell creation times a
 * few ms apart (3 of 10 rounds here) — so one worker's tokens were all larger than another's, and a partition it
 * had leased could never be taken over by the other (the sink refused each new owner with SINK_FENCED, seen in
 * test/scale-out.int.test.ts under load as a snapshot that stopped short for minutes). Next it was the one the
 * bucket's creator wrote into its description — but JetStream applies both of two creations made at the same
 * moment, the later as an update of the description (1 of 10 rounds in CI under load). The epoch is now the value
 * of the bucket's `epoch` key, written by `create`: one worker wins, every worker reads its value.
 */
describe('scale-out leases: one fencing epoch per bucket', () => {
  let cluster: TestNatsCluster;
  const connections: NatsConnection[] = [];

  beforeAll(async () => {
    cluster = await startNatsCluster(3);
  });

  afterAll(async () => {
    await Promise.all(connections.map((nc) => nc.close().catch(() => undefined)));
    await cluster?.stop();
  });

  it('workers creating the bucket at the same moment get one epoch', async () => {
    const urls = cluster.servers.split(',');
    const spread: string[] = [];
    for (let round = 0; round < 10; round++) {
      const bucket = `lease_race_${Date.now()}_${round}`;
      // Three workers start together, each connected to another server: each finds no bucket and creates it.
      const opened = await Promise.all(
        urls.map(async (url, i) => {
          const nc = await connect({ servers: [url, ...urls.filter((u) => u !== url)] });
          connections.push(nc);
          const leases = await retried(() =>
            PartitionLeases.open(nc, bucket, { workerId: `w${i}`, ttlMs: 60_000, replicas: 3 }),
          );
          expect(await retried(() => leases.acquire(i))).toBe(true);
          return leases;
        }),
      );
      spread.push([...new Set(opened.map((leases, i) => leases.token(i)! / 10n ** 20n))].join('/'));
      // One bucket for all: each worker sees the three leases (none was lost to a second creation).
      for (const leases of opened) expect([...(await retried(() => leases.leased())).keys()].sort()).toEqual([0, 1, 2]);
    }
    expect(
      spread.filter((epochs) => epochs.includes('/')),
      spread.join(', '),
    ).toEqual([]);
  }, 120_000);

  it('a lease taken after every entry expired, the epoch too, has a larger token than the one before', async () => {
    const nc = await connect({ servers: cluster.servers.split(',') });
    connections.push(nc);
    const ttlMs = 1_500;
    const bucket = `lease_expiry_${Date.now()}`;
    const leases = await retried(() => PartitionLeases.open(nc, bucket, { workerId: 'w0', ttlMs, replicas: 3 }));
    expect(await leases.acquire(0)).toBe(true);
    const before = leases.token(0)!;
    await sleep(ttlMs * 2);
    expect(await leases.leased()).toEqual(new Map());
    // Another worker, whose clock has not read the old epoch, takes the partition.
    const other = await PartitionLeases.open(nc, bucket, { workerId: 'w1', ttlMs, replicas: 3 });
    expect(await other.acquire(0)).toBe(true);
    expect(other.token(0)!).toBeGreaterThan(before);
    expect(other.token(0)! / 10n ** 20n).toBeGreaterThan(before / 10n ** 20n);
  }, 60_000);
});
