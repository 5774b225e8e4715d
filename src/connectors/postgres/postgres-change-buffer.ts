import type { ChangeEvent, DataChangeEvent, SchemaChangeEvent } from '../../core/change-event.js';
import type { Row, Value } from '../../core/data-type.js';
import { TributaryError } from '../../core/errors.js';
import { primaryKeyIndexes, tableIdToString, type TableId, type TableSchema } from '../../core/table-schema.js';
import { PostgresSchemaTracker, tableKey } from './postgres-schema-tracker.js';

/**
 * The net effect of a run of one table's data changes (within one batch), all in one schema: per primary key, the last state in
 * source order. A key is in at most one of the two maps.
 */
export interface TableChanges {
  readonly table: TableId;
  /** The schema the rows follow (the one in force when the run started). */
  readonly schema: TableSchema;
  readonly keyIndexes: readonly number[];
  /** Keys whose last state is a row: inserted, updated or read. */
  readonly upserts: Map<unknown, Row>;
  /** Keys whose last state is "absent"; the row holds at least the key values. */
  readonly deletes: Map<unknown, Row>;
}

/**
 * One step of applying a batch, in an order that keeps each table's history: a table's schema change comes after the
 * rows that preceded it and before the rows that follow it. Steps of different tables are independent.
 */
export type ApplyStep =
  | { readonly kind: 'schema'; readonly event: SchemaChangeEvent; readonly previous: TableSchema | undefined }
  | { readonly kind: 'data'; readonly changes: TableChanges };

/**
 * Collapses one batch of events per table and primary key (upsert mode): `add` a batch, `drain` the steps
 * that apply it. Memory grows with the batch, never with the checkpoint interval. Knows each table's current
 * schema (from its schema events, kept across batches) to find the key in a row.
 */
export class PostgresChangeBuffer {
  private steps: ApplyStep[] = [];
  /** The run of data changes that the next data event of a table joins, until that table's next schema change. */
  private readonly open = new Map<string, TableChanges>();
  private readonly schemas = new PostgresSchemaTracker();

  /** Adds events in source order; throws TributaryError for a row of a table without schema or key. */
  add(events: readonly ChangeEvent[]): void {
    for (const event of events) {
      if (event.kind === 'schema') this.addSchema(event);
      else this.addData(event);
    }
  }

  /** Hands over the steps of what was added and starts anew; table schemas are kept. */
  drain(): ApplyStep[] {
    const steps = this.steps;
    this.steps = [];
    this.open.clear();
    return steps;
  }

  /** Forgets everything, schemas included (a re-opened stream starts with createTable events again). */
  reset(): void {
    this.drain();
    this.schemas.clear();
  }

  private addSchema(event: SchemaChangeEvent): void {
    this.open.delete(tableKey(event.table));
    this.open.delete(tableKey(event.schema.id));
    const previous = this.schemas.apply(event);
    this.steps.push({ kind: 'schema', event, previous });
  }

  private addData(event: DataChangeEvent): void {
    const key = tableKey(event.table);
    let changes = this.open.get(key);
    if (changes === undefined) {
      const schema = this.schemas.schemaOf(event.table);
      changes = {
        table: event.table,
        schema,
        keyIndexes: keyIndexesOf(schema),
        upserts: new Map(),
        deletes: new Map(),
      };
      this.open.set(key, changes);
      this.steps.push({ kind: 'data', changes });
    }
    const indexes = changes.keyIndexes;
    switch (event.op) {
      case 'read':
      case 'insert':
        if (event.after !== null) upsert(changes, rowKey(event.after, indexes), event.after);
        break;
      case 'update':
        if (event.after === null) break;
        if (event.before !== null) {
          const oldKey = rowKey(event.before, indexes);
          const newKey = rowKey(event.after, indexes);
          if (oldKey !== newKey) remove(changes, oldKey, event.before);
          upsert(changes, newKey, event.after);
        } else {
          upsert(changes, rowKey(event.after, indexes), event.after);
        }
        break;
      case 'delete':
        if (event.before !== null) remove(changes, rowKey(event.before, indexes), event.before);
        break;
    }
  }
}

function upsert(changes: TableChanges, key: unknown, row: Row): void {
  changes.deletes.delete(key);
  changes.upserts.set(key, row);
}

function remove(changes: TableChanges, key: unknown, row: Row): void {
  changes.upserts.delete(key);
  changes.deletes.set(key, row);
}

export function keyIndexesOf(schema: TableSchema): number[] {
  if (schema.primaryKey.length === 0) {
    throw new TributaryError('SINK_SCHEMA_MISMATCH', `table ${tableIdToString(schema.id)} has no primary key`, {
      hint: 'the postgres sink merges changes by primary key: add one to the source table, or exclude the table from the pipeline',
    });
  }
  return primaryKeyIndexes(schema);
}

/**
 * A Map key that is equal for equal key values: the value itself for a one-column key of a primitive type
 * (Map compares numbers, bigints and strings by value), otherwise an unambiguous length-prefixed string.
 */
export function rowKey(row: Row, indexes: readonly number[]): unknown {
  if (indexes.length === 1) {
    const value = row[indexes[0]!] ?? null;
    return value instanceof Uint8Array ? keyPart(value) : value;
  }
  let key = '';
  for (const index of indexes) {
    const part = keyPart(row[index] ?? null);
    key += `${part.length}:${part}`;
  }
  return key;
}

function keyPart(value: Value): string {
  if (value === null) return 'n';
  if (value instanceof Uint8Array)
    return 'x' + Buffer.from(value.buffer, value.byteOffset, value.byteLength).toString('hex');
  switch (typeof value) {
    case 'string':
      return 's' + value;
    case 'number':
    case 'bigint':
      // A bigint and a number of the same value are the same key: the column is one type either way.
      return 'i' + String(value);
    default:
      return 'b' + String(value);
  }
}
