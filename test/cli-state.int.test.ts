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
import { startTestPipeline, testPipelineYaml } from './harness/pipelines.js';
import { testTempDir } from './harness/temp-dirs.js';

/**
 * Issue 10: `tributary state` showed only the local state directory, so from another working directory it said
 * "no checkpoint" while `run` resumed from the sink's checkpoint. It reads the sink as `run` does, and when the
 * sink cannot be reached it shows the local copy and says so.
 */
describe('tributary state', () => {
  const db = uniqueName('state_cmd');
  let source: Connection;
  let sink: FreshPostgresDatabase;
  let stateDir: string;
  let lastId: number;

  beforeAll(async () => {
    source = await mysqlAdmin();
    await source.query(`CREATE DATABASE ${db}; CREATE TABLE ${db}.t (id INT PRIMARY KEY, v TEXT)`);
    await source.query(`INSERT INTO ${db}.t VALUES (1, 'a'), (2, 'b')`);
    sink = await freshPostgresDatabase('state_cmd');
    stateDir = await testTempDir('tributary-state-cmd');
    const running = await startTestPipeline({ name: 'state-cmd', tables: `${db}.t`, sinkUrl: sink.url, stateDir });
    await waitFor(async () => (await sink.query(`SELECT 1 FROM ${db}.t`).catch(() => [])).length === 2, {
      message: 'the snapshot',
    });
    const result = await running.stop();
    lastId = result.lastCheckpoint!.id;
  });

  afterAll(async () => {
    await source?.query(`DROP DATABASE IF EXISTS ${db}`);
    await source?.end();
    await sink?.drop();
  });

  async function state(options: { stateDir: string; sinkUrl: string }): Promise<string> {
    const { yaml, env } = await testPipelineYaml({ name: 'state-cmd', tables: `${db}.t`, ...options });
    const file = await writePipelineFile(await testTempDir('tributary-state-cmd-file'), yaml);
    const cli = startCli(['state', file], env);
    expect(await cli.exited, cli.output()).toBe(0);
    return cli.output();
  }

  it("shows the sink's checkpoint, where run resumes, though the state directory is another (empty) one", async () => {
    const output = await state({ stateDir: await testTempDir('tributary-state-elsewhere'), sinkUrl: sink.url });
    expect(output).toContain(`last checkpoint ${lastId} at`);
    expect(output).toContain('read from the sink (postgres)');
    expect(output).not.toContain('a first run takes a snapshot');
  });

  it("falls back to the state directory's copy when the sink cannot be reached, and says so", async () => {
    const unreachable = new URL(sink.url);
    unreachable.port = '1';
    const output = await state({ stateDir, sinkUrl: unreachable.toString() });
    expect(output).toMatch(/the sink could not be read \(SINK_UNREACHABLE/);
    expect(output).toContain(`showing the copy in ${stateDir}`);
    expect(output).toContain(`checkpoint ${lastId} at`);
    expect(output).toMatch(/savepoints in .*:\n {2}\d+ {2}/);
  });
});
