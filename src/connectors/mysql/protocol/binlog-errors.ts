import { TributaryError, type ErrorCode } from '../../../core/errors.js';
import { tlsFailure, tlsRequiredHint } from '../../tls-options.js';
import { MYSQL_TLS_NAMES, SECURE_TRANSPORT_REQUIRED } from '../mysql-tls.js';

/** Where in its life the binlog stream was when an error happened; one errno can mean different things. */
export type BinlogStreamPhase = 'connect' | 'setup' | 'dump-start' | 'streaming';

/**
 * An error of the binlog stream: a TributaryError (classified code, retryable) that keeps the server's or the
 * socket's own identifiers for logs and for callers that need finer distinctions.
 */
export class BinlogStreamError extends TributaryError {
  /** MySQL/MariaDB error number (e.g. 1236) when the server reported the error. */
  readonly errno: number | undefined;
  readonly sqlState: string | undefined;
  /** The driver's or socket's code (`ER_MASTER_FATAL_ERROR_READING_BINLOG`, `ECONNRESET` …). */
  readonly driverCode: string | undefined;

  constructor(
    code: ErrorCode,
    message: string,
    details: { errno?: number; sqlState?: string; driverCode?: string; hint?: string; cause?: unknown } = {},
  ) {
    super(code, message, { hint: details.hint, cause: details.cause });
    this.name = 'BinlogStreamError';
    this.errno = details.errno;
    this.sqlState = details.sqlState;
    this.driverCode = details.driverCode;
  }
}

/** The binlog bytes are not what the protocol says they should be (or use a feature this reader lacks). */
export function binlogProtocolError(message: string, cause?: unknown): BinlogStreamError {
  return new BinlogStreamError('SOURCE_PROTOCOL', message, { cause });
}

/**
 * The canonical column types handed to `prepareRowDecoder` do not fit the table map (other column count, or a
 * type the wire format cannot produce): the caller's schema is stale. Refresh it and reopen from the last
 * committed position.
 */
export class BinlogSchemaMismatchError extends BinlogStreamError {
  readonly database: string;
  readonly table: string;

  constructor(database: string, table: string, message: string) {
    super('SOURCE_PROTOCOL', `${database}.${table}: ${message}`, {
      hint: 'the table changed since its schema was read; reload the schema and resume from the last checkpoint',
    });
    this.name = 'BinlogSchemaMismatchError';
    this.database = database;
    this.table = table;
  }
}

const ER_MASTER_FATAL_ERROR_READING_BINLOG = 1236;
const ER_MASTER_HAS_PURGED_REQUIRED_GTIDS = 1789;
/** MariaDB: another replica registered with our server id; the server drops the older connection. */
const ER_SLAVE_SAME_ID = 4052;
const ACCESS_DENIED = new Set([1044, 1142, 1227, 1370, 1045]);
const CONNECTION_ENDED = new Set([1053, 1927, 2006, 2013, 1152, 1158, 1159, 1160, 1161]);
const TOO_MANY_CONNECTIONS = new Set([1040, 1203, 1226]);
const SOCKET_UNREACHABLE = new Set(['ECONNREFUSED', 'ENOTFOUND', 'EHOSTUNREACH', 'ENETUNREACH', 'EAI_AGAIN']);

interface DriverErrorLike {
  readonly errno?: unknown;
  readonly code?: unknown;
  readonly sqlState?: unknown;
  readonly message?: unknown;
}

/**
 * Classifies an error of the driver, the socket or the server by errno / code and by the stream's phase
 * (never by message text): 1236 before the first event means the requested position is gone (purged, or
 * past the end of the file); after events have flowed it means the server stopped reading (another replica
 * with our server id took over, or a damaged binlog).
 */
export function classifyBinlogError(error: unknown, phase: BinlogStreamPhase): BinlogStreamError {
  if (error instanceof BinlogStreamError) return error;
  if (error instanceof TributaryError) {
    // Already classified where it was raised (the connection guard: a timeout, a broken framing).
    return new BinlogStreamError(error.code, error.message, {
      ...(error.hint ? { hint: error.hint } : {}),
      cause: error,
    });
  }
  const e = (typeof error === 'object' && error !== null ? error : {}) as DriverErrorLike;
  // Server errors carry a positive errno; Node's socket errors a negative one (ECONNRESET is -104): those are not the server's.
  const errno = typeof e.errno === 'number' && e.errno > 0 ? e.errno : undefined;
  const driverCode = typeof e.code === 'string' ? e.code : undefined;
  const sqlState = typeof e.sqlState === 'string' ? e.sqlState : undefined;
  const text = typeof e.message === 'string' ? e.message : String(error);
  const details = { errno, sqlState, driverCode, cause: error };
  const make = (code: ErrorCode, message: string, hint?: string): BinlogStreamError =>
    new BinlogStreamError(code, message, { ...details, hint });

  if (phase === 'connect') {
    const tls = tlsFailure(error, 'the MySQL/MariaDB server', MYSQL_TLS_NAMES);
    if (tls !== undefined) return make(tls.code, tls.message, tls.hint);
    if (errno !== undefined && SECURE_TRANSPORT_REQUIRED.has(errno)) {
      return make('TLS_REQUIRED', `the server accepts only TLS connections: ${text}`, tlsRequiredHint(MYSQL_TLS_NAMES));
    }
  }
  // A server errno from the connection phase is only reported by mysql2 as a fatal error with `errno` set.
  if (errno === ER_MASTER_FATAL_ERROR_READING_BINLOG || errno === ER_MASTER_HAS_PURGED_REQUIRED_GTIDS) {
    if (phase === 'streaming') {
      return make(
        'SOURCE_PROTOCOL',
        `the server stopped sending the binlog: ${text}`,
        'another replica or CDC reader may use the same server id; give each reader its own server-id',
      );
    }
    return make(
      'SOURCE_BINLOG_PURGED',
      `the server cannot send the binlog from the requested position: ${text}`,
      'the binlog file was purged, or the position never was an event boundary in it; start again with a fresh ' +
        'snapshot, and keep binlogs longer (binlog_expire_logs_seconds / expire_logs_days)',
    );
  }
  if (errno === ER_SLAVE_SAME_ID) {
    return make(
      'SOURCE_SERVER_ID_CONFLICT',
      `another replica uses this reader's server id: ${text}`,
      'give every replica and CDC reader of this server its own server-id',
    );
  }
  if (errno !== undefined && ACCESS_DENIED.has(errno)) {
    // After a successful login, MariaDB answers COM_REGISTER_SLAVE / COM_BINLOG_DUMP without the REPLICATION
    // SLAVE privilege with 1045 too: only at connect time is 1045 about the credentials.
    if (errno === 1045 && phase === 'connect') return make('SOURCE_AUTH_FAILED', `authentication failed: ${text}`);
    return make(
      'SOURCE_PRIVILEGES_MISSING',
      `missing privilege: ${text}`,
      'GRANT REPLICATION SLAVE, REPLICATION CLIENT ON *.* TO the CDC user',
    );
  }
  if (errno !== undefined && TOO_MANY_CONNECTIONS.has(errno)) return make('SOURCE_UNREACHABLE', text);
  if (errno !== undefined && CONNECTION_ENDED.has(errno)) return make('SOURCE_CONNECTION_LOST', text);
  if (driverCode !== undefined && SOCKET_UNREACHABLE.has(driverCode)) return make('SOURCE_UNREACHABLE', text);
  if (driverCode === 'ETIMEDOUT') {
    return make(phase === 'connect' ? 'SOURCE_UNREACHABLE' : 'SOURCE_CONNECTION_LOST', text);
  }
  if (errno === undefined && driverCode === undefined) return make('INTERNAL', text);
  if (errno === undefined) {
    // Socket-level failures (ECONNRESET, EPIPE, PROTOCOL_CONNECTION_LOST, …).
    return make(phase === 'connect' ? 'SOURCE_UNREACHABLE' : 'SOURCE_CONNECTION_LOST', text);
  }
  return make(phase === 'streaming' ? 'SOURCE_PROTOCOL' : 'SOURCE_QUERY_FAILED', text);
}
