import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Connection } from 'mysql2/promise';
import {
  freshPostgresDatabase,
  mysqlAdmin,
  uniqueName,
  waitFor,
  type FreshPostgresDatabase,
} from './harness/databases.js';
import { startTestPipeline, type RunningPipeline } from './harness/pipelines.js';
import { mysqlRows, textRows } from './harness/compare.js';

/** DDL in the binlog refreshes the table's schema, so rows after it decode with the new column layout. */
describe('DDL while streaming', () => {
  const db = uniqueName('ddl');
  let source: Connection;
  let sink: FreshPostgresDatabase;
  let running: RunningPipeline;

  beforeAll(async () => {
    source = await mysqlAdmin();
    await source.query(`CREATE DATABASE ${db}`);
    await source.query(`CREATE TABLE ${db}.t (id INT PRIMARY KEY, a VARCHAR(20), b INT)`);
    await source.query(`INSERT INTO ${db}.t VALUES (1, 'one', 10), (2, 'two', 20)`);
    sink = await freshPostgresDatabase('ddl');
    running = await startTestPipeline({ name: 'ddl', tables: `${db}.\\.*`, sinkUrl: sink.url });
    await waitFor(async () => (await sink.query(`SELECT 1 FROM ${db}.t`).catch(() => [])).length === 2);
  });

  afterAll(async () => {
    await running?.stop().catch(() => {});
    await source?.query(`DROP DATABASE IF EXISTS ${db}`);
    await source?.end();
    await sink?.drop();
  });

  it('a column added in the middle (AFTER) arrives with its values, and earlier columns keep theirs', async () => {
    await source.query(`INSERT INTO ${db}.t VALUES (3, 'three', 30)`);
    await source.query(`ALTER TABLE ${db}.t ADD COLUMN mid DECIMAL(10,3) AFTER a`);
    await source.query(`INSERT INTO ${db}.t VALUES (4, 'four', 4.125, 40)`);
    await source.query(`UPDATE ${db}.t SET mid = 1.5 WHERE id = 1`);
    await waitFor(async () => (await sink.query(`SELECT 1 FROM ${db}.t WHERE id = 4`).catch(() => [])).length === 1, {
      message: 'row 4 never arrived after the ALTER',
    });
    await waitFor(async () => (await sink.query(`SELECT 1 FROM ${db}.t WHERE mid = 1.5`)).length === 1);
    expect(textRows(await sink.query(`SELECT id, a, mid::text, b FROM ${db}.t ORDER BY id`))).toEqual([
      ['1', 'one', '1.500', '10'],
      ['2', 'two', null, '20'],
      ['3', 'three', null, '30'],
      ['4', 'four', '4.125', '40'],
    ]);
  });

  it('a table created while the pipeline runs and matching the pattern is captured from its first row', async () => {
    await source.query(`CREATE TABLE ${db}.created_later (k VARCHAR(10) PRIMARY KEY, v BIGINT UNSIGNED)`);
    await source.query(`INSERT INTO ${db}.created_later VALUES ('x', 18446744073709551615), ('y', 0)`);
    await waitFor(async () => (await sink.query(`SELECT 1 FROM ${db}.created_later`).catch(() => [])).length === 2, {
      message: 'the new table never arrived',
    });
    expect(textRows(await sink.query(`SELECT k, v::text FROM ${db}.created_later ORDER BY k`))).toEqual([
      ['x', '18446744073709551615'],
      ['y', '0'],
    ]);
  });

  it('a column added with a DEFAULT gives the rows already there the default, as the source does', async () => {
    await source.query(
      `ALTER TABLE ${db}.t ADD COLUMN flag INT NOT NULL DEFAULT 7, ADD COLUMN label VARCHAR(10) DEFAULT 'it''s', ADD COLUMN amount DECIMAL(8,2) DEFAULT 1.5`,
    );
    await source.query(`INSERT INTO ${db}.t (id, a, b, flag, label, amount) VALUES (5, 'five', 50, 8, NULL, 2)`);
    const sql = (cast: (c: string) => string) =>
      `SELECT ${['id', 'flag', 'label', 'amount'].map(cast).join(', ')} FROM ${db}.t ORDER BY id`;
    const expected = await mysqlRows(
      source,
      sql((c) => (c === 'label' ? c : `CAST(${c} AS CHAR)`)),
    );
    const target = async () =>
      textRows(await sink.query(sql((c) => (c === 'label' ? c : `${c}::text AS ${c}_t`))).catch(() => []));
    await waitFor(async () => JSON.stringify(await target()) === JSON.stringify(expected), {
      message: 'the target to hold the defaults of the added columns',
    });
    expect((await target())[0]).toEqual(['1', '7', "it's", '1.50']);
  });
});
