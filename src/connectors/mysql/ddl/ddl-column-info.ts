import { columnDefaultFromDdl } from '../mysql-column-default.js';
import type { Column } from '../../../core/index.js';
import { DEFAULT_TYPE_OPTIONS, mysqlColumn, type MysqlColumnInfo, type MysqlTypeOptions } from '../mysql-types.js';
import { charsetMaxBytes, normalizeCharset } from '../protocol/charsets.js';
import type { DdlColumnDefinition, DdlDataType } from './ddl-ast.js';
import { CHARACTER_TYPES, charsetOfCollationName, textTypeFor } from './ddl-charsets.js';

/** Which server wrote the DDL: they spell COLUMN_TYPE differently (display widths, JSON, YEAR). */
export type DdlFlavor = 'mariadb' | 'mysql';

/** A column built from its definition, as information_schema would show it after the statement. */
export interface DdlResolvedColumn {
  readonly column: Column;
  /** CHARACTER_SET_NAME: null for columns without one. */
  readonly charset: string | null;
}

/** Display widths that MariaDB (and MySQL before 8.0.19) gives integer types when none is written. */
const INT_WIDTHS: Readonly<Record<string, readonly [signed: number, unsigned: number]>> = {
  tinyint: [4, 3],
  smallint: [6, 5],
  mediumint: [9, 8],
  int: [11, 10],
  bigint: [20, 20],
};

const BINARY_EQUIVALENTS: Readonly<Record<string, string>> = {
  char: 'binary',
  varchar: 'varbinary',
  tinytext: 'tinyblob',
  text: 'blob',
  mediumtext: 'mediumblob',
  longtext: 'longblob',
};

const TEMPORAL_TYPES = new Set(['time', 'datetime', 'timestamp']);

/**
 * Builds the column of `definition` through the same mapping as information_schema (`mysqlColumn`), with
 * the character set the server would give it: its own, its collation's, else `tableCharset`. `inPrimaryKey`:
 * the column is part of the table's primary key (so NOT NULL). `typeOptions`: the source's, as given to
 * `readTableSchemas`.
 */
export function resolveColumn(
  definition: DdlColumnDefinition,
  tableCharset: string,
  flavor: DdlFlavor,
  inPrimaryKey: boolean,
  typeOptions: MysqlTypeOptions = DEFAULT_TYPE_OPTIONS,
): DdlResolvedColumn {
  const info = columnInfo(definition, tableCharset, flavor);
  const isNullable =
    definition.nullable !== false && !definition.primaryKey && !definition.autoIncrement && !inPrimaryKey;
  const column = mysqlColumn(info, isNullable, typeOptions);
  const defaultValue = columnDefaultFromDdl(definition.defaultSql, column.type);
  return { column: defaultValue === undefined ? column : { ...column, defaultValue }, charset: info.charset };
}

/** The information_schema.COLUMNS row (as far as the mapping reads it) of a column definition. */
export function columnInfo(definition: DdlColumnDefinition, tableCharset: string, flavor: DdlFlavor): MysqlColumnInfo {
  const type = definition.type;
  let name = type.name;
  let charset: string | null = null;
  let isJson = definition.jsonCheck;
  if (name === 'json') {
    isJson = true;
    if (flavor === 'mariadb') {
      name = 'longtext';
      charset = 'utf8mb4';
    }
  } else if (CHARACTER_TYPES.has(name)) {
    charset = columnCharset(type, tableCharset);
    const binaryType = BINARY_EQUIVALENTS[name];
    if (charset === 'binary' && binaryType !== undefined) {
      name = binaryType;
      charset = null;
    }
  }
  const first = type.args[0];
  if ((name === 'text' || name === 'blob') && first !== undefined) {
    name = textTypeFor(first * (charset === null ? 1 : charsetMaxBytes(charset)), name === 'blob');
  }
  if (name === 'float' && type.args.length === 1 && first !== undefined && first > 24) name = 'double';
  const args = name === 'float' && type.args.length === 1 ? [] : type.args;
  return {
    name: definition.name,
    dataType: name,
    columnType: columnTypeText(name, args, type, flavor),
    charLength: charLength(name, args),
    numericPrecision: name === 'bit' ? Math.max(args[0] ?? 1, 1) : name === 'decimal' ? (args[0] ?? 10) : null,
    numericScale: name === 'decimal' ? (args[1] ?? 0) : null,
    datetimePrecision: TEMPORAL_TYPES.has(name) ? (args[0] ?? 0) : null,
    charset,
    isJson,
  };
}

/** The character set of a character column: named, implied by its collation, or the table's. */
export function columnCharset(type: DdlDataType, tableCharset: string): string {
  if (type.charset !== undefined) return normalizeCharset(type.charset);
  if (type.collation !== undefined) return charsetOfCollationName(type.collation) ?? tableCharset;
  return tableCharset;
}

function charLength(name: string, args: readonly number[]): number | null {
  if (name === 'char' || name === 'binary') return args[0] ?? 1;
  if (name === 'varchar' || name === 'varbinary') return args[0] ?? null;
  return null;
}

/** COLUMN_TYPE as the server shows it: `int(11) unsigned`, `decimal(10,0)`, `enum('a','b')`, `datetime(6)`. */
function columnTypeText(name: string, args: readonly number[], type: DdlDataType, flavor: DdlFlavor): string {
  const sign = `${type.unsigned ? ' unsigned' : ''}${type.zerofill ? ' zerofill' : ''}`;
  const widths = INT_WIDTHS[name];
  if (widths !== undefined) {
    const written = args[0] !== undefined && args[0] > 0 ? args[0] : undefined;
    const width = written ?? widths[type.unsigned ? 1 : 0];
    const showWidth = flavor === 'mariadb' || type.zerofill || (name === 'tinyint' && written === 1);
    return `${name}${showWidth ? `(${width})` : ''}${sign}`;
  }
  switch (name) {
    case 'decimal':
      return `decimal(${args[0] ?? 10},${args[1] ?? 0})${sign}`;
    case 'float':
    case 'double':
      return `${name}${args.length === 2 ? `(${args[0]},${args[1]})` : ''}${sign}`;
    case 'bit':
      return `bit(${Math.max(args[0] ?? 1, 1)})`;
    case 'char':
    case 'binary':
      return `${name}(${args[0] ?? 1})`;
    case 'varchar':
    case 'varbinary':
      return `${name}(${args[0] ?? 0})`;
    case 'time':
    case 'datetime':
    case 'timestamp':
      return args[0] ? `${name}(${args[0]})` : name;
    case 'year':
      return flavor === 'mariadb' ? `year(${args[0] === 2 ? 2 : 4})` : 'year';
    case 'enum':
    case 'set':
      return `${name}(${(type.values ?? []).map(quoteLabel).join(',')})`;
    default:
      return name;
  }
}

/** A label as COLUMN_TYPE quotes it: `'` doubled, `\` escaped. */
function quoteLabel(label: string): string {
  return `'${label.replaceAll('\\', '\\\\').replaceAll("'", "''")}'`;
}
