import { readFile, readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import type { Connection } from 'mysql2/promise';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startCli, writePipelineFile, type CliProcess } from './harness/cli-process.js';
import { mysqlRows } from './harness/compare.js';
import { mysqlAdmin, uniqueName, waitFor } from './harness/databases.js';
import {
  createItemsTable,
  describeWriter,
  envNumber,
  faultPipelineYaml,
  report,
  seededRandom,
  seedFromEnv,
  SOURCE_ITEMS_SQL,
  startWriter,
  type Writer,
} from './harness/faults.js';
import { chdbReader } from './harness/chdb-reader.js';
import { icebergRowsText } from './harness/iceberg-reader.js';
import { testTempDir } from './harness/temp-dirs.js';

/**
 * Issue 15's crash loop for the lake: a writer changes two MySQL tables (inserts, updates, key changes, deletes)
 * while `tributary run` into an Iceberg warehouse is killed with SIGKILL again and again, at random moments —
 * during the snapshot, while streaming, in the middle of a commit of two tables — and restarted. At the end
 * icebird (an independent reader) must read exactly the source rows from each table: nothing lost, nothing
 * doubled, and no table snapshot committed the same checkpoint twice. A second reader, embedded ClickHouse (chdb,
 * see harness/chdb-reader.ts), must read them too, to the exact decimal and microsecond, when it is installed
 * (TRIBUTARY_TEST_CHDB=1); otherwise that check is skipped with a line saying why. Needs `npm run build` (the
 * CLI in dist/).
 *
 * TRIBUTARY_CRASH_KILLS (default 6) sets the number of kills, TRIBUTARY_CRASH_SEED replays a run's decisions.
 */
const KILLS = Math.max(1, Math.round(envNumber('TRIBUTARY_CRASH_KILLS', 6)));
const SEED = seedFromEnv('TRIBUTARY_CRASH_SEED');
const ROWS = 3000;
const COLUMNS = ['id', 'grp', 'val', 'amount', 'rev', 'updated'];

const checkpoints = (cli: CliProcess): number =>
  (cli.output().match(/checkpoint \d+: \d+ changes? committed/g) ?? []).length;

describe('crash loop into Iceberg: kill -9 at random moments while a writer runs', () => {
  const db = uniqueName('icecrash');
  const tables = [`${db}.items_a`, `${db}.items_b`];
  let source: Connection;
  let warehouse: string;
  let file: string;
  let env: Record<string, string>;
  let cli: CliProcess | undefined;
  let writer: Writer | undefined;

  beforeAll(async () => {
    source = await mysqlAdmin();
    await source.query(`CREATE DATABASE ${db}`);
    await createItemsTable(source, tables[0]!, ROWS);
    await createItemsTable(source, tables[1]!, ROWS / 2);
    warehouse = await testTempDir('tributary-iceberg-crash-');
    const pipeline = await faultPipelineYaml({
      name: 'iceberg-crash-loop',
      tables: `${db}.items_[ab]`,
      sinkUrl: '',
      chunkSize: 200,
      checkpointInterval: '200ms',
    });
    const yaml = pipeline.yaml.replace(
      '  type: postgres\n  url: ${FAULT_SINK_URL}\n',
      `  type: iceberg\n  warehouse: ${warehouse}\n`,
    );
    expect(yaml).toContain('type: iceberg');
    env = pipeline.env;
    file = await writePipelineFile(pipeline.stateDir, yaml);
  });

  afterAll(async () => {
    cli?.child.kill('SIGKILL');
    await writer?.stop();
    await source?.query(`DROP DATABASE IF EXISTS ${db}`);
    await source?.end();
  });

  /** The source rows as icebird can render them: decimals to 4 places, timestamps to the millisecond. */
  const sourceRows = async (table: string) =>
    (await mysqlRows(source, SOURCE_ITEMS_SQL(table))).map((row) =>
      row.map((value, i) => (i === 5 && value !== null ? value.slice(0, 23) : value)),
    );
  const lakeRows = (table: string) =>
    icebergRowsText(join(warehouse, db, table.split('.')[1]!), COLUMNS, {
      amount: (v) => (v as number).toFixed(4),
    });

  const chdb = chdbReader();
  /** The source rows exactly (decimals to their scale, timestamps to the microsecond), as chdb must read them. */
  const exactSourceRows = (table: string) => mysqlRows(source, SOURCE_ITEMS_SQL(table));
  const checkWithChdb = async (when: string) => {
    if (typeof chdb === 'string') {
      report(`  chdb check ${when} skipped: ${chdb}`);
      return;
    }
    for (const table of tables) {
      const rows = chdb.rowsText(join(warehouse, db, table.split('.')[1]!), COLUMNS);
      expect(rows, `${table} read by chdb ${when}`).toEqual(await exactSourceRows(table));
    }
    report(`  chdb read exactly the source rows ${when}`);
  };

  it(`converges after ${KILLS} kill -9s (seed ${SEED})`, async () => {
    const decide = seededRandom(SEED);
    writer = startWriter({
      connect: () => mysqlAdmin(),
      tables,
      random: seededRandom((SEED * 7919 + 17) >>> 0),
      maxId: ROWS,
      pauseMs: 10,
    });
    for (let k = 1; k <= KILLS; k++) {
      cli = startCli(['run', file, '--log-level', 'debug'], env);
      // Kill after a random number of this run's checkpoints (0: while it starts or snapshots), a random moment
      // after the last one: often in the middle of the next commit.
      const afterCheckpoints = decide.int(0, 4);
      const running = cli;
      const began = Date.now();
      await waitFor(() => checkpoints(running) >= afterCheckpoints || running.child.exitCode !== null, {
        timeoutMs: 60_000,
        intervalMs: 20,
      }).catch(() => undefined);
      await sleep(decide.int(0, 300));
      const ranMs = Date.now() - began;
      cli.child.kill('SIGKILL');
      const exit = await cli.exited;
      if (exit !== 'SIGKILL') throw new Error(`run ${k} ended by itself (${exit}):\n${cli.output().slice(-3000)}`);
      report(`  iceberg kill ${k}/${KILLS} after ${ranMs} ms, ${checkpoints(cli)} checkpoints in this run`);
      await sleep(decide.int(0, 400));
    }
    cli = startCli(['run', file, '--log-level', 'debug'], env);
    await writer.committed(20);
    const stats = await writer.stop();
    writer = undefined;
    report(`  writer: ${describeWriter(stats)}`);
    for (const table of tables) {
      await waitFor(async () => JSON.stringify(await lakeRows(table)) === JSON.stringify(await sourceRows(table)), {
        timeoutMs: 180_000,
        message: `${table} in the lake to equal the source; last run:\n${cli.output().slice(-3000)}`,
      });
      const rows = await lakeRows(table);
      expect(rows).toEqual(await sourceRows(table));
      expect(new Set(rows.map((r) => r[0])).size).toBe(rows.length);
    }
    await checkWithChdb('after the kills');
    cli.child.kill('SIGTERM');
    expect(await cli.exited).toBe(0);
    expect(cli.output()).toMatch(/resuming after checkpoint \d+/);
    for (const table of tables) {
      const metadataDir = join(warehouse, db, table.split('.')[1]!, 'metadata');
      const version = (await readFile(join(metadataDir, 'version-hint.text'), 'utf8')).trim();
      const metadata = JSON.parse(await readFile(join(metadataDir, `v${version}.metadata.json`), 'utf8')) as {
        snapshots: { summary: Record<string, string> }[];
      };
      const ids = metadata.snapshots.map((s) => Number(s.summary['tributary.checkpoint-id']));
      expect(new Set(ids).size, 'a checkpoint committed twice').toBe(ids.length);
      expect([...ids].sort((a, b) => a - b)).toEqual(ids);
      const staged = (await readdir(metadataDir)).filter((f) => f.startsWith('staged-'));
      report(`  ${table}: ${ids.length} snapshots, ${staged.length} staged files left by interrupted commits`);
    }

    // Maintenance with the pipeline stopped: one data file per table, the same rows, and the run resumes.
    const compact = startCli(['compact', file], env);
    expect(await compact.exited, compact.output()).toBe(0);
    report(`  compact: ${compact.output().trim().replace(/\n/g, '; ')}`);
    for (const table of tables) {
      expect(await lakeRows(table)).toEqual(await sourceRows(table));
      const data = await readdir(join(warehouse, db, table.split('.')[1]!, 'data'));
      expect(data).toHaveLength(1);
    }
    await checkWithChdb('after the compaction');
    await source.query(`UPDATE ${tables[0]} SET val = 'after compaction' ORDER BY id LIMIT 1`);
    cli = startCli(['run', file, '--log-level', 'debug'], env);
    await waitFor(
      async () => JSON.stringify(await lakeRows(tables[0]!)) === JSON.stringify(await sourceRows(tables[0]!)),
      {
        timeoutMs: 120_000,
        message: `the change after compaction to arrive; run:\n${cli.output().slice(-3000)}`,
      },
    );
    cli.child.kill('SIGTERM');
    expect(await cli.exited).toBe(0);
  }, 600_000);
});
