/**
 * What the streaming SQL stage costs on seed 004's shape (issue 12): the 3-way join + GROUP BY of
 * fixtures/scenarios/salesdb/customer-orders.sql, in this process, without servers — the SQL operator alone,
 * fed as the runner feeds it (batches of source change events), its state on disk (a temporary state directory),
 * with a checkpoint every C events as the runner takes them (snapshotState, its JSON, then checkpointCommitted —
 * which hands the changes to the state file's writer thread; the next snapshotState waits for that write):
 *
 * 1. the initial load: N source rows (customers, two sites each, the rest orders) as snapshot reads;
 * 2. then N changes: new orders, cancelled orders, orders moved to another site, sites moved to another
 *    customer, customers changing segment (`salesdb-changes.ts`, shared with `sql-reference-postgres.ts`).
 *
 * Events are generated batch by batch (the bench holds no list of them). It reports changes/s of each phase, the
 * result changes the stage emits, the checkpoints (the JSON of their changes, the time to take them, to hand
 * them off, to wait for the previous write, and the writer thread's time for each) as the state grows, the state
 * file's size, the peak RSS (with the state's own estimate of its memory then) and the writer thread's largest heap.
 * End to end (binlog → sink) the source and sink cost comes on top. Besides the wall-clock rates it reports each
 * phase's CPU time per event (user + system of this process): the figure that holds on a machine other processes
 * share. Usage:
 *   npx tsc -p bench/tsconfig.json && node dist/bench/bench/sql-join-aggregate.js [--rows N] [--changes M]
 *     [--batch B] [--checkpoint-every C] [--cache-mb M] [--hash] [--state-in-memory] [--no-eager-aggregation]
 *     [--no-aggregating-joins] [--orders-only]
 * It runs with the V8 settings of the CLI (bin/tributary.js): its young generation (the bench starts itself again
 * with those flags when they are missing) and its bound on the heap's growth; node flags given on the command line
 * win. `--hash` also prints a sha256 of the result events (in order) and one of the checkpoints' states (what the sink
 * would commit: each delta's changes and held entries, as the JSON of their arrays), to compare two builds' outputs; it
 * costs CPU, so time runs without it. `--state-in-memory` keeps the nodes' state in plain Maps (no file, no delta): what
 * the operators themselves cost, the ceiling of the stage with its state on disk.
 */
import { spawnSync } from 'node:child_process';
import { performance } from 'node:perf_hooks';
import { createHash } from 'node:crypto';
import { mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { ChangeEvent } from '../src/core/change-event.js';
import { committedArrays, DEFAULT_CACHE_BYTES, STATE_FILE, type CommittedState } from '../src/sql/exec/disk-state.js';
import { boundHeapGrowth, CLI_NODE_FLAGS, SQL_HEAP_GROWING_PERCENT } from '../src/cli/heap-growth.js';
import { SalesdbChanges, salesdbShape } from './salesdb-changes.js';
import { numberOption } from './number-option.js';
import { salesdbStage } from './salesdb-stage.js';

// Measure what `tributary sql` does: V8 as bin/tributary.js sets it up. Its young generation is fixed when the
// process starts, so without those flags the bench starts itself again with them (flags given on the command line
// come after and win).
const flagName = (flag: string) => flag.split('=')[0]!;
if (CLI_NODE_FLAGS.some((flag) => !process.execArgv.some((given) => flagName(given) === flagName(flag)))) {
  const child = spawnSync(process.execPath, [...CLI_NODE_FLAGS, ...process.execArgv, ...process.argv.slice(1)], {
    stdio: 'inherit',
  });
  process.exit(child.status ?? 1);
}
// The heap's growth as `tributary sql` bounds it.
boundHeapGrowth(process.execArgv, SQL_HEAP_GROWING_PERCENT);

const args = process.argv.slice(2);
const ROWS = numberOption('--rows', 1_000_000);
const CHANGES = numberOption('--changes', ROWS);
const BATCH = numberOption('--batch', 2_000);
const CHECKPOINT_EVERY = numberOption('--checkpoint-every', 100_000);
// The job's default (DEFAULT_CACHE_BYTES).
const CACHE_MB = numberOption('--cache-mb', DEFAULT_CACHE_BYTES / (1024 * 1024));
const HASH = args.includes('--hash');
// The nodes' state in plain Maps: the ceiling for the stage with its state on disk (see SalesdbStageOptions).
const IN_MEMORY = args.includes('--state-in-memory');
const resultHash = createHash('sha256');
const stateHash = createHash('sha256');
const bigintText = (_key: string, value: unknown) => (typeof value === 'bigint' ? `${value}n` : value);
const stateDir = mkdtempSync(join(tmpdir(), 'sql-bench-state-'));

const shape = salesdbShape(ROWS);
const { customers, sites, orders } = shape;
const { operator, schemas, loadEvent, changeEvent } = salesdbStage(shape, {
  dir: stateDir,
  cacheBytes: CACHE_MB * 1024 * 1024,
  inMemory: IN_MEMORY,
  eagerAggregation: !args.includes('--no-eager-aggregation'),
  aggregatingJoins: !args.includes('--no-aggregating-joins'),
});

let peakRss = 0;
let peakHeap = 0;
/** The state's own estimate of its memory at the peak RSS, and the writer thread's largest heap. */
let atPeak = { cachedBytes: 0, changedBytes: 0 };
let peakWriterHeap = 0;
const sampleMemory = () => {
  const { rss, heapUsed } = process.memoryUsage();
  const memory = operator.stateMemory;
  peakWriterHeap = Math.max(peakWriterHeap, memory.writerHeapBytes);
  if (rss > peakRss) atPeak = memory;
  peakRss = Math.max(peakRss, rss);
  peakHeap = Math.max(peakHeap, heapUsed);
};
let emitted = 0;
let sinceCheckpoint = 0;
interface CheckpointTimes {
  version: number;
  events: number;
  deltaBytes: number;
  /** snapshotState (without the wait) + its JSON. */
  snapshotMs: number;
  /** snapshotState's wait for the previous checkpoint's write. */
  waitMs: number;
  /** checkpointCommitted: the hand-off to the writer thread (the main thread's share of the commit). */
  commitMs: number;
  /** The writer thread's transaction for this checkpoint (known once it landed). */
  writeMs: number;
}
const checkpoints: CheckpointTimes[] = [];
let processed = 0;
const checkpoint = async () => {
  let started = performance.now();
  const state = await operator.snapshotState();
  const { waitMs, writeMs } = operator.stateTimes;
  const json = JSON.stringify(state);
  // The changes as arrays, whatever the checkpoint's format: builds that pack them differently compare equal.
  if (HASH) stateHash.update(JSON.stringify(committedArrays((state as { state: CommittedState }).state)));
  const snapshotMs = performance.now() - started - waitMs;
  const previous = checkpoints.at(-1);
  if (previous !== undefined) previous.writeMs = writeMs;
  sampleMemory();
  started = performance.now();
  await operator.checkpointCommitted();
  const commitMs = performance.now() - started;
  checkpoints.push({
    version: checkpoints.length + 1,
    events: processed,
    deltaBytes: json.length,
    snapshotMs,
    waitMs,
    commitMs,
    writeMs: 0,
  });
  sinceCheckpoint = 0;
};
/** Feeds `count` events made by `make` in batches, checkpointing as the runner would. */
const run = async (count: number, make: (i: number) => ChangeEvent | undefined) => {
  let batch: ChangeEvent[] = [];
  const send = async () => {
    const results = operator.process(batch);
    emitted += results.length;
    if (HASH) resultHash.update(JSON.stringify(results, bigintText));
    processed += batch.length;
    sinceCheckpoint += batch.length;
    batch = [];
    if (sinceCheckpoint >= CHECKPOINT_EVERY) await checkpoint();
    // Memory is sampled per batch, at its end (where the delta is largest).
    sampleMemory();
  };
  for (let i = 0; i < count; i++) {
    const event = make(i);
    if (event !== undefined) batch.push(event);
    if (batch.length >= BATCH) await send();
  }
  if (batch.length > 0) await send();
};

// Phase 1: the initial load.
operator.process(schemas);
const cpuSeconds = (since: NodeJS.CpuUsage) => {
  const { user, system } = process.cpuUsage(since);
  return (user + system) / 1e6;
};
let cpuStarted = process.cpuUsage();
let started = performance.now();
await run(ROWS, loadEvent);
const loadMs = performance.now() - started;
const loadCpu = cpuSeconds(cpuStarted);
const loadCheckpoints = checkpoints.length;

// Phase 2: N changes.
// --orders-only: no site moves or segment changes (the changes that fan out through the joins).
const changes = new SalesdbChanges(shape, CHANGES, args.includes('--orders-only'));
const emittedAfterLoad = emitted;
let changeCount = 0;
cpuStarted = process.cpuUsage();
started = performance.now();
await run(CHANGES, () => {
  const change = changes.next();
  if (change === undefined) return undefined;
  changeCount++;
  return changeEvent(change);
});
await checkpoint();
// The phase ends when the state file holds its last checkpoint.
await operator.stateWritten();
checkpoints.at(-1)!.writeMs = operator.stateTimes.writeMs;
const changeMs = performance.now() - started;
const changeCpu = cpuSeconds(cpuStarted);
sampleMemory();
await operator.close();
const fileBytes = [STATE_FILE, `${STATE_FILE}-wal`]
  .map((f) => {
    try {
      return statSync(join(stateDir, f)).size;
    } catch {
      return 0;
    }
  })
  .reduce((a, b) => a + b, 0);
rmSync(stateDir, { recursive: true, force: true });

const perSecond = (n: number, ms: number) => Math.round(n / (ms / 1000)).toLocaleString('en');
const ms = (n: number) => Math.round(n).toLocaleString('en');
const cpuPer = (seconds: number, n: number) =>
  `${((seconds / n) * 1e6).toFixed(1)} µs CPU each (${seconds.toFixed(1)} s)`;
console.log(
  `SQL stage, seed 004's 3-way join + GROUP BY, batches of ${BATCH}, a checkpoint every ${CHECKPOINT_EVERY.toLocaleString('en')} events, ${IN_MEMORY ? 'state in memory (--state-in-memory: no file, no checkpoint delta)' : `state cache ${CACHE_MB} MB`}:`,
);
console.log(
  `  initial load: ${ROWS.toLocaleString('en')} rows (${customers} customers, ${sites} sites, ${orders} orders) in ${ms(loadMs)} ms: ${perSecond(ROWS, loadMs)} rows/s, ${cpuPer(loadCpu, ROWS)}; ${emittedAfterLoad} result changes`,
);
console.log(
  `  changes: ${changeCount.toLocaleString('en')} in ${ms(changeMs)} ms: ${perSecond(changeCount, changeMs)} changes/s, ${cpuPer(changeCpu, changeCount)}; ${emitted - emittedAfterLoad} result changes`,
);
console.log(
  '  checkpoints (events so far: JSON of the changes; on the main thread snapshotState + JSON, wait for the previous write, hand-off; the writer thread):',
);
const step = Math.max(1, Math.floor(checkpoints.length / 8));
checkpoints.forEach((c, i) => {
  if (i % step !== 0 && i !== loadCheckpoints - 1 && i !== checkpoints.length - 1) return;
  console.log(
    `    #${c.version} ${i < loadCheckpoints ? 'load' : 'changes'} at ${c.events.toLocaleString('en')} events: ${(c.deltaBytes / 1e6).toFixed(1)} MB, ${ms(c.snapshotMs)} ms + wait ${ms(c.waitMs)} ms + ${ms(c.commitMs)} ms; written in ${ms(c.writeMs)} ms`,
  );
});
const total = (pick: (c: CheckpointTimes) => number) =>
  (checkpoints.reduce((sum, c) => sum + pick(c), 0) / 1000).toFixed(1);
console.log(
  `  all ${checkpoints.length} checkpoints: main thread ${total((c) => c.snapshotMs)} s snapshotState + JSON, ${total((c) => c.waitMs)} s waiting for the previous write, ${total((c) => c.commitMs)} s hand-off; writer thread ${total((c) => c.writeMs)} s`,
);
if (HASH) {
  console.log(
    `  sha256 of the result events: ${resultHash.digest('hex')}; of the checkpoints' states: ${stateHash.digest('hex')}`,
  );
}
console.log(
  `  state file: ${(fileBytes / 1e6).toFixed(0)} MB; peak RSS: ${Math.round(peakRss / 1e6)} MB (JS heap ${Math.round(peakHeap / 1e6)} MB; the state's estimate then: ${Math.round(atPeak.cachedBytes / 1e6)} MB cached, ${Math.round(atPeak.changedBytes / 1e6)} MB of changes not yet in the file); the writer thread's heap: up to ${Math.round(peakWriterHeap / 1e6)} MB`,
);
