import { describe, expect, it } from 'vitest';
import { parseTableSelector } from '../../src/core/table-selector.js';
import type { ChangeEvent, SchemaChangeEvent, SchemaChangeType } from '../../src/core/change-event.js';
import type { DataType, Row } from '../../src/core/data-type.js';
import { TributaryError } from '../../src/core/errors.js';
import { tableId, type Column, type TableSchema } from '../../src/core/table-schema.js';
import { evolvingTransform } from '../../src/transform/schema-evolution/evolving-transform.js';
import type { SchemaChangeBehavior } from '../../src/transform/schema-evolution/schema-change-behavior.js';
import { acceptedSchemaChanges } from '../../src/transform/schema-evolution/schema-change-types.js';
import { SchemaEvolutionOperator } from '../../src/transform/schema-evolution/schema-evolution-operator.js';
import { TransformOperator } from '../../src/transform/transform-operator.js';

const INT32: DataType = { kind: 'int32' };
const INT64: DataType = { kind: 'int64' };
const varchar = (length: number): DataType => ({ kind: 'varchar', length });
const col = (name: string, type: DataType, nullable = true): Column => ({ name, type, nullable });

const A = tableId('shop_1', 'orders');
const B = tableId('shop_2', 'orders');
const TARGET = tableId('public', 'orders');

function schema(id = A, columns: readonly Column[], primaryKey: readonly string[] = ['id']): TableSchema {
  return { id, columns, primaryKey };
}

function schemaEvent(
  s: TableSchema,
  change: SchemaChangeType = 'createTable',
  extra: Partial<SchemaChangeEvent> = {},
): SchemaChangeEvent {
  return { kind: 'schema', table: s.id, change, schema: s, source: { tsMs: 1 }, ...extra };
}

function insert(table = A, after: Row): ChangeEvent {
  return { kind: 'data', table, op: 'insert', before: null, after, source: { tsMs: 2 } };
}

/** Both shards routed to public.orders, as a pipeline file's route does, then the evolution stage. */
function merged(behavior: SchemaChangeBehavior, exclude?: string) {
  const transform = new TransformOperator({
    transforms: [],
    routes: [{ sourceTable: parseTableSelector('shop_[0-9]+.orders'), sinkTable: 'public.orders' }],
  });
  const accepted = acceptedSchemaChanges(undefined, exclude);
  return evolvingTransform(transform, new SchemaEvolutionOperator({ behavior, accepted }));
}

function schemas(events: readonly ChangeEvent[]): SchemaChangeEvent[] {
  return events.filter((e): e is SchemaChangeEvent => e.kind === 'schema');
}

function rows(events: readonly ChangeEvent[]): (Row | null)[] {
  return events.flatMap((e) => (e.kind === 'data' ? [e.after] : []));
}

function columns(s: TableSchema | undefined): string[] {
  return (s?.columns ?? []).map((c) => `${c.name} ${formatType(c.type)}${c.nullable ? '' : ' not null'}`);
}

function formatType(type: DataType): string {
  return 'length' in type ? `${type.kind}(${type.length})` : type.kind;
}

const shardA = schema(A, [col('id', INT64, false), col('name', varchar(10)), col('qty', INT32, false)]);
const shardB = schema(B, [col('id', INT64, false), col('name', varchar(20))]);

describe('merged shards: the union schema', () => {
  it('creates the sink table from the first shard and widens it for the next; rows follow the union order', () => {
    const stage = merged('lenient');
    const out = stage.process([
      schemaEvent(shardA),
      schemaEvent(shardB),
      insert(A, [1n, 'a', 3]),
      insert(B, [2n, 'b']),
    ]);
    const [create, widen] = schemas(out);
    expect(create?.change).toBe('createTable');
    expect(create?.table).toEqual(TARGET);
    expect(widen?.change).toBe('alterColumnType');
    expect(columns(widen?.schema)).toEqual(['id int64 not null', 'name varchar(20)', 'qty int32']);
    expect(rows(out)).toEqual([
      [1n, 'a', 3],
      [2n, 'b', null],
    ]);
  });

  it('adds a column of one shard as nullable, widens a column of the other, and emits only the difference', () => {
    const stage = merged('lenient');
    stage.process([schemaEvent(shardA), schemaEvent(shardB)]);
    const addEmail = schema(A, [...shardA.columns, col('email', varchar(64), false)]);
    const widenQty = schema(B, [...shardB.columns, col('qty', INT64, false)]);
    const out = stage.process([
      insert(A, [1n, 'a', 3]),
      schemaEvent(addEmail, 'refreshTable', { ddl: 'ALTER TABLE orders ADD COLUMN email VARCHAR(64) NOT NULL' }),
      insert(A, [2n, 'b', 4, 'b@x']),
      schemaEvent(widenQty, 'refreshTable', { ddl: 'ALTER TABLE orders ADD COLUMN qty BIGINT NOT NULL' }),
      insert(B, [3n, 'c', 5n]),
      insert(A, [4n, 'd', 6, 'd@x']),
    ]);
    expect(out.map((e) => e.kind)).toEqual(['data', 'schema', 'data', 'schema', 'data', 'data']);
    const [add, alter] = schemas(out);
    expect(add?.change).toBe('addColumn');
    expect(add?.ddl).toContain('ADD COLUMN email');
    expect(columns(add?.schema)).toEqual(['id int64 not null', 'name varchar(20)', 'qty int32', 'email varchar(64)']);
    expect(alter?.change).toBe('alterColumnType');
    expect(columns(alter?.schema)).toEqual(['id int64 not null', 'name varchar(20)', 'qty int64', 'email varchar(64)']);
    // Rows of shard A after the widening carry a bigint where they had a number.
    expect(rows(out)).toEqual([
      [1n, 'a', 3],
      [2n, 'b', 4, 'b@x'],
      [3n, 'c', 5n, null],
      [4n, 'd', 6n, 'd@x'],
    ]);
  });

  it('rejects incompatible types, naming both source tables, the column and both types', () => {
    const stage = merged('lenient');
    const textQty = schema(B, [col('id', INT64, false), col('qty', varchar(8))]);
    let error: unknown;
    try {
      stage.process([schemaEvent(shardA), schemaEvent(textQty)]);
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(TributaryError);
    const message = (error as TributaryError).message;
    expect((error as TributaryError).code).toBe('SCHEMA_CHANGE_REJECTED');
    for (const part of ['"qty"', 'public.orders', 'shop_1.orders', 'shop_2.orders', 'int32', 'varchar(8)']) {
      expect(message).toContain(part);
    }
  });

  it('requires one primary key across the shards', () => {
    const stage = merged('evolve');
    const otherKey = schema(B, shardB.columns, ['id', 'name']);
    expect(() => stage.process([schemaEvent(shardA), schemaEvent(otherKey)])).toThrow(
      /shop_1\.orders \(primary key \(id\)\) and shop_2\.orders \(primary key \(id, name\)\).*public\.orders/,
    );
  });

  it('under evolve, keeps a column one shard drops while another still has it', () => {
    const stage = merged('evolve');
    stage.process([schemaEvent(shardA), schemaEvent(schema(B, [...shardB.columns, col('qty', INT32)]))]);
    const dropped = schema(A, [col('id', INT64, false), col('name', varchar(10))]);
    const out = stage.process([schemaEvent(dropped, 'dropColumn'), insert(A, [1n, 'x'])]);
    expect(schemas(out)).toEqual([]);
    expect(rows(out)).toEqual([[1n, 'x', null]]);
  });
});

describe('lenient (the default)', () => {
  const base = schema(A, [col('id', INT64, false), col('name', varchar(10), false), col('qty', INT64)]);

  it('hands rows that fit their sink table on as they came, and maps the rows after a change in the same piece', () => {
    const stage = new SchemaEvolutionOperator();
    stage.process([schemaEvent(base)]);
    const piece = [insert(A, [1n, 'a', 5n]), insert(A, [2n, 'b', 6n])];
    expect(stage.process(piece)).toBe(piece);
    const out = stage.process([
      insert(A, [3n, 'c', 7n]),
      schemaEvent(schema(A, [col('id', INT64, false), col('qty', INT64)]), 'dropColumn'),
      insert(A, [4n, 8n]),
    ]);
    expect(rows(out)).toEqual([
      [3n, 'c', 7n],
      [4n, null, 8n],
    ]);
  });

  it('keeps a dropped column, made nullable, and writes NULL into it', () => {
    const stage = new SchemaEvolutionOperator();
    expect(stage.behavior).toBe('lenient');
    stage.process([schemaEvent(base)]);
    const out = stage.process([
      schemaEvent(schema(A, [col('id', INT64, false), col('qty', INT64)]), 'dropColumn'),
      insert(A, [1n, 5n]),
    ]);
    const [event] = schemas(out);
    expect(event?.change).toBe('alterColumnType');
    expect(columns(event?.schema)).toEqual(['id int64 not null', 'name varchar(10)', 'qty int64']);
    expect(rows(out)).toEqual([[1n, null, 5n]]);
  });

  it('turns a rename into an added nullable column, keeping the old one', () => {
    const stage = new SchemaEvolutionOperator({ behavior: 'lenient' });
    stage.process([schemaEvent(base)]);
    const renamed = schema(A, [col('id', INT64, false), col('title', varchar(10), false), col('qty', INT64)]);
    const out = stage.process([
      schemaEvent(renamed, 'renameColumn', { renamedColumns: [{ from: 'name', to: 'title' }] }),
      insert(A, [1n, 't', 2n]),
    ]);
    const [event] = schemas(out);
    expect(event?.renamedColumns).toBeUndefined();
    expect(columns(event?.schema)).toEqual(['id int64 not null', 'name varchar(10)', 'qty int64', 'title varchar(10)']);
    expect(rows(out)).toEqual([[1n, null, 2n, 't']]);
  });

  it('never narrows a type: rows of the narrower type are widened', () => {
    const stage = new SchemaEvolutionOperator();
    stage.process([schemaEvent(base)]);
    const narrowed = schema(A, [col('id', INT64, false), col('name', varchar(10), false), col('qty', INT32)]);
    const out = stage.process([schemaEvent(narrowed, 'alterColumnType'), insert(A, [1n, 'n', 7])]);
    expect(schemas(out)).toEqual([]);
    expect(rows(out)).toEqual([[1n, 'n', 7n]]);
  });

  it('rejects a type change outside the lattice, naming the table and both types', () => {
    const stage = new SchemaEvolutionOperator();
    stage.process([schemaEvent(base)]);
    const changed = schema(A, [col('id', INT64, false), col('name', varchar(10), false), col('qty', { kind: 'json' })]);
    expect(() => stage.process([schemaEvent(changed, 'alterColumnType')])).toThrow(
      /"qty" of sink table shop_1\.orders cannot hold both int64 .* and json \(source table shop_1\.orders\)/,
    );
  });

  it('never truncates or drops the sink table', () => {
    const stage = new SchemaEvolutionOperator();
    stage.process([schemaEvent(base)]);
    expect(stage.process([schemaEvent(base, 'truncateTable'), schemaEvent(base, 'dropTable')])).toEqual([]);
  });
});

describe('evolve', () => {
  const base = schema(A, [col('id', INT64, false), col('name', varchar(10)), col('qty', INT64)]);

  it('passes drops, renames (with renamedColumns), narrowing, truncate and drop table', () => {
    const stage = new SchemaEvolutionOperator({ behavior: 'evolve' });
    stage.process([schemaEvent(base)]);
    const renamed = schema(A, [col('id', INT64, false), col('title', varchar(10)), col('qty', INT64)]);
    const dropped = schema(A, [col('id', INT64, false), col('title', varchar(10))]);
    const narrowed = schema(A, [col('id', INT64, false), col('title', varchar(5))]);
    const out = stage.process([
      schemaEvent(renamed, 'renameColumn', { renamedColumns: [{ from: 'name', to: 'title' }] }),
      schemaEvent(dropped, 'refreshTable'),
      schemaEvent(narrowed, 'refreshTable'),
      insert(A, [1n, 'ab']),
      schemaEvent(narrowed, 'truncateTable'),
      schemaEvent(narrowed, 'dropTable'),
    ]);
    expect(out.map((e) => (e.kind === 'schema' ? e.change : 'data'))).toEqual([
      'renameColumn',
      'dropColumn',
      'alterColumnType',
      'data',
      'truncateTable',
      'dropTable',
    ]);
    const [rename] = schemas(out);
    expect(rename?.renamedColumns).toEqual([{ from: 'name', to: 'title' }]);
    expect(columns(schemas(out)[2]?.schema)).toEqual(['id int64 not null', 'title varchar(5)']);
    expect(rows(out)).toEqual([[1n, 'ab']]);
  });

  it('keeps what exclude.schema.changes refuses: a dropped column stays, nullable', () => {
    const stage = new SchemaEvolutionOperator({
      behavior: 'evolve',
      accepted: acceptedSchemaChanges(undefined, 'drop'),
    });
    stage.process([schemaEvent(schema(A, [col('id', INT64, false), col('name', varchar(10), false)]))]);
    const out = stage.process([
      schemaEvent(schema(A, [col('id', INT64, false)]), 'dropColumn'),
      insert(A, [1n]),
      schemaEvent(schema(A, [col('id', INT64, false)]), 'dropTable'),
    ]);
    const [event] = schemas(out);
    expect(event?.change).toBe('alterColumnType');
    expect(columns(event?.schema)).toEqual(['id int64 not null', 'name varchar(10)']);
    expect(out).toHaveLength(2);
    expect(rows(out)).toEqual([[1n, null]]);
  });
});

describe('try_evolve', () => {
  it('after the sink refuses a change, projects rows onto the sink table as it was', () => {
    const stage = new SchemaEvolutionOperator({ behavior: 'try_evolve' });
    const base = schema(A, [col('id', INT64, false), col('name', varchar(10))]);
    stage.process([schemaEvent(base)]);
    const added = schema(A, [col('id', INT64, false), col('note', varchar(10)), col('name', varchar(10))]);
    const [event] = stage.process([schemaEvent(added, 'addColumn')]);
    expect(event?.kind === 'schema' && event.change).toBe('addColumn');
    expect(stage.schemaChangeFailed(event as SchemaChangeEvent)).toBe(true);
    expect(columns(stage.targetSchema(A))).toEqual(['id int64 not null', 'name varchar(10)']);
    expect(rows(stage.process([insert(A, [1n, 'n', 'x'])]))).toEqual([[1n, 'x']]);
  });
});

describe('ignore', () => {
  it('keeps the sink table of the first createTable: new columns left out, missing ones NULL', () => {
    const stage = merged('ignore');
    const out = stage.process([
      schemaEvent(shardA),
      schemaEvent(shardB),
      schemaEvent(schema(A, [col('id', INT64, false), col('extra', INT32), col('qty', INT32)]), 'refreshTable'),
      insert(A, [1n, 9, 3]),
      insert(B, [2n, 'b']),
    ]);
    expect(schemas(out).map((e) => e.change)).toEqual(['createTable']);
    expect(rows(out)).toEqual([
      [1n, null, 3],
      [2n, 'b', null],
    ]);
  });
});

describe('exception', () => {
  it('stops at a schema change, naming the table, the DDL and the option', () => {
    const stage = new SchemaEvolutionOperator({ behavior: 'exception' });
    const base = schema(A, [col('id', INT64, false)]);
    stage.process([schemaEvent(base), insert(A, [1n])]);
    const ddl = 'ALTER TABLE orders ADD COLUMN note TEXT';
    expect(() =>
      stage.process([
        schemaEvent(schema(A, [...base.columns, col('note', { kind: 'string' })]), 'refreshTable', { ddl }),
      ]),
    ).toThrow(/source table shop_1\.orders changed by the DDL `ALTER TABLE orders ADD COLUMN note TEXT`.*exception/);
    try {
      stage.process([schemaEvent(base, 'truncateTable')]);
    } catch (error) {
      expect((error as TributaryError).hint).toContain('pipeline.schema.change.behavior');
    }
  });

  it('accepts shards that fit the sink table, and stops at one that would change it', () => {
    const same = merged('exception');
    expect(schemas(same.process([schemaEvent(shardB), schemaEvent({ ...shardB, id: A })]))).toHaveLength(1);
    const different = merged('exception');
    expect(() => different.process([schemaEvent(shardA), schemaEvent(shardB)])).toThrow(
      /source table shop_2\.orders is merged into sink table public\.orders/,
    );
  });
});

describe('renamed source tables', () => {
  it('under evolve, renames the sink table of its only source; rows under the new name follow', () => {
    const stage = evolvingTransform(
      new TransformOperator({ transforms: [], routes: [] }),
      new SchemaEvolutionOperator({ behavior: 'evolve' }),
    );
    const base = schema(A, [col('id', INT64, false)]);
    const NEW = tableId('shop_1', 'orders_v2');
    stage.process([schemaEvent(base)]);
    const out = stage.process([{ ...schemaEvent({ ...base, id: NEW }, 'renameTable'), table: A }, insert(NEW, [1n])]);
    const [rename] = schemas(out);
    expect(rename?.change).toBe('renameTable');
    expect(rename?.table).toEqual(A);
    expect(rename?.schema.id).toEqual(NEW);
    expect(out[1]?.table).toEqual(NEW);
  });

  it('under lenient, keeps the old sink table and feeds the table the new name routes to', () => {
    const stage = merged('lenient');
    stage.process([schemaEvent(shardA), schemaEvent(shardB)]);
    const renamed = tableId('shop_3', 'orders');
    const out = stage.process([
      { ...schemaEvent({ ...shardA, id: renamed }, 'renameTable'), table: A },
      insert(renamed, [5n, 'e', 1]),
    ]);
    expect(schemas(out)).toEqual([]);
    expect(rows(out)).toEqual([[5n, 'e', 1]]);
  });
});
