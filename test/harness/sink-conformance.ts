import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ChangeEvent } from '../../src/core/change-event.js';
import type { Row } from '../../src/core/data-type.js';
import { SchemaChangeFailedError } from '../../src/core/errors.js';
import type { OptionValues } from '../../src/core/option-spec.js';
import type { Sink } from '../../src/core/sink.js';
import { tableId, type Column, type TableId, type TableSchema } from '../../src/core/table-schema.js';
import { canonicalText, normalizeText } from './canonical-text.js';
import {
  allTypes,
  allTypesEmpty,
  allTypesFull,
  allTypesSpecial,
  caught,
  checkpoint,
  del,
  ins,
  manyTablesCheckpoint,
  schemaEvent,
  student,
  studentAfterChanges,
  studentChanges,
  studentLoad,
  upd,
  updAfter,
  writeAndCommit,
} from './sink-events.js';

/** A table as a sink holds it: column names in table order, and every row as canonical text (see canonical-text.ts). */
export interface SinkTable {
  readonly columns: readonly string[];
  readonly rows: readonly (readonly (string | null)[])[];
}

/** What the suite needs of a sink under test; made once per suite, on a target of its own. */
export interface ConformanceTarget {
  /** A new Sink on the suite's target; `options` are merged into the suite's sink options. */
  sink(options?: OptionValues): Sink;
  /**
   * The committed content of `table` (a namespace of '' is the sink's default schema), values rendered as
   * canonical text — undefined when the table does not exist. Reads on a connection of its own.
   */
  read(table: TableId): Promise<SinkTable | undefined>;
  close(): Promise<void>;
}

/**
 * The conformance suite every sink runs (conventions.md, "Tests"): types round trip, inserts/updates/deletes
 * with key changes, the last state per key within one checkpoint, restart (committed checkpoint, replay,
 * uncommitted work discarded) and each kind of schema change, with rows before and after it in one commit.
 * Each case uses tables and a pipeline of its own.
 */
export function sinkConformance(label: string, setup: () => Promise<ConformanceTarget>): void {
  describe(`sink conformance: ${label}`, () => {
    let target: ConformanceTarget;
    const sinks: Sink[] = [];
    const open = (options?: OptionValues): Sink => {
      const sink = target.sink(options);
      sinks.push(sink);
      return sink;
    };
    /** A sink opened for `pipeline` with a first commit of `events`. */
    const started = async (pipeline: string, events: readonly ChangeEvent[]): Promise<Sink> => {
      const sink = open();
      expect(await sink.open(pipeline)).toBeNull();
      await writeAndCommit(sink, events, checkpoint(pipeline, { step: 0 }));
      return sink;
    };
    /** The rows of `schema`'s table as canonical text of what was written, in key order. */
    const expected = (schema: TableSchema, rows: readonly Row[]): SinkTable => ({
      columns: schema.columns.map((c) => c.name),
      rows: sortRows(
        schema,
        rows.map((row) => schema.columns.map((c, i) => canonicalText(row[i] ?? null, c.type))),
      ),
    });
    /** What the sink holds of `schema`'s table, in key order, normalised by the schema's types. */
    const actual = async (schema: TableSchema): Promise<SinkTable | undefined> => {
      const table = await target.read(schema.id);
      if (table === undefined) return undefined;
      const types = table.columns.map((name) => schema.columns.find((c) => c.name === name)?.type);
      const rows = table.rows.map((row) =>
        row.map((v, i) => (v === null || !types[i] ? v : normalizeText(v, types[i]))),
      );
      return { columns: table.columns, rows: sortRows(schema, rows) };
    };
    const expectTable = async (schema: TableSchema, rows: readonly Row[]): Promise<void> => {
      expect(await actual(schema)).toEqual(expected(schema, rows));
    };

    beforeAll(async () => {
      target = await setup();
    });
    afterAll(async () => {
      for (const sink of sinks) await sink.close();
      await target?.close();
    });

    describe('rows', () => {
      it('round-trips every canonical type exactly: int64 extremes, decimal(65,30), microseconds, bytes, emoji, big JSON numbers', async () => {
        const sink = await started('types', [
          schemaEvent(allTypes),
          ins(allTypes, allTypesFull),
          ins(allTypes, allTypesEmpty),
          ins(allTypes, allTypesSpecial),
        ]);
        await sink.close();
        await expectTable(allTypes, [allTypesFull, allTypesEmpty, allTypesSpecial]);
      });

      it('applies inserts, updates, deletes and key changes, deleting and re-inserting keys in one commit', async () => {
        const t = table('conf_rows', 'orders', [
          ['region', { kind: 'varchar', length: 8 }, false],
          ['id', { kind: 'int64' }, false],
          ['amount', { kind: 'decimal', precision: 12, scale: 2 }, true],
        ]);
        const keyed: TableSchema = { ...t, primaryKey: ['region', 'id'] };
        const sink = await started('rows', [
          schemaEvent(keyed),
          ...[1n, 2n, 3n, 4n, 5n].map((id) => ins(keyed, ['eu', id, `${id}.00`])),
        ]);
        await writeAndCommit(
          sink,
          [
            ins(keyed, ['us', 1n, '10.50']),
            upd(keyed, ['eu', 1n, '1.00'], ['eu', 1n, '1.01']), // plain update
            upd(keyed, ['eu', 2n, '2.00'], ['eu', 20n, '2.00']), // key change: 2 → 20
            upd(keyed, ['eu', 3n, '3.00'], ['eu', 2n, '3.00']), // another row takes the freed key 2
            del(keyed, ['eu', 4n, '4.00']),
            ins(keyed, ['eu', 4n, '4.44']), // deleted and inserted again: an update in the end
            ins(keyed, ['us', 2n, '1.00']),
            del(keyed, ['us', 2n, '1.00']), // inserted and deleted: never visible
            del(keyed, ['eu', 5n, '5.00']),
            schemaEvent(keyed, 'refreshTable'), // splits the run: key 5 deleted before it, inserted after it
            ins(keyed, ['eu', 5n, '5.55']),
            upd(keyed, ['eu', 1n, '1.01'], ['eu', 1n, '1.02']),
          ],
          checkpoint('rows', { step: 1 }),
        );
        await sink.close();
        await expectTable(keyed, [
          ['eu', 1n, '1.02'],
          ['eu', 2n, '3.00'],
          ['eu', 4n, '4.44'],
          ['eu', 5n, '5.55'],
          ['eu', 20n, '2.00'],
          ['us', 1n, '10.50'],
        ]);
      });

      it('applies an update without its old row as an upsert of its key: an existing row replaced, a new one added', async () => {
        const t = table('conf_upd_after', 'totals', [
          ['k', { kind: 'int64' }, false],
          ['n', { kind: 'int64' }, true],
        ]);
        const keyed: TableSchema = { ...t, primaryKey: ['k'] };
        const sink = await started('upd_after', [schemaEvent(keyed), ins(keyed, [1n, 1n]), ins(keyed, [2n, 1n])]);
        await writeAndCommit(
          sink,
          [updAfter(keyed, [1n, 5n]), updAfter(keyed, [3n, 1n]), updAfter(keyed, [1n, 6n])],
          checkpoint('upd_after', { step: 1 }),
        );
        await sink.close();
        await expectTable(keyed, [
          [1n, 6n],
          [2n, 1n],
          [3n, 1n],
        ]);
      });

      it('leaves exactly the last state per key of several operations in one checkpoint, in one batch or one event per batch', async () => {
        const one: TableSchema = { ...student, id: tableId('conf_last', 'one_batch') };
        const many: TableSchema = { ...student, id: tableId('conf_last', 'many_batches') };
        const sink = await started('last', [
          schemaEvent(one),
          ...studentLoad(one),
          schemaEvent(many),
          ...studentLoad(many),
        ]);
        await sink.write(studentChanges(one));
        for (const event of studentChanges(many)) await sink.write([event]);
        expect(sink.pending()).toBe(14);
        // Nothing of the commit is visible before it.
        expect((await actual(many))?.rows.map((r) => r[0])).toEqual(['1', '2', '3', '4']);
        await sink.commit(checkpoint('last', { step: 1 }));
        expect(sink.pending()).toBe(0);
        await sink.close();
        await expectTable(one, studentAfterChanges);
        await expectTable(many, studentAfterChanges);
      });

      it('follows chains and swaps of primary keys within one checkpoint', async () => {
        const keys: TableSchema = { ...student, id: tableId('conf_keys', 'student') };
        const sink = await started('keys', [schemaEvent(keys), ...studentLoad(keys)]);
        await writeAndCommit(
          sink,
          [
            // swap keys 1 and 2 through 100
            upd(keys, [1, 'student1', 65, '1'], [100, 'student1', 65, '1']),
            upd(keys, [2, 'student2', 75, '0'], [1, 'student2', 75, '0']),
            upd(keys, [100, 'student1', 65, '1'], [2, 'student1', 65, '1']),
            // a chain 3 → 30 → 31, and 3 inserted again
            upd(keys, [3, 'student3', 85, '1'], [30, 'student3', 85, '1']),
            upd(keys, [30, 'student3', 85, '1'], [31, 'student3', 86, '1']),
            ins(keys, [3, 'new3', 1, '0']),
            // 4 → 40, then 40 deleted
            upd(keys, [4, 'student4', 95, '0'], [40, 'student4', 95, '0']),
            del(keys, [40, 'student4', 95, '0']),
          ],
          checkpoint('keys', { step: 1 }),
        );
        await sink.close();
        await expectTable(keys, [
          [1, 'student2', 75, '0'],
          [2, 'student1', 65, '1'],
          [3, 'new3', 1, '0'],
          [31, 'student3', 86, '1'],
        ]);
      });

      it('quotes mixed-case and reserved names, and puts tables without a namespace into sink option `schema`', async () => {
        const order = table('', 'Order', [
          ['user', { kind: 'int32' }, false],
          ['Line', { kind: 'int32' }, false],
        ]);
        const keyed: TableSchema = { ...order, primaryKey: ['user', 'Line'] };
        const sink = open({ schema: 'Mart' });
        await sink.open('order');
        await writeAndCommit(
          sink,
          [schemaEvent(keyed), ins(keyed, [1, 1]), ins(keyed, [1, 2]), ins(keyed, [1, 1]), del(keyed, [1, 2])],
          checkpoint('order', { step: 1 }),
        );
        await sink.close();
        await expectTable({ ...keyed, id: tableId('Mart', 'Order') }, [[1, 1]]);
      });
    });

    describe('restart', () => {
      const items: TableSchema = { ...student, id: tableId('conf_restart', 'student') };

      it('re-opened after a commit, returns that checkpoint; replaying the committed batch changes nothing', async () => {
        const sink = open();
        expect(await sink.open('restart')).toBeNull();
        const batch = [schemaEvent(items), ...studentLoad(items), ...studentChanges(items)];
        const committed = checkpoint('restart', { file: 'mysql-bin.000001', pos: 900, gtid: 'a:1-7' });
        await writeAndCommit(sink, batch, committed);
        await sink.close();

        const again = open();
        expect(await again.open('restart')).toEqual(committed);
        await writeAndCommit(again, batch, checkpoint('restart', { pos: 901 }));
        await again.close();
        await expectTable(items, studentAfterChanges);
      });

      it('discards uncommitted work, schema changes included, when closed before the commit', async () => {
        const sink = open();
        const last = await sink.open('restart');
        const wider: TableSchema = { ...items, columns: [...items.columns, column('extra', { kind: 'string' })] };
        await sink.write([
          schemaEvent(items),
          ins(items, [7, 'student7', 70, '1']),
          schemaEvent(wider, 'addColumn'),
          upd(wider, [1, 'student1', 65, '1', null], [1, 'changed', 65, '1', 'x']),
        ]);
        await sink.close();

        const reopened = open();
        expect(await reopened.open('restart')).toEqual(last);
        await reopened.close();
        await expectTable(items, studentAfterChanges);
      });

      it('rolls back data, DDL and checkpoint together when a commit fails, and refuses work until re-opened', async () => {
        const other: TableSchema = { ...student, id: tableId('conf_restart', 'created_in_failed_commit') };
        const sink = open();
        const last = await sink.open('restart');
        const error = await caught(
          writeAndCommit(
            sink,
            [
              schemaEvent(items),
              ins(items, [7, 'student7', 70, '1']),
              upd(items, [1, 'student1', 65, '1'], [1, 'changed', 65, '1']),
              schemaEvent(other),
              ins(other, [1, 'x', 1, '1']),
              ins(items, [null, 'student8', 80, '1']), // a NULL key: the commit fails
            ],
            checkpoint('restart', { pos: 2000 }),
          ),
        );
        expect(error.code).toBe('SINK_WRITE_FAILED');
        expect(error.retryable).toBe(false);
        await expect(sink.write([ins(items, [9, 'a', 1, '1'])])).rejects.toThrow(/re-open/);
        await sink.close();

        await expectTable(items, studentAfterChanges);
        expect(await target.read(other.id)).toBeUndefined();
        const reopened = open();
        expect(await reopened.open('restart')).toEqual(last);
        await reopened.close();
      });

      it('stores the checkpoint of a thousand tables (schema history, snapshot progress, state) whole across commits, a failed commit and a reset', async () => {
        const sink = open();
        expect(await sink.open('bulk')).toBeNull();
        const first = manyTablesCheckpoint('bulk', { tablesDone: 0 });
        await sink.commit(first);
        await sink.close();

        const again = open();
        expect(await again.open('bulk')).toEqual(first);
        // Snapshot progress moves, one table's schema changes; then a commit with the same bulk.
        await writeAndCommit(again, [schemaEvent(items)], manyTablesCheckpoint('bulk', { tablesDone: 100 }));
        const changed = manyTablesCheckpoint('bulk', { tablesDone: 200, comment: 'changed' });
        await again.commit(changed);
        const same = { ...changed, id: changed.id + 1, position: { ...changed.position, pos: 7 } };
        await again.commit(same);
        // A commit that fails after new chunks were cut: nothing of it may count as stored.
        const failed = manyTablesCheckpoint('bulk', { tablesDone: 300, comment: 'failed' });
        const error = await caught(writeAndCommit(again, [ins(items, [null, 'x', 1, '1'])], failed));
        expect(error.code).toBe('SINK_WRITE_FAILED');
        await again.close();

        const third = open();
        expect(await third.open('bulk')).toEqual(same);
        const last = manyTablesCheckpoint('bulk', { tablesDone: 300, comment: 'failed' });
        await third.commit(last);
        await third.close();
        const fourth = open();
        expect(await fourth.open('bulk')).toEqual(last);
        await fourth.reset!('bulk');
        expect(await fourth.open('bulk')).toBeNull();
        await fourth.close();
      });

      it('reset() forgets the checkpoint and keeps the rows', async () => {
        const sink = open();
        await sink.reset!('restart');
        expect(await sink.open('restart')).toBeNull();
        await sink.close();
        await expectTable(items, studentAfterChanges);
      });

      it('refuses, on restart, a createTable whose column the existing table lacks (SINK_SCHEMA_MISMATCH)', async () => {
        const sink = open();
        await sink.open('restart');
        const wider: TableSchema = { ...items, columns: [...items.columns, column('colour', { kind: 'string' })] };
        const error = await caught(writeAndCommit(sink, [schemaEvent(wider)], checkpoint('restart', { pos: 3000 })));
        expect(error.code).toBe('SINK_SCHEMA_MISMATCH');
        expect(error.message).toContain('conf_restart.student');
        expect(error.message).toContain('colour');
        await sink.close();
      });
    });

    describe('schema changes: the target follows, rows before the change in the old shape and after it in the new', () => {
      const v1 = table('conf_schema', 'items', [
        ['id', { kind: 'int32' }, false],
        ['name', { kind: 'varchar', length: 8 }, false],
        ['qty', { kind: 'int16' }, true],
      ]);
      /** A table of its own per case, loaded with rows 1 and 2 and committed. */
      const load = async (name: string): Promise<{ sink: Sink; t: TableSchema; pipeline: string }> => {
        const t = { ...v1, id: tableId('conf_schema', name) };
        const pipeline = `schema-${name}`;
        const sink = await started(pipeline, [schemaEvent(t), ins(t, [1, 'one', 1]), ins(t, [2, 'two', 2])]);
        return { sink, t, pipeline };
      };
      const reshaped = (t: TableSchema, columns: Column[], extra: Partial<TableSchema> = {}): TableSchema => ({
        ...t,
        columns,
        ...extra,
      });

      it('addColumn: adds the column (nullable, at the end); old rows have NULL', async () => {
        const { sink, t, pipeline } = await load('add_column');
        const t2 = reshaped(t, [...t.columns, column('price', { kind: 'decimal', precision: 10, scale: 2 }, false)]);
        await writeAndCommit(
          sink,
          [
            upd(t, [1, 'one', 1], [1, 'uno', 1]),
            ins(t, [3, 'three', 3]),
            schemaEvent(t2, 'addColumn'),
            ins(t2, [4, 'four', 4, '9.99']),
            upd(t2, [2, 'two', 2, null], [2, 'two', 2, '1.00']),
          ],
          checkpoint(pipeline, { step: 1 }),
        );
        await sink.close();
        await expectTable(t2, [
          [1, 'uno', 1, null],
          [2, 'two', 2, '1.00'],
          [3, 'three', 3, null],
          [4, 'four', 4, '9.99'],
        ]);
      });

      it('addColumn with the source default: rows already there get it, by ALTER and by a rebuilt table; later rows their own', async () => {
        const { sink, t, pipeline } = await load('add_column_default');
        const withDefault = (name: string, type: Column['type'], defaultValue: string): Column => ({
          ...column(name, type),
          defaultValue,
        });
        const t2 = reshaped(t, [
          ...t.columns,
          { ...withDefault('n', { kind: 'int32' }, '42'), nullable: false },
          withDefault('price', { kind: 'decimal', precision: 10, scale: 2 }, '-1.50'),
          withDefault('note', { kind: 'varchar', length: 16 }, "it's \\ 'q'"),
          withDefault('at', { kind: 'timestamp', precision: 3 }, '2024-01-01 00:00:00.500'),
          withDefault('flags', { kind: 'bit', length: 4 }, '0101'),
          withDefault('span', { kind: 'time', precision: 0 }, '-01:02:03'),
          withDefault('tags', { kind: 'set', values: ['a', 'b'] }, 'a,b'),
          column('plain', { kind: 'int64' }), // a default that is an expression or NULL: no value
        ]);
        // Nothing written in the commit before the change: DuckDB alters the table in place.
        await writeAndCommit(
          sink,
          [schemaEvent(t2, 'addColumn'), ins(t2, [3, 'three', 3, 7, '9.99', 'own', null, '1111', '10:00:00', 'b', 5n])],
          checkpoint(pipeline, { step: 1 }),
        );
        // Rows written before the change in the same commit: DuckDB rebuilds the table, and the copy gets it too.
        const t3 = reshaped(t2, [...t2.columns, withDefault('label', { kind: 'string' }, 'new')]);
        await writeAndCommit(
          sink,
          [
            upd(
              t2,
              [2, 'two', 2, 42, '-1.50', "it's \\ 'q'", '2024-01-01 00:00:00.500', '0101', '-01:02:03', 'a,b', null],
              [2, 'two', 2, 1, '1.00', 'x', '2020-02-02 02:02:02.000', '0000', '00:00:00', '', 2n],
            ),
            schemaEvent(t3, 'addColumn'),
            ins(t3, [4, 'four', 4, 8, '0.01', 'y', null, '0001', '838:59:59', 'a', null, 'mine']),
          ],
          checkpoint(pipeline, { step: 2 }),
        );
        await sink.close();
        const defaults = [42, '-1.50', "it's \\ 'q'", '2024-01-01 00:00:00.500', '0101', '-01:02:03', 'a,b', null];
        await expectTable(t3, [
          [1, 'one', 1, ...defaults, 'new'],
          [2, 'two', 2, 1, '1.00', 'x', '2020-02-02 02:02:02.000', '0000', '00:00:00', '', 2n, 'new'],
          [3, 'three', 3, 7, '9.99', 'own', null, '1111', '10:00:00', 'b', 5n, 'new'],
          [4, 'four', 4, 8, '0.01', 'y', null, '0001', '838:59:59', 'a', null, 'mine'],
        ]);
      });

      it('dropColumn: drops the column and its data', async () => {
        const { sink, t, pipeline } = await load('drop_column');
        const t2 = reshaped(t, t.columns.slice(0, 2));
        await sink.write([upd(t, [1, 'one', 1], [1, 'one', 10]), ins(t, [3, 'three', 3])]);
        await writeAndCommit(
          sink,
          [schemaEvent(t2, 'dropColumn'), ins(t2, [4, 'four']), upd(t2, [2, 'two'], [2, 'deux'])],
          checkpoint(pipeline, { step: 1 }),
        );
        await sink.close();
        await expectTable(t2, [
          [1, 'one'],
          [2, 'deux'],
          [3, 'three'],
          [4, 'four'],
        ]);
      });

      it('renameColumn: renames the columns named in renamedColumns, keeping their data', async () => {
        const { sink, t, pipeline } = await load('rename_column');
        const t2 = reshaped(t, [
          t.columns[0]!,
          { ...t.columns[1]!, name: 'label' },
          { ...t.columns[2]!, name: 'count' },
        ]);
        await sink.write([upd(t, [2, 'two', 2], [2, 'two', 20])]);
        await writeAndCommit(
          sink,
          [
            schemaEvent(t2, 'renameColumn', {
              renamedColumns: [
                { from: 'name', to: 'label' },
                { from: 'qty', to: 'count' },
              ],
            }),
            ins(t2, [3, 'three', 3]),
          ],
          checkpoint(pipeline, { step: 1 }),
        );
        await sink.close();
        await expectTable(t2, [
          [1, 'one', 1],
          [2, 'two', 20],
          [3, 'three', 3],
        ]);
      });

      it('alterColumnType: converts the values, the key column included', async () => {
        const { sink, t, pipeline } = await load('alter_type');
        const t2 = reshaped(t, [
          column('id', { kind: 'int64' }, false),
          column('name', { kind: 'varchar', length: 64 }, false),
          column('qty', { kind: 'int64' }),
        ]);
        await sink.write([upd(t, [1, 'one', 1], [1, 'one', 11]), del(t, [2, 'two', 2])]);
        await writeAndCommit(
          sink,
          [
            schemaEvent(t2, 'alterColumnType'),
            ins(t2, [5_000_000_000n, 'a label longer than eight', 9_007_199_254_740_993n]),
            upd(t2, [1n, 'one', 11n], [1n, 'one', -9_223_372_036_854_775_808n]),
          ],
          checkpoint(pipeline, { step: 1 }),
        );
        await sink.close();
        await expectTable(t2, [
          [1n, 'one', -9_223_372_036_854_775_808n],
          [5_000_000_000n, 'a label longer than eight', 9_007_199_254_740_993n],
        ]);
      });

      it('relaxes NOT NULL when the source allows NULL', async () => {
        const { sink, t, pipeline } = await load('relax_not_null');
        const t2 = reshaped(t, [t.columns[0]!, { ...t.columns[1]!, nullable: true }, t.columns[2]!]);
        await sink.write([ins(t, [3, 'three', 3])]);
        await writeAndCommit(
          sink,
          [schemaEvent(t2, 'alterColumnType'), ins(t2, [4, null, 4]), upd(t2, [1, 'one', 1], [1, null, 1])],
          checkpoint(pipeline, { step: 1 }),
        );
        await sink.close();
        await expectTable(t2, [
          [1, null, 1],
          [2, 'two', 2],
          [3, 'three', 3],
          [4, null, 4],
        ]);
      });

      it('refreshTable: renames, drops, retypes and adds in one change', async () => {
        const { sink, t, pipeline } = await load('refresh');
        const t2 = reshaped(t, [
          t.columns[0]!,
          column('title', { kind: 'string' }, false),
          column('added', { kind: 'boolean' }),
        ]);
        await sink.write([upd(t, [2, 'two', 2], [2, 'zwei', 2])]);
        await writeAndCommit(
          sink,
          [
            schemaEvent(t2, 'refreshTable', { renamedColumns: [{ from: 'name', to: 'title' }] }),
            ins(t2, [3, 'three', true]),
          ],
          checkpoint(pipeline, { step: 1 }),
        );
        await sink.close();
        await expectTable(t2, [
          [1, 'one', null],
          [2, 'zwei', null],
          [3, 'three', true],
        ]);
      });

      it('truncateTable: empties the table; rows after it stay', async () => {
        const { sink, t, pipeline } = await load('truncate');
        await sink.write([ins(t, [3, 'three', 3])]);
        await writeAndCommit(
          sink,
          [schemaEvent(t, 'truncateTable'), ins(t, [4, 'four', 4])],
          checkpoint(pipeline, { step: 1 }),
        );
        await sink.close();
        await expectTable(t, [[4, 'four', 4]]);
      });

      it('dropTable: drops the table; a createTable after it in the same commit starts it anew', async () => {
        const { sink, t, pipeline } = await load('drop_table');
        await writeAndCommit(
          sink,
          [ins(t, [3, 'three', 3]), schemaEvent(t, 'dropTable'), schemaEvent(t), ins(t, [9, 'nine', 9])],
          checkpoint(pipeline, { step: 1 }),
        );
        await expectTable(t, [[9, 'nine', 9]]);
        await writeAndCommit(
          sink,
          [upd(t, [9, 'nine', 9], [9, 'neun', 9]), schemaEvent(t, 'dropTable')],
          checkpoint(pipeline, { step: 2 }),
        );
        await sink.close();
        expect(await target.read(t.id)).toBeUndefined();
      });

      it('renameTable: renames the table with its rows, within its schema and into another', async () => {
        const { sink, t, pipeline } = await load('rename_table');
        const renamed: TableSchema = { ...t, id: tableId('conf_schema', 'renamed_table') };
        await sink.write([upd(t, [1, 'one', 1], [1, 'eins', 1])]);
        await writeAndCommit(
          sink,
          [{ ...schemaEvent(renamed, 'renameTable'), table: t.id }, ins(renamed, [3, 'three', 3])],
          checkpoint(pipeline, { step: 1 }),
        );
        expect(await target.read(t.id)).toBeUndefined();
        await expectTable(renamed, [
          [1, 'eins', 1],
          [2, 'two', 2],
          [3, 'three', 3],
        ]);

        const moved: TableSchema = { ...t, id: tableId('conf_schema_moved', 'moved_table') };
        await writeAndCommit(
          sink,
          [
            del(renamed, [3, 'three', 3]),
            { ...schemaEvent(moved, 'renameTable'), table: renamed.id },
            upd(moved, [2, 'two', 2], [2, 'two', 22]),
          ],
          checkpoint(pipeline, { step: 2 }),
        );
        await sink.close();
        expect(await target.read(renamed.id)).toBeUndefined();
        await expectTable(moved, [
          [1, 'eins', 1],
          [2, 'two', 22],
        ]);
      });

      it('refuses a type change the data cannot take, with SINK_SCHEMA_CHANGE_FAILED, and keeps table and checkpoint', async () => {
        const { sink, t, pipeline } = await load('bad_type');
        const t2 = reshaped(t, [t.columns[0]!, column('name', { kind: 'int32' }, false), t.columns[2]!]);
        const last = checkpoint(pipeline, { step: 0 });
        const error = await caught(
          writeAndCommit(
            sink,
            [ins(t, [3, 'three', 3]), schemaEvent(t2, 'alterColumnType'), ins(t2, [4, 4, 4])],
            checkpoint(pipeline, { step: 1 }),
          ),
        );
        expect(error.code).toBe('SINK_SCHEMA_CHANGE_FAILED');
        expect(error.retryable).toBe(false);
        expect(error.message).toContain('conf_schema.bad_type');
        expect(error.message).toContain('name');
        expect(error.hint).toContain('--reset');
        await sink.close();
        await expectTable(t, [
          [1, 'one', 1],
          [2, 'two', 2],
        ]);
        const reopened = open();
        expect((await reopened.open(pipeline))?.position).toEqual(last.position);
        await reopened.close();
      });

      it('a failed schema change is undone, its write reports the event, and the transaction goes on (try_evolve)', async () => {
        const { sink, t, pipeline } = await load('undone_type');
        const t2 = reshaped(t, [t.columns[0]!, column('name', { kind: 'int32' }, false), t.columns[2]!]);
        const alter = schemaEvent(t2, 'alterColumnType');
        await sink.write([upd(t, [1, 'one', 1], [1, 'uno', 1]), ins(t, [3, 'three', 3])]);
        const error = await caught(sink.write([ins(t, [4, 'four', 4]), alter, ins(t2, [5, 5, 5])]));
        expect(error).toBeInstanceOf(SchemaChangeFailedError);
        expect(error.code).toBe('SINK_SCHEMA_CHANGE_FAILED');
        expect((error as SchemaChangeFailedError).event).toBe(alter);
        // The rows after the refused change come in the table's old shape, as the schema-evolution stage sends them.
        await sink.write([ins(t, [5, 'five', 5]), del(t, [2, 'two', 2])]);
        await sink.commit(checkpoint(pipeline, { step: 1 }));
        await sink.close();
        await expectTable(t, [
          [1, 'uno', 1],
          [3, 'three', 3],
          [4, 'four', 4],
          [5, 'five', 5],
        ]);
        const reopened = open();
        expect((await reopened.open(pipeline))?.position).toEqual({ step: 1 });
        await reopened.close();
      });

      it('commits the operators’ state with the checkpoint, and returns it on open', async () => {
        const { sink, t, pipeline } = await load('operator_state');
        const operators = [
          { stage: 'schema-evolution', version: 1, targets: [{ id: t.id, schema: t, shards: [] }] },
          null,
        ];
        await writeAndCommit(sink, [ins(t, [3, 'three', 3])], { ...checkpoint(pipeline, { step: 1 }), operators });
        await sink.close();
        const reopened = open();
        expect((await reopened.open(pipeline))?.operators).toEqual(operators);
        await reopened.close();
      });
    });
  });
}

/** A table of columns given as [name, type, nullable], keyed by its first column. */
function table(namespace: string, name: string, columns: [string, Column['type'], boolean][]): TableSchema {
  return {
    id: tableId(namespace, name),
    columns: columns.map(([n, type, nullable]) => column(n, type, nullable)),
    primaryKey: [columns[0]![0]],
  };
}

function column(name: string, type: Column['type'], nullable = true): Column {
  return { name, type, nullable };
}

/** Rows in key order: numbers by value, anything else as text. */
function sortRows(schema: TableSchema, rows: readonly (readonly (string | null)[])[]): (string | null)[][] {
  const keys = schema.primaryKey.map((k) => schema.columns.findIndex((c) => c.name === k));
  const compare = (a: string | null, b: string | null): number => {
    if (a === b) return 0;
    if (a === null) return -1;
    if (b === null) return 1;
    if (/^-?\d+$/.test(a) && /^-?\d+$/.test(b)) return BigInt(a) < BigInt(b) ? -1 : 1;
    return a < b ? -1 : 1;
  };
  return rows
    .map((r) => [...r])
    .sort((x, y) => {
      for (const i of keys) {
        const order = compare(x[i] ?? null, y[i] ?? null);
        if (order !== 0) return order;
      }
      return 0;
    });
}
