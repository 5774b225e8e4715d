import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import type { Checkpoint } from '../../src/core/sink.js';
import { createLogger } from '../../src/runtime/logger.js';
import { runPipeline } from '../../src/runtime/pipeline-runner.js';
import { StateStore } from '../../src/runtime/state-store.js';
import { listSource, MemorySink, orderInsert } from '../harness/memory-parts.js';
import { stateCounter, stateCounts } from '../harness/state-counter.js';

/**
 * Issue 12: a SQL job processes the next batches while the sink commits a checkpoint (`overlapCommits`). The
 * checkpoint holds the operators' state as it was cut, the batches processed meanwhile go to the next one: after a
 * commit that fails with batches processed behind it, the next run counts every event once, in the sink and in the
 * state.
 */

const BATCHES = 60;
const PER_BATCH = 10;
const batches = Array.from({ length: BATCHES }, (_, b) =>
  Array.from({ length: PER_BATCH }, (_, i) => orderInsert(b * PER_BATCH + i)),
);

const dirs: string[] = [];
afterEach(async () => {
  for (const dir of dirs.splice(0)) await rm(dir, { recursive: true, force: true });
});

describe('the next batches processed while the sink commits', () => {
  it('a commit that fails with batches processed behind it: the next run has every event once, in the sink and the state', async () => {
    const runnerDir = await mkdtemp(join(tmpdir(), 'tributary-runner-overlap-'));
    const stateDir = await mkdtemp(join(tmpdir(), 'tributary-sql-state-'));
    dirs.push(runnerDir, stateDir);
    let operator = stateCounter(stateDir);
    /** Per commit: the events the operator processed while the sink committed. */
    const processedDuring: number[] = [];
    let failAt = 7;
    const sink = new MemorySink({
      commit: async (checkpoint: Checkpoint) => {
        const before = operator.processed;
        await new Promise((resolve) => setTimeout(resolve, 15));
        processedDuring.push(operator.processed - before);
        if (checkpoint.id === failAt) throw new Error('the connection to the sink was lost');
      },
    });
    const lines: string[] = [];
    const run = () =>
      runPipeline({
        name: 'p',
        stateStore: new StateStore(runnerDir),
        log: createLogger({ level: 'debug', timestamps: false, write: (line) => lines.push(line) }),
        checkpointIntervalMs: 60_000,
        maxPendingEvents: 25,
        overlapCommits: true,
        maxRetries: 0,
        createParts: () =>
          Promise.resolve({
            source: listSource(batches, { caughtUp: 'last', pauseMs: 1 }),
            sink,
            operators: [operator],
          }),
      });

    await expect(run()).rejects.toThrow(/connection to the sink was lost/);
    expect(sink.checkpoint?.id).toBe(6);
    // The batches after each checkpoint ran while it was committed.
    expect(processedDuring.slice(0, 6).every((n) => n > 0)).toBe(true);
    expect(sink.rows.length).toBeLessThan(BATCHES * PER_BATCH);

    failAt = 0;
    operator = stateCounter(stateDir);
    const result = await run();
    expect(result.outcome).toBe('finished');
    expect([...sink.rows].sort((a, b) => a - b)).toEqual(Array.from({ length: BATCHES * PER_BATCH }, (_, i) => i));
    // Closing waited for the last write: the file holds every event once.
    expect(stateCounts(join(stateDir, 'sql-state.sqlite'))).toEqual({ '0': 200, '1': 200, '2': 200 });
    expect(lines.join('\n')).not.toMatch(/unhandled/i);
  });
});
