/**
 * Seed 004 end to end (issue 12): `tributary sql -f fixtures/scenarios/salesdb/customer-orders.sql` as a user runs
 * it — MariaDB's binlog in, the 3-way join + GROUP BY, PostgreSQL's `customer_orders` out — on this machine's two
 * cores, beside the two servers (private, on their own ports). Where `sql-join-aggregate.ts` times the SQL stage
 * alone, this times the whole job:
 *
 * 1. the initial load: N source rows (the shape of `salesdb-changes.ts`) loaded into MariaDB, the job started, timed
 *    until the sink holds every customer with all its orders counted;
 * 2. catch-up: the job stopped (SIGTERM: its last checkpoint committed), M changes of `salesdb-changes.ts` applied to
 *    MariaDB, then a last one (customer 1 renamed, the marker), the job started again and timed until the sink shows
 *    the marker: the sink commits whole checkpoints in source order, so every change before it is in. The job's
 *    start-up (process, connections, state file, the binlog's position, the first checkpoint interval) is timed
 *    apart, with a restart that has only a marker to catch up, and left out of the changes/s.
 *
 * At the end the sink is compared with the same query run on MariaDB. CPU seconds are the job's (its process and
 * threads, from /proc), MariaDB's and PostgreSQL's, over the phase.
 *
 *   npx tsc -p bench/tsconfig.json && node dist/bench/bench/sql-end-to-end.js [--rows 1000000] [--changes 1000000]
 *     [--checkpoint-interval 1s] [--no-eager-aggregation] [--no-aggregating-joins] [--orders-only]
 */
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { createConnection, type Connection } from 'mysql2/promise';
import type pg from 'pg';
import { CLI_NODE_FLAGS } from '../src/cli/heap-growth.js';
import { pgConnect, pollUntil, startServers, type Servers } from './context.js';
import { peakRssMb, serverCpuSeconds } from './measure.js';
import { numberOption } from './number-option.js';
import { SalesdbChanges, salesdbShape, SEGMENTS, type SalesdbChange } from './salesdb-changes.js';

const ROWS = numberOption('--rows', 1_000_000);
const CHANGES = numberOption('--changes', ROWS);
const args = process.argv.slice(2);
const at = args.indexOf('--checkpoint-interval');
const INTERVAL = at >= 0 ? args[at + 1]! : '1s';
const DB = 'salesdb_e2e';
const BIN = new URL('../../../bin/tributary.js', import.meta.url).pathname;
const FIXTURE = new URL('../../../fixtures/scenarios/salesdb/customer-orders.sql', import.meta.url).pathname;
// --no-eager-aggregation: the script with eager aggregation turned off (the plan as written: the orders in the join);
// --no-aggregating-joins: with the orders' count per site an aggregate of its own below the join.
const SETTINGS = [
  ...(args.includes('--no-eager-aggregation') ? ['tributary.optimizer.eager-aggregation'] : []),
  ...(args.includes('--no-aggregating-joins') ? ['tributary.optimizer.aggregating-joins'] : []),
];
const SCRIPT = SETTINGS.length === 0 ? FIXTURE : withSettingsOff(FIXTURE, SETTINGS);
const APPLY_BATCH = 2_000;

const shape = salesdbShape(ROWS);
const seconds = (ms: number) => (ms / 1000).toFixed(1);
const rate = (n: number, ms: number) => Math.round((n * 1000) / ms).toLocaleString('en-US');

function withSettingsOff(file: string, keys: readonly string[]): string {
  const copy = join(mkdtempSync(join(tmpdir(), 'sql-e2e-script-')), 'customer-orders.sql');
  const settings = keys.map((key) => `SET '${key}' = 'false';\n`).join('');
  writeFileSync(copy, `${settings}${readFileSync(file, 'utf8')}`);
  return copy;
}

interface Job {
  readonly pid: number;
  readonly exited: Promise<number | string>;
  readonly output: () => string;
  readonly exitCode: () => number | null;
}

/**
 * Starts the job. `bin`: the CLI to run it with — E2E_LOAD_BIN (another build's `bin/tributary.js`) runs the initial
 * load, so that the restarts upgrade a job mid-stream.
 */
function startJob(env: Record<string, string>, bin = BIN): Job {
  // As `tributary` starts (its shebang's V8 flags); E2E_NODE_ARGS adds more (`--cpu-prof`, which NODE_OPTIONS refuses).
  const nodeArgs = [...CLI_NODE_FLAGS, ...(process.env['E2E_NODE_ARGS']?.split(' ').filter(Boolean) ?? [])];
  const child = spawn(
    process.execPath,
    [...nodeArgs, bin, 'sql', '-f', SCRIPT, ...(process.env['E2E_DEBUG'] ? ['--log-level', 'debug'] : [])],
    {
      env: { ...process.env, ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
    },
  );
  let output = '';
  child.stdout.on('data', (d: Buffer) => (output = (output + d.toString()).slice(-20_000)));
  child.stderr.on('data', (d: Buffer) => (output = (output + d.toString()).slice(-20_000)));
  const exited = new Promise<number | string>((resolve) =>
    child.on('exit', (code, signal) => resolve(code ?? signal ?? -1)),
  );
  return {
    pid: child.pid!,
    exited,
    output: () => output,
    exitCode: () => child.exitCode ?? (child.signalCode === null ? null : -1),
  };
}

async function stopJob(job: Job): Promise<void> {
  process.kill(job.pid, 'SIGTERM');
  const code = await job.exited;
  if (code !== 0 && code !== 'SIGTERM') throw new Error(`the job exited with ${code}:\n${job.output().slice(-3000)}`);
}

/** Polls `check` until it holds; fails at once, with the end of its output, if the job exits meanwhile. */
async function until(job: Job, check: () => Promise<boolean>, what: string): Promise<number> {
  const poll = await pollUntil(
    async () => {
      const code = job.exitCode();
      if (code !== null) throw new Error(`the job exited (${code}) before ${what}:\n${job.output().slice(-3000)}`);
      return check();
    },
    what,
    3600,
  );
  return poll.at;
}

function statement(change: SalesdbChange): string {
  switch (change.kind) {
    case 'order-insert':
      return `INSERT INTO SALES_ORDER_ALL VALUES (${change.order}, ${change.site}, '2024-01-01 00:00:00', 'STANDARD')`;
    case 'order-delete':
      return `DELETE FROM SALES_ORDER_ALL WHERE ORDER_ID = ${change.order}`;
    case 'order-move':
      return `UPDATE SALES_ORDER_ALL SET SITE_ID = ${change.to} WHERE ORDER_ID = ${change.order}`;
    case 'site-move':
      return `UPDATE CUSTOMER_SITE SET CUST_ID = ${change.to} WHERE SITE_ID = ${change.site}`;
    case 'customer-segment':
      return `UPDATE CUSTOMER SET MKTSEGMENT = '${change.to}' WHERE CUST_ID = ${change.customer}`;
  }
}

async function load(source: Connection): Promise<void> {
  const { customers, sites, orders } = shape;
  const segments = SEGMENTS.map((s) => `'${s}'`).join(', ');
  await source.query(`DROP DATABASE IF EXISTS ${DB}; CREATE DATABASE ${DB}; USE ${DB};
    CREATE TABLE CUSTOMER (CUST_ID BIGINT PRIMARY KEY, NAME VARCHAR(64) NOT NULL, MKTSEGMENT VARCHAR(32) NOT NULL);
    CREATE TABLE CUSTOMER_SITE (SITE_ID BIGINT PRIMARY KEY, CUST_ID BIGINT NOT NULL, STATE VARCHAR(32), CITY VARCHAR(64));
    CREATE TABLE SALES_ORDER_ALL (ORDER_ID BIGINT PRIMARY KEY, SITE_ID BIGINT NOT NULL, ORDER_DATE DATETIME NOT NULL,
      SHIP_MODE VARCHAR(16));
    INSERT INTO CUSTOMER SELECT seq, CONCAT('Customer#', seq), ELT(1 + seq % 5, ${segments}) FROM seq_1_to_${customers};
    INSERT INTO CUSTOMER_SITE SELECT seq, 1 + (seq - 1) % ${customers}, 'WA', CONCAT('City-', seq)
      FROM seq_1_to_${sites};
    INSERT INTO SALES_ORDER_ALL SELECT seq, 1 + (seq - 1) % ${sites}, '2024-01-01 00:00:00', 'STANDARD'
      FROM seq_1_to_${orders};`);
}

async function cpu(servers: Servers, job: Job) {
  return {
    job: (await serverCpuSeconds(job.pid)) ?? 0,
    mariadb: (await serverCpuSeconds(servers.mariadbPid)) ?? 0,
    postgres: (await serverCpuSeconds(servers.postgresPid)) ?? 0,
  };
}

function cpuSpent(before: Awaited<ReturnType<typeof cpu>>, after: Awaited<ReturnType<typeof cpu>>): string {
  const d = (k: keyof typeof before) => (after[k] - before[k]).toFixed(1);
  return `CPU: job ${d('job')} s, MariaDB ${d('mariadb')} s, PostgreSQL ${d('postgres')} s`;
}

const servers = await startServers();
const stateDir = mkdtempSync(join(tmpdir(), 'sql-e2e-state-'));
let source: Connection | undefined;
let sink: pg.Client | undefined;
let job: Job | undefined;
try {
  const { mariadb, postgres } = servers;
  source = await createConnection({ uri: mariadb.url, multipleStatements: true });
  const admin = await pgConnect(servers, 'postgres');
  await admin.query('DROP DATABASE IF EXISTS sales_e2e');
  await admin.query('CREATE DATABASE sales_e2e');
  await admin.end();
  sink = await pgConnect(servers, 'sales_e2e');
  const env = {
    MYSQL_HOST: mariadb.host,
    MYSQL_PORT: String(mariadb.port),
    MYSQL_USER: mariadb.user,
    MYSQL_PASSWORD: mariadb.password,
    SALESDB: DB,
    SINK_JDBC_URL: `jdbc:postgresql://${postgres.host}:${postgres.port}/sales_e2e`,
    SINK_USER: postgres.user,
    SINK_PASSWORD: postgres.password,
    STATE_DIR: stateDir,
    CHECKPOINT_INTERVAL: INTERVAL,
  };
  const loadStarted = performance.now();
  await load(source);
  console.log(
    `seed 004 end to end: ${ROWS.toLocaleString('en-US')} source rows (${shape.customers} customers, ${shape.sites} sites, ${shape.orders} orders) loaded into MariaDB in ${seconds(performance.now() - loadStarted)} s; checkpoint interval ${INTERVAL}`,
  );

  // 1. The initial load.
  const db = sink;
  const loaded = async () => {
    const { rows } = await db
      .query<{ n: string; total: string | null }>(
        'SELECT count(*) AS n, sum(order_count) AS total FROM customer_orders',
      )
      .catch(() => ({ rows: [{ n: '0', total: null }] }));
    return Number(rows[0]!.n) === shape.customers && Number(rows[0]!.total) === shape.orders;
  };
  let before = await cpu(servers, (job = startJob(env, process.env['E2E_LOAD_BIN'] ?? BIN)));
  let started = performance.now();
  let done = await until(job, loaded, 'the initial load');
  console.log(
    `  initial load: ${seconds(done - started)} s from the job's start, ${rate(ROWS, done - started)} rows/s; ${cpuSpent(before, await cpu(servers, job))}; job peak RSS ${peakRssMb(job.pid)} MB`,
  );
  await stopJob(job);

  // The job's start-up and first checkpoint, with one change to catch up.
  const marker = async (name: string) => {
    await source!.query(`UPDATE ${DB}.CUSTOMER SET NAME = ? WHERE CUST_ID = 1`, [name]);
    return async () =>
      (await db.query('SELECT 1 FROM customer_orders WHERE customer_id = 1 AND name = $1', [name])).rows.length > 0;
  };
  let seen = await marker('e2e-startup');
  job = startJob(env);
  started = performance.now();
  const startupMs = (await until(job, seen, 'the start-up marker')) - started;
  await stopJob(job);

  // 2. Catch-up: the changes, applied while the job is stopped.
  const changes = new SalesdbChanges(shape, CHANGES, args.includes('--orders-only'));
  let applied = 0;
  const applyStarted = performance.now();
  await source.query(`USE ${DB}`);
  while (applied < CHANGES) {
    const batch: string[] = [];
    while (batch.length < APPLY_BATCH && applied < CHANGES) {
      const change = changes.next();
      if (change === undefined) continue;
      batch.push(statement(change));
      applied++;
    }
    await source.query(`BEGIN; ${batch.join('; ')}; COMMIT`);
  }
  seen = await marker('e2e-done');
  console.log(
    `  ${applied.toLocaleString('en-US')} changes applied to MariaDB in ${seconds(performance.now() - applyStarted)} s (the job stopped)`,
  );
  before = await cpu(servers, (job = startJob(env)));
  started = performance.now();
  done = await until(job, seen, 'the changes');
  const after = await cpu(servers, job);
  const rss = peakRssMb(job.pid);
  const log = job.output();
  await stopJob(job);
  job = undefined;
  const catchUpMs = done - started;
  if (process.env['E2E_DEBUG']) console.log(log);
  console.log(
    `  catch-up: ${seconds(catchUpMs)} s from the job's start (its start-up and first checkpoint: ${seconds(startupMs)} s), ${rate(applied, catchUpMs - startupMs)} changes/s without the start-up (${rate(applied, catchUpMs)} with it); ${cpuSpent(before, after)}; job peak RSS ${rss} MB`,
  );

  // The result against the same query on the source.
  const [expected] = (await source.query(
    `SELECT COUNT(O.ORDER_ID) AS n, C.CUST_ID AS id, C.NAME AS name, C.MKTSEGMENT AS segment FROM CUSTOMER C
     JOIN CUSTOMER_SITE CS ON C.CUST_ID = CS.CUST_ID JOIN SALES_ORDER_ALL O ON O.SITE_ID = CS.SITE_ID
     GROUP BY C.CUST_ID, C.NAME, C.MKTSEGMENT ORDER BY C.CUST_ID`,
  )) as unknown as [{ n: number; id: number | string; name: string; segment: string }[]];
  const { rows } = await sink.query<{ n: string; id: string; name: string; segment: string }>(
    'SELECT order_count AS n, customer_id AS id, name, mktsegment AS segment FROM customer_orders ORDER BY customer_id',
  );
  const text = (r: { n: unknown; id: unknown; name: string; segment: string }) =>
    `${String(r.n)}|${String(r.id)}|${r.name}|${r.segment}`;
  const same = expected.length === rows.length && expected.every((r, i) => text(r) === text(rows[i]!));
  console.log(`  the sink equals the query run on MariaDB: ${same ? 'yes' : 'NO'} (${rows.length} rows)`);
  if (!same) process.exitCode = 1;
} finally {
  if (job !== undefined) {
    // It may have exited already: the error that says why is on its way.
    if (job.exitCode() === null) process.kill(job.pid, 'SIGKILL');
    await job.exited;
  }
  await source?.end();
  await sink?.end();
  await servers.mariadb.stop();
  await servers.postgres.stop();
  rmSync(stateDir, { recursive: true, force: true });
}
