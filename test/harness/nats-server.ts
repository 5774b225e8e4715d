import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { AckPolicy, connect, DeliverPolicy, type ConnectionOptions } from 'nats';
import { testTempDir } from './temp-dirs.js';

/** A private nats-server with JetStream on a free port of 127.0.0.1, its store in the run's temp root. */
export interface TestNatsServer {
  readonly url: string;
  readonly port: number;
  readonly storeDir: string;
  /** SIGKILL, keeping the store: a crash of the server. */
  kill(): Promise<void>;
  /** Starts it again on the same port and store. */
  start(): Promise<void>;
  stop(): Promise<void>;
  [Symbol.asyncDispose](): Promise<void>;
}

/** Debian's nats-server (`apt-get install nats-server`; installed here when missing and running as root). */
export function natsServerBinary(): string {
  for (const path of ['/usr/sbin/nats-server', '/usr/bin/nats-server', '/usr/local/bin/nats-server']) {
    if (existsSync(path)) return path;
  }
  if (process.getuid?.() === 0) {
    spawnSync('apt-get', ['install', '-y', 'nats-server'], {
      stdio: 'ignore',
      env: { ...process.env, DEBIAN_FRONTEND: 'noninteractive' },
    });
    if (existsSync('/usr/sbin/nats-server')) return '/usr/sbin/nats-server';
  }
  throw new Error('nats-server is missing: apt-get install nats-server');
}

/**
 * Ports handed out to this process's servers are taken from below Linux's ephemeral range (32768–60999), where the
 * kernel never puts the local end of an outgoing connection: a port bound 0 and released was free for a moment
 * only, and under load a client connection of another test could take it before the server bound it (CI saw
 * nats-server exit with "address already in use"). Never the same port twice in one process.
 */
const PORT_RANGE = { low: 20_000, high: 32_000 } as const;
const handedOut = new Set<number>();

/** A free TCP port of 127.0.0.1 (for the servers' own ports, e.g. a cluster's route port). */
export async function freePort(): Promise<number> {
  for (let attempt = 0; attempt < 200; attempt++) {
    const port = PORT_RANGE.low + Math.floor(Math.random() * (PORT_RANGE.high - PORT_RANGE.low));
    if (handedOut.has(port) || !(await canListen(port))) continue;
    handedOut.add(port);
    return port;
  }
  throw new Error(`no free port of 127.0.0.1 between ${PORT_RANGE.low} and ${PORT_RANGE.high}`);
}

async function canListen(port: number): Promise<boolean> {
  return await new Promise((resolve) => {
    const server = createServer();
    server.once('error', () => resolve(false));
    server.listen(port, '127.0.0.1', () => server.close(() => resolve(true)));
  });
}

/** Thrown when a server could not bind one of its ports: another process took it; start again on other ports. */
export class PortTakenError extends Error {}

/** Tries `start` with fresh ports (it picks them) up to three times while a port turns out to be taken. */
export async function withFreshPorts<T>(start: () => Promise<T>): Promise<T> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await start();
    } catch (error) {
      if (!(error instanceof PortTakenError) || attempt >= 3) throw error;
    }
  }
}

/** Starts a nats-server for one test file; stop it in afterAll (or `await using`). */
export async function startNatsServer(
  options: {
    /** More nats-server arguments, e.g. `--tls --tlscert …`. */
    readonly args?: readonly string[];
    /** Connection options of the readiness probe (TLS settings for a server that requires TLS). */
    readonly probe?: Partial<ConnectionOptions>;
  } = {},
): Promise<TestNatsServer> {
  return await withFreshPorts(() => startOnFreePort(options));
}

async function startOnFreePort(options: {
  readonly args?: readonly string[];
  readonly probe?: Partial<ConnectionOptions>;
}): Promise<TestNatsServer> {
  const binary = natsServerBinary();
  const dir = await testTempDir('nats');
  const storeDir = join(dir, 'store');
  const port = await freePort();
  const url = `nats://127.0.0.1:${port}`;
  let child: ChildProcess | undefined;
  const output: string[] = [];

  const start = async (): Promise<void> => {
    const proc = spawn(
      binary,
      ['-js', '-a', '127.0.0.1', '-p', String(port), '-sd', storeDir, ...(options.args ?? [])],
      {
        stdio: ['ignore', 'pipe', 'pipe'],
      },
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
      if (proc.exitCode !== null) {
        const message = `nats-server exited with ${proc.exitCode}: ${output.join('')}`;
        throw /address already in use/i.test(message) ? new PortTakenError(message) : new Error(message);
      }
      try {
        const nc = await connect({ servers: url, timeout: 1000, maxReconnectAttempts: 0, ...options.probe });
        await nc.close();
        return;
      } catch {
        if (Date.now() > deadline) throw new Error(`nats-server did not start on ${url}: ${output.join('')}`);
        await sleep(100);
      }
    }
  };
  const halt = async (signal: NodeJS.Signals): Promise<void> => {
    const proc = child;
    child = undefined;
    if (!proc || proc.exitCode !== null) return;
    const exited = new Promise<void>((resolve) => proc.once('exit', () => resolve()));
    proc.kill(signal);
    await exited;
  };
  await start();
  const stop = () => halt('SIGTERM');
  return { url, port, storeDir, kill: () => halt('SIGKILL'), start, stop, [Symbol.asyncDispose]: stop };
}

/** A message of a stream as a reader that knows nothing of Tributary sees it (value parsed with JSON.parse). */
export interface StreamMessage {
  readonly subject: string;
  readonly seq: number;
  readonly value: Record<string, unknown> | null;
}

/** Every message of `stream` on subjects matching `filter`, read with a plain ephemeral consumer. */
export async function readStream(url: string, stream: string, filter: string): Promise<StreamMessage[]> {
  const nc = await connect({ servers: url });
  try {
    const jsm = await nc.jetstreamManager();
    const info = await jsm.streams.info(stream);
    const name = `check_${Date.now()}_${Math.floor(Math.random() * 1e6)}`;
    await jsm.consumers.add(stream, {
      name,
      ack_policy: AckPolicy.None,
      deliver_policy: DeliverPolicy.All,
      filter_subject: filter,
    });
    const out: StreamMessage[] = [];
    const matching = await jsm.consumers.info(stream, name);
    if (info.state.messages > 0 && matching.num_pending > 0) {
      const consumer = await nc.jetstream().consumers.get(stream, name);
      const messages = await consumer.consume();
      for await (const m of messages) {
        out.push({
          subject: m.subject,
          seq: m.seq,
          value: m.data.length === 0 ? null : (JSON.parse(m.string()) as Record<string, unknown>),
        });
        if (m.info.pending === 0) break;
      }
      messages.stop();
    }
    await jsm.consumers.delete(stream, name);
    return out;
  } finally {
    await nc.close();
  }
}
