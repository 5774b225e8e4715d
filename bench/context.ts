/**
 * What every workload shares: the two private servers, the connections to them, the results collected so far,
 * and the steps all of them take (fresh databases, pipeline processes, polls, one timed run recorded).
 */
import { execFile } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { setTimeout as sleep } from 'node:timers/promises';
import { promisify } from 'node:util';
import type { Connection } from 'mysql2/promise';
import pg from 'pg';
import { startEmbeddedMariadb } from '../src/embedded/embedded-mariadb.js';
import { duckdbTargetPath } from './duckdb-target.js';
import { startEmbeddedPostgres } from '../src/embedded/embedded-postgres.js';
import type { EmbeddedServer } from '../src/embedded/embedded-server.js';
import { embeddedServerPid, serverCpuSeconds } from './measure.js';
import type { Group, Options } from './options.js';
import { PipelineProcess } from './pipeline-process.js';
import { round, type RunRecord, type WorkloadResult } from './report.js';

const execFileAsync = promisify(execFile);

export function say(message: string): void {
  console.log(`${new Date().toISOString().slice(11, 19)} ${message}`);
}

export const errorMessage = (error: unknown): string => (error instanceof Error ? error.message : String(error));

export interface Servers {
  readonly mariadb: EmbeddedServer;
  readonly postgres: EmbeddedServer;
  readonly mariadbPid: number | undefined;
  readonly postgresPid: number | undefined;
}

export async function startServers(): Promise<Servers> {
  const [mariadb, postgres] = await Promise.allSettled([startEmbeddedMariadb(), startEmbeddedPostgres()]);
  if (mariadb.status === 'rejected' || postgres.status === 'rejected') {
    if (mariadb.status === 'fulfilled') await mariadb.value.stop();
    if (postgres.status === 'fulfilled') await postgres.value.stop();
    throw mariadb.status === 'rejected' ? mariadb.reason : (postgres as PromiseRejectedResult).reason;
  }
  return {
    mariadb: mariadb.value,
    postgres: postgres.value,
    mariadbPid: embeddedServerPid('mariadb', mariadb.value.dataDir),
    postgresPid: embeddedServerPid('postgres', postgres.value.dataDir),
  };
}

export async function pgConnect(servers: Servers, database: string): Promise<pg.Client> {
  const { host, port, user } = servers.postgres;
  const client = new pg.Client({ host, port, user, database });
  client.on('error', () => undefined);
  await client.connect();
  return client;
}

interface ServerCpu {
  readonly mariadb: number | undefined;
  readonly postgres: number | undefined;
}

export interface Poll {
  /** performance.now() when the condition was seen to hold. */
  readonly at: number;
  readonly queries: number;
  /** Time spent inside `check` (the poll's own load on the sink). */
  readonly querySeconds: number;
}

/** Polls `check` every `intervalMs` until it holds. */
export async function pollUntil(
  check: () => Promise<boolean>,
  what: string,
  timeoutSeconds: number,
  pipeline?: PipelineProcess,
  intervalMs = 100,
): Promise<Poll> {
  const deadline = performance.now() + timeoutSeconds * 1000;
  let queries = 0;
  let queryMs = 0;
  for (;;) {
    if (pipeline?.failure) throw pipeline.failure;
    const began = performance.now();
    const holds = await check();
    const now = performance.now();
    queries++;
    queryMs += now - began;
    if (holds) return { at: now, queries, querySeconds: queryMs / 1000 };
    if (now > deadline) throw new Error(`timed out after ${timeoutSeconds} s waiting for ${what}`);
    await sleep(intervalMs);
  }
}

export interface PipelineSpec {
  readonly name: string;
  /** `source.tables`: `db.table` patterns, comma-separated. */
  readonly tables: string;
  readonly mode: 'snapshot' | 'initial';
  readonly database: string;
  readonly stateDir: string;
  /** Written only when given: otherwise the connector's default. */
  readonly chunkSize?: number | null;
  readonly readers?: number;
  /** `pipeline.checkpoint.interval` (`3s`); the default when not given. */
  readonly checkpointInterval?: string;
}

export interface WorkloadSpec {
  readonly id: string;
  readonly group: Group;
  readonly label: string;
  readonly rows: number;
  readonly description: string;
  /** A Tributary figure (true) or a reference tool's. */
  readonly ours: boolean;
  /** Ids of the workloads measured on the same data to compare with (ours ÷ theirs). */
  readonly references?: readonly string[];
}

export class Bench {
  private readonly results = new Map<string, WorkloadResult>();
  private serverId = 6000;
  readonly profileDir: string | undefined;

  constructor(
    readonly options: Options,
    readonly servers: Servers,
    readonly mysql: Connection,
    readonly pgAdmin: pg.Client,
  ) {
    const stamp = new Date().toISOString().replace(/[:.]/g, '-').slice(0, 19);
    this.profileDir = options.profile ? join(options.root, 'bench', 'profiles', stamp) : undefined;
  }

  get config() {
    return this.options.config;
  }

  /** A generous bound for one measured interval moving `rows` rows. */
  timeoutSeconds(rows: number): number {
    return 120 + rows / 2000;
  }

  workload(spec: WorkloadSpec): WorkloadResult {
    let result = this.results.get(spec.id);
    if (result === undefined) {
      // A run into another sink or write mode says so wherever its figures are read.
      const { writeMode, sink } = this.options.config;
      const variant =
        sink !== 'postgres' ? ` [sink: ${sink}]` : writeMode !== 'upsert' ? ` [write-mode: ${writeMode}]` : '';
      const label = spec.ours ? `${spec.label}${variant}` : spec.label;
      result = { ...spec, label, references: spec.references ?? [], runs: [], failures: [] };
      this.results.set(spec.id, result);
    }
    return result;
  }

  all(): WorkloadResult[] {
    return [...this.results.values()];
  }

  async freshDatabase(name: string): Promise<void> {
    await this.pgAdmin.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
    await this.pgAdmin.query(`CREATE DATABASE ${name} TEMPLATE template0 ENCODING 'UTF8'`);
  }

  async dropDatabase(name: string): Promise<void> {
    await this.pgAdmin.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
  }

  /** Flushes PostgreSQL's dirty buffers so one run's checkpoint does not land in the next run's time. */
  /**
   * Before a measurement, the servers' deferred writes done, so that the run does not share the cores and the disk
   * with them: InnoDB's dirty pages flushed (its `innodb_max_dirty_pages_pct` at 0 until none is left, at most
   * 30 s), PostgreSQL's written (`CHECKPOINT`), and the kernel's (`sync`). After a table's load InnoDB flushes for
   * tens of seconds, and the first snapshots of a fresh table (the floor's and Tributary's alike) ran 20–50 %
   * slower while it did.
   */
  async settle(): Promise<void> {
    // Flushing at full speed only while settling: the server's own settings are restored before the run.
    const [rows] = await this.mysql.query(
      'SELECT @@GLOBAL.innodb_max_dirty_pages_pct AS pct, @@GLOBAL.innodb_io_capacity AS io, ' +
        '@@GLOBAL.innodb_io_capacity_max AS ioMax',
    );
    const saved = (rows as { pct: number | string; io: number | string; ioMax: number | string }[])[0];
    await this.mysql.query(
      'SET GLOBAL innodb_io_capacity_max = 100000, GLOBAL innodb_io_capacity = 100000, ' +
        'GLOBAL innodb_max_dirty_pages_pct = 0',
    );
    try {
      const deadline = performance.now() + 30_000;
      while (performance.now() < deadline) {
        const [status] = await this.mysql.query("SHOW GLOBAL STATUS LIKE 'Innodb_buffer_pool_pages_dirty'");
        if (Number((status as { Value: string }[])[0]?.Value ?? 0) === 0) break;
        await sleep(100);
      }
    } finally {
      if (saved !== undefined) {
        await this.mysql.query(
          `SET GLOBAL innodb_max_dirty_pages_pct = ${Number(saved.pct)}, ` +
            `GLOBAL innodb_io_capacity = ${Number(saved.io)}, GLOBAL innodb_io_capacity_max = ${Number(saved.ioMax)}`,
        );
      }
    }
    await this.pgAdmin.query('CHECKPOINT');
    await execFileAsync('sync');
  }

  pgConnect(database: string): Promise<pg.Client> {
    return pgConnect(this.servers, database);
  }

  private async serverCpu(): Promise<ServerCpu> {
    const [mariadb, postgres] = await Promise.all([
      serverCpuSeconds(this.servers.mariadbPid),
      serverCpuSeconds(this.servers.postgresPid),
    ]);
    return { mariadb, postgres };
  }

  /** Starts counting the servers' CPU; the returned function gives the seconds each used since. */
  async serverCpuMeter(): Promise<() => Promise<RunRecord['serverCpuSeconds']>> {
    const before = await this.serverCpu();
    return async () => {
      const after = await this.serverCpu();
      const delta = (a: number | undefined, b: number | undefined) =>
        a !== undefined && b !== undefined ? round(a - b, 2) : undefined;
      return { mariadb: delta(after.mariadb, before.mariadb), postgres: delta(after.postgres, before.postgres) };
    };
  }

  /** Runs one measurement and files it under the workload, or its error as a failure; true when it succeeded. */
  async record(workload: WorkloadResult, repetition: number, run: () => Promise<RunRecord>): Promise<boolean> {
    try {
      const raw = await run();
      const record: RunRecord = {
        ...raw,
        seconds: round(raw.seconds, 3),
        cpuSeconds: raw.cpuSeconds === undefined ? undefined : round(raw.cpuSeconds, 3),
        maxRssMb: raw.maxRssMb === undefined ? undefined : round(raw.maxRssMb, 1),
      };
      workload.runs.push(record);
      const cpu = record.cpuSeconds !== undefined ? `, CPU ${record.cpuSeconds.toFixed(2)} s` : '';
      const rss = record.maxRssMb !== undefined ? `, peak RSS ${Math.round(record.maxRssMb)} MB` : '';
      const rate = Math.round(workload.rows / record.seconds).toLocaleString('en-US');
      const metrics = Object.entries(record.metrics ?? {})
        .map(([key, value]) => `, ${key} ${value}`)
        .join('');
      say(`  ${workload.label}: ${record.seconds.toFixed(2)} s (${rate} rows/s${cpu}${rss}${metrics})`);
      return true;
    } catch (error) {
      workload.failures.push({ repetition, error: errorMessage(error) });
      say(`  ${workload.label}: FAILED — ${errorMessage(error)}`);
      return false;
    }
  }

  /** Files the same failure under workloads that could not run. */
  fail(workloads: readonly WorkloadResult[], repetition: number, error: unknown): void {
    for (const workload of workloads) workload.failures.push({ repetition, error: errorMessage(error) });
  }

  /** The pipeline file the CLI would read: defaults apart from what `spec` sets. */
  yaml(spec: PipelineSpec): string {
    const { host, port, user } = this.servers.mariadb;
    const chunk =
      spec.chunkSize === undefined || spec.chunkSize === null
        ? ''
        : `  scan.incremental.snapshot.chunk.size: ${spec.chunkSize}\n`;
    const interval = spec.checkpointInterval === undefined ? '' : `  checkpoint.interval: ${spec.checkpointInterval}\n`;
    return `source:
  type: mysql
  hostname: ${host}
  port: ${port}
  username: ${user}
  password: \${BENCH_MYSQL_PASSWORD}
  tables: ${spec.tables}
  server-id: ${this.serverId++}
  scan.startup.mode: ${spec.mode}
${chunk}${this.sinkBlock(spec)}pipeline:
  name: ${spec.name}
  state.dir: ${spec.stateDir}
  parallelism: ${spec.readers ?? 1}
${this.options.generalPath ? '  snapshot.packed-reads: false\n' : ''}${interval}`;
  }

  /** The pipeline's sink: the target database on PostgreSQL, or a DuckDB file in the state directory. */
  private sinkBlock(spec: PipelineSpec): string {
    const { sink, writeMode, sinkOptions } = this.options.config;
    const more = sinkOptions.map(([key, value]) => `  ${key}: ${JSON.stringify(value)}\n`).join('');
    if (sink === 'duckdb') return `sink:\n  type: duckdb\n  path: ${duckdbTargetPath(spec.stateDir)}\n${more}`;
    const mode = writeMode === 'upsert' ? '' : `  write-mode: ${writeMode}\n`;
    return `sink:\n  type: postgres\n  url: \${BENCH_SINK_URL}\n${mode}${more}`;
  }

  startPipeline(spec: PipelineSpec): PipelineProcess {
    const { host, port, user } = this.servers.postgres;
    return PipelineProcess.start(
      {
        type: 'run',
        name: spec.name,
        yaml: this.yaml(spec),
        env: {
          BENCH_MYSQL_PASSWORD: this.servers.mariadb.password,
          BENCH_SINK_URL: `postgres://${user}@${host}:${port}/${spec.database}`,
        },
        logLevel: this.options.logLevel,
      },
      this.profileDir ? { profileDir: this.profileDir } : {},
    );
  }

  /** A fresh target database and state directory for `body`, both removed afterwards. */
  async withTarget<T>(database: string, body: (stateDir: string) => Promise<T>): Promise<T> {
    await this.freshDatabase(database);
    const stateDir = await mkdtemp(join(tmpdir(), 'tributary-bench-state-'));
    try {
      return await body(stateDir);
    } finally {
      await this.dropDatabase(database);
      await rm(stateDir, { recursive: true, force: true });
    }
  }
}
