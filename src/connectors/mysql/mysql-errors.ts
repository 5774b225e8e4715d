import type { Connection } from 'mysql2/promise';
import { TributaryError, type ErrorCode } from '../../core/index.js';
import { closeWithin } from '../socket-deadline.js';
import { tlsFailure, tlsRequiredHint } from '../tls-options.js';
import { MYSQL_TLS_NAMES, SECURE_TRANSPORT_REQUIRED } from './mysql-tls.js';

/** The server errors this connector tells apart (MySQL/MariaDB errno values). */
const ER_DBACCESS_DENIED = 1044;
const ER_ACCESS_DENIED = 1045;
const ER_BAD_DB = 1049;
const ER_TABLEACCESS_DENIED = 1142;
const ER_SPECIFIC_ACCESS_DENIED = 1227;
const ER_MASTER_FATAL_READING_BINLOG = 1236;
const ER_NO_SUCH_TABLE = 1146;
const CR_SERVER_GONE = 2006;
const CR_SERVER_LOST = 2013;
const ER_CON_COUNT = 1040;
const ER_SERVER_SHUTDOWN = 1053;
const ER_QUERY_INTERRUPTED = 1317;

const NETWORK_CODES = new Set(['ECONNREFUSED', 'ENOTFOUND', 'EHOSTUNREACH', 'ETIMEDOUT', 'EAI_AGAIN', 'ENETUNREACH']);
const LOST_CODES = new Set(['ECONNRESET', 'EPIPE', 'PROTOCOL_CONNECTION_LOST', 'ERR_STREAM_DESTROYED']);
interface DriverError {
  errno?: number;
  code?: string;
  fatal?: boolean;
  message?: string;
}

/** Where the source was talking to, for messages (never the password). */
export interface MysqlEndpoint {
  readonly host: string;
  readonly port: number;
  readonly user: string;
}

/**
 * Classifies a mysql2 / socket error by errno or Node error code (never by message text) into a
 * TributaryError with a hint. `during` says what we were doing, for the message.
 */
export function mysqlError(error: unknown, endpoint: MysqlEndpoint, during: string): TributaryError {
  if (error instanceof TributaryError) return error;
  const e = (error ?? {}) as DriverError;
  const where = `${endpoint.host}:${endpoint.port}`;
  const make = (code: ErrorCode, message: string, hint: string) =>
    new TributaryError(code, `${message} (while ${during})`, { cause: error, hint });

  if (e.code && NETWORK_CODES.has(e.code)) {
    return make(
      'SOURCE_UNREACHABLE',
      `cannot reach the MySQL/MariaDB server at ${where}: ${e.code}`,
      'check source.hostname and source.port, and that the server is running and accepts TCP connections',
    );
  }
  const tls = tlsFailure(error, where, MYSQL_TLS_NAMES);
  if (tls !== undefined) return make(tls.code, tls.message, tls.hint ?? '');
  if (e.errno !== undefined && SECURE_TRANSPORT_REQUIRED.has(e.errno)) {
    return make(
      'TLS_REQUIRED',
      `the server at ${where} accepts only TLS connections (require_secure_transport)`,
      tlsRequiredHint(MYSQL_TLS_NAMES),
    );
  }
  if ((e.code && LOST_CODES.has(e.code)) || (e.fatal === true && e.errno === undefined && e.code === undefined)) {
    return make(
      'SOURCE_CONNECTION_LOST',
      `the connection to ${where} was lost (${e.code ?? 'connection closed'})`,
      'transient: the pipeline reconnects and resumes from its last checkpoint',
    );
  }
  switch (e.errno) {
    case ER_ACCESS_DENIED:
      return make(
        'SOURCE_AUTH_FAILED',
        `access denied for user '${endpoint.user}' at ${where}`,
        'check source.username and source.password (or the environment variable or file it reads); an account created with REQUIRE SSL / X509 also needs source.ssl-mode (and ssl-cert / ssl-key)',
      );
    case ER_DBACCESS_DENIED:
    case ER_TABLEACCESS_DENIED:
    case ER_SPECIFIC_ACCESS_DENIED:
      return make(
        'SOURCE_PRIVILEGES_MISSING',
        `user '${endpoint.user}' lacks a privilege: ${e.message ?? ''}`,
        `GRANT SELECT, REPLICATION SLAVE, REPLICATION CLIENT ON *.* TO '${endpoint.user}'@'%'`,
      );
    case ER_MASTER_FATAL_READING_BINLOG:
      return make(
        'SOURCE_BINLOG_PURGED',
        `the server cannot send the binlog from the saved position: ${e.message ?? ''}`,
        "the binlog files the pipeline needs are gone; run it again with --reset to take a new snapshot, and raise the server's binlog retention (expire_logs_days / binlog_expire_logs_seconds)",
      );
    case CR_SERVER_GONE:
    case CR_SERVER_LOST:
    case ER_SERVER_SHUTDOWN:
    case ER_CON_COUNT:
    case ER_QUERY_INTERRUPTED:
      return make(
        'SOURCE_CONNECTION_LOST',
        `the server at ${where} closed the connection (errno ${e.errno})`,
        'transient: the pipeline reconnects and resumes from its last checkpoint',
      );
    case ER_BAD_DB:
    case ER_NO_SUCH_TABLE:
      return make(
        'SOURCE_QUERY_FAILED',
        e.message ?? 'unknown database or table',
        'the table may have been dropped or renamed while the pipeline ran',
      );
    default:
      return new TributaryError('SOURCE_QUERY_FAILED', `${e.message ?? String(error)} (while ${during})`, {
        cause: error,
        retryable: e.errno === undefined,
        hint: 'see the server error above',
      });
  }
}

/** How long a polite COM_QUIT may take before the socket is simply destroyed. */
const END_TIMEOUT_MS = 2000;

/**
 * Ends a connection politely, or destroys it when the server does not answer within 2 s (a half-open link
 * would keep `end()` waiting forever, and with it the pipeline's restart or stop). Never throws.
 */
export async function endMysqlConnection(conn: Connection): Promise<void> {
  await closeWithin(
    () => conn.end(),
    () => conn.destroy(),
    END_TIMEOUT_MS,
  );
}
