import type { DataType } from '../../core/data-type.js';

/**
 * The PostgreSQL column type that holds a canonical type without loss. One table, documented in the README
 * of this folder (and docs/type-mapping.md):
 *
 * - Unsigned integers take the next wider signed type (uint64 → numeric(20,0)), so no value overflows.
 * - time → interval: a MySQL TIME is a duration (-838:59:59 … 838:59:59); PostgreSQL `time` is a time of day
 *   and cannot hold negative values or more than 24 hours.
 * - timestamp → timestamp without time zone (wall clock, as the source had it); timestamptz → timestamptz.
 * - json → jsonb: what warehouses query and index. jsonb keeps numbers exactly (as numeric) but does not keep
 *   key order, duplicate keys or whitespace of the source text.
 * - enum, set → text: the value labels as text; the allowed values are not enforced in the sink.
 * - year → smallint.
 * - char(n) → char(n): both count characters, so every source value fits.
 */
export function postgresType(type: DataType): string {
  switch (type.kind) {
    case 'boolean':
      return 'boolean';
    case 'int8':
    case 'uint8':
    case 'int16':
    case 'year':
      return 'smallint';
    case 'uint16':
    case 'int32':
      return 'integer';
    case 'uint32':
    case 'int64':
      return 'bigint';
    case 'uint64':
      return 'numeric(20,0)';
    case 'decimal':
      return decimalType(type.precision, type.scale);
    case 'float':
      return 'real';
    case 'double':
      return 'double precision';
    case 'char':
      return type.length >= 1 ? `char(${type.length})` : 'text';
    case 'varchar':
      return type.length >= 1 ? `varchar(${type.length})` : 'text';
    case 'string':
    case 'enum':
    case 'set':
      return 'text';
    case 'binary':
    case 'varbinary':
    case 'bytes':
      return 'bytea';
    case 'date':
      return 'date';
    case 'time':
      return 'interval';
    case 'timestamp':
      return `timestamp(${timePrecision(type.precision)})`;
    case 'timestamptz':
      return `timestamptz(${timePrecision(type.precision)})`;
    case 'json':
      return 'jsonb';
    case 'bit':
      return type.length >= 1 ? `bit(${type.length})` : 'varbit';
  }
}

/** PostgreSQL numeric allows precision 1..1000 and 0 <= scale <= precision; anything else is unconstrained. */
function decimalType(precision: number, scale: number): string {
  if (!Number.isInteger(precision) || precision < 1 || precision > 1000) return 'numeric';
  if (!Number.isInteger(scale) || scale < 0 || scale > precision) return 'numeric';
  return `numeric(${precision},${scale})`;
}

/** Fractional-second digits: PostgreSQL keeps at most 6 (microseconds), as MySQL does. */
function timePrecision(precision: number): number {
  return Number.isInteger(precision) ? Math.min(Math.max(precision, 0), 6) : 6;
}
