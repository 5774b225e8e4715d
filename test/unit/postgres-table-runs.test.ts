import { describe, expect, it } from 'vitest';
import { SchemaTracker } from '../../src/connectors/sink-kit/schema-tracker.js';
import { writeInRuns } from '../../src/connectors/postgres/postgres-table-runs.js';
import { dataChange, type ChangeEvent, type SchemaChangeEvent } from '../../src/core/change-event.js';
import { tableId, type TableSchema } from '../../src/core/table-schema.js';

const source = { tsMs: 0 };
const table = (name: string, columns = 1): TableSchema => ({
  id: tableId('db', name),
  columns: Array.from({ length: columns }, (_, i) => ({ name: `c${i}`, type: { kind: 'int32' }, nullable: false })),
  primaryKey: ['c0'],
});
const create = (schema: TableSchema, change: SchemaChangeEvent['change'] = 'createTable'): SchemaChangeEvent => ({
  kind: 'schema',
  table: schema.id,
  change,
  schema,
  source,
});
const row = (schema: TableSchema, id: number): ChangeEvent => dataChange(schema.id, 'insert', null, [id], source);

async function trace(events: ChangeEvent[], tracker = new SchemaTracker()): Promise<string[]> {
  const out: string[] = [];
  let seq = 0;
  await writeInRuns(events, tracker, () => ++seq, {
    run: async (run) => {
      out.push(`${run.schema.id.name}/${run.schema.columns.length}: ${run.seqs.join(',')}`);
      await Promise.resolve();
    },
    schema: async (event, previous) => {
      out.push(`${event.change} ${event.table.name} (previous ${previous?.columns.length ?? '-'})`);
      await Promise.resolve();
    },
  });
  return out;
}

describe('writeInRuns', () => {
  it('writes one run per table, numbers rows in batch order, and cuts a table’s run at its schema change', async () => {
    const a = table('a');
    const b = table('b');
    const wider = table('a', 2);
    expect(
      await trace([
        create(a),
        create(b),
        row(a, 1),
        row(b, 2),
        row(a, 3),
        create(wider, 'addColumn'),
        row(b, 4),
        row(a, 5),
      ]),
    ).toEqual([
      'createTable a (previous -)',
      'createTable b (previous -)',
      'a/1: 1,3',
      'addColumn a (previous 1)',
      'b/1: 2,4',
      'a/2: 5',
    ]);
  });

  it('knows schemas from earlier batches and refuses rows of a table it has not seen', async () => {
    const tracker = new SchemaTracker();
    const a = table('a');
    await trace([create(a)], tracker);
    expect(await trace([row(a, 1)], tracker)).toEqual(['a/1: 1']);
    await expect(trace([row(table('b'), 1)], tracker)).rejects.toThrow(/before its createTable/);
  });
});
