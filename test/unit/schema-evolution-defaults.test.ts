import { describe, expect, it } from 'vitest';
import { parseTableSelector } from '../../src/core/table-selector.js';
import type { ChangeEvent, SchemaChangeEvent, SchemaChangeType } from '../../src/core/change-event.js';
import type { DataType } from '../../src/core/data-type.js';
import type { OperatorState } from '../../src/core/operator.js';
import { tableId, type Column, type TableSchema } from '../../src/core/table-schema.js';
import { evolvingTransform } from '../../src/transform/schema-evolution/evolving-transform.js';
import type { SchemaChangeBehavior } from '../../src/transform/schema-evolution/schema-change-behavior.js';
import { acceptedSchemaChanges } from '../../src/transform/schema-evolution/schema-change-types.js';
import { SchemaEvolutionOperator } from '../../src/transform/schema-evolution/schema-evolution-operator.js';
import { mergeTargetSchema } from '../../src/transform/schema-evolution/target-schema.js';
import { TransformOperator } from '../../src/transform/transform-operator.js';

const INT64: DataType = { kind: 'int64' };
const INT32: DataType = { kind: 'int32' };
const col = (name: string, type: DataType, nullable = true): Column => ({ name, type, nullable });
const withDefault = (column: Column, defaultValue: string): Column => ({ ...column, defaultValue });

const A = tableId('shop_1', 'orders');
const B = tableId('shop_2', 'orders');
const id = col('id', INT64, false);
const base = (table = A): TableSchema => ({ id: table, columns: [id, col('name', INT32)], primaryKey: ['id'] });
const withColumns = (table: TableSchema['id'], ...columns: Column[]): TableSchema => ({
  id: table,
  columns: [id, col('name', INT32), ...columns],
  primaryKey: ['id'],
});

function event(s: TableSchema, change: SchemaChangeType = 'createTable', extra: Partial<SchemaChangeEvent> = {}) {
  return { kind: 'schema', table: s.id, change, schema: s, source: { tsMs: 1 }, ...extra } as SchemaChangeEvent;
}

/** The defaultValue of each column of the last schema event, by name. */
function defaults(events: readonly ChangeEvent[]): Record<string, string | undefined> {
  const last = events.filter((e): e is SchemaChangeEvent => e.kind === 'schema').at(-1);
  return Object.fromEntries((last?.schema.columns ?? []).map((c) => [c.name, c.defaultValue]));
}

function merged(behavior: SchemaChangeBehavior, exclude?: string) {
  const transform = new TransformOperator({
    transforms: [],
    routes: [{ sourceTable: parseTableSelector('shop_[0-9]+.orders'), sinkTable: 'public.orders' }],
  });
  return evolvingTransform(
    transform,
    new SchemaEvolutionOperator({ behavior, accepted: acceptedSchemaChanges(undefined, exclude) }),
  );
}

describe('schema evolution keeps the default of an added column for the sink', () => {
  const qty = withDefault(col('qty', INT32, false), '42');

  it.each(['lenient', 'evolve', 'try_evolve'] as const)('%s: the added column carries its default', (behavior) => {
    const stage = new SchemaEvolutionOperator({ behavior });
    stage.process([event(base())]);
    const out = stage.process([event(withColumns(A, qty), 'addColumn')]);
    expect(defaults(out)).toEqual({ id: undefined, name: undefined, qty: '42' });
  });

  it('merged shards: the default only when every shard has the column with that default', () => {
    const stage = merged('evolve');
    stage.process([event(base(A)), event(base(B))]);
    // Only shard 1 has the column: rows of shard 2 must stay NULL.
    expect(defaults(stage.process([event(withColumns(A, qty), 'addColumn')]))['qty']).toBeUndefined();

    // Every shard with the same default (as after a restart when all had added it): the default.
    const n = withDefault(col('n', INT32), '1');
    const shards = [A, B].map((source) => ({ source, schema: withColumns(source, n) }));
    const union = mergeTargetSchema(tableId('public', 'orders'), shards, base(A), 'union');
    expect(union.schema.columns.find((c) => c.name === 'n')?.defaultValue).toBe('1');
    // Different defaults: none.
    shards[1] = { source: B, schema: withColumns(B, withDefault(n, '2')) };
    const differing = mergeTargetSchema(tableId('public', 'orders'), shards, base(A), 'grow');
    expect(differing.schema.columns.find((c) => c.name === 'n')?.defaultValue).toBeUndefined();
  });

  it('lenient: the new name of a renamed column is added without the default (its rows hold the old values)', () => {
    const stage = new SchemaEvolutionOperator({ behavior: 'lenient' });
    stage.process([event(base())]);
    const renamed: TableSchema = { ...base(), columns: [id, withDefault(col('title', INT32), '5')] };
    const out = stage.process([event(renamed, 'renameColumn', { renamedColumns: [{ from: 'name', to: 'title' }] })]);
    expect(defaults(out)).toEqual({ id: undefined, name: undefined, title: undefined });
  });

  it('evolve with rename.column excluded: the rename becomes a drop and an add, without the default', () => {
    const stage = new SchemaEvolutionOperator({
      behavior: 'evolve',
      accepted: acceptedSchemaChanges(undefined, 'rename.column'),
    });
    stage.process([event(base())]);
    const renamed: TableSchema = { ...base(), columns: [id, withDefault(col('title', INT32), '5')] };
    const out = stage.process([event(renamed, 'renameColumn', { renamedColumns: [{ from: 'name', to: 'title' }] })]);
    expect(defaults(out)).toEqual({ id: undefined, title: undefined });
  });

  it('survives the checkpointed state as JSON', () => {
    const stage = new SchemaEvolutionOperator({ behavior: 'evolve' });
    stage.process([event(base()), event(withColumns(A, qty), 'addColumn')]);
    const restored = new SchemaEvolutionOperator({ behavior: 'evolve' });
    restored.restoreState(JSON.parse(JSON.stringify(stage.snapshotState())) as OperatorState);
    expect(restored.targetSchema(A)?.columns.find((c) => c.name === 'qty')?.defaultValue).toBe('42');
  });
});
