import { setTimeout as sleep } from 'node:timers/promises';
import type { Connection } from 'mysql2/promise';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { installSourceChangeAudit, readItemsChangelog, sourceChangeCounts } from './harness/changelog-audit.js';
import { startCli, writePipelineFile, type CliProcess } from './harness/cli-process.js';
import { mysqlRows } from './harness/compare.js';
import { freshPostgresDatabase, mysqlAdmin, uniqueName, type FreshPostgresDatabase } from './harness/databases.js';
import {
  compareItems,
  createItemsTable,
  describeWriter,
  envNumber,
  faultPipelineYaml,
  installRevisionAudit,
  SOURCE_ITEMS_SQL,
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
 * applied an older image of a row after a newer one. The same loop runs in `append` write mode, where the
 * changelog must record each snapshot row and each source change exactly once (see crashLoop).
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

crashLoop('upsert');
crashLoop('append');

/**
 * In `upsert` mode the writer runs from the start, through the snapshot, and the target tables must equal the
 * source. In `append` mode the writer starts once the snapshot is committed (a change made during the snapshot
 * may be folded into a chunk's read instead of being recorded, by design), so every source change after that is
 * counted exactly: the changelog must hold each snapshot row once, each change once (counted on the source by
 * triggers), and fold back into the source table.
 */
function crashLoop(writeMode: 'upsert' | 'append'): void {
  const append = writeMode === 'append';
  const kills = KILLS;
  const rows = append ? Math.round(ROWS / 4) : ROWS;
  const pipelineName = `${PIPELINE}-${writeMode}`;

  describe(`crash loop (${writeMode} mode): kill -9 at random moments while a writer runs`, () => {
    const db = uniqueName(`crash${writeMode}`);
    const auditDb = `${db}_audit`;
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
      await createItemsTable(source, tables[0]!, rows);
      await createItemsTable(source, tables[1]!, Math.round(rows / 2));
      if (append) await installSourceChangeAudit(source, tables, auditDb);
      sink = await freshPostgresDatabase(`crash${writeMode}`);
      if (!append) await installRevisionAudit(sink.query.bind(sink), db);
      const pipeline = await faultPipelineYaml({
        name: pipelineName,
        tables: `${db}.items_[ab]`,
        sinkUrl: sink.url,
        chunkSize: CHUNK_SIZE,
        checkpointInterval: '200ms',
        ...(append ? { sinkYaml: '  write-mode: append' } : {}),
      });
      env = pipeline.env;
      file = await writePipelineFile(pipeline.stateDir, pipeline.yaml);
    });

    afterAll(async () => {
      cli?.child.kill('SIGKILL');
      await writer?.stop();
      await source?.query(`DROP DATABASE IF EXISTS ${db}`);
      await source?.query(`DROP DATABASE IF EXISTS ${auditDb}`);
      await source?.end();
      await sink?.drop();
    });

    it(
      `converges after ${kills} kill -9s at random moments (seed ${SEED})`,
      async () => {
        const began = Date.now();
        report(
          `crash loop, ${writeMode} mode: seed ${SEED} (replay with TRIBUTARY_CRASH_SEED=${SEED}), ${kills} kills, ${rows} + ${Math.round(rows / 2)} rows`,
        );
        const decide = seededRandom(SEED);
        const startTheWriter = () =>
          (writer ??= startWriter({
            connect: () => mysqlAdmin(),
            tables,
            random: seededRandom((SEED * 7919 + 17) >>> 0),
            maxId: rows,
          }));
        if (!append) startTheWriter();
        const records: KillRecord[] = [];
        let checkpointsSeen = 0;
        let snapshotKillBudget = Math.ceil(kills / 3);

        for (let k = 1; k <= kills; k++) {
          const committed = await sinkCheckpoint(sink.query.bind(sink), pipelineName);
          const inSnapshot = committed === null || committed.position.snapshot !== undefined;
          if (!inSnapshot) startTheWriter();
          // The last third of the kills happen while streaming, however long the snapshot takes.
          const streamingFirst = inSnapshot && k > kills - Math.ceil(kills / 3);
          const mode = chooseMode(decide, inSnapshot && !streamingFirst && snapshotKillBudget > 0, !streamingFirst);
          if (mode === 'snapshot') snapshotKillBudget--;
          const startedAt = Date.now();
          // At debug level: the kill moments wait for the per-checkpoint lines, which info level summarises.
          cli = startCli(['run', file, '--log-level', 'debug'], env);
          const watch = watchCheckpoints(cli);
          if (streamingFirst) {
            await waitForStreaming(sink, cli, pipelineName);
            startTheWriter();
          }
          const inCommit = await killWhen(mode, cli, watch, decide, sink);
          const exit = await cli.exited;
          if (exit !== 'SIGKILL') {
            throw new Error(`run ${k} ended by itself (${exit}) before it was killed:\n${tail(cli.output())}`);
          }
          checkpointsSeen += watch.count();
          const after = await sinkCheckpoint(sink.query.bind(sink), pipelineName);
          const record: KillRecord = {
            mode,
            phase: after === null ? 'no checkpoint yet' : after.position.snapshot !== undefined ? 'snapshot' : 'binlog',
            inCommit,
            checkpointsThisRun: watch.count(),
            ranMs: Date.now() - startedAt,
          };
          records.push(record);
          report(
            `  kill ${k}/${kills}: ${mode}${record.inCommit ? ' (sink transaction in flight)' : ''} after ${record.ranMs} ms, ` +
              `${record.checkpointsThisRun} checkpoints in this run; committed position: ${record.phase}`,
          );
          if (process.env['TRIBUTARY_TEST_DEBUG'] === '1') console.log(tail(cli.output()));
          // Down for a moment while the writer goes on.
          await sleep(decide.int(0, 400));
        }

        // A last run; the writer stops once it streams, so that the last changes are read by a run that was killed.
        cli = startCli(['run', file, '--log-level', 'debug'], env);
        const finalWatch = watchCheckpoints(cli);
        if (writer === undefined) {
          await waitForStreaming(sink, cli, pipelineName);
          startTheWriter();
          await writer!.committed(50);
        }
        const writerStats = await writer!.stop();
        writer = undefined;
        const tableStates = append
          ? waitForChangelogs(source, sink, tables, auditDb)
          : waitForEqual(source, sink.query.bind(sink), tables, {
              timeoutMs: 240_000,
              message: `the target to equal the source after ${kills} kills (seed ${SEED})`,
            }).then((c) => `rows checked: ${c.rows}; ${c.summary().replace(/\n/g, '\n    ')}`);
        const checked = await tableStates.catch((error: Error) => {
          throw new Error(`${error.message}\nlast run:\n${tail(cli!.output())}`);
        });
        cli.child.kill('SIGTERM');
        expect(await cli.exited).toBe(0);
        checkpointsSeen += finalWatch.count();
        expect(cli.output()).toMatch(/resuming from checkpoint \d+/);
        expect(cli.output()).not.toContain(env['FAULT_MYSQL_PASSWORD']);

        const byMode = countBy(records, (k) => k.mode);
        const byPhase = countBy(records, (k) => k.phase);
        const midCommit = records.filter((k) => k.inCommit).length;
        report(
          `crash loop, ${writeMode} mode (seed ${SEED}): ${records.length} kills, ${records.length + 1} restarts, ` +
            `${checkpointsSeen} checkpoints logged, ${Math.round((Date.now() - began) / 1000)} s`,
        );
        report(`  kills by moment: ${format(byMode)}; mid-commit confirmed by pg_stat_activity: ${midCommit}`);
        report(`  kills by committed position: ${format(byPhase)}`);
        report(`  writer: ${describeWriter(writerStats)}`);
        report(`  ${checked}`);
        if (!append) {
          const final = await compareItems(source, sink.query.bind(sink), tables);
          expect(final.equal, final.summary()).toBe(true);
          const audit = await readRevisionAudit(sink.query.bind(sink));
          report(
            `  sink applied ${audit.applies} row images, ${audit.sameRevision} of them a revision it already had ` +
              `(snapshot overlap / replay), ${audit.regressions} older than one already applied; ` +
              `lost ${final.tables.reduce((n, t) => n + t.missing, 0)}, extra ${final.tables.reduce((n, t) => n + t.extra, 0)}`,
          );
          expect(audit.regressions, audit.samples.join('\n')).toBe(0);
        }
        expect(records.length).toBe(kills);
      },
      180_000 + kills * 20_000,
    );
  });

  /**
   * Append mode's proof: per table, the changelog holds every snapshot row once, as many inserts, updates and
   * deletes as the source's triggers counted, no position twice, and folds back into the source table.
   * Polls until that holds (the last run is catching up); throws the last difference after 90 s.
   */
  async function waitForChangelogs(
    source: Connection,
    sink: FreshPostgresDatabase,
    tables: readonly string[],
    auditDb: string,
  ): Promise<string> {
    const deadline = Date.now() + 90_000;
    for (;;) {
      const counted = await sourceChangeCounts(source, auditDb);
      const lines: string[] = [];
      let equal = true;
      for (const [i, table] of tables.entries()) {
        const name = table.split('.')[1]!;
        const expected = counted.get(name) ?? { insert: 0, update: 0, delete: 0 };
        const initialRows = i === 0 ? rows : Math.round(rows / 2);
        const log = await readItemsChangelog(sink.query.bind(sink), `${table}_changelog`).catch(() => undefined);
        const sourceRows = await mysqlRows(source, SOURCE_ITEMS_SQL(table));
        const same =
          log !== undefined &&
          log.reads === initialRows &&
          log.changes.insert === expected.insert &&
          log.changes.update === expected.update &&
          log.changes.delete === expected.delete &&
          log.duplicatePositions === 0 &&
          JSON.stringify(log.folded) === JSON.stringify(sourceRows);
        equal &&= same;
        lines.push(
          `${table}: source ${initialRows} rows + ${expected.insert} inserts, ${expected.update} updates, ${expected.delete} deletes; ` +
            (log === undefined
              ? 'no changelog yet'
              : `changelog ${log.reads} reads, ${log.changes.insert} inserts, ${log.changes.update} updates, ` +
                `${log.changes.delete} deletes, ${log.duplicatePositions} repeated positions; folded ${log.folded.length} rows ` +
                `${JSON.stringify(log.folded) === JSON.stringify(sourceRows) ? '=' : '≠'} source ${sourceRows.length} rows`),
        );
      }
      if (equal) return lines.join('\n  ');
      if (Date.now() > deadline) throw new Error(`the changelogs did not match the source:\n  ${lines.join('\n  ')}`);
      await sleep(500);
    }
  }
}

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
    for (const line of lines) if (/\bcheckpoint \d+: \d+ changes? committed/.test(line)) count++;
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
async function waitForStreaming(sink: FreshPostgresDatabase, cli: CliProcess, pipeline: string): Promise<void> {
  const deadline = Date.now() + 120_000;
  while (Date.now() < deadline && cli.child.exitCode === null) {
    const checkpoint = await sinkCheckpoint(sink.query.bind(sink), pipeline);
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
