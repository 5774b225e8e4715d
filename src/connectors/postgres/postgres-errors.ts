import { TributaryError, type ErrorCode } from '../../core/errors.js';

/** What the sink was doing when the error happened; it decides the code of errors that are not specific. */
export type PostgresErrorPhase = 'connect' | 'validate' | 'checkpoint' | 'write';

export interface PostgresErrorContext {
  readonly phase: PostgresErrorPhase;
  /** `user@host:port/database`, never with the password. */
  readonly target: string;
  readonly username: string;
  readonly database: string;
  /** The password, only so that it can be removed from any driver text that might echo it. */
  readonly password: string;
  /** True when the client has seen its connection fail: errors without a code then mean "unreachable". */
  readonly connectionLost?: boolean;
  /** The sink table being written, for the message. */
  readonly table?: string;
}

/** Node system errors that mean the server cannot be reached (or the connection broke). */
const NETWORK_ERRNOS = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'ENOTFOUND',
  'EAI_AGAIN',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'ETIMEDOUT',
  'EPIPE',
  'ECONNABORTED',
]);

/** Node TLS verification failures: a configuration problem that retrying cannot fix. */
const TLS_CODES = /^(ERR_TLS_|ERR_SSL_)|CERT|SELF_SIGNED/;

/**
 * Classifies a `pg` driver error into a TributaryError by SQLSTATE or Node errno, never by message text:
 *
 * - 28P01, 28000 → SINK_AUTH_FAILED; 3D000 → SINK_DATABASE_MISSING; 42501 → SINK_PRIVILEGES_MISSING
 * - TLS certificate failures → SINK_UNREACHABLE, not retryable, with a hint on `ssl`
 * - network errnos, 08xxx (connection exception), 57P01/57P02/57P03 (shutdown, starting up), and code-less
 *   errors after the connection failed → SINK_UNREACHABLE (retryable)
 * - 53300 (too many connections) → SINK_TOO_MANY_CONNECTIONS (retryable: another client may leave)
 * - 53000, 53100 (disk full), 53200 (out of memory — and "out of shared memory": the lock table), 53400
 *   (configuration limit), class 54 (program limit exceeded) → SINK_OUT_OF_RESOURCES, retryable: the runner
 *   retries with smaller transactions (fewer tables, fewer events) and stops after a bounded number of
 *   identical failures (docs/03-checkpoints.md)
 * - 42P01, 42703 (table or column missing: changed outside Tributary) → SINK_SCHEMA_MISMATCH
 * - 42P06, 42P07, 42701, 42710, and 23505 on a system catalog index (`pg_…`): two sessions created one object at
 *   once → SINK_WRITE_FAILED, retryable (the retry finds it)
 * - classes 22 (data exception) and 23 (integrity) → SINK_WRITE_FAILED, *not* retryable: replaying the same
 *   rows fails the same way
 * - anything else (serialization failure, deadlock, …) → SINK_WRITE_FAILED, retryable.
 *
 * Messages and hints never contain the password; driver text is scrubbed of it as well.
 */
export function classifyPostgresError(error: unknown, context: PostgresErrorContext): TributaryError {
  if (error instanceof TributaryError) return error;
  const code = errorCode(error);
  const driverMessage = scrub(error instanceof Error ? error.message : String(error), context.password);
  const detail = driverDetail(error, context.password);
  const where = context.table === undefined ? context.target : `${context.table} on ${context.target}`;
  const make = (tributaryCode: ErrorCode, message: string, hint: string, retryable?: boolean): TributaryError =>
    new TributaryError(tributaryCode, message, {
      hint,
      cause: sanitizedCause(driverMessage, code),
      ...(retryable === undefined ? {} : { retryable }),
    });

  if (code === '28P01' || code === '28000') {
    return make(
      'SINK_AUTH_FAILED',
      `PostgreSQL at ${context.target} rejected the login of role ${context.username} (${code})`,
      code === '28P01'
        ? 'check sink options `username` and `password` (or the credentials in `url`)'
        : `check sink option \`username\` (role ${context.username} must exist and have LOGIN), and that pg_hba.conf on the server lets it connect from this host`,
    );
  }
  if (code === '3D000') {
    return make(
      'SINK_DATABASE_MISSING',
      `database ${context.database} does not exist on ${context.target}`,
      `create it (CREATE DATABASE "${context.database}") or change sink option \`database\` (or the database in \`url\`)`,
    );
  }
  if (code === '42501') {
    return make(
      'SINK_PRIVILEGES_MISSING',
      `role ${context.username} lacks a privilege on ${where}: ${driverMessage}`,
      `grant it, e.g. GRANT CREATE ON DATABASE "${context.database}" TO "${context.username}" (and CREATE, USAGE on the target schemas), or use another \`username\``,
    );
  }
  if (code !== undefined && TLS_CODES.test(code)) {
    return make(
      'SINK_UNREACHABLE',
      `TLS with PostgreSQL at ${context.target} failed (${code}): ${driverMessage}`,
      'check sink option `ssl` (verify-full checks the certificate against the system CAs and the host name; require only encrypts)',
      false,
    );
  }
  if (
    (code !== undefined &&
      (NETWORK_ERRNOS.has(code) ||
        code.startsWith('08') ||
        code === '57P01' ||
        code === '57P02' ||
        code === '57P03')) ||
    (code === undefined && context.connectionLost === true)
  ) {
    return make(
      'SINK_UNREACHABLE',
      `cannot reach PostgreSQL at ${context.target}${code === undefined ? '' : ` (${code})`}: ${driverMessage}`,
      'check that the server is running and reachable, and sink options `hostname` and `port` (or `url`)',
    );
  }
  if (code === '53300') {
    return make(
      'SINK_TOO_MANY_CONNECTIONS',
      `PostgreSQL at ${context.target} has no connection slot left (${code}): ${driverMessage}`,
      'other clients hold every connection: close idle ones (e.g. a pooler in front of the server), or raise max_connections on the server (needs a restart); the pipeline retries meanwhile',
    );
  }
  const resourceHint =
    code === undefined
      ? undefined
      : (RESOURCE_HINTS[code] ?? (code.startsWith('54') ? RESOURCE_HINTS['54000'] : undefined));
  if (resourceHint !== undefined) {
    return make(
      'SINK_OUT_OF_RESOURCES',
      `PostgreSQL at ${context.target} ran out of a resource while writing ${where} (${code}): ${driverMessage}${detail}`,
      resourceHint,
    );
  }
  if (code === '42P01' || code === '42703') {
    return make(
      'SINK_SCHEMA_MISMATCH',
      `${where}: ${driverMessage}${detail}`,
      'a sink table or column was changed outside Tributary; restore it, or drop the table to have it recreated and reloaded',
    );
  }
  if (context.phase === 'connect' || context.phase === 'validate') {
    return make(
      'SINK_UNREACHABLE',
      `cannot use PostgreSQL at ${context.target}${code === undefined ? '' : ` (${code})`}: ${driverMessage}${detail}`,
      'check the server and sink options `hostname`, `port`, `database` and `ssl` (or `url`)',
      code === undefined ? false : undefined,
    );
  }
  if (concurrentDdl(error, code)) {
    return make(
      'SINK_WRITE_FAILED',
      `writing ${where} failed (${code}): another session created the same schema, table or type at the same moment`,
      'nothing to do: the transaction is retried and finds the object (apply workers of a scale-out create the sink tables concurrently)',
      true,
    );
  }
  const deterministic = code !== undefined && (code.startsWith('22') || code.startsWith('23'));
  return make(
    'SINK_WRITE_FAILED',
    `writing ${where} failed${code === undefined ? '' : ` (${code})`}: ${driverMessage}${detail}`,
    deterministic
      ? 'a value does not fit the sink column; widen the column in PostgreSQL (ALTER TABLE … ALTER COLUMN … TYPE …) or fix the value at the source'
      : 'the transaction was rolled back and will be retried from the last checkpoint',
    deterministic ? false : undefined,
  );
}

/** The fix of each resource error (SQLSTATE classes 53 and 54); a smaller transaction helps most of them. */
const SMALLER =
  'lower sink option `commit.max-tables` (tables per transaction) — the pipeline already retries with half the tables and events per transaction, and stops after `retry.max-identical-failures` identical failures';
const RESOURCE_HINTS: Readonly<Record<string, string>> = {
  '53000': `the server lacks a resource; ${SMALLER}`,
  '53100': `the server's disk is full: free space (or grow the volume) where its data directory and temp_tablespaces live; ${SMALLER}`,
  '53200': `"out of shared memory" is the server's lock table, one lock per table (and index) a transaction touches: raise max_locks_per_transaction on the server (needs a restart), or ${SMALLER}`,
  '53400': `a server limit such as temp_file_limit was reached: raise it, or ${SMALLER}`,
  '54000': `a transaction or statement exceeded a server program limit: ${SMALLER}`,
};

/**
 * Two sessions creating one object at once: 42P06 / 42P07 / 42701 / 42710 (duplicate schema, table, column, object), or a unique
 * violation (23505) of a system catalog index (constraint `pg_…`), which `IF NOT EXISTS` does not prevent.
 */
export function concurrentDdl(error: unknown, code: string | undefined = errorCode(error)): boolean {
  if (code === '42P06' || code === '42P07' || code === '42701' || code === '42710') return true;
  const constraint = typeof error === 'object' && error !== null ? (error as { constraint?: unknown }).constraint : '';
  return code === '23505' && typeof constraint === 'string' && constraint.startsWith('pg_');
}

function errorCode(error: unknown): string | undefined {
  if (typeof error !== 'object' || error === null) return undefined;
  const code = (error as { code?: unknown }).code;
  return typeof code === 'string' ? code : undefined;
}

/** Column and detail from the server, which name the value that did not fit. */
function driverDetail(error: unknown, password: string): string {
  if (typeof error !== 'object' || error === null) return '';
  const { column, detail, where } = error as { column?: unknown; detail?: unknown; where?: unknown };
  const parts: string[] = [];
  if (typeof column === 'string') parts.push(`column ${column}`);
  if (typeof detail === 'string') parts.push(detail);
  if (typeof where === 'string' && where.startsWith('COPY')) parts.push(where.split('\n')[0] ?? '');
  return parts.length === 0 ? '' : ` (${scrub(parts.join('; '), password)})`;
}

function scrub(text: string, password: string): string {
  if (password === '') return text;
  return text.split(password).join('***');
}

/**
 * The driver error kept as `cause`, reduced to code and message: `pg` errors can carry the connection
 * parameters (and so the password) in their properties.
 */
function sanitizedCause(message: string, code: string | undefined): Error {
  const cause = new Error(message);
  if (code !== undefined) (cause as Error & { code?: string }).code = code;
  return cause;
}
