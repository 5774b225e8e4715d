import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Connection } from 'mysql2/promise';
import {
  freshPostgresDatabase,
  mysqlAdmin,
  uniqueName,
  waitFor,
  type FreshPostgresDatabase,
} from './harness/databases.js';
import { testPipelineYaml } from './harness/pipelines.js';
import { startCli, writePipelineFile, type CliProcess } from './harness/cli-process.js';
import { mysqlRows, textRows } from './harness/compare.js';

const ROWS = 60_000;

/**
 * The promise of issue 2: `kill -9` at any moment — mid-snapshot, mid-binlog, while the source keeps
 * changing — and a restart leaves the target exactly equal to the source: nothing missing, nothing twice,
 * nothing stale.
 */
describe('tributary run survives kill -9 and resumes exactly', () => {
  const db = uniqueName('crash');
  let source: Connection;
  let sink: FreshPostgresDatabase;
  let file: string;
  let env: Record<string, string>;
  let cli: CliProcess | undefined;

  const sourceRows = () =>
    mysqlRows(
      source,
      `SELECT CAST(id AS CHAR), grp, val, amount, DATE_FORMAT(updated, '%Y-%m-%d %H:%i:%s.%f'), CAST(big AS CHAR) FROM ${db}.items ORDER BY id`,
    );
  const targetRows = async () =>
    textRows(
      await sink.query(
        `SELECT id::text AS id_text, grp::text, val, amount::text, to_char(updated, 'YYYY-MM-DD HH24:MI:SS.US'), big::text FROM ${db}.items ORDER BY id`,
      ),
    );
  const targetCount = async () =>
    Number(
      (await sink.query<{ n: string }>(`SELECT count(*)::text AS n FROM ${db}.items`).catch(() => [{ n: '0' }]))[0]
        ?.n ?? 0,
    );
  const converged = async () =>
    JSON.stringify(await targetRows().catch(() => [])) === JSON.stringify(await sourceRows());

  beforeAll(async () => {
    source = await mysqlAdmin();
    await source.query(`CREATE DATABASE ${db}`);
    await source.query(
      `CREATE TABLE ${db}.items (id BIGINT PRIMARY KEY, grp INT NOT NULL, val VARCHAR(64), amount DECIMAL(14,4), updated DATETIME(6), big BIGINT UNSIGNED)`,
    );
    await source.query(
      `INSERT INTO ${db}.items SELECT seq * 2, seq % 97, CONCAT('row-', seq, '-ü€😀'), seq * 1.0001, TIMESTAMP('2024-01-01') + INTERVAL seq SECOND + INTERVAL seq MICROSECOND, 18446744073709551615 - seq FROM ${db}.seq_1_to_${ROWS}`,
    );
    sink = await freshPostgresDatabase('crash');
    const pipeline = await testPipelineYaml({
      name: 'crash-test',
      tables: `${db}.items`,
      sinkUrl: sink.url,
      chunkSize: 200,
      checkpointInterval: '200ms',
    });
    env = pipeline.env;
    file = await writePipelineFile(pipeline.stateDir, pipeline.yaml);
  });

  afterAll(async () => {
    if (process.env['TRIBUTARY_TEST_DEBUG']) {
      console.log(cli?.output());
      const [t, src] = [await targetRows().catch(() => []), await sourceRows()];
      const tm = new Map(t.map((r) => [r[0], JSON.stringify(r)]));
      const sm = new Map(src.map((r) => [r[0], JSON.stringify(r)]));
      const diff = [...sm]
        .filter(([k, v]) => tm.get(k) !== v)
        .slice(0, 5)
        .map(([k, v]) => `source ${v} target ${tm.get(k)}`);
      const extra = [...tm].filter(([k]) => !sm.has(k)).slice(0, 5);
      console.log('rows', t.length, src.length, diff, extra);
    }
    cli?.child.kill('SIGKILL');
    await source?.query(`DROP DATABASE IF EXISTS ${db}`);
    await source?.end();
    await sink?.drop();
  });

  it('is killed mid-snapshot, the source changes, and the restart converges', async () => {
    cli = startCli(['run', file], env);
    await waitFor(async () => (await targetCount()) > 2_000, {
      timeoutMs: 180_000,
      message: 'the snapshot never started',
    });
    cli.child.kill('SIGKILL');
    expect(await cli.exited).toBe('SIGKILL');
    const delivered = await targetCount();
    expect(delivered).toBeLessThan(ROWS); // really mid-snapshot

    // Changes while the pipeline is down: in chunks already delivered and in chunks not yet read.
    await source.query(`UPDATE ${db}.items SET val = 'changed-while-down', amount = -1.5 WHERE id % 1000 = 0`);
    await source.query(`DELETE FROM ${db}.items WHERE id % 1500 = 2`);
    await source.query(
      `INSERT INTO ${db}.items VALUES (1, 1, 'new-low', 0.0001, '2025-01-01 00:00:00.000001', 0), (${ROWS * 2 + 2}, 2, 'new-high', 99.99, NULL, 1)`,
    );
    await source.query(`UPDATE ${db}.items SET id = id + 1 WHERE id IN (4, ${ROWS})`); // primary-key changes

    cli = startCli(['run', file], env);
    await waitFor(converged, {
      timeoutMs: 240_000,
      intervalMs: 500,
      message: 'the target never matched the source after the restart',
    });
  });

  it('is killed mid-binlog while a writer runs, and the restart converges', async () => {
    const writer = runWriter(source, db, 3_000);
    await waitFor(async () => (await targetRows()).some((r) => r[2]?.startsWith('w-')), { timeoutMs: 90_000 });
    cli!.child.kill('SIGKILL');
    await cli!.exited;
    await writer;
    cli = startCli(['run', file], env);
    await waitFor(converged, {
      timeoutMs: 240_000,
      intervalMs: 500,
      message: 'the target never matched the source after the binlog restart',
    });
  });

  it('is killed inside one huge transaction that spans several commits, and the restart skips exactly the delivered rows', async () => {
    const before = await sourceRows();
    await source.query('START TRANSACTION');
    await source.query(`UPDATE ${db}.items SET val = CONCAT('big-txn-', id)`);
    await source.query(
      `INSERT INTO ${db}.items SELECT 1000000 + seq, 7, 'big-txn-insert', seq, NULL, seq FROM ${db}.seq_1_to_40000`,
    );
    await source.query('COMMIT');
    const changes = before.length + 40_000; // more than one commit's worth (50k events)
    expect(changes).toBeGreaterThan(50_000);
    const bigTxnRows = async () =>
      Number(
        (await sink.query<{ n: string }>(`SELECT count(*)::text AS n FROM ${db}.items WHERE val LIKE 'big-txn-%'`))[0]
          ?.n ?? 0,
      );
    await waitFor(async () => (await bigTxnRows()) > 0, { timeoutMs: 180_000, intervalMs: 20 });
    cli!.child.kill('SIGKILL');
    await cli!.exited;
    const seen = await bigTxnRows();
    cli = startCli(['run', file], env);
    await waitFor(converged, {
      timeoutMs: 240_000,
      intervalMs: 500,
      message: 'the target never matched the source after a restart inside a transaction',
    });
    expect(seen).toBeLessThanOrEqual(changes);
    // Killed between two commits of the transaction: the restart must have started inside it.
    if (process.env['TRIBUTARY_TEST_DEBUG'])
      console.log('big txn: seen', seen, 'of', changes, cli.output().match(/resuming binlog at .*/)?.[0]);
    if (seen < changes) expect(cli.output()).toMatch(/resuming binlog at \S+:\d+\+\d+ rows?/);
  });

  it('stops on SIGTERM with exit code 0 and resumes from the saved position without replaying', async () => {
    cli!.child.kill('SIGTERM');
    expect(await cli!.exited).toBe(0);
    expect(cli!.output()).toMatch(/final checkpoint/);
    await source.query(`UPDATE ${db}.items SET val = 'after-stop' WHERE id = 1`);
    cli = startCli(['run', file], env);
    await waitFor(converged, { timeoutMs: 180_000, intervalMs: 300 });
    expect(cli.output()).toMatch(/resuming from checkpoint/);
    expect(cli.output()).not.toMatch(/snapshot of .* done/);
    expect(cli.output()).not.toContain(env['TEST_MYSQL_PASSWORD']);
    cli.child.kill('SIGTERM');
    expect(await cli.exited).toBe(0);
  });

  it('a clean stop writes a savepoint; `state` lists it and `run --from-savepoint` resumes from it', async () => {
    const stop = startCli(['run', file], env);
    // The target is converged already (the test before ran this pipeline): stop once the pipeline runs, not
    // while it is still starting (a stop during the checks writes no savepoint).
    await waitFor(async () => /resuming from checkpoint/.test(stop.output()) && (await converged()), {
      timeoutMs: 180_000,
      intervalMs: 300,
    });
    stop.child.kill('SIGTERM');
    expect(await stop.exited).toBe(0);
    const id = /savepoint written: .*savepoint-0*(\d+)\.json/.exec(stop.output())?.[1];
    expect(id).toBeDefined();
    const state = startCli(['state', file], env);
    expect(await state.exited).toBe(0);
    expect(state.output()).toMatch(/read from the sink \(postgres\)/);
    expect(state.output()).toMatch(/savepoints in \S+:/);
    expect(state.output()).toMatch(new RegExp(`^\\s+${id}\\s+\\S+\\s+\\S*savepoint-0*${id}\\.json$`, 'm'));
    await source.query(`UPDATE ${db}.items SET val = 'after-savepoint' WHERE id = 1`);
    cli = startCli(['run', file, '--from-savepoint', id!], env);
    await waitFor(converged, { timeoutMs: 180_000, intervalMs: 300 });
    expect(cli.output()).toMatch(new RegExp(`resuming from savepoint ${id}`));
    cli.child.kill('SIGTERM');
    expect(await cli.exited).toBe(0);
  });
});

/** Mixed inserts, updates (also of the key) and deletes in small transactions. */
async function runWriter(conn: Connection, db: string, ops: number): Promise<void> {
  for (let i = 0; i < ops; i += 10) {
    await conn.query('START TRANSACTION');
    for (let j = i; j < i + 10; j++) {
      const id = ((j * 7919) % 60_000) * 2;
      switch (j % 4) {
        case 0:
          await conn.query(
            `INSERT INTO ${db}.items VALUES (?, ?, ?, ?, NOW(6), ?) ON DUPLICATE KEY UPDATE val = VALUES(val)`,
            [200_000 + j, j, `w-${j}`, j / 100, j],
          );
          break;
        case 1:
          await conn.query(`UPDATE ${db}.items SET val = ?, amount = amount + 1 WHERE id = ?`, [`w-upd-${j}`, id]);
          break;
        case 2:
          await conn.query(`DELETE FROM ${db}.items WHERE id = ?`, [id + 2]);
          break;
        default:
          await conn.query(`UPDATE ${db}.items SET id = ? WHERE id = ?`, [300_000 + j, id + 4]);
      }
    }
    await conn.query('COMMIT');
  }
}
