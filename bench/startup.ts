/**
 * Start-up (issue 16): how long `tributary run` takes to the first row committed in the sink, and how long a
 * resumed pipeline takes to apply its first change. A private MariaDB and PostgreSQL; the narrow table with N rows;
 * the CLI in its own process (`node bin/tributary.js run`), as a user starts it.
 *
 *   first row   process spawn → the first snapshot row is visible in PostgreSQL (an `initial` pipeline on a fresh
 *               target: checks, schema reads, sink tables created, the first chunk read and committed);
 *   resumed     the pipeline is stopped (SIGTERM) once the snapshot is committed, one row is inserted at the
 *               source, and the process started again: spawn → that row visible in PostgreSQL.
 *
 * The sink is polled every 20 ms from this process. Each figure is the median of `--reps` runs, each on a fresh
 * target database; the CPU seconds of the pipeline process until that moment are printed beside it.
 *
 *   npm run build && npx tsc -p bench/tsconfig.json
 *   node dist/bench/bench/startup.js [--rows 100000] [--reps 3]
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { mkdtemp, writeFile } from 'node:fs/promises';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { setTimeout as sleep } from 'node:timers/promises';
import { parseArgs } from 'node:util';
import { createConnection } from 'mysql2/promise';
import pg from 'pg';
import { startEmbeddedMariadb } from '../src/embedded/embedded-mariadb.js';
import { startEmbeddedPostgres } from '../src/embedded/embedded-postgres.js';
import { fillTable, NARROW } from './tables.js';

const { values } = parseArgs({
  options: { rows: { type: 'string', default: '100000' }, reps: { type: 'string', default: '3' } },
});
const ROWS = Number(values.rows);
const REPS = Number(values.reps);
const say = (line: string) => console.log(line);

/** CPU seconds (user + system) a running process has used so far. */
function cpuSeconds(child: ChildProcess): number {
  const stat = readFileSync(`/proc/${child.pid}/stat`, 'utf8');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return (Number(fields[11]) + Number(fields[12])) / 100;
}

function start(file: string): { child: ChildProcess; started: number; output: string[] } {
  const child = spawn(process.execPath, ['bin/tributary.js', 'run', file], { stdio: ['ignore', 'pipe', 'pipe'] });
  const output: string[] = [];
  child.stdout.on('data', (chunk: Buffer) => output.push(chunk.toString()));
  child.stderr.on('data', (chunk: Buffer) => output.push(chunk.toString()));
  return { child, started: performance.now(), output };
}

async function until(condition: () => Promise<boolean>, child: ChildProcess, output: string[]): Promise<void> {
  const deadline = Date.now() + Number(process.env['STARTUP_TIMEOUT_MS'] ?? 600_000);
  for (;;) {
    if (await condition().catch(() => false)) return;
    if (child.exitCode !== null) throw new Error(`the pipeline exited (${child.exitCode}):\n${output.join('')}`);
    if (Date.now() > deadline) throw new Error(`timed out:\n${output.join('').slice(-3000)}`);
    await sleep(20);
  }
}

async function stop(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null) return;
  const exited = new Promise((resolve) => child.on('exit', resolve));
  child.kill('SIGTERM');
  await exited;
}

const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

async function main(): Promise<void> {
  say(
    `start-up: narrow table of ${ROWS.toLocaleString('en-US')} rows, ${REPS} repetitions; load ${loadavg()[0]!.toFixed(1)}`,
  );
  const [mariadb, postgres] = await Promise.all([startEmbeddedMariadb(), startEmbeddedPostgres()]);
  const source = await createConnection({ uri: mariadb.url, multipleStatements: true });
  const admin = new pg.Client({ connectionString: postgres.url });
  await admin.connect();
  const firstRow: { s: number; cpu: number }[] = [];
  const resumed: { s: number; cpu: number }[] = [];
  try {
    await source.query('CREATE DATABASE bench; USE bench');
    await fillTable(source, 'bench.t', NARROW, ROWS);
    const mysql = new URL(mariadb.url);
    for (let rep = 1; rep <= REPS; rep++) {
      const database = `startup_${rep}`;
      await admin.query(`CREATE DATABASE ${database}`);
      const sinkUrl = new URL(postgres.url);
      sinkUrl.pathname = `/${database}`;
      const sink = new pg.Client({ connectionString: sinkUrl.toString() });
      sink.on('error', () => undefined);
      await sink.connect();
      const dir = await mkdtemp(join(tmpdir(), 'tributary-startup-'));
      const file = join(dir, 'startup.yaml');
      await writeFile(
        file,
        `source:
  type: mysql
  hostname: ${mysql.hostname}
  port: ${mysql.port}
  username: ${decodeURIComponent(mysql.username)}
  password: ${decodeURIComponent(mysql.password)}
  tables: bench.t
  scan.startup.mode: initial
sink:
  type: postgres
  url: ${sinkUrl.toString()}
pipeline:
  name: startup
  state.dir: ${join(dir, 'state')}
`,
      );
      const count = async () => Number((await sink.query('SELECT count(*) AS n FROM bench.t')).rows[0]?.n ?? 0);

      let run = start(file);
      await until(async () => (await count()) > 0, run.child, run.output);
      firstRow.push({ s: (performance.now() - run.started) / 1000, cpu: cpuSeconds(run.child) });
      // Each earlier repetition inserted one row at the source.
      await until(async () => (await count()) === ROWS + rep - 1, run.child, run.output);
      // Let the checkpoint that ends the snapshot commit, then stop and write one row the restart must apply.
      await until(
        async () =>
          (await sink.query("SELECT 1 FROM tributary.checkpoints WHERE NOT (position ? 'snapshot')")).rowCount === 1,
        run.child,
        run.output,
      );
      await stop(run.child);
      const id = ROWS + rep;
      await source.query(`INSERT INTO bench.t SELECT ${NARROW.generator} FROM seq_${id}_to_${id}`);
      run = start(file);
      await until(
        async () => ((await sink.query('SELECT 1 FROM bench.t WHERE id = $1', [id])).rowCount ?? 0) === 1,
        run.child,
        run.output,
      );
      resumed.push({ s: (performance.now() - run.started) / 1000, cpu: cpuSeconds(run.child) });
      await stop(run.child);
      await sink.end();
      say(
        `  repetition ${rep}: first row ${firstRow[rep - 1]!.s.toFixed(2)} s (CPU ${firstRow[rep - 1]!.cpu.toFixed(2)} s), ` +
          `resumed → first change ${resumed[rep - 1]!.s.toFixed(2)} s (CPU ${resumed[rep - 1]!.cpu.toFixed(2)} s); ` +
          `load ${loadavg()[0]!.toFixed(1)}`,
      );
    }
    say(
      `median: first row committed ${median(firstRow.map((r) => r.s)).toFixed(2)} s ` +
        `(pipeline CPU ${median(firstRow.map((r) => r.cpu)).toFixed(2)} s); resumed → first change applied ` +
        `${median(resumed.map((r) => r.s)).toFixed(2)} s (pipeline CPU ${median(resumed.map((r) => r.cpu)).toFixed(2)} s)`,
    );
  } finally {
    await source.end().catch(() => undefined);
    await admin.end().catch(() => undefined);
    await Promise.allSettled([mariadb.stop(), postgres.stop()]);
  }
}

await main();
