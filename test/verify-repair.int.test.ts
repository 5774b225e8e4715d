import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Connection, RowDataPacket } from 'mysql2/promise';
import { startCli, writePipelineFile } from './harness/cli-process.js';
import {
  freshPostgresDatabase,
  mysqlAdmin,
  uniqueName,
  waitFor,
  type FreshPostgresDatabase,
} from './harness/databases.js';
import {
  startTestPipeline,
  testPipelineYaml,
  type RunningPipeline,
  type TestPipelineOptions,
} from './harness/pipelines.js';
import { testTempDir } from './harness/temp-dirs.js';

const ROWS = 2000;

/**
 * Issue 14: `tributary verify --repair` makes the rows that differ equal to the source again — rows changed,
 * deleted and added in the target behind the pipeline's back, through a sharded merge too — through the running
 * pipeline (its source reads the differing chunks again beside the binlog, racing a writer), or by itself while
 * the pipeline is stopped, which leaves a pipeline that resumes afterwards correct.
 */
describe('tributary verify --repair', () => {
  const db = uniqueName('repair');
  let source: Connection;
  let sink: FreshPostgresDatabase;
  let running: RunningPipeline | undefined;
  let file: string;
  let env: Record<string, string>;
  let options: TestPipelineOptions;

  beforeAll(async () => {
    source = await mysqlAdmin();
    await source.query(`CREATE DATABASE ${db};
      CREATE TABLE ${db}.t (id BIGINT PRIMARY KEY, amount DECIMAL(20,4), name VARCHAR(40), bin VARBINARY(8), ts DATETIME(6));
      CREATE TABLE ${db}.shard1 (id INT PRIMARY KEY, v VARCHAR(20));
      CREATE TABLE ${db}.shard2 (id INT PRIMARY KEY, v VARCHAR(20));`);
    await source.query(`INSERT INTO ${db}.t SELECT seq, seq / 7, CONCAT('name ', seq), UNHEX(LPAD(HEX(seq), 8, '0')),
        TIMESTAMP('2024-02-29 23:59:59.000001') + INTERVAL seq SECOND FROM ${db}.seq_1_to_${ROWS}`);
    await source.query(`INSERT INTO ${db}.shard1 VALUES (1, 'one-1'), (2, 'two-1');
      INSERT INTO ${db}.shard2 VALUES (1, 'one-2'), (2, 'two-2'), (3, 'three-2');`);
    sink = await freshPostgresDatabase('repair');
    const stateDir = await testTempDir('tributary-repair-state');
    options = {
      name: 'repair',
      tables: `${db}.t, ${db}.shard[0-9]`,
      sinkUrl: sink.url,
      chunkSize: 300,
      stateDir,
      extraYaml: `transform:
  - source-table: ${db}.shard[0-9]
    projection: \\*, __table_name__ AS _table_name
    primary-keys: _table_name, id
route:
  - source-table: ${db}.shard[0-9]
    sink-table: ${db}.shards`,
    };
    running = await startTestPipeline(options);
    await caughtUp();
    const written = await testPipelineYaml(options);
    env = written.env;
    file = await writePipelineFile(await testTempDir('tributary-repair'), written.yaml);
  });

  afterAll(async () => {
    await running?.stop().catch(() => undefined);
    await source?.query(`DROP DATABASE IF EXISTS ${db}`);
    await source?.end();
    await sink?.drop();
  });

  async function caughtUp(): Promise<void> {
    await waitFor(
      async () => {
        const [t] = await sink
          .query<{ n: number }>(`SELECT count(*)::int AS n FROM ${db}.t WHERE name = 'name 1999'`)
          .catch(() => []);
        const [s] = await sink.query<{ n: number }>(`SELECT count(*)::int AS n FROM ${db}.shards`).catch(() => []);
        return t?.n === 1 && s?.n === 5;
      },
      { message: 'the pipeline in the sink' },
    );
  }

  async function verify(...extra: string[]): Promise<{ code: number | string; output: string }> {
    const cli = startCli(['verify', file, '--chunk-size', '250', '--recheck-wait', '1s', ...extra], env);
    const code = await cli.exited;
    return { code, output: cli.output() };
  }

  /** Rows changed, deleted and added in the sink behind the pipeline's back. */
  async function tamper(): Promise<void> {
    await sink.query(`UPDATE ${db}.t SET amount = amount + 1, name = 'tampered' WHERE id IN (10, 1500)`);
    await sink.query(`DELETE FROM ${db}.t WHERE id IN (700, 701)`);
    await sink.query(`INSERT INTO ${db}.t (id, name) VALUES (5000, 'not at the source'), (-3, 'nor this')`);
    await sink.query(`UPDATE ${db}.shards SET v = 'changed' WHERE _table_name = 'shard2' AND id = 3`);
    await sink.query(`DELETE FROM ${db}.shards WHERE _table_name = 'shard1' AND id = 1`);
    await sink.query(`INSERT INTO ${db}.shards (_table_name, id, v) VALUES ('shard2', 9, 'extra')`);
  }

  it('finds rows changed, deleted and added behind the running pipeline, and names them', async () => {
    await tamper();
    const found = await verify();
    expect(found.code, found.output).toBe(1);
    expect(found.output).toContain(`${db}.t → ${db}.t: different (key): 10; 1500`);
    expect(found.output).toContain(`${db}.t → ${db}.t: missing in the sink (key): 700; 701`);
    expect(found.output).toContain(`${db}.t → ${db}.t: only in the sink (key): -3; 5000`);
  });

  it('repairs them through the running pipeline while a writer changes the same key ranges at the source', async () => {
    // The writer races the repair inside the differing chunks: (1250, 1500] holds 1500, and it inserts, updates
    // and deletes there; the repair's chunk windows must neither undo a change nor resurrect a deleted row.
    let writing = true;
    const writer = (async () => {
      for (let n = 0; writing || n < 60; n++) {
        const id = 1251 + (n % 150);
        await source.query(`UPDATE ${db}.t SET name = CONCAT('written ', ${n}) WHERE id = ${id}`);
        if (n % 10 === 0) await source.query(`DELETE FROM ${db}.t WHERE id = ${1401 + ((n / 10) % 50)}`);
        if (n % 10 === 5) await source.query(`REPLACE INTO ${db}.t (id, name) VALUES (${3000 + (n % 500)}, 'new')`);
        await new Promise((resolve) => setTimeout(resolve, 20));
      }
    })();
    const cli = startCli(['verify', file, '--chunk-size', '250', '--recheck-wait', '1s', '--repair'], env);
    let exited = false;
    void cli.exited.then(() => (exited = true));
    // The race is the repair's: once it is committed the writer stops, so that the verification after it (while
    // verify waits for changes in flight, which a loaded machine delays by seconds) sees a source at rest.
    await waitFor(() => exited || cli.output().includes('committed the repair'), {
      timeoutMs: 120_000,
      message: 'the running pipeline to commit the repair',
    });
    writing = false;
    await writer;
    const repaired = { code: await cli.exited, output: cli.output() };
    expect(repaired.output).toContain(`pipeline repair is running: asking it to read`);
    // Sink-only keys: the two planted ones, and keys the writer deleted at the source that the pipeline (seconds
    // behind on a loaded machine) had not deleted yet at either check — the repair deletes those too, rightly.
    const onlyInSink = new RegExp(`${db}\\.t → ${db}\\.t: only in the sink \\(key\\): ([^\\n]+)`).exec(repaired.output);
    const sinkOnly = (onlyInSink?.[1] ?? '').split('; ');
    expect(sinkOnly, repaired.output).toEqual(expect.arrayContaining(['-3', '5000']));
    for (const key of sinkOnly.filter((k) => k !== '-3' && k !== '5000')) {
      expect(Number(key) >= 1401 && Number(key) <= 1450, `${key} is not one the writer deleted`).toBe(true);
    }
    const deleted = new RegExp(
      `repaired ${db}\\.t → ${db}\\.t: \\d+ rows written from the source, (\\d+) rows deleted`,
    ).exec(repaired.output);
    expect(deleted, repaired.output).not.toBeNull();
    expect(Number(deleted![1])).toBeGreaterThanOrEqual(2);
    expect(Number(deleted![1])).toBeLessThanOrEqual(sinkOnly.length);
    expect(repaired.output).toContain(
      `repaired ${db}.shard1 → ${db}.shards: 2 rows written from the source, 0 rows deleted`,
    );
    expect(repaired.output).toContain(
      `repaired ${db}.shard2 → ${db}.shards: 3 rows written from the source, 1 row deleted`,
    );
    expect(repaired.code, repaired.output).toBe(0);

    // Once the writer's last changes arrived, the sink equals the source row for row.
    const sourceRows = async () => {
      const [rows] = await source.query<RowDataPacket[]>(
        `SELECT id, name, CAST(amount AS CHAR) AS amount FROM ${db}.t ORDER BY id`,
      );
      return rows.map((r) => ({ id: String(r['id']), name: r['name'] as string, amount: r['amount'] as string }));
    };
    const sinkRows = () =>
      sink.query<{ id: string; name: string | null; amount: string | null }>(
        `SELECT id::text, name, amount::text FROM ${db}.t ORDER BY t.id`,
      );
    await waitFor(async () => JSON.stringify(await sinkRows()) === JSON.stringify(await sourceRows()), {
      message: "the writer's changes in the sink",
    }).catch(() => undefined);
    expect(await sinkRows()).toEqual(await sourceRows());
    const again = await verify();
    expect(again.code, again.output).toBe(0);
  });

  it('repairs them once the pipeline is stopped, verifies again and exits 0', async () => {
    await running!.stop();
    running = undefined;
    await tamper();
    // The source moves on while the pipeline is stopped: the repair writes what the source holds now.
    await source.query(`UPDATE ${db}.t SET name = 'changed while stopped' WHERE id = 1500`);
    const repaired = await verify('--repair');
    expect(repaired.code, repaired.output).toBe(0);
    expect(repaired.output).toContain(`repaired ${db}.t → ${db}.t: 4 rows written from the source, 2 rows deleted`);
    expect(repaired.output).toContain(
      `repaired ${db}.shard1 → ${db}.shards: 1 row written from the source, 0 rows deleted`,
    );
    expect(repaired.output).toContain(
      `repaired ${db}.shard2 → ${db}.shards: 1 row written from the source, 1 row deleted`,
    );
    expect(repaired.output).toMatch(/all 3 tables equal \(\d+ ms\)\s*$/);

    const rows = await sink.query<{ id: string; name: string | null; amount: string | null }>(
      `SELECT id::text, name, amount::text FROM ${db}.t AS t WHERE id IN (10, 700, 1500, 5000, -3) ORDER BY t.id`,
    );
    expect(rows).toEqual([
      { id: '10', name: 'name 10', amount: '1.4286' },
      { id: '700', name: 'name 700', amount: '100.0000' },
      { id: '1500', name: 'changed while stopped', amount: '214.2857' },
    ]);
    const shards = await sink.query<{ t: string; id: number; v: string }>(
      `SELECT _table_name AS t, id, v FROM ${db}.shards ORDER BY 1, 2`,
    );
    expect(shards.map((r) => `${r.t}/${r.id}=${r.v}`)).toEqual([
      'shard1/1=one-1',
      'shard1/2=two-1',
      'shard2/1=one-2',
      'shard2/2=two-2',
      'shard2/3=three-2',
    ]);
    const again = await verify();
    expect(again.code, again.output).toBe(0);
  });

  it('leaves the pipeline correct when it resumes: it replays the changes after its checkpoint over the repair', async () => {
    await source.query(`UPDATE ${db}.t SET name = 'after the repair' WHERE id = 10`);
    running = await startTestPipeline(options);
    await waitFor(
      async () => {
        const [row] = await sink.query<{ name: string }>(`SELECT name FROM ${db}.t WHERE id = 10`);
        return row?.name === 'after the repair';
      },
      { message: 'the change after the repair in the sink' },
    );
    const [row] = await sink.query<{ name: string }>(`SELECT name FROM ${db}.t WHERE id = 1500`);
    expect(row?.name).toBe('changed while stopped');
    const again = await verify();
    expect(again.code, again.output).toBe(0);
  });
});
