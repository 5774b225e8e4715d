import type { Connection, RowDataPacket } from 'mysql2/promise';
import { TributaryError } from '../../core/index.js';
import type { BinlogOffset } from './mysql-offset.js';
import { checkOffsetAvailable } from './mysql-preflight.js';
import type { MysqlSourceConfig } from './mysql-source-config.js';
import { masterStatus } from './mysql-snapshot-reader.js';

/**
 * Where a pipeline without a checkpoint starts reading the binlog, by `scan.startup.mode`; for `timestamp`
 * also the commit time before which row changes are dropped (0: none).
 */
export async function startupOffset(
  conn: Connection,
  config: MysqlSourceConfig,
): Promise<{ offset: BinlogOffset; skipBeforeMs: number }> {
  const mode = config.startupMode;
  if (mode === 'specific-offset') {
    const offset = { file: config.specificOffsetFile ?? '', pos: config.specificOffsetPos ?? 4, skipRows: 0 };
    await checkOffsetAvailable(conn, offset);
    return { offset, skipBeforeMs: 0 };
  }
  if (mode === 'earliest-offset' || mode === 'timestamp') {
    // `timestamp` reads from the oldest binlog and drops row changes committed before the time.
    const [rows] = await conn.query<RowDataPacket[]>('SHOW BINARY LOGS');
    const first = rows[0];
    if (!first) throw new TributaryError('SOURCE_BINLOG_DISABLED', 'the server lists no binary logs');
    return {
      offset: { file: String(first['Log_name']), pos: 4, skipRows: 0 },
      skipBeforeMs: mode === 'timestamp' ? (config.startupTimestampMs ?? 0) : 0,
    };
  }
  const now = await masterStatus(conn);
  return { offset: { file: now.file, pos: now.pos, skipRows: 0 }, skipBeforeMs: 0 };
}

/** A stable replica server id per pipeline name, away from the server's own id. */
export function defaultServerId(name: string, serverOwnId: number): number {
  let hash = 0;
  for (const ch of name) hash = (hash * 31 + ch.charCodeAt(0)) >>> 0;
  const id = 5400 + (hash % 100_000);
  return id === serverOwnId ? id + 1 : id;
}
