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

  it('a bucket of an earlier release, its epoch only in the description, opens as it is and that epoch is the floor', async () => {
    const urls = cluster.servers.split(',');
    const connectTo = async (url: string): Promise<NatsConnection> => {
      const nc = await connect({ servers: [url, ...urls.filter((u) => u !== url)] });
      connections.push(nc);
      return nc;
    };
    // Two workers, each connected to another server.
    const first = await connectTo(urls[0]!);
    const second = await connectTo(urls[1]!);
    const ttlMs = 3_000;
    const bucket = `lease_earlier_${Date.now()}`;
    // Made the way a release before the `epoch` key made it: its creator's epoch appended to the description. An
    // epoch far in the future (2096), so that a token above it can only come from the description, not the clock.
    const earlierEpochMs = 4_000_000_000_000;
    const description = `Tributary partition leases and worker heartbeats (fencing epoch ${earlierEpochMs})`;
    await retried(() => first.jetstream().views.kv(bucket, { ttl: ttlMs, history: 1, replicas: 3, description }));
    const jsm = await first.jetstreamManager();
    const before = await retried(() => jsm.streams.info(`KV_${bucket}`));
    expect(before.config.description).toBe(description);

    // Today's workers open it (asking for the plain description) without error, and take a partition each.
    const w0 = await retried(() => PartitionLeases.open(first, bucket, { workerId: 'w0', ttlMs, replicas: 3 }));
    expect(await retried(() => w0.acquire(0))).toBe(true);
    const w1 = await retried(() => PartitionLeases.open(second, bucket, { workerId: 'w1', ttlMs, replicas: 3 }));
    expect(await retried(() => w1.acquire(1))).toBe(true);

    // The epoch written is the earlier one plus one (the clock is far below it); lease.0 was the bucket's first
    // write, revision 1: the token the lead saw by hand, 4000000000001 × 10^20 + 1.
    const t0 = w0.token(0)!;
    const t1 = w1.token(1)!;
    expect(t0 / 10n ** 20n).toBeGreaterThan(BigInt(earlierEpochMs));
    expect(t0).toBe(BigInt(earlierEpochMs + 1) * 10n ** 20n + 1n);
    // The second worker's token is on the same epoch, and larger (a later acquisition): the two compare.
    expect(t1 / 10n ** 20n).toBe(t0 / 10n ** 20n);
    expect(t1).toBeGreaterThan(t0);

    // The bucket's configuration is left as the earlier release made it, its description included.
    const after = await retried(() => jsm.streams.info(`KV_${bucket}`));
    expect(after.config.description).toBe(description);
    expect(after.config).toEqual(before.config);

    // Once every entry expired, the `epoch` key too, a worker that never read it still writes an epoch above the
    // earlier one (the description stays), so its lease's token is above every token taken before.
    await sleep(ttlMs * 2);
    expect(await retried(() => w0.leased())).toEqual(new Map());
    const w2 = await retried(() => PartitionLeases.open(second, bucket, { workerId: 'w2', ttlMs, replicas: 3 }));
    expect(await retried(() => w2.acquire(0))).toBe(true);
    expect(w2.token(0)! / 10n ** 20n).toBeGreaterThan(BigInt(earlierEpochMs));
    expect(w2.token(0)!).toBeGreaterThan(t1);
    expect((await retried(() => jsm.streams.info(`KV_${bucket}`))).config.description).toBe(description);
  }, 120_000);
});
