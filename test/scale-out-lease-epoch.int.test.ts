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
 * test/scale-out.int.test.ts under load as a snapshot that stopped short for minutes). The epoch is now the one
 * the bucket's creator writes into its description.
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
          return leases.token(i)! / 10n ** 20n;
        }),
      );
      spread.push([...new Set(opened)].join('/'));
    }
    expect(
      spread.filter((epochs) => epochs.includes('/')),
      spread.join(', '),
    ).toEqual([]);
  }, 120_000);
});
