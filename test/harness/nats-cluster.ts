import { spawn, type ChildProcess } from 'node:child_process';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { connect } from 'nats';
import { natsServerBinary } from './nats-server.js';
import { testTempDir } from './temp-dirs.js';

/** One server of a {@link TestNatsCluster}. */
export interface ClusterNode {
  readonly url: string;
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

async function freePort(): Promise<number> {
  return await new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      server.close(() => resolve(typeof address === 'object' && address ? address.port : 0));
    });
  });
}

/** Starts `size` (3) nats-servers with `-js`, `--cluster` and `--routes` to each other; resolves when JetStream answers. */
export async function startNatsCluster(size = 3): Promise<TestNatsCluster> {
  const binary = natsServerBinary();
  const dir = await testTempDir('nats-cluster');
  const ports = await Promise.all([...Array(size).keys()].map(async () => [await freePort(), await freePort()]));
  const routes = ports.map(([, cluster]) => `nats://127.0.0.1:${cluster}`).join(',');
  const nodes = ports.map(([client, cluster], i) => {
    let child: ChildProcess | undefined;
    const output: string[] = [];
    const url = `nats://127.0.0.1:${client}`;
    const start = async (): Promise<void> => {
      const proc = spawn(
        binary,
        [
          '-js',
          '-a',
          '127.0.0.1',
          '-p',
          String(client),
          '-sd',
          join(dir, `store-${i}`),
          '-n',
          `node-${i}`,
          '--cluster_name',
          'tributary-test',
          '--cluster',
          `nats://127.0.0.1:${cluster}`,
          '--routes',
          routes,
        ],
        { stdio: ['ignore', 'pipe', 'pipe'] },
      );
      child = proc;
      const keep = (chunk: Buffer) => {
        output.push(chunk.toString());
        if (output.length > 40) output.shift();
      };
      proc.stdout?.on('data', keep);
      proc.stderr?.on('data', keep);
      const deadline = Date.now() + 30_000;
      for (;;) {
        if (proc.exitCode !== null) throw new Error(`nats-server exited with ${proc.exitCode}: ${output.join('')}`);
        try {
          const nc = await connect({ servers: url, timeout: 1000, maxReconnectAttempts: 0 });
          await nc.close();
          return;
        } catch {
          if (Date.now() > deadline) throw new Error(`nats-server did not start on ${url}: ${output.join('')}`);
          await sleep(100);
        }
      }
    };
    const kill = async (): Promise<void> => {
      const proc = child;
      child = undefined;
      if (!proc || proc.exitCode !== null) return;
      const exited = new Promise<void>((resolve) => proc.once('exit', () => resolve()));
      proc.kill('SIGKILL');
      await exited;
    };
    const stop = async (): Promise<void> => {
      const proc = child;
      child = undefined;
      if (!proc || proc.exitCode !== null) return;
      const exited = new Promise<void>((resolve) => proc.once('exit', () => resolve()));
      proc.kill('SIGTERM');
      await exited;
    };
    return { url, start, kill, stop };
  });
  await Promise.all(nodes.map((n) => n.start()));
  const servers = nodes.map((n) => n.url).join(',');
  // JetStream answers once the cluster elected its meta leader.
  const deadline = Date.now() + 60_000;
  for (;;) {
    try {
      const nc = await connect({ servers, timeout: 2000, maxReconnectAttempts: 0 });
      try {
        await (await nc.jetstreamManager({ timeout: 2000 })).getAccountInfo();
        break;
      } finally {
        await nc.close();
      }
    } catch (error) {
      if (Date.now() > deadline) throw new Error(`the JetStream cluster did not form: ${String(error)}`);
      await sleep(250);
    }
  }
  return {
    nodes: nodes.map(({ url, start, kill }) => ({ url, start, kill })),
    servers,
    stop: async () => {
      await Promise.all(nodes.map((n) => n.stop()));
    },
  };
}
