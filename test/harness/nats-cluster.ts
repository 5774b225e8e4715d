import { setTimeout as sleep } from 'node:timers/promises';
import { connect, type JetStreamManager } from 'nats';
import { freePort, startNatsServer, withFreshPorts, type TestNatsServer } from './nats-server.js';

/** One server of a {@link TestNatsCluster}. */
export interface ClusterNode {
  readonly url: string;
  /** Its server name, `node-<i>` (what stream info names as leader and replicas). */
  readonly name: string;
  /**
   * Its own copy of stream `name` as its monitoring endpoint (`/jsz`) reports it: the last sequence and the
   * message count in this server's store, undefined when the server is down or holds no copy. Unlike the
   * leader's stream info (whose `current`/`lag` are about the Raft log), this says whether a restarted server's
   * store has caught up.
   */
  localStream(name: string): Promise<{ lastSeq: number; messages: number } | undefined>;
  /** SIGKILL, keeping its store: a crash of this server. */
  kill(): Promise<void>;
  /** Starts it again on the same ports and store; it rejoins the cluster. */
  start(): Promise<void>;
}

/** A JetStream cluster of private nats-servers on 127.0.0.1 (client and route ports free ones, stores apart). */
export interface TestNatsCluster {
  readonly nodes: readonly ClusterNode[];
  /** Every node's URL, comma-separated: what `servers:` gets. */
  readonly servers: string;
  stop(): Promise<void>;
}

/** Starts `size` (3) nats-servers with `-js`, `--cluster` and `--routes` to each other; resolves when JetStream answers. */
export async function startNatsCluster(size = 3): Promise<TestNatsCluster> {
  const clusterPorts: number[] = [];
  const monitorPorts: number[] = [];
  // Each a private server of its own (port, store, restart on the same ones), joined by its route arguments; all
  // started again on other ports when one of them finds a port taken.
  const nodes = await withFreshPorts(async () => {
    clusterPorts.splice(0, size, ...(await Promise.all([...Array(size).keys()].map(() => freePort()))));
    monitorPorts.splice(0, size, ...(await Promise.all([...Array(size).keys()].map(() => freePort()))));
    const routes = clusterPorts.map((port) => `nats://127.0.0.1:${port}`).join(',');
    const started = await Promise.allSettled(
      clusterPorts.map((port, i) =>
        startNatsServer({
          args: [
            '-n',
            `node-${i}`,
            '--cluster_name',
            'tributary-test',
            '--cluster',
            `nats://127.0.0.1:${port}`,
            '--routes',
            routes,
            '-m',
            String(monitorPorts[i]),
          ],
        }),
      ),
    );
    const running = started.flatMap((s) => (s.status === 'fulfilled' ? [s.value] : []));
    const failed = started.find((s): s is PromiseRejectedResult => s.status === 'rejected');
    if (failed === undefined) return running;
    await Promise.all(running.map((n: TestNatsServer) => n.stop()));
    throw failed.reason;
  });
  const servers = nodes.map((n) => n.url).join(',');
  await untilJetStreamAnswers(
    nodes.map((n) => n.url),
    size,
  );
  return {
    nodes: nodes.map((n, i) => ({
      url: n.url,
      name: `node-${i}`,
      start: () => n.start(),
      kill: () => n.kill(),
      localStream: (name: string) => localStream(monitorPorts[i]!, name),
    })),
    servers,
    stop: async () => {
      await Promise.all(nodes.map((n) => n.stop()));
    },
  };
}

/** Stream `name` in the store of the server whose monitoring port is `port` (see {@link ClusterNode.localStream}). */
async function localStream(port: number, name: string): Promise<{ lastSeq: number; messages: number } | undefined> {
  try {
    const response = await fetch(`http://127.0.0.1:${port}/jsz?streams=true`, { signal: AbortSignal.timeout(3000) });
    const jsz = (await response.json()) as {
      account_details?: { stream_detail?: { name: string; state: { last_seq: number; messages: number } }[] }[];
    };
    for (const account of jsz.account_details ?? []) {
      const stream = account.stream_detail?.find((s) => s.name === name);
      if (stream) return { lastSeq: stream.state.last_seq, messages: stream.state.messages };
    }
    return undefined;
  } catch {
    return undefined;
  }
}

/**
 * Waits until the cluster takes a stream replicated on every node (it answers only once all of them are peers)
 * and then until every node answers JetStream requests itself: a node that joined late answers "no responders"
 * (503) or lets a request time out for a moment after the meta leader already answers.
 */
async function untilJetStreamAnswers(urls: readonly string[], size: number): Promise<void> {
  const deadline = Date.now() + 60_000;
  const retry = async (what: string, attempt: () => Promise<void>) => {
    for (;;) {
      try {
        return await attempt();
      } catch (error) {
        if (Date.now() > deadline) throw new Error(`the JetStream cluster did not form (${what}): ${String(error)}`);
        await sleep(250);
      }
    }
  };
  const onNode = async (servers: string, work: (jsm: JetStreamManager) => Promise<unknown>) => {
    const nc = await connect({ servers, timeout: 2000, maxReconnectAttempts: 0 });
    try {
      await work(await nc.jetstreamManager({ timeout: 5000 }));
    } finally {
      await nc.close();
    }
  };
  await retry('a stream on every node', () =>
    onNode(urls.join(','), async (jsm) => {
      await jsm.streams.add({ name: 'cluster_ready', subjects: ['cluster_ready'], num_replicas: size });
    }),
  );
  for (const url of urls) {
    await retry(`JetStream at ${url}`, () =>
      onNode(url, async (jsm) => {
        await jsm.getAccountInfo();
        await jsm.streams.info('cluster_ready');
      }),
    );
  }
  await onNode(urls.join(','), (jsm) => jsm.streams.delete('cluster_ready'));
}
