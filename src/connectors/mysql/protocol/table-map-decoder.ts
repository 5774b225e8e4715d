import { ByteCursor } from './byte-cursor.js';
import { ColumnType } from './binlog-constants.js';
import type { TableMap } from './binlog-event.js';
import { charsetOfCollation, textDecoderFor, type TextDecodeFn } from './charsets.js';
import {
  isCharacterColumn,
  isEnumOrSetColumn,
  isNumericColumn,
  readColumnMeta,
  realColumnType,
} from './column-meta.js';

/** Optional metadata field types of table-map events (`binlog_row_metadata`). */
const OptionalMeta = {
  SIGNEDNESS: 1,
  DEFAULT_CHARSET: 2,
  COLUMN_CHARSET: 3,
  COLUMN_NAME: 4,
  SET_STR_VALUE: 5,
  ENUM_STR_VALUE: 6,
  GEOMETRY_TYPE: 7,
  SIMPLE_PRIMARY_KEY: 8,
  PRIMARY_KEY_WITH_PREFIX: 9,
  ENUM_AND_SET_DEFAULT_CHARSET: 10,
  ENUM_AND_SET_COLUMN_CHARSET: 11,
} as const;

/**
 * Decodes the body of a TABLE_MAP event: bytes [pos, end) after the common header, checksum excluded.
 * `tableIdSize` is 6 (4 only for binlogs of MySQL 5.0 and older).
 */
export function decodeTableMap(
  buf: Buffer,
  pos: number,
  end: number,
  tableIdSize = 6,
  flavor: 'mariadb' | 'mysql' = 'mysql',
): TableMap {
  const c = new ByteCursor(buf, pos, end);
  const tableId = tableIdSize === 6 ? c.u48() : c.u32();
  c.skip(2); // flags
  const database = c.string(c.u8());
  c.skip(1);
  const table = c.string(c.u8());
  c.skip(1);
  const count = c.packed();
  const columnTypes = Array.from(c.bytes(count));
  const metaLength = c.packed();
  const metaStart = c.pos;
  c.skip(metaLength);
  const columnMeta = readColumnMeta(buf, metaStart, metaStart + metaLength, columnTypes);
  const nullBits = c.bytes((count + 7) >> 3);
  const nullable = new Array<boolean>(count);
  for (let i = 0; i < count; i++) nullable[i] = (nullBits[i >> 3]! & (1 << (i & 7))) !== 0;

  const map: Mutable<TableMap> = { tableId, database, table, columnTypes, columnMeta, nullable };
  if (c.remaining > 0) readOptionalMetadata(c, map, flavor);
  return map;
}

type Mutable<T> = { -readonly [K in keyof T]: T[K] };

/**
 * The optional metadata of `binlog_row_metadata`. MariaDB's signedness bitmap has a bit for every numeric
 * field of the server, YEAR included (a TINYINT underneath, always unsigned); MySQL's leaves YEAR out.
 */
function readOptionalMetadata(c: ByteCursor, map: Mutable<TableMap>, flavor: 'mariadb' | 'mysql'): void {
  const count = map.columnTypes.length;
  const realTypes = map.columnTypes.map((type, i) => realColumnType(type, map.columnMeta[i]!));
  const numeric: number[] = [];
  const character: number[] = [];
  const characterNoGeometry: number[] = [];
  const enumOrSet: number[] = [];
  const enums: number[] = [];
  const sets: number[] = [];
  realTypes.forEach((type, i) => {
    if (isNumericColumn(type) || (flavor === 'mariadb' && type === ColumnType.YEAR)) numeric.push(i);
    if (isCharacterColumn(type)) {
      character.push(i);
      if (type !== ColumnType.GEOMETRY) characterNoGeometry.push(i);
    }
    if (isEnumOrSetColumn(type)) enumOrSet.push(i);
    if (type === ColumnType.ENUM) enums.push(i);
    if (type === ColumnType.SET) sets.push(i);
  });

  const charsets = new Array<number | undefined>(count).fill(undefined);
  let haveCharsets = false;
  let enumLabels: Buffer[][] | undefined;
  let setLabels: Buffer[][] | undefined;

  while (c.remaining > 0) {
    const type = c.u8();
    const length = c.packed();
    const field = new ByteCursor(c.buf, c.pos, c.pos + length);
    c.skip(length);
    switch (type) {
      case OptionalMeta.SIGNEDNESS: {
        const signedness = new Array<'signed' | 'unsigned' | undefined>(count).fill(undefined);
        numeric.forEach((column, k) => {
          const byte = c.buf[field.pos + (k >> 3)] ?? 0;
          signedness[column] = (byte & (0x80 >> (k & 7))) !== 0 ? 'unsigned' : 'signed';
        });
        map.signedness = signedness;
        break;
      }
      case OptionalMeta.DEFAULT_CHARSET:
      case OptionalMeta.ENUM_AND_SET_DEFAULT_CHARSET: {
        const columns = type === OptionalMeta.DEFAULT_CHARSET ? character : enumOrSet;
        const fallback = field.packed();
        for (const column of columns) charsets[column] = fallback;
        while (field.remaining > 0) {
          const index = field.packed();
          const collation = field.packed();
          const column = columns[index];
          if (column !== undefined) charsets[column] = collation;
        }
        haveCharsets = true;
        break;
      }
      case OptionalMeta.COLUMN_CHARSET:
      case OptionalMeta.ENUM_AND_SET_COLUMN_CHARSET: {
        const collations: number[] = [];
        while (field.remaining > 0) collations.push(field.packed());
        let columns = type === OptionalMeta.COLUMN_CHARSET ? character : enumOrSet;
        // Servers disagree on whether GEOMETRY counts as a character column; the count tells.
        if (columns === character && collations.length === characterNoGeometry.length) columns = characterNoGeometry;
        columns.forEach((column, k) => {
          charsets[column] = collations[k];
        });
        haveCharsets = true;
        break;
      }
      case OptionalMeta.COLUMN_NAME: {
        const names: string[] = [];
        while (field.remaining > 0) names.push(field.string(field.packed()));
        map.columnNames = names;
        break;
      }
      case OptionalMeta.SET_STR_VALUE:
      case OptionalMeta.ENUM_STR_VALUE: {
        const lists: Buffer[][] = [];
        while (field.remaining > 0) {
          const n = field.packed();
          const labels: Buffer[] = [];
          for (let k = 0; k < n; k++) labels.push(field.bytes(field.packed()));
          lists.push(labels);
        }
        if (type === OptionalMeta.SET_STR_VALUE) setLabels = lists;
        else enumLabels = lists;
        break;
      }
      case OptionalMeta.SIMPLE_PRIMARY_KEY: {
        const key: number[] = [];
        while (field.remaining > 0) key.push(field.packed());
        map.primaryKey = key;
        break;
      }
      case OptionalMeta.PRIMARY_KEY_WITH_PREFIX: {
        const key: number[] = [];
        while (field.remaining > 0) {
          key.push(field.packed());
          field.packed(); // prefix length
        }
        map.primaryKey = key;
        break;
      }
      default:
        break; // GEOMETRY_TYPE, COLUMN_VISIBILITY, VECTOR_DIMENSIONALITY and future fields
    }
  }

  if (haveCharsets) map.charsets = charsets;
  // Labels are stored in their column's character set; decode them once the charsets are known.
  const decodeLabels = (columns: number[], lists: Buffer[][]): (readonly string[] | undefined)[] => {
    const out = new Array<readonly string[] | undefined>(count).fill(undefined);
    columns.forEach((column, k) => {
      const collation = charsets[column];
      const charset = collation === undefined ? 'utf8mb4' : (charsetOfCollation(collation) ?? 'utf8mb4');
      const decode = labelDecoder(charset);
      out[column] = (lists[k] ?? []).map((label) => decode(label, 0, label.length));
    });
    return out;
  };
  if (enumLabels) map.enumValues = decodeLabels(enums, enumLabels);
  if (setLabels) map.setValues = decodeLabels(sets, setLabels);
}

function labelDecoder(charset: string): TextDecodeFn {
  if (charset === 'binary') return textDecoderFor('latin1');
  try {
    return textDecoderFor(charset);
  } catch {
    return textDecoderFor('utf8mb4');
  }
}
