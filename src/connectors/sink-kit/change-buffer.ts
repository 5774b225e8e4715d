import type { ChangeEvent, DataChangeEvent, SchemaChangeEvent } from '../../core/change-event.js';
import type { Row } from '../../core/data-type.js';
import type { TableId, TableSchema } from '../../core/table-schema.js';
import { keyIndexesOf, rowKey } from './row-key.js';
import { SchemaTracker, tableKey } from './schema-tracker.js';

/**
 * The net effect of a run of one table's data changes, all in one schema: per primary key, the last state in
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
  /**
   * True while no `update` event joined the run: every upsert is a snapshot `read` or an `insert`, so its key
   * is most likely new to the target and a sink may try a plain append (falling back to an upsert if a key
   * exists after all). A hint, not a promise.
   */
  readonly insertsOnly: boolean;
}

/** A run under construction: {@link TableChanges} whose `insertsOnly` the buffer may still clear. */
type OpenTableChanges = { -readonly [K in keyof TableChanges]: TableChanges[K] };

/**
 * One step of applying what was buffered, in an order that keeps each table's history: a table's schema change
 * comes after the rows that preceded it and before the rows that follow it. Steps of different tables are
 * independent.
 */
export type ApplyStep =
  | { readonly kind: 'schema'; readonly event: SchemaChangeEvent; readonly previous: TableSchema | undefined }
  | { readonly kind: 'data'; readonly changes: TableChanges };

/**
 * Collapses events per table and primary key as they are added: `add` events, `drain` the steps that apply
 * them. Memory grows with the number of distinct keys touched between drains, not with the number of events.
 * Knows each table's current schema (from its schema events, kept across drains) to find the key in a row.
 */
export class ChangeBuffer {
  private steps: ApplyStep[] = [];
  /** The run of data changes that the next data event of a table joins, until that table's next schema change. */
  private readonly open = new Map<string, OpenTableChanges>();
  private readonly schemas = new SchemaTracker();
  private count = 0;

  /** Adds events in source order; throws TributaryError for a row of a table without schema or key. */
  add(events: readonly ChangeEvent[]): void {
    for (const event of events) {
      if (event.kind === 'schema') this.addSchema(event);
      else this.addData(event);
      this.count++;
    }
  }

  /** Events added since the last {@link drain}. */
  pending(): number {
    return this.count;
  }

  /** Hands over the steps of what was added and starts anew; table schemas are kept. */
  drain(): ApplyStep[] {
    const steps = this.steps;
    this.steps = [];
    this.open.clear();
    this.count = 0;
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
        insertsOnly: true,
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
        changes.insertsOnly = false;
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
