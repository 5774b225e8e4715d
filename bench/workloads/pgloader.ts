/**
 * pgloader (Debian package `pgloader`), the usual MySQL → PostgreSQL migration tool, loading the same table
 * into a fresh database with its defaults (it creates the table, copies with several workers, then builds the
 * indexes). Installed with apt-get when missing and we are root; otherwise its cells are skipped with a note.
 */
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { aptInstall, findExecutable } from '../../src/embedded/embedded-server.js';
import { say, type Bench } from '../context.js';
import { runExternalPipe, shellQuote } from '../measure.js';
import type { RunRecord } from '../report.js';
import { verifyTarget } from '../tables.js';
import type { SnapshotData } from './snapshot.js';

let found: Promise<{ path: string } | { missing: string }> | undefined;

/** The pgloader executable, installing it once if we may; or why there is none. */
export function findPgloader(): Promise<{ path: string } | { missing: string }> {
  found ??= (async () => {
    let path = findExecutable(['pgloader']);
    if (path === undefined) {
      try {
        if (await aptInstall(['pgloader'], (line) => say(`  ${line}`))) path = findExecutable(['pgloader']);
      } catch (error) {
        return { missing: `pgloader not found and apt-get install pgloader failed: ${String(error)}` };
      }
    }
    return path === undefined
      ? { missing: 'pgloader not found (Debian package pgloader; the bench installs it only when run as root)' }
      : { path };
  })();
  return found;
}

/**
 * pgloader's `prefetch rows` (its default, 100,000, exhausts its 1 GB heap on the wide and orders tables: "Heap
 * exhausted, game over"); everything else stays at its defaults.
 */
const PGLOADER_PREFETCH_ROWS = 10_000;

export async function pgloaderRun(
  bench: Bench,
  data: SnapshotData,
  repetition: number,
  pgloader: string,
): Promise<RunRecord> {
  const database = `bench_pgloader_${data.tag}_r${repetition}`;
  return await bench.withTarget(database, async () => {
    const { mariadb, postgres } = bench.servers;
    const [schema, table] = data.table.split('.') as [string, string];
    const dir = await mkdtemp(join(tmpdir(), 'tributary-bench-pgloader-'));
    const client = await bench.pgConnect(database);
    try {
      const loadFile = join(dir, 'load.pgloader');
      const password = encodeURIComponent(mariadb.password);
      await writeFile(
        loadFile,
        `LOAD DATABASE\n` +
          `  FROM mysql://${encodeURIComponent(mariadb.user)}:${password}@${mariadb.host}:${mariadb.port}/${schema}\n` +
          `  INTO postgresql://${encodeURIComponent(postgres.user)}@${postgres.host}:${postgres.port}/${database}\n` +
          `  WITH prefetch rows = ${PGLOADER_PREFETCH_ROWS}\n` +
          `  INCLUDING ONLY TABLE NAMES MATCHING '${table}';\n`,
      );
      await bench.settle();
      const serverCpu = await bench.serverCpuMeter();
      const args = [pgloader, '--no-ssl-cert-verification', '--quiet', '--root-dir', dir, loadFile];
      const run = await runExternalPipe(args.map(shellQuote).join(' '), { ...process.env, PGTZ: 'UTC', TZ: 'UTC' });
      const serverCpuSeconds = await serverCpu();
      await client.query("SET TimeZone = 'UTC'");
      await verifyTarget(client, `${schema}.${table}`, data.shape, data.checksum);
      return { repetition, seconds: run.seconds, cpuSeconds: run.cpuSeconds, maxRssMb: run.maxRssMb, serverCpuSeconds };
    } finally {
      await client.end();
      await rm(dir, { recursive: true, force: true });
    }
  });
}
