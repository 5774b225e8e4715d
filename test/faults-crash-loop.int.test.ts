import { setTimeout as sleep } from 'node:timers/promises';
import type { Connection } from 'mysql2/promise';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startCli, writePipelineFile, type CliProcess } from './harness/cli-process.js';
import { freshPostgresDatabase, mysqlAdmin, uniqueName, type FreshPostgresDatabase } from './harness/databases.js';
import {
  compareItems,
  createItemsTable,
  describeWriter,
  envNumber,
  faultPipelineYaml,
  installRevisionAudit,
  readRevisionAudit,
  report,
  seededRandom,
  seedFromEnv,
  sinkCheckpoint,
  startWriter,
  waitForEqual,
  type Random,
  type Writer,
} from './harness/faults.js';

/**
 * Issue 4, "Crash loop": a writer changes the source (inserts, updates, primary-key changes, deletes in small
 * transactions) while `tributary run` is killed with SIGKILL again and again — during the snapshot, while it
 * streams the binlog, right after a checkpoint, in the middle of a sink commit, while it starts — and
 * restarted. At the end the target equals the source row for row (and by checksum), and the sink never
 * applied an older image of a row after a newer one.
 *
 * TRIBUTARY_CRASH_KILLS (default 6) sets the number of kills, TRIBUTARY_CRASH_SEED replays a run's decisions,
 * TRIBUTARY_CRASH_ROWS the size of the first table. `scripts/crash-loop.sh` runs it with 100 kills.
 */
const KILLS = Math.max(1, Math.round(envNumber('TRIBUTARY_CRASH_KILLS', 6)));
const ROWS = Math.max(1000, Math.round(envNumber('TRIBUTARY_CRASH_ROWS', 40_000)));
const SEED = seedFromEnv('TRIBUTARY_CRASH_SEED');
const CHUNK_SIZE = 50;
const PIPELINE = 'crash-loop';

type KillMode = 'snapshot' | 'streaming' | 'after-checkpoint' | 'mid-commit' | 'startup';

interface KillRecord {
  readonly mode: KillMode;
  /** Where the sink's last committed checkpoint stood after the kill. */
  readonly phase: 'no checkpoint yet' | 'snapshot' | 'binlog';
  /** For mid-commit: whether a writing sink transaction was seen right before the kill. */
  readonly inCommit: boolean;
  readonly checkpointsThisRun: number;
  readonly ranMs: number;
}

describe('crash loop: kill -9 at random moments while a writer runs', () => {
  const db = uniqueName('crashloop');
  const tables = [`${db}.items_a`, `${db}.items_b`];
  let source: Connection;
  let sink: FreshPostgresDatabase;
  let file: string;
  let env: Record<string, string>;
  let cli: CliProcess | undefined;
  let writer: Writer | undefined;

  beforeAll(async () => {
    source = await mysqlAdmin();
    await source.query(`CREATE DATABASE ${db}`);
    await createItemsTable(source, tables[0]!, ROWS);
    await createItemsTable(source, tables[1]!, Math.round(ROWS / 2));
    sink = await freshPostgresDatabase('crashloop');
    await installRevisionAudit(sink.query.bind(sink), db);
    const pipeline = await faultPipelineYaml({
      name: PIPELINE,
      tables: `${db}.items_[ab]`,
      sinkUrl: sink.url,
      chunkSize: CHUNK_SIZE,
      checkpointInterval: '200ms',
    });
    env = pipeline.env;
    file = await writePipelineFile(pipeline.stateDir, pipeline.yaml);
  });

  afterAll(async () => {
    cli?.child.kill('SIGKILL');
    await writer?.stop();
    await source?.query(`DROP DATABASE IF EXISTS ${db}`);
    await source?.end();
    await sink?.drop();
  });

  it(
    `converges after ${KILLS} kill -9s at random moments (seed ${SEED})`,
    async () => {
      const began = Date.now();
      report(
        `crash loop: seed ${SEED} (replay with TRIBUTARY_CRASH_SEED=${SEED}), ${KILLS} kills, ${ROWS} + ${Math.round(ROWS / 2)} rows`,
      );
      const decide = seededRandom(SEED);
      writer = startWriter({
        connect: () => mysqlAdmin(),
        tables,
        random: seededRandom((SEED * 7919 + 17) >>> 0),
        maxId: ROWS,
      });
      const kills: KillRecord[] = [];
      let checkpointsSeen = 0;
      let snapshotKillBudget = Math.ceil(KILLS / 3);

      for (let k = 1; k <= KILLS; k++) {
        const committed = await sinkCheckpoint(sink.query.bind(sink), PIPELINE);
        const inSnapshot = committed === null || committed.position.snapshot !== undefined;
        // The last third of the kills happen while streaming, however long the snapshot takes.
        const streamingFirst = inSnapshot && k > KILLS - Math.ceil(KILLS / 3);
        const mode = chooseMode(decide, inSnapshot && !streamingFirst && snapshotKillBudget > 0, !streamingFirst);
        if (mode === 'snapshot') snapshotKillBudget--;
        const startedAt = Date.now();
        cli = startCli(['run', file], env);
        const watch = watchCheckpoints(cli);
        if (streamingFirst) await waitForStreaming(sink, cli);
        const inCommit = await killWhen(mode, cli, watch, decide, sink);
        const exit = await cli.exited;
        if (exit !== 'SIGKILL') {
          throw new Error(`run ${k} ended by itself (${exit}) before it was killed:\n${tail(cli.output())}`);
        }
        checkpointsSeen += watch.count();
        const after = await sinkCheckpoint(sink.query.bind(sink), PIPELINE);
        const record: KillRecord = {
          mode,
          phase: after === null ? 'no checkpoint yet' : after.position.snapshot !== undefined ? 'snapshot' : 'binlog',
          inCommit,
          checkpointsThisRun: watch.count(),
          ranMs: Date.now() - startedAt,
        };
        kills.push(record);
        report(
          `  kill ${k}/${KILLS}: ${mode}${record.inCommit ? ' (sink transaction in flight)' : ''} after ${record.ranMs} ms, ` +
            `${record.checkpointsThisRun} checkpoints in this run; committed position: ${record.phase}`,
        );
        if (process.env['TRIBUTARY_TEST_DEBUG'] === '1') console.log(tail(cli.output()));
        // Down for a moment while the writer goes on.
        await sleep(decide.int(0, 400));
      }

      const writerStats = await writer.stop();
      writer = undefined;
      cli = startCli(['run', file], env);
      const finalWatch = watchCheckpoints(cli);
      const comparison = await waitForEqual(source, sink.query.bind(sink), tables, {
        timeoutMs: 90_000,
        message: `the target to equal the source after ${KILLS} kills (seed ${SEED})`,
      }).catch((error: Error) => {
        throw new Error(`${error.message}\nlast run:\n${tail(cli!.output())}`);
      });
      cli.child.kill('SIGTERM');
      expect(await cli.exited).toBe(0);
      checkpointsSeen += finalWatch.count();
      const final = await compareItems(source, sink.query.bind(sink), tables);
      expect(final.equal, final.summary()).toBe(true);
      expect(cli.output()).toMatch(/resuming from checkpoint \d+/);
      expect(cli.output()).not.toContain(env['FAULT_MYSQL_PASSWORD']);

      const audit = await readRevisionAudit(sink.query.bind(sink));
      const byMode = countBy(kills, (k) => k.mode);
      const byPhase = countBy(kills, (k) => k.phase);
      const midCommit = kills.filter((k) => k.inCommit).length;
      report(
        `crash loop (seed ${SEED}): ${kills.length} kills, ${kills.length + 1} restarts, ${checkpointsSeen} checkpoints logged, ` +
          `${Math.round((Date.now() - began) / 1000)} s`,
      );
      report(`  kills by moment: ${format(byMode)}; mid-commit confirmed by pg_stat_activity: ${midCommit}`);
      report(`  kills by committed position: ${format(byPhase)}`);
      report(`  writer: ${describeWriter(writerStats)}`);
      report(`  rows checked: ${comparison.rows}; ${final.summary().replace(/\n/g, '\n    ')}`);
      report(
        `  sink applied ${audit.applies} row images, ${audit.sameRevision} of them a revision it already had ` +
          `(snapshot overlap / replay), ${audit.regressions} older than one already applied; ` +
          `lost ${final.tables.reduce((n, t) => n + t.missing, 0)}, extra ${final.tables.reduce((n, t) => n + t.extra, 0)}`,
      );
      expect(audit.regressions, audit.samples.join('\n')).toBe(0);
      expect(kills.length).toBe(KILLS);
    },
    90_000 + KILLS * 8_000,
  );
});

/** During the snapshot most kills land in it; afterwards at streaming, commit and (maybe) start-up moments. */
function chooseMode(random: Random, snapshotWanted: boolean, startupAllowed: boolean): KillMode {
  if (snapshotWanted) return random.weighted({ snapshot: 4, 'mid-commit': 1, 'after-checkpoint': 1 });
  return random.weighted({ streaming: 3, 'after-checkpoint': 3, 'mid-commit': 3, startup: startupAllowed ? 1 : 0 });
}

interface CheckpointWatch {
  count(): number;
  /** Resolves true once `n` checkpoint lines were logged by this run, false on timeout or exit. */
  reach(n: number, timeoutMs: number): Promise<boolean>;
}

/** Counts the CLI's `checkpoint N: … committed` log lines as they arrive. */
function watchCheckpoints(cli: CliProcess): CheckpointWatch {
  let count = 0;
  let partial = '';
  const listeners = new Set<() => void>();
  cli.child.stderr?.on('data', (data: Buffer) => {
    const lines = (partial + data.toString()).split('\n');
    partial = lines.pop() ?? '';
    for (const line of lines) if (/\bcheckpoint \d+: \d+ changes committed/.test(line)) count++;
    for (const listener of [...listeners]) listener();
  });
  let exited = false;
  void cli.exited.then(() => {
    exited = true;
    for (const listener of [...listeners]) listener();
  });
  return {
    count: () => count,
    reach: (n, timeoutMs) =>
      new Promise<boolean>((resolve) => {
        const check = () => {
          if (count >= n || exited) {
            listeners.delete(check);
            clearTimeout(timer);
            resolve(count >= n);
          }
        };
        const timer = setTimeout(() => {
          listeners.delete(check);
          resolve(false);
        }, timeoutMs);
        listeners.add(check);
        check();
      }),
  };
}

/** Waits for the moment `mode` names, then SIGKILLs the CLI. Returns whether a sink commit was seen in flight. */
async function killWhen(
  mode: KillMode,
  cli: CliProcess,
  watch: CheckpointWatch,
  random: Random,
  sink: FreshPostgresDatabase,
): Promise<boolean> {
  let inCommit = false;
  switch (mode) {
    case 'startup':
      await sleep(random.int(0, 700));
      break;
    case 'snapshot':
      await watch.reach(watch.count() + 1, 30_000);
      await sleep(random.int(0, 600));
      break;
    case 'streaming':
      await watch.reach(watch.count() + 1, 30_000);
      await sleep(random.int(200, 2_500));
      break;
    case 'after-checkpoint':
      await watch.reach(watch.count() + random.int(1, 6), 30_000);
      await sleep(random.int(0, 3));
      break;
    case 'mid-commit': {
      await watch.reach(watch.count() + 1, 30_000);
      await sleep(random.int(0, 300));
      inCommit = await waitForSinkTransaction(sink, 5_000);
      break;
    }
  }
  cli.child.kill('SIGKILL');
  return inCommit;
}

/** Waits until the sink's checkpoint says the snapshot is complete (the run streams the binlog). */
async function waitForStreaming(sink: FreshPostgresDatabase, cli: CliProcess): Promise<void> {
  const deadline = Date.now() + 120_000;
  while (Date.now() < deadline && cli.child.exitCode === null) {
    const checkpoint = await sinkCheckpoint(sink.query.bind(sink), PIPELINE);
    if (checkpoint !== null && checkpoint.position.snapshot === undefined) return;
    await sleep(100);
  }
  throw new Error(`the snapshot did not complete within 120 s:\n${tail(cli.output())}`);
}

/** Polls pg_stat_activity until the pipeline's sink connection is inside a transaction that has written. */
async function waitForSinkTransaction(sink: FreshPostgresDatabase, timeoutMs: number): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    const rows = await sink.query<{ writing: boolean }>(
      "SELECT backend_xid IS NOT NULL AS writing FROM pg_stat_activity WHERE datname = current_database() AND application_name = 'tributary'",
    );
    if (rows.some((r) => r.writing)) return true;
    await sleep(1);
  }
  return false;
}

function countBy<T>(items: readonly T[], key: (item: T) => string): Map<string, number> {
  const counts = new Map<string, number>();
  for (const item of items) counts.set(key(item), (counts.get(key(item)) ?? 0) + 1);
  return counts;
}

function format(counts: Map<string, number>): string {
  return [...counts].map(([k, n]) => `${k} ${n}`).join(', ');
}

function tail(text: string, lines = 40): string {
  return text.split('\n').slice(-lines).join('\n');
}
