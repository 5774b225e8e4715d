/**
 * Many tables at scale (issue 21): T tables × 10 rows on a private MariaDB, one `tributary run` (the CLI, in its
 * own process) into a private PostgreSQL with the default lock table (max_connections = 100,
 * max_locks_per_transaction = 64). Prints start-up time, snapshot rows/s, peak RSS, checkpoint size and the
 * commits, then the time for changes spread across the set (one row in every table, 10 tables per source
 * transaction, tables i, i + T/10, …), and checks that the target equals the source, table by table.
 *
 * With --kill9 the pipeline is killed with SIGKILL once during the snapshot and once while the changes stream,
 * and restarted each time: the target must still equal the source (exactly once through kill -9).
 *
 *   npm run build && tsc -p bench/tsconfig.json
 *   node dist/bench/bench/many-tables-scale.js --tables 10000 [--kill9]
 *   scripts/many-tables-kill9.sh 10000      # the same, with --kill9
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { setTimeout as sleep } from 'node:timers/promises';
import { parseArgs } from 'node:util';
import { createConnection, type Connection } from 'mysql2/promise';
import pg from 'pg';
import { startEmbeddedMariadb } from '../src/embedded/embedded-mariadb.js';
import { startEmbeddedPostgres } from '../src/embedded/embedded-postgres.js';
import { peakRssMb } from './measure.js';

const { values } = parseArgs({
  options: {
    tables: { type: 'string', default: '1000' },
    rows: { type: 'string', default: '10' },
    kill9: { type: 'boolean', default: false },
    /** Write every line of the (first) pipeline process here, with seconds since its start. */
    'log-file': { type: 'string' },
    /** Run the pipeline process with `node --cpu-prof`, its profile written into this directory at its exit. */
    'cpu-prof': { type: 'string' },
  },
});
const TABLES = Number(values.tables);
const ROWS = Number(values.rows);
const DB = 'scale';
const table = (i: number) => `t${String(i).padStart(5, '0')}`;
const say = (line: string) => console.log(line);

interface Run {
  readonly child: ChildProcess;
  readonly started: number;
  readonly lines: { at: number; text: string }[];
  readonly exited: Promise<number | null>;
}

function startPipeline(file: string): Run {
  // Debug: one line per checkpoint with the bytes its store wrote (src/runtime/checkpoint-chunks.ts).
  const profile = values['cpu-prof'] === undefined ? [] : ['--cpu-prof', '--cpu-prof-dir', values['cpu-prof']];
  const child = spawn(process.execPath, [...profile, 'bin/tributary.js', 'run', file, '--log-level', 'debug'], {
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const lines: { at: number; text: string }[] = [];
  const take = (chunk: Buffer) => {
    for (const text of chunk.toString().split('\n')) if (text !== '') lines.push({ at: performance.now(), text });
  };
  child.stdout.on('data', take);
  child.stderr.on('data', take);
  child.on('error', (error) => say(`pipeline process: ${error.message}`));
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
  return { child, started: performance.now(), lines, exited };
}

/** CPU seconds (user + system) a running process has used so far. */
function cpuSeconds(pid: number | undefined): number {
  if (pid === undefined) return NaN;
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  // Fields 14 and 15 of stat (utime, stime), in clock ticks (100 per second on Linux).
  return (Number(fields[11]) + Number(fields[12])) / 100;
}

/** utime, stime, cutime, cstime and the parent pid of a process, from /proc/<pid>/stat (ticks: 1/100 s). */
function procStat(pid: string): { self: number; children: number; ppid: string } | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return {
      self: (Number(fields[11]) + Number(fields[12])) / 100,
      children: (Number(fields[13]) + Number(fields[14])) / 100,
      ppid: fields[1] ?? '',
    };
  } catch {
    return undefined; // gone meanwhile
  }
}

/**
 * CPU seconds a database server has used so far: the processes started with `dataDir` on their command line
 * (mariadbd, the postmaster), the children they reaped (PostgreSQL's ended backends), and their live children
 * (the backends).
 */
function serverCpuSeconds(dataDir: string): number {
  const pids = readdirSync('/proc').filter((name) => /^\d+$/.test(name));
  const roots = new Set(
    pids.filter((pid) => {
      try {
        return readFileSync(`/proc/${pid}/cmdline`, 'utf8').includes(dataDir);
      } catch {
        return false;
      }
    }),
  );
  let total = 0;
  for (const pid of pids) {
    const stat = procStat(pid);
    if (stat === undefined) continue;
    if (roots.has(pid)) total += stat.self + stat.children;
    else if (roots.has(stat.ppid)) total += stat.self;
  }
  return total;
}

interface CheckpointRow {
  id: number;
  snapshot: boolean;
  position_bytes: number;
  operators_bytes: number;
}

async function checkpoint(sink: pg.Client): Promise<CheckpointRow | undefined> {
  const result = await sink
    .query<CheckpointRow>(
      "SELECT checkpoint_id::int AS id, position ? 'snapshot' AS snapshot, octet_length(position::text) AS position_bytes, " +
        "octet_length(coalesce(operators::text, '')) AS operators_bytes FROM tributary.checkpoints",
    )
    .catch(() => ({ rows: [] as CheckpointRow[] }));
  return result.rows[0];
}

/** The chunks of the checkpoint's bulk (releases before issue 21 have none): count and bytes. */
async function chunkTable(sink: pg.Client): Promise<{ chunks: number; bytes: number }> {
  const result = await sink
    .query<{ chunks: number; bytes: number }>(
      'SELECT count(*)::int AS chunks, coalesce(sum(octet_length(body)), 0)::bigint::float8 AS bytes FROM tributary.checkpoints_chunks',
    )
    .catch(() => ({ rows: [{ chunks: 0, bytes: 0 }] }));
  return result.rows[0] ?? { chunks: 0, bytes: 0 };
}

/** WAL written by the server so far, in bytes. */
async function walBytes(admin: pg.Client): Promise<number> {
  const result = await admin.query<{ bytes: number }>(
    "SELECT pg_wal_lsn_diff(pg_current_wal_lsn(), '0/0')::float8 AS bytes",
  );
  return result.rows[0]?.bytes ?? NaN;
}

/** What the debug lines say the sink stored per checkpoint (none from releases before issue 21). */
function storedPerCheckpoint(run: Run): { count: number; total: number; max: number; first: number } {
  const bytes = run.lines
    .map((l) => /^.*postgres: checkpoint \d+ stored (\d+) bytes/.exec(l.text)?.[1])
    .filter((b): b is string => b !== undefined)
    .map(Number);
  return {
    count: bytes.length,
    total: bytes.reduce((a, b) => a + b, 0),
    max: Math.max(0, ...bytes),
    first: bytes[0] ?? 0,
  };
}

/** Bytes of the files under `dir` (the embedded state store). */
function directoryBytes(dir: string): number {
  let bytes = 0;
  for (const entry of readdirSync(dir, { withFileTypes: true, recursive: true })) {
    if (entry.isFile()) bytes += statSync(join(entry.parentPath, entry.name)).size;
  }
  return bytes;
}

const kib = (bytes: number) => (bytes < 10240 ? `${Math.round(bytes)} bytes` : `${Math.round(bytes / 1024)} KiB`);

async function until(what: string, condition: () => Promise<boolean>, run: Run, timeoutMs = 3_600_000) {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (await condition()) return;
    if (run.child.exitCode !== null) {
      throw new Error(`the pipeline exited (${run.child.exitCode}) while waiting for ${what}:\n${tail(run)}`);
    }
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(250);
  }
}

const tail = (run: Run) =>
  run.lines
    .slice(-15)
    .map((l) => l.text)
    .join('\n');

/** Per table: rows, sum of `a`, total length of `d` — from the source and from the sink, 200 tables per query. */
async function totals(query: (sql: string) => Promise<string[]>, quote: string): Promise<string[]> {
  const out: string[] = [];
  for (let first = 0; first < TABLES; first += 200) {
    const parts: string[] = [];
    for (let i = first; i < Math.min(TABLES, first + 200); i++) {
      parts.push(
        `SELECT '${table(i)}' AS t, count(*) AS n, coalesce(sum(a), 0) AS a, coalesce(sum(length(d)), 0) AS d ` +
          `FROM ${quote}${DB}${quote}.${quote}${table(i)}${quote}`,
      );
    }
    out.push(...(await query(parts.join(' UNION ALL '))));
  }
  return out.sort();
}

async function compare(source: Connection, sink: pg.Client): Promise<void> {
  const row = (r: Record<string, unknown>) => `${String(r['t'])} ${String(r['n'])} ${String(r['a'])} ${String(r['d'])}`;
  const mine = await totals(async (sql) => ((await source.query(sql))[0] as Record<string, unknown>[]).map(row), '`');
  const theirs = await totals(async (sql) => (await sink.query(sql)).rows.map(row), '"');
  const differing = mine.filter((line, i) => theirs[i] !== line);
  if (differing.length > 0 || mine.length !== theirs.length) {
    throw new Error(
      `target differs from source in ${differing.length} tables, e.g. ${differing.slice(0, 3).join('; ')}`,
    );
  }
  say(`  target equals source: ${TABLES} tables, count, sum(a) and sum(length(d)) per table`);
}

async function main(): Promise<void> {
  say(
    `many tables: ${TABLES} tables × ${ROWS} rows${values.kill9 ? ', kill -9 during the snapshot and the changes' : ''}`,
  );
  const [mariadb, postgres] = await Promise.all([
    startEmbeddedMariadb(),
    startEmbeddedPostgres({ settings: { max_connections: '100', max_locks_per_transaction: '64' } }),
  ]);
  const source = await createConnection({ uri: mariadb.url, multipleStatements: true });
  source.on('error', () => undefined);
  const admin = new pg.Client({ connectionString: postgres.url });
  admin.on('error', () => undefined);
  await admin.connect();
  let run: Run | undefined;
  try {
    let started = performance.now();
    await source.query(`CREATE DATABASE ${DB}`);
    for (let first = 0; first < TABLES; first += 100) {
      const statements: string[] = [];
      for (let i = first; i < Math.min(TABLES, first + 100); i++) {
        statements.push(
          `CREATE TABLE ${DB}.${table(i)} (id INT PRIMARY KEY, a INT NOT NULL, d VARCHAR(64))`,
          `INSERT INTO ${DB}.${table(i)} SELECT seq, seq, CONCAT('row-', seq) FROM ${DB}.seq_1_to_${ROWS}`,
        );
      }
      await source.query(statements.join('; '));
    }
    say(`  source filled in ${((performance.now() - started) / 1000).toFixed(1)} s`);

    await admin.query('CREATE DATABASE sink');
    const sinkUrl = new URL(postgres.url);
    sinkUrl.pathname = '/sink';
    const sink = new pg.Client({ connectionString: sinkUrl.toString() });
    sink.on('error', () => undefined);
    await sink.connect();
    const mysql = new URL(mariadb.url);
    const dir = await mkdtemp(join(tmpdir(), 'tributary-scale-'));
    const file = join(dir, 'scale.yaml');
    await writeFile(
      file,
      `source:
  type: mysql
  hostname: ${mysql.hostname}
  port: ${mysql.port}
  username: ${decodeURIComponent(mysql.username)}
  password: ${decodeURIComponent(mysql.password)}
  tables: ${DB}.t[0-9]+
  scan.startup.mode: initial
sink:
  type: postgres
  url: ${sinkUrl.toString()}
pipeline:
  name: scale
  state.dir: ${join(dir, 'state')}
`,
    );

    const walAtStart = await walBytes(admin);
    const serversAtStart = { postgres: serverCpuSeconds(postgres.dataDir), mariadb: serverCpuSeconds(mariadb.dataDir) };
    run = startPipeline(file);
    const seen = (pattern: RegExp) => run!.lines.find((l) => pattern.test(l.text));
    await until('the source to open', () => Promise.resolve(seen(/starting at|resuming binlog/) !== undefined), run);
    const startup = (seen(/starting at|resuming binlog/)!.at - run.started) / 1000;
    say(`  start-up (process start → source open, schemas read): ${startup.toFixed(1)} s`);
    const first = run;
    const logFile = values['log-file'];
    if (logFile !== undefined) {
      process.on('exit', () =>
        writeFileSync(
          logFile,
          first.lines.map((l) => `${((l.at - first.started) / 1000).toFixed(3)} ${l.text}\n`).join(''),
        ),
      );
    }
    if (values.kill9) {
      await until('checkpoint 20', async () => ((await checkpoint(sink))?.id ?? 0) >= 20, run);
      run.child.kill('SIGKILL');
      await run.exited;
      say(`  kill -9 during the snapshot, at checkpoint ${(await checkpoint(sink))?.id}; restarting`);
      run = startPipeline(file);
    }
    await until('the snapshot to be committed', async () => (await checkpoint(sink))?.snapshot === false, run);
    const snapshotSeconds = (performance.now() - run.started) / 1000;
    const snapshotCpu = cpuSeconds(run.child.pid);
    const serversCpu = {
      postgres: serverCpuSeconds(postgres.dataDir) - serversAtStart.postgres,
      mariadb: serverCpuSeconds(mariadb.dataDir) - serversAtStart.mariadb,
    };
    const after = (await checkpoint(sink))!;
    say(
      `  snapshot: ${snapshotSeconds.toFixed(1)} s (process start → last snapshot chunk committed), ` +
        `${Math.round((TABLES * ROWS) / snapshotSeconds)} rows/s, ${after.id} checkpoints so far`,
    );
    say(
      `  CPU of the pipeline process until then: ${snapshotCpu.toFixed(2)} s, ` +
        `${((snapshotCpu * 1000) / (TABLES * ROWS)).toFixed(4)} CPU-s per 1k rows`,
    );
    say(
      `  CPU of the servers meanwhile: PostgreSQL ${serversCpu.postgres.toFixed(2)} s, ` +
        `MariaDB ${serversCpu.mariadb.toFixed(2)} s${values.kill9 ? ' (since the first start)' : ''}`,
    );
    const wal = (await walBytes(admin)) - walAtStart;
    const chunks = await chunkTable(sink);
    say(
      `  checkpoint size: the row: position ${kib(after.position_bytes)}, operators state ` +
        `${kib(after.operators_bytes)}; its chunks: ${chunks.chunks} of ${kib(chunks.bytes)} in all`,
    );
    const stored = storedPerCheckpoint(run);
    say(
      stored.count === 0
        ? '  checkpoint bytes written per commit: no debug lines (a release before issue 21 rewrites the row whole)'
        : `  checkpoint bytes written per commit (sink, as JSON text): ${kib(stored.total / stored.count)} on average over ` +
            `${stored.count} commits of this process, the first ${kib(stored.first)}, the largest ${kib(stored.max)}`,
    );
    say(
      `  WAL written by PostgreSQL from the process start to the end of the snapshot: ${Math.round(wal / 1048576)} MiB, ` +
        `${kib(wal / Math.max(1, after.id))} per checkpoint (data included)`,
    );
    say(`  embedded state store: ${kib(directoryBytes(join(dir, 'state')))} on disk`);
    say(`  peak RSS of the pipeline process: ${peakRssMb(run.child.pid)} MB`);
    const errors = run.lines.filter((l) => /SINK_OUT_OF_RESOURCES|ERROR/.test(l.text));
    say(`  resource errors logged: ${errors.length}`);

    // Changes spread across the set: each source transaction updates 10 tables T/10 apart.
    started = performance.now();
    const step = Math.max(1, Math.floor(TABLES / 10));
    for (let first = 0; first < step; first++) {
      const statements = ['BEGIN'];
      for (let i = first; i < TABLES; i += step) {
        statements.push(`UPDATE ${DB}.${table(i)} SET a = a + 1000, d = CONCAT('u-', d) WHERE id = 1`);
      }
      statements.push('COMMIT');
      await source.query(statements.join('; '));
      if (values.kill9 && first === Math.floor(step / 2)) {
        run.child.kill('SIGKILL');
        await run.exited;
        say(`  kill -9 while changes stream, at checkpoint ${(await checkpoint(sink))?.id}; restarting`);
        run = startPipeline(file);
      }
    }
    const last = table(TABLES - 1);
    await until(
      'the last change in the sink',
      async () =>
        (
          await sink
            .query(`SELECT 1 FROM "${DB}"."${last}" WHERE id = 1 AND d LIKE 'u-%'`)
            .catch(() => ({ rowCount: 0 }))
        ).rowCount === 1,
      run,
    );
    const changeSeconds = (performance.now() - started) / 1000;
    say(`  changes: ${TABLES} rows in ${step} transactions of 10 tables, visible after ${changeSeconds.toFixed(1)} s`);
    say(`  peak RSS of the pipeline process: ${peakRssMb(run.child.pid)} MB`);
    run.child.kill('SIGTERM');
    await run.exited;
    await compare(source, sink);
    await sink.end();
  } catch (error) {
    if (run) say(tail(run));
    throw error;
  } finally {
    run?.child.kill('SIGKILL');
    await source.end().catch(() => undefined);
    await admin.end().catch(() => undefined);
    await Promise.allSettled([mariadb.stop(), postgres.stop()]);
  }
}

await main();
