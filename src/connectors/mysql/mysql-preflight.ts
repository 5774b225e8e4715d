import type { Connection, RowDataPacket } from 'mysql2/promise';
import { TributaryError, tableIdToString, type TableId, type ValidationCheck } from '../../core/index.js';
import type { BinlogOffset } from './mysql-offset.js';
import type { MysqlTable } from './mysql-schema-reader.js';
import type { MysqlEndpoint } from './mysql-errors.js';

/** What the server is: MariaDB and MySQL differ in GTIDs, snapshot positions and privilege names. */
export interface ServerInfo {
  readonly flavor: 'mariadb' | 'mysql';
  readonly version: string;
  readonly serverId: number;
  /** MySQL's server_uuid; MariaDB has none, so its server_id stands in. */
  readonly identity: string;
  /** 1: table and database names are stored in lower case (DDL names are folded the same way). */
  readonly lowerCaseTableNames: number;
}

export async function readServerInfo(conn: Connection): Promise<ServerInfo> {
  const [rows] = await conn.query<RowDataPacket[]>(
    'SELECT VERSION() AS v, @@server_id AS id, @@lower_case_table_names AS lctn',
  );
  const version = String(rows[0]?.['v'] ?? '');
  const serverId = Number(rows[0]?.['id'] ?? 0);
  const lowerCaseTableNames = Number(rows[0]?.['lctn'] ?? 0);
  const flavor = /mariadb/i.test(version) ? 'mariadb' : 'mysql';
  let identity = `server-id:${serverId}`;
  if (flavor === 'mysql') {
    const [u] = await conn.query<RowDataPacket[]>('SELECT @@server_uuid AS u');
    identity = String(u[0]?.['u'] ?? identity);
  }
  return { flavor, version, serverId, identity, lowerCaseTableNames };
}

/** Binlogs kept for less than this are reported: a pipeline stopped overnight could not resume. */
export const SHORT_BINLOG_RETENTION_SECONDS = 86_400;

/**
 * Server settings that binlog capture needs; each failure names the setting and how to change it. Settings
 * that work but cost something (a short binlog retention, row metadata below FULL) come back as warnings.
 */
export async function checkBinlogSettings(
  conn: Connection,
): Promise<{ checks: string[]; warnings: ValidationCheck[] }> {
  const [rows] = await conn.query<RowDataPacket[]>(
    'SELECT @@GLOBAL.log_bin AS logBin, @@GLOBAL.binlog_format AS format, @@GLOBAL.binlog_row_image AS image',
  );
  const row: RowDataPacket = rows[0] ?? ({} as RowDataPacket);
  const restart = 'in the server configuration ([mysqld] section of my.cnf) and restart the server';
  if (Number(row['logBin']) !== 1) {
    throw new TributaryError('SOURCE_BINLOG_DISABLED', 'binary logging is off on the source server', {
      hint: `set log_bin=mysql-bin and server_id=1 ${restart}`,
    });
  }
  if (String(row['format']).toUpperCase() !== 'ROW') {
    throw new TributaryError(
      'SOURCE_BINLOG_FORMAT',
      `binlog_format is ${String(row['format'])}, but row-based logging is required`,
      {
        hint: `set binlog_format=ROW ${restart} (SET GLOBAL binlog_format=ROW affects new sessions only)`,
      },
    );
  }
  if (String(row['image']).toUpperCase() !== 'FULL') {
    throw new TributaryError(
      'SOURCE_BINLOG_ROW_IMAGE',
      `binlog_row_image is ${String(row['image'])}, but FULL is required`,
      {
        hint: `set binlog_row_image=FULL ${restart}`,
      },
    );
  }
  const checks = ['binary log on', 'binlog_format=ROW', 'binlog_row_image=FULL'];
  const warnings: ValidationCheck[] = [];
  const [variables] = await conn.query<RowDataPacket[]>(
    "SHOW GLOBAL VARIABLES WHERE Variable_name IN ('binlog_expire_logs_seconds', 'expire_logs_days', 'binlog_row_metadata')",
  );
  const setting = new Map(variables.map((r) => [String(r['Variable_name']).toLowerCase(), String(r['Value'])]));
  const retention = binlogRetention(setting);
  if (retention.seconds === 0) checks.push('binlogs kept until purged by hand (no expiry)');
  else if (retention.seconds >= SHORT_BINLOG_RETENTION_SECONDS) checks.push(`binlogs kept ${retention.text}`);
  else {
    warnings.push({
      status: 'warning',
      code: 'SOURCE_BINLOG_PURGED',
      message:
        `${retention.text}: binlogs older than that are purged, so a pipeline stopped (or failing) for longer ` +
        'cannot resume (SOURCE_BINLOG_PURGED) and must take a new snapshot',
      fix:
        'keep binlogs longer than the longest stop you expect: SET GLOBAL binlog_expire_logs_seconds = 604800, and the same in my.cnf ' +
        '(MariaDB < 10.6 and MySQL 5.7: expire_logs_days = 7)',
    });
  }
  const metadata = setting.get('binlog_row_metadata');
  if (metadata !== undefined && metadata.toUpperCase() !== 'FULL') {
    warnings.push({
      status: 'warning',
      message:
        `binlog_row_metadata is ${metadata}: the binlog's table maps carry no column names nor ENUM/SET labels, so the ` +
        'columns of a row event are known only from information_schema and the DDL the source follows, and a row that does ' +
        'not fit them is reported by column number instead of name',
      fix: `SET GLOBAL binlog_row_metadata = FULL, and binlog_row_metadata = FULL ${restart.replace(' and restart the server', '')}`,
    });
  } else if (metadata !== undefined) checks.push('binlog_row_metadata=FULL');
  return { checks, warnings };
}

/** How long the server keeps binlogs (0: until purged by hand), and the setting that says so. */
function binlogRetention(setting: ReadonlyMap<string, string>): { seconds: number; text: string } {
  const seconds = Number(setting.get('binlog_expire_logs_seconds') ?? 0);
  if (seconds > 0) return { seconds, text: `binlog_expire_logs_seconds is ${seconds} (${formatSeconds(seconds)})` };
  const days = Number(setting.get('expire_logs_days') ?? 0);
  if (days > 0) return { seconds: days * 86_400, text: `expire_logs_days is ${days}` };
  return { seconds: 0, text: 'no expiry' };
}

function formatSeconds(seconds: number): string {
  if (seconds < 3600) return `${Math.round(seconds / 60)} min`;
  if (seconds < 86_400) return `${Math.round((seconds / 3600) * 10) / 10} h`;
  return `${Math.round((seconds / 86_400) * 10) / 10} days`;
}

/** REPLICATION SLAVE and REPLICATION CLIENT (MariaDB ≥ 10.5: BINLOG MONITOR) from SHOW GRANTS. */
export async function checkReplicationPrivileges(conn: Connection, endpoint: MysqlEndpoint): Promise<string> {
  const [rows] = await conn.query<RowDataPacket[]>('SHOW GRANTS');
  const grants = rows
    .map((r) => String(Object.values(r)[0]))
    .join('\n')
    .toUpperCase();
  const all = /GRANT ALL PRIVILEGES ON \*\.\*/.test(grants) || /\bSUPER\b/.test(grants);
  const missing: string[] = [];
  if (!all && !/REPLICATION SLAVE/.test(grants)) missing.push('REPLICATION SLAVE');
  if (!all && !/REPLICATION CLIENT|BINLOG MONITOR/.test(grants)) missing.push('REPLICATION CLIENT');
  if (missing.length > 0) {
    throw new TributaryError('SOURCE_PRIVILEGES_MISSING', `user '${endpoint.user}' lacks ${missing.join(' and ')}`, {
      hint: `GRANT SELECT, REPLICATION SLAVE, REPLICATION CLIENT ON *.* TO '${endpoint.user}'@'%'`,
    });
  }
  return 'privileges REPLICATION SLAVE, REPLICATION CLIENT';
}

/**
 * SELECT on every captured table, tried with queries that read nothing: one per {@link PRIVILEGE_PROBE_TABLES}
 * tables (10,000 tables: 20 round trips, not 10,000); when one is refused, its tables one by one, to name the
 * table (by errno, not by the message).
 */
export async function checkSelectPrivilege(
  conn: Connection,
  tables: readonly TableId[],
  endpoint: MysqlEndpoint,
): Promise<void> {
  const probe = (group: readonly TableId[]) =>
    conn.query(
      group
        .map(
          (t) => `SELECT 1 FROM \`${t.namespace.replace(/`/g, '``')}\`.\`${t.name.replace(/`/g, '``')}\` WHERE FALSE`,
        )
        .join(' UNION ALL '),
    );
  for (let first = 0; first < tables.length; first += PRIVILEGE_PROBE_TABLES) {
    const group = tables.slice(first, first + PRIVILEGE_PROBE_TABLES);
    try {
      await probe(group);
      continue;
    } catch (error) {
      if (!isPrivilegeError(error) || group.length === 1) throw privilegeError(error, group[0]!, endpoint);
    }
    for (const t of group) {
      try {
        await probe([t]);
      } catch (error) {
        throw privilegeError(error, t, endpoint);
      }
    }
  }
}

/** Tables per privilege probe: a statement of some 30 KB, well under max_allowed_packet. */
const PRIVILEGE_PROBE_TABLES = 500;

function isPrivilegeError(error: unknown): boolean {
  const errno = (error as { errno?: number }).errno;
  return errno === 1142 || errno === 1044;
}

function privilegeError(error: unknown, table: TableId, endpoint: MysqlEndpoint): unknown {
  if (!isPrivilegeError(error)) return error;
  return new TributaryError(
    'SOURCE_PRIVILEGES_MISSING',
    `user '${endpoint.user}' cannot SELECT from ${tableIdToString(table)}`,
    {
      cause: error,
      hint: `GRANT SELECT ON \`${table.namespace}\`.* TO '${endpoint.user}'@'%'`,
    },
  );
}

/** Every captured table needs a key to chunk the snapshot by and to apply changes with. */
export function checkKeys(tables: Iterable<MysqlTable>, chunkKeyColumn: string | undefined): void {
  const keyless = [...tables].filter((t) => t.schema.primaryKey.length === 0).map((t) => tableIdToString(t.schema.id));
  if (keyless.length === 0) return;
  throw new TributaryError(
    'SOURCE_NO_PRIMARY_KEY',
    `table${keyless.length > 1 ? 's' : ''} without a primary key: ${keyless.join(', ')}`,
    {
      hint: chunkKeyColumn
        ? `the chunk key column '${chunkKeyColumn}' is not a column of ${keyless.join(', ')}; add a primary key or exclude the table`
        : 'add a primary key, or set source.scan.incremental.snapshot.chunk.key-column to a unique NOT NULL column, or exclude the table from source.tables',
    },
  );
}

/**
 * `scan.incremental.snapshot.chunk.key-column` stands in for the key of tables without a primary key; it must be
 * NOT NULL and unique for exact results (rows sharing a value are one row to the sink). A warning per table
 * where it is not.
 */
export async function checkChunkKeyColumn(
  conn: Connection,
  tables: Iterable<MysqlTable>,
  column: string | undefined,
): Promise<ValidationCheck[]> {
  if (column === undefined) return [];
  const warnings: ValidationCheck[] = [];
  for (const { schema } of tables) {
    if (schema.primaryKey.length !== 1 || schema.primaryKey[0] !== column) continue;
    const [indexes] = await conn.query<RowDataPacket[]>(
      'SELECT INDEX_NAME AS name, MIN(NON_UNIQUE) AS nonUnique, GROUP_CONCAT(COLUMN_NAME ORDER BY SEQ_IN_INDEX) AS cols ' +
        'FROM information_schema.STATISTICS WHERE TABLE_SCHEMA = ? AND TABLE_NAME = ? GROUP BY INDEX_NAME',
      [schema.id.namespace, schema.id.name],
    );
    if (indexes.some((i) => String(i['name']) === 'PRIMARY')) continue; // its own key applies
    const unique = indexes.some((i) => Number(i['nonUnique']) === 0 && String(i['cols']) === column);
    const nullable = schema.columns.find((c) => c.name === column)?.nullable ?? true;
    if (unique && !nullable) continue;
    const what = [nullable ? 'nullable' : '', unique ? '' : 'not unique'].filter((w) => w !== '').join(' and ');
    const table = tableIdToString(schema.id);
    warnings.push({
      status: 'warning',
      code: 'SOURCE_NO_PRIMARY_KEY',
      message:
        `the chunk key column ${column} of ${table} is ${what}: rows that share a value${nullable ? ' (or are NULL)' : ''} ` +
        'are one row to the sink, which keeps only the last of them',
      fix: `give ${table} a primary key, or a UNIQUE index on a NOT NULL column and name that column in source.scan.incremental.snapshot.chunk.key-column (ALTER TABLE ${table} MODIFY ${column} … NOT NULL, ADD UNIQUE (${column}))`,
    });
  }
  return warnings;
}

/**
 * The resume position must still be on the server; otherwise resuming would silently lose changes. A `saved`
 * position (a checkpoint's) that the server never reached — its file is shorter than the position, or the file
 * lies beyond the server's newest one — was not written by this server's binlog at all: another server with
 * the same identity, or a binlog reset since. That is PIPELINE_STATE_MISMATCH, not SOURCE_BINLOG_PURGED: only
 * a file older than the server's oldest was purged.
 */
export async function checkOffsetAvailable(conn: Connection, offset: BinlogOffset, saved = false): Promise<void> {
  const [rows] = await conn.query<RowDataPacket[]>('SHOW BINARY LOGS');
  const files = rows.map((r) => ({ name: String(r['Log_name']), size: Number(r['File_size']) }));
  const file = files.find((f) => f.name === offset.file);
  if (file && offset.pos <= file.size) return;
  const oldest = files[0]?.name ?? 'none';
  const newest = files[files.length - 1];
  const at = `${offset.file}:${offset.pos}`;
  if (saved) {
    const notWritten = file
      ? `${file.name} ends at ${file.size} on this server`
      : newest !== undefined && !purgedFile(offset.file, files[0]?.name)
        ? `this server's binlogs are ${oldest} … ${newest.name}, and ${offset.file} is not among them`
        : undefined;
    if (notWritten !== undefined) {
      throw new TributaryError(
        'PIPELINE_STATE_MISMATCH',
        `the saved position ${at} is not in this server's binlog (${notWritten}): the checkpoint was taken from ` +
          'another server (one with the same server_id, a replaced or restored server) or the binlog was reset since',
        {
          hint: 'point the pipeline at the server it was reading, or run with --reset to start over with a new snapshot',
        },
      );
    }
  }
  throw new TributaryError(
    'SOURCE_BINLOG_PURGED',
    `the pipeline must resume at ${at}, but the server no longer has it (oldest binlog: ${oldest})`,
    {
      hint: 'the changes in between are lost to the binlog: run `tributary run <file> --reset` to take a fresh snapshot, and keep binlogs longer (binlog_expire_logs_seconds / expire_logs_days)',
    },
  );
}

/**
 * Whether binlog file `name` comes before `oldest` in the server's sequence (same base name, lower number):
 * one the server had and purged.
 */
function purgedFile(name: string, oldest: string | undefined): boolean {
  const a = /^(.*)\.(\d+)$/.exec(name);
  const b = oldest === undefined ? null : /^(.*)\.(\d+)$/.exec(oldest);
  if (!a || !b || a[1] !== b[1]) return false;
  return Number(a[2]) < Number(b[2]);
}
