import type { StreamEvent } from '../core/packed-rows.js';
import { tableIdToString, type TableId } from '../core/table-schema.js';

/**
 * The distinct tables the sink's open transaction has been handed since the last commit, against the bound
 * of the attempt (the sink's `maxTablesPerCommit`, maybe shrunk by the retry policy). Tables are counted by
 * their source name, before routing: routes merge tables and never split one, so the sink touches at most
 * as many tables as are counted here.
 */
export class TableBudget {
  private readonly touched = new Set<string>();

  constructor(readonly max: number | undefined) {}

  /** Whether handing over `events` as well would take the transaction past the bound. */
  wouldOverflow(events: readonly StreamEvent[]): boolean {
    if (this.max === undefined) return false;
    const added = new Set<string>();
    let last: TableId | undefined;
    for (const event of events) {
      if (event.table !== last) {
        const key = tableIdToString(event.table);
        if (!this.touched.has(key)) added.add(key);
      }
      last = event.table;
      if (event.kind === 'schema' && event.schema.id !== event.table) {
        const key = tableIdToString(event.schema.id);
        if (!this.touched.has(key)) added.add(key);
      }
      if (this.touched.size + added.size > this.max) return true;
    }
    return false;
  }

  add(events: readonly StreamEvent[]): void {
    if (this.max === undefined) return;
    let last: TableId | undefined;
    for (const event of events) {
      if (event.table !== last) this.touched.add(tableIdToString(event.table));
      last = event.table;
      if (event.kind === 'schema' && event.schema.id !== event.table)
        this.touched.add(tableIdToString(event.schema.id));
    }
  }

  /** The bound is reached: commit before handing the sink more. */
  get full(): boolean {
    return this.max !== undefined && this.touched.size >= this.max;
  }

  get size(): number {
    return this.touched.size;
  }

  clear(): void {
    this.touched.clear();
  }
}
