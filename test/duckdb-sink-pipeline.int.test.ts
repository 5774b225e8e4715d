import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DuckDBInstance } from '@duckdb/node-api';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runMysqlScript, waitFor } from './harness/databases.js';
import {
  SHARDED_USERS_SCENARIO,
  SHARDED_USERS_TABLES,
  SHARDED_USERS_TRANSFORM_AND_ROUTES,
  sourceUsers,
} from './harness/sharded-users.js';
import { startTestPipeline, type RunningPipeline } from './harness/pipelines.js';

describe('sharded-users scenario into DuckDB (type: duckdb)', () => {
  let dir: string;
  let path: string;
  let running: RunningPipeline;

  /**
   * Reads the DuckDB file while the pipeline writes it: the same process shares one DuckDB instance per file
   * (the API's instance cache), and each query sees the last committed transaction.
   */
  const query = async (sql: string): Promise<(string | null)[][]> => {
    const instance = await DuckDBInstance.fromCache(path);
    const connection = await instance.connect();
    try {
      return (await connection.runAndReadAll(sql))
        .getRowsJson()
        .map((row) => row.map((v) => (v === null ? null : typeof v === 'string' ? v : JSON.stringify(v))));
    } finally {
      connection.closeSync();
      instance.closeSync();
    }
  };
  const targetUsers = (): Promise<(string | null)[][]> =>
    query(
      'SELECT _db_name, _table_name, CAST(id AS VARCHAR), name, address, phone_number, email FROM public.users ORDER BY 1, 2, id',
    );

  beforeAll(async () => {
    await runMysqlScript(await readFile(new URL('source.sql', SHARDED_USERS_SCENARIO), 'utf8'));
    dir = await mkdtemp(join(tmpdir(), 'tributary-duckdb-pipeline-'));
    path = join(dir, 'warehouse.duckdb');
    running = await startTestPipeline({
      name: 'sharded-users-duckdb',
      tables: SHARDED_USERS_TABLES,
      sinkYaml: `  type: duckdb\n  path: ${path}`,
      extraYaml: SHARDED_USERS_TRANSFORM_AND_ROUTES,
    });
  });

  afterAll(async () => {
    if (process.env['TRIBUTARY_TEST_DEBUG']) console.log(running?.logs.join('\n'));
    await running?.stop().catch(() => {});
    await rm(dir, { recursive: true, force: true });
  });

  it('merges the 9 shard tables into public.users with the composite key after the initial load', async () => {
    await waitFor(async () => (await targetUsers()).length === 17, { message: 'users never reached 17 rows' });
    const expected = await sourceUsers();
    expect(expected).toHaveLength(17);
    expect(await targetUsers()).toEqual(expected);
    expect(
      await query(
        "SELECT unnest(constraint_column_names) FROM duckdb_constraints() WHERE schema_name = 'public' AND table_name = 'users' AND constraint_type = 'PRIMARY KEY'",
      ),
    ).toEqual([['_db_name'], ['_table_name'], ['id']]);
  });

  it('synchronises the whole tpc_ds database with exact decimals and microseconds', async () => {
    await waitFor(async () => (await query('SELECT 1 FROM tpc_ds.store_sales')).length === 3);
    expect(
      await query(
        'SELECT ss_item_sk, ss_ticket_number, CAST(ss_sales_price AS VARCHAR), CAST(ss_sold_at AS VARCHAR) FROM tpc_ds.store_sales ORDER BY 1, 2',
      ),
    ).toEqual([
      ['1', '1001', '81.06', '2024-03-01 10:00:00.123456'],
      ['2', '1001', '1.12', '2024-03-01 10:00:00.123456'],
      ['3', '1002', '71.10', '2024-03-02 18:30:05.000001'],
    ]);
    expect(await query('SELECT * FROM tpc_ds.customer')).toHaveLength(3);
    expect(await query('SELECT i_item_sk, CAST(i_current_price AS VARCHAR) FROM tpc_ds.item ORDER BY 1')).toEqual([
      ['1', '27.02'],
      ['2', '1.12'],
      ['3', '7.11'],
    ]);
  });

  it('applies changes.sql from the binlog: the target ends with exactly the source rows', async () => {
    await runMysqlScript(await readFile(new URL('changes.sql', SHARDED_USERS_SCENARIO), 'utf8'));
    await waitFor(async () => (await query('SELECT 1 FROM tpc_ds.customer')).length === 2, {
      message: 'the customer delete never arrived',
    });
    await waitFor(async () => JSON.stringify(await targetUsers()) === JSON.stringify(await sourceUsers()), {
      message: 'users never matched the source',
    });
    const users = await targetUsers();
    expect(users).toHaveLength(17);
    expect(users).toContainEqual(['user_db1', 'user01', '111', 'Sunny', 'Jakarta', '623500000111', 'sunny@foo.com']);
    expect(users.find((u) => u[0] === 'user_db2' && u[1] === 'user02' && u[2] === '2')?.[3]).toBe('Jovita');
    expect(users.find((u) => u[0] === 'user_db3' && u[1] === 'user03' && u[2] === '1')).toBeUndefined();
    await waitFor(async () => (await query('SELECT 1 FROM tpc_ds.store_sales')).length === 4);
    expect(await query('SELECT CAST(i_current_price AS VARCHAR) FROM tpc_ds.item WHERE i_item_sk = 1')).toEqual([
      ['29.99'],
    ]);
  });

  it('stops cleanly with its checkpoint in the DuckDB file, and resumes from it without repeating', async () => {
    const result = await running.stop();
    expect(result.outcome).toBe('stopped');
    const saved = await query(
      "SELECT checkpoint_id, json_extract_string(position, '$.kind') FROM tributary.checkpoints WHERE pipeline = 'sharded-users-duckdb'",
    );
    expect(saved).toHaveLength(1);
    expect(saved[0]?.[1]).toBe('mysql');

    // Changes while stopped arrive after a restart, from the checkpoint in the file.
    await runMysqlScript("UPDATE user_db1.user01 SET name = 'Resumed' WHERE id = 1;");
    running = await startTestPipeline({
      name: 'sharded-users-duckdb',
      tables: SHARDED_USERS_TABLES,
      sinkYaml: `  type: duckdb\n  path: ${path}`,
      extraYaml: SHARDED_USERS_TRANSFORM_AND_ROUTES,
    });
    await waitFor(async () => JSON.stringify(await targetUsers()) === JSON.stringify(await sourceUsers()), {
      message: 'users never matched the source after the restart',
    }).catch(async (error: unknown) => {
      const outcome = await Promise.race([
        running.done.then(
          (r) => r.outcome,
          (e: Error) => e.message,
        ),
        Promise.resolve('running'),
      ]);
      throw new Error(`${String(error)}; pipeline: ${outcome}; logs:\n${running.logs.slice(-15).join('\n')}`);
    });
    expect((await targetUsers()).find((u) => u[0] === 'user_db1' && u[1] === 'user01' && u[2] === '1')?.[3]).toBe(
      'Resumed',
    );
    expect(running.logs.some((l) => /resuming from (checkpoint|savepoint)/.test(l))).toBe(true);
  });
});
