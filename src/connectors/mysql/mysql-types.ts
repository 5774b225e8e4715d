import { canonicalOfMysql } from '../../formats/mysql-type-map.js';
import { TributaryError, type Column, type DataType, type Value } from '../../core/index.js';

/** One row of information_schema.COLUMNS, as far as the type mapping needs it. */
export interface MysqlColumnInfo {
  readonly name: string;
  /** DATA_TYPE, lower case: `bigint`, `varchar`, `datetime` … */
  readonly dataType: string;
  /** COLUMN_TYPE: `bigint(20) unsigned`, `enum('a','b')`, `decimal(7,2)` … */
  readonly columnType: string;
  readonly charLength: number | null;
  readonly numericPrecision: number | null;
  readonly numericScale: number | null;
  readonly datetimePrecision: number | null;
  readonly charset: string | null;
  /** MariaDB's JSON is LONGTEXT with a json_valid() check; the catalog tells us which columns have one. */
  readonly isJson: boolean;
}

const ZERO_DATE_TYPES = new Set(['date', 'datetime', 'timestamp']);

/**
 * The source options that change the type mapping (docs/type-mapping.md). Both paths that build columns —
 * information_schema (`mysql-schema-reader.ts`) and the DDL follower (`ddl/`) — take the same options, so
 * a table reads the same whichever built it.
 */
export interface MysqlTypeOptions {
  /** `treat-tinyint1-as-boolean.enabled`: signed TINYINT(1) (and BOOL, BOOLEAN) → canonical boolean. */
  readonly tinyint1AsBoolean: boolean;
  /**
   * `zero-date.handling`: `null` delivers zero and partial-zero dates as NULL (so DATE, DATETIME and
   * TIMESTAMP columns are nullable whatever the source says); `error` stops with a {@link zeroDateError}.
   */
  readonly zeroDateHandling: 'null' | 'error';
}

/** The defaults of the options: no change to the mapping. */
export const DEFAULT_TYPE_OPTIONS: MysqlTypeOptions = { tinyint1AsBoolean: false, zeroDateHandling: 'null' };

/**
 * The canonical column of one information_schema.COLUMNS row; `isNullable` is IS_NULLABLE = 'YES'. The DDL
 * follower (`ddl/`) builds columns with this too, so both agree. With `zero-date.handling: null` zero dates
 * ('0000-00-00') arrive as NULL, so temporal columns are nullable whatever the source says.
 */
export function mysqlColumn(
  info: MysqlColumnInfo,
  isNullable: boolean,
  options: MysqlTypeOptions = DEFAULT_TYPE_OPTIONS,
): Column {
  return {
    name: info.name,
    type: mysqlToCanonical(info, options),
    nullable: mysqlNullable(info.dataType, isNullable, options),
    sourceType: info.columnType,
  };
}

/** Whether a column of DATA_TYPE `dataType` is nullable in the canonical schema (see {@link mysqlColumn}). */
export function mysqlNullable(
  dataType: string,
  isNullable: boolean,
  options: MysqlTypeOptions = DEFAULT_TYPE_OPTIONS,
): boolean {
  return isNullable || (options.zeroDateHandling === 'null' && ZERO_DATE_TYPES.has(dataType));
}

/** Signed TINYINT(1): COLUMN_TYPE keeps the width 1 on every server (MySQL 8.0.19+ drops all other widths). */
function isTinyint1(column: MysqlColumnInfo): boolean {
  return column.dataType === 'tinyint' && /^tinyint\(1\)(\s+zerofill)?$/i.test(column.columnType.trim());
}

/**
 * Maps a MySQL/MariaDB column type to the canonical type. The full table is in docs/type-mapping.md.
 * Nothing here is lossy by default: TINYINT(1) stays an integer unless `options.tinyint1AsBoolean` asks for
 * boolean (values other than 0 and 1 then arrive as true), UNSIGNED types get a wider canonical type.
 */
export function mysqlToCanonical(column: MysqlColumnInfo, options: MysqlTypeOptions = DEFAULT_TYPE_OPTIONS): DataType {
  const unsigned = /\bunsigned\b/i.test(column.columnType);
  const base = column.dataType.toLowerCase();
  switch (base) {
    case 'tinyint':
      if (options.tinyint1AsBoolean && isTinyint1(column)) return { kind: 'boolean' };
      break;
    case 'tinytext':
    case 'text':
    case 'mediumtext':
    case 'longtext':
      // MariaDB's JSON is LONGTEXT with a JSON_VALID check.
      if (column.isJson) return { kind: 'json' };
      break;
    case 'geometry':
    case 'point':
    case 'linestring':
    case 'polygon':
    case 'multipoint':
    case 'multilinestring':
    case 'multipolygon':
    case 'geometrycollection':
      return { kind: 'bytes' };
  }
  const isEnum = base === 'enum' || base === 'set';
  const length = base === 'bit' ? column.numericPrecision : column.charLength;
  const type = canonicalOfMysql(
    {
      base,
      unsigned,
      ...(length == null ? {} : { length }),
      ...(column.numericPrecision == null ? {} : { precision: column.numericPrecision }),
      ...(column.numericScale == null ? {} : { scale: column.numericScale }),
      ...(column.datetimePrecision == null ? {} : { fsp: column.datetimePrecision }),
      ...(isEnum ? { values: parseEnumValues(column.columnType) } : {}),
    },
    // information_schema's TIMESTAMP is an instant (the source reads it in UTC); BIT(1) stays bit(1).
    { timestamp: 'timestamptz', bit1: 'bit' },
  );
  if (type !== undefined) return type;
  throw new TributaryError(
    'SOURCE_UNSUPPORTED_TYPE',
    `column ${column.name} has type ${column.columnType}, which Tributary cannot capture yet`,
    {
      hint: 'exclude the table with source.tables.exclude, or open an issue with the column type',
    },
  );
}

/** `enum('a','it''s')` → ['a', "it's"]. */
export function parseEnumValues(columnType: string): string[] {
  const open = columnType.indexOf('(');
  const values: string[] = [];
  let i = open + 1;
  while (i > 0 && i < columnType.length) {
    if (columnType[i] !== "'") {
      i++;
      continue;
    }
    let value = '';
    i++;
    while (i < columnType.length) {
      const ch = columnType[i];
      if (ch === "'" && columnType[i + 1] === "'") {
        value += "'";
        i += 2;
      } else if (ch === "'") {
        i++;
        break;
      } else if (ch === '\\' && i + 1 < columnType.length) {
        value += columnType[i + 1];
        i += 2;
      } else {
        value += ch;
        i++;
      }
    }
    values.push(value);
  }
  return values;
}

const ZERO_DATE = /^0000-00-00|^\d{4}-00-|^\d{4}-\d{2}-00/;

/**
 * The error of a zero or partial-zero date under `zero-date.handling: error`; the snapshot and the binlog
 * reader throw the same one. Not retryable: reading the row again reads the same value.
 */
export function zeroDateError(table: string, column: string, value: string): TributaryError {
  return new TributaryError(
    'SOURCE_UNSUPPORTED_TYPE',
    `${table} column ${column} holds the date '${value}', which has no calendar meaning (zero-date.handling: error)`,
    {
      retryable: false,
      hint: `set ${column} to NULL or a real date at the source, or set source zero-date.handling: null to deliver such dates as NULL`,
    },
  );
}

/**
 * Converts one value of a snapshot row, as the text protocol sends it (raw bytes), to the canonical value
 * of `type`. The snapshot session runs with time_zone '+00:00', so TIMESTAMP text is UTC. The binlog
 * decoder produces the same representation for the same stored value; a conformance test holds them equal.
 * Zero and partial-zero dates are null, or `onZeroDate(text)` when given (it throws).
 */
export function snapshotValue(type: DataType, raw: Buffer | null, onZeroDate?: (text: string) => never): Value {
  if (raw === null) return null;
  switch (type.kind) {
    case 'bytes':
    case 'binary':
    case 'varbinary':
      return Buffer.from(raw);
    case 'bit':
      return bitString(raw, type.length);
    case 'int8':
    case 'int16':
    case 'int32':
    case 'uint8':
    case 'uint16':
    case 'uint32':
    case 'year':
      return Number(raw.toString('latin1'));
    case 'int64':
    case 'uint64':
      return BigInt(raw.toString('latin1'));
    case 'boolean':
      return raw.toString('latin1') !== '0';
    case 'float':
      return Math.fround(Number(raw.toString('latin1')));
    case 'double':
      return Number(raw.toString('latin1'));
    case 'date':
    case 'timestamp': {
      const text = raw.toString('latin1');
      if (!ZERO_DATE.test(text)) return text;
      return onZeroDate ? onZeroDate(text) : null;
    }
    case 'timestamptz': {
      const text = raw.toString('latin1');
      if (!ZERO_DATE.test(text)) return text + 'Z';
      return onZeroDate ? onZeroDate(text) : null;
    }
    default:
      return raw.toString('utf8');
  }
}

/** Big-endian bytes of a BIT(n) value → n binary digits. */
export function bitString(bytes: Uint8Array, length: number): string {
  let bits = '';
  for (const byte of bytes) bits += byte.toString(2).padStart(8, '0');
  return bits.slice(bits.length - length).padStart(length, '0');
}
