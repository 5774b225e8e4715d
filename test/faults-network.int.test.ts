import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import type { Connection } from 'mysql2/promise';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { startCli, writePipelineFile } from './harness/cli-process.js';
import {
  freshPostgresDatabase,
  mysqlAdmin,
  mysqlUrl,
  uniqueName,
  waitFor,
  type FreshPostgresDatabase,
} from './harness/databases.js';
import { startFaultProxy, type FaultProxy } from './harness/fault-proxy.js';
import { testTempDir } from './harness/temp-dirs.js';
import {
  createItemsTable,
  describeWriter,
  faultPipelineYaml,
  report,
  retryLines,
  seededRandom,
  seedFromEnv,
  startFaultPipeline,
  startWriter,
  waitForEqual,
  type FaultPipeline,
  type SinkQuery,
} from './harness/faults.js';

/**
 * Issue 19, "liveness under network faults": a TCP fault proxy (test/harness/fault-proxy.ts) sits between the
 * pipeline and each server while a writer changes the source. Each fault — a reset of every connection, a
 * paused link, connections left half-open (the server side gone, the client side open and silent), a stream
 * that loses bytes — must be noticed and recovered from by itself, and the target must end equal to the
 * source. Half-open links used to stall the pipeline for good, silently.
 *
 * The deadlines are short here (heartbeat 500 ms, read timeouts of a few seconds) so that the suite stays quick;
 * the defaults are in docs/03-checkpoints.md. Times to recover are printed, not asserted.
 */
const SEED = seedFromEnv('TRIBUTARY_FAULT_SEED');
const ROWS = 12_000;

const SOURCE_YAML = `  heartbeat.interval: 500ms
  read.timeout: 3s
  connect.timeout: 3s
  scan.snapshot.rows-per-second: 2500`;

/** A mysql URL that reaches the shared MariaDB through `proxy`. */
function proxiedMysqlUrl(proxy: FaultProxy): string {
  const url = new URL(mysqlUrl());
  url.hostname = '127.0.0.1';
  url.port = String(proxy.port);
  return url.toString();
}

function proxiedSinkUrl(sink: FreshPostgresDatabase, proxy: FaultProxy): string {
  const url = new URL(sink.url);
  url.hostname = '127.0.0.1';
  url.port = String(proxy.port);
  return url.toString();
}

function targetOf(url: string): { host: string; port: number } {
  const parsed = new URL(url);
  return { host: parsed.hostname, port: Number(parsed.port) };
}

interface Recovery {
  /** The first retry line after the fault (undefined: no error was needed, e.g. a short pause). */
  readonly noticedMs: number | undefined;
  readonly code: string | undefined;
  /** The first checkpoint committed after the fault was noticed. */
  readonly checkpointMs: number;
}

/**
 * Waits until the pipeline commits a checkpoint after `fault()` — after a retry, if one follows the fault —
 * and returns how long each step took.
 */
async function faultAndRecover(
  pipeline: FaultPipeline,
  fault: () => void | Promise<void>,
  options: { expectRetry: boolean; healAfterMs?: number; heal?: () => void },
): Promise<Recovery> {
  const logsBefore = pipeline.logs.length;
  const started = Date.now();
  await fault();
  let noticedMs: number | undefined;
  let code: string | undefined;
  const healAt = options.healAfterMs === undefined ? undefined : started + options.healAfterMs;
  let healed = options.heal === undefined;
  await waitFor(
    () => {
      if (!healed && healAt !== undefined && Date.now() >= healAt) {
        options.heal!();
        healed = true;
      }
      if (pipeline.ended()) return true;
      const retries = retryLines(pipeline.logs.slice(logsBefore));
      if (noticedMs === undefined && retries.length > 0) {
        noticedMs = Date.now() - started;
        code = retries[0]!.code;
      }
      return healed && (!options.expectRetry || noticedMs !== undefined);
    },
    { timeoutMs: 90_000, intervalMs: 50, message: 'the fault to be noticed (a retry line)' },
  );
  if (pipeline.ended()) throw new Error(`the pipeline ended: ${pipeline.endedWith()}`);
  const checkpointsNow = pipeline.checkpoints.length;
  await waitFor(() => pipeline.ended() || pipeline.checkpoints.length > checkpointsNow, {
    timeoutMs: 90_000,
    intervalMs: 50,
    message: 'a checkpoint after the fault',
  });
  if (pipeline.ended()) throw new Error(`the pipeline ended: ${pipeline.endedWith()}`);
  return { noticedMs, code, checkpointMs: Date.now() - started };
}

function describeRecovery(name: string, r: Recovery, equalMs: number): string {
  const noticed =
    r.noticedMs === undefined ? 'no error needed' : `noticed after ${(r.noticedMs / 1000).toFixed(1)} s (${r.code})`;
  return `${name}: ${noticed}; first checkpoint after ${(r.checkpointMs / 1000).toFixed(1)} s; target equal after ${(equalMs / 1000).toFixed(1)} s`;
}

describe('network faults between the pipeline and its servers', () => {
  const db = uniqueName('netfault');
  const table = `${db}.items`;
  let source: Connection;
  let sink: FreshPostgresDatabase;
  let mysqlProxy: FaultProxy;
  let pgProxy: FaultProxy;
  let pipeline: FaultPipeline | undefined;
  let maxId = ROWS;
  const results: string[] = [];
  const sinkQuery: SinkQuery = async <R extends Record<string, unknown>>(sql: string, params?: unknown[]) =>
    await sink.query<R>(sql, params);

  beforeAll(async () => {
    source = await mysqlAdmin();
    await source.query(`CREATE DATABASE ${db}`);
    await createItemsTable(source, table, ROWS);
    sink = await freshPostgresDatabase('netfault');
    mysqlProxy = await startFaultProxy(targetOf(mysqlUrl()));
    pgProxy = await startFaultProxy(targetOf(sink.url));
    pipeline = await startFaultPipeline({
      name: 'net-faults',
      tables: table,
      sinkUrl: proxiedSinkUrl(sink, pgProxy),
      mysqlUrl: proxiedMysqlUrl(mysqlProxy),
      sourceYaml: SOURCE_YAML,
      sinkYaml: '  read.timeout: 5s\n  connect.timeout: 3s',
    });
  });

  afterAll(async () => {
    await pipeline?.stop().catch(() => undefined);
    await mysqlProxy?.close();
    await pgProxy?.close();
    if (results.length > 0) report(`network faults (seed ${SEED}), time to recover:\n  ${results.join('\n  ')}`);
    await sink?.drop();
    await source?.query(`DROP DATABASE IF EXISTS ${db}`);
    await source?.end();
  });

  /** Runs a writer through `fault`, then checks that the target equals the source. */
  async function withWriter(name: string, fault: () => Promise<Recovery>): Promise<void> {
    const writer = startWriter({
      connect: () => mysqlAdmin(),
      tables: [table],
      random: seededRandom(SEED + results.length),
      maxId,
    });
    maxId += 1_000_000;
    let recovery: Recovery;
    try {
      await writer.committed(20);
      recovery = await fault();
      await writer.committed(20);
    } finally {
      const stats = await writer.stop();
      report(`${name}: writer ${describeWriter(stats)}`);
    }
    const equalStarted = Date.now();
    await waitForEqual(source, sinkQuery, [table], {
      timeoutMs: 90_000,
      message: `the target to equal the source after ${name}`,
      stopIf: () => (pipeline!.ended() ? `the pipeline ended: ${pipeline!.endedWith()}` : undefined),
    });
    results.push(describeRecovery(name, recovery, recovery.checkpointMs + (Date.now() - equalStarted)));
  }

  it('MySQL connections half-open during the snapshot: noticed, reconnected, snapshot completes exactly', async () => {
    await waitFor(
      async () =>
        ((await sinkQuery(`SELECT count(*)::int AS n FROM ${table}`).catch(() => [{ n: 0 }]))[0]!['n'] as number) > 0,
      {
        timeoutMs: 60_000,
        message: 'the snapshot to start writing',
      },
    );
    expect(pipeline!.logs.join('\n')).not.toContain('snapshot complete');
    await withWriter('mysql half-open during snapshot', () =>
      faultAndRecover(pipeline!, () => mysqlProxy.halfOpen(), {
        expectRetry: true,
        healAfterMs: 2000,
        heal: () => mysqlProxy.heal(),
      }),
    );
  });

  it('MySQL connections half-open while streaming: the missing heartbeats are noticed', async () => {
    await withWriter('mysql half-open while streaming', () =>
      faultAndRecover(pipeline!, () => mysqlProxy.halfOpen(), {
        expectRetry: true,
        healAfterMs: 2000,
        heal: () => mysqlProxy.heal(),
      }),
    );
    expect(retryLines(pipeline!.logs).some((r) => r.code === 'SOURCE_TIMEOUT')).toBe(true);
  });

  it('MySQL connections reset while streaming', async () => {
    await withWriter('mysql reset while streaming', () =>
      faultAndRecover(pipeline!, () => mysqlProxy.resetAll(), { expectRetry: true }),
    );
  });

  it('MySQL link paused for 5 s while streaming', async () => {
    await withWriter('mysql paused 5 s while streaming', () =>
      faultAndRecover(pipeline!, () => mysqlProxy.pause(), {
        expectRetry: false,
        healAfterMs: 5000,
        heal: () => mysqlProxy.heal(),
      }),
    );
  });

  it('MySQL stream loses bytes (framing desync): torn down and reconnected, no warning loop on stderr', async () => {
    const stderr = vi.spyOn(console, 'error');
    try {
      await withWriter('mysql bytes lost while streaming', () =>
        faultAndRecover(pipeline!, () => mysqlProxy.dropServerBytes(37), { expectRetry: true }),
      );
      const warnings = stderr.mock.calls.filter((call) => String(call[0]).includes('packets out of order'));
      expect(warnings).toEqual([]);
    } finally {
      stderr.mockRestore();
    }
  });

  it('PostgreSQL connections reset while streaming', async () => {
    await withWriter('postgres reset while streaming', () =>
      faultAndRecover(pipeline!, () => pgProxy.resetAll(), { expectRetry: true }),
    );
  });

  it('PostgreSQL link paused for 5 s while streaming', async () => {
    await withWriter('postgres paused 5 s while streaming', () =>
      faultAndRecover(pipeline!, () => pgProxy.pause(), {
        expectRetry: false,
        healAfterMs: 5000,
        heal: () => pgProxy.heal(),
      }),
    );
  });

  it('both links slowed down (each chunk held 40 ms) for 5 s while streaming', async () => {
    await withWriter('both links slow for 5 s while streaming', () =>
      faultAndRecover(
        pipeline!,
        () => {
          mysqlProxy.slow(40);
          pgProxy.slow(40);
        },
        {
          expectRetry: false,
          healAfterMs: 5000,
          heal: () => {
            mysqlProxy.slow(0);
            pgProxy.slow(0);
          },
        },
      ),
    );
  });

  it('PostgreSQL connection half-open during commits: the silent statement times out', async () => {
    await withWriter('postgres half-open while streaming', () =>
      faultAndRecover(pipeline!, () => pgProxy.halfOpen(), {
        expectRetry: true,
        healAfterMs: 2000,
        heal: () => pgProxy.heal(),
      }),
    );
    expect(retryLines(pipeline!.logs).some((r) => r.code === 'SINK_TIMEOUT')).toBe(true);
  });
});

describe('the watchdog: a stall no connection deadline notices', () => {
  const db = uniqueName('netwatch');
  const table = `${db}.items`;
  let source: Connection;
  let sink: FreshPostgresDatabase;
  let pgProxy: FaultProxy;
  let pipeline: FaultPipeline | undefined;
  const sinkQuery: SinkQuery = async <R extends Record<string, unknown>>(sql: string, params?: unknown[]) =>
    await sink.query<R>(sql, params);

  beforeAll(async () => {
    source = await mysqlAdmin();
    await source.query(`CREATE DATABASE ${db}`);
    await createItemsTable(source, table, 2000);
    sink = await freshPostgresDatabase('netwatch');
    pgProxy = await startFaultProxy(targetOf(sink.url));
  });

  afterAll(async () => {
    await pipeline?.stop().catch(() => undefined);
    await pgProxy?.close();
    await sink?.drop();
    await source?.query(`DROP DATABASE IF EXISTS ${db}`);
    await source?.end();
  });

  it('restarts an attempt whose commit hangs on a half-open sink, and the target ends equal', async () => {
    // The sink's own deadline is far away: only the watchdog can notice this stall in time.
    pipeline = await startFaultPipeline({
      name: 'net-watchdog',
      tables: table,
      sinkUrl: proxiedSinkUrl(sink, pgProxy),
      sourceYaml: '  heartbeat.interval: 500ms',
      sinkYaml: '  read.timeout: 10min',
      pipelineYaml: '  watchdog.timeout: 6s',
    });
    await waitForEqual(source, sinkQuery, [table], { timeoutMs: 60_000, message: 'the snapshot to arrive' });
    // Idle by design: a caught-up pipeline whose binlog sends heartbeats is not a stall.
    await sleep(8000);
    expect(pipeline.pipeline.watchdog.stalls).toBe(0);

    const writer = startWriter({
      connect: () => mysqlAdmin(),
      tables: [table],
      random: seededRandom(SEED),
      maxId: 2000,
    });
    let recovery: Recovery;
    try {
      await writer.committed(20);
      recovery = await faultAndRecover(pipeline, () => pgProxy.halfOpen(), {
        expectRetry: true,
        healAfterMs: 2000,
        heal: () => pgProxy.heal(),
      });
      await writer.committed(20);
    } finally {
      await writer.stop();
    }
    const equalStarted = Date.now();
    await waitForEqual(source, sinkQuery, [table], { timeoutMs: 90_000, message: 'the target to catch up' });
    report(
      describeRecovery(
        'postgres half-open, watchdog only',
        recovery,
        recovery.checkpointMs + Date.now() - equalStarted,
      ),
    );
    expect(recovery.code).toBe('PIPELINE_STALLED');
    expect(pipeline.logs.some((line) => /watchdog: .* while waiting for the sink/.test(line))).toBe(true);
    expect(pipeline.pipeline.watchdog.stalls).toBeGreaterThanOrEqual(1);
  });
});

describe('stopping always stops', () => {
  const db = uniqueName('netstop');
  const table = `${db}.items`;
  let source: Connection;
  let sink: FreshPostgresDatabase;
  let pgProxy: FaultProxy;
  const sinkQuery: SinkQuery = async <R extends Record<string, unknown>>(sql: string, params?: unknown[]) =>
    await sink.query<R>(sql, params);

  beforeAll(async () => {
    source = await mysqlAdmin();
    await source.query(`CREATE DATABASE ${db}`);
    await createItemsTable(source, table, 2000);
    sink = await freshPostgresDatabase('netstop');
    pgProxy = await startFaultProxy(targetOf(sink.url));
  });

  afterAll(async () => {
    await pgProxy?.close();
    await sink?.drop();
    await source?.query(`DROP DATABASE IF EXISTS ${db}`);
    await source?.end();
  });

  it('SIGINT ends `tributary run` while its sink connection is half-open; the next run resumes exactly', async () => {
    const dir = await testTempDir('tributary-netstop');
    const { yaml, env } = await faultPipelineYaml({
      name: 'net-stop',
      tables: table,
      sinkUrl: proxiedSinkUrl(sink, pgProxy),
      stateDir: join(dir, 'state'),
    });
    const file = await writePipelineFile(dir, yaml);
    const writer = startWriter({
      connect: () => mysqlAdmin(),
      tables: [table],
      random: seededRandom(SEED),
      maxId: 2000,
    });
    try {
      // Each checkpoint is logged at debug level.
      const cli = startCli(['run', file, '--log-level', 'debug'], env);
      await waitFor(
        () => /checkpoint \d+: [1-9]\d* changes/.test(cli.output()) && /snapshot complete/.test(cli.output()),
        {
          timeoutMs: 90_000,
          message: `checkpoints while streaming:\n${cli.output()}`,
        },
      );
      await writer.committed(20);
      pgProxy.halfOpen();
      await sleep(1000);
      const signalled = Date.now();
      cli.child.kill('SIGINT');
      // A give-up bound only: the process must end by itself (the runner skips the savepoint after 10 s).
      const exit = await Promise.race([cli.exited, sleep(120_000).then(() => 'still running')]);
      const stoppedMs = Date.now() - signalled;
      if (exit === 'still running') cli.child.kill('SIGKILL');
      expect(exit, cli.output().slice(-3000)).toBe(0);
      expect(cli.output()).toContain('stopping without a final savepoint');
      report(`SIGINT with a half-open sink: exited after ${(stoppedMs / 1000).toFixed(1)} s`);
    } finally {
      await writer.stop();
    }

    pgProxy.heal();
    const again = startCli(['run', file], env);
    try {
      await waitForEqual(source, sinkQuery, [table], {
        timeoutMs: 90_000,
        message: 'the next run to catch up',
        stopIf: () => (again.child.exitCode !== null ? `the run ended:\n${again.output()}` : undefined),
      });
    } finally {
      again.child.kill('SIGINT');
      expect(await again.exited).toBe(0);
    }
    expect(again.output()).toContain('savepoint written');
  });
});

describe('snapshot-only mode: no binlog heartbeat to notice a half-open link', () => {
  const db = uniqueName('netsnap');
  const table = `${db}.items`;
  let source: Connection;
  let sink: FreshPostgresDatabase;
  let mysqlProxy: FaultProxy;
  let pipeline: FaultPipeline | undefined;
  const sinkQuery: SinkQuery = async <R extends Record<string, unknown>>(sql: string, params?: unknown[]) =>
    await sink.query<R>(sql, params);

  beforeAll(async () => {
    source = await mysqlAdmin();
    await source.query(`CREATE DATABASE ${db}`);
    await createItemsTable(source, table, 12_000);
    sink = await freshPostgresDatabase('netsnap');
    mysqlProxy = await startFaultProxy(targetOf(mysqlUrl()));
  });

  afterAll(async () => {
    await pipeline?.stop().catch(() => undefined);
    await mysqlProxy?.close();
    await sink?.drop();
    await source?.query(`DROP DATABASE IF EXISTS ${db}`);
    await source?.end();
  });

  it('a snapshot query on a half-open connection times out, and the snapshot finishes exactly', async () => {
    pipeline = await startFaultPipeline({
      name: 'net-snapshot',
      tables: table,
      sinkUrl: sink.url,
      mysqlUrl: proxiedMysqlUrl(mysqlProxy),
      sourceYaml:
        '  scan.startup.mode: snapshot\n  read.timeout: 3s\n  connect.timeout: 3s\n  scan.snapshot.rows-per-second: 2000',
    });
    await waitFor(
      async () =>
        ((await sinkQuery(`SELECT count(*)::int AS n FROM ${table}`).catch(() => [{ n: 0 }]))[0]!['n'] as number) > 0,
      { timeoutMs: 60_000, message: 'the snapshot to start writing' },
    );
    expect(pipeline.ended()).toBe(false);
    const recovery = await faultAndRecover(pipeline, () => mysqlProxy.halfOpen(), {
      expectRetry: true,
      healAfterMs: 2000,
      heal: () => mysqlProxy.heal(),
    });
    const result = await Promise.race([pipeline.done, sleep(120_000).then(() => undefined)]);
    expect(result?.outcome).toBe('finished');
    const equalStarted = Date.now();
    await waitForEqual(source, sinkQuery, [table], { timeoutMs: 30_000, message: 'the snapshot to be exact' });
    report(
      describeRecovery(
        'mysql half-open, snapshot-only mode',
        recovery,
        recovery.checkpointMs + Date.now() - equalStarted,
      ),
    );
    expect(recovery.code).toBe('SOURCE_TIMEOUT');
  });
});
