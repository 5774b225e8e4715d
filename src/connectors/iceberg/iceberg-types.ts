import type { DataType } from '../../core/data-type.js';

/** Iceberg's DECIMAL holds at most 38 digits. */
export const ICEBERG_MAX_DECIMAL_PRECISION = 38;

/**
 * A canonical type as an Iceberg column: the Iceberg primitive type (the table metadata's spelling) and the
 * DuckDB type the Parquet writer casts the value to, whose Parquet encoding is the one the Iceberg spec
 * requires for that type ("Parquet" in the spec's appendix A). One table, documented in docs/type-mapping.md:
 *
 * - int8, int16, int32, uint8, uint16, year → int; int64, uint32 → long (the smallest signed type holding every
 *   value: Iceberg has no unsigned types); uint64 → decimal(20,0) (2^64 − 1 needs 20 digits).
 * - decimal(p,s) → decimal(p,s) up to p = 38; wider → string holding the exact decimal text.
 * - float → float, double → double, boolean → boolean.
 * - char, varchar, string, enum, set, json, bit → string (json as its source text, bit as its '0'/'1' digits).
 * - binary, varbinary, bytes → binary.
 * - date → date; timestamp → timestamp (µs, no zone: a wall clock); timestamptz → timestamptz (µs, UTC instant).
 * - time → string ('[-]H+:MM:SS[.ffffff]'): a MySQL TIME is a signed duration up to 838 hours, an Iceberg time
 *   is a time of day.
 */
export interface IcebergColumnType {
  readonly iceberg: string;
  readonly duckdb: string;
}

export function icebergType(type: DataType): IcebergColumnType {
  switch (type.kind) {
    case 'boolean':
      return { iceberg: 'boolean', duckdb: 'BOOLEAN' };
    case 'int8':
    case 'int16':
    case 'int32':
    case 'uint8':
    case 'uint16':
    case 'year':
      return { iceberg: 'int', duckdb: 'INTEGER' };
    case 'int64':
    case 'uint32':
      return { iceberg: 'long', duckdb: 'BIGINT' };
    case 'uint64':
      return { iceberg: 'decimal(20, 0)', duckdb: 'DECIMAL(20,0)' };
    case 'decimal':
      return type.precision <= ICEBERG_MAX_DECIMAL_PRECISION
        ? { iceberg: `decimal(${type.precision}, ${type.scale})`, duckdb: `DECIMAL(${type.precision},${type.scale})` }
        : { iceberg: 'string', duckdb: 'VARCHAR' };
    case 'float':
      return { iceberg: 'float', duckdb: 'FLOAT' };
    case 'double':
      return { iceberg: 'double', duckdb: 'DOUBLE' };
    case 'char':
    case 'varchar':
    case 'string':
    case 'enum':
    case 'set':
    case 'json':
    case 'bit':
    case 'time':
      return { iceberg: 'string', duckdb: 'VARCHAR' };
    case 'binary':
    case 'varbinary':
    case 'bytes':
      return { iceberg: 'binary', duckdb: 'BLOB' };
    case 'date':
      return { iceberg: 'date', duckdb: 'DATE' };
    case 'timestamp':
      return { iceberg: 'timestamp', duckdb: 'TIMESTAMP' };
    case 'timestamptz':
      return { iceberg: 'timestamptz', duckdb: 'TIMESTAMPTZ' };
  }
}

/**
 * Whether Iceberg lets a column of type `from` become `to` in place ("Schema Evolution": int → long,
 * float → double, decimal(P,S) → decimal(P',S) with P' > P), or they are the same.
 */
export function canPromote(from: string, to: string): boolean {
  if (from === to) return true;
  if (from === 'int' && to === 'long') return true;
  if (from === 'float' && to === 'double') return true;
  const a = /^decimal\((\d+), (\d+)\)$/.exec(from);
  const b = /^decimal\((\d+), (\d+)\)$/.exec(to);
  return a !== null && b !== null && a[2] === b[2] && Number(b[1]) >= Number(a[1]);
}
