import { setTimeout as sleep } from 'node:timers/promises';
import type { Connection } from 'mysql2/promise';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startEmbeddedMariadb } from '../src/embedded/embedded-mariadb.js';
import type { EmbeddedServer } from '../src/embedded/embedded-server.js';
import { freshPostgresDatabase, uniqueName, waitFor, type FreshPostgresDatabase } from './harness/databases.js';
import {
  createItemsTable,
  describeWriter,
  envNumber,
  formatResumePosition,
  installRevisionAudit,
  mysqlConnect,
  readRevisionAudit,
  report,
  retryLines,
  seededRandom,
  seedFromEnv,
  sinkCheckpoint,
  startFaultPipeline,
  startWriter,
  waitForEqual,
  type FaultPipeline,
  type Writer,
} from './harness/faults.js';

/**
 * Issue 4, "Source outage": MariaDB restarts under a running pipeline — once during the snapshot, once while
 * it streams the binlog and a writer commits before and after (down for TRIBUTARY_SOURCE_OUTAGE_MS, default
 * 3 s). The pipeline reports the lost connection (SOURCE_CONNECTION_LOST / SOURCE_UNREACHABLE), retries,
 * resumes at exactly the position of its last checkpoint, and the target ends equal to the source: nothing
 * lost, nothing applied out of order.
 *
 * The MariaDB is private to this file: restarting the shared one would break the other test files.
 */
const SEED = seedFromEnv('TRIBUTARY_FAULT_SEED');
/** How long MariaDB stays down in the mid-stream case (the snapshot case is a plain restart). */
const OUTAGE_MS = envNumber('TRIBUTARY_SOURCE_OUTAGE_MS', 3_000);
const ROWS = 60_000;
const PIPELINE = 'source-outage';
const LOST = new Set(['SOURCE_CONNECTION_LOST', 'SOURCE_UNREACHABLE']);

describe('source outage: MariaDB restarted under a running pipeline', () => {
  const db = uniqueName('srcout');
  const tables = [`${db}.items`];
  let server: EmbeddedServer;
  let source: Connection;
  let sink: FreshPostgresDatabase;
  let pipeline: FaultPipeline | undefined;
  let writer: Writer | undefined;
  /** A running pipeline must not end by itself: when it does, waiting for the target is pointless. */
  const pipelineEnded = () => {
    const how = pipeline?.endedWith();
    return how === undefined ? undefined : `the pipeline ended by itself: ${how}`;
  };
  const sinkQuery = () => sink.query.bind(sink);

  /**
   * Stops the server, keeps it down for `downMs`, starts it again; returns how long it was gone. Our own
   * connection dies with it, so it is opened again.
   */
  async function restartSource(downMs: number): Promise<number> {
    const began = Date.now();
    await server.pause();
    if (downMs > 0) await sleep(downMs);
    await server.resume();
    const took = Date.now() - began;
    source.destroy();
    source = await mysqlConnect(server.url);
    return took;
  }

  beforeAll(async () => {
    server = await startEmbeddedMariadb();
    source = await mysqlConnect(server.url);
    await source.query(`CREATE DATABASE ${db}`);
    await createItemsTable(source, tables[0]!, ROWS);
    sink = await freshPostgresDatabase('srcout');
    await installRevisionAudit(sinkQuery(), db);
  });

  afterAll(async () => {
    await writer?.stop();
    await pipeline?.stop().catch(() => undefined);
    await source?.end().catch(() => undefined);
    await server?.stop();
    await sink?.drop();
  });

  /** The retry lines after `from`, and the proof that the next attempt resumed at the last committed checkpoint. */
  function checkResume(from: number): { retries: string[]; resumedAt: string; resumedInSnapshot: boolean } {
    const logs = pipeline!.logs.slice(from);
    const retries = retryLines(logs);
    expect(retries.length, 'no retry line after the restart').toBeGreaterThan(0);
    expect(LOST.has(retries[0]!.code), retries[0]!.line).toBe(true);
    for (const retry of retries) expect(retry.line).toMatch(/\n\s+fix: /);
    const resumedLine = logs.find((l) => /resuming from checkpoint \d+/.test(l));
    const resumedId = Number(/resuming from checkpoint (\d+)/.exec(resumedLine ?? '')?.[1]);
    const checkpoint = pipeline!.checkpoints.find((c) => c.id === resumedId);
    expect(checkpoint, `resumed from checkpoint ${resumedId}, which this run never committed`).toBeDefined();
    // The last checkpoint committed before the failure, and exactly its position.
    const before = pipeline!.checkpoints.filter((c) => c.id <= resumedId);
    expect(before[before.length - 1]?.id).toBe(resumedId);
    const resumedAt = formatResumePosition(checkpoint!.position);
    expect(logs.some((l) => l.includes(`resuming binlog at ${resumedAt}`))).toBe(true);
    return {
      retries: retries.map((r) => `${r.code} ${r.delayS}s`),
      resumedAt,
      resumedInSnapshot: checkpoint!.position['snapshot'] !== undefined,
    };
  }

  it('restarted during the snapshot: the pipeline reconnects and the snapshot resumes where it was', async () => {
    pipeline = await startFaultPipeline({
      name: PIPELINE,
      tables: tables[0]!,
      mysqlUrl: server.url,
      sinkUrl: sink.url,
      // 300 chunks: enough for the restart to land inside the snapshot, few enough watermark round trips that a
      // loaded machine finishes it within the bound below.
      chunkSize: 200,
      checkpointInterval: '200ms',
    });
    await waitFor(async () => (await sinkCheckpoint(sinkQuery(), PIPELINE))?.position.snapshot !== undefined, {
      message: 'a checkpoint inside the snapshot',
    });
    const from = pipeline.logs.length;
    const restartMs = await restartSource(0);
    const comparison = await waitForEqual(source, sinkQuery(), tables, {
      timeoutMs: 480_000,
      stopIf: pipelineEnded,
      message: 'the snapshot to complete after the restart',
    });
    const { retries, resumedAt, resumedInSnapshot } = checkResume(from);
    expect(resumedInSnapshot, 'the restart did not land in the snapshot').toBe(true);
    expect(pipeline.ended()).toBe(false);
    report(
      `source outage (snapshot): down for ${restartMs} ms; retries ${retries.join(', ')}; resumed at ${resumedAt}; ` +
        comparison.summary(),
    );
  }, 600_000);

  it('restarted mid-stream while a writer commits before and after: nothing lost, nothing out of order', async () => {
    writer = startWriter({
      connect: () => mysqlConnect(server.url),
      tables,
      random: seededRandom(SEED),
      maxId: ROWS,
    });
    await writer.committed(200);
    const from = pipeline!.logs.length;
    const transactionsBefore = writer.stats.transactions;
    const restartMs = await restartSource(OUTAGE_MS);
    const failedDuringRestart = writer.stats.failed;
    await writer.committed(200, 60_000);
    const writerStats = await writer.stop();
    writer = undefined;
    const comparison = await waitForEqual(source, sinkQuery(), tables, {
      timeoutMs: 240_000,
      stopIf: pipelineEnded,
      message: 'the target to equal the source after the restart',
    });
    const { retries, resumedAt } = checkResume(from);
    expect(pipeline!.ended()).toBe(false);
    // The pipeline reads on into the binlog file the restarted server writes.
    const [status] = (await source.query('SHOW MASTER STATUS')) as unknown as [{ File: string }[]];
    await waitFor(
      async () => (await sinkCheckpoint(sinkQuery(), PIPELINE))?.position.binlog?.file === status[0]?.File,
      {
        message: `the checkpoint to reach the new binlog file ${status[0]?.File}`,
      },
    );
    const audit = await readRevisionAudit(sinkQuery());
    expect(audit.regressions, audit.samples.join('\n')).toBe(0);
    const result = await pipeline!.stop();
    expect(result.outcome).toBe('stopped');
    pipeline = undefined;
    report(
      `source outage (streaming): down for ${restartMs} ms; retries ${retries.join(', ')}; resumed at ${resumedAt}; ` +
        `writer: ${transactionsBefore} transactions before, ${describeWriter(writerStats)} in all ` +
        `(${failedDuringRestart} failed while the server restarted)`,
    );
    report(
      `  ${comparison.summary()}; stale applies ${audit.regressions}, same-revision re-applies ${audit.sameRevision}`,
    );
  }, 300_000);
});
