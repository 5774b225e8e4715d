import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Connection } from 'mysql2/promise';
import { startCli, writePipelineFile } from './harness/cli-process.js';
import {
  freshPostgresDatabase,
  mysqlAdmin,
  uniqueName,
  waitFor,
  type FreshPostgresDatabase,
} from './harness/databases.js';
import { startTestPipeline, testPipelineYaml, type RunningPipeline } from './harness/pipelines.js';
import { testTempDir } from './harness/temp-dirs.js';

const ROWS = 3000;

/**
 * Issue 14: `tributary verify` proves the sink equals the source — checksums per key range that both servers
 * compute from byte-identical canonical text (decimals, 64-bit integers, µs timestamps, binary, unicode, NULL),
 * through a route and a sharded merge — and names the keys of rows changed behind the pipeline's back.
 */
describe('tributary verify', () => {
  const db = uniqueName('verify');
  let source: Connection;
  let sink: FreshPostgresDatabase;
  let running: RunningPipeline;
  let file: string;
  let env: Record<string, string>;

  const options = () => ({
    name: 'verify',
    tables: `${db}.t, ${db}.shard[0-9]`,
    sinkUrl: sink.url,
    chunkSize: 700,
    extraYaml: `transform:
  - source-table: ${db}.shard[0-9]
    projection: \\*, __table_name__ AS _table_name
    primary-keys: _table_name, id
route:
  - source-table: ${db}.shard[0-9]
    sink-table: ${db}.shards`,
  });

  beforeAll(async () => {
    source = await mysqlAdmin();
    await source.query(`CREATE DATABASE ${db};
      CREATE TABLE ${db}.t (
        id BIGINT PRIMARY KEY, amount DECIMAL(30,6), big BIGINT UNSIGNED, name VARCHAR(40) CHARACTER SET utf8mb4,
        latin VARCHAR(20) CHARACTER SET latin1, bin VARBINARY(16), fixed BINARY(4), ts DATETIME(6), tz TIMESTAMP(6) NULL,
        d DATE, flag TINYINT(1), ratio DOUBLE, bits BIT(5), e ENUM('a','b','c'), note TEXT
      ) DEFAULT CHARSET utf8mb4;
      CREATE TABLE ${db}.shard1 (id INT PRIMARY KEY, v VARCHAR(20));
      CREATE TABLE ${db}.shard2 (id INT PRIMARY KEY, v VARCHAR(20));`);
    await source.query(`INSERT INTO ${db}.t SELECT seq * 3 + 9007199254740993, CONCAT(seq, '.', LPAD(seq % 1000000, 6, '0')) * IF(seq % 2, -1, 1),
        18446744073709551615 - seq, CONCAT('zoë 🌊 ', seq), CONCAT('café ', seq), UNHEX(MD5(seq)), UNHEX(LPAD(HEX(seq), 8, '0')),
        TIMESTAMP('2024-02-29 23:59:59.000001') + INTERVAL seq SECOND, IF(seq % 5 = 0, NULL, TIMESTAMP('2001-01-01 00:00:00.5') + INTERVAL seq MINUTE),
        DATE('1970-01-01') + INTERVAL seq DAY, CAST(seq % 3 AS SIGNED) - 1, seq / 7, seq % 32, ELT(seq % 3 + 1, 'a', 'b', 'c'),
        IF(seq % 4 = 0, NULL, IF(seq % 4 = 1, '', CONCAT('line\\n', seq)))
      FROM ${db}.seq_1_to_${ROWS}`);
    await source.query(`INSERT INTO ${db}.shard1 VALUES (1, 'one-1'), (2, 'two-1');
      INSERT INTO ${db}.shard2 VALUES (1, 'one-2'), (2, 'two-2'), (3, 'three-2');`);
    sink = await freshPostgresDatabase('verify');
    running = await startTestPipeline(options());
    await waitFor(
      async () => {
        const [t] = await sink.query<{ n: number }>(`SELECT count(*)::int AS n FROM ${db}.t`).catch(() => []);
        const [s] = await sink.query<{ n: number }>(`SELECT count(*)::int AS n FROM ${db}.shards`).catch(() => []);
        return t?.n === ROWS && s?.n === 5;
      },
      { message: 'the snapshot in the sink' },
    );
    const written = await testPipelineYaml(options());
    env = written.env;
    file = await writePipelineFile(await testTempDir('tributary-verify'), written.yaml);
  });

  afterAll(async () => {
    await running?.stop().catch(() => undefined);
    await source?.query(`DROP DATABASE IF EXISTS ${db}`);
    await source?.end();
    await sink?.drop();
  });

  async function verify(): Promise<{ code: number | string; output: string }> {
    const cli = startCli(['verify', file, '--chunk-size', '500', '--recheck-wait', '1s'], env);
    const code = await cli.exited;
    return { code, output: cli.output() };
  }

  it('finds the sink equal to the source, every type compared but floating point', async () => {
    const { code, output } = await verify();
    expect(output).toContain('all 3 tables equal');
    expect(code, output).toBe(0);
    expect(output).toMatch(new RegExp(`${db}\\.t +\\| ${db}\\.t +\\| +${ROWS} \\| +${ROWS} \\| +7 \\|`));
    expect(output).toContain(`${db}.t: not compared: ratio`);
  });

  it('names the keys of rows changed, deleted and added in the sink behind the pipeline, and exits 1', async () => {
    const id = (n: number) => String(9007199254740993n + 3n * BigInt(n));
    await sink.query(`UPDATE ${db}.t SET amount = amount + 0.000001 WHERE id = ${id(10)}`);
    await sink.query(`UPDATE ${db}.t SET tz = tz + interval '1 microsecond' WHERE id = ${id(11)}`);
    await sink.query(`DELETE FROM ${db}.t WHERE id = ${id(2000)}`);
    await sink.query(`INSERT INTO ${db}.t (id, name) VALUES (5, 'not at the source')`);
    await sink.query(`UPDATE ${db}.shards SET v = 'changed' WHERE _table_name = 'shard2' AND id = 3`);
    const { code, output } = await verify();
    expect(code, output).toBe(1);
    expect(output).toContain(`${db}.t → ${db}.t: different (key): ${id(10)}; ${id(11)}`);
    expect(output).toContain(`${db}.t → ${db}.t: missing in the sink (key): ${id(2000)}`);
    expect(output).toContain(`${db}.t → ${db}.t: only in the sink (key): 5`);
    expect(output).toContain(`${db}.shard2 → ${db}.shards: different (key): 3`);
    expect(output).not.toContain(`${db}.shard1 → `);
    expect(output).toContain('2 tables of 3 differ');
  });
});
