import type { Connection } from 'mysql2/promise';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startCli, writePipelineFile, type CliProcess } from './harness/cli-process.js';
import {
  freshPostgresDatabase,
  mysqlAdmin,
  uniqueName,
  waitFor,
  type FreshPostgresDatabase,
} from './harness/databases.js';
import { readStream, startNatsServer, type StreamMessage, type TestNatsServer } from './harness/nats-server.js';
import { churnItems, createItems, itemsComparison } from './harness/items-table.js';
import { testPipelineYaml } from './harness/pipelines.js';
import { testTempDir } from './harness/temp-dirs.js';

const ROWS = 20_000;

/**
 * Issue 15: MySQL → JetStream → PostgreSQL as two processes, each killed with SIGKILL at any moment: the
 * stream holds every change once (a snapshot row once per key, read by a plain JetStream consumer) and the
 * PostgreSQL table ends equal to the MySQL table.
 */
describe('MySQL → NATS JetStream → PostgreSQL survives kill -9 of either process', () => {
  const db = uniqueName('natse2e');
  const stream = `s_${db}`;
  let nats: TestNatsServer;
  let source: Connection;
  let sink: FreshPostgresDatabase;
  let captureFile: string;
  let applyFile: string;
  let env: Record<string, string>;
  let capture: CliProcess | undefined;
  let apply: CliProcess | undefined;

  const { targetRows, targetCount, converged } = itemsComparison(
    () => source,
    () => sink,
    db,
  );
  const dataMessages = async (): Promise<StreamMessage[]> => await readStream(nats.url, stream, `${stream}.*.*`);

  beforeAll(async () => {
    nats = await startNatsServer();
    source = await mysqlAdmin();
    await createItems(source, db, ROWS);
    sink = await freshPostgresDatabase('natse2e');
    const captureYaml = await testPipelineYaml({
      name: 'nats-capture',
      tables: `${db}.items`,
      chunkSize: 500,
      checkpointInterval: '200ms',
      sinkYaml: `  type: nats\n  servers: ${nats.url}\n  stream: ${stream}\n  debezium-json.bigint.unsigned.handling.mode: precise`,
    });
    env = { ...captureYaml.env, TEST_SINK_URL: sink.url };
    captureFile = await writePipelineFile(captureYaml.stateDir, captureYaml.yaml);
    const applyDir = await testTempDir('nats-apply');
    applyFile = await writePipelineFile(
      applyDir,
      `source:
  type: nats
  servers: ${nats.url}
  stream: ${stream}
  tables: ${db}.items
sink:
  type: postgres
  url: \${TEST_SINK_URL}
pipeline:
  name: nats-apply
  checkpoint.interval: 200ms
  state.dir: ${applyDir}/state
`,
    );
  });

  afterAll(async () => {
    if (process.env['TRIBUTARY_TEST_DEBUG']) console.log(capture?.output(), apply?.output());
    capture?.child.kill('SIGKILL');
    apply?.child.kill('SIGKILL');
    await source?.query(`DROP DATABASE IF EXISTS ${db}`);
    await source?.end();
    await sink?.drop();
    await nats?.stop();
  });

  it('both killed mid-snapshot, the source changes, and both restarts converge with each row once in the stream', async () => {
    capture = startCli(['run', captureFile], env);
    // The apply pipeline refuses a stream that does not exist yet (SOURCE_NO_TABLES): start it once it does.
    await waitFor(async () => (await dataMessages()).length > 0, { message: `the stream\n${capture.output()}` });
    apply = startCli(['run', applyFile], env);
    await waitFor(async () => (await targetCount()) > 1_000, {
      timeoutMs: 180_000,
      message: `rows to arrive in PostgreSQL\n${capture.output()}\n${apply.output()}`,
    });
    capture.child.kill('SIGKILL');
    apply.child.kill('SIGKILL');
    expect(await capture.exited).toBe('SIGKILL');
    expect(await apply.exited).toBe('SIGKILL');
    expect(await targetCount()).toBeLessThan(ROWS); // really mid-snapshot

    await source.query(`UPDATE ${db}.items SET val = 'changed-while-down', amount = -1.5 WHERE id % 1000 = 0`);
    await source.query(`DELETE FROM ${db}.items WHERE id % 1500 = 2`);
    await source.query(
      `INSERT INTO ${db}.items VALUES (${ROWS + 1}, 'new', 0.0001, '2025-01-01 00:00:00.000001', 0, x'00ff')`,
    );

    capture = startCli(['run', captureFile], env);
    apply = startCli(['run', applyFile], env);
    await waitFor(converged, {
      timeoutMs: 240_000,
      intervalMs: 500,
      message: `PostgreSQL to equal MySQL after the restarts\n${capture.output()}\n${apply.output()}`,
    });
    // The stream, read by a plain consumer: each key's snapshot row at most once.
    const reads = new Map<string, number>();
    for (const m of await dataMessages()) {
      const payload = m.value?.['payload'] as { op: string; after: { id: number } } | undefined;
      if (payload?.op === 'r') reads.set(String(payload.after.id), (reads.get(String(payload.after.id)) ?? 0) + 1);
    }
    expect([...reads.values()].filter((n) => n > 1)).toEqual([]);
  });

  it('killed mid-stream while a writer runs, alternately, and the restarts converge', async () => {
    for (const victim of ['capture', 'apply'] as const) {
      const writes = churnItems(source, db, ROWS, victim);
      await waitFor(async () => (await targetRows()).some((r) => r[1]?.startsWith(`w-${victim}-`)), {
        timeoutMs: 120_000,
      });
      const victimCli = victim === 'capture' ? capture! : apply!;
      victimCli.child.kill('SIGKILL');
      await victimCli.exited;
      await writes;
      if (victim === 'capture') capture = startCli(['run', captureFile], env);
      else apply = startCli(['run', applyFile], env);
      await waitFor(converged, {
        timeoutMs: 240_000,
        intervalMs: 500,
        message: `PostgreSQL to equal MySQL after killing ${victim}\n${capture!.output()}\n${apply!.output()}`,
      });
    }
  });

  it('a restart of the NATS server (kill -9) is survived by both pipelines', async () => {
    await nats.kill();
    await source.query(`UPDATE ${db}.items SET val = 'while-nats-down' WHERE id % 101 = 0`);
    await nats.start();
    await waitFor(converged, {
      timeoutMs: 240_000,
      intervalMs: 500,
      message: `PostgreSQL to equal MySQL after the NATS server restart\n${capture!.output()}\n${apply!.output()}`,
    });
    capture!.child.kill('SIGTERM');
    apply!.child.kill('SIGTERM');
    expect(await capture!.exited).toBe(0);
    expect(await apply!.exited).toBe(0);
  });
});
