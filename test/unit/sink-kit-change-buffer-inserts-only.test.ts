import { describe, expect, it } from 'vitest';
import { ChangeBuffer, type TableChanges } from '../../src/connectors/sink-kit/change-buffer.js';
import { dataChange, type ChangeEvent } from '../../src/core/change-event.js';
import type { Row } from '../../src/core/data-type.js';
import { tableId, type TableSchema } from '../../src/core/table-schema.js';

const source = { tsMs: 0 };
const t: TableSchema = {
  id: tableId('db', 't'),
  columns: [
    { name: 'id', type: { kind: 'int32' }, nullable: false },
    { name: 'v', type: { kind: 'string' }, nullable: true },
  ],
  primaryKey: ['id'],
};
const u: TableSchema = { ...t, id: tableId('db', 'u') };
const create = (schema: TableSchema): ChangeEvent => ({
  kind: 'schema',
  table: schema.id,
  change: 'createTable',
  schema,
  source,
});
const read = (schema: TableSchema, row: Row): ChangeEvent => dataChange(schema.id, 'read', null, row, source);
const insert = (schema: TableSchema, row: Row): ChangeEvent => dataChange(schema.id, 'insert', null, row, source);
const update = (schema: TableSchema, before: Row, after: Row): ChangeEvent =>
  dataChange(schema.id, 'update', before, after, source);
const remove = (schema: TableSchema, before: Row): ChangeEvent => dataChange(schema.id, 'delete', before, null, source);

function runs(buffer: ChangeBuffer): TableChanges[] {
  return buffer.drain().flatMap((s) => (s.kind === 'data' ? [s.changes] : []));
}

describe('ChangeBuffer: insertsOnly', () => {
  it('holds for runs of reads, inserts and deletes, per table', () => {
    const buffer = new ChangeBuffer();
    buffer.add([
      create(t),
      create(u),
      read(t, [1, 'a']),
      insert(t, [2, 'b']),
      remove(t, [1, 'a']),
      insert(u, [1, 'x']),
    ]);
    expect(runs(buffer).map((r) => [r.table.name, r.insertsOnly])).toEqual([
      ['t', true],
      ['u', true],
    ]);
  });

  it('is cleared by an update, even one whose key is deleted later in the run', () => {
    const buffer = new ChangeBuffer();
    buffer.add([create(t), create(u), insert(t, [1, 'a']), update(t, [1, 'a'], [1, 'b']), remove(t, [1, 'b'])]);
    buffer.add([insert(u, [1, 'x']), update(u, [1, 'x'], [2, 'x'])]);
    expect(runs(buffer).map((r) => [r.table.name, r.insertsOnly])).toEqual([
      ['t', false],
      ['u', false],
    ]);
  });

  it('starts anew with each drain', () => {
    const buffer = new ChangeBuffer();
    buffer.add([create(t), insert(t, [1, 'a']), update(t, [1, 'a'], [1, 'b'])]);
    expect(runs(buffer).map((r) => r.insertsOnly)).toEqual([false]);
    buffer.add([read(t, [2, 'c'])]);
    expect(runs(buffer).map((r) => r.insertsOnly)).toEqual([true]);
  });
});
