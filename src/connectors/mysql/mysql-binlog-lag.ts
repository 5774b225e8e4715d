import type { Connection, RowDataPacket } from 'mysql2/promise';
import type { SourceProgress } from '../../core/index.js';
import type { Logger } from '../../core/logger.js';
import { endMysqlConnection } from './mysql-errors.js';
import type { LogPoint } from './mysql-log-point.js';

/** How often the binlog sizes are asked for, at most: a few cheap statements on a short connection. */
export const BINLOG_LAG_POLL_MS = 5000;

/** One binlog file as SHOW BINARY LOGS lists it. */
interface BinlogFile {
  readonly name: string;
  readonly size: number;
}

/**
 * The binlog lag in bytes: how much binlog the server has written past the position the source has read —
 * the size of the binlog files from the position's file on (SHOW BINARY LOGS), less the position. Off the hot
 * path: the sizes are asked for on a short connection of their own, when {@link lagBytes} is called and the
 * last answer is older than `intervalMs` (so only while someone looks: the progress line, the dashboard, a
 * scrape), one query at a time; the figure uses the newest answer with the position of the moment, so it can
 * be one interval stale and is never negative. Undefined until the first answer, and for good when the user
 * may not run SHOW BINARY LOGS (REPLICATION CLIENT / BINLOG MONITOR), which is logged once.
 */
export class BinlogLagPoller {
  private files: readonly BinlogFile[] | undefined;
  private polledAt = 0;
  private inflight: Promise<void> | undefined;
  private disabled = false;
  private closed = false;

  constructor(
    private readonly connect: () => Promise<Connection>,
    private readonly log: () => Logger,
    private readonly intervalMs = BINLOG_LAG_POLL_MS,
  ) {}

  /** The bytes of binlog past `position` (undefined: not known yet, or no position). */
  lagBytes(position: LogPoint | undefined, now = Date.now()): number | undefined {
    if (position === undefined || position.file === '') return undefined;
    if (!this.disabled && !this.closed && this.inflight === undefined && now - this.polledAt >= this.intervalMs) {
      this.polledAt = now;
      this.inflight = this.poll().finally(() => {
        this.inflight = undefined;
      });
    }
    return this.files === undefined ? undefined : binlogBytesAfter(this.files, position);
  }

  /** `{ lagBytes }` for {@link SourceProgress}, or nothing while it is not known. */
  progress(position: LogPoint | undefined): Pick<SourceProgress, 'lagBytes'> {
    const bytes = this.lagBytes(position);
    return bytes === undefined ? {} : { lagBytes: bytes };
  }

  async close(): Promise<void> {
    this.closed = true;
    await this.inflight;
  }

  private async poll(): Promise<void> {
    let conn: Connection | undefined;
    try {
      conn = await this.connect();
      const [rows] = await conn.query<RowDataPacket[]>('SHOW BINARY LOGS');
      this.files = rows.map((r) => ({ name: String(r['Log_name']), size: Number(r['File_size']) }));
    } catch (error) {
      const e = error as { errno?: number; cause?: { errno?: number } };
      const errno = e.errno ?? e.cause?.errno;
      if (errno === ER_SPECIFIC_ACCESS_DENIED || errno === ER_ACCESS_DENIED) {
        this.disabled = true;
        this.log().warn(
          'the binlog lag in bytes is not shown: this user may not run SHOW BINARY LOGS ' +
            '(GRANT REPLICATION CLIENT, or BINLOG MONITOR on MariaDB 10.5+)',
        );
      } else {
        this.log().debug(`mysql: SHOW BINARY LOGS for the binlog lag failed: ${(error as Error).message}`);
      }
    } finally {
      if (conn !== undefined) await endMysqlConnection(conn).catch(() => undefined);
    }
  }
}

const ER_SPECIFIC_ACCESS_DENIED = 1227;
const ER_ACCESS_DENIED = 1045;

/**
 * Bytes of the binlog after `position`: the rest of its file and every later file. Undefined when the file is
 * not listed (purged, or another server's binlog).
 */
export function binlogBytesAfter(files: readonly BinlogFile[], position: LogPoint): number | undefined {
  const at = files.findIndex((f) => f.name === position.file);
  if (at < 0) return undefined;
  let bytes = Math.max(0, files[at]!.size - position.pos);
  for (const file of files.slice(at + 1)) bytes += file.size;
  return bytes;
}
