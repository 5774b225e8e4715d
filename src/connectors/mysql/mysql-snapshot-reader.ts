import type { Connection as CallbackConnection } from 'mysql2';
import type { Connection, RowDataPacket } from 'mysql2/promise';
import { tableIdToString, TributaryError, type Row, type Value } from '../../core/index.js';
import type { ChunkRange } from './mysql-chunk-splitter.js';
import { keyAfterClause, keyAtMostClause, quoteId, sqlParam, tableRef } from './mysql-sql.js';
import type { MysqlTable } from './mysql-schema-reader.js';
import { zeroDateError } from './mysql-types.js';
import { queryDecodedRows, queryRowPackets } from './protocol/mysql2-text-query.js';
import { TextRowPacker } from './protocol/text-row-packer.js';
import { TextRowDecoder } from './protocol/text-row-decoder.js';
import type { ChunkReader, ChunkRows, SnapshotChunk as KitSnapshotChunk } from '../source-kit/index.js';
import { endMysqlConnection } from './mysql-errors.js';
import { compareLogPoints, type LogPoint } from './mysql-log-point.js';

/**
 * One chunk of a table read between two binlog watermarks (the source kit's). On MariaDB the chunk is read in
 * a consistent snapshot whose exact binlog position the server reports, so `low` equals `high` and the window
 * is empty.
 */
export type SnapshotChunk = KitSnapshotChunk<LogPoint, MysqlTable>;

/**
 * Reads chunks of tables by primary key (keyset pagination), each in its own short consistent snapshot. With
 * `pack`, a chunk's rows stay in the packets' bytes ({@link PackedRows}); else they are decoded into rows.
 */
export class MysqlSnapshotReader implements ChunkReader<LogPoint, MysqlTable> {
  constructor(
    private readonly conn: Connection,
    private readonly flavor: 'mariadb' | 'mysql',
    private readonly pack = false,
  ) {}

  /** Per table: the rows and bytes of its last packed chunk (the next one is sized by it). */
  private readonly lastChunk = new Map<string, { rows: number; bytes: number }>();

  async prepare(): Promise<void> {
    await this.conn.query("SET SESSION time_zone = '+00:00'");
    await this.conn.query('SET SESSION TRANSACTION ISOLATION LEVEL REPEATABLE READ');
  }

  close(): Promise<void> {
    return endMysqlConnection(this.conn);
  }

  /**
   * Reads the rows of `range`. `onSnapshotPoint` learns the chunk's high watermark as soon as it is known —
   * on MariaDB right after the consistent snapshot starts, before the rows are read — so the binlog can keep
   * flowing up to it meanwhile.
   */
  async readChunk(range: ChunkRange, onSnapshotPoint?: (high: LogPoint) => void): Promise<SnapshotChunk> {
    const [chunk] = await this.readChunks([range], onSnapshotPoint);
    return chunk!;
  }

  /**
   * Reads several ranges (of small tables) in one consistent snapshot, one query each: one watermark pair and
   * one transaction for all of them. Each chunk is exactly what {@link readChunk} would have read at that point.
   */
  async readChunks(
    ranges: readonly ChunkRange[],
    onSnapshotPoint?: (high: LogPoint) => void,
  ): Promise<SnapshotChunk[]> {
    let low: LogPoint;
    let high: LogPoint;
    const rows: ChunkRows[] = [];
    if (this.flavor === 'mariadb') {
      const point = await this.startSnapshotAfter(await masterStatus(this.conn));
      try {
        low = high = point;
        onSnapshotPoint?.(high);
        for (const range of ranges) rows.push(await this.selectRange(range));
      } finally {
        await this.conn.query('COMMIT');
      }
    } else {
      low = await masterStatus(this.conn);
      await this.conn.query('START TRANSACTION WITH CONSISTENT SNAPSHOT, READ ONLY');
      try {
        for (const range of ranges) rows.push(await this.selectRange(range));
      } finally {
        await this.conn.query('COMMIT');
      }
      high = await masterStatus(this.conn);
      onSnapshotPoint?.(high);
    }
    return ranges.map((range, i) => ({ range, rows: rows[i]!, low, high }));
  }

  private async selectRange(range: ChunkRange): Promise<ChunkRows> {
    const { sql, values } = chunkQuery(range);
    const types = range.table.schema.columns.map((c) => c.type);
    const decoder = new TextRowDecoder(types, zeroDateHandlers(range.table));
    if (!this.pack) return this.select(sql, values, decoder);
    // Sized by the table's last chunk: its rows' size, and as many rows (or the range's bound, when smaller).
    const key = tableIdToString(range.table.schema.id);
    const last = this.lastChunk.get(key);
    const expectedRows = Math.min(range.rows ?? last?.rows ?? 1024, last?.rows ?? MAX_EXPECTED_ROWS, MAX_EXPECTED_ROWS);
    const bytesPerRow = last === undefined || last.rows === 0 ? 128 : last.bytes / last.rows;
    const packer = new TextRowPacker(types, decoder, expectedRows, Math.ceil(expectedRows * bytesPerRow * 1.05));
    await queryRowPackets(this.callbackConnection(), sql, values, (buf, start, end) => packer.add(buf, start, end));
    const rows = packer.take();
    this.lastChunk.set(key, { rows: rows.length, bytes: rows.buffer.length });
    return rows;
  }

  /**
   * Starts a consistent snapshot whose binlog position is at or after `floor` (MariaDB). The source may already
   * have pulled — and emitted — every binlog event before `floor`; a transaction is written to the binlog before
   * it commits in the storage engine, so a snapshot taken in between would not see a change the source already
   * emitted, and the chunk would deliver the row's older state after it (the source kit counts on every step
   * pulled before a chunk read began lying at or before the chunk's low watermark). Such a snapshot is dropped
   * and taken again: the engine commit follows within moments. Resolves with the snapshot's binlog position.
   */
  private async startSnapshotAfter(floor: LogPoint): Promise<LogPoint> {
    const deadline = Date.now() + SNAPSHOT_FLOOR_TIMEOUT_MS;
    for (let attempt = 0; ; attempt++) {
      await this.conn.query('START TRANSACTION WITH CONSISTENT SNAPSHOT');
      const point = await this.snapshotPoint();
      if (compareLogPoints(point, floor) >= 0) return point;
      await this.conn.query('COMMIT');
      if (Date.now() >= deadline) {
        throw new TributaryError(
          'SOURCE_CONNECTION_LOST',
          `no consistent snapshot reached binlog position ${floor.file}:${floor.pos} within ${SNAPSHOT_FLOOR_TIMEOUT_MS / 1000} s`,
          { hint: 'transient: a transaction written to the binlog did not commit; the pipeline retries' },
        );
      }
      await new Promise((resolve) => setTimeout(resolve, Math.min(50, 1 + attempt)));
    }
  }

  /** The chunk's rows, decoded from the text-protocol packets into canonical values (see TextRowDecoder). */
  private select(sql: string, values: unknown[], decoder: TextRowDecoder): Promise<Row[]> {
    return queryDecodedRows(this.callbackConnection(), sql, values, (buf, start, end) =>
      decoder.decode(buf, start, end),
    );
  }

  private callbackConnection(): CallbackConnection {
    return (this.conn as unknown as { readonly connection: CallbackConnection }).connection;
  }

  private async snapshotPoint(): Promise<LogPoint> {
    const [rows] = await this.conn.query<RowDataPacket[]>("SHOW STATUS LIKE 'binlog_snapshot_%'");
    const get = (name: string): unknown =>
      rows.find((r) => String(r['Variable_name']).toLowerCase() === name)?.['Value'];
    return { file: String(get('binlog_snapshot_file')), pos: Number(get('binlog_snapshot_position')) };
  }
}

/** Per column: what a zero date does under `zero-date.handling: error` (undefined: it is NULL). */
function zeroDateHandlers(table: MysqlTable): ((text: string) => never)[] | [] {
  if (table.zeroDates !== 'error') return [];
  const name = tableIdToString(table.schema.id);
  return table.schema.columns.map((column) => (text: string) => {
    throw zeroDateError(name, column.name, text);
  });
}

/**
 * The server's current binlog end: the file and position the next event will be written at. MySQL 8.4
 * renamed SHOW MASTER STATUS to SHOW BINARY LOG STATUS; MariaDB and older MySQL know only the first.
 */
export async function masterStatus(conn: Connection): Promise<LogPoint> {
  let rows: RowDataPacket[];
  try {
    [rows] = await conn.query<RowDataPacket[]>('SHOW MASTER STATUS');
  } catch (error) {
    if ((error as { errno?: number }).errno !== ER_PARSE_ERROR) throw error;
    [rows] = await conn.query<RowDataPacket[]>('SHOW BINARY LOG STATUS');
  }
  const row = rows[0];
  if (!row) {
    throw new TributaryError('SOURCE_BINLOG_DISABLED', 'the server reports no binlog position: binary logging is off', {
      hint: 'set log_bin=mysql-bin and server_id=1 in the server configuration and restart it',
    });
  }
  return { file: String(row['File']), pos: Number(row['Position']) };
}

const ER_PARSE_ERROR = 1064;

/** How long a chunk read waits for the storage engine to commit what the binlog already holds. */
const SNAPSHOT_FLOOR_TIMEOUT_MS = 30_000;

/** `SELECT cols FROM t WHERE key > lo AND key <= hi`, with the row comparisons spelled out so the key index is used. */
export function chunkQuery(range: ChunkRange): { sql: string; values: unknown[] } {
  const { schema } = range.table;
  const cols = schema.columns.map((c) => selectExpression(c.name, c.type.kind)).join(', ');
  const values: Value[] = [];
  const conditions: string[] = [];
  if (range.lo) conditions.push(keyAfterClause(schema.primaryKey, range.lo, values));
  if (range.hi) conditions.push(keyAtMostClause(schema.primaryKey, range.hi, values));
  const where = conditions.length > 0 ? ` WHERE ${conditions.join(' AND ')}` : '';
  return { sql: `SELECT ${cols} FROM ${tableRef(schema.id)}${where}`, values: values.map(sqlParam) };
}

/**
 * A column of the chunk's select list. The text protocol prints FLOAT with 6 significant digits (16777216 as
 * '16777200', 3.4028235e38 as '3.40282e38') and FLOAT(M,D)/DOUBLE(M,D) with D decimals; as a DOUBLE
 * expression the server prints the shortest text that reads back as the stored value, as the binlog has it.
 */
function selectExpression(name: string, kind: string): string {
  return kind === 'float' || kind === 'double' ? `${quoteId(name)} + 0e0` : quoteId(name);
}

/** A packed chunk's arrays start at most this many rows large (a range's row bound can be far above its rows). */
const MAX_EXPECTED_ROWS = 16_384;
