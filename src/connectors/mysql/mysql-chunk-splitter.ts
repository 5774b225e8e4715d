import type { Connection, RowDataPacket } from 'mysql2/promise';
import { primaryKeyIndexes, type Value } from '../../core/index.js';
import type { ChunkRange as KitChunkRange, TableChunkSplitter } from '../source-kit/index.js';
import type { MysqlTable } from './mysql-schema-reader.js';
import { keyAfterClause, quoteId, sqlParam, tableRef } from './mysql-sql.js';
import { snapshotValue } from './mysql-types.js';

/** A chunk of a table: the rows with key in (`lo`, `hi`]; null `lo` is the table's start, null `hi` its end. */
export type ChunkRange = KitChunkRange<MysqlTable>;

/** Keys per row below which a single integer key counts as dense enough for even ranges. */
const DENSE = 0.7;

/**
 * Splits a table into chunks lazily, one boundary at a time, so a 100M-row table never has all its
 * boundaries in memory. A dense single integer key gets even ranges (`lo + width`) from MIN/MAX and the row
 * estimate; anything else — sparse or skewed integers, strings, composite keys — gets its boundaries from
 * the database (`… WHERE key > lo ORDER BY key LIMIT 1 OFFSET n-1`), which compares by the column's
 * collation, never by JavaScript ordering.
 */
export class MysqlChunkSplitter implements TableChunkSplitter<MysqlTable> {
  private lo: Value[] | null;
  private finished = false;
  private even: { width: bigint; max: bigint } | null | undefined;

  constructor(
    private readonly conn: Connection,
    readonly table: MysqlTable,
    private readonly chunkSize: number,
    start: Value[] | null,
  ) {
    this.lo = start;
  }

  /** The next chunk, or null after the one that reaches the end of the table. */
  async next(): Promise<ChunkRange | null> {
    if (this.finished) return null;
    if (this.even === undefined) this.even = await this.planEvenRanges();
    const lo = this.lo;
    let hi: Value[] | null;
    if (this.even) {
      const from = (lo ? BigInt(lo[0] as number | bigint) : null) ?? this.evenStart;
      const upper = from + this.even.width;
      hi = upper >= this.even.max ? null : [this.keyValue(upper)];
      // Unique integer keys in (from, upper]: no more rows than that (a last range: up to the MAX read).
      const rows = (hi === null ? this.even.max : upper) - from;
      this.lo = hi;
      if (hi === null) this.finished = true;
      return { table: this.table, lo, hi, rows: rows > 0n ? Number(rows) : 0 };
    }
    hi = await this.boundaryAfter(lo);
    this.lo = hi;
    if (hi === null) this.finished = true;
    return { table: this.table, lo, hi };
  }

  /** Continues after `lo` with a known boundary (a chunk finished before a restart). */
  skipTo(hi: Value[] | null): void {
    this.lo = hi;
    if (hi === null) this.finished = true;
  }

  private evenStart = 0n;

  private async planEvenRanges(): Promise<{ width: bigint; max: bigint } | null> {
    const { schema } = this.table;
    if (schema.primaryKey.length !== 1) return null;
    const column = schema.columns[primaryKeyIndexes(schema)[0]!]!;
    if (!['int8', 'int16', 'int32', 'int64', 'uint8', 'uint16', 'uint32', 'uint64'].includes(column.type.kind)) {
      return null;
    }
    const key = quoteId(column.name);
    // One round trip (a pipeline of many small tables pays it per table).
    const [rows] = await this.conn.query<RowDataPacket[]>(
      `SELECT CAST(MIN(${key}) AS CHAR) AS lo, CAST(MAX(${key}) AS CHAR) AS hi, ` +
        '(SELECT TABLE_ROWS FROM information_schema.TABLES WHERE TABLE_SCHEMA = ? AND TABLE_NAME = ?) AS n ' +
        `FROM ${tableRef(schema.id)}`,
      [schema.id.namespace, schema.id.name],
    );
    if (rows[0]?.['lo'] == null) return { width: 1n, max: 0n }; // empty: one unbounded chunk
    const min = BigInt(String(rows[0]['lo']));
    const max = BigInt(String(rows[0]['hi']));
    const count = BigInt(Math.max(1, Number(rows[0]['n'] ?? 0)));
    const span = max - min + 1n;
    if (Number(count) / Number(span) < DENSE) return null;
    this.evenStart = min - 1n;
    const width = (span * BigInt(this.chunkSize)) / count;
    return { width: width > 0n ? width : 1n, max };
  }

  private keyValue(n: bigint): Value {
    const kind = this.table.schema.columns[primaryKeyIndexes(this.table.schema)[0]!]!.type.kind;
    return kind === 'int64' || kind === 'uint64' ? n : Number(n);
  }

  private async boundaryAfter(lo: Value[] | null): Promise<Value[] | null> {
    const { schema } = this.table;
    const keyIdx = primaryKeyIndexes(schema);
    const cols = schema.primaryKey.map(quoteId).join(', ');
    const values: Value[] = [];
    const where = lo ? ` WHERE ${keyAfterClause(schema.primaryKey, lo, values)}` : '';
    const [rows] = await this.conn.query<RowDataPacket[]>({
      sql: `SELECT ${cols} FROM ${tableRef(schema.id)}${where} ORDER BY ${cols} LIMIT 1 OFFSET ${this.chunkSize - 1}`,
      values: values.map(sqlParam),
      rowsAsArray: true,
      typeCast: false,
    });
    const row = rows[0] as unknown as (Buffer | null)[] | undefined;
    if (!row) return null;
    return keyIdx.map((columnIndex, i) => snapshotValue(schema.columns[columnIndex]!.type, row[i] ?? null));
  }
}
