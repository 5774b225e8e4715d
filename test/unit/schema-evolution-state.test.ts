import { describe, expect, it } from 'vitest';
import { parseTableSelector } from '../../src/core/table-selector.js';
import type { ChangeEvent, SchemaChangeEvent, SchemaChangeType } from '../../src/core/change-event.js';
import type { DataType, Row } from '../../src/core/data-type.js';
import { TributaryError } from '../../src/core/errors.js';
import type { OperatorState } from '../../src/core/operator.js';
import { tableId, type Column, type TableSchema } from '../../src/core/table-schema.js';
import { evolvingTransform } from '../../src/transform/schema-evolution/evolving-transform.js';
import type { SchemaChangeBehavior } from '../../src/transform/schema-evolution/schema-change-behavior.js';
import { SchemaEvolutionOperator } from '../../src/transform/schema-evolution/schema-evolution-operator.js';
import { TransformOperator } from '../../src/transform/transform-operator.js';

/**
 * The schema-evolution stage across restarts: its state, committed with a checkpoint (as JSON) and restored
 * in the next attempt, keeps each sink table what it really is, whatever the source's createTable says then.
 */

const INT64: DataType = { kind: 'int64' };
const TEXT: DataType = { kind: 'varchar', length: 20 };
const col = (name: string, type: DataType, nullable = true): Column => ({ name, type, nullable });

const A = tableId('shop_1', 'orders');
const B = tableId('shop_2', 'orders');
const TARGET = tableId('public', 'orders');

function schema(id: typeof A, columns: readonly Column[]): TableSchema {
  return { id, columns, primaryKey: ['id'] };
}

function schemaEvent(s: TableSchema, change: SchemaChangeType = 'createTable'): SchemaChangeEvent {
  return { kind: 'schema', table: s.id, change, schema: s, source: { tsMs: 1 } };
}

function insert(table: typeof A, after: Row): ChangeEvent {
  return { kind: 'data', table, op: 'insert', before: null, after, source: { tsMs: 2 } };
}

function shape(events: readonly ChangeEvent[]): string[] {
  return events.map((e) =>
    e.kind === 'schema'
      ? `${e.change} ${e.table.name}(${e.schema.columns.map((c) => `${c.name}${c.nullable ? '?' : ''}`).join(', ')})`
      : `row ${JSON.stringify(e.after, (_, v: unknown) => (typeof v === 'bigint' ? Number(v) : v))}`,
  );
}

/** What a commit stores and a resume reads: JSON, nothing else. */
function persisted(stage: { snapshotState(): OperatorState }): OperatorState {
  return JSON.parse(JSON.stringify(stage.snapshotState())) as OperatorState;
}

function restored(behavior: SchemaChangeBehavior, state: OperatorState): SchemaEvolutionOperator {
  const stage = new SchemaEvolutionOperator({ behavior });
  stage.restoreState(state);
  return stage;
}

const v1 = schema(A, [col('id', INT64, false), col('name', TEXT, false)]);
const withNote = schema(A, [col('id', INT64, false), col('name', TEXT, false), col('note', TEXT)]);
const withoutName = schema(A, [col('id', INT64, false)]);

describe('schema-evolution state across a restart', () => {
  it('ignore: the restored stage announces the sink table as it was and keeps projecting onto it', () => {
    const first = new SchemaEvolutionOperator({ behavior: 'ignore' });
    first.process([schemaEvent(v1), schemaEvent(withNote, 'addColumn'), insert(A, [1n, 'a', 'x'])]);
    // The restart: the source's createTable carries its schema of now, with the column the sink never got.
    const second = restored('ignore', persisted(first));
    const out = second.process([schemaEvent(withNote), insert(A, [2n, 'b', 'y'])]);
    expect(shape(out)).toEqual(['createTable orders(id, name)', 'row [2,"b"]']);
  });

  it('lenient: a dropped column stays, nullable, and rows after the restart carry NULL there', () => {
    const first = new SchemaEvolutionOperator({ behavior: 'lenient' });
    const out1 = first.process([schemaEvent(v1), schemaEvent(withoutName, 'dropColumn'), insert(A, [1n])]);
    expect(shape(out1)).toEqual(['createTable orders(id, name)', 'alterColumnType orders(id, name?)', 'row [1,null]']);
    const second = restored('lenient', persisted(first));
    const out2 = second.process([schemaEvent(withoutName), insert(A, [2n])]);
    expect(shape(out2)).toEqual(['createTable orders(id, name?)', 'row [2,null]']);
  });

  it('lenient: a widened type survives a restart whose createTable has the narrow type again', () => {
    const first = new SchemaEvolutionOperator({ behavior: 'lenient' });
    const narrow = schema(A, [col('id', INT64, false), col('qty', { kind: 'int16' })]);
    const wide = schema(A, [col('id', INT64, false), col('qty', { kind: 'int32' })]);
    first.process([schemaEvent(narrow), schemaEvent(wide, 'alterColumnType')]);
    const second = restored('lenient', persisted(first));
    const out = second.process([schemaEvent(narrow), insert(A, [1n, 7])]);
    expect(out[0]?.kind === 'schema' && out[0].schema.columns[1]?.type).toEqual({ kind: 'int32' });
    expect(out).toHaveLength(2);
  });

  it('evolve: a change made while the pipeline was stopped follows the announcement as a change', () => {
    const first = new SchemaEvolutionOperator({ behavior: 'evolve' });
    first.process([schemaEvent(v1)]);
    const second = restored('evolve', persisted(first));
    const out = second.process([schemaEvent(withNote), insert(A, [1n, 'a', 'x'])]);
    expect(shape(out)).toEqual([
      'createTable orders(id, name)',
      'addColumn orders(id, name, note?)',
      'row [1,"a","x"]',
    ]);
  });

  it('merged shards: the first shard back does not drop a column the other shard, not back yet, brought', () => {
    const route = () =>
      evolvingTransform(
        new TransformOperator({
          transforms: [],
          routes: [{ sourceTable: parseTableSelector('shop_[0-9]+.orders'), sinkTable: 'public.orders' }],
        }),
        new SchemaEvolutionOperator({ behavior: 'evolve' }),
      );
    const first = route();
    const shardB = schema(B, [col('id', INT64, false), col('name', TEXT, false), col('extra', TEXT)]);
    first.process([schemaEvent(v1), schemaEvent(shardB)]);
    const second = route();
    second.restoreState(persisted(first));
    const out = second.process([schemaEvent(v1), insert(A, [1n, 'a']), schemaEvent(shardB), insert(B, [2n, 'b', 'e'])]);
    expect(shape(out)).toEqual(['createTable orders(id, name, extra?)', 'row [1,"a",null]', 'row [2,"b","e"]']);
    expect(out[0]?.kind === 'schema' && out[0].table).toEqual(TARGET);
  });

  it('announces each restored sink table once, and a table it never saw as usual', () => {
    const first = new SchemaEvolutionOperator({ behavior: 'lenient' });
    first.process([schemaEvent(v1)]);
    const second = restored('lenient', persisted(first));
    const other = schema(B, [col('id', INT64, false)]);
    const out = second.process([schemaEvent(v1), schemaEvent(v1), schemaEvent(other)]);
    expect(shape(out)).toEqual(['createTable orders(id, name)', 'createTable orders(id)']);
  });

  it('try_evolve: a change refused before the commit stays refused after the restart', () => {
    const first = new SchemaEvolutionOperator({ behavior: 'try_evolve' });
    first.process([schemaEvent(v1)]);
    const [change] = first.process([schemaEvent(withNote, 'addColumn')]);
    expect(first.schemaChangeFailed(change as SchemaChangeEvent)).toBe(true);
    const second = restored('try_evolve', persisted(first));
    // The source's createTable has the column the sink refused: the announcement has the table as it is, and
    // the refused change is not asked again.
    const out = second.process([schemaEvent(withNote), insert(A, [1n, 'a', 'x'])]);
    expect(shape(out)).toEqual(['createTable orders(id, name)', 'row [1,"a"]']);
    // A later change goes through without the refused one; a new request for the column is tried again.
    const withOther = schema(A, [...withNote.columns, col('other', TEXT)]);
    expect(shape(second.process([schemaEvent(withOther, 'addColumn')]))).toEqual([
      'addColumn orders(id, name, other?)',
    ]);
    const wideNote = schema(A, [...v1.columns, col('note', { kind: 'string' }), col('other', TEXT)]);
    expect(shape(second.process([schemaEvent(wideNote, 'alterColumnType')]))).toEqual([
      'addColumn orders(id, name, other?, note?)',
    ]);
  });

  it('try_evolve: a refused type change keeps the old type while the source asks for it; a refused drop keeps the column', () => {
    const stage = new SchemaEvolutionOperator({ behavior: 'try_evolve' });
    const v2 = schema(A, [col('id', INT64, false), col('name', { kind: 'int32' }, false)]);
    stage.process([schemaEvent(v1)]);
    const [retype] = stage.process([schemaEvent(v2, 'alterColumnType')]);
    expect(stage.schemaChangeFailed(retype as SchemaChangeEvent)).toBe(true);
    const v3 = schema(A, [...v2.columns, col('note', TEXT)]);
    expect(shape(stage.process([schemaEvent(v3, 'addColumn'), insert(A, [1n, 5, 'n'])]))).toEqual([
      'addColumn orders(id, name, note?)',
      'row [1,5,"n"]',
    ]);
    expect(stage.targetSchema(A)?.columns[1]?.type).toEqual(TEXT);
    const [drop] = stage.process([
      schemaEvent(schema(A, [col('id', INT64, false), col('name', { kind: 'int32' }, false)]), 'dropColumn'),
    ]);
    expect(shape([drop!])).toEqual(['dropColumn orders(id, name)']);
    expect(stage.schemaChangeFailed(drop as SchemaChangeEvent)).toBe(true);
    // name is dropped now (nothing refused that); note, whose drop was refused, stays.
    expect(shape(stage.process([schemaEvent(withoutName, 'dropColumn'), insert(A, [2n])]))).toEqual([
      'dropColumn orders(id, note?)',
      'row [2,null]',
    ]);
  });

  it('refuses state it did not write (STATE_CORRUPT)', () => {
    const stage = new SchemaEvolutionOperator();
    const caught = (state: OperatorState): unknown => {
      try {
        stage.restoreState(state);
      } catch (error) {
        return error;
      }
      return undefined;
    };
    for (const state of [
      {},
      { stage: 'schema-evolution', version: 2, targets: [] },
      { stage: 'schema-evolution', version: 1, targets: [{ id: 1 }] },
    ]) {
      const error = caught(state);
      expect(error).toBeInstanceOf(TributaryError);
      expect((error as TributaryError).code).toBe('STATE_CORRUPT');
    }
  });
});

describe('schemaChangeFailed', () => {
  it('is taken in only under try_evolve', () => {
    for (const behavior of ['evolve', 'lenient', 'ignore'] as const) {
      const stage = new SchemaEvolutionOperator({ behavior });
      stage.process([schemaEvent(v1)]);
      const [change] = stage.process([schemaEvent(withNote, 'addColumn')]);
      if (change === undefined) continue;
      expect(stage.schemaChangeFailed(change as SchemaChangeEvent), behavior).toBe(false);
    }
  });

  it('is not taken in for an announcement (a createTable the stage did not emit as a change)', () => {
    const first = new SchemaEvolutionOperator({ behavior: 'try_evolve' });
    first.process([schemaEvent(v1)]);
    const second = restored('try_evolve', persisted(first));
    const [announcement] = second.process([schemaEvent(v1)]);
    expect(second.schemaChangeFailed(announcement as SchemaChangeEvent)).toBe(false);
  });
});
