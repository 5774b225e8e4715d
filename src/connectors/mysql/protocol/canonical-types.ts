import type { DataType } from '../../../core/data-type.js';
import { TributaryError } from '../../../core/errors.js';
import { ColumnType } from './binlog-constants.js';
import type { TableMap } from './binlog-event.js';
import { charsetMaxBytes, charsetOfCollation, isBinaryCharset } from './charsets.js';
import { realColumnType, stringColumnLength } from './column-meta.js';

/**
 * What the row decoder needs to know about a column beyond its wire type: its canonical type, the character
 * set of character columns ('utf8mb4', 'latin1', 'binary' …) and, where the canonical type does not say it
 * (MEDIUMINT UNSIGNED maps to int32), whether the integer is unsigned.
 */
export interface ColumnInfo {
  readonly type: DataType;
  readonly charset?: string;
  readonly unsigned?: boolean;
  /**
   * Called with the value's text ('0000-00-00', '2024-00-10 00:00:00') when a DATE, DATETIME or TIMESTAMP
   * holds a zero or partial-zero date; it throws. Without it such values decode to null.
   */
  readonly onZeroDate?: (text: string) => never;
}

/**
 * Canonical column types derived from a table map alone. Exact with `binlog_row_metadata=FULL` (signedness,
 * character sets, ENUM/SET labels); without it integers are taken as signed, ENUM/SET have no labels and
 * character columns of unknown character set become bytes (lossless, but not text).
 * TINYINT(1) cannot be told from TINYINT here: it stays int8, as in mysql-types.ts.
 */
export function canonicalColumnsFromTableMap(map: TableMap): ColumnInfo[] {
  return map.columnTypes.map((type, i) => canonicalColumn(map, type, map.columnMeta[i] ?? 0, i));
}

/** The canonical types of {@link canonicalColumnsFromTableMap}. */
export function canonicalTypesFromTableMap(map: TableMap): DataType[] {
  return canonicalColumnsFromTableMap(map).map((column) => column.type);
}

function canonicalColumn(map: TableMap, type: number, meta: number, index: number): ColumnInfo {
  const unsigned = map.signedness?.[index] === 'unsigned';
  const collation = map.charsets?.[index];
  const charset = collation === undefined ? undefined : charsetOfCollation(collation);
  const text = charset !== undefined && !isBinaryCharset(charset);
  const withCharset = (t: DataType): ColumnInfo => (charset === undefined ? { type: t } : { type: t, charset });
  const real = realColumnType(type, meta);
  switch (real) {
    case ColumnType.TINY:
      return { type: { kind: unsigned ? 'uint8' : 'int8' }, unsigned };
    case ColumnType.SHORT:
      return { type: { kind: unsigned ? 'uint16' : 'int16' }, unsigned };
    case ColumnType.INT24:
      return { type: { kind: 'int32' }, unsigned };
    case ColumnType.LONG:
      return { type: { kind: unsigned ? 'uint32' : 'int32' }, unsigned };
    case ColumnType.LONGLONG:
      return { type: { kind: unsigned ? 'uint64' : 'int64' }, unsigned };
    case ColumnType.FLOAT:
      return { type: { kind: 'float' } };
    case ColumnType.DOUBLE:
      return { type: { kind: 'double' } };
    case ColumnType.NEWDECIMAL:
      return { type: { kind: 'decimal', precision: meta >> 8, scale: meta & 0xff } };
    case ColumnType.YEAR:
      return { type: { kind: 'year' } };
    case ColumnType.DATE:
    case ColumnType.NEWDATE:
      return { type: { kind: 'date' } };
    case ColumnType.TIME:
      return { type: { kind: 'time', precision: 0 } };
    case ColumnType.TIME2:
      return { type: { kind: 'time', precision: meta } };
    case ColumnType.DATETIME:
      return { type: { kind: 'timestamp', precision: 0 } };
    case ColumnType.DATETIME2:
      return { type: { kind: 'timestamp', precision: meta } };
    case ColumnType.TIMESTAMP:
      return { type: { kind: 'timestamptz', precision: 0 } };
    case ColumnType.TIMESTAMP2:
      return { type: { kind: 'timestamptz', precision: meta } };
    case ColumnType.VARCHAR:
    case ColumnType.VAR_STRING:
      return text
        ? withCharset({ kind: 'varchar', length: Math.floor(meta / charsetMaxBytes(charset)) })
        : withCharset({ kind: 'varbinary', length: meta });
    case ColumnType.STRING: {
      const length = stringColumnLength(type, meta);
      return text
        ? withCharset({ kind: 'char', length: Math.floor(length / charsetMaxBytes(charset)) })
        : withCharset({ kind: 'binary', length });
    }
    case ColumnType.ENUM:
      return withCharset({ kind: 'enum', values: map.enumValues?.[index] ?? [] });
    case ColumnType.SET:
      return withCharset({ kind: 'set', values: map.setValues?.[index] ?? [] });
    case ColumnType.TINY_BLOB:
    case ColumnType.MEDIUM_BLOB:
    case ColumnType.LONG_BLOB:
    case ColumnType.BLOB:
      return text ? withCharset({ kind: 'string' }) : withCharset({ kind: 'bytes' });
    case ColumnType.JSON:
      return { type: { kind: 'json' } };
    case ColumnType.GEOMETRY: // SRID (4 bytes, little-endian) + WKB, as stored and as SELECT returns it
      return { type: { kind: 'bytes' }, charset: 'binary' };
    case ColumnType.BIT:
      return { type: { kind: 'bit', length: (meta >> 8) * 8 + (meta & 0xff) } };
    case ColumnType.NULL:
      return { type: { kind: 'string' } };
    default:
      throw unsupportedColumn(map, index, real);
  }
}

/** A wire type this decoder cannot read (old DECIMAL, MariaDB compressed columns, VECTOR, typed arrays). */
export function unsupportedColumn(map: TableMap, index: number, realType: number): TributaryError {
  const name = map.columnNames?.[index] ?? `#${index + 1}`;
  return new TributaryError(
    'SOURCE_UNSUPPORTED_TYPE',
    `${map.database}.${map.table} column ${name} has binlog type ${realType}, which the binlog reader cannot decode`,
    { hint: 'exclude the table, or change the column type (e.g. drop the COMPRESSED attribute)' },
  );
}
