import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Connection } from 'mysql2/promise';
import { composePipeline } from '../src/composer/pipeline-composer.js';
import { parsePipelineYaml } from '../src/config/load-pipeline.js';
import { knownTypes, optionSpecsFor } from '../src/connectors/registry.js';
import { isTributaryError } from '../src/core/errors.js';
import { createLogger } from '../src/runtime/logger.js';
import {
  freshPostgresDatabase,
  mysqlAdmin,
  uniqueName,
  waitFor,
  type FreshPostgresDatabase,
} from './harness/databases.js';
import { startTestPipeline, testPipelineYaml, type RunningPipeline } from './harness/pipelines.js';
import { textRows } from './harness/compare.js';

/** Two shards `<db>_1.orders` and `<db>_2.orders`, with ids apart, routed to one sink table `<db>.orders`. */
async function createShards(source: Connection, db: string): Promise<string> {
  for (const [shard, first] of [
    [1, 1],
    [2, 101],
  ] as const) {
    await source.query(`CREATE DATABASE ${db}_${shard}`);
    await source.query(`CREATE TABLE ${db}_${shard}.orders (id INT PRIMARY KEY, name VARCHAR(20) NOT NULL, qty INT)`);
    await source.query(
      `INSERT INTO ${db}_${shard}.orders VALUES (${first}, 'a${shard}', 1), (${first + 1}, 'b${shard}', 2)`,
    );
  }
  return `route:
  - source-table: ${db}_[12].orders
    sink-table: ${db}.orders
`;
}

async function dropShards(source: Connection | undefined, db: string): Promise<void> {
  for (const shard of [1, 2]) await source?.query(`DROP DATABASE IF EXISTS ${db}_${shard}`);
}

describe('schema evolution of merged shards (lenient, the default)', () => {
  const db = uniqueName('evol');
  let source: Connection;
  let sink: FreshPostgresDatabase;
  let running: RunningPipeline;

  beforeAll(async () => {
    source = await mysqlAdmin();
    const route = await createShards(source, db);
    sink = await freshPostgresDatabase('evol');
    running = await startTestPipeline({
      name: 'evol',
      tables: `${db}_[12].orders`,
      sinkUrl: sink.url,
      extraYaml: route,
    });
    await waitFor(async () => (await sink.query(`SELECT 1 FROM ${db}.orders`).catch(() => [])).length === 4, {
      message: 'the snapshot of both shards never arrived',
    });
  });

  afterAll(async () => {
    await running?.stop().catch(() => {});
    await dropShards(source, db);
    await source?.end();
    await sink?.drop();
  });

  it('adds a column of one shard and widens a column of the other; every row lands in the union table', async () => {
    await source.query(`ALTER TABLE ${db}_1.orders ADD COLUMN note VARCHAR(30)`);
    await source.query(`INSERT INTO ${db}_1.orders VALUES (3, 'c1', 3, 'first shard')`);
    await source.query(`ALTER TABLE ${db}_2.orders MODIFY qty BIGINT`);
    await source.query(`INSERT INTO ${db}_2.orders VALUES (103, 'c2', 5000000000)`);
    await source.query(`UPDATE ${db}_1.orders SET qty = 7 WHERE id = 1`);
    await waitFor(
      async () => (await sink.query(`SELECT 1 FROM ${db}.orders WHERE qty = 7`).catch(() => [])).length === 1,
      {
        message: 'the rows after the ALTERs never arrived',
      },
    );
    expect(textRows(await sink.query(`SELECT id, name, qty::text, note FROM ${db}.orders ORDER BY id`))).toEqual([
      ['1', 'a1', '7', null],
      ['2', 'b1', '2', null],
      ['3', 'c1', '3', 'first shard'],
      ['101', 'a2', '1', null],
      ['102', 'b2', '2', null],
      ['103', 'c2', '5000000000', null],
    ]);
    const types = await sink.query(
      `SELECT column_name, data_type, is_nullable FROM information_schema.columns
        WHERE table_schema = $1 AND table_name = 'orders' AND column_name IN ('qty', 'note') ORDER BY column_name`,
      [db],
    );
    expect(textRows(types)).toEqual([
      ['note', 'character varying', 'YES'],
      ['qty', 'bigint', 'YES'],
    ]);
  });
});

describe('schema.change.behavior: exception', () => {
  const db = uniqueName('evolx');
  let source: Connection;
  let sink: FreshPostgresDatabase;

  beforeAll(async () => {
    source = await mysqlAdmin();
    sink = await freshPostgresDatabase('evolx');
  });

  afterAll(async () => {
    await dropShards(source, db);
    await source?.end();
    await sink?.drop();
  });

  it('stops the pipeline at the first schema change with an error naming the table, the DDL and the option', async () => {
    const route = await createShards(source, db);
    const { yaml, env } = await testPipelineYaml({
      name: 'evolx',
      tables: `${db}_[12].orders`,
      sinkUrl: sink.url,
      extraYaml: route,
    });
    const withBehavior = yaml.replace('\npipeline:\n', '\npipeline:\n  schema.change.behavior: exception\n');
    const def = parsePipelineYaml(withBehavior, { file: 'evolx.yaml', env, optionSpecsFor, knownTypes });
    expect(def.pipeline.schemaChangeBehavior).toBe('exception');
    const pipeline = composePipeline(def, { log: createLogger({ level: 'error', write: () => {} }), maxRetries: 0 });
    const controller = new AbortController();
    const done = pipeline.run({ signal: controller.signal });
    done.catch(() => {});
    try {
      await waitFor(async () => (await sink.query(`SELECT 1 FROM ${db}.orders`).catch(() => [])).length === 4);
      await source.query(`ALTER TABLE ${db}_2.orders ADD COLUMN note TEXT`);
      const error = await done.then(
        () => undefined,
        (e: unknown) => e,
      );
      expect(isTributaryError(error)).toBe(true);
      const message = String((error as Error).message);
      expect(message).toContain(`${db}_2.orders`);
      expect(message).toContain('ADD COLUMN note TEXT');
      expect(message).toContain('pipeline.schema.change.behavior is exception');
      // Nothing of the change reached the sink table.
      const columns = await sink.query(
        `SELECT column_name FROM information_schema.columns WHERE table_schema = $1 AND table_name = 'orders'`,
        [db],
      );
      expect(textRows(columns).flat().sort()).toEqual(['id', 'name', 'qty']);
    } finally {
      controller.abort();
      await done.catch(() => {});
    }
  });
});
