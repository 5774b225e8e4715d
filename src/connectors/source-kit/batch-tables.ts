import { tableIdToString, type StreamEvent, type TableId } from '../../core/index.js';

/**
 * Counts the distinct tables of a batch under construction, incrementally as events are pushed onto it, so
 * that the source can hand the batch over once it reaches the runtime's bound (`Source.limitBatchTables`).
 */
export class BatchTables {
  private readonly seen = new Set<string>();
  private scanned = 0;
  private last: TableId | undefined;

  constructor(
    private readonly out: readonly StreamEvent[],
    private readonly max: number,
  ) {}

  /** True once the batch holds events of `max` tables or more: cut it at the next valid resume point. */
  get full(): boolean {
    for (; this.scanned < this.out.length; this.scanned++) {
      const table = this.out[this.scanned]!.table;
      if (table === this.last) continue;
      this.last = table;
      this.seen.add(tableIdToString(table));
    }
    return this.seen.size >= this.max;
  }
}
