import {
  TributaryError,
  tableIdToString,
  type ChangeEvent,
  type DataType,
  type Operator,
  type Row,
  type Sink,
  type TableChecksums,
  type TableSchema,
  type Value,
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
    const keyNames = this.plan.source.key;
    const texts = splitKeyText(key, keyNames.length);
    return this.schema.columns.map((column) => {
      const at = keyNames.indexOf(column.name);
      return at < 0 ? null : keyValue(texts[at]!, column.type);
    });
  }
}

/** `a,b,rest` back into one text per key column (the last one takes the rest, as text keys may hold commas). */
function splitKeyText(text: string, columns: number): string[] {
  if (columns === 1) return [text];
  const parts = text.split(',');
  return [...parts.slice(0, columns - 1), parts.slice(columns - 1).join(',')];
}

/** A key column's canonical text (see TableChecksums) as the value of its type (src/core/data-type.ts). */
export function keyValue(text: string, type: DataType): Value {
  switch (type.kind) {
    case 'int64':
    case 'uint64':
      return BigInt(text);
    case 'int8':
    case 'int16':
    case 'int32':
    case 'uint8':
    case 'uint16':
    case 'uint32':
    case 'year':
      return Number(text);
    case 'boolean':
      return text === '1';
    case 'binary':
    case 'varbinary':
    case 'bytes':
      return Uint8Array.from(Buffer.from(text, 'hex'));
    case 'timestamptz':
      return `${text}Z`;
    default:
      return text;
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
