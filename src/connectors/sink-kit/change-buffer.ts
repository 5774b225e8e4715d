import type { DataChangeEvent, SchemaChangeEvent } from '../../core/change-event.js';
import type { Row } from '../../core/data-type.js';
import { eventCount, unpackRows, type PackedRows, type StreamEvent } from '../../core/packed-rows.js';
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
  /** Keys whose last state is a row: inserted, updated or read. Built on first use for a run of reads alone. */
  readonly upserts: Map<unknown, Row>;
  /** How many rows {@link upserts} holds, or (for a run of reads alone) how many reads, without building it. */
  readonly upsertCount: number;
  /**
   * For a run of snapshot `read` events alone: the rows in source order, not collapsed by key — a snapshot
   * chunk holds each key once, so collapsing would only cost CPU. A sink may write them as they are where a
   * repeated key fails loudly (a COPY into a table with its primary key: unique violation) and then fall back to
   * {@link upserts}, which collapses them (the last state wins) as for any other run. Packed runs of reads stay
   * packed here ({@link isRow} tells a row from one). Undefined otherwise.
   */
  readonly uncollapsedReads: readonly (Row | PackedRows)[] | undefined;
  /** Keys whose last state is "absent"; the row holds at least the key values. */
  readonly deletes: Map<unknown, Row>;
  /**
   * True while no `update` event joined the run: every upsert is a snapshot `read` or an `insert`, so its key
   * is most likely new to the target and a sink may try a plain append (falling back to an upsert if a key
   * exists after all). A hint, not a promise.
   */
  readonly insertsOnly: boolean;
}

/**
 * A run under construction. Reads that arrive while the run has nothing else are only listed (`reads`); the
 * first event of another kind, or the first use of `upserts`, keys them in order.
 */
class OpenTableChanges implements TableChanges {
  readonly deletes = new Map<unknown, Row>();
  insertsOnly = true;
  private readonly keyed = new Map<unknown, Row>();
  private reads: (Row | PackedRows)[] | undefined = [];
  /** Rows in {@link reads} (a packed run counts its rows). */
  private readCount = 0;

  constructor(
    readonly table: TableId,
    readonly schema: TableSchema,
    readonly keyIndexes: readonly number[],
  ) {}

  get upserts(): Map<unknown, Row> {
    this.keyReads();
    return this.keyed;
  }

  get upsertCount(): number {
    return this.reads !== undefined && this.reads.length > 0 ? this.readCount : this.keyed.size;
  }

  get uncollapsedReads(): readonly (Row | PackedRows)[] | undefined {
    return this.reads !== undefined && this.reads.length > 0 ? this.reads : undefined;
  }

  read(row: Row): void {
    if (this.reads !== undefined) {
      this.reads.push(row);
      this.readCount++;
    } else this.upsert(rowKey(row, this.keyIndexes), row);
  }

  readPacked(rows: PackedRows): void {
    if (this.reads !== undefined) {
      this.reads.push(rows);
      this.readCount += rows.length;
      return;
    }
    for (const row of unpackRows(rows)) this.upsert(rowKey(row, this.keyIndexes), row);
  }

  upsert(key: unknown, row: Row): void {
    this.keyReads();
    this.deletes.delete(key);
    this.keyed.set(key, row);
  }

  remove(key: unknown, row: Row): void {
    this.keyReads();
    this.keyed.delete(key);
    this.deletes.set(key, row);
  }

  /** From now on every row is keyed as it comes; the reads listed so far first, in their order. */
  private keyReads(): void {
    const reads = this.reads;
    if (reads === undefined) return;
    this.reads = undefined;
    for (const read of reads) {
      if (isRow(read)) this.keyed.set(rowKey(read, this.keyIndexes), read);
      else for (const row of unpackRows(read)) this.keyed.set(rowKey(row, this.keyIndexes), row);
    }
  }
}

/** Whether an entry of {@link TableChanges.uncollapsedReads} is a row (else a packed run of rows, or a slice of one). */
export function isRow<Other extends object>(read: Row | Other): read is Row {
  return Array.isArray(read);
}

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
  /** The table of the last data event and its open run: a run of one table's rows finds it without a key. */
  private lastTable: TableId | undefined;
  private lastChanges: OpenTableChanges | undefined;

  /**
   * Adds events in source order (packed snapshot reads too, counted by their rows); throws TributaryError for a
   * row of a table without schema or key.
   */
  add(events: readonly StreamEvent[]): void {
    for (const event of events) {
      if (event.kind === 'schema') this.addSchema(event);
      else if (event.kind === 'packed') this.runOf(event.table).readPacked(event.rows);
      else this.addData(event);
      this.count += eventCount(event);
    }
  }

  /** Events added since the last {@link drain}. */
  pending(): number {
    return this.count;
  }

  /**
   * The rows that writing what was added would write: per run of a table, its keys (a key changed many times
   * counts once), or its reads as listed. Counted over the runs (one per table and schema), not kept.
   */
  rows(): number {
    let rows = 0;
    for (const step of this.steps)
      if (step.kind === 'data') rows += step.changes.upsertCount + step.changes.deletes.size;
    return rows;
  }

  /** Hands over the steps of what was added and starts anew; table schemas are kept. */
  drain(): ApplyStep[] {
    const steps = this.steps;
    this.steps = [];
    this.open.clear();
    this.lastTable = this.lastChanges = undefined;
    this.count = 0;
    return steps;
  }

  /** Forgets everything, schemas included (a re-opened stream starts with createTable events again). */
  reset(): void {
    this.drain();
    this.schemas.clear();
  }

  private addSchema(event: SchemaChangeEvent): void {
    this.lastTable = this.lastChanges = undefined;
    this.open.delete(tableKey(event.table));
    this.open.delete(tableKey(event.schema.id));
    const previous = this.schemas.apply(event);
    this.steps.push({ kind: 'schema', event, previous });
  }

  /** The open run of `table` (the last one used, found without a key). */
  private runOf(table: TableId): OpenTableChanges {
    let changes = table === this.lastTable ? this.lastChanges : undefined;
    if (changes === undefined) {
      changes = this.openRun(table);
      this.lastTable = table;
      this.lastChanges = changes;
    }
    return changes;
  }

  private addData(event: DataChangeEvent): void {
    const changes = this.runOf(event.table);
    const indexes = changes.keyIndexes;
    switch (event.op) {
      case 'read':
        if (event.after !== null) changes.read(event.after);
        break;
      case 'insert':
        if (event.after !== null) changes.upsert(rowKey(event.after, indexes), event.after);
        break;
      case 'update':
        if (event.after === null) break;
        changes.insertsOnly = false;
        if (event.before !== null) {
          const oldKey = rowKey(event.before, indexes);
          const newKey = rowKey(event.after, indexes);
          if (oldKey !== newKey) changes.remove(oldKey, event.before);
          changes.upsert(newKey, event.after);
        } else {
          changes.upsert(rowKey(event.after, indexes), event.after);
        }
        break;
      case 'delete':
        if (event.before !== null) changes.remove(rowKey(event.before, indexes), event.before);
        break;
    }
  }

  /** The run the table's next data event joins, opened (as the next step) when there is none. */
  private openRun(table: TableId): OpenTableChanges {
    const key = tableKey(table);
    let changes = this.open.get(key);
    if (changes === undefined) {
      const schema = this.schemas.schemaOf(table);
      changes = new OpenTableChanges(table, schema, keyIndexesOf(schema));
      this.open.set(key, changes);
      this.steps.push({ kind: 'data', changes });
    }
    return changes;
  }
}
