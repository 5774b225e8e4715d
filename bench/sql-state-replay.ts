/**
 * The SQL state file's write path alone, replayed (issue 12): the checkpoints seed 004's stage commits, captured from
 * a run of `salesdb-stage.ts` (the load, then `--checkpoints` of `--checkpoint-every` changes each), then the
 * changes' checkpoints written again and again into copies of the file as it was after the load — on this thread,
 * with the applier and the connection settings of the writer thread (`stateFileApplier`, `WRITER_PRAGMAS`). The CPU
 * it prints is the write path's own: no pipeline beside it takes turns with it for the cores, which in the
 * stage's bench makes the writer thread's time as noisy as the VM (bench/README.md, "Where the state on disk costs,
 * round two"). Compare two builds by running each one's copy of this bench in turn.
 *
 *   npx tsc -p bench/tsconfig.json && node dist/bench/bench/sql-state-replay.js [--rows 1000000]
 *     [--checkpoint-every 50000] [--checkpoints 6] [--rounds 3]
 */
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import Database from 'better-sqlite3';
import type { ChangeEvent } from '../src/core/change-event.js';
import {
  DEFAULT_CACHE_BYTES,
  DiskStateStore,
  LAYOUT,
  packedWrite,
  STATE_FILE,
  type CommittedState,
} from '../src/sql/exec/disk-state.js';
import { applyWhole, stateFileApplier, WRITER_PRAGMAS } from '../src/sql/exec/state-file-writer.js';
import { median } from './measure.js';
import { numberOption } from './number-option.js';
import { SalesdbChanges, salesdbShape } from './salesdb-changes.js';
import { salesdbStage } from './salesdb-stage.js';

const ROWS = numberOption('--rows', 1_000_000);
const EVERY = numberOption('--checkpoint-every', 50_000);
const CHECKPOINTS = numberOption('--checkpoints', 6);
const ROUNDS = numberOption('--rounds', 3);
const BATCH = 2_000;
const PLAN = 'replay';
const FILES = [STATE_FILE, `${STATE_FILE}-wal`];

const work = mkdtempSync(join(tmpdir(), 'sql-state-replay-'));
try {
  // 1. The checkpoints of a run: the load's, then the changes'.
  const shape = salesdbShape(ROWS);
  const { operator, schemas, loadEvent, changeEvent } = salesdbStage(shape, {
    dir: join(work, 'stage'),
    cacheBytes: DEFAULT_CACHE_BYTES,
  });
  const committed: CommittedState[] = [];
  const checkpoint = async () => {
    committed.push((await operator.snapshotState())['state'] as CommittedState);
    await operator.checkpointCommitted();
  };
  operator.process(schemas);
  let batch: ChangeEvent[] = [];
  const send = () => {
    operator.process(batch);
    batch = [];
  };
  for (let i = 0; i < ROWS; i++) {
    batch.push(loadEvent(i));
    if (batch.length === BATCH || i === ROWS - 1) send();
    if ((i + 1) % EVERY === 0 || i === ROWS - 1) await checkpoint();
  }
  const loaded = committed.length;
  const changes = new SalesdbChanges(shape, CHECKPOINTS * EVERY);
  let changeCount = 0;
  for (let c = 0; c < CHECKPOINTS; c++) {
    for (let i = 0; i < EVERY; i++) {
      const change = changes.next();
      if (change === undefined) continue;
      changeCount++;
      batch.push(changeEvent(change));
      if (batch.length === BATCH) send();
    }
    send();
    await checkpoint();
  }
  await operator.close();

  // 2. The file after the load, written by the store as a restart would.
  const base = join(work, 'base');
  for (const saved of committed.slice(0, loaded)) {
    const store = DiskStateStore.open(base, PLAN);
    store.restore(saved);
    await store.close();
  }

  // 3. The changes' checkpoints, written into a copy of it, each round.
  const cpuMs: number[] = [];
  const wallMs: number[] = [];
  let walBytes = 0;
  for (let round = 0; round < ROUNDS; round++) {
    const dir = join(work, `round-${round}`);
    mkdirSync(dir);
    for (const file of FILES) if (existsSync(join(base, file))) copyFileSync(join(base, file), join(dir, file));
    const db = new Database(join(dir, FILES[0]!));
    for (const pragma of WRITER_PRAGMAS) db.pragma(pragma);
    const applier = stateFileApplier(db);
    const cpu = process.cpuUsage();
    const started = performance.now();
    for (const saved of committed.slice(loaded)) {
      const head = { version: saved.version, plan: PLAN, layout: LAYOUT, stampAt: undefined };
      applyWhole(applier, packedWrite(head, saved));
      walBytes = Math.max(walBytes, statSync(join(dir, FILES[1]!)).size);
    }
    const { user, system } = process.cpuUsage(cpu);
    cpuMs.push((user + system) / 1000 / CHECKPOINTS);
    wallMs.push((performance.now() - started) / CHECKPOINTS);
    db.close();
    rmSync(dir, { recursive: true, force: true });
  }
  const entries =
    committed
      .slice(loaded)
      .reduce((n, s) => n + s.parts.reduce((m, p) => m + p.counts.reduce((a, b) => a + b, 0), 0), 0) / CHECKPOINTS;
  const fileMb = statSync(join(base, FILES[0]!)).size / 1e6;
  console.log(
    `SQL state file writes, seed 004's stage at ${ROWS.toLocaleString('en-US')} source rows (file ${fileMb.toFixed(0)} MB after the load):`,
  );
  console.log(
    `  ${CHECKPOINTS} checkpoints of ${EVERY.toLocaleString('en-US')} events (${changeCount.toLocaleString('en-US')} changes, ~${Math.round(entries).toLocaleString('en-US')} entries each), ${ROUNDS} rounds:`,
  );
  console.log(
    `  per checkpoint: ${median(cpuMs).toFixed(0)} ms CPU (${cpuMs.map((v) => v.toFixed(0)).join(', ')}), ${median(wallMs).toFixed(0)} ms wall; ${((median(cpuMs) * 1000) / entries).toFixed(2)} µs CPU per entry; WAL up to ${(walBytes / 1e6).toFixed(0)} MB`,
  );
} finally {
  rmSync(work, { recursive: true, force: true });
}
