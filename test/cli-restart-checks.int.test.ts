import type { Connection } from 'mysql2/promise';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { startCli, writePipelineFile, type CliProcess } from './harness/cli-process.js';
import {
  freshPostgresDatabase,
  mysqlAdmin,
  uniqueName,
  waitFor,
  type FreshPostgresDatabase,
} from './harness/databases.js';
import { startFaultProxy, type FaultProxy } from './harness/fault-proxy.js';
import { startTestPipeline, testPipelineYaml } from './harness/pipelines.js';
import { jdbcOptions, mysqlCdcOptions, startSqlJob } from './harness/sql-jobs.js';
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

  /** The sink's URL with a port nothing listens on until {@link sinkBack} starts a proxy to the sink there. */
  async function sinkAway(): Promise<{ url: string; sinkBack: () => Promise<void> }> {
    const target = new URL(sink.url);
    const upstream = { host: target.hostname, port: Number(target.port) };
    const port = (proxy = await startFaultProxy(upstream)).port;
    await proxy.close();
    proxy = undefined;
    target.port = String(port);
    return { url: target.toString(), sinkBack: async () => void (proxy = await startFaultProxy(upstream, { port })) };
  }

  /** Waits for `run` to say it waits for the sink, brings the sink back, waits for `rows`; then stops it (exit 0). */
  async function resumesOnceBack(run: CliProcess, sinkBack: () => Promise<void>, rows: () => Promise<number[]>) {
    try {
      await waitFor(() => /SINK_UNREACHABLE[^\n]*\n(?:.*\n)*?.*checking again in \d+ s/.test(run.output()), {
        timeoutMs: 60_000,
        message: 'the restart to wait for the sink',
      });
      expect(run.output()).toContain('resumes from checkpoint');
      expect(run.child.exitCode).toBeNull();
      await sinkBack();
      await waitFor(async () => (await rows()).length === 3, {
        timeoutMs: 60_000,
        message: `the row written while the sink was away\n${run.output()}`,
      });
      expect(await rows()).toEqual([1, 2, 3]);
    } finally {
      run.child.kill('SIGINT');
    }
    expect(await run.exited, run.output()).toBe(0);
  }

  it('a restart from a checkpoint waits for the sink, then resumes with the changes made meanwhile', async () => {
    const first = await startTestPipeline({ name: 'restart-checks', tables: `${db}.t`, sinkUrl: sink.url, stateDir });
    await waitFor(async () => (await sinkRows()).length === 2, { message: 'the snapshot' });
    expect((await first.stop()).lastCheckpoint).not.toBeNull();

    const { url, sinkBack } = await sinkAway();
    await source.query(`INSERT INTO ${db}.t VALUES (3, 'c')`);
    const run = await cli({ stateDir, sinkUrl: url });
    await resumesOnceBack(run, sinkBack, sinkRows);
    expect(run.output()).toMatch(/resuming from checkpoint \d+/);
  });

  it('so does a SQL job run by `tributary sql -f`', async () => {
    await source.query(
      `CREATE TABLE ${db}.s (id INT PRIMARY KEY, v TEXT); INSERT INTO ${db}.s VALUES (1, 'a'), (2, 'b')`,
    );
    const dir = await testTempDir('tributary-restart-checks-sql');
    const script = (sinkUrl: string) => `
      SET 'pipeline.name' = 'restart-checks-sql';
      SET 'state.dir' = '${join(dir, 'state')}';
      SET 'execution.checkpointing.interval' = '300ms';
      CREATE TABLE src (id INT, v STRING, PRIMARY KEY (id) NOT ENFORCED) WITH (${mysqlCdcOptions(db, 's')});
      CREATE TABLE dst (id INT, v STRING, PRIMARY KEY (id) NOT ENFORCED) WITH (${jdbcOptions(sinkUrl, 'sql_copy')});
      INSERT INTO dst SELECT id, v FROM src;`;
    const copied = async () =>
      (await sink.query<{ id: number }>(`SELECT id FROM sql_copy ORDER BY id`).catch(() => [])).map((r) => r.id);
    const first = startSqlJob(script(sink.url));
    await waitFor(async () => (await copied()).length === 2, { message: 'the SQL job to copy the table' });
    expect((await first.stop()).lastCheckpoint).not.toBeNull();

    const { url, sinkBack } = await sinkAway();
    await source.query(`INSERT INTO ${db}.s VALUES (3, 'c')`);
    const file = join(dir, 'copy.sql');
    await writeFile(file, script(url));
    await resumesOnceBack(startCli(['sql', '-f', file], {}), sinkBack, copied);
  });
});
