import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DuckDBInstance } from '@duckdb/node-api';
import type { Connection } from 'mysql2/promise';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mysqlAdmin, uniqueName, waitFor } from './harness/databases.js';
import { startTestPipeline, type RunningPipeline } from './harness/pipelines.js';

const ROWS = 1200;

/**
 * Issue 14: `verify` and `verify --repair` against a DuckDB sink: DuckDB computes the same canonical row text
 * (decimals, 64-bit unsigned integers, µs timestamps and instants, binary, bits, unicode, NULL) as MariaDB.
 */
describe('verify against a DuckDB sink', () => {
  const db = uniqueName('verify_duck');
  let source: Connection;
  let dir: string;
  let path: string;
  let running: RunningPipeline | undefined;

  const duck = async (sql: string): Promise<unknown[][]> => {
    const instance = await DuckDBInstance.fromCache(path);
    const connection = await instance.connect();
    try {
      return (await connection.runAndReadAll(sql)).getRowsJson();
    } finally {
      connection.closeSync();
      instance.closeSync();
    }
  };

  beforeAll(async () => {
    source = await mysqlAdmin();
    await source.query(`CREATE DATABASE ${db};
      CREATE TABLE ${db}.t (
        id BIGINT PRIMARY KEY, amount DECIMAL(30,6), big BIGINT UNSIGNED, name VARCHAR(40) CHARACTER SET utf8mb4,
        bin VARBINARY(16), ts DATETIME(6), tz TIMESTAMP(6) NULL, d DATE, flag TINYINT(1), bits BIT(5),
        e ENUM('a','b','c'), note TEXT, ratio DOUBLE
      ) DEFAULT CHARSET utf8mb4;
      CREATE TABLE ${db}.bkey (k VARBINARY(8) PRIMARY KEY, v INT);`);
    await source.query(`INSERT INTO ${db}.t SELECT seq, CONCAT(seq, '.', LPAD(seq % 1000000, 6, '0')) * IF(seq % 2, -1, 1),
        18446744073709551615 - seq, CONCAT('zoë 🌊 ', seq), UNHEX(MD5(seq)),
        TIMESTAMP('2024-02-29 23:59:59.000001') + INTERVAL seq SECOND, IF(seq % 5 = 0, NULL, TIMESTAMP('2001-01-01 00:00:00.5') + INTERVAL seq MINUTE),
        DATE('1970-01-01') + INTERVAL seq DAY, seq % 2, seq % 32, ELT(seq % 3 + 1, 'a', 'b', 'c'),
        IF(seq % 4 = 0, NULL, IF(seq % 4 = 1, '', CONCAT('line\\n', seq))), seq / 7
      FROM ${db}.seq_1_to_${ROWS}`);
    await source.query(`INSERT INTO ${db}.bkey VALUES (0x00, 1), (0xFF01, 2), (0x0A0B0C, 3)`);
    dir = await mkdtemp(join(tmpdir(), 'tributary-verify-duckdb-'));
    path = join(dir, 'warehouse.duckdb');
    running = await startTestPipeline({
      name: 'verify-duckdb',
      tables: `${db}.t, ${db}.bkey`,
      sinkYaml: `  type: duckdb\n  path: ${path}`,
      chunkSize: 400,
    });
    await waitFor(
      async () => {
        const t = await duck(`SELECT count(*)::INT FROM ${db}.t`).catch(() => [[0]]);
        const b = await duck(`SELECT count(*)::INT FROM ${db}.bkey`).catch(() => [[0]]);
        return t[0]?.[0] === ROWS && b[0]?.[0] === 3;
      },
      { message: 'the snapshot in DuckDB' },
    );
  });

  afterAll(async () => {
    await running?.stop().catch(() => undefined);
    await source?.query(`DROP DATABASE IF EXISTS ${db}`);
    await source?.end();
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  const options = { chunkSize: 300, recheckWaitMs: 500, rechecks: 1 };

  it('finds the DuckDB tables equal to the source while the pipeline runs', async () => {
    const results = await running!.pipeline.verify(options);
    expect(results.map((r) => [r.source, r.sourceRows, r.sinkRows, r.chunks, r.differingKeys])).toEqual([
      [`${db}.bkey`, 3, 3, 1, 0],
      [`${db}.t`, ROWS, ROWS, 5, 0],
    ]);
    expect(results[1]!.skippedColumns).toEqual(['ratio']);
  });

  it('names rows changed, deleted and added in DuckDB, and repairs them once the pipeline is stopped', async () => {
    await duck(`UPDATE ${db}.t SET tz = tz + INTERVAL 1 MICROSECOND WHERE id = 7`);
    await duck(`UPDATE ${db}.t SET amount = amount + 0.000001 WHERE id = 900`);
    await duck(`DELETE FROM ${db}.t WHERE id = 1100`);
    await duck(`INSERT INTO ${db}.t (id, name) VALUES (-1, 'not at the source')`);
    await duck(`UPDATE ${db}.bkey SET v = 99 WHERE k = '\\xFF\\x01'::BLOB`);
    const pipeline = running!.pipeline;
    const found = await pipeline.verify(options);
    expect(found[0]).toMatchObject({ changed: ['FF01'], missing: [], extra: [] });
    expect(found[1]).toMatchObject({ changed: ['7', '900'], missing: ['1100'], extra: ['-1'] });

    await running!.stop();
    running = undefined;
    const report = await pipeline.repair(options);
    expect(report.repaired).toEqual([
      { source: `${db}.bkey`, sink: `${db}.bkey`, upserted: 1, deleted: 0 },
      { source: `${db}.t`, sink: `${db}.t`, upserted: 3, deleted: 1 },
    ]);
    expect(report.after.map((r) => r.differingKeys + r.differingChunks)).toEqual([0, 0]);
    expect(await duck(`SELECT v FROM ${db}.bkey ORDER BY k`)).toEqual([[1], [3], [2]]);
    expect(await duck(`SELECT count(*)::INT FROM ${db}.t WHERE id = -1`)).toEqual([[0]]);
  });
});
