import {
  primaryKeyIndexes,
  unpackRows,
  type PackedRows,
  type Row,
  type TableSchema,
  type Value,
} from '../../core/index.js';
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
  readonly rows: ChunkRows;
  readonly low: Offset;
  readonly high: Offset;
}

/** A chunk's rows: decoded, or still in the bytes the source read them in (see {@link PackedRows}). */
export type ChunkRows = readonly Row[] | PackedRows;

/** The rows of `rows`, decoded. */
export function decodedRows(rows: ChunkRows): readonly Row[] {
  return isPacked(rows) ? unpackRows(rows) : rows;
}

export function isPacked(rows: ChunkRows): rows is PackedRows {
  return !Array.isArray(rows);
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

  /** Records keys (as {@link keyString} makes them) that changed inside the window. */
  noteChangedKeys(keys: Iterable<string>): void {
    for (const key of keys) this.changedKeys.add(key);
  }

  /**
   * Whether the source has no row with `row`'s key at the window's end: the chunk did not read one and the
   * log did not change one inside the window. Only for keys inside the chunk's range.
   */
  absent(row: Row): boolean {
    const key = keyString(row, this.keyIndexes);
    if (this.changedKeys.has(key)) return false;
    this.readKeys ??= new Set(decodedRows(this.chunk.rows).map((r) => keyString(r, this.keyIndexes)));
    return !this.readKeys.has(key);
  }

  /** The chunk's rows minus those whose key changed inside the window (packed still when none did). */
  remainingRows(): ChunkRows {
    if (this.changedKeys.size === 0) return this.chunk.rows;
    return decodedRows(this.chunk.rows).filter((row) => !this.changedKeys.has(keyString(row, this.keyIndexes)));
  }
}

/** How many changed keys a chunk out of hand remembers by default (see {@link ChangedKeys}). */
export const MAX_CHANGED_KEYS_WHILE_OUT = 100_000;

/**
 * Keys of a chunk's table that the log changed while the chunk's rows were not in hand yet (a snapshot reader in
 * another process has it): they are dropped from the chunk when its rows arrive. Only keys inside the chunk's
 * range are kept when the key is numeric (others cannot be compared here without the server's collation), each
 * once, and at most `limit`: beyond that the chunk is marked {@link overflowed} and forgets them — it must be
 * read again (a fresh read at a later watermark needs none of them), so a chunk that stays out long on a busy
 * table costs bounded memory, never correctness.
 */
export class ChangedKeys {
  private keys = new Set<string>();
  private readonly keyIndexes: number[];
  private overflow = false;

  constructor(
    private readonly range: ChunkRange,
    private readonly limit = MAX_CHANGED_KEYS_WHILE_OUT,
  ) {
    this.keyIndexes = primaryKeyIndexes(range.table.schema);
  }

  /** Notes the keys of log rows (before and after images) of the chunk's table. */
  note(rows: readonly Row[]): void {
    if (this.overflow) return;
    for (const row of rows) {
      if (!inRange(row, this.keyIndexes, this.range.lo, this.range.hi)) continue;
      this.keys.add(keyString(row, this.keyIndexes));
    }
    if (this.keys.size > this.limit) {
      this.overflow = true;
      this.keys = new Set();
    }
  }

  /** More keys changed than the limit: the chunk's rows cannot be reconciled and it must be read again. */
  get overflowed(): boolean {
    return this.overflow;
  }

  get size(): number {
    return this.keys.size;
  }

  /** Hands the keys over (into the chunk's window) and forgets them. */
  take(): Set<string> {
    const keys = this.keys;
    this.keys = new Set();
    return keys;
  }
}

/**
 * Whether `row`'s key lies in (`lo`, `hi`] — decided only for keys and bounds of numbers and bigints (compared
 * as tuples, as the chunk query does); any other key counts as inside.
 */
function inRange(row: Row, indexes: readonly number[], lo: Value[] | null, hi: Value[] | null): boolean {
  const key = indexes.map((i) => row[i] ?? null);
  if (!key.every(isNumeric)) return true;
  if (lo && lo.every(isNumeric) && compareTuples(key, lo) <= 0) return false;
  if (hi && hi.every(isNumeric) && compareTuples(key, hi) > 0) return false;
  return true;
}

export function isNumeric(value: Value): value is number | bigint {
  return typeof value === 'number' || typeof value === 'bigint';
}

/** Tuples of numbers and bigints in order (as the database compares them). */
export function compareTuples(a: readonly Value[], b: readonly Value[]): number {
  for (let i = 0; i < Math.min(a.length, b.length); i++) {
    const x = a[i] as number | bigint;
    const y = b[i] as number | bigint;
    if (x < y) return -1;
    if (x > y) return 1;
  }
  return a.length - b.length;
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
