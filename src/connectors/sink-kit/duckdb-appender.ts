import type { DuckDBAppender } from '@duckdb/node-api';
import type { DataType, Value } from '../../core/data-type.js';

/**
 * The DuckDB types that values travel in from the appender to a staging table: the types the appender writes
 * natively. Everything else travels as its canonical text (`VARCHAR`) and is cast by DuckDB in SQL, exactly.
 * Shared by the duckdb sink and the iceberg sink's Parquet writer (both stage rows in DuckDB).
 */
export type DuckdbTransportType =
  | 'BOOLEAN'
  | 'TINYINT'
  | 'SMALLINT'
  | 'INTEGER'
  | 'BIGINT'
  | 'UTINYINT'
  | 'USMALLINT'
  | 'UINTEGER'
  | 'UBIGINT'
  | 'FLOAT'
  | 'DOUBLE'
  | 'VARCHAR'
  | 'BLOB';

/**
 * How values of a canonical type travel into the staging table. Numbers, booleans and bytes go in natively, in
 * the DuckDB type of the same width and signedness (year as SMALLINT); decimals, dates, times, timestamps, JSON,
 * bits and text go in as their canonical text, which DuckDB's casts read exactly (no JavaScript number or Date
 * on the way).
 */
export function duckdbTransportType(type: DataType): DuckdbTransportType {
  switch (type.kind) {
    case 'boolean':
      return 'BOOLEAN';
    case 'int8':
      return 'TINYINT';
    case 'int16':
    case 'year':
      return 'SMALLINT';
    case 'int32':
      return 'INTEGER';
    case 'int64':
      return 'BIGINT';
    case 'uint8':
      return 'UTINYINT';
    case 'uint16':
      return 'USMALLINT';
    case 'uint32':
      return 'UINTEGER';
    case 'uint64':
      return 'UBIGINT';
    case 'float':
      return 'FLOAT';
    case 'double':
      return 'DOUBLE';
    case 'binary':
    case 'varbinary':
    case 'bytes':
      return 'BLOB';
    default:
      return 'VARCHAR';
  }
}

/** A value whose JavaScript type cannot go into its column; the writer names table and column. */
export class DuckdbValueError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'DuckdbValueError';
  }
}

/** Appends one non-null value to the current row of an appender. */
export type ValueAppender = (appender: DuckDBAppender, value: Exclude<Value, null>) => void;

/** Ranges of the integer types the appender writes from a JavaScript number: checked, so nothing wraps around. */
const INTEGER_RANGES = {
  TINYINT: [-128, 127],
  SMALLINT: [-32768, 32767],
  INTEGER: [-2147483648, 2147483647],
  UTINYINT: [0, 255],
  USMALLINT: [0, 65535],
  UINTEGER: [0, 4294967295],
} as const;

/**
 * The appender call for values of one transport type. Values arrive in their canonical representation
 * (docs/01-events.md); a constant of a neighbouring JavaScript type (a number for a bigint column, a number or
 * bigint for a text column) is converted exactly; anything else throws {@link DuckdbValueError}.
 */
export function valueAppender(transport: DuckdbTransportType): ValueAppender {
  switch (transport) {
    case 'BOOLEAN':
      return (appender, value) => appender.appendBoolean(toBoolean(value));
    case 'TINYINT':
      return (appender, value) => appender.appendTinyInt(toInteger(value, transport));
    case 'SMALLINT':
      return (appender, value) => appender.appendSmallInt(toInteger(value, transport));
    case 'INTEGER':
      return (appender, value) => appender.appendInteger(toInteger(value, transport));
    case 'UTINYINT':
      return (appender, value) => appender.appendUTinyInt(toInteger(value, transport));
    case 'USMALLINT':
      return (appender, value) => appender.appendUSmallInt(toInteger(value, transport));
    case 'UINTEGER':
      return (appender, value) => appender.appendUInteger(toInteger(value, transport));
    case 'BIGINT':
      return (appender, value) => appender.appendBigInt(toBigInt(value, -(2n ** 63n), 2n ** 63n - 1n));
    case 'UBIGINT':
      return (appender, value) => appender.appendUBigInt(toBigInt(value, 0n, 2n ** 64n - 1n));
    case 'FLOAT':
      return (appender, value) => appender.appendFloat(toFloat(value));
    case 'DOUBLE':
      return (appender, value) => appender.appendDouble(toFloat(value));
    case 'VARCHAR':
      return (appender, value) => appender.appendVarchar(toText(value));
    case 'BLOB':
      return (appender, value) => appender.appendBlob(toBytes(value));
  }
}

function describe(value: Exclude<Value, null>): string {
  return value instanceof Uint8Array ? `${value.length} bytes` : `${typeof value} ${String(value).slice(0, 40)}`;
}

function toBoolean(value: Exclude<Value, null>): boolean {
  if (typeof value === 'boolean') return value;
  if (value === 0 || value === 0n) return false;
  if (value === 1 || value === 1n) return true;
  throw new DuckdbValueError(`expected a boolean, got ${describe(value)}`);
}

function toInteger(value: Exclude<Value, null>, type: keyof typeof INTEGER_RANGES): number {
  const number =
    typeof value === 'number'
      ? value
      : typeof value === 'bigint'
        ? Number(value)
        : typeof value === 'boolean'
          ? Number(value)
          : typeof value === 'string' && /^-?\d+$/.test(value)
            ? Number(value)
            : Number.NaN;
  const [min, max] = INTEGER_RANGES[type];
  if (!Number.isInteger(number) || number < min || number > max) {
    throw new DuckdbValueError(`expected an integer in ${min}..${max} for ${type}, got ${describe(value)}`);
  }
  return number;
}

function toBigInt(value: Exclude<Value, null>, min: bigint, max: bigint): bigint {
  let big: bigint | undefined;
  if (typeof value === 'bigint') big = value;
  else if (typeof value === 'number' && Number.isSafeInteger(value)) big = BigInt(value);
  else if (typeof value === 'string' && /^-?\d+$/.test(value)) big = BigInt(value);
  if (big === undefined || big < min || big > max) {
    throw new DuckdbValueError(`expected an integer in ${min}..${max}, got ${describe(value)}`);
  }
  return big;
}

function toFloat(value: Exclude<Value, null>): number {
  if (typeof value === 'number') return value;
  if (typeof value === 'bigint') return Number(value);
  if (typeof value === 'string' && value.trim() !== '' && !Number.isNaN(Number(value))) return Number(value);
  throw new DuckdbValueError(`expected a number, got ${describe(value)}`);
}

function toText(value: Exclude<Value, null>): string {
  if (typeof value === 'string') return value;
  if (value instanceof Uint8Array) {
    throw new DuckdbValueError(`expected text, got ${describe(value)}`);
  }
  return String(value);
}

function toBytes(value: Exclude<Value, null>): Uint8Array {
  if (value instanceof Uint8Array) return value;
  if (typeof value === 'string') return Buffer.from(value, 'utf8');
  throw new DuckdbValueError(`expected bytes, got ${describe(value)}`);
}
