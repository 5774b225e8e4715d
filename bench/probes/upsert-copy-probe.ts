/**
 * A/B probe for the PostgreSQL sink's `upsert` path (issue 6): old build vs new build, in alternation, on one
 * private PostgreSQL (and MariaDB for the end-to-end snapshot). Not part of the bench suite; see bench/README.md
 * for that.
 *
 *   tsc -p bench/probes/tsconfig.json                       # → dist/probes/
 *   node dist/probes/bench/probes/upsert-copy-probe.js ab \
 *     --variants old=/tmp/ab/old/dist/probes,new=dist/probes --workloads snapshot,inserts,mixed,e2e \
 *     --rows 500000 --reps 3 [--cpu-prof DIR]
 *
 * Each variant directory holds a compiled copy of this probe next to the sources it was built with. Per run the
 * child reports wall seconds and its own CPU seconds; the driver adds PostgreSQL's CPU seconds (postmaster,
 * backends and the children it has reaped, from /proc) over the child's life.
 *
 * Workloads, driving the sink directly (`write`/`commit` as the runtime does, no source), 50 000 events per
 * commit, rows of ~160 B (bigint key, int, bigint, numeric(12,2), two varchar(64), timestamp(6)):
 * - `snapshot`: `read` events in batches of 8096 (a snapshot chunk);
 * - `inserts`: `insert` events in batches of 1000 (binlog apply);
 * - `mixed`: rows/2 loaded first (untimed), then `rows` changes in batches of 1000: 40 % inserts of new keys,
 *   40 % updates and 20 % deletes of random existing keys;
 * - `e2e`: a whole pipeline, `scan.startup.mode: snapshot`, from MariaDB table `probe.t` (rows generated once);
 * - `binlog`: a whole pipeline, `scan.startup.mode: initial` on an empty table, then `rows` inserts on MariaDB
 *   in transactions of 10 000, timed from the first insert until PostgreSQL holds them all (polled every 100 ms);
 * - `floor`: the floor pipe of the bench suite over the same table (once per repetition, not per variant).
 */
import { execFile, fork, type ChildProcess } from 'node:child_process';
import { readFileSync, readdirSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { promisify } from 'node:util';
import { join, resolve } from 'node:path';
import { performance } from 'node:perf_hooks';
import { createConnection } from 'mysql2/promise';
import pg from 'pg';
import { dataChange, type ChangeEvent } from '../../src/core/change-event.js';
import type { Row } from '../../src/core/data-type.js';
import { tableId, type TableSchema } from '../../src/core/table-schema.js';
import { postgresSink } from '../../src/connectors/postgres/postgres-sink.js';
import { startEmbeddedMariadb } from '../../src/embedded/embedded-mariadb.js';
import { startEmbeddedPostgres } from '../../src/embedded/embedded-postgres.js';
import { composePipeline, createLogger, knownTypes, optionSpecsFor, parsePipelineYaml } from '../../src/index.js';

type Workload = 'snapshot' | 'inserts' | 'mixed' | 'e2e' | 'binlog' | 'floor';

interface RunResult {
  readonly seconds: number;
  readonly nodeCpu: number;
  readonly backendCpu: number | null;
  readonly rows: number;
}

const COMMIT_EVERY = 50_000;
const TICKS = 100; // USER_HZ of /proc/<pid>/stat

const schema: TableSchema = {
  id: tableId('public', 't'),
  columns: [
    { name: 'id', type: { kind: 'int64' }, nullable: false },
    { name: 'a', type: { kind: 'int32' }, nullable: true },
    { name: 'b', type: { kind: 'int64' }, nullable: true },
    { name: 'c', type: { kind: 'decimal', precision: 12, scale: 2 }, nullable: true },
    { name: 'd', type: { kind: 'varchar', length: 64 }, nullable: true },
    { name: 'e', type: { kind: 'varchar', length: 64 }, nullable: true },
    { name: 'f', type: { kind: 'timestamp', precision: 6 }, nullable: true },
  ],
  primaryKey: ['id'],
};

function row(id: number, salt = 0): Row {
  const n = id * 7919 + salt;
  const micro = String(n % 1_000_000).padStart(6, '0');
  return [
    BigInt(id),
    n % 2_000_000_000,
    BigInt(n) * 1000n,
    `${n % 10_000_000}.${String(n % 100).padStart(2, '0')}`,
    `customer-${n.toString(36)}-${'x'.repeat(20 + (n % 20))}`,
    `address ${n % 99_991} street, city ${n % 997}, zone ${salt}`,
    `2024-${String((n % 12) + 1).padStart(2, '0')}-${String((n % 28) + 1).padStart(2, '0')} 12:34:56.${micro}`,
  ];
}

const source = { tsMs: 0 };
const createEvent: ChangeEvent = { kind: 'schema', table: schema.id, change: 'createTable', schema, source };

/** The timed batches of a sink workload, and the untimed ones that load the table first. */
function batchesOf(
  workload: Exclude<Workload, 'e2e'>,
  rows: number,
): { load: ChangeEvent[][]; timed: ChangeEvent[][] } {
  const split = (events: ChangeEvent[], size: number): ChangeEvent[][] => {
    const out: ChangeEvent[][] = [];
    for (let i = 0; i < events.length; i += size) out.push(events.slice(i, i + size));
    return out;
  };
  if (workload === 'snapshot' || workload === 'inserts') {
    const op = workload === 'snapshot' ? 'read' : 'insert';
    const events: ChangeEvent[] = [];
    for (let id = 1; id <= rows; id++) events.push(dataChange(schema.id, op, null, row(id), source));
    return { load: [], timed: split(events, workload === 'snapshot' ? 8096 : 1000) };
  }
  const base = Math.floor(rows / 2);
  const load: ChangeEvent[] = [];
  for (let id = 1; id <= base; id++) load.push(dataChange(schema.id, 'read', null, row(id), source));
  const live = new Map<number, Row>();
  for (let id = 1; id <= base; id++) live.set(id, row(id));
  const ids = [...live.keys()];
  let next = base + 1;
  let seed = 42;
  const random = (): number => {
    seed = (seed * 1103515245 + 12345) % 2147483648;
    return seed / 2147483648;
  };
  const events: ChangeEvent[] = [];
  for (let i = 0; i < rows; i++) {
    const dice = random();
    if (dice < 0.4 || ids.length === 0) {
      const after = row(next);
      live.set(next, after);
      ids.push(next++);
      events.push(dataChange(schema.id, 'insert', null, after, source));
      continue;
    }
    const at = Math.floor(random() * ids.length);
    const id = ids[at]!;
    const before = live.get(id)!;
    if (dice < 0.8) {
      const after = row(id, i + 1);
      live.set(id, after);
      events.push(dataChange(schema.id, 'update', before, after, source));
    } else {
      live.delete(id);
      ids[at] = ids[ids.length - 1]!;
      ids.pop();
      events.push(dataChange(schema.id, 'delete', before, null, source));
    }
  }
  return { load: split(load, 8096), timed: split(events, 1000) };
}

function procCpuSeconds(pid: number, children = false): number {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  // fields[0] is field 3 (state): utime is field 14, stime 15, cutime 16, cstime 17.
  const own = Number(fields[11]) + Number(fields[12]);
  return (children ? own + Number(fields[13]) + Number(fields[14]) : own) / TICKS;
}

/** CPU seconds of a PostgreSQL server: the postmaster, its live children, and the children it reaped. */
function serverCpuSeconds(dataDir: string): number {
  const postmaster = Number(readFileSync(join(dataDir, 'postmaster.pid'), 'utf8').split('\n')[0]);
  let total = procCpuSeconds(postmaster, true);
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = readFileSync(`/proc/${entry}/stat`, 'utf8');
      const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
      if (ppid === postmaster) total += procCpuSeconds(Number(entry));
    } catch {
      // gone meanwhile: its time is in the postmaster's cutime now (or lost, for a moment's worth)
    }
  }
  return total;
}

async function runSink(
  url: string,
  workload: Exclude<Workload, 'e2e' | 'binlog' | 'floor'>,
  rows: number,
): Promise<RunResult> {
  const { load, timed } = batchesOf(workload, rows);
  const sink = postgresSink({ url }, { log: createLogger({ level: 'warn' }) });
  let id = 0;
  const checkpoint = (): { pipeline: string; id: number; position: Record<string, unknown>; committedAt: string } => ({
    pipeline: 'probe',
    id: ++id,
    position: { n: id },
    committedAt: new Date().toISOString(),
  });
  await sink.open('probe');
  await sink.write([createEvent]);
  for (const batch of load) {
    await sink.write(batch);
    if (sink.pending() >= COMMIT_EVERY) await sink.commit(checkpoint());
  }
  await sink.commit(checkpoint());
  const admin = new pg.Client({ connectionString: url });
  admin.on('error', () => undefined); // a dropped connection: the next query reports it
  await admin.connect();
  const found = await admin.query<{ pid: number }>(
    "SELECT pid FROM pg_stat_activity WHERE application_name = 'tributary' AND datname = current_database()",
  );
  const backend = found.rows.length === 1 ? found.rows[0]!.pid : undefined;
  const backendBefore = backend === undefined ? 0 : procCpuSeconds(backend);
  const cpu = process.cpuUsage();
  const started = performance.now();
  for (const batch of timed) {
    await sink.write(batch);
    if (sink.pending() >= COMMIT_EVERY) await sink.commit(checkpoint());
  }
  await sink.commit(checkpoint());
  const seconds = (performance.now() - started) / 1000;
  const used = process.cpuUsage(cpu);
  const backendCpu = backend === undefined ? null : procCpuSeconds(backend) - backendBefore;
  await sink.close();
  const count = await admin.query<{ n: string }>('SELECT count(*) AS n FROM public.t');
  await admin.end();
  return { seconds, nodeCpu: (used.user + used.system) / 1e6, backendCpu, rows: Number(count.rows[0]!.n) };
}

/** The pipeline file for table `probe.<table>` of the MariaDB at `mysqlUrl`, with sink URL `${PROBE_SINK_URL}`. */
function pipelineOf(url: string, mysqlUrl: string, table: string, mode: 'snapshot' | 'initial', stateDir: string) {
  const my = new URL(mysqlUrl);
  const yaml = `source:
  type: mysql
  hostname: ${my.hostname}
  port: ${my.port}
  username: ${decodeURIComponent(my.username)}
  password: \${PROBE_MYSQL_PASSWORD}
  tables: probe.${table}
  server-id: ${5000 + Math.floor(Math.random() * 1000)}
  scan.startup.mode: ${mode}
sink:
  type: postgres
  url: \${PROBE_SINK_URL}
pipeline:
  name: probe
  state.dir: ${stateDir}
`;
  const def = parsePipelineYaml(yaml, {
    file: 'probe.yaml',
    env: { PROBE_MYSQL_PASSWORD: decodeURIComponent(my.password), PROBE_SINK_URL: url },
    optionSpecsFor,
    knownTypes,
  });
  return composePipeline(def, { log: createLogger({ level: 'warn' }), maxRetries: 0 });
}

const PROBE_COLUMNS =
  '(id BIGINT PRIMARY KEY, a INT, b BIGINT, c DECIMAL(12,2), d VARCHAR(64), e VARCHAR(64), f DATETIME(6))';
/** The `probe.t` rows `from`..`to`, generated by MariaDB's sequence engine (a SELECT for INSERT … SELECT). */
const probeRowsSql = (from: number, to: number): string =>
  `SELECT seq, seq * 7 % 2000000000, seq * 7919000, (seq * 7919 % 10000000) + 0.25, ` +
  `CONCAT('customer-', seq, '-', REPEAT('x', 20 + seq % 20)), CONCAT('address ', seq % 99991, ' street, city ', seq % 997), ` +
  `TIMESTAMP('2024-01-01 12:34:56.123456') + INTERVAL seq SECOND FROM probe.seq_${from}_to_${to}`;

/**
 * Binlog apply of inserts: an `initial` pipeline on an empty table; once it runs, `rows` rows are inserted in
 * transactions of 10 000. Timed from the first insert until the target's count is `rows` (polled every 100 ms).
 */
async function runBinlog(url: string, mysqlUrl: string, rows: number): Promise<RunResult> {
  const table = `b${process.pid}`;
  const my = await createConnection({ uri: mysqlUrl, multipleStatements: true });
  my.on('error', () => undefined); // a dropped idle connection: the next query reports it
  await my.query(`DROP TABLE IF EXISTS probe.${table}; CREATE TABLE probe.${table} ${PROBE_COLUMNS}`);
  const stateDir = await mkdtemp(join(tmpdir(), 'probe-state-'));
  const pipeline = pipelineOf(url, mysqlUrl, table, 'initial', stateDir);
  const controller = new AbortController();
  let started!: () => void;
  const running = new Promise<void>((done) => (started = done));
  const run = pipeline.run({ signal: controller.signal, onStart: () => started() });
  await Promise.race([running, run]);
  const admin = new pg.Client({ connectionString: url });
  admin.on('error', () => undefined); // a dropped connection: the next query reports it
  await admin.connect();
  const count = async (): Promise<number> =>
    Number(
      (
        await admin
          .query<{ n: string }>(`SELECT count(*) AS n FROM probe.${table}`)
          .catch(() => ({ rows: [{ n: '0' }] }))
      ).rows[0]!.n,
    );
  const cpu = process.cpuUsage();
  const begun = performance.now();
  for (let from = 1; from <= rows; from += 10_000) {
    await my.query(`INSERT INTO probe.${table} ${probeRowsSql(from, Math.min(rows, from + 9_999))}`);
  }
  while ((await count()) < rows) await new Promise((done) => setTimeout(done, 100));
  const seconds = (performance.now() - begun) / 1000;
  const used = process.cpuUsage(cpu);
  controller.abort();
  await run;
  await admin.end();
  await my.query(`DROP TABLE probe.${table}`);
  await my.end();
  await rm(stateDir, { recursive: true, force: true });
  return { seconds, nodeCpu: (used.user + used.system) / 1e6, backendCpu: null, rows };
}

async function runE2e(url: string, mysqlUrl: string, rows: number): Promise<RunResult> {
  const stateDir = await mkdtemp(join(tmpdir(), 'probe-state-'));
  const pipeline = pipelineOf(url, mysqlUrl, 't', 'snapshot', stateDir);
  const cpu = process.cpuUsage();
  const started = performance.now();
  const result = await pipeline.run({ signal: new AbortController().signal });
  const seconds = (performance.now() - started) / 1000;
  const used = process.cpuUsage(cpu);
  await rm(stateDir, { recursive: true, force: true });
  if (result.outcome !== 'finished') throw new Error(`pipeline ended ${result.outcome}`);
  const admin = new pg.Client({ connectionString: url });
  admin.on('error', () => undefined); // a dropped connection: the next query reports it
  await admin.connect();
  const count = await admin.query<{ n: string }>('SELECT count(*) AS n FROM probe.t');
  await admin.end();
  if (Number(count.rows[0]!.n) !== rows) throw new Error(`expected ${rows} rows, found ${count.rows[0]!.n}`);
  return { seconds, nodeCpu: (used.user + used.system) / 1e6, backendCpu: null, rows };
}

/** The floor pipe of bench/workloads/floor.ts: `mariadb --batch --quick | psql \\copy`, into a pre-created table. */
async function runFloor(url: string, mysqlUrl: string, rows: number): Promise<RunResult> {
  const my = new URL(mysqlUrl);
  const admin = new pg.Client({ connectionString: url });
  admin.on('error', () => undefined); // a dropped connection: the next query reports it
  await admin.connect();
  await admin.query(
    'CREATE TABLE public.t (id bigint PRIMARY KEY, a integer, b bigint, c numeric(12,2), d varchar(64), ' +
      'e varchar(64), f timestamp(6))',
  );
  const script =
    `mariadb --batch --quick --skip-column-names --default-character-set=utf8mb4 -h ${my.hostname} -P ${my.port} ` +
    `-u ${decodeURIComponent(my.username)} -e 'SELECT id, a, b, c, d, e, f FROM probe.t' | ` +
    `psql -q -v ON_ERROR_STOP=1 '${url}' -c "\\copy public.t (id, a, b, c, d, e, f) from pstdin with (null 'NULL')"`;
  const started = performance.now();
  await promisify(execFile)('bash', ['-o', 'pipefail', '-c', script], {
    env: { ...process.env, MYSQL_PWD: decodeURIComponent(my.password) },
  });
  const seconds = (performance.now() - started) / 1000;
  const count = await admin.query<{ n: string }>('SELECT count(*) AS n FROM public.t');
  await admin.end();
  if (Number(count.rows[0]!.n) !== rows) throw new Error(`floor: expected ${rows} rows, found ${count.rows[0]!.n}`);
  return { seconds, nodeCpu: 0, backendCpu: null, rows };
}

function args(argv: readonly string[]): Map<string, string> {
  const map = new Map<string, string>();
  for (let i = 0; i < argv.length; i += 2) map.set(argv[i]!.replace(/^--/, ''), argv[i + 1] ?? '');
  return map;
}

function median(values: readonly number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  return sorted.length % 2 === 1 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
}

function runChild(script: string, argv: readonly string[], profileDir: string | undefined): Promise<RunResult> {
  return new Promise((resolvePromise, reject) => {
    const child: ChildProcess = fork(script, ['run', ...argv], {
      stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
      execArgv: profileDir === undefined ? [] : ['--cpu-prof', '--cpu-prof-dir', profileDir],
    });
    let result: RunResult | undefined;
    child.on('message', (message) => (result = message as RunResult));
    child.on('error', reject);
    child.on('exit', (code) =>
      result === undefined ? reject(new Error(`child exited ${code}`)) : resolvePromise(result),
    );
  });
}

async function driver(options: Map<string, string>): Promise<void> {
  const allVariants = (options.get('variants') ?? '').split(',').map((v) => {
    const [name, dir] = v.split('=');
    return { name: name!, script: resolve(dir!, 'bench/probes/upsert-copy-probe.js') };
  });
  const workloads = (options.get('workloads') ?? 'snapshot,inserts,mixed').split(',') as Workload[];
  const rows = Number(options.get('rows') ?? 500_000);
  const reps = Number(options.get('reps') ?? 3);
  const postgres = await startEmbeddedPostgres();
  const mariadb = workloads.some((w) => w === 'e2e' || w === 'binlog' || w === 'floor')
    ? await startEmbeddedMariadb()
    : undefined;
  try {
    if (mariadb !== undefined) {
      const my = await createConnection({ uri: mariadb.url, multipleStatements: true });
      my.on('error', () => undefined); // a dropped idle connection: the next query reports it
      await my.query(
        'CREATE DATABASE IF NOT EXISTS probe; DROP TABLE IF EXISTS probe.t; ' +
          `CREATE TABLE probe.t ${PROBE_COLUMNS}; INSERT INTO probe.t ${probeRowsSql(1, rows)}`,
      );
      await my.end();
    }
    const admin = new pg.Client({ connectionString: postgres.url });
    admin.on('error', () => undefined); // a dropped connection: the next query reports it
    await admin.connect();
    let n = 0;
    for (const workload of workloads) {
      const variants =
        workload === 'floor' ? allVariants.slice(0, 1).map((v) => ({ ...v, name: 'floor' })) : allVariants;
      const results = new Map<string, RunResult[]>(variants.map((v) => [v.name, []]));
      const serverCpu = new Map<string, number[]>(variants.map((v) => [v.name, []]));
      for (let rep = 0; rep < reps; rep++) {
        // Alternate the order per repetition, so neither variant always runs on a warmer machine.
        const order = rep % 2 === 0 ? variants : [...variants].reverse();
        for (const variant of order) {
          const database = `probe_${++n}`;
          await admin.query(`CREATE DATABASE ${database}`);
          const url = new URL(postgres.url);
          url.pathname = `/${database}`;
          const before = serverCpuSeconds(postgres.dataDir);
          const argv = ['--url', url.toString(), '--workload', workload, '--rows', String(rows)];
          if (mariadb !== undefined) argv.push('--mysql-url', mariadb.url);
          const result = await runChild(variant.script, argv, options.get('cpu-prof'));
          const server = serverCpuSeconds(postgres.dataDir) - before;
          await admin.query(`DROP DATABASE ${database}`);
          results.get(variant.name)!.push(result);
          serverCpu.get(variant.name)!.push(server);
          console.log(
            `${workload} ${variant.name} rep ${rep + 1}: ${result.seconds.toFixed(2)} s, node CPU ${result.nodeCpu.toFixed(2)} s, ` +
              `backend CPU ${result.backendCpu?.toFixed(2) ?? '-'} s, server CPU ${server.toFixed(2)} s, rows ${result.rows}`,
          );
        }
      }
      for (const variant of variants) {
        const runs = results.get(variant.name)!;
        const backend = runs.map((r) => r.backendCpu).filter((v): v is number => v !== null);
        console.log(
          `== ${workload} ${variant.name}: median ${median(runs.map((r) => r.seconds)).toFixed(2)} s ` +
            `(${Math.round(rows / median(runs.map((r) => r.seconds)) / 1000)}k rows/s), node CPU ${median(runs.map((r) => r.nodeCpu)).toFixed(2)} s, ` +
            `backend CPU ${backend.length > 0 ? median(backend).toFixed(2) : '-'} s, server CPU ${median(serverCpu.get(variant.name)!).toFixed(2)} s; ` +
            `runs ${runs.map((r) => r.seconds.toFixed(2)).join(' ')}`,
        );
      }
    }
    await admin.end();
  } finally {
    await mariadb?.stop();
    await postgres.stop();
  }
}

async function child(options: Map<string, string>): Promise<void> {
  const workload = options.get('workload') as Workload;
  const url = options.get('url')!;
  const rows = Number(options.get('rows'));
  const result =
    workload === 'e2e'
      ? await runE2e(url, options.get('mysql-url')!, rows)
      : workload === 'binlog'
        ? await runBinlog(url, options.get('mysql-url')!, rows)
        : workload === 'floor'
          ? await runFloor(url, options.get('mysql-url')!, rows)
          : await runSink(url, workload, rows);
  await new Promise<void>((done) => process.send!(result, undefined, {}, () => done()));
  process.disconnect?.();
}

const [command, ...rest] = process.argv.slice(2);
const main = command === 'run' ? child : driver;
main(args(command === 'run' ? rest : process.argv.slice(command === 'ab' ? 3 : 2))).catch((error: unknown) => {
  console.error(error);
  process.exitCode = 1;
});
