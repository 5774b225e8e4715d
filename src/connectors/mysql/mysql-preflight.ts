import type { Connection, RowDataPacket } from 'mysql2/promise';
import { TributaryError, tableIdToString, type TableId } from '../../core/index.js';
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

/** Server settings that binlog capture needs; each failure names the setting and how to change it. */
export async function checkBinlogSettings(conn: Connection): Promise<string[]> {
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
  return ['binary log on', 'binlog_format=ROW', 'binlog_row_image=FULL'];
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

/** SELECT on every captured table, tried with a query that reads nothing. */
export async function checkSelectPrivilege(
  conn: Connection,
  tables: readonly TableId[],
  endpoint: MysqlEndpoint,
): Promise<void> {
  for (const t of tables) {
    try {
      await conn.query(
        `SELECT 1 FROM \`${t.namespace.replace(/`/g, '``')}\`.\`${t.name.replace(/`/g, '``')}\` LIMIT 0`,
      );
    } catch (error) {
      const errno = (error as { errno?: number }).errno;
      if (errno === 1142 || errno === 1044) {
        throw new TributaryError(
          'SOURCE_PRIVILEGES_MISSING',
          `user '${endpoint.user}' cannot SELECT from ${tableIdToString(t)}`,
          {
            cause: error,
            hint: `GRANT SELECT ON \`${t.namespace}\`.* TO '${endpoint.user}'@'%'`,
          },
        );
      }
      throw error;
    }
  }
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

/** The saved resume position must still be on the server; otherwise resuming would silently lose changes. */
export async function checkOffsetAvailable(conn: Connection, offset: BinlogOffset): Promise<void> {
  const [rows] = await conn.query<RowDataPacket[]>('SHOW BINARY LOGS');
  const files = rows.map((r) => ({ name: String(r['Log_name']), size: Number(r['File_size']) }));
  const file = files.find((f) => f.name === offset.file);
  if (!file || offset.pos > file.size) {
    const oldest = files[0]?.name ?? 'none';
    throw new TributaryError(
      'SOURCE_BINLOG_PURGED',
      `the pipeline must resume at ${offset.file}:${offset.pos}, but the server no longer has it (oldest binlog: ${oldest})`,
      {
        hint: 'the changes in between are lost to the binlog: run `tributary run <file> --reset` to take a fresh snapshot, and keep binlogs longer (binlog_expire_logs_seconds / expire_logs_days)',
      },
    );
  }
}
