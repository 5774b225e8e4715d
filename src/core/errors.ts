import type { SchemaChangeEvent } from './change-event.js';
import type { TableSchema } from './table-schema.js';

/**
 * Every error a user can meet has a stable code, listed here once with whether retrying can help.
 * docs/errors.md explains each code's cause and fix; a test keeps the two lists equal.
 */
export const ERROR_CODES = {
  CONFIG_INVALID: { retryable: false },
  CONFIG_FILE_NOT_FOUND: { retryable: false },
  CONFIG_ENV_MISSING: { retryable: false },
  CONNECTOR_UNKNOWN: { retryable: false },
  CONNECTOR_DUPLICATE: { retryable: false },
  SOURCE_UNREACHABLE: { retryable: true },
  SOURCE_AUTH_FAILED: { retryable: false },
  SOURCE_PRIVILEGES_MISSING: { retryable: false },
  SOURCE_BINLOG_DISABLED: { retryable: false },
  SOURCE_BINLOG_FORMAT: { retryable: false },
  SOURCE_BINLOG_ROW_IMAGE: { retryable: false },
  SOURCE_BINLOG_PURGED: { retryable: false },
  SOURCE_GTID_BEHIND: { retryable: false },
  SOURCE_SERVER_ID_CONFLICT: { retryable: false },
  SOURCE_NO_PRIMARY_KEY: { retryable: false },
  SOURCE_NO_TABLES: { retryable: false },
  SOURCE_CONNECTION_LOST: { retryable: true },
  SOURCE_TIMEOUT: { retryable: true },
  SOURCE_PROTOCOL: { retryable: false },
  SOURCE_QUERY_FAILED: { retryable: true },
  SOURCE_UNSUPPORTED_TYPE: { retryable: false },
  SOURCE_WAL_LEVEL: { retryable: false },
  SOURCE_SLOT_LOST: { retryable: false },
  TLS_REQUIRED: { retryable: false },
  TLS_UNAVAILABLE: { retryable: false },
  TLS_CERT_UNTRUSTED: { retryable: false },
  TLS_HOSTNAME_MISMATCH: { retryable: false },
  TLS_CERT_EXPIRED: { retryable: false },
  TLS_CLIENT_CERT_REJECTED: { retryable: false },
  SINK_UNREACHABLE: { retryable: true },
  SINK_TIMEOUT: { retryable: true },
  SINK_AUTH_FAILED: { retryable: false },
  SINK_DATABASE_MISSING: { retryable: false },
  SINK_PRIVILEGES_MISSING: { retryable: false },
  SINK_WRITE_FAILED: { retryable: true },
  SINK_OUT_OF_RESOURCES: { retryable: true },
  SINK_TOO_MANY_CONNECTIONS: { retryable: true },
  SINK_SCHEMA_MISMATCH: { retryable: false },
  SINK_SCHEMA_CHANGE_FAILED: { retryable: false },
  SINK_FENCED: { retryable: true },
  ICEBERG_WAREHOUSE_UNUSABLE: { retryable: false },
  ICEBERG_METADATA_INVALID: { retryable: false },
  ICEBERG_COMMIT_CONFLICT: { retryable: false },
  FORMAT_DECODE_FAILED: { retryable: false },
  FORMAT_VALUE_UNREPRESENTABLE: { retryable: false },
  SCHEMA_CHANGE_REJECTED: { retryable: false },
  ROUTE_NO_MATCH: { retryable: false },
  ROUTE_KEY_COLLISION: { retryable: false },
  TRANSFORM_EVAL_FAILED: { retryable: false },
  UDF_LOAD_FAILED: { retryable: false },
  SQL_INVALID: { retryable: false },
  SQL_UNSUPPORTED_CHANGE: { retryable: false },
  SQL_STATE_MISMATCH: { retryable: false },
  STATE_DIR_UNWRITABLE: { retryable: false },
  STATE_CORRUPT: { retryable: false },
  SAVEPOINT_NOT_FOUND: { retryable: false },
  PIPELINE_STATE_MISMATCH: { retryable: false },
  PIPELINE_STALLED: { retryable: true },
  PIPELINE_RUNNING: { retryable: false },
  REPAIR_INTERRUPTED: { retryable: false },
  INTERNAL: { retryable: false },
} as const satisfies Record<string, { retryable: boolean }>;

export type ErrorCode = keyof typeof ERROR_CODES;

export interface TributaryErrorOptions {
  /** What the user should change, and where. */
  readonly hint?: string;
  readonly cause?: unknown;
  /** Overrides the code's default, for the rare error whose retry depends on the circumstances. */
  readonly retryable?: boolean;
}

/**
 * The one error class of the project. Connectors classify driver errors by errno / SQLSTATE into these;
 * the runtime alone decides whether to retry (`retryable`) and how long to back off.
 * Messages and hints never contain secrets.
 */
export class TributaryError extends Error {
  readonly code: ErrorCode;
  readonly retryable: boolean;
  readonly hint: string | undefined;

  constructor(code: ErrorCode, message: string, options: TributaryErrorOptions = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'TributaryError';
    this.code = code;
    this.hint = options.hint;
    this.retryable = options.retryable ?? ERROR_CODES[code].retryable;
  }

  /** `[CODE] message\n  hint: …` — the form the CLI prints. */
  format(): string {
    return this.hint ? `[${this.code}] ${this.message}\n  fix: ${this.hint}` : `[${this.code}] ${this.message}`;
  }
}

/**
 * SINK_SCHEMA_CHANGE_FAILED: a sink could not apply `event` and undid it, keeping its transaction (see
 * `Sink.write`). `previous` is the schema the sink table followed before `event` (what it still has).
 */
export class SchemaChangeFailedError extends TributaryError {
  readonly event: SchemaChangeEvent;
  readonly previous: TableSchema | undefined;

  constructor(
    event: SchemaChangeEvent,
    previous: TableSchema | undefined,
    message: string,
    options: Omit<TributaryErrorOptions, 'retryable'> = {},
  ) {
    super('SINK_SCHEMA_CHANGE_FAILED', message, options);
    this.name = 'SchemaChangeFailedError';
    this.event = event;
    this.previous = previous;
  }
}

export function isTributaryError(error: unknown): error is TributaryError {
  return error instanceof TributaryError;
}

/** Wraps anything thrown into a TributaryError, keeping an existing one as it is. */
export function asTributaryError(error: unknown, code: ErrorCode = 'INTERNAL'): TributaryError {
  if (error instanceof TributaryError) return error;
  const message = error instanceof Error ? error.message : String(error);
  return new TributaryError(code, message, { cause: error });
}
