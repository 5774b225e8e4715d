import type { Connection, RowDataPacket } from 'mysql2/promise';
import { primaryKeyIndexes, TributaryError, type Row, type Value } from '../../core/index.js';
import type { MysqlTable } from './mysql-schema-reader.js';
import { snapshotValue } from './mysql-types.js';

import type { LogPoint } from './mysql-log-point.js';

/**
 * One chunk of a table read between two binlog watermarks (design.md §2). Its rows hold the table's state
 * at some moment inside the window (`low`, `high`]: a row whose key changes inside the window must be
 * dropped in favour of the binlog's event. On MariaDB the chunk is read in a consistent snapshot whose exact
 * binlog position the server reports, so `low` equals `high` and the window is empty.
 */
export interface SnapshotChunk {
  readonly table: MysqlTable;
  readonly rows: Row[];
  /** Key values of the last row, or null when the chunk was empty. */
  readonly lastKey: Value[] | null;
  /** True when the table has no rows after this chunk. */
  readonly last: boolean;
  readonly low: LogPoint;
  readonly high: LogPoint;
}

/** Reads chunks of tables by primary key (keyset pagination), each in its own short consistent snapshot. */
export class MysqlSnapshotReader {
  constructor(
    private readonly conn: Connection,
    private readonly flavor: 'mariadb' | 'mysql',
  ) {}

  async prepare(): Promise<void> {
    await this.conn.query("SET SESSION time_zone = '+00:00'");
    await this.conn.query('SET SESSION TRANSACTION ISOLATION LEVEL REPEATABLE READ');
  }

  /** Reads up to `limit` rows of `table` with keys after `afterKey` (from the start when null). */
  async readChunk(table: MysqlTable, afterKey: readonly Value[] | null, limit: number): Promise<SnapshotChunk> {
    const { sql, values } = chunkQuery(table, afterKey, limit);
    let low: LogPoint;
    let high: LogPoint;
    let raw: (Buffer | null)[][];
    if (this.flavor === 'mariadb') {
      await this.conn.query('START TRANSACTION WITH CONSISTENT SNAPSHOT');
      try {
        low = high = await this.snapshotPoint();
        raw = await this.select(sql, values);
      } finally {
        await this.conn.query('COMMIT');
      }
    } else {
      low = await masterStatus(this.conn);
      await this.conn.query('START TRANSACTION WITH CONSISTENT SNAPSHOT, READ ONLY');
      try {
        raw = await this.select(sql, values);
      } finally {
        await this.conn.query('COMMIT');
      }
      high = await masterStatus(this.conn);
    }
    const types = table.schema.columns.map((c) => c.type);
    const rows: Row[] = raw.map((r) => {
      const row = new Array<Value>(types.length);
      for (let i = 0; i < types.length; i++) row[i] = snapshotValue(types[i]!, r[i] ?? null);
      return row;
    });
    const keyIdx = primaryKeyIndexes(table.schema);
    const lastRow = rows[rows.length - 1];
    return {
      table,
      rows,
      lastKey: lastRow ? keyIdx.map((i) => lastRow[i] ?? null) : null,
      last: rows.length < limit,
      low,
      high,
    };
  }

  private async select(sql: string, values: unknown[]): Promise<(Buffer | null)[][]> {
    const [rows] = await this.conn.query<RowDataPacket[]>({ sql, values, rowsAsArray: true, typeCast: false });
    return rows as unknown as (Buffer | null)[][];
  }

  private async snapshotPoint(): Promise<LogPoint> {
    const [rows] = await this.conn.query<RowDataPacket[]>("SHOW STATUS LIKE 'binlog_snapshot_%'");
    const get = (name: string): unknown =>
      rows.find((r) => String(r['Variable_name']).toLowerCase() === name)?.['Value'];
    return { file: String(get('binlog_snapshot_file')), pos: Number(get('binlog_snapshot_position')) };
  }
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

/** `SELECT cols FROM t WHERE key > (…) ORDER BY key LIMIT n`, with the row comparison spelled out so the key index is used. */
export function chunkQuery(
  table: MysqlTable,
  afterKey: readonly Value[] | null,
  limit: number,
): { sql: string; values: unknown[] } {
  const q = (name: string) => '`' + name.replace(/`/g, '``') + '`';
  const cols = table.schema.columns.map((c) => q(c.name)).join(', ');
  const key = table.schema.primaryKey.map(q);
  const from = `${q(table.schema.id.namespace)}.${q(table.schema.id.name)}`;
  const values: unknown[] = [];
  let where = '';
  if (afterKey) {
    // (k1, k2, k3) > (a, b, c)  ≡  k1 > a OR (k1 = a AND (k2 > b OR (k2 = b AND k3 > c)))
    const build = (i: number): string => {
      values.push(sqlParam(afterKey[i] ?? null));
      if (i === key.length - 1) return `${key[i]} > ?`;
      const gt = `${key[i]} > ?`;
      values.push(sqlParam(afterKey[i] ?? null));
      return `(${gt} OR (${key[i]} = ? AND ${build(i + 1)}))`;
    };
    where = ` WHERE ${build(0)}`;
  }
  return { sql: `SELECT ${cols} FROM ${from}${where} ORDER BY ${key.join(', ')} LIMIT ${limit}`, values };
}

function sqlParam(value: Value): unknown {
  if (typeof value === 'bigint') return value.toString();
  if (value instanceof Uint8Array) return Buffer.from(value);
  if (typeof value === 'string' && value.endsWith('Z') && /^\d{4}-\d{2}-\d{2} /.test(value)) return value.slice(0, -1);
  return value;
}
