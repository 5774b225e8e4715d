import type { Value } from '../../../core/data-type.js';
import { plural } from '../../../core/plural.js';
import { TributaryError } from '../../../core/errors.js';
import type { TableMap } from './binlog-event.js';
import { BinlogSchemaMismatchError, binlogProtocolError } from './binlog-errors.js';
import { ByteCursor } from './byte-cursor.js';
import { canonicalColumnsFromTableMap, unsupportedColumn, type ColumnInfo } from './canonical-types.js';
import { charsetOfCollation } from './charsets.js';
import { ColumnMismatch, ColumnUnsupported, createColumnDecoder, type ColumnDecoder } from './column-decoders.js';

/**
 * Decodes the row images of one table's rows events. Prepared once per table map: one decoder function per
 * column, chosen from the column's wire type and canonical type, so that decoding a row is a loop over
 * functions reading straight from the event buffer into the row array.
 */
export interface RowDecoder {
  readonly tableMap: TableMap;
  /** The canonical columns the rows are produced in (given, or derived from the table map). */
  readonly columns: readonly ColumnInfo[];
  /**
   * Appends the row images in bytes [pos, end) to `out`: one per row, two (before, after) per row of an
   * update. `present` / `presentAfter` are the rows event's columns-present bitmaps (after: updates only).
   * Returns true when an image left columns out (they are null).
   */
  decodeRows(
    buf: Buffer,
    pos: number,
    end: number,
    present: Uint8Array,
    presentAfter: Uint8Array | undefined,
    out: Value[][],
  ): boolean;
}

/** Whether the columns-present bitmap at `at` in `bitmap` has the bits of all `count` columns set (a FULL image). */
export function allColumnsPresent(bitmap: Uint8Array, at: number, count: number): boolean {
  for (let i = 0; i < count >> 3; i++) if (bitmap[at + i] !== 0xff) return false;
  const rest = count & 7;
  return rest === 0 || (bitmap[at + (count >> 3)]! & ((1 << rest) - 1)) === (1 << rest) - 1;
}

/**
 * Prepares the decoder of a table map. `columns` are the canonical types (and character sets) of the
 * table's columns as the caller knows them, in table order; without them they are derived from the table
 * map's optional metadata. Throws BinlogSchemaMismatchError when `columns` do not fit the table map (another
 * column count, or a type the wire type cannot produce), and a SOURCE_UNSUPPORTED_TYPE TributaryError for
 * wire types this reader cannot decode.
 */
export function prepareRowDecoder(tableMap: TableMap, columns?: readonly ColumnInfo[]): RowDecoder {
  const count = tableMap.columnTypes.length;
  const canonical = columns ?? canonicalColumnsFromTableMap(tableMap);
  if (canonical.length !== count) {
    throw new BinlogSchemaMismatchError(
      tableMap.database,
      tableMap.table,
      `the binlog has ${plural(count, 'column')}, the schema ${canonical.length}`,
    );
  }
  const decoders = canonical.map((column, i): ColumnDecoder => {
    const type = column.type;
    const collation = tableMap.charsets?.[i];
    const charset = column.charset ?? (collation === undefined ? undefined : charsetOfCollation(collation));
    const mapSignedness = tableMap.signedness?.[i];
    const unsigned =
      column.unsigned ?? (mapSignedness === undefined ? type.kind.startsWith('uint') : mapSignedness === 'unsigned');
    const givenLabels = type.kind === 'enum' || type.kind === 'set' ? type.values : undefined;
    const mapLabels = tableMap.enumValues?.[i] ?? tableMap.setValues?.[i];
    const labels = givenLabels !== undefined && givenLabels.length > 0 ? givenLabels : (mapLabels ?? givenLabels);
    try {
      return createColumnDecoder({
        wireType: tableMap.columnTypes[i]!,
        meta: tableMap.columnMeta[i]!,
        type,
        charset,
        unsigned,
        labels,
        ...(column.onZeroDate === undefined ? {} : { onZeroDate: column.onZeroDate }),
      });
    } catch (error) {
      if (error instanceof ColumnUnsupported) throw unsupportedColumn(tableMap, i, error.realType);
      if (!(error instanceof ColumnMismatch)) throw error;
      const name = tableMap.columnNames?.[i] ?? `#${i + 1}`;
      throw new BinlogSchemaMismatchError(tableMap.database, tableMap.table, `column ${name}: ${error.message}`);
    }
  });
  return new PreparedRowDecoder(tableMap, canonical, decoders);
}

class PreparedRowDecoder implements RowDecoder {
  private readonly count: number;
  private readonly nullBytes: number;

  constructor(
    readonly tableMap: TableMap,
    readonly columns: readonly ColumnInfo[],
    private readonly decoders: readonly ColumnDecoder[],
  ) {
    this.count = decoders.length;
    this.nullBytes = (this.count + 7) >> 3;
  }

  decodeRows(
    buf: Buffer,
    pos: number,
    end: number,
    present: Uint8Array,
    presentAfter: Uint8Array | undefined,
    out: Value[][],
  ): boolean {
    const c = new ByteCursor(buf, pos, end);
    const fullBefore = this.isFull(present);
    const fullAfter = presentAfter === undefined || this.isFull(presentAfter);
    try {
      while (c.pos < end) {
        out.push(fullBefore ? this.fullImage(buf, c) : this.partialImage(buf, c, present));
        if (presentAfter !== undefined) {
          out.push(fullAfter ? this.fullImage(buf, c) : this.partialImage(buf, c, presentAfter));
        }
        if (c.pos > end) throw new RangeError(`row image ends at ${c.pos}, past the event end ${end}`);
      }
    } catch (error) {
      if (error instanceof TributaryError) throw error; // a column's own verdict (a zero date under `error`)
      if (error instanceof ColumnMismatch) {
        throw new BinlogSchemaMismatchError(this.tableMap.database, this.tableMap.table, error.message);
      }
      throw binlogProtocolError(
        `cannot decode a row of ${this.tableMap.database}.${this.tableMap.table}: ${(error as Error).message}`,
        error,
      );
    }
    return !fullBefore || !fullAfter;
  }

  private isFull(bitmap: Uint8Array): boolean {
    return allColumnsPresent(bitmap, 0, this.count);
  }

  /** All columns present: the null bitmap has one bit per column. */
  private fullImage(buf: Buffer, c: ByteCursor): Value[] {
    const n = this.count;
    const decoders = this.decoders;
    const nulls = c.pos;
    c.pos += this.nullBytes;
    const row = new Array<Value>(n);
    for (let i = 0; i < n; i++) {
      row[i] = (buf[nulls + (i >> 3)]! & (1 << (i & 7))) !== 0 ? null : decoders[i]!(buf, c);
    }
    return row;
  }

  /** Some columns left out (non-FULL row image): the null bitmap covers the present columns only. */
  private partialImage(buf: Buffer, c: ByteCursor, present: Uint8Array): Value[] {
    const n = this.count;
    let presentCount = 0;
    for (let i = 0; i < n; i++) if ((present[i >> 3]! & (1 << (i & 7))) !== 0) presentCount++;
    const nulls = c.pos;
    c.pos += (presentCount + 7) >> 3;
    const row = new Array<Value>(n);
    let k = 0;
    for (let i = 0; i < n; i++) {
      if ((present[i >> 3]! & (1 << (i & 7))) === 0) {
        row[i] = null;
        continue;
      }
      row[i] = (buf[nulls + (k >> 3)]! & (1 << (k & 7))) !== 0 ? null : this.decoders[i]!(buf, c);
      k++;
    }
    return row;
  }
}
