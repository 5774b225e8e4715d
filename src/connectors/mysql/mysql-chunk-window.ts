import { primaryKeyIndexes, type Row, type Value } from '../../core/index.js';
import type { SnapshotChunk } from './mysql-snapshot-reader.js';

/**
 * The DBLog reconciliation of one snapshot chunk with the binlog (design.md §2). Binlog row changes of the
 * chunk's table that end inside the chunk's window (`low`, `high`] are newer than or as new as the chunk's
 * copy of those rows, so their keys are dropped from the chunk; what remains is emitted, as `read` events,
 * when the binlog reaches `high`. Keys are compared by value (bigints and bytes by their text).
 */
export class ChunkWindow {
  private readonly keyIndexes: number[];
  private readonly changedKeys = new Set<string>();
  readonly tableKey: string;

  constructor(readonly chunk: SnapshotChunk) {
    this.keyIndexes = primaryKeyIndexes(chunk.range.table.schema);
    this.tableKey = `${chunk.range.table.schema.id.namespace}.${chunk.range.table.schema.id.name}`;
  }

  /** Records the keys of binlog rows (before and after images) that changed inside the window. */
  noteChanged(rows: readonly Row[]): void {
    for (const row of rows) this.changedKeys.add(keyString(row, this.keyIndexes));
  }

  /** The chunk's rows minus those whose key changed inside the window. */
  remainingRows(): Row[] {
    if (this.changedKeys.size === 0) return this.chunk.rows;
    return this.chunk.rows.filter((row) => !this.changedKeys.has(keyString(row, this.keyIndexes)));
  }
}

export function keyString(row: Row, indexes: readonly number[]): string {
  let key = '';
  for (const i of indexes) key += valueKey(row[i] ?? null) + '\u0000';
  return key;
}

function valueKey(value: Value): string {
  if (value instanceof Uint8Array) return 'x' + Buffer.from(value).toString('hex');
  return typeof value + ':' + String(value);
}
