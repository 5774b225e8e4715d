import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { Connection } from 'mysql2/promise';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startCli, type CliProcess } from './harness/cli-process.js';
import { mysqlRows } from './harness/compare.js';
import { mysqlAdmin, mysqlUrl, uniqueName, waitFor } from './harness/databases.js';
import { compareTextRows, icebergRowsText } from './harness/iceberg-reader.js';
import { readStream, startNatsServer, type TestNatsServer } from './harness/nats-server.js';
import { testTempDir } from './harness/temp-dirs.js';

const SCENARIO = new URL('../fixtures/scenarios/salesdb/', import.meta.url).pathname;
const COLUMNS = ['order_count', 'customer_id', 'name', 'mktsegment'];

/** A Debezium change event's payload, as far as the fold reads it. */
interface Envelope {
  readonly op?: string;
  readonly before?: Record<string, unknown>;
  readonly after?: Record<string, unknown>;
}

/**
 * Issues 12 and 15: seed 004's query — three change streams joined and counted per customer — written by
 * `tributary sql -f` into the log and lake sinks with Flink's own connector options: an Iceberg table
 * `PARTITIONED BY (mktsegment)` read by an independent reader (icebird), and a JetStream stream of Debezium
 * envelopes folded by key. Both equal the query run on the source after the initial load, after `changes.sql`
 * (a customer moves to another segment: its row moves partition), and — for the lake — after a kill -9 under a
 * writer and a restart.
 */
describe('SQL over change streams into the lake and the log sinks', () => {
  const db = uniqueName('sqllake');
  let source: Connection;
  let nats: TestNatsServer;
  let cli: CliProcess | undefined;

  const reference = async () =>
    (
      await mysqlRows(
        source,
        `SELECT CAST(COUNT(O.ORDER_ID) AS CHAR), CAST(C.CUST_ID AS CHAR), C.NAME, C.MKTSEGMENT FROM ${db}.CUSTOMER C ` +
          `JOIN ${db}.CUSTOMER_SITE CS ON C.CUST_ID = CS.CUST_ID JOIN ${db}.SALES_ORDER_ALL O ON O.SITE_ID = CS.SITE_ID ` +
          'GROUP BY C.CUST_ID, C.NAME, C.MKTSEGMENT',
      )
    ).sort(compareTextRows);

  /**
   * The salesdb script with the WITH clause of its sink table (the fixture's columns and key kept) replaced by
   * `clauses` (`[PARTITIONED BY (…)] WITH (…)`).
   */
  const script = async (clauses: string, stateDir: string) => {
    const text = (await readFile(`${SCENARIO}customer-orders.sql`, 'utf8'))
      .replace(/(CREATE TABLE customer_orders \([\s\S]*?NOT ENFORCED\n\)) WITH \([\s\S]*?\);\n/, `$1 ${clauses};\n`)
      .replace(/EXPLAIN\nINSERT[\s\S]*?;\n/, '');
    if (!text.includes(clauses)) throw new Error('customer-orders.sql no longer has the sink table this test rewrites');
    const file = join(stateDir, 'job.sql');
    await writeFile(file, text);
    return file;
  };
  const environment = (stateDir: string) => {
    const mysql = new URL(mysqlUrl());
    return {
      MYSQL_HOST: mysql.hostname,
      MYSQL_PORT: mysql.port,
      MYSQL_USER: decodeURIComponent(mysql.username),
      MYSQL_PASSWORD: decodeURIComponent(mysql.password),
      SALESDB: db,
      STATE_DIR: stateDir,
      CHECKPOINT_INTERVAL: '300ms',
    };
  };
  const converge = (read: () => Promise<(string | null)[][]>, message: string) =>
    waitFor(async () => JSON.stringify(await read().catch(() => [])) === JSON.stringify(await reference()), {
      timeoutMs: 120_000,
      intervalMs: 500,
      message,
    }).catch(async (error: unknown) => {
      const [got, want] = [await read().catch((e: unknown) => String(e)), await reference()];
      console.log(
        `${cli?.output().slice(-3000)}\nread (${got.length}): ${JSON.stringify(got).slice(0, 400)}\nquery (${want.length}): ${JSON.stringify(want).slice(0, 400)}`,
      );
      throw error;
    });

  beforeAll(async () => {
    source = await mysqlAdmin();
    await source.query((await readFile(`${SCENARIO}source.sql`, 'utf8')).replaceAll('salesdb', db));
    nats = await startNatsServer();
  });

  afterAll(async () => {
    cli?.child.kill('SIGKILL');
    if (cli) await cli.exited;
    await source?.query(`DROP DATABASE IF EXISTS ${db}`);
    await source?.end();
    await nats?.stop();
  });

  it('keeps an Iceberg table PARTITIONED BY (mktsegment) equal to the query, through a kill -9', async () => {
    const stateDir = await testTempDir('sql-lake-state');
    const warehouse = await testTempDir('sql-lake-warehouse');
    const file = await script(
      `PARTITIONED BY (mktsegment) WITH (
  'connector' = 'iceberg',
  'catalog-name' = 'lake',
  'catalog-type' = 'hadoop',
  'warehouse' = 'file://${warehouse}',
  'catalog-database' = 'sales',
  'format-version' = '2',
  'write.upsert.enabled' = 'true'
)`,
      stateDir,
    );
    const table = join(warehouse, 'sales', 'customer_orders');
    const lake = () => icebergRowsText(table, COLUMNS);
    const env = environment(stateDir);
    cli = startCli(['sql', '-f', file], env);
    await converge(lake, 'the lake table after the initial load');
    expect(await lake()).toHaveLength(100);

    await source.query((await readFile(`${SCENARIO}changes.sql`, 'utf8')).replaceAll('salesdb', db));
    await converge(lake, 'the lake table after changes.sql');
    const customer7 = (await lake()).filter((r) => r[1] === '7');
    expect(customer7).toEqual([[customer7[0]![0], '7', customer7[0]![2], 'MACHINERY']]);
    // PARTITIONED BY became the table's partition spec: identity of mktsegment.
    const metadataDir = join(table, 'metadata');
    const version = (await readFile(join(metadataDir, 'version-hint.text'), 'utf8')).trim();
    const metadata = JSON.parse(await readFile(join(metadataDir, `v${version}.metadata.json`), 'utf8')) as {
      'default-spec-id': number;
      'partition-specs': { 'spec-id': number; fields: { name: string; transform: string }[] }[];
    };
    const spec = metadata['partition-specs'].find((s) => s['spec-id'] === metadata['default-spec-id']);
    expect(spec?.fields.map((f) => [f.name, f.transform])).toEqual([['mktsegment', 'identity']]);

    // kill -9 while a writer changes join keys and segments (rows move partitions), then a restart.
    let stop = false;
    let written = 0;
    const writer = (async () => {
      let next = 200_000;
      while (!stop) {
        const site = 1 + Math.floor(Math.random() * 200);
        const customer = 1 + Math.floor(Math.random() * 100);
        const roll = Math.random();
        if (roll < 0.4)
          await source.query(`INSERT INTO ${db}.SALES_ORDER_ALL VALUES (${next++}, ${site}, NOW(), 'AIR')`);
        else if (roll < 0.55)
          await source.query(`DELETE FROM ${db}.SALES_ORDER_ALL WHERE SITE_ID = ${site} ORDER BY ORDER_ID LIMIT 1`);
        else if (roll < 0.75)
          await source.query(`UPDATE ${db}.CUSTOMER_SITE SET CUST_ID = ${customer} WHERE SITE_ID = ${site}`);
        else {
          const segment = ['AUTOMOBILE', 'BUILDING', 'FURNITURE', 'HOUSEHOLD', 'MACHINERY'][
            Math.floor(Math.random() * 5)
          ];
          await source.query(`UPDATE ${db}.CUSTOMER SET MKTSEGMENT = '${segment}' WHERE CUST_ID = ${customer}`);
        }
        written++;
      }
    })();
    try {
      await waitFor(() => written > 300, { timeoutMs: 60_000, message: 'the writer to write' });
      const checkpoints = (cli.output().match(/checkpoint/g) ?? []).length;
      await waitFor(() => (cli!.output().match(/checkpoint/g) ?? []).length > checkpoints || written > 600, {
        timeoutMs: 60_000,
        message: 'the job to go on',
      });
      cli.child.kill('SIGKILL');
      expect(await cli.exited).toBe('SIGKILL');
      await waitFor(() => written > 900, { timeoutMs: 60_000, message: 'the writer to write while the job is down' });
      cli = startCli(['sql', '-f', file], env);
      await waitFor(() => written > 1200, { timeoutMs: 60_000, message: 'the writer to write after the restart' });
    } finally {
      stop = true;
      await writer;
    }
    await converge(lake, 'the lake table after the kill and restart');
    expect(cli.output()).toMatch(/resuming from checkpoint \d+/);
    cli.child.kill('SIGTERM');
    await cli.exited;
    cli = undefined;
  });

  it('publishes the changelog into a JetStream stream as Debezium envelopes that fold to the query', async () => {
    const stateDir = await testTempDir('sql-log-state');
    const stream = `s_${db}`;
    const file = await script(
      `WITH (
  'connector' = 'nats',
  'servers' = '${nats.url}',
  'stream' = '${stream}',
  'format' = 'debezium-json'
)`,
      stateDir,
    );
    /** Every envelope of the stream, applied in order by key: what a consumer of the topic ends up with. */
    const folded = async () => {
      const rows = new Map<string, (string | null)[]>();
      for (const message of await readStream(nats.url, stream, `${stream}.>`)) {
        // With its schema part (Debezium's default) the envelope is the payload.
        const raw: unknown = message.value?.['payload'] ?? message.value;
        const envelope = raw as Envelope | null;
        if (envelope?.op === undefined) continue; // a tombstone, a fence or a checkpoint record
        const image = envelope.op === 'd' ? envelope.before! : envelope.after!;
        const key = String(image['customer_id']);
        if (envelope.op === 'd') rows.delete(key);
        else
          rows.set(
            key,
            COLUMNS.map((c) => (image[c] === null ? null : String(image[c] as string | number))),
          );
      }
      return [...rows.values()].sort(compareTextRows);
    };
    cli = startCli(['sql', '-f', file], environment(stateDir));
    await converge(folded, 'the folded stream after the initial load');
    await source.query(`UPDATE ${db}.CUSTOMER SET MKTSEGMENT = 'HOUSEHOLD' WHERE CUST_ID = 3`);
    await source.query(
      `DELETE FROM ${db}.SALES_ORDER_ALL WHERE SITE_ID IN (SELECT SITE_ID FROM ${db}.CUSTOMER_SITE WHERE CUST_ID = 4)`,
    );
    await converge(folded, 'the folded stream after an update and the deletes that empty a group');
    expect((await folded()).some((r) => r[1] === '4')).toBe(false);
  });
});
