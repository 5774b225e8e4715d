import type { Connection } from 'mysql2/promise';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startCli, writePipelineFile } from './harness/cli-process.js';
import {
  freshPostgresDatabase,
  mysqlAdmin,
  uniqueName,
  waitFor,
  type FreshPostgresDatabase,
} from './harness/databases.js';
import { startFaultProxy, type FaultProxy } from './harness/fault-proxy.js';
import { startTestPipeline, testPipelineYaml } from './harness/pipelines.js';
import { testTempDir } from './harness/temp-dirs.js';

/**
 * `tributary run` makes its checks before the first row. A first start stops at the first error (a mistake in the
 * configuration shows at once); a restart from a checkpoint whose sink or source is away for the moment — a process
 * restarted during a failover — waits for it as a running pipeline does, then resumes (the scale-out crash test's
 * capture died this way when a JetStream leader was killed while it restarted).
 */
describe('tributary run: a server away during the checks before the start', () => {
  const db = uniqueName('restart_checks');
  let source: Connection;
  let sink: FreshPostgresDatabase;
  let stateDir: string;
  let proxy: FaultProxy | undefined;

  beforeAll(async () => {
    source = await mysqlAdmin();
    await source.query(`CREATE DATABASE ${db}; CREATE TABLE ${db}.t (id INT PRIMARY KEY, v TEXT)`);
    await source.query(`INSERT INTO ${db}.t VALUES (1, 'a'), (2, 'b')`);
    sink = await freshPostgresDatabase('restart_checks');
    stateDir = await testTempDir('tributary-restart-checks');
  });

  afterAll(async () => {
    await proxy?.close();
    await source?.query(`DROP DATABASE IF EXISTS ${db}`);
    await source?.end();
    await sink?.drop();
  });

  async function cli(options: { stateDir: string; sinkUrl: string }) {
    const { yaml, env } = await testPipelineYaml({ name: 'restart-checks', tables: `${db}.t`, ...options });
    const file = await writePipelineFile(await testTempDir('tributary-restart-checks-file'), yaml);
    return startCli(['run', file, '--no-http'], env);
  }

  const sinkRows = async () =>
    (await sink.query<{ id: number }>(`SELECT id FROM ${db}.t ORDER BY id`).catch(() => [])).map((r) => r.id);

  it('a first start with the sink away stops at once with SINK_UNREACHABLE', async () => {
    const away = new URL(sink.url);
    away.port = '1';
    const run = await cli({ stateDir: await testTempDir('tributary-restart-checks-first'), sinkUrl: away.toString() });
    expect(await run.exited, run.output()).toBe(1);
    expect(run.output()).toContain('SINK_UNREACHABLE');
    expect(run.output()).not.toContain('checking again');
  });

  it('a restart from a checkpoint waits for the sink, then resumes with the changes made meanwhile', async () => {
    const first = await startTestPipeline({ name: 'restart-checks', tables: `${db}.t`, sinkUrl: sink.url, stateDir });
    await waitFor(async () => (await sinkRows()).length === 2, { message: 'the snapshot' });
    expect((await first.stop()).lastCheckpoint).not.toBeNull();

    // The sink's port, with nothing listening on it until the proxy comes back there.
    const target = new URL(sink.url);
    const upstream = { host: target.hostname, port: Number(target.port) };
    const port = (proxy = await startFaultProxy(upstream)).port;
    await proxy.close();
    proxy = undefined;
    const through = new URL(sink.url);
    through.port = String(port);

    await source.query(`INSERT INTO ${db}.t VALUES (3, 'c')`);
    const run = await cli({ stateDir, sinkUrl: through.toString() });
    try {
      await waitFor(() => /SINK_UNREACHABLE[^\n]*\n(?:.*\n)*?.*checking again in \d+ s/.test(run.output()), {
        timeoutMs: 60_000,
        message: 'the restart to wait for the sink',
      });
      expect(run.output()).toContain('the pipeline resumes from checkpoint');
      expect(run.child.exitCode).toBeNull();

      proxy = await startFaultProxy(upstream, { port });
      await waitFor(async () => (await sinkRows()).length === 3, {
        timeoutMs: 60_000,
        message: `the row written while the sink was away\n${run.output()}`,
      });
      expect(await sinkRows()).toEqual([1, 2, 3]);
      expect(run.output()).toMatch(/resuming from checkpoint \d+/);
    } finally {
      run.child.kill('SIGINT');
    }
    expect(await run.exited, run.output()).toBe(0);
  });
});
