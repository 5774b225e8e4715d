/**
 * The measurement suite: `npm run bench` (quick: 200k rows × 3), `npm run bench -- --rows 1000000` (full).
 * What it measures and how to read it: bench/README.md.
 *
 * Starts a private MariaDB and PostgreSQL, fills `bench.t` with N generated rows, then per repetition:
 *   floor          mariadb --batch | psql \copy into a pre-created table (the external clients' own speed);
 *   snapshot-<c>   a `scan.startup.mode: snapshot` pipeline with chunk size c, until run() resolves;
 *   binlog-insert  an `initial` pipeline on an empty table; N rows inserted in 10k-row transactions, timed from
 *                  the first insert until count(*) on the target is N (polled every 100 ms);
 *   binlog-mixed   then N/2 updates and N/4 deletes in 10k-row transactions, until the target's count and
 *                  checksum equal the source's.
 * Each pipeline runs in a forked Node process (bench/pipeline-child.ts) so its CPU time and peak RSS are its own.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { cpus, hostname, tmpdir, totalmem } from 'node:os';
import { dirname, join, relative } from 'node:path';
import { performance } from 'node:perf_hooks';
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { createConnection, type Connection } from 'mysql2/promise';
import pg from 'pg';
import { startEmbeddedMariadb } from '../src/embedded/embedded-mariadb.js';
import { startEmbeddedPostgres } from '../src/embedded/embedded-postgres.js';
import type { EmbeddedServer } from '../src/embedded/embedded-server.js';
import type { LogLevel } from '../src/index.js';
import { embeddedServerPid, runExternalPipe, serverCpuSeconds, shellQuote } from './measure.js';
import { PipelineProcess } from './pipeline-process.js';
import {
  markdownTable,
  round,
  summarize,
  writeReport,
  type BenchConfig,
  type BenchReport,
  type RunRecord,
  type WorkloadId,
  type WorkloadResult,
} from './report.js';

const QUICK_ROWS = 200_000;
const FULL_ROWS = 1_000_000;
const TRANSACTION_ROWS = 10_000;
const POLL_MS = 100;
const COLUMNS = 'id, a, b, c, d, e, f';

interface Options {
  readonly config: BenchConfig;
  readonly only: ReadonlySet<string>;
  readonly profile: boolean;
  readonly logLevel: LogLevel;
  readonly outDir: string;
  readonly root: string;
}

const USAGE = `npm run bench [-- options]
  --rows N            rows in the table (default ${QUICK_ROWS.toLocaleString('en-US')}; --full: ${FULL_ROWS.toLocaleString('en-US')})
  --full              the full figure: ${FULL_ROWS.toLocaleString('en-US')} rows
  --reps R            repetitions of every measurement (default 3); medians are reported
  --chunk-sizes LIST  snapshot chunk sizes to try (default 8096,50000)
  --readers LIST      snapshot readers (pipeline.parallelism) to try (default 1,2,4)
  --only LIST         some of floor,snapshot,binlog (default all)
  --profile           write a V8 CPU profile of every pipeline process to bench/profiles/
  --log-level LEVEL   the pipelines' log level (default warn)
  --out DIR           where results go (default bench/results)`;

/** The repository root: the first parent folder of this file holding Tributary's package.json. */
function findRoot(): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  for (;;) {
    const file = join(dir, 'package.json');
    if (existsSync(file) && (JSON.parse(readFileSync(file, 'utf8')) as { name?: string }).name === 'tributary') {
      return dir;
    }
    const parent = dirname(dir);
    if (parent === dir) return process.cwd();
    dir = parent;
  }
}

function parseOptions(): Options {
  const { values } = parseArgs({
    options: {
      rows: { type: 'string' },
      full: { type: 'boolean', default: false },
      reps: { type: 'string', default: '3' },
      'chunk-sizes': { type: 'string', default: '8096,50000' },
      readers: { type: 'string', default: '1,2,4' },
      only: { type: 'string', default: 'floor,snapshot,binlog' },
      profile: { type: 'boolean', default: false },
      'log-level': { type: 'string', default: 'warn' },
      out: { type: 'string' },
      help: { type: 'boolean', short: 'h', default: false },
    },
    strict: true,
  });
  if (values.help) {
    console.log(USAGE);
    process.exit(0);
  }
  const positive = (text: string, what: string): number => {
    const n = Number(text.replace(/_/g, ''));
    if (!Number.isInteger(n) || n < 1) throw new Error(`${what} must be a positive integer, got ${text}\n${USAGE}`);
    return n;
  };
  const rows = values.rows !== undefined ? positive(values.rows, '--rows') : values.full ? FULL_ROWS : QUICK_ROWS;
  const chunkSizes = values['chunk-sizes'].split(',').map((s) => positive(s.trim(), '--chunk-sizes'));
  const readers = values.readers.split(',').map((s) => positive(s.trim(), '--readers'));
  const only = new Set(values.only.split(',').map((s) => s.trim()));
  for (const name of only) {
    if (!['floor', 'snapshot', 'binlog'].includes(name)) throw new Error(`--only: unknown ${name}\n${USAGE}`);
  }
  const logLevel = values['log-level'];
  if (!['debug', 'info', 'warn', 'error'].includes(logLevel)) throw new Error(`--log-level: unknown ${logLevel}`);
  const root = findRoot();
  return {
    config: {
      mode: rows === FULL_ROWS ? 'full' : rows === QUICK_ROWS ? 'quick' : 'custom',
      rows,
      repetitions: positive(values.reps, '--reps'),
      chunkSizes,
      readers,
      transactionRows: TRANSACTION_ROWS,
      pollMs: POLL_MS,
    },
    only,
    profile: values.profile,
    logLevel: logLevel as LogLevel,
    outDir: values.out ?? join(root, 'bench', 'results'),
    root,
  };
}

function say(message: string): void {
  console.log(`${new Date().toISOString().slice(11, 19)} ${message}`);
}

// --- the servers -----------------------------------------------------------------------------------------

interface Servers {
  readonly mariadb: EmbeddedServer;
  readonly postgres: EmbeddedServer;
  readonly mariadbPid: number | undefined;
  readonly postgresPid: number | undefined;
}

async function startServers(): Promise<Servers> {
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

interface ServerCpu {
  readonly mariadb: number | undefined;
  readonly postgres: number | undefined;
}

async function serverCpu(servers: Servers): Promise<ServerCpu> {
  const [mariadb, postgres] = await Promise.all([
    serverCpuSeconds(servers.mariadbPid),
    serverCpuSeconds(servers.postgresPid),
  ]);
  return { mariadb, postgres };
}

async function serverCpuSince(servers: Servers, before: ServerCpu): Promise<RunRecord['serverCpuSeconds']> {
  const after = await serverCpu(servers);
  const delta = (a: number | undefined, b: number | undefined) =>
    a !== undefined && b !== undefined ? round(a - b, 2) : undefined;
  return { mariadb: delta(after.mariadb, before.mariadb), postgres: delta(after.postgres, before.postgres) };
}

async function pgConnect(servers: Servers, database: string): Promise<pg.Client> {
  const { host, port, user } = servers.postgres;
  const client = new pg.Client({ host, port, user, database });
  client.on('error', () => undefined);
  await client.connect();
  return client;
}

function sinkUrl(servers: Servers, database: string): string {
  const { host, port, user } = servers.postgres;
  return `postgres://${user}@${host}:${port}/${database}`;
}

// --- the data --------------------------------------------------------------------------------------------

const TABLE_DDL =
  '(id BIGINT PRIMARY KEY, a INT NOT NULL, b BIGINT NOT NULL, c DECIMAL(12,2) NOT NULL, ' +
  'd VARCHAR(64) NOT NULL, e VARCHAR(64) NOT NULL, f DATETIME(6) NOT NULL) ENGINE=InnoDB';

/** The PostgreSQL table that Tributary creates for bench.t (docs/type-mapping.md), for the floor pipe. */
const PG_TABLE_DDL =
  '(id bigint NOT NULL, a integer NOT NULL, b bigint NOT NULL, c numeric(12,2) NOT NULL, ' +
  'd varchar(64) NOT NULL, e varchar(64) NOT NULL, f timestamp(6) NOT NULL, PRIMARY KEY (id))';

/** Deterministic rows of ~150 bytes from MariaDB's sequence engine: same N, same table, on every machine. */
async function fillSource(mysql: Connection, rows: number): Promise<number> {
  await mysql.query('DROP DATABASE IF EXISTS bench; CREATE DATABASE bench; USE bench');
  await mysql.query(`CREATE TABLE bench.t ${TABLE_DDL}`);
  const started = performance.now();
  const step = 100_000;
  for (let lo = 1; lo <= rows; lo += step) {
    const hi = Math.min(rows, lo + step - 1);
    await mysql.query(
      `INSERT INTO bench.t SELECT seq, CAST((seq * 7919) % 2000003 AS SIGNED) - 1000000, seq * 1000003, ` +
        `((seq * 37) % 10000000) / 100, CONCAT('name-', LPAD(seq, 10, '0'), '-', MD5(seq)), ` +
        `CONCAT(SHA1(seq), '@example.org'), TIMESTAMPADD(MICROSECOND, seq * 1000003, '2024-01-01 00:00:00') ` +
        `FROM seq_${lo}_to_${hi}`,
    );
  }
  return (performance.now() - started) / 1000;
}

type Checksum = Record<'n' | 'a' | 'b' | 'c' | 'l' | 'f', string>;

/** Sums as text: DECIMAL (MariaDB) and numeric/bigint (pg) both arrive as exact strings. */
function normalize(row: Record<string, string | number | null> | undefined): Checksum {
  const get = (key: string): string => String(row?.[key] ?? 'null');
  return { n: get('n'), a: get('a'), b: get('b'), c: get('c'), l: get('l'), f: get('f') };
}

async function mysqlChecksum(mysql: Connection, table: string): Promise<Checksum> {
  const [rows] = await mysql.query(
    `SELECT COUNT(*) AS n, SUM(a) AS a, SUM(b) AS b, SUM(c) AS c, SUM(CHAR_LENGTH(d) + CHAR_LENGTH(e)) AS l, ` +
      `SUM(TIMESTAMPDIFF(MICROSECOND, '2024-01-01 00:00:00', f)) AS f FROM ${table}`,
  );
  return normalize((rows as Record<string, string | number | null>[])[0]);
}

async function pgChecksum(client: pg.Client, table: string): Promise<Checksum> {
  const result = await client.query<Record<string, string | null>>(
    `SELECT count(*) AS n, sum(a) AS a, sum(b) AS b, sum(c) AS c, sum(char_length(d) + char_length(e)) AS l, ` +
      `sum((extract(epoch FROM f - timestamp '2024-01-01 00:00:00') * 1000000)::bigint) AS f FROM ${table}`,
  );
  return normalize(result.rows[0]);
}

const sameChecksum = (a: Checksum, b: Checksum): boolean => JSON.stringify(a) === JSON.stringify(b);

/** count(*) of a sink table; -1 while it does not exist yet. */
async function pgCount(client: pg.Client, table: string): Promise<number> {
  try {
    const result = await client.query<{ n: number }>(`SELECT count(*)::int AS n FROM ${table}`);
    return result.rows[0]?.n ?? 0;
  } catch (error) {
    if ((error as { code?: string }).code === '42P01') return -1;
    throw error;
  }
}

interface Poll {
  /** performance.now() when the condition was seen to hold. */
  readonly at: number;
  readonly queries: number;
  /** Time spent inside `check` (the poll's own load on the sink). */
  readonly querySeconds: number;
}

/** Polls `check` every POLL_MS until it holds. */
async function pollUntil(
  check: () => Promise<boolean>,
  what: string,
  timeoutSeconds: number,
  pipeline?: PipelineProcess,
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
    await sleep(POLL_MS);
  }
}

// --- the suite -------------------------------------------------------------------------------------------

class Suite {
  private readonly results = new Map<WorkloadId, WorkloadResult>();
  private serverId = 6000;
  private readonly profileDir: string | undefined;
  private readonly timeoutSeconds: number;

  constructor(
    private readonly options: Options,
    private readonly servers: Servers,
    private readonly mysql: Connection,
    private readonly pgAdmin: pg.Client,
    private readonly sourceChecksum: Checksum,
  ) {
    const stamp = new Date().toISOString().replace(/[:.]/g, '-').slice(0, 19);
    this.profileDir = options.profile ? join(options.root, 'bench', 'profiles', stamp) : undefined;
    this.timeoutSeconds = 120 + options.config.rows / 2000;
  }

  workload(id: WorkloadId, label: string, rows: number, description: string): WorkloadResult {
    let result = this.results.get(id);
    if (result === undefined) {
      result = { id, label, rows, description, runs: [], failures: [] };
      this.results.set(id, result);
    }
    return result;
  }

  all(): WorkloadResult[] {
    return [...this.results.values()];
  }

  private get rows(): number {
    return this.options.config.rows;
  }

  private async freshDatabase(name: string): Promise<void> {
    await this.pgAdmin.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
    await this.pgAdmin.query(`CREATE DATABASE ${name} TEMPLATE template0 ENCODING 'UTF8'`);
  }

  private async dropDatabase(name: string): Promise<void> {
    await this.pgAdmin.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
  }

  /** Flushes PostgreSQL's dirty buffers so one run's checkpoint does not land in the next run's time. */
  private async settle(): Promise<void> {
    await this.pgAdmin.query('CHECKPOINT');
  }

  private async record(workload: WorkloadResult, repetition: number, run: () => Promise<RunRecord>): Promise<void> {
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
      say(`  ${workload.label}: ${record.seconds.toFixed(2)} s (${rate} rows/s${cpu}${rss})`);
    } catch (error) {
      const message = error instanceof Error ? error.message : String(error);
      workload.failures.push({ repetition, error: message });
      say(`  ${workload.label}: FAILED — ${message}`);
    }
  }

  private yaml(
    name: string,
    table: string,
    mode: 'snapshot' | 'initial',
    chunkSize: number,
    stateDir: string,
    readers = 1,
  ) {
    const { host, port, user } = this.servers.mariadb;
    return `source:
  type: mysql
  hostname: ${host}
  port: ${port}
  username: ${user}
  password: \${BENCH_MYSQL_PASSWORD}
  tables: ${table}
  server-id: ${this.serverId++}
  scan.startup.mode: ${mode}
  scan.incremental.snapshot.chunk.size: ${chunkSize}
sink:
  type: postgres
  url: \${BENCH_SINK_URL}
pipeline:
  name: ${name}
  state.dir: ${stateDir}
  parallelism: ${readers}
`;
  }

  private startPipeline(name: string, yaml: string, database: string): PipelineProcess {
    return PipelineProcess.start(
      {
        type: 'run',
        name,
        yaml,
        env: { BENCH_MYSQL_PASSWORD: this.servers.mariadb.password, BENCH_SINK_URL: sinkUrl(this.servers, database) },
        logLevel: this.options.logLevel,
      },
      this.profileDir ? { profileDir: this.profileDir } : {},
    );
  }

  async floor(repetition: number): Promise<void> {
    const workload = this.workload(
      'floor',
      'floor pipe: mariadb → psql \\copy',
      this.rows,
      'mariadb --batch --quick | psql \\copy into a pre-created table with the same primary key; CPU and RSS are ' +
        'those of the two external client processes (RSS: the larger one)',
    );
    const database = `bench_floor_r${repetition}`;
    await this.record(workload, repetition, async () => {
      await this.freshDatabase(database);
      const client = await pgConnect(this.servers, database);
      try {
        await client.query(`CREATE TABLE public.t ${PG_TABLE_DDL}`);
        const { mariadb, postgres } = this.servers;
        const dump = ['mariadb', '--batch', '--quick', '--skip-column-names', '--default-character-set=utf8mb4'];
        dump.push('-h', mariadb.host, '-P', String(mariadb.port), '-u', mariadb.user);
        dump.push('-e', `SELECT ${COLUMNS} FROM bench.t`);
        const load = ['psql', '-X', '-q', '-v', 'ON_ERROR_STOP=1', '-h', postgres.host, '-p', String(postgres.port)];
        load.push('-U', postgres.user, '-d', database);
        load.push('-c', `\\copy public.t (${COLUMNS}) from pstdin with (null 'NULL')`);
        const script = `${dump.map(shellQuote).join(' ')} | ${load.map(shellQuote).join(' ')}`;
        await this.settle();
        const before = await serverCpu(this.servers);
        const run = await runExternalPipe(script, { ...process.env, MYSQL_PWD: mariadb.password });
        const serverCpuSeconds = await serverCpuSince(this.servers, before);
        await this.verify(client, 'public.t', this.sourceChecksum);
        return {
          repetition,
          seconds: run.seconds,
          cpuSeconds: run.cpuSeconds,
          maxRssMb: run.maxRssMb,
          serverCpuSeconds,
        };
      } finally {
        await client.end();
        await this.dropDatabase(database);
      }
    });
  }

  private async verify(client: pg.Client, table: string, expected: Checksum): Promise<void> {
    const actual = await pgChecksum(client, table);
    if (!sameChecksum(actual, expected)) {
      throw new Error(`${table} differs from the source: ${JSON.stringify(actual)} ≠ ${JSON.stringify(expected)}`);
    }
  }

  async snapshot(repetition: number, chunkSize: number, readers: number): Promise<void> {
    const workload = this.workload(
      `snapshot-${chunkSize}-x${readers}`,
      `Tributary snapshot, chunk ${chunkSize}, ${readers} reader${readers > 1 ? 's' : ''}`,
      this.rows,
      `scan.startup.mode: snapshot, chunk size ${chunkSize}, into a fresh database; from run() to its resolving ` +
        `with outcome 'finished'`,
    );
    const database = `bench_snap${chunkSize}_x${readers}_r${repetition}`;
    const name = `bench-snapshot-${chunkSize}-x${readers}-r${repetition}`;
    await this.record(workload, repetition, async () => {
      await this.freshDatabase(database);
      const stateDir = await mkdtemp(join(tmpdir(), 'tributary-bench-state-'));
      let pipeline: PipelineProcess | undefined;
      try {
        await this.settle();
        const before = await serverCpu(this.servers);
        pipeline = this.startPipeline(
          name,
          this.yaml(name, 'bench.t', 'snapshot', chunkSize, stateDir, readers),
          database,
        );
        const done = await pipeline.done;
        const serverCpuSeconds = await serverCpuSince(this.servers, before);
        if (done.outcome !== 'finished') throw new Error(`run() resolved with outcome '${done.outcome}'`);
        const client = await pgConnect(this.servers, database);
        try {
          const count = await pgCount(client, 'bench.t');
          if (count !== this.rows) throw new Error(`the sink holds ${count} rows, not ${this.rows}`);
          await this.verify(client, 'bench.t', this.sourceChecksum);
        } finally {
          await client.end();
        }
        return {
          repetition,
          seconds: done.elapsedSeconds,
          cpuSeconds: done.cpuSeconds,
          maxRssMb: done.maxRssMb,
          serverCpuSeconds,
          detail: { checkpoints: done.checkpoints, eventsApplied: done.eventsApplied },
        };
      } finally {
        await pipeline?.exit();
        await this.dropDatabase(database);
        await rm(stateDir, { recursive: true, force: true });
      }
    });
  }

  async binlog(repetition: number): Promise<void> {
    const n = this.rows;
    const tx = TRANSACTION_ROWS;
    const updates = Math.floor(n / 2);
    const deletes = Math.floor((n + 3) / 4);
    const insert = this.workload(
      'binlog-insert',
      'Tributary binlog: inserts',
      n,
      `an 'initial' pipeline on an empty table; ${n} rows inserted in ${tx}-row transactions; from the first ` +
        `insert until count(*) on the target is ${n} (polled every ${POLL_MS} ms). CPU and RSS over that interval`,
    );
    const mixed = this.workload(
      'binlog-mixed',
      'Tributary binlog: updates + deletes',
      updates + deletes,
      `then ${updates} updates (every even id) and ${deletes} deletes (id % 4 = 1) in ${tx}-row transactions, ` +
        `updates first; until the target's count and checksum equal the source's`,
    );
    const database = `bench_binlog_r${repetition}`;
    const name = `bench-binlog-r${repetition}`;
    const stateDir = await mkdtemp(join(tmpdir(), 'tributary-bench-state-'));
    let pipeline: PipelineProcess | undefined;
    let client: pg.Client | undefined;
    let insertOk = false;
    try {
      await this.mysql.query(`DROP TABLE IF EXISTS bench.t_apply; CREATE TABLE bench.t_apply ${TABLE_DDL}`);
      await this.freshDatabase(database);
      client = await pgConnect(this.servers, database);
      const sink = client;
      await this.settle();
      pipeline = this.startPipeline(name, this.yaml(name, 'bench.t_apply', 'initial', 8096, stateDir), database);
      const running = pipeline;
      // Ready: the (empty) snapshot is committed and the target table exists.
      await Promise.race([running.started, running.done]);
      await Promise.race([running.firstCheckpoint, running.done, sleep(5_000)]);
      await pollUntil(async () => (await pgCount(sink, 'bench.t_apply')) >= 0, 'the target table', 60, running);

      await this.record(insert, repetition, async () => {
        const usage0 = await running.usage();
        const before = await serverCpu(this.servers);
        const started = performance.now();
        for (let lo = 1; lo <= n; lo += tx) {
          const hi = Math.min(n, lo + tx - 1);
          await this.mysql.query(`INSERT INTO bench.t_apply SELECT * FROM bench.t WHERE id BETWEEN ${lo} AND ${hi}`);
        }
        const sourceSeconds = (performance.now() - started) / 1000;
        const poll = await pollUntil(
          async () => (await pgCount(sink, 'bench.t_apply')) === n,
          `${n} rows in the target`,
          this.timeoutSeconds,
          running,
        );
        const usage1 = await running.usage();
        const serverCpuSeconds = await serverCpuSince(this.servers, before);
        await this.verify(sink, 'bench.t_apply', this.sourceChecksum);
        insertOk = true;
        return {
          repetition,
          seconds: (poll.at - started) / 1000,
          cpuSeconds: usage1.cpuSeconds - usage0.cpuSeconds,
          maxRssMb: usage1.maxRssMb,
          serverCpuSeconds,
          detail: {
            sourceInsertSeconds: round(sourceSeconds, 3),
            pollQueries: poll.queries,
            pollQuerySeconds: round(poll.querySeconds, 3),
          },
        };
      });
      if (!insertOk) {
        mixed.failures.push({ repetition, error: 'not run: the inserts before it failed' });
        return;
      }

      await this.record(mixed, repetition, async () => {
        const expectedCount = n - deletes;
        const usage0 = await running.usage();
        const before = await serverCpu(this.servers);
        const started = performance.now();
        for (let lo = 1; lo <= n; lo += 2 * tx) {
          await this.mysql.query(
            `UPDATE bench.t_apply SET a = a + 1, b = b - 1, c = c + 1, d = CONCAT('u-', LEFT(d, 62)), ` +
              `f = f + INTERVAL 1 SECOND WHERE id BETWEEN ${lo} AND ${lo + 2 * tx - 1} AND id % 2 = 0`,
          );
        }
        for (let lo = 1; lo <= n; lo += 4 * tx) {
          await this.mysql.query(
            `DELETE FROM bench.t_apply WHERE id BETWEEN ${lo} AND ${lo + 4 * tx - 1} AND id % 4 = 1`,
          );
        }
        const sourceSeconds = (performance.now() - started) / 1000;
        // The deletes come last in the binlog and each commit is a prefix of it: the count reaching its final
        // value means every change has arrived. The checksum proves it.
        const poll = await pollUntil(
          async () => (await pgCount(sink, 'bench.t_apply')) === expectedCount,
          `${expectedCount} rows in the target`,
          this.timeoutSeconds,
          running,
        );
        const usage1 = await running.usage();
        const serverCpuSeconds = await serverCpuSince(this.servers, before);
        const expected = await mysqlChecksum(this.mysql, 'bench.t_apply');
        let seen = poll.at;
        if (!sameChecksum(await pgChecksum(sink, 'bench.t_apply'), expected)) {
          seen = (
            await pollUntil(
              async () => sameChecksum(await pgChecksum(sink, 'bench.t_apply'), expected),
              'the target checksum to equal the source',
              30,
              running,
            )
          ).at;
        }
        return {
          repetition,
          seconds: (seen - started) / 1000,
          cpuSeconds: usage1.cpuSeconds - usage0.cpuSeconds,
          maxRssMb: usage1.maxRssMb,
          serverCpuSeconds,
          detail: {
            sourceChangeSeconds: round(sourceSeconds, 3),
            pollQueries: poll.queries,
            pollQuerySeconds: round(poll.querySeconds, 3),
          },
        };
      });
    } catch (error) {
      const message = error instanceof Error ? error.message : String(error);
      for (const workload of insertOk ? [mixed] : [insert, mixed])
        workload.failures.push({ repetition, error: message });
      say(`  binlog: FAILED — ${message}`);
    } finally {
      if (pipeline) {
        const done = await pipeline.stop().catch((error: unknown) => error as Error);
        if (done instanceof Error && !insertOk) say(`  binlog pipeline: ${done.message}`);
        await pipeline.exit();
      }
      await client?.end();
      await this.dropDatabase(database);
      await this.mysql.query('DROP TABLE IF EXISTS bench.t_apply');
      await rm(stateDir, { recursive: true, force: true });
    }
  }
}

/** HEAD, with `+dirty` when src/ has uncommitted changes (the figures are then of a tree no commit holds). */
function gitCommit(root: string): string | null {
  const head = spawnSync('git', ['rev-parse', 'HEAD'], { cwd: root, encoding: 'utf8' });
  if (head.status !== 0) return null;
  const status = spawnSync('git', ['status', '--porcelain', '--', 'src'], { cwd: root, encoding: 'utf8' });
  return head.stdout.trim() + (status.status === 0 && status.stdout.trim() !== '' ? '+dirty' : '');
}

async function main(): Promise<void> {
  const options = parseOptions();
  const { config } = options;
  say(
    `Tributary bench (${config.mode}): ${config.rows.toLocaleString('en-US')} rows, ${config.repetitions} repetitions; ` +
      'starting MariaDB and PostgreSQL',
  );
  const servers = await startServers();
  let mysql: Connection | undefined;
  let pgAdmin: pg.Client | undefined;
  try {
    const { mariadb } = servers;
    mysql = await createConnection({
      host: mariadb.host,
      port: mariadb.port,
      user: mariadb.user,
      password: mariadb.password,
      multipleStatements: true,
    });
    pgAdmin = await pgConnect(servers, 'postgres');
    const [versionRows] = await mysql.query('SELECT VERSION() AS v');
    const mariadbVersion = String((versionRows as { v: string }[])[0]?.v);
    const postgresVersion = String(
      (await pgAdmin.query<{ v: string }>("SELECT current_setting('server_version') AS v")).rows[0]?.v,
    );

    say(`filling bench.t with ${config.rows.toLocaleString('en-US')} rows`);
    const fillSeconds = await fillSource(mysql, config.rows);
    const sourceChecksum = await mysqlChecksum(mysql, 'bench.t'); // also warms the buffer pool
    const [sizeRows] = await mysql.query(`SELECT AVG(LENGTH(CONCAT_WS('\\t', ${COLUMNS})) + 1) AS bytes FROM bench.t`);
    const avgRowTextBytes = Number((sizeRows as { bytes: string }[])[0]?.bytes);
    say(`  ${fillSeconds.toFixed(1)} s; ${avgRowTextBytes.toFixed(0)} bytes per row as text`);

    const suite = new Suite(options, servers, mysql, pgAdmin, sourceChecksum);
    for (let repetition = 1; repetition <= config.repetitions; repetition++) {
      say(`repetition ${repetition}/${config.repetitions}`);
      if (options.only.has('floor')) await suite.floor(repetition);
      if (options.only.has('snapshot')) {
        for (const chunkSize of config.chunkSizes) {
          for (const readers of config.readers) await suite.snapshot(repetition, chunkSize, readers);
        }
      }
      if (options.only.has('binlog')) await suite.binlog(repetition);
    }

    const workloads = suite.all();
    const summary = summarize(workloads);
    const report: BenchReport = {
      environment: {
        date: new Date().toISOString().slice(0, 10),
        host: hostname() || 'node-svc',
        cpus: cpus().length,
        cpuModel: cpus()[0]?.model.trim() ?? 'unknown',
        memoryGb: Math.round(totalmem() / 2 ** 30),
        node: process.version,
        mariadb: mariadbVersion,
        postgres: postgresVersion,
        tributary: process.env['npm_package_version'] ?? 'unknown',
        gitCommit: gitCommit(options.root),
      },
      config,
      data: { avgRowTextBytes: round(avgRowTextBytes, 1), sourceFillSeconds: round(fillSeconds, 2) },
      summary,
      workloads,
      notes: [
        'Medians over the repetitions; "runs s" lists every run. × floor = the floor pipe\'s rows/s ÷ the ' +
          "workload's rows/s (how many times the floor's time per row); the floor itself is 1.",
        'CPU s and peak RSS: for the floor pipe, the external `mariadb` and `psql` client processes (CPU summed, ' +
          'RSS of the larger one); for Tributary, the Node process running the pipeline (one process per run).',
        "server CPU s: mariadbd + PostgreSQL (postmaster and backends, including the bench's own count(*) polls) " +
          'during the measured interval.',
        `binlog rows: timed from the first source statement until the target shows the result (count(*) polled ` +
          `every ${POLL_MS} ms), so the source's own insert/update time is inside the figure; see ` +
          'sourceInsertSeconds / sourceChangeSeconds in the JSON.',
        `${cpus().length} cores shared by the servers, the clients and the pipeline; figures are noisy.`,
      ],
    };
    // The plain name is the full figure; quick runs and partial runs (--only) never overwrite it.
    const partial = options.only.size < 3 ? `-${[...options.only].join('+')}` : '';
    const size = config.mode === 'full' ? '' : config.mode === 'quick' ? '-quick' : `-${config.rows}rows`;
    const suffix = size + partial;
    const files = await writeReport(options.outDir, report, suffix);
    console.log(`\n${markdownTable(summary)}\n`);
    say(`wrote ${files.map((f) => relative(process.cwd(), f)).join(', ')}`);
    if (workloads.some((w) => w.failures.length > 0)) process.exitCode = 1;
  } finally {
    await mysql?.end().catch(() => undefined);
    await pgAdmin?.end().catch(() => undefined);
    await Promise.allSettled([servers.mariadb.stop(), servers.postgres.stop()]);
  }
}

main().catch((error: unknown) => {
  console.error(error instanceof Error ? (error.stack ?? error.message) : error);
  process.exitCode = 1;
});
