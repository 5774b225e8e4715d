import pg from 'pg';
import type { Connection } from 'mysql2/promise';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { composePipeline } from '../src/composer/pipeline-composer.js';
import { parsePipelineYaml } from '../src/config/load-pipeline.js';
import { knownTypes, optionSpecsFor } from '../src/connectors/registry.js';
import { TributaryError } from '../src/core/errors.js';
import type { EmbeddedServer } from '../src/embedded/embedded-server.js';
import { startEmbeddedPostgres } from '../src/embedded/embedded-postgres.js';
import { createLogger } from '../src/runtime/logger.js';
import { mysqlAdmin, uniqueName, waitFor } from './harness/databases.js';
import { testPipelineYaml } from './harness/pipelines.js';

/**
 * Many tables against a PostgreSQL whose lock table is small (max_locks_per_transaction = 10 instead of 64):
 * one transaction over all the tables runs out of it (53200 out of shared memory, SINK_OUT_OF_RESOURCES); with
 * sink option `commit.max-tables` under the capacity the pipeline commits every that many tables, snapshots
 * them all and streams changes spread across them; configured too high, its retries halve the bound until the
 * commits fit, instead of retrying the same transaction forever.
 */

const TABLES = 300;
const ROWS = 3;
const table = (i: number) => `t${String(i).padStart(3, '0')}`;

describe('commit.max-tables against a small lock table', () => {
  const db = uniqueName('bound');
  let server: EmbeddedServer;
  let source: Connection;
  let admin: pg.Client;

  /** Rows of tables `from` … `to - 1`, as `table:id:v` lines. */
  const union = (quote: string, from = 0, to = TABLES) =>
    Array.from(
      { length: to - from },
      (_, i) => `SELECT '${table(from + i)}' AS t, id, v FROM ${quote}${db}${quote}.${quote}${table(from + i)}${quote}`,
    ).join(' UNION ALL ');
  const sourceRows = async () => {
    const [rows] = await source.query(`SELECT CONCAT(t, ':', id, ':', v) AS r FROM (${union('`')}) x`);
    return (rows as { r: string }[]).map((r) => r.r).sort();
  };
  /** The sink's rows, read 20 tables per statement: the test's own reads must fit the small lock table too. */
  const sinkRows = async (database: string) => {
    const client = await sinkClient(database);
    try {
      const rows: string[] = [];
      for (let from = 0; from < TABLES; from += 20) {
        const result = await client.query<{ r: string }>(
          `SELECT t || ':' || id || ':' || v AS r FROM (${union('"', from, Math.min(TABLES, from + 20))}) x`,
        );
        rows.push(...result.rows.map((r) => r.r));
      }
      return rows.sort();
    } finally {
      await client.end();
    }
  };
  const sinkUrl = (database: string) => {
    const url = new URL(server.url);
    url.pathname = `/${database}`;
    return url.toString();
  };
  const sinkClient = async (database: string) => {
    const client = new pg.Client({ connectionString: sinkUrl(database) });
    client.on('error', () => undefined);
    await client.connect();
    return client;
  };

  beforeAll(async () => {
    server = await startEmbeddedPostgres({ settings: { max_locks_per_transaction: '10', max_connections: '20' } });
    admin = new pg.Client({ connectionString: server.url });
    admin.on('error', () => undefined);
    await admin.connect();
    source = await mysqlAdmin();
    await source.query(`CREATE DATABASE ${db}`);
    for (let first = 0; first < TABLES; first += 50) {
      const statements: string[] = [];
      for (let i = first; i < Math.min(TABLES, first + 50); i++) {
        statements.push(
          `CREATE TABLE ${db}.${table(i)} (id INT PRIMARY KEY, v TEXT)`,
          `INSERT INTO ${db}.${table(i)} SELECT seq, CONCAT('v', seq) FROM ${db}.seq_1_to_${ROWS}`,
        );
      }
      await source.query(statements.join('; '));
    }
  }, 180_000);

  afterAll(async () => {
    await admin?.end().catch(() => undefined);
    await server?.stop();
    await source?.query(`DROP DATABASE IF EXISTS ${db}`);
    await source?.end();
  });

  async function run(name: string, options: { maxTables: number; mode: 'snapshot' | 'initial'; extra?: string }) {
    await admin.query(`CREATE DATABASE "${name}"`);
    const { yaml, env } = await testPipelineYaml({
      name,
      tables: `${db}.t[0-9]+`,
      sinkUrl: sinkUrl(name),
      mode: options.mode,
      checkpointInterval: '60s',
      sinkYaml: `  type: postgres\n  url: \${TEST_SINK_URL}\n  commit.max-tables: ${options.maxTables}`,
      ...(options.extra === undefined ? {} : { pipelineYaml: options.extra }),
    });
    const logs: string[] = [];
    const def = parsePipelineYaml(yaml, { file: `${name}.yaml`, env, optionSpecsFor, knownTypes });
    const pipeline = composePipeline(def, { log: createLogger({ level: 'info', write: (l) => logs.push(l) }) });
    const controller = new AbortController();
    const done = pipeline.run({ signal: controller.signal });
    done.catch(() => undefined);
    return { done, logs, stop: () => (controller.abort(), done) };
  }

  it('one transaction over every table runs out of the lock table: SINK_OUT_OF_RESOURCES, and it stops', async () => {
    const name = uniqueName('unbounded');
    const running = await run(name, {
      maxTables: 100_000,
      mode: 'snapshot',
      extra: '  retry.max-identical-failures: 1',
    });
    const failure = await running.done.then(
      () => undefined,
      (error: unknown) => error,
    );
    expect(failure).toBeInstanceOf(TributaryError);
    expect((failure as TributaryError).code).toBe('SINK_OUT_OF_RESOURCES');
    expect(((failure as TributaryError).cause as { code?: string }).code).toBe('53200');
    expect((failure as TributaryError).hint).toMatch(/max_locks_per_transaction/);
  }, 120_000);

  it(`with commit.max-tables: 20, all ${TABLES} tables snapshot, changes across them stream, and the target equals the source`, async () => {
    const name = uniqueName('bounded');
    const running = await run(name, { maxTables: 20, mode: 'initial' });
    const expected = await sourceRows();
    await waitFor(async () => JSON.stringify(await sinkRows(name)) === JSON.stringify(expected), {
      timeoutMs: 240_000,
      intervalMs: 1000,
      message: 'the snapshot of every table in the sink',
    });
    // Changes to tables spread across the set, 30 tables per source transaction.
    for (let first = 0; first < TABLES; first += 30) {
      const statements = ['BEGIN'];
      for (let i = first; i < first + 30; i++) {
        statements.push(`UPDATE ${db}.${table(i)} SET v = 'changed' WHERE id = 1`);
        statements.push(`INSERT INTO ${db}.${table(i)} VALUES (100, 'new')`);
        statements.push(`DELETE FROM ${db}.${table(i)} WHERE id = 2`);
      }
      statements.push('COMMIT');
      await source.query(statements.join('; '));
    }
    const changed = await sourceRows();
    await waitFor(async () => JSON.stringify(await sinkRows(name)) === JSON.stringify(changed), {
      timeoutMs: 240_000,
      intervalMs: 1000,
      message: 'the changes in the sink',
    });
    const result = await running.stop();
    // A commit every 20 tables at least: 300 tables' schema events, then their rows.
    expect(result.lastCheckpoint?.id ?? 0).toBeGreaterThanOrEqual((2 * TABLES) / 20);
    expect(running.logs.join('\n')).not.toMatch(/SINK_OUT_OF_RESOURCES/);
  }, 600_000);

  it('configured above what the server has, the retries halve the bound until the commits fit', async () => {
    const name = uniqueName('shrinks');
    const running = await run(name, { maxTables: 400, mode: 'snapshot' });
    const result = await running.done;
    expect(result.outcome).toBe('finished');
    const logs = running.logs.join('\n');
    expect(logs).toMatch(/SINK_OUT_OF_RESOURCES/);
    expect(logs).toMatch(/the next attempt commits every \d+ tables/);
    // The table rows as they are now (the previous test changed them).
    expect(await sinkRows(name)).toEqual(await sourceRows());
  }, 600_000);
});
