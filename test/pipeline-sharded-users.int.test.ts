import { readFile } from 'node:fs/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { freshPostgresDatabase, runMysqlScript, waitFor, type FreshPostgresDatabase } from './harness/databases.js';
import {
  SHARDED_USERS_SCENARIO,
  SHARDED_USERS_TABLES,
  SHARDED_USERS_TRANSFORM_AND_ROUTES,
  sourceUsers,
} from './harness/sharded-users.js';
import { startTestPipeline, type RunningPipeline } from './harness/pipelines.js';
import { textRows } from './harness/compare.js';

async function targetUsers(sink: FreshPostgresDatabase): Promise<string[][]> {
  return textRows(
    await sink.query(
      'SELECT _db_name, _table_name, id::text AS id_text, name, address, phone_number, email FROM public.users ORDER BY 1, 2, id',
    ),
  );
}

describe('sharded-users scenario (../shared/scenarios/sharded-users)', () => {
  let sink: FreshPostgresDatabase;
  let running: RunningPipeline;

  beforeAll(async () => {
    await runMysqlScript(await readFile(new URL('source.sql', SHARDED_USERS_SCENARIO), 'utf8'));
    sink = await freshPostgresDatabase('sharded_users');
    running = await startTestPipeline({
      name: 'sharded-users',
      tables: SHARDED_USERS_TABLES,
      sinkUrl: sink.url,
      extraYaml: SHARDED_USERS_TRANSFORM_AND_ROUTES,
    });
  });

  afterAll(async () => {
    if (process.env['TRIBUTARY_TEST_DEBUG'])
      console.log(
        running?.logs.join('\n'),
        JSON.stringify(await targetUsers(sink)),
        JSON.stringify(await sourceUsers()),
      );
    await running?.stop().catch(() => {});
    await sink?.drop();
  });

  it('merges the 9 shard tables into users with _db_name and _table_name after the initial load', async () => {
    await waitFor(async () => (await targetUsers(sink)).length === 17, { message: 'users never reached 17 rows' });
    const expected = await sourceUsers();
    expect(expected).toHaveLength(17);
    expect(await targetUsers(sink)).toEqual(expected);
    const key = await sink.query<{ column_name: string }>(
      `SELECT a.attname AS column_name FROM pg_index i JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = ANY(i.indkey)
       WHERE i.indrelid = 'public.users'::regclass AND i.indisprimary ORDER BY array_position(i.indkey, a.attnum)`,
    );
    expect(key.map((k) => k.column_name)).toEqual(['_db_name', '_table_name', 'id']);
  });

  it('synchronises the whole tpc_ds database table for table, with exact decimals and microseconds', async () => {
    await waitFor(async () => (await sink.query('SELECT 1 FROM tpc_ds.store_sales').catch(() => [])).length === 3);
    expect(
      textRows(
        await sink.query(
          'SELECT ss_item_sk, ss_ticket_number, ss_sales_price, ss_sold_at::text FROM tpc_ds.store_sales ORDER BY 1, 2',
        ),
      ),
    ).toEqual([
      ['1', '1001', '81.06', '2024-03-01 10:00:00.123456'],
      ['2', '1001', '1.12', '2024-03-01 10:00:00.123456'],
      ['3', '1002', '71.10', '2024-03-02 18:30:05.000001'],
    ]);
    expect((await sink.query('SELECT * FROM tpc_ds.customer')).length).toBe(3);
    expect(textRows(await sink.query('SELECT i_item_sk, i_current_price FROM tpc_ds.item ORDER BY 1'))).toEqual([
      ['1', '27.02'],
      ['2', '1.12'],
      ['3', '7.11'],
    ]);
  });

  it('applies changes.sql from the binlog: the target ends with exactly the source rows', async () => {
    await runMysqlScript(await readFile(new URL('changes.sql', SHARDED_USERS_SCENARIO), 'utf8'));
    await waitFor(async () => (await sink.query('SELECT 1 FROM tpc_ds.customer')).length === 2, {
      message: 'the customer delete never arrived',
    });
    await waitFor(async () => JSON.stringify(await targetUsers(sink)) === JSON.stringify(await sourceUsers()), {
      message: 'users never matched the source',
    });
    const users = await targetUsers(sink);
    expect(users).toHaveLength(17);
    expect(users).toContainEqual(['user_db1', 'user01', '111', 'Sunny', 'Jakarta', '623500000111', 'sunny@foo.com']);
    expect(users.find((u) => u[0] === 'user_db2' && u[1] === 'user02' && u[2] === '2')?.[3]).toBe('Jovita');
    expect(users.find((u) => u[0] === 'user_db3' && u[1] === 'user03' && u[2] === '1')).toBeUndefined();
    await waitFor(async () => (await sink.query('SELECT 1 FROM tpc_ds.store_sales')).length === 4);
    expect(textRows(await sink.query('SELECT i_current_price FROM tpc_ds.item WHERE i_item_sk = 1'))).toEqual([
      ['29.99'],
    ]);
  });

  it('stops cleanly on request with its position saved', async () => {
    const result = await running.stop();
    expect(result.outcome).toBe('stopped');
    const checkpoint = await running.pipeline.stateStore().load();
    expect(checkpoint?.position).toMatchObject({ kind: 'mysql' });
    const [row] = await sink.query<{ n: string }>(
      "SELECT count(*)::text AS n FROM tributary.checkpoints WHERE pipeline = 'sharded-users'",
    );
    expect(row?.n).toBe('1');
  });
});
