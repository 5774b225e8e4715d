import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { createLogger } from '../../src/runtime/logger.js';
import { SQL_CAUGHT_UP_LINGER_MS } from '../../src/composer/sql-job.js';
import { runPipeline } from '../../src/runtime/pipeline-runner.js';
import { StateStore } from '../../src/runtime/state-store.js';
import type { Source } from '../../src/core/source.js';
import { listSource, MemorySink, orderInsert } from '../harness/memory-parts.js';

/**
 * Issue 10: during a snapshot the runner commits several times a second; a line per checkpoint at info level
 * floods the log. Each checkpoint is logged at debug, and info gets a summary at most every 10 s.
 */

/** `count` batches of one insert each, every one caught up: the runner commits after each. */
const source = (count: number) =>
  listSource(
    Array.from({ length: count }, (_, i) => [orderInsert(i)]),
    { caughtUp: 'each' },
  );

const dirs: string[] = [];
afterEach(async () => {
  for (const dir of dirs.splice(0)) await rm(dir, { recursive: true, force: true });
});

/**
 * Runs `source` into `sink` to its end (a checkpoint interval of a minute), its log at debug into `lines`;
 * `caughtUpLingerMs` as a SQL job sets it, or not.
 */
async function runLogged(source: Source, sink: MemorySink, lines: string[], caughtUpLingerMs?: number) {
  const stateDir = await mkdtemp(join(tmpdir(), 'tributary-runner-log-'));
  dirs.push(stateDir);
  return runPipeline({
    name: 'p',
    stateStore: new StateStore(stateDir),
    log: createLogger({ level: 'debug', timestamps: false, write: (line) => lines.push(line) }),
    checkpointIntervalMs: 60_000,
    maxRetries: 0,
    ...(caughtUpLingerMs === undefined ? {} : { caughtUpLingerMs }),
    createParts: () => Promise.resolve({ source, sink, operators: [] }),
  });
}

describe('checkpoint log lines', () => {
  it('are debug detail; info carries a summary at most every 10 s, in words that agree with the numbers', async () => {
    const lines: string[] = [];
    const began = Date.now();
    const result = await runLogged(source(40), new MemorySink(), lines);
    const elapsedS = (Date.now() - began) / 1000;
    expect(result.outcome).toBe('finished');

    const debug = lines.filter((l) => l.startsWith('DEBUG') && /checkpoint \d+:/.test(l));
    expect(debug).toHaveLength(40);
    expect(debug[0]).toMatch(/checkpoint 1: 1 change committed in/);
    const info = lines.filter((l) => l.startsWith('INFO') && /checkpoint/.test(l));
    expect(info.length).toBeGreaterThanOrEqual(1);
    expect(info.length).toBeLessThanOrEqual(1 + Math.floor(elapsedS / 10));
    expect(info[0]).toMatch(/committed 1 change in 1 checkpoint over [\d.]+ s \(last: checkpoint 1\)/);
    expect(lines.join('\n')).not.toMatch(/\b1 changes\b|\b1 checkpoints\b/);
  });
});

describe('a source that says it caught up, with a linger (a SQL job)', () => {
  it('is committed once it stays quiet, not after each batch while its batches come back to back', async () => {
    const lines: string[] = [];
    const sink = new MemorySink();
    // 40 batches, each saying it caught up (nothing more buffered), the next one right behind it: a source
    // reading a backlog faster than its socket delivers it.
    const result = await runLogged(source(40), sink, lines, SQL_CAUGHT_UP_LINGER_MS);
    expect(result.outcome).toBe('finished');
    expect(sink.rows).toEqual(Array.from({ length: 40 }, (_, i) => i));
    const commits = lines.filter((l) => l.startsWith('DEBUG') && /checkpoint \d+:/.test(l));
    expect(commits.length).toBeLessThanOrEqual(2);
    // Without one (a pipeline), a commit after each.
    const perBatch: string[] = [];
    await runLogged(source(40), new MemorySink(), perBatch);
    expect(perBatch.filter((l) => l.startsWith('DEBUG') && /checkpoint \d+:/.test(l))).toHaveLength(40);
  });
});

describe('a sink that lost checkpoints it had committed', () => {
  it('is resumed from, with a warning naming both checkpoints', async () => {
    const stateDir = await mkdtemp(join(tmpdir(), 'tributary-runner-lost-'));
    dirs.push(stateDir);
    const sink = new MemorySink();
    const run = (lines: string[], count: number) =>
      runPipeline({
        name: 'p',
        stateStore: new StateStore(stateDir),
        log: createLogger({ level: 'info', timestamps: false, write: (line) => lines.push(line) }),
        checkpointIntervalMs: 60_000,
        maxRetries: 0,
        createParts: () => Promise.resolve({ source: source(count), sink, operators: [] }),
      });
    const first: string[] = [];
    expect((await run(first, 3)).outcome).toBe('finished');
    expect(sink.checkpoint?.id).toBe(3);
    expect(first.join('\n')).not.toMatch(/lost data/);

    // The sink comes back from a backup taken at checkpoint 1; the state directory saw checkpoint 3.
    const earlier = JSON.parse(JSON.stringify(sink.checkpoint)) as typeof sink.checkpoint & object;
    sink.checkpoint = { ...earlier, id: 1 };
    const second: string[] = [];
    expect((await run(second, 1)).outcome).toBe('finished');
    const warnings = second.filter((line) => line.startsWith('WARN'));
    expect(warnings).toHaveLength(1);
    expect(warnings[0]).toMatch(/sink's last checkpoint of pipeline p is 1, older than checkpoint 3 in .*lost data/);
    expect(second.join('\n')).toMatch(/resuming from checkpoint 1 /);
  });
});
