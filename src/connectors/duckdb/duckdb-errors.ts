import { TributaryError, type ErrorCode } from '../../core/errors.js';

/** What the sink was doing when the error happened; it decides the code of errors that are not specific. */
export type DuckdbErrorPhase = 'open' | 'validate' | 'checkpoint' | 'write';

export interface DuckdbErrorContext {
  readonly phase: DuckdbErrorPhase;
  /** The database file (absolute) or `:memory:`. */
  readonly path: string;
  /** The sink table being written, for the message. */
  readonly table?: string;
}

/**
 * DuckDB's exception type of an error, e.g. `Constraint`, `Conversion`, `IO`, `Catalog`. The Node API does not
 * expose the C API's `duckdb_error_type`; every DuckDB error message starts with the type's name followed by
 * ` Error: ` (`Constraint Error: Duplicate key …`), and that prefix — a fixed enum, not prose — is what we read.
 */
export function duckdbErrorType(error: unknown): string | undefined {
  const message = error instanceof Error ? error.message : typeof error === 'string' ? error : undefined;
  if (message === undefined) return undefined;
  const match = /^([A-Za-z][A-Za-z ]{0,40}?) Error: /.exec(message);
  return match?.[1];
}

/** Types whose errors fail the same way on every replay: a value that does not fit, a constraint, bad input. */
const DETERMINISTIC_TYPES = new Set(['Constraint', 'Conversion', 'Out of Range', 'Invalid Input', 'Invalid Type']);

/** The table or a column is not what the sink expected: someone changed it outside Tributary. */
const SCHEMA_TYPES = new Set(['Catalog', 'Binder', 'Dependency', 'Not implemented']);

/**
 * Classifies an error of the DuckDB Node API into a TributaryError by DuckDB's exception type
 * ({@link duckdbErrorType}), never by the rest of the message:
 *
 * - while opening: `IO` → SINK_UNREACHABLE, retryable (the file is locked by another process; the sink checks
 *   the file system itself before opening, so permissions, a missing directory and a file that is not a DuckDB
 *   database are reported with their own codes — see `checkDuckdbPath`); anything else → SINK_UNREACHABLE, not
 *   retryable
 * - `Constraint`, `Conversion`, `Out of Range`, `Invalid Input` → SINK_WRITE_FAILED, *not* retryable: replaying
 *   the same rows fails the same way
 * - `Catalog`, `Binder`, `Dependency`, `Not implemented` → SINK_SCHEMA_MISMATCH (a sink table or column was
 *   changed outside Tributary, or DuckDB cannot apply a schema change in place)
 * - `Out of Memory` → SINK_OUT_OF_RESOURCES, retryable: the runner retries with smaller transactions and stops
 *   after a bounded number of identical failures
 * - anything else (`IO` such as a full disk, `Transaction` conflicts, `Interrupt`, `FATAL`) →
 *   SINK_WRITE_FAILED, retryable: the runtime re-opens the sink, which re-opens the database.
 */
export function classifyDuckdbError(error: unknown, context: DuckdbErrorContext): TributaryError {
  if (error instanceof TributaryError) return error;
  const type = duckdbErrorType(error);
  const driverMessage = error instanceof Error ? error.message : String(error);
  const where = context.table === undefined ? context.path : `${context.table} in ${context.path}`;
  const make = (code: ErrorCode, message: string, hint: string, retryable?: boolean): TributaryError =>
    new TributaryError(code, message, {
      hint,
      cause: error,
      ...(retryable === undefined ? {} : { retryable }),
    });

  if (context.phase === 'open' || context.phase === 'validate') {
    if (type === 'IO') {
      return make(
        'SINK_UNREACHABLE',
        `cannot open the DuckDB database ${context.path}: ${driverMessage}`,
        'another process has the file open — DuckDB lets one process write a database file at a time: close ' +
          'the DuckDB CLI or the other pipeline using it, or point sink option `path` at another file ' +
          '(a file written by a newer DuckDB version cannot be opened either)',
      );
    }
    return make(
      'SINK_UNREACHABLE',
      `cannot use the DuckDB database ${context.path}: ${driverMessage}`,
      'check sink option `path`: it must name a DuckDB database file (or :memory:)',
      false,
    );
  }
  if (type !== undefined && SCHEMA_TYPES.has(type)) {
    return make(
      'SINK_SCHEMA_MISMATCH',
      `${where}: ${driverMessage}`,
      'a sink table or column was changed outside Tributary, or DuckDB cannot apply this schema change in place; ' +
        'restore the table, or drop it to have it recreated and reloaded (run with --reset)',
    );
  }
  if (type === 'Out of Memory') {
    return make(
      'SINK_OUT_OF_RESOURCES',
      `DuckDB ran out of memory while writing ${where}: ${driverMessage}`,
      "raise DuckDB's memory_limit, or lower sink option `commit.max-tables` (tables per transaction) — the pipeline already retries with half the tables and events per transaction, and stops after `retry.max-identical-failures` identical failures",
    );
  }
  const deterministic = type !== undefined && DETERMINISTIC_TYPES.has(type);
  return make(
    'SINK_WRITE_FAILED',
    `writing ${where} failed: ${driverMessage}`,
    deterministic
      ? 'a value does not fit the sink column; widen the column in DuckDB (ALTER TABLE … ALTER COLUMN … TYPE …) or fix the value at the source'
      : 'the transaction was rolled back and will be retried from the last checkpoint',
    deterministic ? false : undefined,
  );
}
