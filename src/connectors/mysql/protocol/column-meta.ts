import { ColumnType } from './binlog-constants.js';

/**
 * Column metadata of table-map events: how many bytes each wire type stores, how they combine into one number
 * (see `TableMap.columnMeta`), and the real type and byte length hidden in a STRING column's metadata.
 */

/**
 * Reads the metadata block for `types` starting at `pos`; returns one number per column. Byte order follows
 * the servers' readers: little-endian for VARCHAR, BIT (`bytes << 8 | bits`), big-endian for NEWDECIMAL
 * (`precision << 8 | scale`) and STRING/ENUM/SET (`byte0 << 8 | byte1`).
 */
export function readColumnMeta(buf: Uint8Array, pos: number, end: number, types: readonly number[]): number[] {
  const meta = new Array<number>(types.length);
  let p = pos;
  for (let i = 0; i < types.length; i++) {
    switch (types[i]) {
      case ColumnType.FLOAT:
      case ColumnType.DOUBLE:
      case ColumnType.TINY_BLOB:
      case ColumnType.MEDIUM_BLOB:
      case ColumnType.LONG_BLOB:
      case ColumnType.BLOB:
      case ColumnType.BLOB_COMPRESSED:
      case ColumnType.GEOMETRY:
      case ColumnType.JSON:
      case ColumnType.VECTOR:
      case ColumnType.TIME2:
      case ColumnType.DATETIME2:
      case ColumnType.TIMESTAMP2:
        meta[i] = buf[p]!;
        p += 1;
        break;
      case ColumnType.VARCHAR:
      case ColumnType.VAR_STRING:
      case ColumnType.VARCHAR_COMPRESSED:
      case ColumnType.BIT:
        meta[i] = buf[p]! | (buf[p + 1]! << 8);
        p += 2;
        break;
      case ColumnType.NEWDECIMAL:
      case ColumnType.STRING:
      case ColumnType.ENUM:
      case ColumnType.SET:
        meta[i] = (buf[p]! << 8) | buf[p + 1]!;
        p += 2;
        break;
      default:
        meta[i] = 0;
    }
  }
  if (p > end) throw new RangeError('table map metadata is longer than its block');
  return meta;
}

/**
 * The type a column really has: STRING columns carry ENUM, SET or STRING in their metadata (and CHAR columns
 * longer than 255 bytes fold two length bits into it).
 */
export function realColumnType(type: number, meta: number): number {
  if (type !== ColumnType.STRING || meta < 256) return type;
  const byte0 = meta >> 8;
  if ((byte0 & 0x30) !== 0x30) return byte0 | 0x30;
  return byte0;
}

/**
 * For STRING: the maximum byte length (CHAR) or the pack length (ENUM: 1–2, SET: 1–8 bytes); for ENUM/SET
 * typed columns the pack length.
 */
export function stringColumnLength(type: number, meta: number): number {
  if (type !== ColumnType.STRING && type !== ColumnType.ENUM && type !== ColumnType.SET) return 0;
  if (meta < 256) return meta;
  const byte0 = meta >> 8;
  const byte1 = meta & 0xff;
  if ((byte0 & 0x30) !== 0x30) return byte1 | (((byte0 & 0x30) ^ 0x30) << 4);
  return byte1;
}

/** Whether the table map's charset metadata lists this (real) column type among "character" columns. */
export function isCharacterColumn(realType: number): boolean {
  switch (realType) {
    case ColumnType.STRING:
    case ColumnType.VAR_STRING:
    case ColumnType.VARCHAR:
    case ColumnType.BLOB:
    case ColumnType.TINY_BLOB:
    case ColumnType.MEDIUM_BLOB:
    case ColumnType.LONG_BLOB:
    case ColumnType.GEOMETRY:
      return true;
    default:
      return false;
  }
}

/** Whether the table map's signedness metadata has a bit for this column type. */
export function isNumericColumn(type: number): boolean {
  switch (type) {
    case ColumnType.TINY:
    case ColumnType.SHORT:
    case ColumnType.INT24:
    case ColumnType.LONG:
    case ColumnType.LONGLONG:
    case ColumnType.NEWDECIMAL:
    case ColumnType.FLOAT:
    case ColumnType.DOUBLE:
      return true;
    default:
      return false;
  }
}

export function isEnumOrSetColumn(realType: number): boolean {
  return realType === ColumnType.ENUM || realType === ColumnType.SET;
}
