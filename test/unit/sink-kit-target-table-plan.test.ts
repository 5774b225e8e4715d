import { describe, expect, it } from 'vitest';
import type { SchemaChangeEvent } from '../../src/core/change-event.js';
import type { DataType } from '../../src/core/data-type.js';
import { tableId, type Column, type TableSchema } from '../../src/core/table-schema.js';
import {
  columnRenames,
  planTargetTable,
  plannedColumns,
  type ExistingColumn,
  type TargetTablePlanInput,
} from '../../src/connectors/sink-kit/target-table-plan.js';

const typeOf = (type: DataType): string => (type.kind === 'varchar' ? `varchar(${type.length})` : type.kind);
const col = (name: string, type: DataType, nullable = true): Column => ({ name, type, nullable });
const schema = (...columns: Column[]): TableSchema => ({ id: tableId('s', 't'), columns, primaryKey: ['id'] });
/** The sink table as created from `s`. */
const existing = (s: TableSchema): ExistingColumn[] =>
  s.columns.map((c) => ({ name: c.name, type: typeOf(c.type), notNull: !c.nullable, hasDefault: false }));
const plan = (previous: TableSchema, next: TableSchema, more: Partial<TargetTablePlanInput> = {}) =>
  planTargetTable({
    current: existing(previous),
    previous,
    next,
    renames: [],
    typeOf,
    sameName: (a, b) => a === b,
    ...more,
  });

const id = col('id', { kind: 'int32' }, false);
const name = col('name', { kind: 'varchar', length: 8 }, false);
const age = col('age', { kind: 'int16' });
const v1 = schema(id, name, age);

describe('planTargetTable', () => {
  it('plans nothing when the schema is unchanged', () => {
    expect(plan(v1, v1)).toEqual([]);
  });

  it('adds new columns at the end, with the sink type', () => {
    const email = col('email', { kind: 'string' }, false);
    expect(plan(v1, schema(id, email, name, age))).toEqual([{ kind: 'add', column: email, type: 'string' }]);
  });

  it('drops columns the source had and no longer has, keeps columns added by hand but lets them be NULL', () => {
    const current = [...existing(v1), { name: 'note', type: 'text', notNull: true, hasDefault: false }];
    expect(plan(v1, schema(id, name), { current })).toEqual([
      { kind: 'drop', column: 'age' },
      { kind: 'dropNotNull', column: 'note' },
    ]);
  });

  it('renames the columns the event names, keeping their data, before anything else', () => {
    const handle = { ...name, name: 'handle' };
    expect(plan(v1, schema(id, handle, age), { renames: [{ from: 'name', to: 'handle' }] })).toEqual([
      { kind: 'rename', from: 'name', to: 'handle' },
    ]);
    // Without the rename the old column goes and the new one comes.
    expect(plan(v1, schema(id, handle, age))).toEqual([
      { kind: 'drop', column: 'name' },
      { kind: 'add', column: handle, type: 'varchar(8)' },
    ]);
  });

  it('renames and retypes one column in one change', () => {
    const handle = col('handle', { kind: 'varchar', length: 64 }, false);
    expect(plan(v1, schema(id, handle, age), { renames: [{ from: 'name', to: 'handle' }] })).toEqual([
      { kind: 'rename', from: 'name', to: 'handle' },
      { kind: 'alterType', column: 'handle', from: 'varchar(8)', to: 'varchar(64)' },
    ]);
  });

  it('changes a type when the canonical type maps to another sink type, key columns included', () => {
    const wide = schema(col('id', { kind: 'int64' }, false), name, col('age', { kind: 'int32' }));
    expect(plan(v1, wide)).toEqual([
      { kind: 'alterType', column: 'id', from: 'int32', to: 'int64' },
      { kind: 'alterType', column: 'age', from: 'int16', to: 'int32' },
    ]);
    // Another canonical type with the same sink type changes nothing.
    const same = (t: DataType): string => (t.kind === 'int16' || t.kind === 'int32' ? 'integer' : typeOf(t));
    expect(plan(v1, schema(id, name, col('age', { kind: 'int32' })), { typeOf: same })).toEqual([]);
  });

  it('relaxes NOT NULL when the source allows NULL, never tightens it, never on the key', () => {
    expect(plan(v1, schema(id, { ...name, nullable: true }, age))).toEqual([{ kind: 'dropNotNull', column: 'name' }]);
    expect(plan(v1, schema(id, name, { ...age, nullable: false }))).toEqual([]);
    expect(plan(v1, schema({ ...id, nullable: true }, name, age))).toEqual([]);
  });

  it('keeps dropped columns for a changelog, and drops nothing when the previous schema is unknown', () => {
    expect(plan(v1, schema(id, name), { keepDropped: true })).toEqual([]);
    expect(plan(v1, schema(id, name), { previous: undefined })).toEqual([]);
  });

  it('compares names the way the sink does', () => {
    const upper = schema(col('ID', { kind: 'int32' }, false), name, age);
    expect(plan(v1, upper, { sameName: (a, b) => a.toLowerCase() === b.toLowerCase() })).toEqual([]);
  });
});

describe('plannedColumns', () => {
  it('follows renames, drops, type changes and additions to the columns of the new table', () => {
    const email = col('email', { kind: 'string' });
    const changes = plan(v1, schema(id, col('handle', { kind: 'varchar', length: 64 }, true), email), {
      renames: [{ from: 'name', to: 'handle' }],
    });
    expect(plannedColumns(existing(v1), changes, (a, b) => a === b)).toEqual([
      { name: 'id', type: 'int32', notNull: true, source: 'id', retyped: false },
      { name: 'handle', type: 'varchar(64)', notNull: false, source: 'name', retyped: true },
      { name: 'email', type: 'string', notNull: false, source: undefined, retyped: false },
    ]);
  });
});

describe('columnRenames', () => {
  const event = (change: SchemaChangeEvent['change'], next: TableSchema, extra = {}): SchemaChangeEvent => ({
    kind: 'schema',
    table: next.id,
    change,
    schema: next,
    source: { tsMs: 0 },
    ...extra,
  });
  const renamed = schema(id, { ...name, name: 'handle' }, age);

  it('takes the renames the event carries', () => {
    const renames = [{ from: 'name', to: 'handle' }];
    expect(columnRenames(event('refreshTable', renamed, { renamedColumns: renames }), v1)).toBe(renames);
  });

  it('infers the one rename of a renameColumn event without them, and nothing for other kinds', () => {
    expect(columnRenames(event('renameColumn', renamed), v1)).toEqual([{ from: 'name', to: 'handle' }]);
    expect(columnRenames(event('refreshTable', renamed), v1)).toEqual([]);
  });
});
