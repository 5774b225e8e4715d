import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import Database from 'better-sqlite3';
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
import { startCli, type CliProcess } from './harness/cli-process.js';
import { testTempDir } from './harness/temp-dirs.js';

const SCENARIO = new URL('../fixtures/scenarios/salesdb/', import.meta.url).pathname;
const SCRIPT = `${SCENARIO}customer-orders.sql`;
const KILLS = 5;

/**
 * Seed 004 from its `.sql` file, end to end through the CLI (`tributary sql -f`): three change streams joined
 * and counted per customer into PostgreSQL. The result table equals the same query run on the source after the
 * initial load, after `changes.sql`, and after a `kill -9` of the job while a writer keeps changing all three
 * tables (join keys, group columns, deletes), and a restart.
 */
describe('the salesdb join + aggregate from a .sql file', () => {
  const db = uniqueName('salesdb');
  let source: Connection;
  let sink: FreshPostgresDatabase;
  let env: Record<string, string>;
  let cli: CliProcess | undefined;

  const reference = () =>
    mysqlRows(
      source,
      `SELECT CAST(COUNT(O.ORDER_ID) AS CHAR), CAST(C.CUST_ID AS CHAR), C.NAME, C.MKTSEGMENT FROM ${db}.CUSTOMER C ` +
        `JOIN ${db}.CUSTOMER_SITE CS ON C.CUST_ID = CS.CUST_ID JOIN ${db}.SALES_ORDER_ALL O ON O.SITE_ID = CS.SITE_ID ` +
        'GROUP BY C.CUST_ID, C.NAME, C.MKTSEGMENT ORDER BY C.CUST_ID',
    );
  const result = async () =>
    textRows(
      await sink.query(
        'SELECT order_count::text AS n, customer_id::text AS id, name, mktsegment FROM customer_orders ' +
          'ORDER BY customer_orders.customer_id',
      ),
    );
  const converged = async () => {
    const expected = JSON.stringify(await reference());
    return JSON.stringify(await result().catch(() => [])) === expected;
  };
  const converge = (message: string) =>
    waitFor(converged, { timeoutMs: 120_000, intervalMs: 300, message }).catch((error: unknown) => {
      console.log(cli?.output().slice(-3000));
      throw error;
    });
  const row = async (id: number) => (await result()).find((r) => r[1] === String(id));

  beforeAll(async () => {
    source = await mysqlAdmin();
    const sql = (await readFile(`${SCENARIO}source.sql`, 'utf8')).replaceAll('salesdb', db);
    await source.query(sql);
    sink = await freshPostgresDatabase('salesdb');
    const mysql = new URL(mysqlUrl());
    const pgUrl = new URL(sink.url);
    env = {
      MYSQL_HOST: mysql.hostname,
      MYSQL_PORT: mysql.port,
      MYSQL_USER: decodeURIComponent(mysql.username),
      MYSQL_PASSWORD: decodeURIComponent(mysql.password),
      SALESDB: db,
      SINK_JDBC_URL: `jdbc:postgresql://${pgUrl.hostname}:${pgUrl.port}${pgUrl.pathname}`,
      SINK_USER: decodeURIComponent(pgUrl.username),
      SINK_PASSWORD: decodeURIComponent(pgUrl.password),
      STATE_DIR: await testTempDir('salesdb-state'),
      CHECKPOINT_INTERVAL: '300ms',
    };
  });

  afterAll(async () => {
    cli?.child.kill('SIGKILL');
    if (cli) await cli.exited;
    await source?.query(`DROP DATABASE IF EXISTS ${db}`);
    await source?.end();
    await sink?.drop();
  });

  it('equals the query on the source after the initial load and after changes.sql', async () => {
    cli = startCli(['sql', '-f', SCRIPT], env);
    await converge('the result after the initial load');
    const rows = await result();
    expect(rows).toHaveLength(100);
    expect(rows.every((r) => r[0] === '50')).toBe(true);
    // The orders counted per site below the joins (eager aggregation) by the join with the sites (an aggregating
    // join), the counts summed per customer.
    expect(cli.output()).toContain('GroupAggregate BY C.CUST_ID, C.NAME, C.MKTSEGMENT: SUM0(COUNT(O.ORDER_ID))');
    expect(cli.output()).toContain('right: COUNT(O.ORDER_ID) BY O.SITE_ID aggregated here');

    const changes = (await readFile(`${SCENARIO}changes.sql`, 'utf8')).replaceAll('salesdb', db);
    await source.query(changes);
    await converge('the result after changes.sql');
    expect((await row(2))?.[0]).toBe('55');
    expect((await row(7))?.[3]).toBe('MACHINERY');
    expect((await row(1))?.[0]).toBe('49');
    expect(
      await sink.query(`SELECT 1 FROM customer_orders WHERE customer_id = 7 AND mktsegment <> 'MACHINERY'`),
    ).toEqual([]);
  });

  it('survives kill -9 while a writer changes all three tables, and the restart converges exactly', async () => {
    let stop = false;
    let written = 0;
    let kills = 0;
    const writer = (async () => {
      let next = 100_000;
      const r = () => Math.random();
      while (!stop) {
        const roll = r();
        const site = 1 + Math.floor(r() * 200);
        const customer = 1 + Math.floor(r() * 100);
        if (roll < 0.4) {
          await source.query(`INSERT INTO ${db}.SALES_ORDER_ALL VALUES (${next++}, ${site}, NOW(), 'STANDARD')`);
        } else if (roll < 0.55) {
          await source.query(`DELETE FROM ${db}.SALES_ORDER_ALL WHERE SITE_ID = ${site} ORDER BY ORDER_ID LIMIT 1`);
        } else if (roll < 0.7) {
          await source.query(
            `UPDATE ${db}.SALES_ORDER_ALL SET SITE_ID = ${1 + Math.floor(r() * 200)} WHERE SITE_ID = ${site} LIMIT 2`,
          );
        } else if (roll < 0.8) {
          await source.query(`UPDATE ${db}.CUSTOMER_SITE SET CUST_ID = ${customer} WHERE SITE_ID = ${site}`);
        } else if (roll < 0.9) {
          const segment = ['AUTOMOBILE', 'BUILDING', 'FURNITURE', 'HOUSEHOLD', 'MACHINERY'][Math.floor(r() * 5)];
          await source.query(`UPDATE ${db}.CUSTOMER SET MKTSEGMENT = '${segment}' WHERE CUST_ID = ${customer}`);
        } else {
          // Several changes in one transaction: a new customer with a site and orders.
          const id = 1000 + next;
          await source.query(
            `START TRANSACTION; INSERT INTO ${db}.CUSTOMER VALUES (${id}, 'New#${id}', 'BUILDING'); ` +
              `INSERT INTO ${db}.CUSTOMER_SITE VALUES (${id}, ${id}, 'WA', 'X'); ` +
              `INSERT INTO ${db}.SALES_ORDER_ALL VALUES (${next++}, ${id}, NOW(), 'STANDARD'), (${next++}, ${id}, NOW(), 'TWO-DAY'); COMMIT`,
          );
        }
        written++;
      }
    })();
    try {
      // A crash loop: three kills, each after the job committed again, with the writer running throughout.
      for (let round = 0; round < KILLS; round++) {
        // The info line of a commit (the first of each run at once), not "resuming from checkpoint N".
        const commits = () => (cli!.output().match(/committed [\d,]+ changes? in/g) ?? []).length;
        const checkpoints = commits();
        await waitFor(() => written > 200 * (round + 1), { timeoutMs: 60_000, message: 'the writer to write' });
        await waitFor(() => commits() > checkpoints || round === 0, {
          timeoutMs: 60_000,
          message: 'the job to commit',
        });
        cli!.child.kill('SIGKILL');
        expect(await cli!.exited).toBe('SIGKILL');
        kills++;
        await waitFor(() => written > 200 * (round + 1) + 100, {
          timeoutMs: 60_000,
          message: 'the writer to write while the job is down',
        });
        cli = startCli(['sql', '-f', SCRIPT], env);
      }
      await waitFor(() => written > 200 * KILLS + 300, {
        timeoutMs: 60_000,
        message: 'the writer to write after the restart',
      });
    } finally {
      stop = true;
      await writer;
    }
    await converge('the result after the crash and restart');
    expect(cli!.output()).toMatch(/resuming from checkpoint \d+/);
    // The join sides and groups live on disk, at the sink's checkpoint (each checkpoint held only their changes):
    // one row per group of the result, after more checkpoints than kills.
    const onDisk = () => {
      const state = new Database(join(env['STATE_DIR']!, 'sql-state.sqlite'), { readonly: true });
      try {
        const version = state.prepare<[], { value: string }>("SELECT value FROM meta WHERE name = 'version'").get();
        // The groups of the last aggregate (the customers'; the one below the joins keeps the sites' counts).
        const groups = state.prepare<[], { ns: string; n: number }>(
          "SELECT ns, COUNT(*) AS n FROM entries WHERE ns LIKE '%.groups' GROUP BY ns",
        );
        const last = groups.all().sort((a, b) => parseInt(b.ns) - parseInt(a.ns))[0];
        return { version: Number(version?.value), groups: last?.n };
      } finally {
        state.close();
      }
    };
    const groups = (await reference()).length;
    await waitFor(() => onDisk().groups === groups, { timeoutMs: 30_000, message: 'the state file to commit' });
    expect(onDisk().version).toBeGreaterThan(KILLS);
    console.log(`salesdb crash loop: ${written} writer transactions, ${kills} kill -9s; the result matched the source`);
  });
});
