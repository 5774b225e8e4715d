import type { DataType } from '../../core/data-type.js';

// The transport types live in the sink kit, beside the appender that writes them (the iceberg sink uses them too).
export { duckdbTransportType, type DuckdbTransportType } from '../sink-kit/duckdb-appender.js';

/** DuckDB's DECIMAL holds at most 38 digits (a 128-bit integer). */
export const DUCKDB_MAX_DECIMAL_PRECISION = 38;

/**
 * The DuckDB column type that holds a canonical type without loss. One table, documented in
 * docs/type-mapping.md and docs/connectors/duckdb.md:
 *
 * - Integers keep their width and signedness: DuckDB has unsigned types (uint64 → UBIGINT, 0 … 2^64 − 1).
 * - decimal(p,s) → DECIMAL(p,s) up to p = 38; beyond, VARCHAR holding the exact decimal text (DuckDB's DECIMAL
 *   has no room for 39–65 digits, and DOUBLE would round).
 * - time → INTERVAL: a MySQL TIME is a duration (-838:59:59 … 838:59:59); DuckDB's TIME is a time of day.
 * - timestamp → TIMESTAMP (wall clock), timestamptz → TIMESTAMPTZ (an instant); both keep microseconds.
 * - json → JSON (the json extension is built into the DuckDB binary; no download): the source text verbatim,
 *   validated, key order and whitespace kept.
 * - char(n), varchar(n), text, enum, set → VARCHAR: DuckDB ignores lengths and has no blank-padded CHAR.
 * - bit(n) → BIT, binary/varbinary/blob → BLOB, year → SMALLINT.
 *
 * Not {@link duckdbTransportType}: that is the type a value travels in to the staging table (text for all but
 * numbers, booleans and bytes, where the two agree); this is the column that keeps it, one case per kind.
 */
export function duckdbType(type: DataType): string {
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
    case 'decimal':
      return fitsDecimal(type.precision, type.scale) ? `DECIMAL(${type.precision},${type.scale})` : 'VARCHAR';
    case 'float':
      return 'FLOAT';
    case 'double':
      return 'DOUBLE';
    case 'char':
    case 'varchar':
    case 'string':
    case 'enum':
    case 'set':
      return 'VARCHAR';
    case 'binary':
    case 'varbinary':
    case 'bytes':
      return 'BLOB';
    case 'date':
      return 'DATE';
    case 'time':
      return 'INTERVAL';
    case 'timestamp':
      return 'TIMESTAMP';
    case 'timestamptz':
      return 'TIMESTAMPTZ';
    case 'json':
      return 'JSON';
    case 'bit':
      return 'BIT';
  }
}

function fitsDecimal(precision: number, scale: number): boolean {
  return (
    Number.isInteger(precision) &&
    Number.isInteger(scale) &&
    precision >= 1 &&
    precision <= DUCKDB_MAX_DECIMAL_PRECISION &&
    scale >= 0 &&
    scale <= precision
  );
}
