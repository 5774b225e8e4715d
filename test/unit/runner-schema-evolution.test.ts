import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import type { ChangeEvent, SchemaChangeEvent } from '../../src/core/change-event.js';
import type { DataType, Row } from '../../src/core/data-type.js';
import { SchemaChangeFailedError, TributaryError } from '../../src/core/errors.js';
import { tableId, type Column, type TableSchema } from '../../src/core/table-schema.js';
import { createLogger } from '../../src/runtime/logger.js';
import { runPipeline } from '../../src/runtime/pipeline-runner.js';
import { StateStore } from '../../src/runtime/state-store.js';
import type { SchemaChangeBehavior } from '../../src/transform/schema-evolution/schema-change-behavior.js';
import { SchemaEvolutionOperator } from '../../src/transform/schema-evolution/schema-evolution-operator.js';
import { listSource, MemorySink } from '../harness/memory-parts.js';

/**
 * The runner with the schema-evolution stage: a schema change the sink cannot apply under try_evolve, and the
 * stage's state committed with each checkpoint and restored on resume. Source and sink live in memory.
 */

const INT64: DataType = { kind: 'int64' };
const TEXT: DataType = { kind: 'string' };
const col = (name: string, type: DataType, nullable = true): Column => ({ name, type, nullable });
const T = tableId('shop', 'orders');
const schema = (...columns: Column[]): TableSchema => ({ id: T, columns, primaryKey: ['id'] });
const v1 = schema(col('id', INT64, false), col('name', TEXT, false));
const withBad = schema(col('id', INT64, false), col('name', TEXT, false), col('bad', TEXT));
const withoutName = schema(col('id', INT64, false));

const create = (s: TableSchema): SchemaChangeEvent => ({
  kind: 'schema',
  table: s.id,
  change: 'createTable',
  schema: s,
  source: { tsMs: 1 },
});
const change = (s: TableSchema): SchemaChangeEvent => ({ ...create(s), change: 'refreshTable' });
const insert = (after: Row): ChangeEvent => ({
  kind: 'data',
  table: T,
  op: 'insert',
  before: null,
  after,
  source: { tsMs: 2 },
});

/** A bounded source: the batches given (from the first on every run), then the end. */
const source = (batches: readonly ChangeEvent[][]) => listSource(batches, { caughtUp: 'last', resumes: false });

/**
 * A sink in memory that keeps its checkpoint with the data, and cannot add a column named `bad`: like a real
 * sink, it undoes that change, keeps what came before it and reports the event.
 */
function refusingSink(): MemorySink {
  const schemas = new Map<string, TableSchema>();
  return new MemorySink({
    write: (event) => {
      if (event.kind !== 'schema') return;
      const previous = schemas.get(event.table.name);
      if (event.change !== 'createTable' && event.schema.columns.some((c) => c.name === 'bad')) {
        throw new SchemaChangeFailedError(event, previous, 'cannot add column bad');
      }
      schemas.set(event.table.name, event.schema);
    },
  });
}

function shape(events: readonly ChangeEvent[]): string[] {
  return events.map((e) =>
    e.kind === 'schema'
      ? `${e.change}(${e.schema.columns.map((c) => `${c.name}${c.nullable ? '?' : ''}`).join(', ')})`
      : `row ${JSON.stringify(e.after, (_, v: unknown) => (typeof v === 'bigint' ? Number(v) : v))}`,
  );
}

const dirs: string[] = [];
afterEach(async () => {
  for (const dir of dirs.splice(0)) await rm(dir, { recursive: true, force: true });
});

async function run(sink: MemorySink, behavior: SchemaChangeBehavior, batches: ChangeEvent[][], dir?: string) {
  const stateDir = dir ?? (await mkdtemp(join(tmpdir(), 'tributary-runner-')));
  dirs.push(stateDir);
  const warnings: string[] = [];
  const result = await runPipeline({
    name: 'p',
    stateStore: new StateStore(stateDir),
    log: createLogger({ level: 'warn', write: (line) => warnings.push(line) }),
    checkpointIntervalMs: 60_000,
    maxRetries: 0,
    createParts: () =>
      Promise.resolve({
        source: source(batches),
        sink,
        operators: [new SchemaEvolutionOperator({ behavior })],
      }),
  });
  return { result, warnings, stateDir };
}

describe('the runner under try_evolve', () => {
  it('skips a schema change the sink cannot apply; rows before it are written once, rows after it in the old shape', async () => {
    const sink = refusingSink();
    const { result, warnings } = await run(sink, 'try_evolve', [
      [create(v1), insert([1n, 'a'])],
      [insert([2n, 'b']), change(withBad), insert([3n, 'c', 'x']), insert([4n, 'd', null])],
    ]);
    expect(result.outcome).toBe('finished');
    expect(shape(sink.committed)).toEqual([
      'createTable(id, name)',
      'row [1,"a"]',
      'row [2,"b"]',
      'row [3,"c"]',
      'row [4,"d"]',
    ]);
    expect(warnings.join('\n')).toContain('SINK_SCHEMA_CHANGE_FAILED');
    expect(warnings.join('\n')).toContain('try_evolve');
  });

  it('under evolve, the same failure stops the pipeline, and nothing of the batch is committed', async () => {
    const sink = refusingSink();
    const failure = await run(sink, 'evolve', [
      [create(v1), insert([1n, 'a']), change(withBad), insert([2n, 'b', 'x'])],
    ]).then(
      () => undefined,
      (error: unknown) => error,
    );
    expect(failure).toBeInstanceOf(TributaryError);
    expect((failure as TributaryError).code).toBe('SINK_SCHEMA_CHANGE_FAILED');
    expect(sink.committed).toEqual([]);
  });
});

describe('operator state in the checkpoint', () => {
  it('is committed with each checkpoint and restored on resume: a lenient drop survives the restart', async () => {
    const sink = refusingSink();
    const first = await run(sink, 'lenient', [
      [create(v1), insert([1n, 'a'])],
      [change(withoutName), insert([2n])],
    ]);
    expect(sink.checkpoint?.operators).toHaveLength(1);
    expect(JSON.stringify(sink.checkpoint?.operators)).toContain('"name"');

    sink.committed = [];
    await run(sink, 'lenient', [[create(withoutName), insert([3n])]], first.stateDir);
    expect(shape(sink.committed)).toEqual(['createTable(id, name?)', 'row [3,null]']);
  });

  it('a checkpoint without operator state (an earlier release) starts the stage as built', async () => {
    const sink = refusingSink();
    sink.checkpoint = { pipeline: 'p', id: 4, position: { batch: 0 }, committedAt: new Date(0).toISOString() };
    await run(sink, 'lenient', [[create(withoutName), insert([3n])]]);
    expect(shape(sink.committed)).toEqual(['createTable(id)', 'row [3]']);
    expect(sink.checkpoint.id).toBe(5);
    expect(sink.checkpoint.operators).toHaveLength(1);
  });
});
