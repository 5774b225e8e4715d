import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { textRows } from './harness/compare.js';
import {
  freshPostgresDatabase,
  runMysqlScript,
  uniqueName,
  waitFor,
  type FreshPostgresDatabase,
} from './harness/databases.js';
import { startTestPipeline, type RunningPipeline } from './harness/pipelines.js';

const udf = (file: string) => fileURLToPath(new URL(`../examples/udf/${file}`, import.meta.url));

/**
 * Computed columns and a filter over the snapshot and the binlog, into PostgreSQL: the target holds
 * exactly the source rows that pass the filter, each with its computed columns, whichever way the row
 * arrived — a row updated into the filter appears, one updated out of it disappears.
 */
describe('transform expressions: computed columns, filter, UDFs and SOFT_DELETE, MySQL → PostgreSQL', () => {
  const db = uniqueName('expr');
  let sink: FreshPostgresDatabase;
  let running: RunningPipeline;

  const target = async () =>
    textRows(
      await sink.query(
        `SELECT id::text, customer, total::text, tag, month, price_text, price_cents::text, op_type
         FROM ${db}.orders ORDER BY id`,
      ),
    );

  beforeAll(async () => {
    await runMysqlScript(`
      CREATE DATABASE ${db};
      CREATE TABLE ${db}.orders (
        id BIGINT PRIMARY KEY, customer VARCHAR(40), price DECIMAL(10, 2) NOT NULL, qty INT NOT NULL,
        created_at DATETIME(6) NOT NULL);
      INSERT INTO ${db}.orders VALUES
        (1, 'ada', 12.50, 2, '2024-01-31 23:59:59.999999'),
        (2, 'bob', 5.00, 1, '2024-02-01 00:00:00'),
        (3, NULL, 99.99, 1, '2024-02-02 10:00:00'),
        (9007199254740993, 'zoë', 10.00, 3, '2024-03-01 12:00:00');
      CREATE TABLE ${db}.items (id INT PRIMARY KEY, label VARCHAR(20));
      INSERT INTO ${db}.items VALUES (1, 'one'), (2, 'two');
    `);
    sink = await freshPostgresDatabase('expr');
    running = await startTestPipeline({
      name: 'transform-expressions',
      tables: `${db}.orders, ${db}.items`,
      sinkUrl: sink.url,
      extraYaml: `transform:
  - source-table: ${db}.orders
    projection: id, UPPER(customer) AS customer, price * qty AS total, CONCAT(customer, '#', CAST(id AS STRING)) AS tag, DATE_FORMAT(created_at, 'yyyy-MM') AS month, FORMAT_PRICE(price, 'EUR') AS price_text, TO_CENTS(price) AS price_cents, __data_event_type__ AS op_type
    filter: price >= 10 AND customer IS NOT NULL
  - source-table: ${db}.items
    projection: \\*, __data_event_type__ AS op_type
    converter-after-transform: SOFT_DELETE
`,
      pipelineYaml: `  user-defined-function:
    - name: format_price
      classpath: ${udf('format-price.mjs')}
    - name: to_cents
      classpath: ${udf('to-cents.mjs')}
`,
    });
  });

  afterAll(async () => {
    if (process.env['TRIBUTARY_TEST_DEBUG']) console.log(running?.logs.join('\n'));
    await running?.stop().catch(() => {});
    await sink?.drop();
    await runMysqlScript(`DROP DATABASE IF EXISTS ${db}`);
  });

  it('loads the snapshot rows that pass the filter, with their computed columns, exactly', async () => {
    await waitFor(async () => (await target().catch(() => [])).length === 2, {
      message: 'orders never reached 2 rows',
    });
    expect(await target()).toEqual([
      ['1', 'ADA', '25.00', 'ada#1', '2024-01', 'EUR 12.50', '1250', '+I'],
      ['9007199254740993', 'ZOË', '30.00', 'zoë#9007199254740993', '2024-03', 'EUR 10.00', '1000', '+I'],
    ]);
    const columns = await sink.query<{ column_name: string; data_type: string }>(
      `SELECT column_name, data_type FROM information_schema.columns WHERE table_schema = $1 AND table_name = 'orders'
       ORDER BY ordinal_position`,
      [db],
    );
    expect(columns.map((c) => [c.column_name, c.data_type])).toEqual([
      ['id', 'bigint'],
      ['customer', 'text'],
      ['total', 'numeric'],
      ['tag', 'text'],
      ['month', 'text'],
      ['price_text', 'text'],
      ['price_cents', 'bigint'],
      ['op_type', 'character varying'],
    ]);
  });

  it('applies binlog changes through the same filter: updates moving rows in and out become inserts and deletes', async () => {
    await runMysqlScript(`
      INSERT INTO ${db}.orders VALUES (4, 'cy', 20.00, 1, '2024-04-04 04:04:04'), (5, 'dee', 1.00, 1, '2024-05-05 05:05:05');
      UPDATE ${db}.orders SET price = 11.00 WHERE id = 2;
      UPDATE ${db}.orders SET price = 1.00 WHERE id = 1;
      UPDATE ${db}.orders SET customer = 'eve' WHERE id = 3;
      UPDATE ${db}.orders SET qty = 4 WHERE id = 9007199254740993;
      UPDATE ${db}.orders SET qty = 9 WHERE id = 5;
      DELETE FROM ${db}.orders WHERE id = 4;
    `);
    const expected = [
      ['2', 'BOB', '11.00', 'bob#2', '2024-02', 'EUR 11.00', '1100', '+I'],
      ['3', 'EVE', '99.99', 'eve#3', '2024-02', 'EUR 99.99', '9999', '+I'],
      ['9007199254740993', 'ZOË', '40.00', 'zoë#9007199254740993', '2024-03', 'EUR 10.00', '1000', '+U'],
    ];
    await waitFor(async () => JSON.stringify(await target()) === JSON.stringify(expected), {
      message: 'the target never matched the filtered source',
    });
    expect(await target()).toEqual(expected);
  });

  it('keeps a deleted row under SOFT_DELETE, marked -D', async () => {
    await runMysqlScript(`DELETE FROM ${db}.items WHERE id = 2; UPDATE ${db}.items SET label = 'uno' WHERE id = 1;`);
    const items = async () =>
      textRows(await sink.query(`SELECT id::text, label, op_type FROM ${db}.items ORDER BY id`));
    await waitFor(async () => (await items())[1]?.[2] === '-D' && (await items())[0]?.[1] === 'uno', {
      message: 'the soft delete never arrived',
    });
    expect(await items()).toEqual([
      ['1', 'uno', '+U'],
      ['2', 'two', '-D'],
    ]);
  });
});
