import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Connection } from 'mysql2/promise';
import {
  freshPostgresDatabase,
  mysqlAdmin,
  uniqueName,
  waitFor,
  type FreshPostgresDatabase,
} from './harness/databases.js';
import { mysqlRows, textRows } from './harness/compare.js';
import { jdbcOptions, mysqlCdcOptions, startSqlJob, type RunningSqlJob } from './harness/sql-jobs.js';
import { testTempDir } from './harness/temp-dirs.js';

/**
 * Sharded tables merged in SQL, as Flink CDC users write it: one mysql-cdc table whose `database-name` and
 * `table-name` are patterns over three shard tables in two MariaDB databases, with the shard named by METADATA
 * columns in its key (the shards' ids overlap). A statement set writes every row by (database, table, id) and a
 * count and sum per database into PostgreSQL; after the snapshot, after changes to rows of the same id in several
 * shards, and after a shard table created while the job runs, both equal the same queries run on MariaDB.
 */
describe('sharded tables merged by METADATA columns (mysql-cdc → jdbc)', () => {
  const db = uniqueName('sqlshard');
  const shards = [`${db}_1.orders_a`, `${db}_1.orders_b`, `${db}_2.orders_a`];
  let source: Connection;
  let sink: FreshPostgresDatabase;
  let job: RunningSqlJob | undefined;
  let stateDir: string;

  /** Every shard's rows as (database, table, id, amount), as the merged table must hold them. */
  const sourceRows = async (tables: readonly string[]) =>
    mysqlRows(
      source,
      tables
        .map((t) => {
          const [database, table] = t.split('.');
          return `SELECT '${database}' AS db, '${table}' AS tbl, id, amount FROM ${t}`;
        })
        .join(' UNION ALL ') + ' ORDER BY db, tbl, id',
    );
  const sourceTotals = async (tables: readonly string[]) =>
    mysqlRows(
      source,
      `SELECT db, COUNT(*), SUM(amount) FROM (${tables
        .map((t) => `SELECT '${t.split('.')[0]}' AS db, amount FROM ${t}`)
        .join(' UNION ALL ')}) u GROUP BY db ORDER BY db`,
    );
  const expectEqual = async (tables: readonly string[], when: string) => {
    let rows: string[][] = [];
    let totals: string[][] = [];
    const expected = { rows: await sourceRows(tables), totals: await sourceTotals(tables) };
    await waitFor(
      async () => {
        rows = textRows(
          await sink
            .query('SELECT db, tbl, id::text, amount::text FROM all_orders ORDER BY db, tbl, id')
            .catch(() => []),
        );
        totals = textRows(
          await sink.query('SELECT db, n::text, total::text FROM per_database ORDER BY db').catch(() => []),
        );
        return JSON.stringify({ rows, totals }) === JSON.stringify(expected);
      },
      { timeoutMs: 60_000, intervalMs: 200, message: `the merged tables to equal the shards ${when}` },
    ).catch((error: unknown) => {
      console.log('expected', JSON.stringify(expected), '\nactual', JSON.stringify({ rows, totals }));
      console.log(job?.logs.slice(-8).join('\n'));
      throw error;
    });
  };

  beforeAll(async () => {
    source = await mysqlAdmin();
    await source.query(`CREATE DATABASE ${db}_1; CREATE DATABASE ${db}_2; CREATE DATABASE ${db}_other`);
    for (const table of [...shards, `${db}_other.orders_a`]) {
      await source.query(`CREATE TABLE ${table} (id INT PRIMARY KEY, amount DECIMAL(10, 2) NOT NULL)`);
      await source.query(`INSERT INTO ${table} VALUES (1, 10.50), (2, 20.25), (3, 3.00)`);
    }
    sink = await freshPostgresDatabase('sqlshardsink');
    stateDir = await testTempDir('sql-shards-state');
  });

  afterAll(async () => {
    await job?.stop().catch(() => undefined);
    for (const suffix of ['1', '2', 'other']) await source?.query(`DROP DATABASE IF EXISTS ${db}_${suffix}`);
    await source?.end();
    await sink?.drop();
  });

  it('keeps rows of the same id in different shards apart, through changes and a shard added live', async () => {
    job = startSqlJob(`
      CREATE TABLE orders (
        db STRING METADATA FROM 'database_name' VIRTUAL,
        tbl STRING METADATA FROM 'table_name' VIRTUAL,
        id INT, amount DECIMAL(10, 2),
        PRIMARY KEY (db, tbl, id) NOT ENFORCED
      ) WITH (${mysqlCdcOptions(`${db}_[0-9]+`, 'orders_[a-z]')});
      CREATE TABLE all_orders (db STRING, tbl STRING, id INT, amount DECIMAL(10, 2), PRIMARY KEY (db, tbl, id) NOT ENFORCED)
        WITH (${jdbcOptions(sink.url, 'all_orders')});
      CREATE TABLE per_database (db STRING, n BIGINT, total DECIMAL(38, 2), PRIMARY KEY (db) NOT ENFORCED)
        WITH (${jdbcOptions(sink.url, 'per_database')});
      SET 'pipeline.name' = '${db}';
      SET 'state.dir' = '${stateDir}';
      SET 'execution.checkpointing.interval' = '200ms';
      BEGIN STATEMENT SET;
      INSERT INTO all_orders SELECT db, tbl, id, amount FROM orders;
      INSERT INTO per_database SELECT db, COUNT(*), SUM(amount) FROM orders GROUP BY db;
      END;
    `);
    await expectEqual(shards, 'after the snapshot');
    // The database that does not match the pattern stays out.
    expect(textRows(await sink.query(`SELECT count(*)::text FROM all_orders WHERE db = '${db}_other'`))).toEqual([
      ['0'],
    ]);

    // Id 2 changes in one shard only, id 1 goes from one shard, id 4 comes to two.
    await source.query(`UPDATE ${db}_1.orders_b SET amount = 99.99 WHERE id = 2`);
    await source.query(`DELETE FROM ${db}_2.orders_a WHERE id = 1`);
    await source.query(`INSERT INTO ${db}_1.orders_a VALUES (4, 1.01)`);
    await source.query(`INSERT INTO ${db}_2.orders_a VALUES (4, 2.02)`);
    await source.query(`UPDATE ${db}_1.orders_a SET id = 5 WHERE id = 3`);
    await expectEqual(shards, 'after changes to the same ids in several shards');

    // A shard table created while the job runs joins the merge.
    const added = `${db}_2.orders_c`;
    await source.query(`CREATE TABLE ${added} (id INT PRIMARY KEY, amount DECIMAL(10, 2) NOT NULL)`);
    await source.query(`INSERT INTO ${added} VALUES (1, 7.00), (2, 8.00)`);
    await expectEqual([...shards, added], 'after a shard table was added');

    const result = await job.stop();
    expect(result.outcome).toBe('stopped');
    job = undefined;
  }, 120_000);
});
