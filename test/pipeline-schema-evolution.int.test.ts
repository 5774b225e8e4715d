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
import { testTempDir } from './harness/temp-dirs.js';

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

/**
 * One table `<db>.items` routed as it is, a pipeline under `behavior` with a state directory of its own, and a
 * restart: stop (a savepoint) and start again with the same state directory, as `tributary run` twice would.
 */
describe.each(['ignore', 'lenient', 'try_evolve'] as const)(
  'schema.change.behavior: %s across a restart',
  (behavior) => {
    const db = uniqueName(`evolr_${behavior.replace('_', '')}`);
    let source: Connection;
    let sink: FreshPostgresDatabase;
    let running: RunningPipeline | undefined;
    /** Set when the running pipeline ended by itself (an error). */
    let ended: string | undefined;
    let stateDir: string | undefined;

    const start = async (): Promise<void> => {
      stateDir ??= await testTempDir('tributary-evolr');
      ended = undefined;
      const started = await startTestPipeline({
        name: `evolr_${behavior}`,
        tables: `${db}.items`,
        sinkUrl: sink.url,
        stateDir,
        pipelineYaml: `  schema.change.behavior: ${behavior}`,
      });
      started.done.catch((error: unknown) => {
        if (running === started) ended = `${String(error)}\n${started.logs.slice(-5).join('\n')}`;
      });
      running = started;
    };
    const restart = async (): Promise<void> => {
      const stopped = running;
      running = undefined;
      await stopped?.stop();
      await start();
    };
    const sinkRows = (sql: string) => sink.query(sql).catch(() => []);
    const columnsOf = async (): Promise<string[][]> =>
      textRows(
        await sink.query(
          `SELECT column_name, data_type, is_nullable FROM information_schema.columns
          WHERE table_schema = $1 AND table_name = 'items' ORDER BY ordinal_position`,
          [db],
        ),
      );
    /** Fails at once, with the pipeline's last log lines, when the pipeline stopped with an error. */
    const arrived = async (id: number, message: string): Promise<void> => {
      await waitFor(
        async () => {
          if (ended !== undefined) throw new Error(`the pipeline stopped: ${ended}`);
          return (await sinkRows(`SELECT 1 FROM ${db}.items WHERE id = ${id}`)).length === 1;
        },
        { message },
      );
    };

    beforeAll(async () => {
      source = await mysqlAdmin();
      sink = await freshPostgresDatabase(`evolr_${behavior.replace('_', '')}`);
      await source.query(`CREATE DATABASE ${db}`);
      await source.query(`CREATE TABLE ${db}.items (id INT PRIMARY KEY, name VARCHAR(20) NOT NULL, qty VARCHAR(20))`);
      await source.query(`INSERT INTO ${db}.items VALUES (1, 'one', '1'), (2, 'two', '1.5')`);
      await start();
      await arrived(2, 'the snapshot never arrived');
    });

    afterAll(async () => {
      await running?.stop().catch(() => {});
      await source?.query(`DROP DATABASE IF EXISTS ${db}`);
      await source?.end();
      await sink?.drop();
    });

    if (behavior === 'ignore') {
      it('keeps the columns of the first createTable after ADD COLUMN and a restart; rows keep flowing', async () => {
        await source.query(`ALTER TABLE ${db}.items ADD COLUMN note VARCHAR(30)`);
        await source.query(`INSERT INTO ${db}.items VALUES (3, 'three', '3', 'left out')`);
        await arrived(3, 'the row after ADD COLUMN never arrived');
        await restart();
        await source.query(`INSERT INTO ${db}.items VALUES (4, 'four', '4', 'left out too')`);
        await source.query(`UPDATE ${db}.items SET name = 'uno' WHERE id = 1`);
        await arrived(4, 'the rows after the restart never arrived');
        expect((await columnsOf()).map(([name]) => name)).toEqual(['id', 'name', 'qty']);
        await waitFor(async () => (await sinkRows(`SELECT 1 FROM ${db}.items WHERE name = 'uno'`)).length === 1);
        expect(textRows(await sink.query(`SELECT id, name, qty FROM ${db}.items ORDER BY id`))).toEqual([
          ['1', 'uno', '1'],
          ['2', 'two', '1.5'],
          ['3', 'three', '3'],
          ['4', 'four', '4'],
        ]);
      });
    }

    if (behavior === 'lenient') {
      it('keeps a dropped column, nullable, across a restart; new rows have NULL there', async () => {
        await source.query(`ALTER TABLE ${db}.items DROP COLUMN name`);
        await source.query(`INSERT INTO ${db}.items VALUES (3, '3')`);
        await arrived(3, 'the row after DROP COLUMN never arrived');
        await restart();
        await source.query(`INSERT INTO ${db}.items VALUES (4, '4')`);
        await arrived(4, 'the row after the restart never arrived');
        expect(await columnsOf()).toEqual([
          ['id', 'integer', 'NO'],
          ['name', 'character varying', 'YES'],
          ['qty', 'character varying', 'YES'],
        ]);
        expect(textRows(await sink.query(`SELECT id, name, qty FROM ${db}.items ORDER BY id`))).toEqual([
          ['1', 'one', '1'],
          ['2', 'two', '1.5'],
          ['3', null, '3'],
          ['4', null, '4'],
        ]);
        // The stage's state went into the sink's checkpoint row with the position: the kept column is in it.
        const [saved] = await sink.query<{ operators: { targets: { schema: { columns: { name: string }[] } }[] }[] }>(
          'SELECT operators FROM tributary.checkpoints WHERE pipeline = $1',
          [`evolr_${behavior}`],
        );
        expect(saved?.operators[0]?.targets[0]?.schema.columns.map((c) => c.name)).toEqual(['id', 'name', 'qty']);
      });
    }

    if (behavior === 'try_evolve') {
      it('skips a type change PostgreSQL cannot apply to the rows it holds; rows keep flowing, in the old type', async () => {
        // Outside strict mode MariaDB rounds '1.5' to 2; PostgreSQL's CAST('1.5' AS integer) fails (22P02), so the
        // sink cannot apply the change to the rows it holds.
        await source.query(`SET SESSION sql_mode = ''`);
        await source.query(`ALTER TABLE ${db}.items MODIFY qty INT`);
        await source.query(`SET SESSION sql_mode = DEFAULT`);
        await source.query(`INSERT INTO ${db}.items VALUES (3, 'three', 3)`);
        await arrived(3, 'the row after the refused type change never arrived');
        expect(running!.logs.join('\n')).toContain('SINK_SCHEMA_CHANGE_FAILED');
        // A change after the refused one still applies.
        await source.query(`ALTER TABLE ${db}.items ADD COLUMN note VARCHAR(30)`);
        await source.query(`INSERT INTO ${db}.items VALUES (4, 'four', 4, 'noted')`);
        await arrived(4, 'the row after ADD COLUMN never arrived');
        await restart();
        await source.query(`INSERT INTO ${db}.items VALUES (5, 'five', 5, 'after the restart')`);
        await arrived(5, 'the row after the restart never arrived');
        expect(await columnsOf()).toEqual([
          ['id', 'integer', 'NO'],
          ['name', 'character varying', 'NO'],
          ['qty', 'character varying', 'YES'],
          ['note', 'character varying', 'YES'],
        ]);
        expect(textRows(await sink.query(`SELECT id, name, qty, note FROM ${db}.items ORDER BY id`))).toEqual([
          ['1', 'one', '1', null],
          ['2', 'two', '1.5', null],
          ['3', 'three', '3', null],
          ['4', 'four', '4', 'noted'],
          ['5', 'five', '5', 'after the restart'],
        ]);
      });
    }
  },
);
