import type { Column, TableId, TableSchema } from './table-schema.js';
import type { DataType, Row, Value } from './data-type.js';

/**
 * One table as `tributary verify` compares it, on one side: the columns (named as on that side, typed with the
 * source's canonical types), the key, and — for a sink table that merges several source tables — the constant
 * columns that select one source table's rows (`_table_name = 'user01'`).
 */
export interface ChecksumTable {
  readonly table: TableId;
  readonly columns: readonly Column[];
  /** Key column names, in key order; chunks are ranges of this key. */
  readonly key: readonly string[];
  readonly filter?: readonly { readonly column: string; readonly value: string }[];
}

/** Key values as canonical text, one per key column; null: the open end of a range. */
export type KeyBound = readonly string[] | null;

/** The aggregate of one chunk: identical on both sides exactly when the rows' canonical texts are (as a multiset). */
export interface ChunkChecksum {
  readonly rows: number;
  /** Sums of two 60-bit slices of each row text's MD5, as decimal text. */
  readonly sum: string;
}

/**
 * What a connector implements for `tributary verify`: checksums pushed down as SQL aggregates, so rows never
 * travel to Node except for the keys and hashes of a chunk that differs.
 *
 * Canonical text (the same bytes on every side): per column, NULL is `N`, any other value `<byte length>:<text>`
 * with the text as follows, the columns joined by `,`; integers and decimals in plain decimal notation (decimals
 * with the column's scale); text as UTF-8; binary as upper-case hex; dates `YYYY-MM-DD`; timestamps
 * `YYYY-MM-DD HH:MM:SS.ffffff` (instants in UTC); booleans `1` / `0`; bits as n binary digits. Columns whose
 * text no two servers print alike (floating point, JSON, TIME) are not compared: {@link uncomparable}.
 */
export interface TableChecksums {
  /** Every `chunkSize`-th key of `table`, ascending: chunk i is (bound i-1, bound i], the last one open-ended. */
  keyBoundaries(table: ChecksumTable, chunkSize: number): Promise<string[][]>;
  /** The aggregate of the rows with key in (`lo`, `hi`]. */
  chunk(table: ChecksumTable, lo: KeyBound, hi: KeyBound): Promise<ChunkChecksum>;
  /** Per row with key in (`lo`, `hi`]: the key's canonical text (joined by `,`) → the row text's MD5. */
  rowHashes(table: ChecksumTable, lo: KeyBound, hi: KeyBound): Promise<Map<string, string>>;
  /**
   * A source's current rows of `schema` with the given keys (canonical key texts, as {@link rowHashes} names
   * them): key text → the row with every column of `schema`, read as the snapshot reads rows. Keys without a row
   * are absent from the map. For `verify --repair`.
   */
  readRows?(table: ChecksumTable, schema: TableSchema, keys: readonly string[]): Promise<Map<string, Row>>;
  close(): Promise<void>;
}

/** Types whose canonical text would differ between servers: left out of the comparison, and said so. */
export function uncomparable(type: DataType): boolean {
  return type.kind === 'float' || type.kind === 'double' || type.kind === 'json' || type.kind === 'time';
}

/** `a,b,rest` back into one text per key column (the last one takes the rest, as text keys may hold commas). */
export function splitKeyText(text: string, columns: number): string[] {
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

/**
 * A row of `schema` holding only the values of one key (canonical key text, as {@link TableChecksums.rowHashes}
 * names it), NULL elsewhere: what a delete needs to find the row.
 */
export function keyRowOf(schema: TableSchema, keyNames: readonly string[], keyText: string): Row {
  return keyRowOfTexts(schema, keyNames, splitKeyText(keyText, keyNames.length));
}

/** {@link keyRowOf} from one canonical text per key column (a {@link KeyBound}). */
export function keyRowOfTexts(schema: TableSchema, keyNames: readonly string[], texts: readonly string[]): Row {
  return schema.columns.map((column) => {
    const at = keyNames.indexOf(column.name);
    return at < 0 ? null : keyValue(texts[at]!, column.type);
  });
}

/** A chunk bound's canonical texts as the key columns' values, in key order (null: the open end). */
export function keyBoundValues(schema: TableSchema, keyNames: readonly string[], bound: KeyBound): Value[] | null {
  if (bound === null) return null;
  return keyNames.map((name, i) => {
    const column = schema.columns.find((c) => c.name === name);
    if (!column) throw new Error(`key column ${name} is not a column of ${schema.id.name}`);
    return keyValue(bound[i]!, column.type);
  });
}
