import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import type { ChangeEvent } from '../../src/core/change-event.js';
import { TributaryError } from '../../src/core/errors.js';
import type { ChangeBatch, Source, SourcePosition } from '../../src/core/source.js';
import { tableId, tableIdToString, type TableSchema } from '../../src/core/table-schema.js';
import { createLogger } from '../../src/runtime/logger.js';
import { runPipeline } from '../../src/runtime/pipeline-runner.js';
import { StateStore } from '../../src/runtime/state-store.js';
import { MemorySink } from '../harness/memory-parts.js';

/**
 * The runner against a sink that can take only so many tables per transaction (sink option
 * `commit.max-tables`), and against sinks that fail the same way on every attempt. Source and sink live in
 * memory; the sink keeps its checkpoint with its rows, so a replay from the checkpoint shows any loss or
 * duplicate.
 */

const schemaOf = (i: number): TableSchema => ({
  id: tableId('db', `t${String(i).padStart(3, '0')}`),
  columns: [{ name: 'id', type: { kind: 'int64' }, nullable: false }],
  primaryKey: ['id'],
});

/** `tables` tables of `rows` rows: a batch of schema events, then one batch per table (like snapshot chunks). */
function snapshotBatches(tables: number, rows: number): ChangeEvent[][] {
  const schemas = Array.from({ length: tables }, (_, i) => schemaOf(i));
  return [
    schemas.map((schema) => ({
      kind: 'schema',
      table: schema.id,
      change: 'createTable',
      schema,
      source: { tsMs: 0 },
    })),
    ...schemas.map((schema) =>
      Array.from({ length: rows }, (_, r): ChangeEvent => ({
        kind: 'data',
        table: schema.id,
        op: 'read',
        before: null,
        after: [BigInt(r)],
        source: { tsMs: 0 },
      })),
    ),
  ];
}

/** A bounded source resuming after the batch its position names; it cuts batches to the runner's table bound. */
class MemorySource implements Source {
  private from = 0;
  maxTables = Number.POSITIVE_INFINITY;
  constructor(private readonly all: readonly ChangeEvent[][]) {}
  validate() {
    return Promise.resolve({ tables: [], checks: [] });
  }
  limitBatchTables(max: number): void {
    this.maxTables = max;
  }
  open(resume: SourcePosition | null): Promise<void> {
    this.from = resume === null ? 0 : (resume['batch'] as number) + 1;
    return Promise.resolve();
  }
  async *batches(): AsyncIterable<ChangeBatch> {
    // The schema events come again on every open (as the MySQL source's do), cut to the bound.
    const schemas = this.all[0]!;
    const slice = Number.isFinite(this.maxTables) ? this.maxTables : schemas.length;
    for (let i = 0; i < schemas.length; i += slice) {
      yield { events: schemas.slice(i, i + slice), position: { batch: Math.max(0, this.from - 1) }, caughtUp: false };
    }
    for (let i = Math.max(1, this.from); i < this.all.length; i++) {
      await Promise.resolve();
      yield { events: this.all[i]!, position: { batch: i }, caughtUp: i === this.all.length - 1 };
    }
  }
  progress() {
    return {
      phase: 'streaming' as const,
      snapshotTablesDone: 0,
      snapshotTablesTotal: 0,
      snapshotRowsRead: 0,
      logPosition: '',
      lagMs: 0,
    };
  }
  close(): Promise<void> {
    return Promise.resolve();
  }
}

/**
 * A sink in memory with the sink option `commit.max-tables` = `maxTables`, whose commit fails with what
 * `failure` returns for the number of distinct tables in the transaction (PostgreSQL's lock table, say: 53200
 * out of shared memory beyond so many tables). `commits` lists the tables of each committed transaction.
 */
function boundedSink(maxTables: number | undefined, failure: (tables: number) => Error | undefined) {
  const commits: number[] = [];
  const sink = new MemorySink(
    {
      commit: (_, events) => {
        const tables = new Set(events.map((e) => tableIdToString(e.table))).size;
        const error = failure(tables);
        if (error !== undefined) throw error;
        commits.push(tables);
      },
    },
    maxTables,
  );
  return Object.assign(sink, { commits });
}

const outOfSharedMemoryBeyond = (capacity: number) => (tables: number) =>
  tables <= capacity
    ? undefined
    : new TributaryError('SINK_OUT_OF_RESOURCES', 'out of shared memory', {
        cause: Object.assign(new Error('out of shared memory'), { code: '53200' }),
      });

const dirs: string[] = [];
afterEach(async () => {
  for (const dir of dirs.splice(0)) await rm(dir, { recursive: true, force: true });
});

async function run(sink: MemorySink, batches: ChangeEvent[][], options: { maxIdenticalFailures?: number } = {}) {
  const stateDir = await mkdtemp(join(tmpdir(), 'tributary-bound-'));
  dirs.push(stateDir);
  const lines: string[] = [];
  const source = new MemorySource(batches);
  const result = await runPipeline({
    name: 'p',
    stateStore: new StateStore(stateDir),
    log: createLogger({ level: 'warn', write: (line) => lines.push(line) }),
    checkpointIntervalMs: 600_000,
    retryInitialDelayMs: 1,
    ...options,
    createParts: () => Promise.resolve({ source, sink, operators: [] }),
  });
  return { result, lines };
}

/** Every row of every table, exactly once. */
function expectExactlyOnce(sink: MemorySink, tables: number, rows: number): void {
  const seen = new Map<string, number>();
  for (const event of sink.committed) {
    if (event.kind !== 'data' || event.after === null) continue;
    const key = `${tableIdToString(event.table)}/${String(event.after[0])}`;
    seen.set(key, (seen.get(key) ?? 0) + 1);
  }
  expect(seen.size).toBe(tables * rows);
  expect([...seen.values()].every((n) => n === 1)).toBe(true);
}

describe('commit.max-tables', () => {
  it('commits before a transaction touches more tables than the sink allows; every row arrives once', async () => {
    const sink = boundedSink(4, outOfSharedMemoryBeyond(4));
    const { result } = await run(sink, snapshotBatches(30, 3));
    expect(result.outcome).toBe('finished');
    expect(sink.opens).toBe(1);
    expect(Math.max(...sink.commits)).toBeLessThanOrEqual(4);
    expectExactlyOnce(sink, 30, 3);
  });
});

describe('identical failures', () => {
  it('shrink the transaction until it fits the sink, and the run completes', async () => {
    // Configured for 64 tables, but the sink holds only 5: 64 → 32 → 16 → 8 → 4.
    const sink = boundedSink(64, outOfSharedMemoryBeyond(5));
    const { result, lines } = await run(sink, snapshotBatches(40, 2));
    expect(result.outcome).toBe('finished');
    expect(Math.max(...sink.commits)).toBeLessThanOrEqual(5);
    expectExactlyOnce(sink, 40, 2);
    expect(lines.join('\n')).toMatch(/next attempt commits every 4 tables/);
  });

  it('stop the pipeline after retry.max-identical-failures instead of retrying forever', async () => {
    const sink = boundedSink(undefined, (tables) =>
      tables === 0
        ? undefined
        : new TributaryError('SINK_WRITE_FAILED', 'trigger refused the row', {
            cause: Object.assign(new Error('refused'), { code: 'P0001' }),
          }),
    );
    const failure = await run(sink, snapshotBatches(3, 1), { maxIdenticalFailures: 3 }).then(
      () => undefined,
      (error: unknown) => error,
    );
    expect(failure).toBeInstanceOf(TributaryError);
    expect((failure as TributaryError).code).toBe('SINK_WRITE_FAILED');
    expect(sink.opens).toBe(3);
  });

  it('do not count a sink that is unreachable: that is retried until it comes back', async () => {
    let outages = 6;
    const sink = boundedSink(undefined, () =>
      outages-- > 0 ? new TributaryError('SINK_UNREACHABLE', 'connection refused') : undefined,
    );
    const { result } = await run(sink, snapshotBatches(3, 1), { maxIdenticalFailures: 2 });
    expect(result.outcome).toBe('finished');
    expectExactlyOnce(sink, 3, 1);
  });
});
