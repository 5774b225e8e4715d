import { describe, expect, it } from 'vitest';
import { dataChange, type ChangeEvent, type SchemaChangeEvent } from '../../src/core/change-event.js';
import type { Row } from '../../src/core/data-type.js';
import { tableId, type TableSchema } from '../../src/core/table-schema.js';
import { student as scenarioStudent } from '../harness/sink-events.js';
import { ChangeBuffer, type ApplyStep, type TableChanges } from '../../src/connectors/sink-kit/change-buffer.js';

const source = { tsMs: 0 };
const student: TableSchema = { ...scenarioStudent, id: tableId('testdb', 'student') };
const create = (schema: TableSchema, change: SchemaChangeEvent['change'] = 'createTable'): SchemaChangeEvent => ({
  kind: 'schema',
  table: schema.id,
  change,
  schema,
  source,
});
const insert = (row: Row): ChangeEvent => dataChange(student.id, 'insert', null, row, source);
const update = (before: Row, after: Row): ChangeEvent => dataChange(student.id, 'update', before, after, source);
const remove = (before: Row): ChangeEvent => dataChange(student.id, 'delete', before, null, source);

function dataSteps(steps: ApplyStep[]): TableChanges[] {
  return steps.flatMap((s) => (s.kind === 'data' ? [s.changes] : []));
}

describe('ChangeBuffer', () => {
  it('collapses the student scenario to the last state per key', () => {
    const buffer = new ChangeBuffer();
    buffer.add([
      create(student),
      insert([1, 'student1', 65, '1']),
      insert([2, 'student2', 75, '0']),
      insert([3, 'student3', 85, '1']),
      insert([4, 'student4', 95, '0']),
      update([2, 'student2', 75, '0'], [2, 'student2', 75, '1']),
      update([3, 'student3', 85, '1'], [3, 'student3', null, null]),
      update([4, 'student4', 95, '0'], [4, 'student4', null, null]),
      insert([5, 'student5', 50, '1']),
      update([5, 'student5', 50, '1'], [5, 'student5', 55, '1']),
      remove([5, 'student5', 55, '1']),
      insert([6, 'student6', 60, '0']),
    ]);
    const steps = buffer.drain();
    expect(buffer.drain()).toEqual([]);
    expect(steps[0]?.kind).toBe('schema');
    const [changes] = dataSteps(steps);
    expect([...changes!.upserts.values()]).toEqual([
      [1, 'student1', 65, '1'],
      [2, 'student2', 75, '1'],
      [3, 'student3', null, null],
      [4, 'student4', null, null],
      [6, 'student6', 60, '0'],
    ]);
    expect([...changes!.deletes.values()]).toEqual([[5, 'student5', 55, '1']]);
  });

  it('turns a key-changing update into a delete of the old key and an upsert of the new', () => {
    const buffer = new ChangeBuffer();
    buffer.add([create(student), update([1, 'a', 1, '1'], [10, 'a', 1, '1'])]);
    const [changes] = dataSteps(buffer.drain());
    expect([...changes!.deletes.keys()]).toEqual([1]);
    expect([...changes!.upserts.entries()]).toEqual([[10, [10, 'a', 1, '1']]]);

    // …and a later insert of the old key revives it.
    buffer.add([update([10, 'a', 1, '1'], [11, 'a', 1, '1']), insert([10, 'b', 2, '0'])]);
    const [next] = dataSteps(buffer.drain());
    expect([...next!.deletes.keys()]).toEqual([]);
    expect([...next!.upserts.keys()].sort()).toEqual([10, 11]);
  });

  it("keeps adding to a table's run across another table's schema event", () => {
    const buffer = new ChangeBuffer();
    const other: TableSchema = { ...student, id: tableId('testdb', 'other') };
    buffer.add([
      create(student),
      insert([1, 'a', 1, '1']),
      create(other),
      dataChange(other.id, 'insert', null, [7, 'x', 1, '1'], source),
      insert([2, 'b', 2, '0']),
    ]);
    const runs = dataSteps(buffer.drain()).map((c) => [c.table.name, [...c.upserts.keys()]]);
    expect(runs).toEqual([
      ['student', [1, 2]],
      ['other', [7]],
    ]);
  });

  it('splits a table into runs around its schema changes, in order', () => {
    const buffer = new ChangeBuffer();
    const wider: TableSchema = {
      ...student,
      columns: [...student.columns, { name: 'age', type: { kind: 'int8' }, nullable: true }],
    };
    buffer.add([
      create(student),
      insert([1, 'a', 1, '1']),
      create(wider, 'addColumn'),
      dataChange(student.id, 'insert', null, [2, 'b', 2, '0', 20], source),
    ]);
    const steps = buffer.drain();
    expect(steps.map((s) => s.kind)).toEqual(['schema', 'data', 'schema', 'data']);
    const [first, second] = dataSteps(steps);
    expect(first!.schema).toBe(student);
    expect(second!.schema).toBe(wider);
    expect(steps[2]?.kind === 'schema' ? steps[2].previous : undefined).toBe(student);
  });

  it('keeps schemas across commits and keys composite and binary keys apart', () => {
    const pairs: TableSchema = {
      id: tableId('db', 'pairs'),
      columns: [
        { name: 'a', type: { kind: 'string' }, nullable: false },
        { name: 'b', type: { kind: 'string' }, nullable: false },
        { name: 'v', type: { kind: 'bytes' }, nullable: false },
      ],
      primaryKey: ['a', 'b'],
    };
    const buffer = new ChangeBuffer();
    buffer.add([create(pairs)]);
    buffer.drain();
    buffer.add([
      dataChange(pairs.id, 'insert', null, ['a:b', 'c', new Uint8Array([1])], source),
      dataChange(pairs.id, 'insert', null, ['a', 'b:c', new Uint8Array([2])], source),
      dataChange(pairs.id, 'insert', null, ['a', 'b:c', new Uint8Array([3])], source),
    ]);
    const [changes] = dataSteps(buffer.drain());
    expect(changes!.upserts.size).toBe(2);
  });

  it('refuses rows of a table without a key', () => {
    const keyless: TableSchema = { ...student, id: tableId('db', 'log'), primaryKey: [] };
    const buffer = new ChangeBuffer();
    expect(() =>
      buffer.add([create(keyless), dataChange(keyless.id, 'insert', null, [1, 'a', 1, '1'], source)]),
    ).toThrow(/no primary key/);
  });
});
