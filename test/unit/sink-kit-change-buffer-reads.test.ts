import { describe, expect, it } from 'vitest';
import { dataChange, type ChangeEvent, type SchemaChangeEvent } from '../../src/core/change-event.js';
import type { Row } from '../../src/core/data-type.js';
import { tableId, type TableSchema } from '../../src/core/table-schema.js';
import { student as scenarioStudent } from '../harness/sink-events.js';
import { ChangeBuffer, type TableChanges } from '../../src/connectors/sink-kit/change-buffer.js';

const source = { tsMs: 0 };
const student: TableSchema = { ...scenarioStudent, id: tableId('testdb', 'student') };
const create: SchemaChangeEvent = { kind: 'schema', table: student.id, change: 'createTable', schema: student, source };
const read = (row: Row): ChangeEvent => dataChange(student.id, 'read', null, row, source);
const insert = (row: Row): ChangeEvent => dataChange(student.id, 'insert', null, row, source);
const update = (before: Row, after: Row): ChangeEvent => dataChange(student.id, 'update', before, after, source);
const remove = (before: Row): ChangeEvent => dataChange(student.id, 'delete', before, null, source);

function changesOf(events: ChangeEvent[]): TableChanges {
  const buffer = new ChangeBuffer();
  buffer.add([create]);
  buffer.drain();
  buffer.add(events);
  const step = buffer.drain()[0];
  if (step?.kind !== 'data') throw new Error('expected a data step');
  return step.changes;
}

describe('ChangeBuffer: a run of snapshot reads', () => {
  it('hands a run of reads alone over as they came, without keying them, until upserts is used', () => {
    const rows: Row[] = [
      [1, 'a', 1, '1'],
      [2, 'b', 2, '0'],
      [3, 'c', 3, '1'],
    ];
    const changes = changesOf(rows.map(read));
    expect(changes.uncollapsedReads).toEqual(rows);
    expect(changes.upsertCount).toBe(3);
    expect(changes.insertsOnly).toBe(true);
    // upserts keys them, in order; the uncollapsed list is gone then.
    expect([...changes.upserts.values()]).toEqual(rows);
    expect(changes.uncollapsedReads).toBeUndefined();
    expect(changes.upsertCount).toBe(3);
  });

  it('collapses a key read twice when upserts is used: the last state wins, as for any run', () => {
    const changes = changesOf([read([1, 'old', 1, '1']), read([2, 'b', 2, '0']), read([1, 'new', 1, '1'])]);
    expect(changes.uncollapsedReads).toHaveLength(3);
    expect([...changes.upserts.entries()]).toEqual([
      [1, [1, 'new', 1, '1']],
      [2, [2, 'b', 2, '0']],
    ]);
  });

  it('keys the reads, in order, once another kind of change joins the run: later changes win', () => {
    const changes = changesOf([
      read([1, 'a', 1, '1']),
      read([2, 'b', 2, '0']),
      update([1, 'a', 1, '1'], [1, 'a2', 1, '1']),
      remove([2, 'b', 2, '0']),
      read([3, 'c', 3, '1']),
    ]);
    expect(changes.uncollapsedReads).toBeUndefined();
    expect([...changes.upserts.entries()]).toEqual([
      [1, [1, 'a2', 1, '1']],
      [3, [3, 'c', 3, '1']],
    ]);
    expect([...changes.deletes.keys()]).toEqual([2]);
    expect(changes.upsertCount).toBe(2);
  });

  it('keys a read that follows an insert in the run (a chunk row after a log change is the newer state)', () => {
    const changes = changesOf([insert([1, 'log', 1, '1']), read([1, 'chunk', 1, '1'])]);
    expect(changes.uncollapsedReads).toBeUndefined();
    expect([...changes.upserts.values()]).toEqual([[1, 'chunk', 1, '1']]);
  });
});
