import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Connection } from 'mysql2/promise';
import {
  freshPostgresDatabase,
  mysqlAdmin,
  mysqlUrl,
  uniqueName,
  waitFor,
  type FreshPostgresDatabase,
} from './harness/databases.js';
import { mysqlRows, textRows } from './harness/compare.js';
import { startSqlJob, type RunningSqlJob } from './harness/sql-jobs.js';
import { testTempDir } from './harness/temp-dirs.js';
import { startCli } from './harness/cli-process.js';

/**
 * `CREATE DATABASE … AS DATABASE` (CDAS) from MariaDB into PostgreSQL: every table of the source database the
 * INCLUDING pattern matches, minus EXCLUDING, lands in the target schema with its rows — after the snapshot, after
 * changes, after a column is added mid-stream, and for a table created while the job runs.
 */
describe('CREATE DATABASE … AS DATABASE from MariaDB into PostgreSQL', () => {
  const db = uniqueName('cdas');
  let source: Connection;
  let sink: FreshPostgresDatabase;
  let job: RunningSqlJob | undefined;

  const sourceRows = (table: string, columns: string) =>
    mysqlRows(source, `SELECT ${columns} FROM ${db}.${table} ORDER BY id`);
  const targetRows = async (table: string, columns: string) =>
    textRows(await sink.query(`SELECT ${columns} FROM copy.${table} ORDER BY id`));
  const converge = async (table: string, columns: string, when: string) => {
    let expected = '';
    let actual = '';
    await waitFor(
      async () => {
        expected = JSON.stringify(await sourceRows(table, columns));
        actual = JSON.stringify(await targetRows(table, columns).catch(() => []));
        return actual === expected;
      },
      { timeoutMs: 90_000, intervalMs: 300, message: `copy.${table} to equal ${db}.${table} ${when}` },
    ).catch((error: unknown) => {
      console.log('expected', expected, '\nactual  ', actual, '\n', job?.logs.slice(-8).join('\n'));
      throw error;
    });
  };

  beforeAll(async () => {
    source = await mysqlAdmin();
    await source.query(`CREATE DATABASE ${db};
      CREATE TABLE ${db}.customers (id INT PRIMARY KEY, name VARCHAR(40) NOT NULL, tier VARCHAR(8));
      CREATE TABLE ${db}.orders (id BIGINT PRIMARY KEY, customer_id INT, amount DECIMAL(10, 2), placed DATETIME(3));
      CREATE TABLE ${db}.tmp_scratch (id INT PRIMARY KEY, junk TEXT);
      INSERT INTO ${db}.customers VALUES (1, 'Ada', 'gold'), (2, 'Bo', NULL), (3, 'Cy', 'silver');
      INSERT INTO ${db}.orders VALUES (10, 1, 12.50, '2026-01-02 03:04:05.678'), (11, 2, 0.99, NULL),
        (12, 3, 1000.00, '2026-02-03 00:00:00');
      INSERT INTO ${db}.tmp_scratch VALUES (1, 'x');`);
    sink = await freshPostgresDatabase('cdassink');
  });

  afterAll(async () => {
    await job?.stop().catch(() => undefined);
    await source?.query(`DROP DATABASE IF EXISTS ${db}`);
    await source?.end();
    await sink?.drop();
  });

  it('copies the matching tables, follows changes, an added column and a table created while running', async () => {
    const my = new URL(mysqlUrl());
    const pg = new URL(sink.url);
    const stateDir = await testTempDir('cdas-state');
    job = startSqlJob(`
      CREATE CATALOG mysql WITH ('type' = 'mysql-cdc', 'hostname' = '${my.hostname}', 'port' = '${my.port}',
        'username' = '${decodeURIComponent(my.username)}', 'password' = '${decodeURIComponent(my.password)}');
      CREATE CATALOG pg WITH ('type' = 'jdbc', 'base-url' = 'jdbc:postgresql://${pg.hostname}:${pg.port}',
        'default-database' = '${sink.name}', 'username' = '${decodeURIComponent(pg.username)}',
        'password' = '${decodeURIComponent(pg.password)}');
      SET 'pipeline.name' = '${db}';
      SET 'state.dir' = '${stateDir}';
      SET 'execution.checkpointing.interval' = '300ms';
      CREATE DATABASE IF NOT EXISTS pg.copy AS DATABASE mysql.${db} INCLUDING ALL TABLES EXCLUDING TABLES 'tmp_.*';
    `);
    const customers = 'id, name, tier';
    const orders = 'id, customer_id, amount';
    await converge('customers', customers, 'after the snapshot');
    await converge('orders', orders, 'after the snapshot');
    const placed = await sink.query<{ placed: string | null }>(
      `SELECT to_char(placed, 'YYYY-MM-DD HH24:MI:SS.MS') AS placed FROM copy.orders ORDER BY id`,
    );
    expect(placed.map((r) => r.placed)).toEqual(['2026-01-02 03:04:05.678', null, '2026-02-03 00:00:00.000']);

    await source.query(`INSERT INTO ${db}.orders VALUES (13, 1, 7.25, NOW(3));
      UPDATE ${db}.customers SET tier = 'gold' WHERE id = 2;
      DELETE FROM ${db}.orders WHERE id = 11;`);
    await converge('customers', customers, 'after changes');
    await converge('orders', orders, 'after changes');

    // A column added mid-stream: the target table gets it; rows before it have NULL there, as at the source.
    await source.query(`ALTER TABLE ${db}.customers ADD COLUMN email VARCHAR(80);
      UPDATE ${db}.customers SET email = 'ada@example.org' WHERE id = 1;
      INSERT INTO ${db}.customers VALUES (4, 'Di', NULL, 'di@example.org');`);
    await converge('customers', 'id, name, tier, email', 'after a column was added');

    // A table created while the job runs matches INCLUDING ALL TABLES: it is snapshotted and streamed.
    await source.query(`CREATE TABLE ${db}.shipments (id INT PRIMARY KEY, order_id BIGINT, carrier VARCHAR(20));
      INSERT INTO ${db}.shipments VALUES (1, 10, 'ups'), (2, 12, 'dhl');`);
    await converge('shipments', 'id, order_id, carrier', 'after it was created at the source');
    await source.query(`UPDATE ${db}.shipments SET carrier = 'fedex' WHERE id = 2;
      INSERT INTO ${db}.shipments VALUES (3, 13, 'ups');`);
    await converge('shipments', 'id, order_id, carrier', 'after changes to the new table');

    // EXCLUDING: the scratch table is not copied.
    const tables = await sink.query<{ table_name: string }>(
      `SELECT table_name FROM information_schema.tables WHERE table_schema = 'copy' ORDER BY table_name`,
    );
    expect(tables.map((t) => t.table_name)).toEqual(['customers', 'orders', 'shipments']);
    await job.stop();
    job = undefined;
  });

  it('runs from a script through the CLI (tributary sql -f), the passwords from the environment', async () => {
    const my = new URL(mysqlUrl());
    const pg = new URL(sink.url);
    const dir = await testTempDir('cdas-cli');
    const script = join(dir, 'sync.sql');
    await writeFile(
      script,
      `CREATE CATALOG mysql WITH ('type' = 'mysql', 'hostname' = '${my.hostname}', 'port' = '${my.port}',
         'username' = '${decodeURIComponent(my.username)}', 'password' = '\${MYSQL_PASSWORD}');
       CREATE CATALOG pg WITH ('type' = 'jdbc', 'base-url' = 'jdbc:postgresql://${pg.hostname}:${pg.port}',
         'default-database' = '${sink.name}', 'username' = '${decodeURIComponent(pg.username)}',
         'password' = '\${PG_PASSWORD}');
       SET 'state.dir' = '${join(dir, 'state')}';
       CREATE DATABASE pg.copy2 AS DATABASE mysql.${db} INCLUDING TABLES 'customers';`,
    );
    const cli = startCli(['sql', '-f', script], {
      MYSQL_PASSWORD: decodeURIComponent(my.password),
      PG_PASSWORD: decodeURIComponent(pg.password),
    });
    try {
      let expected = '';
      await waitFor(
        async () => {
          expected = JSON.stringify(await sourceRows('customers', 'id, name, tier, email'));
          const actual = textRows(
            await sink.query('SELECT id, name, tier, email FROM copy2.customers ORDER BY id').catch(() => []),
          );
          return JSON.stringify(actual) === expected;
        },
        { timeoutMs: 90_000, intervalMs: 300, message: 'copy2.customers to equal the source' },
      ).catch((error: unknown) => {
        console.log(cli.output().slice(-3000));
        throw error;
      });
      expect(cli.output()).toContain(`Sync database mysql.${db} → pg.copy2`);
      const tables = await sink.query<{ table_name: string }>(
        `SELECT table_name FROM information_schema.tables WHERE table_schema = 'copy2'`,
      );
      expect(tables.map((t) => t.table_name)).toEqual(['customers']);
    } finally {
      cli.child.kill('SIGTERM');
      await cli.exited;
    }
  });
});

/**
 * CDAS from a postgres-cdc catalog: the source names a schema of the catalog's database; a table created while the
 * job runs is found at the next look for new tables (`heartbeat.interval`), a column added is followed.
 */
describe('CREATE DATABASE … AS DATABASE from PostgreSQL into PostgreSQL', () => {
  let source: FreshPostgresDatabase;
  let sink: FreshPostgresDatabase;
  let job: RunningSqlJob | undefined;

  const converge = async (table: string, columns: string, when: string) => {
    let expected = '';
    let actual = '';
    await waitFor(
      async () => {
        expected = JSON.stringify(textRows(await source.query(`SELECT ${columns} FROM app.${table} ORDER BY id`)));
        actual = JSON.stringify(
          textRows(await sink.query(`SELECT ${columns} FROM mirror.${table} ORDER BY id`).catch(() => [])),
        );
        return actual === expected;
      },
      { timeoutMs: 90_000, intervalMs: 300, message: `mirror.${table} to equal app.${table} ${when}` },
    ).catch((error: unknown) => {
      console.log('expected', expected, '\nactual  ', actual, '\n', job?.logs.slice(-8).join('\n'));
      throw error;
    });
  };

  beforeAll(async () => {
    source = await freshPostgresDatabase('cdaspg');
    sink = await freshPostgresDatabase('cdaspgsink');
    await source.query(`CREATE SCHEMA app;
      CREATE TABLE app.accounts (id INT PRIMARY KEY, owner TEXT NOT NULL, balance NUMERIC(12, 2));
      CREATE TABLE app.audit (id BIGINT PRIMARY KEY, note TEXT);
      INSERT INTO app.accounts VALUES (1, 'ada', 10.00), (2, 'bo', 0.50);
      INSERT INTO app.audit VALUES (1, 'opened');`);
  });

  afterAll(async () => {
    await job?.stop().catch(() => undefined);
    await source?.drop();
    await sink?.drop();
  });

  it('copies the schema, follows changes, an added column and a new table', async () => {
    const src = new URL(source.url);
    const dst = new URL(sink.url);
    const stateDir = await testTempDir('cdaspg-state');
    job = startSqlJob(`
      CREATE CATALOG pgsrc WITH ('type' = 'postgres-cdc', 'hostname' = '${src.hostname}', 'port' = '${src.port}',
        'username' = '${decodeURIComponent(src.username)}', 'password' = '${decodeURIComponent(src.password)}',
        'database-name' = '${source.name}', 'slot.name' = '${source.name}', 'heartbeat.interval' = '500ms');
      CREATE CATALOG dw WITH ('type' = 'postgres', 'hostname' = '${dst.hostname}', 'port' = '${dst.port}',
        'database' = '${sink.name}', 'username' = '${decodeURIComponent(dst.username)}',
        'password' = '${decodeURIComponent(dst.password)}');
      SET 'state.dir' = '${stateDir}';
      SET 'execution.checkpointing.interval' = '300ms';
      CREATE DATABASE dw.mirror AS DATABASE pgsrc.app INCLUDING TABLES 'acc.*|audit|ledger';
    `);
    await converge('accounts', 'id, owner, balance', 'after the snapshot');
    await converge('audit', 'id, note', 'after the snapshot');
    await source.query(`UPDATE app.accounts SET balance = balance + 1 WHERE id = 2;
      DELETE FROM app.audit WHERE id = 1; INSERT INTO app.audit VALUES (2, 'moved');
      ALTER TABLE app.accounts ADD COLUMN currency TEXT;
      INSERT INTO app.accounts VALUES (3, 'cy', 7.25, 'EUR');`);
    await converge('accounts', 'id, owner, balance, currency', 'after changes and an added column');
    await converge('audit', 'id, note', 'after changes');
    await source.query(`CREATE TABLE app.ledger (id INT PRIMARY KEY, amount NUMERIC(12, 2));
      INSERT INTO app.ledger VALUES (1, 5.00), (2, -1.25);`);
    await converge('ledger', 'id, amount', 'after it was created at the source');
    await job.stop();
    job = undefined;
  });
});
