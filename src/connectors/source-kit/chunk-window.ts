import { primaryKeyIndexes, type Row, type TableSchema, type Value } from '../../core/index.js';
import type { ChunkRepair } from './repair-jobs.js';

/** What the kit needs of a source's table: its schema (the key columns say how rows are matched). */
export interface SnapshotTable {
  readonly schema: TableSchema;
}

/** A chunk of a table: the rows with key in (`lo`, `hi`]; null `lo` is the table's start, null `hi` its end. */
export interface ChunkRange<Table extends SnapshotTable = SnapshotTable> {
  readonly table: Table;
  readonly lo: Value[] | null;
  readonly hi: Value[] | null;
  /**
   * At most this many rows, as far as the splitter can tell when it cut the range (e.g. the integer keys between
   * `lo` and `hi`); undefined: unknown. Small ranges of several tables are read in one watermark window.
   */
  readonly rows?: number;
  /** Set on a chunk read again for `verify --repair` (not a snapshot chunk). */
  readonly repair?: ChunkRepair;
}

/**
 * One chunk of a table read between two log watermarks (design.md §2). Its rows hold the table's state at
 * some moment inside the window (`low`, `high`]: a row whose key changes inside the window must be dropped in
 * favour of the log's event. A source that reads the chunk at an exact log position (MariaDB's consistent
 * snapshot reports it) returns `low` equal to `high`: the window is empty.
 */
export interface SnapshotChunk<Offset, Table extends SnapshotTable = SnapshotTable> {
  readonly range: ChunkRange<Table>;
  readonly rows: Row[];
  readonly low: Offset;
  readonly high: Offset;
}

/** `namespace.name`: how the kit, its progress and a source's log steps name a table. */
export function tableKeyOf(table: SnapshotTable): string {
  return `${table.schema.id.namespace}.${table.schema.id.name}`;
}

/**
 * The DBLog reconciliation of one snapshot chunk with the log (design.md §2). Log row changes of the chunk's
 * table that end inside the chunk's window (`low`, `high`] are newer than or as new as the chunk's copy of
 * those rows, so their keys are dropped from the chunk; what remains is emitted, as `read` events, when the
 * log reaches `high`. Keys are compared by value (bigints and bytes by their text).
 */
export class ChunkWindow<Offset, Table extends SnapshotTable = SnapshotTable> {
  private readonly keyIndexes: number[];
  private readonly changedKeys = new Set<string>();
  private readKeys: Set<string> | undefined;
  readonly tableKey: string;

  constructor(readonly chunk: SnapshotChunk<Offset, Table>) {
    this.keyIndexes = primaryKeyIndexes(chunk.range.table.schema);
    this.tableKey = tableKeyOf(chunk.range.table);
  }

  /** Records the keys of log rows (before and after images) that changed inside the window. */
  noteChanged(rows: readonly Row[]): void {
    for (const row of rows) this.changedKeys.add(keyString(row, this.keyIndexes));
  }

  /**
   * Whether the source has no row with `row`'s key at the window's end: the chunk did not read one and the
   * log did not change one inside the window. Only for keys inside the chunk's range.
   */
  absent(row: Row): boolean {
    const key = keyString(row, this.keyIndexes);
    if (this.changedKeys.has(key)) return false;
    this.readKeys ??= new Set(this.chunk.rows.map((r) => keyString(r, this.keyIndexes)));
    return !this.readKeys.has(key);
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
