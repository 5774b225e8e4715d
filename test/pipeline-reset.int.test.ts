import type { Connection } from 'mysql2/promise';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { composePipeline } from '../src/composer/pipeline-composer.js';
import { parsePipelineYaml } from '../src/config/load-pipeline.js';
import { knownTypes, optionSpecsFor } from '../src/connectors/registry.js';
import { createLogger } from '../src/runtime/logger.js';
import {
  freshPostgresDatabase,
  mysqlAdmin,
  uniqueName,
  waitFor,
  type FreshPostgresDatabase,
} from './harness/databases.js';
import { testPipelineYaml } from './harness/pipelines.js';
import { testTempDir } from './harness/temp-dirs.js';

/**
 * Issue 10: `run --reset` forgets the position and takes a new snapshot, but the sink tables keep their rows —
 * a row deleted at the source meanwhile stays in the sink. `--reset --truncate-targets` empties the pipeline's
 * sink tables first, so the sink ends equal to the source; savepoints of before are set aside.
 */
describe('run --reset', () => {
  const db = uniqueName('reset');
  let source: Connection;
  let sink: FreshPostgresDatabase;
  let stateDir: string;

  beforeAll(async () => {
    source = await mysqlAdmin();
    await source.query(`CREATE DATABASE ${db}; CREATE TABLE ${db}.t (id INT PRIMARY KEY, v TEXT)`);
    await source.query(`INSERT INTO ${db}.t VALUES (1, 'a'), (2, 'b')`);
    sink = await freshPostgresDatabase('reset');
    stateDir = await testTempDir('tributary-reset');
  });

  afterAll(async () => {
    await source?.query(`DROP DATABASE IF EXISTS ${db}`);
    await source?.end();
    await sink?.drop();
  });

  const ids = async () => (await sink.query<{ id: number }>(`SELECT id FROM ${db}.t ORDER BY id`)).map((r) => r.id);

  /** Runs the pipeline until the sink holds `until` ids, then stops it (which writes a savepoint). */
  async function runUntil(until: number[], options: { reset?: boolean; truncateTargets?: boolean } = {}) {
    const { yaml, env } = await testPipelineYaml({ name: 'reset', tables: `${db}.t`, sinkUrl: sink.url, stateDir });
    const logs: string[] = [];
    const def = parsePipelineYaml(yaml, { file: 'reset.yaml', env, optionSpecsFor, knownTypes });
    const pipeline = composePipeline(def, {
      log: createLogger({ level: 'debug', write: (l) => logs.push(l) }),
      maxRetries: 0,
    });
    const controller = new AbortController();
    const done = pipeline.run({ signal: controller.signal, ...options });
    done.catch(() => undefined);
    await waitFor(async () => JSON.stringify(await ids().catch(() => [])) === JSON.stringify(until), {
      message: `the sink to hold ids ${until.join(', ')}`,
    });
    controller.abort();
    await done;
    return { pipeline, logs };
  }

  it('alone keeps rows deleted at the source; with --truncate-targets the sink equals the source', async () => {
    await runUntil([1, 2]);
    await source.query(`DELETE FROM ${db}.t WHERE id = 2`);
    await source.query(`INSERT INTO ${db}.t VALUES (3, 'c')`);

    // --reset alone: a new snapshot upserts over what the sink holds; row 2 stays (documented).
    const reset = await runUntil([1, 2, 3], { reset: true });
    expect(reset.logs.join('\n')).toMatch(/savepoints of before are set aside in .*savepoints-before-reset-/);
    expect((await reset.pipeline.stateStore().listSavepoints()).length).toBe(1);

    const truncated = await runUntil([1, 3], { reset: true, truncateTargets: true });
    expect(truncated.logs.join('\n')).toContain(`--truncate-targets: emptied ${db}.t`);
    expect(await ids()).toEqual([1, 3]);
  });
});
