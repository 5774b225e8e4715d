import type { Connection } from 'mysql2/promise';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { progressLine } from '../src/cli/progress-line.js';
import { composePipeline } from '../src/composer/pipeline-composer.js';
import { parsePipelineYaml } from '../src/config/load-pipeline.js';
import { knownTypes, optionSpecsFor } from '../src/connectors/registry.js';
import type { Source, SourceProgress } from '../src/core/index.js';
import { createLogger } from '../src/runtime/logger.js';
import {
  freshPostgresDatabase,
  mysqlAdmin,
  uniqueName,
  waitFor,
  type FreshPostgresDatabase,
} from './harness/databases.js';
import { testPipelineYaml } from './harness/pipelines.js';

/**
 * Issue 10: the progress line of a snapshot gives rows of a total estimate. The MySQL source takes the estimate
 * from the server's table statistics and reports rows read per table.
 */
describe('snapshot progress of the mysql source', () => {
  const db = uniqueName('progress');
  let source: Connection;
  let sink: FreshPostgresDatabase;

  beforeAll(async () => {
    source = await mysqlAdmin();
    await source.query(`CREATE DATABASE ${db}; CREATE TABLE ${db}.t (id INT PRIMARY KEY, v TEXT)`);
    await source.query(`INSERT INTO ${db}.t SELECT seq, CONCAT('v', seq) FROM ${db}.seq_1_to_3000`);
    await source.query(`ANALYZE TABLE ${db}.t`);
    sink = await freshPostgresDatabase('progress');
  });

  afterAll(async () => {
    await source?.query(`DROP DATABASE IF EXISTS ${db}`);
    await source?.end();
    await sink?.drop();
  });

  it('reports an estimate of the rows to read and the rows read per table while the snapshot runs', async () => {
    const { yaml, env } = await testPipelineYaml({
      name: 'progress',
      tables: `${db}.t`,
      sinkUrl: sink.url,
      chunkSize: 100,
      // Slow enough to be watched mid-way.
      sourceYaml: '  scan.snapshot.rows-per-second: 1000',
    });
    const def = parsePipelineYaml(yaml, { file: 'progress.yaml', env, optionSpecsFor, knownTypes });
    const pipeline = composePipeline(def, {
      log: createLogger({ level: 'warn', write: () => undefined }),
      maxRetries: 0,
    });
    const controller = new AbortController();
    let current: Source | undefined;
    const done = pipeline.run({ signal: controller.signal, onStart: (parts) => (current = parts.source) });
    done.catch(() => undefined);
    let seen: SourceProgress | undefined;
    try {
      await waitFor(
        () => {
          const p = current?.progress();
          if (p?.phase === 'snapshot' && p.snapshotRowsRead > 0) seen = p;
          return seen !== undefined || p?.phase === 'streaming';
        },
        { intervalMs: 20, message: 'the snapshot to have read some rows' },
      );
    } finally {
      controller.abort();
      await done;
    }
    expect(seen, 'the snapshot was never seen mid-way').toBeDefined();
    expect(seen!.snapshotRowsEstimate).toBeGreaterThan(1000);
    expect(seen!.snapshotTables).toEqual([
      { table: `${db}.t`, rowsRead: seen!.snapshotRowsRead, rowsEstimate: seen!.snapshotRowsEstimate },
    ]);
    expect(progressLine(seen!, undefined, 0, { events: 0, checkpoints: 0 })).toMatch(
      /^snapshot: [\d,]+ of ~[\d,]+ rows \(\d+ %\); 0\/1 table done;/,
    );
  });
});
