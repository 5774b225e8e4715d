import {
  keyRowOf,
  TributaryError,
  tableIdToString,
  type ChangeEvent,
  type Operator,
  type Row,
  type Sink,
  type TableChecksums,
  type TableSchema,
} from '../core/index.js';
import type { ChunkDifference, VerifyPlan } from './pipeline-verify.js';

/** What `verify --repair` did to one source table's rows in the sink. */
export interface TableRepair {
  /** Rows written as the source holds them now (they were missing in the sink or differed). */
  readonly upserted: number;
  /** Rows deleted from the sink (the source has no row with their key). */
  readonly deleted: number;
}

/**
 * Repairs the sink rows of one source table, chunk by chunk as verify finds them: every differing key is read
 * again from the source (as it is now), passed through a fresh copy of the pipeline's transform and route, and
 * handed to the sink — an upsert (an `update` event without a before image) when the source has the row, a
 * delete (the key alone as the before image) when it has not. The sink buffers the events in its transaction;
 * the caller commits them together with the sink's checkpoint, unchanged but for its id.
 */
export class TableRepairer {
  private upserted = 0;
  private deleted = 0;
  private declared = false;

  constructor(
    private readonly plan: VerifyPlan,
    private readonly schema: TableSchema,
    private readonly operator: Operator,
    private readonly source: TableChecksums,
    private readonly sink: Sink,
  ) {}

  result(): TableRepair {
    return { upserted: this.upserted, deleted: this.deleted };
  }

  async repair(difference: ChunkDifference): Promise<void> {
    if (!this.source.readRows) {
      throw new TributaryError('CONFIG_INVALID', 'verify --repair: this source cannot read rows by key');
    }
    const keys = [...difference.inSource, ...difference.onlyInSink];
    if (keys.length === 0) return;
    // Read again, not taken from the comparison: a key verify found only in the sink may exist by now, and the
    // other way round; the sink is made to hold what the source holds at this moment.
    const rows = await this.source.readRows(this.plan.source, this.schema, keys);
    const table = this.schema.id;
    const source = { tsMs: Date.now() };
    const events: ChangeEvent[] = [];
    if (!this.declared) {
      events.push({ kind: 'schema', table, change: 'createTable', schema: this.schema, source });
      this.declared = true;
    }
    for (const key of keys) {
      const row = rows.get(key);
      if (row !== undefined) {
        events.push({ kind: 'data', table, op: 'update', before: null, after: row, source });
        this.upserted++;
      } else {
        events.push({ kind: 'data', table, op: 'delete', before: this.keyRow(key), after: null, source });
        this.deleted++;
      }
    }
    await this.sink.write(this.operator.process(events));
  }

  /** A row of the source table holding only the key's values: what a delete needs to find the sink row. */
  private keyRow(key: string): Row {
    return keyRowOf(this.schema, this.plan.source.key, key);
  }
}

/** The sink refuses a repair it cannot make: a changelog (append mode) is not a copy of the source. */
export function checkRepairable(sinkType: string, options: Readonly<Record<string, unknown>>): void {
  if (options['write-mode'] === 'append') {
    throw new TributaryError(
      'CONFIG_INVALID',
      `verify --repair: the ${sinkType} sink writes a changelog (write-mode: append), not a copy of the source tables`,
      { hint: 'repair a changelog by replaying it: run the pipeline with --reset' },
    );
  }
}

export function describeRepair(plan: VerifyPlan, repair: TableRepair): string {
  return `${tableIdToString(plan.source.table)} → ${tableIdToString(plan.sink.table)}: ${repair.upserted} written, ${repair.deleted} deleted`;
}
