import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { afterEach, describe, expect, it } from 'vitest';
import type { Operator } from '../../src/core/operator.js';
import type { Checkpoint } from '../../src/core/sink.js';
import { createLogger } from '../../src/runtime/logger.js';
import { runPipeline } from '../../src/runtime/pipeline-runner.js';
import { StateStore } from '../../src/runtime/state-store.js';
import { listSource, MemorySink, orderInsert } from '../harness/memory-parts.js';
import { stateCounter, stateCounts } from '../harness/state-counter.js';

/**
 * Issue 12: the SQL state file is written by a thread of its own. Through the runner: a write that fails stops the
 * pipeline with a coded error at the next checkpoint (not an unhandled rejection), and the next run catches the
 * file up from the sink's checkpoint — every event counted once.
 */

/** Events 0 … count − 1, one batch each (caught up: the runner commits after each), resuming after the checkpoint. */
const source = (count: number) =>
  listSource(
    Array.from({ length: count }, (_, i) => [orderInsert(i)]),
    { caughtUp: 'each', pauseMs: 1 },
  );

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
    let beforeCommit = (_: Checkpoint): void => undefined;
    const sink = new MemorySink({ commit: (c) => beforeCommit(c) });
    const lines: string[] = [];
    const log = createLogger({ level: 'debug', timestamps: false, write: (line) => lines.push(line) });
    const run = (operator: Operator, onCommit: (c: Checkpoint) => void = () => undefined) => {
      beforeCommit = onCommit;
      return runPipeline({
        name: 'p',
        stateStore: new StateStore(runnerDir),
        log,
        checkpointIntervalMs: 60_000,
        maxRetries: 0,
        createParts: () => Promise.resolve({ source: source(12), sink, operators: [operator] }),
      });
    };

    // Checkpoint 3 is committed at the sink, then the file refuses its write (as a full disk would).
    const first = stateCounter(stateDir);
    const refuse = (c: Checkpoint) => {
      if (c.id !== 3) return;
      const other = new Database(file);
      other.exec("CREATE TRIGGER refuse BEFORE INSERT ON entries BEGIN SELECT RAISE(ABORT, 'disk full'); END;");
      other.close();
    };
    await expect(run(first, refuse)).rejects.toThrow(
      expect.objectContaining({ code: 'STATE_DIR_UNWRITABLE', message: expect.stringContaining('disk full') }),
    );
    expect(sink.checkpoint?.id).toBe(3);
    const other = new Database(file);
    expect(other.prepare("SELECT value FROM meta WHERE name = 'version'").pluck().get()).toBe('2');
    other.exec('DROP TRIGGER refuse');
    other.close();

    // The next run: the file is one checkpoint behind the sink; the checkpoint's delta brings it up.
    const result = await run(stateCounter(stateDir));
    expect(result.outcome).toBe('finished');
    // Closing waited for the last write: the file holds every event once.
    expect(stateCounts(file)).toEqual({ '0': 4, '1': 4, '2': 4 });
    expect(lines.join('\n')).not.toMatch(/unhandled/i);
  });
});
