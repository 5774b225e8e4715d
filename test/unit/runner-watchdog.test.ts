import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterEach, describe, expect, it } from 'vitest';
import type { Source } from '../../src/core/source.js';
import { createLogger } from '../../src/runtime/logger.js';
import { runPipeline, type RunResult } from '../../src/runtime/pipeline-runner.js';
import { StateStore } from '../../src/runtime/state-store.js';
import { createWatchdogState } from '../../src/runtime/watchdog.js';
import { MemorySink, orderInsert, scriptedSource } from '../harness/memory-parts.js';

/**
 * The runner's watchdog and its bounded stop, with a source and a sink in memory: a commit that never returns
 * (a sink connection gone silent) must not stall the pipeline for good, a caught-up source that keeps sending
 * heartbeats is not a stall, and a stop signal ends the run even while a commit hangs.
 */

/** A live source: `rows` inserts in the first batch, then an empty (heartbeat) batch every 20 ms, as a caught-up binlog does. */
function liveSource(rows: number, from: () => number): Source {
  return scriptedSource(async function* (_, closed) {
    const start = from();
    const events = Array.from({ length: Math.max(0, rows - start) }, (_, i) => orderInsert(start + i + 1));
    yield { events, position: { upTo: rows }, caughtUp: true };
    while (!closed()) {
      await sleep(20);
      yield { events: [], position: { upTo: rows }, caughtUp: true };
    }
  });
}

/** A sink in memory whose commits hang (never return) while `hang` says so, like a half-open connection. */
const hangingSink = (hang: () => boolean) =>
  new MemorySink({ commit: () => (hang() ? new Promise<void>(() => undefined) : undefined) });

const dirs: string[] = [];
afterEach(async () => {
  for (const dir of dirs.splice(0)) await rm(dir, { recursive: true, force: true });
});

async function stateStore(): Promise<StateStore> {
  const dir = await mkdtemp(join(tmpdir(), 'tributary-watchdog-'));
  dirs.push(dir);
  return new StateStore(dir);
}

describe('the runner watchdog', () => {
  it.each([
    ['', false],
    [' in flight while the source sends heartbeats (overlapCommits, a SQL job)', true],
  ])('restarts an attempt whose commit hangs%s, and the retry commits every row once', async (_, overlapCommits) => {
    let commits = 0;
    const sink = hangingSink(() => commits++ === 0);
    const logs: string[] = [];
    const watchdog = createWatchdogState(300);
    const controller = new AbortController();
    const run = runPipeline({
      name: 'p',
      createParts: () => Promise.resolve({ source: liveSource(5, () => sink.rows.length), sink, operators: [] }),
      stateStore: await stateStore(),
      log: createLogger({ level: 'debug', write: (line) => logs.push(line) }),
      checkpointIntervalMs: 50,
      signal: controller.signal,
      watchdog,
      overlapCommits,
    });
    for (let i = 0; i < 200 && sink.rows.length < 5; i++) await sleep(50);
    controller.abort();
    const result: RunResult = await run;
    expect(result.outcome).toBe('stopped');
    expect(sink.rows).toEqual([1, 2, 3, 4, 5]);
    expect(watchdog.stalls).toBe(1);
    expect(watchdog.lastStall?.waitingFor).toBe('the sink to commit checkpoint 1');
    expect(logs.some((line) => line.includes('[PIPELINE_STALLED]') && line.includes('retrying in'))).toBe(true);
  });

  it('does not count a caught-up source that sends heartbeats as a stall', async () => {
    const sink = hangingSink(() => false);
    const watchdog = createWatchdogState(300);
    const controller = new AbortController();
    const run = runPipeline({
      name: 'p',
      createParts: () => Promise.resolve({ source: liveSource(3, () => 0), sink, operators: [] }),
      stateStore: await stateStore(),
      log: createLogger({ level: 'debug', write: () => undefined }),
      checkpointIntervalMs: 50,
      signal: controller.signal,
      watchdog,
    });
    await sleep(1200);
    controller.abort();
    expect((await run).outcome).toBe('stopped');
    expect(watchdog.stalls).toBe(0);
    expect(sink.rows).toEqual([1, 2, 3]);
  });

  it('stops on the signal even while the final commit hangs, skipping the savepoint with a clear line', async () => {
    let hang = false;
    const sink = hangingSink(() => hang);
    const logs: string[] = [];
    const controller = new AbortController();
    const run = runPipeline({
      name: 'p',
      createParts: () => Promise.resolve({ source: liveSource(3, () => 0), sink, operators: [] }),
      stateStore: await stateStore(),
      log: createLogger({ level: 'debug', write: (line) => logs.push(line) }),
      checkpointIntervalMs: 50,
      signal: controller.signal,
      watchdog: createWatchdogState(0),
      stopTimeoutMs: 200,
    });
    for (let i = 0; i < 100 && sink.rows.length < 3; i++) await sleep(20);
    hang = true;
    // A change that needs a commit; the commit (and the final one) will hang.
    await sink.write([orderInsert(4)]);
    controller.abort();
    const result = await run;
    expect(result.outcome).toBe('stopped');
    expect(result.lastCheckpoint?.id).toBe(sink.checkpoint?.id);
    expect(logs.some((line) => line.includes('stopping without a final savepoint'))).toBe(true);
  });
});
