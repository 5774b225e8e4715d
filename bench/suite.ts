/**
 * The measurement suite: `npm run bench` (quick), `npm run bench -- --full`. What it measures and how to read
 * it: bench/README.md.
 *
 * Starts a private MariaDB and PostgreSQL, generates the source tables, then per repetition runs every selected
 * workload group (bench/workloads/), each Tributary figure next to its references measured on the same data in
 * the same repetition, and writes bench/results/<date>-<host>[-mode].{json,md,svg} plus latest.md / latest.svg.
 */
import { spawnSync } from 'node:child_process';
import { cpus, hostname, loadavg, totalmem } from 'node:os';
import { join, relative } from 'node:path';
import { readFileSync } from 'node:fs';
import { createConnection, type Connection } from 'mysql2/promise';
import type pg from 'pg';
import { Bench, pgConnect, say, startServers, type Servers } from './context.js';
import { GROUPS, parseOptions, type Group, type Options } from './options.js';
import { markdownTable, round, summarize, writeReport, type BenchReport } from './report.js';
import { EVENTS, fillTable, mysqlChecksum, NARROW, ORDERS, WIDE } from './tables.js';
import { evaluateTargets } from './targets.js';
import { bigTransaction } from './workloads/big-transaction.js';
import { binlogApply } from './workloads/binlog-apply.js';
import { binlogDecode, writeBinlogRange, type BinlogRange } from './workloads/binlog-decode.js';
import { latency } from './workloads/latency.js';
import { dropManyTables, fillManyTables, manyTables } from './workloads/many-tables.js';
import { findPgloader } from './workloads/pgloader.js';
import { snapshotGroup, type SnapshotData } from './workloads/snapshot.js';

/** HEAD, with `+dirty` when src/ has uncommitted changes (the figures are then of a tree no commit holds). */
function gitCommit(root: string): string | null {
  const head = spawnSync('git', ['rev-parse', 'HEAD'], { cwd: root, encoding: 'utf8' });
  if (head.status !== 0) return null;
  const status = spawnSync('git', ['status', '--porcelain', '--', 'src'], { cwd: root, encoding: 'utf8' });
  return head.stdout.trim() + (status.status === 0 && status.stdout.trim() !== '' ? '+dirty' : '');
}

function packageVersion(root: string): string {
  try {
    return (JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')) as { version?: string }).version ?? 'unknown';
  } catch {
    return 'unknown';
  }
}

async function pgloaderVersion(options: Options): Promise<string | null> {
  const needed =
    options.config.references.includes('pgloader') && options.config.groups.some((g) => g.startsWith('snapshot'));
  if (!needed) return null;
  const found = await findPgloader();
  if ('missing' in found) {
    say(`  ${found.missing}: its cells are skipped`);
    return null;
  }
  const version = spawnSync(found.path, ['--version'], { encoding: 'utf8' });
  return (
    version.stdout
      .split('\n')[0]
      ?.replace(/^pgloader version\s*/, '')
      .replace(/"/g, '') ?? 'unknown'
  );
}

/** Everything generated before the repetitions, by the groups that need it. */
interface Prepared {
  readonly snapshots: SnapshotData[];
  readonly range: BinlogRange | undefined;
  readonly data: Record<string, number | string>;
}

async function prepare(bench: Bench, groups: readonly Group[]): Promise<Prepared> {
  const { mysql, config } = bench;
  const data: Record<string, number | string> = {};
  const snapshots: SnapshotData[] = [];
  await mysql.query('DROP DATABASE IF EXISTS bench; CREATE DATABASE bench; USE bench');
  const tables: [Group | 'base', string, string, typeof NARROW, number][] = [
    ['base', 'narrow', 'bench.t', NARROW, config.rows],
    ['snapshot-wide', 'wide', 'bench.w', WIDE, config.rows],
    ['snapshot-orders', 'orders', 'bench.o', ORDERS, config.rows],
    ['snapshot-events', 'events', 'bench.e', EVENTS, config.rows],
    ['snapshot-10m', '10m', 'bench.t10m', NARROW, config.bigRows],
  ];
  for (const [group, tag, table, shape, rows] of tables) {
    if (group !== 'base' && !groups.includes(group)) continue;
    say(`filling ${table} with ${rows.toLocaleString('en-US')} ${shape.name} rows`);
    const seconds = await fillTable(mysql, table, shape, rows);
    const checksum = await mysqlChecksum(mysql, table, shape); // also warms the buffer pool
    const [sizeRows] = await mysql.query(
      `SELECT AVG(LENGTH(CONCAT_WS('\\t', ${shape.columns})) + 1) AS b FROM ${table}`,
    );
    const bytes = Number((sizeRows as { b: string }[])[0]?.b);
    say(`  ${seconds.toFixed(1)} s; ${bytes.toFixed(0)} bytes per row as text`);
    data[`${tag}AvgRowTextBytes`] = round(bytes, 1);
    data[`${tag}FillSeconds`] = round(seconds, 2);
    const snapshotGroupName: Group = group === 'base' ? 'snapshot-narrow' : group;
    if (groups.includes(snapshotGroupName)) {
      snapshots.push({ group: snapshotGroupName, tag, shape, table, rows, checksum });
    }
  }
  let range: BinlogRange | undefined;
  if (groups.includes('binlog-decode')) {
    say('writing the binlog range for binlog-decode');
    range = await writeBinlogRange(bench);
    data['binlogRangeRowChanges'] = range.rows;
    data['binlogRangeMiB'] = round(range.megabytes, 1);
  }
  if (groups.includes('many-tables')) {
    const { tables: count, rowsPerTable } = config.manyTables;
    say(`creating ${count} tables of ${rowsPerTable} rows for many-tables`);
    await fillManyTables(bench);
  }
  return { snapshots, range, data };
}

async function repetition(bench: Bench, prepared: Prepared, rep: number): Promise<void> {
  const { config } = bench;
  for (const group of config.groups) {
    say(`${group} (repetition ${rep}/${config.repetitions})`);
    switch (group) {
      case 'snapshot-narrow':
      case 'snapshot-wide':
      case 'snapshot-orders':
      case 'snapshot-events':
      case 'snapshot-10m':
        for (const data of prepared.snapshots.filter((d) => d.group === group)) await snapshotGroup(bench, data, rep);
        break;
      case 'binlog-decode':
        if (prepared.range) await binlogDecode(bench, prepared.range, rep);
        break;
      case 'binlog-apply':
        await binlogApply(bench, rep);
        break;
      case 'big-transaction':
        await bigTransaction(bench, rep);
        break;
      case 'many-tables':
        await manyTables(bench, rep);
        break;
      case 'latency':
        for (const interval of config.latency.checkpointIntervals) {
          for (const rate of config.latency.ratesPerSecond) await latency(bench, rate, interval, rep);
        }
        break;
    }
  }
}

function notes(options: Options): string[] {
  const { config } = options;
  return [
    ...(options.note ? [`**${options.note}**`] : []),
    "Medians over the repetitions. × reference = the reference's rows/s ÷ this workload's rows/s on the same " +
      "data in the same repetitions: how many times the reference's time per row (below 1: faster).",
    'CPU s and peak RSS: of the external client processes for a reference (CPU summed, RSS of the larger one); ' +
      'of the Node process running the pipeline (one per run) for Tributary.',
    "server CPU s: mariadbd + PostgreSQL (postmaster and backends, including the bench's own polls) during the " +
      'measured interval.',
    `binlog apply rows: from the first source statement until the target shows the last change (polled every ` +
      `${config.pollMs} ms), so the source's own statement time is inside the figure (sourceSeconds in the JSON).`,
    'latency rows: p50/p99/max over rows of (arrival of the PostgreSQL commit notification sent by a trigger on ' +
      'the target table − the time the writer sent the row, stamped in its src_us column); rows/s = the rate written.',
    `${cpus().length} cores shared by the servers, the clients and the pipeline; figures are noisy.`,
  ];
}

async function main(): Promise<void> {
  const options = parseOptions();
  const { config } = options;
  const loadAverageAtStart = loadavg()[0] ?? 0;
  say(
    `Tributary bench (${config.mode}): ${config.rows.toLocaleString('en-US')} rows, ${config.repetitions} ` +
      `repetitions, ${config.groups.join(', ')}; starting MariaDB and PostgreSQL`,
  );
  const servers: Servers = await startServers();
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
    mysql.on('error', () => undefined); // a dropped idle connection: the next query reports it
    pgAdmin = await pgConnect(servers, 'postgres');
    const bench = new Bench(options, servers, mysql, pgAdmin);
    const [versionRows] = await mysql.query('SELECT VERSION() AS v');
    const mariadbVersion = String((versionRows as { v: string }[])[0]?.v);
    const postgresVersion = String(
      (await bench.pgAdmin.query<{ v: string }>("SELECT current_setting('server_version') AS v")).rows[0]?.v,
    );
    const pgloader = await pgloaderVersion(options);
    const prepared = await prepare(bench, config.groups);
    for (let rep = 1; rep <= config.repetitions; rep++) await repetition(bench, prepared, rep);
    if (config.groups.includes('many-tables')) await dropManyTables(bench);

    const workloads = bench.all();
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
        pgloader,
        tributary: packageVersion(options.root),
        gitCommit: gitCommit(options.root),
        loadAverageAtStart: round(loadAverageAtStart, 2),
        note: options.note ?? null,
      },
      config,
      data: prepared.data,
      summary,
      targets: evaluateTargets(summary),
      workloads,
      notes: notes(options),
    };
    // The plain name is the full suite; quick, other sizes and partial runs (--only) never overwrite it.
    const defaults = GROUPS.filter((g) => config.mode === 'full' || g !== 'snapshot-10m');
    const complete = [defaults, GROUPS].some((all) => all.join() === config.groups.join());
    const partial = complete ? '' : `-${config.groups.join('+')}`;
    const size = config.mode === 'full' ? '' : config.mode === 'quick' ? '-quick' : `-${config.rows}rows`;
    const mode =
      config.sink !== 'postgres' ? `-${config.sink}` : config.writeMode === 'upsert' ? '' : `-${config.writeMode}`;
    const files = await writeReport(options.outDir, report, size + partial + mode);
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
