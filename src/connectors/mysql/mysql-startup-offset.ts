import type { Connection, RowDataPacket } from 'mysql2/promise';
import { formatOffset, parseTimeZone, TributaryError, type ValidationCheck } from '../../core/index.js';
import type { BinlogOffset } from './mysql-offset.js';
import { checkOffsetAvailable } from './mysql-preflight.js';
import type { MysqlSourceConfig } from './mysql-source-config.js';
import { binlogStatus, gtidStateAt, normalizeGtidState, type GtidFlavor } from './mysql-gtid.js';
import { checkStartupGtidState } from './mysql-failover.js';

/**
 * Where a pipeline without a checkpoint starts reading the binlog, by `scan.startup.mode`; for `timestamp`
 * also the commit time before which row changes are dropped (0: none).
 */
export async function startupOffset(
  conn: Connection,
  config: MysqlSourceConfig,
): Promise<{ offset: BinlogOffset; skipBeforeMs: number }> {
  const { offset, skipBeforeMs } = await startupPoint(conn, config);
  if (offset.gtidState !== undefined) return { offset, skipBeforeMs };
  // The GTID state there, so that even the first checkpoint can be resumed on another server (MariaDB).
  const flavor = await serverFlavor(conn);
  const gtidState = await gtidStateAt(conn, flavor, offset).catch(() => undefined);
  return { offset: gtidState === undefined ? offset : { ...offset, gtidState }, skipBeforeMs };
}

async function startupPoint(
  conn: Connection,
  config: MysqlSourceConfig,
): Promise<{ offset: BinlogOffset; skipBeforeMs: number }> {
  const mode = config.startupMode;
  if (mode === 'specific-offset') {
    checkStartupOptions(config);
    if (config.specificOffsetFile === undefined && config.specificOffsetGtidSet !== undefined) {
      return { offset: await gtidSetOffset(conn, config, config.specificOffsetGtidSet), skipBeforeMs: 0 };
    }
    const offset = {
      file: config.specificOffsetFile ?? '',
      pos: config.specificOffsetPos ?? 4,
      skipRows: config.specificOffsetSkipRows,
    };
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
  const now = await binlogStatus(conn);
  const executed = now.executedGtidSet?.replace(/\s+/g, '');
  return {
    offset: { file: now.file, pos: now.pos, skipRows: 0, ...(executed ? { gtidState: executed } : {}) },
    skipBeforeMs: 0,
  };
}

/**
 * `scan.startup.specific-offset.gtid-set` alone: the binlog starts after that GTID state, on whichever server
 * this is (file '' — see BinlogOffset). The server must have applied all of it.
 */
async function gtidSetOffset(conn: Connection, config: MysqlSourceConfig, text: string): Promise<BinlogOffset> {
  const flavor = await serverFlavor(conn);
  const normalized = normalizeGtidState(text, flavor);
  if ('problem' in normalized) {
    throw new TributaryError('CONFIG_INVALID', `source.scan.startup.specific-offset.gtid-set: ${normalized.problem}`, {
      hint:
        flavor === 'mariadb'
          ? "write a MariaDB GTID position, one domain-server-sequence per domain, as SELECT @@gtid_binlog_pos prints it (e.g. '0-1-120')"
          : "write a MySQL GTID set, as SELECT @@gtid_executed prints it (e.g. '3e11fa47-71ca-11e1-9e33-c80aa9429562:1-120')",
    });
  }
  await checkStartupGtidState(conn, flavor, normalized.state, `${config.host}:${config.port}`);
  return { file: '', pos: 4, skipRows: config.specificOffsetSkipRows, gtidState: normalized.state };
}

async function serverFlavor(conn: Connection): Promise<GtidFlavor> {
  const [rows] = await conn.query<RowDataPacket[]>('SELECT VERSION() AS v');
  return /mariadb/i.test(String(rows[0]?.['v'] ?? '')) ? 'mariadb' : 'mysql';
}

/** A stable replica server id per pipeline name, away from the server's own id. */
export function defaultServerId(name: string, serverOwnId: number): number {
  let hash = 0;
  for (const ch of name) hash = (hash * 31 + ch.charCodeAt(0)) >>> 0;
  const id = 5400 + (hash % 100_000);
  return id === serverOwnId ? id + 1 : id;
}

/**
 * The startup options that cannot work, as CONFIG_INVALID: `specific-offset` needs a binlog file or a GTID set.
 */
export function checkStartupOptions(config: MysqlSourceConfig): void {
  if (config.startupMode !== 'specific-offset' || config.specificOffsetFile !== undefined) return;
  if (config.specificOffsetGtidSet !== undefined) return;
  throw new TributaryError(
    'CONFIG_INVALID',
    'scan.startup.mode is specific-offset but neither a binlog file nor a GTID set is given',
    {
      hint: 'add scan.startup.specific-offset.file (e.g. mysql-bin.000003) and scan.startup.specific-offset.pos under source:, or scan.startup.specific-offset.gtid-set',
    },
  );
}

/** Warnings about startup and compatibility options that are written but have no (or a partial) effect. */
export function sourceOptionWarnings(config: MysqlSourceConfig): ValidationCheck[] {
  const warnings: ValidationCheck[] = [];
  const warn = (message: string, fix: string) => warnings.push({ status: 'warning', message, fix });
  if (
    config.specificOffsetGtidSet !== undefined &&
    (config.startupMode !== 'specific-offset' || config.specificOffsetFile !== undefined)
  ) {
    warn(
      config.startupMode === 'specific-offset'
        ? 'source.scan.startup.specific-offset.gtid-set is not used: the pipeline starts from .file/.pos, which are given too'
        : `source.scan.startup.specific-offset.gtid-set has no effect: scan.startup.mode is ${config.startupMode}`,
      'remove scan.startup.specific-offset.gtid-set',
    );
  }
  if (config.specificOffsetSkipEvents > 0) {
    warn(
      'source.scan.startup.specific-offset.skip-events is not used: the pipeline starts at .pos, an event boundary',
      'point .pos at the first event to read (and use .skip-rows for row changes within its transaction)',
    );
  }
  if (config.newlyAddedTableEnabled === false && config.newlyAddedTableWritten) {
    warn(
      'source.scan.newly-added-table.enabled: false has no effect: tables that the tables pattern matches after a restart are always snapshotted, then streamed',
      'remove the option (or write true, which is what happens)',
    );
  }
  for (const { key, reason } of config.jdbc.ignored) {
    warn(`source.${key} is accepted for compatibility and ignored: ${reason}`, `remove ${key}`);
  }
  return warnings;
}

/**
 * `server-time-zone` against the server's offset now, as Flink CDC's validator compares them: a warning when
 * they differ (Flink CDC refuses to start; here no value depends on it, see the option).
 */
export async function checkServerTimeZone(conn: Connection, config: MysqlSourceConfig): Promise<ValidationCheck> {
  const [rows] = await conn.query<RowDataPacket[]>('SELECT TIME_TO_SEC(TIMEDIFF(NOW(), UTC_TIMESTAMP())) AS diff');
  const serverMinutes = Math.round(Number(rows[0]?.['diff'] ?? 0) / 60);
  const zone = config.serverTimeZone === undefined ? undefined : parseTimeZone(config.serverTimeZone);
  if (zone === undefined) {
    return {
      status: 'ok',
      message: `server time zone ${formatOffset(serverMinutes)} now (TIMESTAMP values are read as UTC instants)`,
    };
  }
  const configured = zone.offsetMinutesAt(new Date());
  if (configured === serverMinutes) {
    return {
      status: 'ok',
      message: `server-time-zone ${zone.id} matches the server's offset (${formatOffset(serverMinutes)} now)`,
    };
  }
  return {
    status: 'warning',
    message: `server-time-zone ${zone.id} (${formatOffset(configured)} now) does not match the server's time zone (${formatOffset(serverMinutes)} now). Flink CDC would refuse to start; Tributary reads TIMESTAMP values as UTC instants and DATETIME values as written, so no value shifts`,
    fix: `set server-time-zone to the server's zone (offset ${formatOffset(serverMinutes)}), or remove it`,
  };
}
