import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { afterEach, describe, expect, it } from 'vitest';
import type { ChangeEvent } from '../../src/core/change-event.js';
import type { Operator } from '../../src/core/operator.js';
import type { Checkpoint, Sink } from '../../src/core/sink.js';
import type { ChangeBatch, Source, SourcePosition } from '../../src/core/source.js';
import { tableId } from '../../src/core/table-schema.js';
import { createLogger } from '../../src/runtime/logger.js';
import { runPipeline } from '../../src/runtime/pipeline-runner.js';
import { StateStore } from '../../src/runtime/state-store.js';
import { DiskStateStore, type CommittedState } from '../../src/sql/exec/disk-state.js';

/**
 * Issue 12: the SQL state file is written by a thread of its own. Through the runner: a write that fails stops the
 * pipeline with a coded error at the next checkpoint (not an unhandled rejection), and the next run catches the
 * file up from the sink's checkpoint — every event counted once.
 */

const T = tableId('shop', 'orders');
const insert = (id: number): ChangeEvent => ({
  kind: 'data',
  table: T,
  op: 'insert',
  before: null,
  after: [BigInt(id)],
  source: { tsMs: 1 },
});

/** Events 0 … count − 1, one batch each (caught up: the runner commits after each), resuming after `position`. */
function source(count: number): Source {
  let from = 0;
  return {
    validate: () => Promise.resolve({ tables: [], checks: [] }),
    open: (position: SourcePosition | null) => {
      from = position === null ? 0 : Number(position['batch']) + 1;
      return Promise.resolve();
    },
    async *batches(): AsyncIterable<ChangeBatch> {
      for (let i = from; i < count; i++) {
        await new Promise((resolve) => setTimeout(resolve, 1));
        yield { events: [insert(i)], position: { batch: i }, caughtUp: true };
      }
    },
    progress: () => ({
      phase: 'streaming',
      snapshotTablesDone: 0,
      snapshotTablesTotal: 0,
      snapshotRowsRead: 0,
      logPosition: '',
      lagMs: 0,
    }),
    close: () => Promise.resolve(),
  };
}

/** A sink that keeps its last checkpoint (through JSON, as a database would); `onCommit` runs before it keeps it. */
function sink(held: { checkpoint: Checkpoint | null }, onCommit: (c: Checkpoint) => void = () => undefined): Sink {
  let pending = 0;
  return {
    validate: () => Promise.resolve(),
    open: () => Promise.resolve(held.checkpoint),
    write: (events) => {
      pending += events.length;
      return Promise.resolve();
    },
    pending: () => pending,
    commit: (c) => {
      onCommit(c);
      pending = 0;
      held.checkpoint = JSON.parse(JSON.stringify(c)) as Checkpoint;
      return Promise.resolve();
    },
    close: () => Promise.resolve(),
  };
}

/** Counts events per id % 3 in a keyed state on disk, as a SQL aggregate would. */
function counter(dir: string): Operator {
  const store = DiskStateStore.open(dir, 'plan');
  const state = store.keyed('n', { toJson: (v: number) => v, fromJson: (j) => j as number });
  return {
    process: (events) => {
      for (const event of events) {
        if (event.kind !== 'data') continue;
        const key = String(Number(event.after![0]) % 3);
        state.set(key, (state.get(key) ?? 0) + 1);
      }
      store.endBatch();
      return events;
    },
    snapshotState: async () => ({ state: await store.snapshot() }),
    restoreState: (saved) => store.restore(saved['state'] as CommittedState),
    checkpointCommitted: () => store.committed(),
    close: () => store.close(),
  };
}

/** The counts the state file holds. */
function counts(file: string): Record<string, number> {
  const db = new Database(file, { readonly: true });
  const rows = db.prepare<[], { key: string; value: string }>("SELECT key, value FROM entries WHERE ns = 'n'").all();
  db.close();
  return Object.fromEntries(rows.map((r) => [r.key, Number(r.value)]));
}

const dirs: string[] = [];
afterEach(async () => {
  for (const dir of dirs.splice(0)) await rm(dir, { recursive: true, force: true });
});

describe('the SQL state file written by its own thread, through the runner', () => {
  it('a failed write stops the pipeline with STATE_DIR_UNWRITABLE; the next run catches up, every event once', async () => {
    const runnerDir = await mkdtemp(join(tmpdir(), 'tributary-runner-writer-'));
    const stateDir = await mkdtemp(join(tmpdir(), 'tributary-sql-state-'));
    dirs.push(runnerDir, stateDir);
    const file = join(stateDir, 'sql-state.sqlite');
    const held: { checkpoint: Checkpoint | null } = { checkpoint: null };
    const lines: string[] = [];
    const log = createLogger({ level: 'debug', timestamps: false, write: (line) => lines.push(line) });
    const run = (operator: Operator, onCommit?: (c: Checkpoint) => void) =>
      runPipeline({
        name: 'p',
        stateStore: new StateStore(runnerDir),
        log,
        checkpointIntervalMs: 60_000,
        maxRetries: 0,
        createParts: () => Promise.resolve({ source: source(12), sink: sink(held, onCommit), operators: [operator] }),
      });

    // Checkpoint 3 is committed at the sink, then the file refuses its write (as a full disk would).
    const first = counter(stateDir);
    const refuse = (c: Checkpoint) => {
      if (c.id !== 3) return;
      const other = new Database(file);
      other.exec("CREATE TRIGGER refuse BEFORE INSERT ON entries BEGIN SELECT RAISE(ABORT, 'disk full'); END;");
      other.close();
    };
    await expect(run(first, refuse)).rejects.toThrow(
      expect.objectContaining({ code: 'STATE_DIR_UNWRITABLE', message: expect.stringContaining('disk full') }),
    );
    expect(held.checkpoint?.id).toBe(3);
    const other = new Database(file);
    expect(other.prepare("SELECT value FROM meta WHERE name = 'version'").pluck().get()).toBe('2');
    other.exec('DROP TRIGGER refuse');
    other.close();

    // The next run: the file is one checkpoint behind the sink; the checkpoint's delta brings it up.
    const result = await run(counter(stateDir));
    expect(result.outcome).toBe('finished');
    // Closing waited for the last write: the file holds every event once.
    expect(counts(file)).toEqual({ '0': 4, '1': 4, '2': 4 });
    expect(lines.join('\n')).not.toMatch(/unhandled/i);
  });
});
