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
 * A SQL job whose source tables are written to while their snapshot is read (chunks of 50 rows, a writer
 * inserting, updating — keys and group columns — and deleting rows all the while): the join + aggregate must equal
 * the query run on MariaDB once the writer stops. The snapshot's merge with the binlog must hand the query an exact
 * changelog: no row read again after the binlog delivered it, no retraction of a row not delivered yet.
 */
describe('a SQL job over tables written to during their snapshot (MariaDB)', () => {
  const db = uniqueName('sqlsnapw');
  let source: Connection;
  let sink: FreshPostgresDatabase;
  let job: RunningSqlJob | undefined;
  let stateDir: string;
  const ROWS = 6000;

  beforeAll(async () => {
    source = await mysqlAdmin();
    await source.query(`CREATE DATABASE ${db}`);
    await source.query(`CREATE TABLE ${db}.groups_ (id INT PRIMARY KEY, name VARCHAR(20) NOT NULL)`);
    await source.query(
      `CREATE TABLE ${db}.items (id INT PRIMARY KEY, gid INT NOT NULL, amount DECIMAL(10, 2) NOT NULL)`,
    );
    await source.query(
      `INSERT INTO ${db}.groups_ VALUES ${Array.from({ length: 20 }, (_, i) => `(${i}, 'g${i}')`).join(', ')}`,
    );
    for (let start = 0; start < ROWS; start += 1000) {
      const values = Array.from({ length: 1000 }, (_, i) => {
        const id = start + i + 1;
        return `(${id}, ${id % 20}, ${(id % 997) / 10})`;
      });
      await source.query(`INSERT INTO ${db}.items VALUES ${values.join(', ')}`);
    }
    sink = await freshPostgresDatabase('sqlsnapwsink');
    stateDir = await testTempDir('sql-snapshot-writes-state');
  });

  afterAll(async () => {
    await job?.stop().catch(() => undefined);
    await source?.query(`DROP DATABASE IF EXISTS ${db}`);
    await source?.end();
    await sink?.drop();
  });

  it('equals the query on the source after a writer ran through the whole snapshot', async () => {
    let stop = false;
    let written = 0;
    const random = () => Math.random();
    const writer = (async () => {
      let next = ROWS + 1;
      while (!stop) {
        const id = 1 + Math.floor(random() * ROWS);
        const roll = random();
        if (roll < 0.3) {
          await source.query(`INSERT INTO ${db}.items VALUES (${next++}, ${Math.floor(random() * 20)}, 1.25)`);
        } else if (roll < 0.6) {
          await source.query(
            `UPDATE ${db}.items SET amount = amount + 1, gid = ${Math.floor(random() * 20)} WHERE id = ${id}`,
          );
        } else if (roll < 0.75) {
          await source.query(`UPDATE ${db}.items SET id = ${next++} WHERE id = ${id}`);
        } else if (roll < 0.9) {
          await source.query(`DELETE FROM ${db}.items WHERE id = ${id}`);
        } else {
          await source.query(`UPDATE ${db}.groups_ SET name = 'g${Math.floor(random() * 1000)}' WHERE id = ${id % 20}`);
        }
        written++;
      }
    })();
    job = startSqlJob(`
      CREATE TABLE groups_ (id INT, name STRING, PRIMARY KEY (id) NOT ENFORCED) WITH (${mysqlCdcOptions(db, 'groups_')});
      CREATE TABLE items (id INT, gid INT, amount DECIMAL(10, 2), PRIMARY KEY (id) NOT ENFORCED) WITH (${mysqlCdcOptions(db, 'items')});
      CREATE TABLE totals (gid INT, name STRING, n BIGINT, total DECIMAL(38, 2), PRIMARY KEY (gid) NOT ENFORCED)
        WITH (${jdbcOptions(sink.url, 'totals')});
      SET 'pipeline.name' = '${db}';
      SET 'state.dir' = '${stateDir}';
      SET 'execution.checkpointing.interval' = '200ms';
      INSERT INTO totals SELECT g.id, g.name, COUNT(*), SUM(i.amount) FROM items i JOIN groups_ g ON i.gid = g.id GROUP BY g.id, g.name;
    `);
    try {
      await waitFor(() => job!.logs.some((line) => /snapshot complete/.test(line)), {
        timeoutMs: 120_000,
        message: 'the snapshot to complete',
      }).catch(async (error: unknown) => {
        const outcome = await Promise.race([
          job!.done.then((r) => r.outcome),
          new Promise((r) => setTimeout(() => r('running'), 100)),
        ]);
        console.log(`job ${String(outcome)}\n${job!.logs.slice(-10).join('\n')}`);
        throw error;
      });
    } finally {
      stop = true;
      await writer;
    }
    expect(written).toBeGreaterThan(50);
    const expected = await mysqlRows(
      source,
      `SELECT g.id, g.name, COUNT(*), SUM(i.amount) FROM ${db}.items i JOIN ${db}.groups_ g ON i.gid = g.id ` +
        'GROUP BY g.id, g.name ORDER BY g.id',
    );
    let actual: string[][] = [];
    await waitFor(
      async () => {
        actual = textRows(
          await sink
            .query('SELECT gid::text, name, n::text, total::text FROM totals ORDER BY totals.gid')
            .catch(() => []),
        );
        return JSON.stringify(actual) === JSON.stringify(expected);
      },
      { timeoutMs: 60_000, intervalMs: 300, message: 'the result to equal the query on MariaDB' },
    ).catch((error: unknown) => {
      console.log('expected', JSON.stringify(expected), '\nactual  ', JSON.stringify(actual));
      console.log(job?.logs.filter((l) => /WARN|ERROR/.test(l)).join('\n'));
      throw error;
    });
    console.log(`snapshot under writes: ${written} writer statements during the snapshot of ${ROWS} rows`);
    // Exact on MariaDB: the job has nothing to warn about.
    expect(job.logs.filter((line) => /written to while its snapshot/.test(line))).toEqual([]);
    const result = await job.stop();
    expect(result.outcome).toBe('stopped');
    job = undefined;
  }, 240_000);
});
