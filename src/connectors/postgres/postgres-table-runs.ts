import type { ChangeEvent, DataChangeEvent, SchemaChangeEvent } from '../../core/change-event.js';
import type { TableSchema } from '../../core/table-schema.js';
import { tableKey, type SchemaTracker } from '../sink-kit/schema-tracker.js';

/** A table's data changes of one batch, all in one schema, each with its sequence number. */
export interface TableRun {
  readonly schema: TableSchema;
  readonly events: DataChangeEvent[];
  /** `seqs[i]` belongs to `events[i]`; numbers follow the batch's order across all tables. */
  readonly seqs: number[];
}

export interface TableRunHandlers {
  /** Writes one run. Runs of different tables are independent; a table's runs come in source order. */
  run(run: TableRun): Promise<void>;
  /** Applies a schema change, after every earlier run of its table was written. */
  schema(event: SchemaChangeEvent, previous: TableSchema | undefined): Promise<void>;
}

/**
 * Splits a batch into one run per table, cut at the table's schema changes, so each run can go out with one
 * COPY while every table keeps its own order of rows and schema changes. `nextSeq` numbers the data events in
 * batch order (across tables). Updates `schemas` as schema events pass.
 */
export async function writeInRuns(
  events: readonly ChangeEvent[],
  schemas: SchemaTracker,
  nextSeq: () => number,
  handlers: TableRunHandlers,
): Promise<void> {
  const open = new Map<string, TableRun>();
  const close = async (key: string): Promise<void> => {
    const run = open.get(key);
    if (run === undefined) return;
    open.delete(key);
    await handlers.run(run);
  };
  for (const event of events) {
    if (event.kind === 'data') {
      const key = tableKey(event.table);
      let run = open.get(key);
      if (run === undefined) {
        run = { schema: schemas.schemaOf(event.table), events: [], seqs: [] };
        open.set(key, run);
      }
      run.events.push(event);
      run.seqs.push(nextSeq());
      continue;
    }
    await close(tableKey(event.table));
    await close(tableKey(event.schema.id));
    const previous = schemas.apply(event);
    await handlers.schema(event, previous);
  }
  for (const key of [...open.keys()]) await close(key);
}
