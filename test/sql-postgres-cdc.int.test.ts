import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { freshPostgresDatabase, waitFor, type FreshPostgresDatabase } from './harness/databases.js';
import { textRows } from './harness/compare.js';
import { jdbcOptions, startSqlJob, type RunningSqlJob } from './harness/sql-jobs.js';
import { testTempDir } from './harness/temp-dirs.js';

/**
 * `postgres-cdc` tables in SQL: a join + GROUP BY over two PostgreSQL change streams (the postgres source, logical
 * replication) into a PostgreSQL sink equals the same query run on the source, after the snapshot and after
 * inserts, updates (of the join key too) and deletes — for a table with REPLICA IDENTITY FULL and one without
 * (whose updates and deletes carry the old key alone: the plan's ChangelogNormalize supplies the old row).
 */
describe('streaming SQL over postgres-cdc tables', () => {
  let source: FreshPostgresDatabase;
  let sink: FreshPostgresDatabase;
  let job: RunningSqlJob | undefined;

  const QUERY =
    'SELECT c.region, COUNT(*) AS n, SUM(o.amount) AS total FROM customers c JOIN orders o ON o.customer_id = c.id GROUP BY c.region';
  const reference = () =>
    source.query(
      'SELECT c.region, count(*)::text AS n, sum(o.amount)::numeric(38,2)::text AS total FROM app.customers c ' +
        'JOIN app.orders o ON o.customer_id = c.id GROUP BY c.region ORDER BY c.region',
    );
  const result = () =>
    sink.query('SELECT region, n::text AS n, total::text AS total FROM region_totals ORDER BY region_totals.region');
  const converge = async (when: string) => {
    const expected = JSON.stringify(textRows(await reference()));
    let actual = '';
    await waitFor(async () => (actual = JSON.stringify(textRows(await result().catch(() => [])))) === expected, {
      timeoutMs: 60_000,
      message: `the result to equal the source's ${when}`,
    }).catch((error: unknown) => {
      console.log('expected', expected, '\nactual  ', actual, '\n', job?.logs.slice(-5).join('\n'));
      throw error;
    });
  };

  beforeAll(async () => {
    source = await freshPostgresDatabase('sqlpgcdc');
    sink = await freshPostgresDatabase('sqlpgcdcsink');
    await source.query(`CREATE SCHEMA app;
      CREATE TABLE app.customers (id INT PRIMARY KEY, region TEXT NOT NULL);
      CREATE TABLE app.orders (id INT PRIMARY KEY, customer_id INT, amount NUMERIC(10, 2));
      ALTER TABLE app.customers REPLICA IDENTITY FULL;
      INSERT INTO app.customers VALUES (1, 'eu'), (2, 'us'), (3, 'eu');
      INSERT INTO app.orders VALUES (10, 1, 5.50), (11, 2, 7.00), (12, 3, 1.25), (13, 3, 2.00);`);
  });

  afterAll(async () => {
    await job?.stop().catch(() => undefined);
    await source?.drop();
    await sink?.drop();
  });

  it('keeps a join + GROUP BY of two PostgreSQL tables equal to the query on the source', async () => {
    const url = new URL(source.url);
    const cdc = (table: string) =>
      `'connector' = 'postgres-cdc', 'hostname' = '${url.hostname}', 'port' = '${url.port}', ` +
      `'username' = '${decodeURIComponent(url.username)}', 'password' = '${decodeURIComponent(url.password)}', ` +
      `'database-name' = '${source.name}', 'schema-name' = 'app', 'table-name' = '${table}', 'slot.name' = 'sqlpgcdc'`;
    const stateDir = await testTempDir('sqlpgcdc-state');
    job = startSqlJob(`
CREATE TABLE customers (id INT, region STRING, PRIMARY KEY (id) NOT ENFORCED) WITH (${cdc('customers')});
CREATE TABLE orders (id INT, customer_id INT, amount DECIMAL(10, 2), PRIMARY KEY (id) NOT ENFORCED) WITH (${cdc('orders')});
CREATE TABLE region_totals (region STRING, n BIGINT, total DECIMAL(38, 2), PRIMARY KEY (region) NOT ENFORCED)
  WITH (${jdbcOptions(sink.url, 'region_totals')});
SET 'execution.checkpointing.interval' = '200ms';
SET 'state.dir' = '${stateDir}';
INSERT INTO region_totals ${QUERY};`);
    await converge('after the snapshot');
    expect(textRows(await result())).toEqual([
      ['eu', '3', '8.75'],
      ['us', '1', '7.00'],
    ]);
    await source.query(`INSERT INTO app.orders VALUES (14, 2, 3.00);
      UPDATE app.orders SET customer_id = 2 WHERE id = 10;
      UPDATE app.customers SET region = 'apac' WHERE id = 3;
      DELETE FROM app.orders WHERE id = 11;`);
    await converge('after inserts, updates and deletes');
    expect(textRows(await result())).toEqual([
      ['apac', '2', '3.25'],
      ['us', '2', '8.50'],
    ]);
  }, 180_000);

  it('stays exact while a table is written to during its snapshot (ChangelogNormalize takes the race)', async () => {
    // The writer commits thousands of one-row transactions a second, half of them adding keys past the end of the
    // table, until the snapshot is complete: the snapshot must outpace it (each chunk's high watermark reaches the
    // stream at once, not at the WAL writer's next flush: before, 50-row chunks went at ~500 rows/s and the snapshot
    // of a table growing faster never ended).
    await source.query(`CREATE TABLE app.items (id INT PRIMARY KEY, g INT NOT NULL, amount NUMERIC(10, 2) NOT NULL);
      INSERT INTO app.items SELECT i, i % 10, (i % 97) / 10.0 FROM generate_series(1, 1000) AS i;`);
    const url = new URL(source.url);
    const stateDir = await testTempDir('sqlpgcdc-writes-state');
    let stop = false;
    let written = 0;
    const writer = (async () => {
      let next = 1001;
      while (!stop) {
        const id = 1 + Math.floor(Math.random() * 1000);
        const roll = Math.random();
        if (roll < 0.3) await source.query(`INSERT INTO app.items VALUES (${next++}, ${next % 10}, 1.25)`);
        else if (roll < 0.6)
          await source.query(`UPDATE app.items SET amount = amount + 1, g = ${id % 7} WHERE id = ${id}`);
        else if (roll < 0.8) await source.query(`UPDATE app.items SET id = ${next++} WHERE id = ${id}`);
        else await source.query(`DELETE FROM app.items WHERE id = ${id}`);
        written++;
      }
    })();
    const writes = startSqlJob(`
CREATE TABLE items (id INT, g INT, amount DECIMAL(10, 2), PRIMARY KEY (id) NOT ENFORCED) WITH (
  'connector' = 'postgres-cdc', 'hostname' = '${url.hostname}', 'port' = '${url.port}',
  'username' = '${decodeURIComponent(url.username)}', 'password' = '${decodeURIComponent(url.password)}',
  'database-name' = '${source.name}', 'schema-name' = 'app', 'table-name' = 'items', 'slot.name' = 'sqlpgcdcw',
  'scan.incremental.snapshot.chunk.size' = '50');
CREATE TABLE group_totals (g INT, n BIGINT, total DECIMAL(38, 2), PRIMARY KEY (g) NOT ENFORCED)
  WITH (${jdbcOptions(sink.url, 'group_totals')});
SET 'execution.checkpointing.interval' = '200ms';
SET 'state.dir' = '${stateDir}';
INSERT INTO group_totals SELECT g, COUNT(*), SUM(amount) FROM items GROUP BY g;`);
    let writtenAtComplete = 0;
    try {
      await waitFor(() => writes.logs.some((line) => /snapshot complete/.test(line)), {
        timeoutMs: 60_000,
        message: 'the snapshot to complete while the writer writes',
      }).catch(async (error: unknown) => {
        const outcome = await Promise.race([
          writes.done.then(
            (r) => r.outcome,
            (e: unknown) => String(e),
          ),
          new Promise((resolve) => setTimeout(() => resolve('running'), 100)),
        ]);
        console.log(`job: ${String(outcome)}, ${written} writes\n${writes.logs.slice(-12).join('\n')}`);
        throw error;
      });
      writtenAtComplete = written;
      // A moment more of writes after the snapshot: the stream alone.
      await new Promise((resolve) => setTimeout(resolve, 500));
    } finally {
      stop = true;
      await writer;
    }
    expect(writtenAtComplete).toBeGreaterThan(50);
    const expected = JSON.stringify(
      textRows(
        await source.query(
          'SELECT g::text, count(*)::text AS n, sum(amount)::numeric(38,2)::text AS total FROM app.items GROUP BY g ORDER BY g',
        ),
      ),
    );
    let actual = '';
    await waitFor(
      async () =>
        (actual = JSON.stringify(
          textRows(
            await sink
              .query('SELECT g::text, n::text, total::text FROM group_totals ORDER BY group_totals.g')
              .catch(() => []),
          ),
        )) === expected,
      { timeoutMs: 60_000, message: 'the result to equal the source' },
    ).catch((error: unknown) => {
      console.log('expected', expected, '\nactual  ', actual, '\n', writes.logs.slice(-5).join('\n'));
      throw error;
    });
    console.log(
      `postgres-cdc snapshot under writes: ${writtenAtComplete} writer statements during the snapshot, ${written} in all`,
    );
    expect(writes.logs.filter((line) => /written to while its snapshot/.test(line))).toEqual([]);
    expect((await writes.stop()).outcome).toBe('stopped');
  }, 240_000);
});
