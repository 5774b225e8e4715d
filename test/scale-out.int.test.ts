import { connect } from 'nats';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { CliProcess } from './harness/cli-process.js';
import { startNatsCluster, type ClusterNode, type TestNatsCluster } from './harness/nats-cluster.js';
import { waitFor } from './harness/databases.js';
import { startScaleOutCluster, type ScaleOutCluster } from './harness/scale-out-cluster.js';

const ROWS = 20_000;
const PARTITIONS = 6;

/**
 * Issue 17: one pipeline file run as 1 capture + 3 apply workers over a three-node JetStream cluster (stream
 * and lease bucket with 3 replicas), MariaDB → JetStream → PostgreSQL. The capture and an apply worker are
 * killed with SIGKILL during the snapshot, and so is the JetStream server leading the stream (then restarted);
 * under a concurrent writer an apply worker, the capture and the JetStream server leading the stream are killed
 * (the server then restarted), and a fourth worker joins; the target ends equal to the source, and no key's
 * counter is ever seen going backwards in the target (per-key order holds across the handovers).
 */
describe('scale-out: capture + apply workers over a three-server JetStream cluster survive kill -9', () => {
  let cluster: TestNatsCluster;
  /** The processes and databases (TRIBUTARY_TEST_LOG_DIR=<dir> keeps every process's debug log in <dir>). */
  let so: ScaleOutCluster;

  beforeAll(async () => {
    cluster = await startNatsCluster(3);
    so = await startScaleOutCluster({
      prefix: 'scaleout',
      name: 'scale',
      servers: cluster.servers,
      rows: ROWS,
      chunkSize: 500,
      scaleOut: [`  partitions: ${PARTITIONS}`, '  replicas: 3', '  lease.ttl: 4s'],
    });
  });

  afterAll(async () => {
    await so?.stop();
    await cluster?.stop();
  });

  it('kill -9 of the capture, a worker and a JetStream server during the snapshot, of a worker, the capture and a JetStream server while streaming: target equals source', async () => {
    const { db, source, sink, start, outputs, until, sourceRows, targetRows, targetCount, processes } = so;
    const killed = new Set<CliProcess>();
    const snapshotKills: string[] = [];
    // Seconds each step took, printed at the end (where a slow run spent its time).
    const steps: string[] = [];
    let stepStart = Date.now();
    const step = (name: string) => {
      steps.push(`${name} ${((Date.now() - stepStart) / 1000).toFixed(1)} s`);
      stepStart = Date.now();
    };
    const kill = async (p: CliProcess) => {
      killed.add(p);
      p.child.kill('SIGKILL');
      expect(await p.exited, outputs()).toBe('SIGKILL');
    };
    let capture = start('capture');
    const workers = [start('apply'), start('apply'), start('apply')];

    const seen = new Map<string, number>();
    const regressions: string[] = [];
    let watching = true;
    // Watches the target from the start: a key's counter n never goes backwards (during the snapshot n is 0).
    const watcher = (async () => {
      while (watching) {
        for (const [id, , n] of await targetRows().catch(() => [])) {
          const before = seen.get(id!) ?? -1;
          if (Number(n) < before) regressions.push(`${id}: ${before} → ${n}`);
          seen.set(id!, Math.max(before, Number(n)));
        }
        await new Promise((r) => setTimeout(r, 300));
      }
    })();
    let writing = true;
    let writer: Promise<void> = Promise.resolve();

    try {
      // During the snapshot: the capture is killed once the first chunks reached the target (the capture is
      // ahead of the target, so it is still reading the table), and restarted; a worker is killed while the
      // target is still short of the table.
      let count = 0;
      await until(async () => (count = await targetCount()) >= 1_000, 90_000, 'the snapshot to begin arriving');
      step('first rows');
      snapshotKills.push(`capture at ${count} of ${ROWS} rows`);
      await kill(capture);
      capture = start('capture');
      await until(async () => (count = await targetCount()) >= ROWS / 2, 90_000, 'half the snapshot to arrive');
      step('half the snapshot');
      snapshotKills.push(`worker at ${count} of ${ROWS} rows`);
      await kill(workers[0]!);
      // The JetStream server leading the stream dies mid-snapshot: the snapshot goes on through the other two
      // (at least 1,000 more rows arrive while it is down), then it is restarted and catches up.
      await until(async () => (count = await targetCount()) >= (ROWS * 3) / 5, 90_000, '60 % of the snapshot');
      const snapshotLeader = await streamLeader(cluster.servers, so.stream);
      const snapshotNode = cluster.nodes[Number(/^node-(\d+)$/.exec(snapshotLeader)?.[1])]!;
      snapshotKills.push(`JetStream ${snapshotLeader} at ${count} of ${ROWS} rows`);
      await snapshotNode.kill();
      const whileDown = count;
      await until(
        async () => (count = await targetCount()) >= Math.min(ROWS, whileDown + 1_000),
        90_000,
        `the snapshot to go on with ${snapshotLeader} down`,
      );
      step(`${snapshotLeader} killed during the snapshot`);
      await snapshotNode.start();
      await until(async () => (await targetCount()) === ROWS, 180_000, 'the snapshot to arrive');
      step('whole snapshot');
      // One failure at a time, as three replicas allow: the restarted server catches up before the next kill
      // (with it still behind, losing the leader too would leave one current copy of the stream).
      // Caught up means its store holds the stream up to the leader's last message: the leader's stream info says
      // `current` with lag 0 as soon as the Raft log is, while the store can stay thousands of messages behind.
      // Killing the leader then leaves one current copy, and JetStream may elect the one behind: the stream loses
      // acknowledged messages and numbers new ones in their place (docs/scale-out.md, "Failure cases").
      // nats-server 2.9.10 (Debian's) often leaves a copy stuck for good — the restarted server's, or another
      // follower's that was behind when the leader died — while writes go on and the leader calls it current
      // (5 of 13 runs under load; neither restarting that server nor removing it as a peer helped). Killing the
      // leader then would be a second failure, beyond what three replicas promise: the server whose copy is
      // stuck is the one killed while streaming instead (still a server dying under the readers' consumers).
      let stuck: ClusterNode | undefined;
      try {
        await waitFor(() => streamCurrent(cluster, so.stream), { timeoutMs: 60_000, intervalMs: 300 });
      } catch {
        stuck = (await copiesBehind(cluster, so.stream))[0];
        if (stuck) {
          const state = await clusterState(cluster, so.stream);
          console.log(`${stuck.name}'s copy of the stream is stuck (${state}): it is killed instead of the leader`);
        }
      }
      console.log(`after ${snapshotLeader}'s restart: ${await clusterState(cluster, so.stream)}`);
      step(stuck ? `${stuck.name} stuck` : `${snapshotLeader} caught up`);

      // A concurrent writer: every update raises a key's counter n, so a change applied out of order would show
      // as n going backwards in the target (30 keys a round: a load two cores keep up with).
      let round = 0;
      writer = (async () => {
        while (writing) {
          round++;
          await source.query(
            `UPDATE ${db}.items SET n = n + 1, val = CONCAT('w', ${round}) WHERE id <= 3000 AND id % 100 = ${round % 100}`,
          );
          await source.query(`INSERT INTO ${db}.items VALUES (${ROWS + round}, 'new', 0)`);
          if (round % 5 === 0) await source.query(`DELETE FROM ${db}.items WHERE id = ${ROWS + round - 3}`);
          await new Promise((r) => setTimeout(r, 50));
        }
      })();
      // The whole chain works: a row written now reaches the target (through the capture, the stream, a worker).
      // After a JetStream server's death or restart that can take over a minute (docs/scale-out.md, "Failures"):
      // new consumers land on a server whose copy of the stream lags, and are made again until one does not.
      let marker = 0;
      const progressed = async () => {
        const id = 1_000_000 + ++marker;
        const began = Date.now();
        await source.query(`INSERT INTO ${db}.items VALUES (${id}, 'marker', 0)`);
        try {
          await until(
            async () => (await sink.query(`SELECT 1 FROM ${db}.items WHERE id = ${id}`).catch(() => [])).length === 1,
            180_000,
            `marker row ${id} to arrive`,
          );
        } catch (error) {
          // What the stream looked like on each server when the row did not come (a copy behind, no leader).
          const state = await clusterState(cluster, so.stream).catch((e: unknown) => String(e));
          throw new Error(`${(error as Error).message.split('\n')[0]} (JetStream: ${state})\n${outputs()}`);
        }
        console.log(`marker ${id} after ${Date.now() - began} ms`);
      };

      await progressed();
      step('streaming');
      await kill(workers[1]!);
      await progressed();
      step('worker killed');
      await kill(capture);
      capture = start('capture');
      await progressed();
      step('capture killed');
      // The server leading the stream (or the one whose copy is stuck, above) dies (its store kept): the stream
      // and the lease bucket elect leaders on the other two, the clients connected to it reconnect elsewhere;
      // restarted, it catches up.
      const leader = stuck?.name ?? (await streamLeader(cluster.servers, so.stream));
      const node = cluster.nodes[Number(/^node-(\d+)$/.exec(leader)?.[1])]!;
      console.log(`killing ${leader} while streaming: ${await clusterState(cluster, so.stream)}`);
      await node.kill();
      await progressed();
      step(`${leader} killed`);
      await node.start();
      await progressed();
      step(`${leader} restarted`);
      workers.push(start('apply')); // a new worker joins: the others hand partitions over
      await progressed();
      step('worker joined');

      writing = false;
      await writer;
      await until(
        async () => JSON.stringify(await targetRows()) === JSON.stringify(await sourceRows()),
        180_000,
        'PostgreSQL to equal MariaDB',
      );
      step('converged');
    } finally {
      writing = false;
      watching = false;
      await Promise.allSettled([writer, watcher]);
    }
    console.log(`killed during the snapshot: ${snapshotKills.join(', ')}; steps: ${steps.join(', ')}`);
    expect(regressions).toEqual([]);
    // Nothing but the killed processes stopped.
    const ended = processes.filter((p) => p.child.exitCode !== null || p.child.signalCode !== null);
    expect(new Set(ended), outputs()).toEqual(killed);
    expect(processes.some((p) => p.output().includes('applying partition'))).toBe(true);
  }, 900_000);
});

/** The name of the server leading stream `name` (`node-<i>` in the test cluster). */
async function streamLeader(servers: string, name: string): Promise<string> {
  const nc = await connect({ servers: servers.split(',') });
  try {
    const info = await (await nc.jetstreamManager()).streams.info(name);
    if (!info.cluster?.leader) throw new Error(`stream ${name} has no leader`);
    return info.cluster.leader;
  } finally {
    await nc.close();
  }
}

/**
 * Whether every server's copy of stream `name` is current: the leader sees both replicas current (Raft) and each
 * server's own store ends at the leader's last sequence (the test writes nothing meanwhile).
 */
async function streamCurrent(cluster: TestNatsCluster, name: string): Promise<boolean> {
  const nc = await connect({ servers: cluster.servers.split(','), timeout: 3_000 });
  try {
    const info = await (await nc.jetstreamManager()).streams.info(name);
    const replicas = info.cluster?.replicas ?? [];
    if (!(replicas.length === 2 && replicas.every((r) => r.current && (r.lag ?? 0) === 0))) return false;
    const copies = await Promise.all(cluster.nodes.map((n) => n.localStream(name)));
    return copies.every((copy) => copy?.lastSeq === info.state.last_seq);
  } catch {
    return false;
  } finally {
    await nc.close();
  }
}

/** The servers whose own copy of stream `name` ends before the leader's last sequence. */
async function copiesBehind(cluster: TestNatsCluster, name: string): Promise<ClusterNode[]> {
  const nc = await connect({ servers: cluster.servers.split(','), timeout: 3_000 });
  try {
    const info = await (await nc.jetstreamManager({ timeout: 3_000 })).streams.info(name);
    const copies = await Promise.all(cluster.nodes.map((n) => n.localStream(name)));
    return cluster.nodes.filter((_, i) => (copies[i]?.lastSeq ?? 0) < info.state.last_seq);
  } finally {
    await nc.close();
  }
}

/** The stream's leader and last sequence, and each server's own copy: `leader node-1 at 123; node-0 123, …`. */
async function clusterState(cluster: TestNatsCluster, name: string): Promise<string> {
  const copies = await Promise.all(
    cluster.nodes.map(async (n) => {
      const copy = await n.localStream(name);
      return `${n.name} ${copy === undefined ? 'down (or no copy)' : `at ${copy.lastSeq} (${copy.messages} messages)`}`;
    }),
  );
  let leader = 'unknown';
  const nc = await connect({ servers: cluster.servers.split(','), timeout: 3_000 });
  try {
    const info = await (await nc.jetstreamManager({ timeout: 3_000 })).streams.info(name);
    leader = `leader ${info.cluster?.leader ?? 'none'} at ${info.state.last_seq}`;
  } catch (error) {
    leader = `leader unknown (${String(error)})`;
  } finally {
    await nc.close();
  }
  return `${leader}; ${copies.join(', ')}`;
}
