import type { SchemaChangeEvent } from '../../core/change-event.js';
import { TributaryError, type SchemaChangeFailedError } from '../../core/errors.js';
import { tableIdToString, type TableId, type TableSchema } from '../../core/table-schema.js';

/**
 * Each table's schema in force, from the schema events seen so far, so that a row can be read (its key found,
 * its columns named). Kept across commits; cleared when the sink is re-opened, since a re-opened stream starts
 * with createTable events again.
 */
export class SchemaTracker {
  private readonly schemas = new Map<string, TableSchema>();

  /** Records the table's schema after `event` and returns the one before it (undefined for a new table). */
  apply(event: SchemaChangeEvent): TableSchema | undefined {
    const key = tableKey(event.table);
    const previous = this.schemas.get(key);
    if (event.change === 'dropTable') this.schemas.delete(key);
    else this.schemas.set(key, event.schema);
    if (event.change === 'renameTable' && tableKey(event.schema.id) !== key) {
      this.schemas.delete(key);
      this.schemas.set(tableKey(event.schema.id), event.schema);
    }
    return previous;
  }

  /** The schema rows of `table` follow now; INTERNAL if a row came before its table's createTable event. */
  schemaOf(table: TableId): TableSchema {
    const schema = this.schemas.get(tableKey(table));
    if (schema === undefined) {
      throw new TributaryError('INTERNAL', `rows of ${tableIdToString(table)} arrived before its createTable event`);
    }
    return schema;
  }

  clear(): void {
    this.schemas.clear();
  }
}

/** A Map key for a table id (exact: case and all). */
export function tableKey(id: TableId): string {
  return `${id.namespace}\u0000${id.name}`;
}

/**
 * After a schema change failed and was undone: the createTable that tells a writer's tracker (which took the
 * failed change in when the event was added) what the table is again — the schema it had before. Applied, it
 * only checks that the table fits. Undefined when the table had no schema before.
 */
export function redeclareBefore(failure: SchemaChangeFailedError): SchemaChangeEvent | undefined {
  const { event, previous } = failure;
  if (previous === undefined) return undefined;
  return { kind: 'schema', table: event.table, change: 'createTable', schema: previous, source: event.source };
}
