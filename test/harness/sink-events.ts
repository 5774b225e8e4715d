import { expect } from 'vitest';
import { dataChange, type ChangeEvent, type SchemaChangeEvent, type SourceInfo } from '../../src/core/change-event.js';
import type { Row } from '../../src/core/data-type.js';
import { TributaryError } from '../../src/core/errors.js';
import type { Checkpoint, Sink } from '../../src/core/sink.js';
import { tableId, type TableSchema } from '../../src/core/table-schema.js';

/** Events and checkpoints for driving a Sink directly, as the runtime would. */

export const snapshotSource: SourceInfo = { tsMs: 0 };

export const schemaEvent = (
  schema: TableSchema,
  change: SchemaChangeEvent['change'] = 'createTable',
  extra: Partial<SchemaChangeEvent> = {},
): SchemaChangeEvent => ({ kind: 'schema', table: schema.id, change, schema, source: snapshotSource, ...extra });
export const ins = (schema: TableSchema, row: Row): ChangeEvent =>
  dataChange(schema.id, 'insert', null, row, snapshotSource);
export const upd = (schema: TableSchema, before: Row, after: Row): ChangeEvent =>
  dataChange(schema.id, 'update', before, after, snapshotSource);
/** An update without its old row: a SQL job's group replaced by key, a postgres-cdc row without REPLICA IDENTITY FULL. */
export const updAfter = (schema: TableSchema, after: Row): ChangeEvent =>
  dataChange(schema.id, 'update', null, after, snapshotSource);
export const del = (schema: TableSchema, before: Row): ChangeEvent =>
  dataChange(schema.id, 'delete', before, null, snapshotSource);

let checkpointId = 0;
/** A new checkpoint of `pipeline` (ids increase across the test file). */
export const checkpoint = (pipeline: string, position: Record<string, unknown>): Checkpoint => ({
  pipeline,
  id: ++checkpointId,
  position,
  committedAt: new Date().toISOString(),
});

/** The TributaryError `promise` rejects with; fails the test if it resolves or throws anything else. */
export async function caught(promise: Promise<unknown>): Promise<TributaryError> {
  try {
    await promise;
  } catch (error) {
    expect(error).toBeInstanceOf(TributaryError);
    return error as TributaryError;
  }
  throw new Error('expected a TributaryError');
}

/** Write, then commit: depending on the sink and mode a bad value fails the one or the other. */
export async function writeAndCommit(sink: Sink, events: readonly ChangeEvent[], committed: Checkpoint): Promise<void> {
  await sink.write(events);
  await sink.commit(committed);
}

/** The student table of fixtures/scenarios/student, in the sink's default schema. */
export const student: TableSchema = {
  id: tableId('', 'student'),
  columns: [
    { name: 'id', type: { kind: 'int32' }, nullable: false },
    { name: 'name', type: { kind: 'varchar', length: 32 }, nullable: true },
    { name: 'score', type: { kind: 'int32' }, nullable: true },
    { name: 'sex', type: { kind: 'char', length: 1 }, nullable: true },
  ],
  primaryKey: ['id'],
};

/** The scenario's source.sql as events. */
export const studentLoad = (schema: TableSchema = student): ChangeEvent[] => [
  ins(schema, [1, 'student1', 65, '1']),
  ins(schema, [2, 'student2', 75, '0']),
  ins(schema, [3, 'student3', 85, '1']),
  ins(schema, [4, 'student4', 95, '0']),
];
/** The scenario's changes.sql as events: several operations on one key. */
export const studentChanges = (schema: TableSchema = student): ChangeEvent[] => [
  upd(schema, [2, 'student2', 75, '0'], [2, 'student2', 75, '1']),
  upd(schema, [3, 'student3', 85, '1'], [3, 'student3', null, null]),
  upd(schema, [4, 'student4', 95, '0'], [4, 'student4', null, null]),
  ins(schema, [5, 'student5', 50, '1']),
  upd(schema, [5, 'student5', 50, '1'], [5, 'student5', 55, '1']),
  del(schema, [5, 'student5', 55, '1']),
  ins(schema, [6, 'student6', 60, '0']),
];
export const studentAfterChanges = [
  [1, 'student1', 65, '1'],
  [2, 'student2', 75, '1'],
  [3, 'student3', null, null],
  [4, 'student4', null, null],
  [6, 'student6', 60, '0'],
];

/** Every canonical type, for round trips. */
export const allTypes: TableSchema = {
  id: tableId('Types Schema', 'All Types'),
  columns: [
    { name: 'id', type: { kind: 'int64' }, nullable: false },
    { name: 'bool', type: { kind: 'boolean' }, nullable: true },
    { name: 'i8', type: { kind: 'int8' }, nullable: true },
    { name: 'u8', type: { kind: 'uint8' }, nullable: true },
    { name: 'i16', type: { kind: 'int16' }, nullable: true },
    { name: 'u16', type: { kind: 'uint16' }, nullable: true },
    { name: 'i32', type: { kind: 'int32' }, nullable: true },
    { name: 'u32', type: { kind: 'uint32' }, nullable: true },
    { name: 'u64', type: { kind: 'uint64' }, nullable: true },
    { name: 'dec', type: { kind: 'decimal', precision: 65, scale: 30 }, nullable: true },
    { name: 'dec38', type: { kind: 'decimal', precision: 38, scale: 10 }, nullable: true },
    { name: 'dec7', type: { kind: 'decimal', precision: 7, scale: 2 }, nullable: true },
    { name: 'f', type: { kind: 'float' }, nullable: true },
    { name: 'd', type: { kind: 'double' }, nullable: true },
    { name: 'ch', type: { kind: 'char', length: 3 }, nullable: true },
    { name: 'Select', type: { kind: 'varchar', length: 64 }, nullable: true },
    { name: 'txt', type: { kind: 'string' }, nullable: true },
    { name: 'bin', type: { kind: 'binary', length: 4 }, nullable: true },
    { name: 'blob', type: { kind: 'bytes' }, nullable: true },
    { name: 'dt', type: { kind: 'date' }, nullable: true },
    { name: 'tm', type: { kind: 'time', precision: 6 }, nullable: true },
    { name: 'ts', type: { kind: 'timestamp', precision: 6 }, nullable: true },
    { name: 'tstz', type: { kind: 'timestamptz', precision: 6 }, nullable: true },
    { name: 'yr', type: { kind: 'year' }, nullable: true },
    { name: 'js', type: { kind: 'json' }, nullable: true },
    { name: 'en', type: { kind: 'enum', values: ['small', 'large'] }, nullable: true },
    { name: 'st', type: { kind: 'set', values: ['a', 'b', 'c'] }, nullable: true },
    { name: 'bits', type: { kind: 'bit', length: 5 }, nullable: true },
  ],
  primaryKey: ['id'],
};
/** Extremes: int64 and uint64 limits, 65 decimal digits, microseconds, emoji, bytes, JSON numbers beyond 2^53. */
export const allTypesFull: Row = [
  9223372036854775807n,
  true,
  -128,
  255,
  -32768,
  65535,
  -2147483648,
  4294967295,
  18446744073709551615n,
  '-12345678901234567890123456789012345.123456789012345678901234567890',
  '-1234567890123456789012345678.1234567890',
  '27.02',
  Math.fround(0.1),
  Math.PI,
  'ab',
  'tab\there\nnew line\r\\back\\slash 🦀 Grüße 北京',
  'x'.repeat(100_000),
  new Uint8Array([0, 0xff, 0x5c, 0x0a]),
  new Uint8Array(Array.from({ length: 300 }, (_, i) => i % 256)),
  '2024-02-29',
  '-838:59:59.000001',
  '2038-01-19 03:14:07.999999',
  '1970-01-01 00:00:00.000001Z',
  2155,
  '{"b":1,"a":[1.50,"x\\ty",12345678901234567890,-9007199254740993]}',
  'large',
  'a,c',
  '10101',
];
/** The smallest key, every other column NULL. */
export const allTypesEmpty: Row = [-9223372036854775808n, ...allTypes.columns.slice(1).map(() => null)];
/** Zeros, empty strings and bytes, NaN and infinity, the first and last dates. */
export const allTypesSpecial: Row = [
  1n,
  false,
  0,
  0,
  0,
  0,
  0,
  0,
  0n,
  '0.000000000000000000000000000001',
  '0.0000000001',
  '-0.01',
  Number.NaN,
  Number.NEGATIVE_INFINITY,
  '',
  '',
  '',
  new Uint8Array([]),
  new Uint8Array([]),
  '0001-01-01',
  '00:00:00.000000',
  '0001-01-01 00:00:00.000000',
  '9999-12-31 23:59:59.999999Z',
  1901,
  '[]',
  'small',
  '',
  '00000',
];

/**
 * A checkpoint as the MySQL source and the schema-evolution stage make it for 1,000 tables: megabytes of schema
 * history and state, snapshot progress that shrinks as tables finish, an optional change to one table's schema.
 */
export function manyTablesCheckpoint(pipeline: string, at: { tablesDone: number; comment?: string }): Checkpoint {
  const names = Array.from({ length: 1000 }, (_, i) => `shop.t${String(i).padStart(4, '0')}`);
  const schemaOf = (name: string, i: number): TableSchema => ({
    id: tableId('shop', name.slice(5)),
    columns: [
      { name: 'id', type: { kind: 'int32' }, nullable: false },
      {
        name: 'name',
        type: { kind: 'string' },
        nullable: true,
        ...(i === 500 && at.comment !== undefined ? { defaultValue: at.comment } : {}),
      },
      { name: 'note', type: { kind: 'string' }, nullable: true },
    ],
    primaryKey: ['id'],
  });
  const schemas = names.map(schemaOf);
  const state = {
    stage: 'schema-evolution',
    version: 1,
    targets: schemas.map((schema) => ({ id: schema.id, schema, shards: [] })),
  };
  return {
    ...checkpoint(pipeline, {
      kind: 'mysql',
      binlog: { file: 'mysql-bin.000001', pos: 4 + at.tablesDone, skipRows: 0 },
      snapshot: { tables: names.slice(at.tablesDone).map((table) => ({ table, doneUpTo: null, doneChunks: [] })) },
      capturedTables: names,
      schemas: { tables: Object.fromEntries(names.map((n, i) => [n, { schema: schemas[i], charsets: ['utf8mb4'] }])) },
      serverUuid: 'server-id:1',
    }),
    operators: [null, state],
  };
}
