import type { Connection } from 'mysql2/promise';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mysqlRows, textRows } from './harness/compare.js';
import {
  freshPostgresDatabase,
  mysqlAdmin,
  uniqueName,
  waitFor,
  type FreshPostgresDatabase,
} from './harness/databases.js';
import { startTestPipeline, testPipelineYaml, type RunningPipeline } from './harness/pipelines.js';

/**
 * Issue 5, schema history: the binlog is decoded with the schema in force at each event, not with what
 * information_schema says when the event is read. The pipeline is stopped; the source then runs a sequence of
 * DDL statements with rows written between them; the restarted pipeline reads all of it from the saved position,
 * where information_schema already shows the last schema. Every row must arrive with the right values in the
 * right columns, and the target must end equal to the source (behavior `evolve`: the target follows every change).
 */
describe('schema history: a restart in the middle of a DDL sequence', () => {
  const db = uniqueName('ddlhist');
  let source: Connection;
  let sink: FreshPostgresDatabase;
  let stateDir: string;
  let running: RunningPipeline | undefined;

  const start = async () =>
    (running = await startTestPipeline({
      name: 'ddl-history',
      tables: `${db}.\\.*`,
      sinkUrl: sink.url,
      stateDir,
      pipelineYaml: '  schema.change.behavior: evolve',
    }));

  beforeAll(async () => {
    source = await mysqlAdmin();
    await source.query(`CREATE DATABASE ${db} CHARACTER SET latin1`);
    await source.query(`CREATE TABLE ${db}.t (id INT PRIMARY KEY, a VARCHAR(20), b INT) CHARACTER SET utf8mb4`);
    await source.query(`CREATE TABLE ${db}.other (k INT PRIMARY KEY, name VARCHAR(10))`);
    await source.query(`INSERT INTO ${db}.t VALUES (1, 'one', 10), (2, 'two', 20)`);
    await source.query(`INSERT INTO ${db}.other VALUES (1, 'é1'), (2, 'é2')`);
    sink = await freshPostgresDatabase('ddlhist');
    stateDir = (await testPipelineYaml({ name: 'x', tables: 'x' })).stateDir;
  });

  afterAll(async () => {
    await running?.stop().catch(() => {});
    await source?.query(`DROP DATABASE IF EXISTS ${db}`);
    await source?.end();
    await sink?.drop();
  });

  it('decodes the rows before, between and after the statements with the schema of their moment', async () => {
    await start();
    await waitFor(async () => (await sink.query(`SELECT 1 FROM ${db}.t`).catch(() => [])).length === 2);
    expect((await running!.stop()).outcome).toBe('stopped');
    running = undefined;

    const statements = [
      `INSERT INTO ${db}.t VALUES (3, 'three', 30)`,
      `ALTER TABLE ${db}.t ADD COLUMN mid DECIMAL(10,3) AFTER a, ADD COLUMN first_col VARCHAR(5) FIRST`,
      `INSERT INTO ${db}.t (id, a, mid, b, first_col) VALUES (4, 'four', 4.125, 40, 'f4')`,
      `UPDATE ${db}.t SET mid = 1.5 WHERE id = 1`,
      `ALTER TABLE ${db}.t DROP COLUMN b`,
      `INSERT INTO ${db}.t (id, a, mid, first_col) VALUES (5, 'five', 5.5, 'f5')`,
      `ALTER TABLE ${db}.t CHANGE COLUMN a label VARCHAR(40) NOT NULL`,
      `UPDATE ${db}.t SET label = CONCAT(label, '!') WHERE id IN (2, 5)`,
      `ALTER TABLE ${db}.t MODIFY mid DECIMAL(20,6)`,
      `INSERT INTO ${db}.t (id, label, mid) VALUES (6, 'six', 123456789.654321)`,
      `ALTER TABLE ${db}.other ADD COLUMN extra BIGINT UNSIGNED AFTER k`,
      `INSERT INTO ${db}.other VALUES (3, 18446744073709551615, 'é3')`,
      `ALTER TABLE ${db}.other CONVERT TO CHARACTER SET utf8mb4`,
      `INSERT INTO ${db}.other VALUES (4, 4, '😀')`,
      `DELETE FROM ${db}.t WHERE id = 3`,
    ];
    for (const sql of statements) await source.query(sql);

    await start();
    const expected = await sourceRows();
    await waitFor(async () => JSON.stringify(await targetRows().catch(() => null)) === JSON.stringify(expected), {
      timeoutMs: 90_000,
      message: `the target to equal the source after the DDL sequence: ${JSON.stringify(await targetRows().catch((e: Error) => e.message))}`,
    });
    expect(await targetRows()).toEqual(expected);
    expect(running!.logs.join('\n')).not.toMatch(/INTERNAL|SOURCE_PROTOCOL/);
  });

  async function sourceRows(): Promise<string[][][]> {
    return [
      await mysqlRows(source, `SELECT first_col, id, label, CAST(mid AS CHAR) FROM ${db}.t ORDER BY id`),
      await mysqlRows(source, `SELECT k, CAST(extra AS CHAR), name FROM ${db}.other ORDER BY k`),
    ];
  }

  async function targetRows(): Promise<string[][][]> {
    return [
      textRows(await sink.query(`SELECT first_col, id::text, label, mid::text FROM ${db}.t ORDER BY id`)),
      textRows(await sink.query(`SELECT k::text, extra::text, name FROM ${db}.other ORDER BY k`)),
    ];
  }
});
