import type { DataType, Value } from '../../../core/data-type.js';
import { ColumnType } from './binlog-constants.js';
import type { ByteCursor } from './byte-cursor.js';
import { isBinaryCharset, textDecoderFor, type TextDecodeFn } from './charsets.js';
import { realColumnType, stringColumnLength } from './column-meta.js';
import { decimalLayout } from './decimal.js';
import { jsonBinaryToText } from './json-binary.js';
import {
  decodeDate,
  decodeDatetime2,
  decodeDatetimeOld,
  decodeTime2,
  decodeTimeOld,
  decodeTimestamp2,
  decodeTimestampOld,
  fractionBytes,
} from './temporal.js';

/**
 * Reads one non-null value at `c.pos`, advances `c.pos` past it and returns it in the canonical
 * representation. Decoders do not check bounds; the row decoder checks the position after each row image.
 */
export type ColumnDecoder = (buf: Buffer, c: ByteCursor) => Value;

/** Everything that decides how one column is decoded; fixed per table map. */
export interface ColumnSpec {
  /** Type code of the table map. */
  readonly wireType: number;
  readonly meta: number;
  /** The canonical type the value must be produced in. */
  readonly type: DataType;
  /** Character set name of character columns ('utf8mb4', 'latin1', 'binary'); undefined when unknown. */
  readonly charset: string | undefined;
  readonly unsigned: boolean;
  /** ENUM/SET labels, from the canonical type or the table map. */
  readonly labels: readonly string[] | undefined;
  /** What a zero or partial-zero date does (it throws); absent: it is null. See `ColumnInfo.onZeroDate`. */
  readonly onZeroDate?: (text: string) => never;
}

/** Thrown by {@link createColumnDecoder} when the wire type cannot produce the canonical type. */
export class ColumnMismatch extends Error {}

/** Thrown by {@link createColumnDecoder} for a wire type this decoder cannot read at all. */
export class ColumnUnsupported extends Error {
  constructor(readonly realType: number) {
    super(`binlog type ${realType} is not supported`);
  }
}

const TEXT_KINDS = new Set<DataType['kind']>(['char', 'varchar', 'string', 'json', 'enum', 'set']);
const BYTES_KINDS = new Set<DataType['kind']>(['binary', 'varbinary', 'bytes']);
const SMALL_INT_KINDS = new Set<DataType['kind']>(['int8', 'int16', 'int32', 'uint8', 'uint16', 'uint32', 'year']);
const INT_BYTES: Partial<Record<DataType['kind'], number>> = {
  int8: 1,
  uint8: 1,
  int16: 2,
  uint16: 2,
  int32: 4,
  uint32: 4,
  year: 2,
};

/** Bytes of the integer wire types. */
const INTEGER_WIDTH: Readonly<Record<number, number>> = {
  [ColumnType.TINY]: 1,
  [ColumnType.SHORT]: 2,
  [ColumnType.INT24]: 3,
  [ColumnType.LONG]: 4,
  [ColumnType.LONGLONG]: 8,
};

/**
 * Builds the decoder of one column; throws {@link ColumnMismatch} for impossible type combinations and
 * {@link ColumnUnsupported} for wire types without a decoder.
 */
export function createColumnDecoder(spec: ColumnSpec): ColumnDecoder {
  const kind = spec.type.kind;
  const real = realColumnType(spec.wireType, spec.meta);
  switch (real) {
    case ColumnType.TINY:
    case ColumnType.SHORT:
    case ColumnType.INT24:
    case ColumnType.LONG:
    case ColumnType.LONGLONG:
      return integerDecoder(real, spec);
    case ColumnType.FLOAT:
      expect(kind === 'float' || kind === 'double', spec, 'FLOAT');
      return (b, c) => {
        const v = b.readFloatLE(c.pos);
        c.pos += 4;
        return v;
      };
    case ColumnType.DOUBLE:
      expect(kind === 'double' || kind === 'float', spec, 'DOUBLE');
      return (b, c) => {
        const v = b.readDoubleLE(c.pos);
        c.pos += 8;
        return v;
      };
    case ColumnType.NEWDECIMAL: {
      expect(kind === 'decimal' || TEXT_KINDS.has(kind), spec, 'DECIMAL');
      const layout = decimalLayout(spec.meta >> 8, spec.meta & 0xff);
      const size = layout.size;
      const decode = layout.decode;
      return (b, c) => {
        const v = decode(b, c.pos);
        c.pos += size;
        return v;
      };
    }
    case ColumnType.YEAR:
      expect(SMALL_INT_KINDS.has(kind), spec, 'YEAR');
      return (b, c) => {
        const v = b[c.pos]!;
        c.pos += 1;
        return v === 0 ? 0 : 1900 + v;
      };
    case ColumnType.DATE:
    case ColumnType.NEWDATE:
      expect(kind === 'date' || TEXT_KINDS.has(kind), spec, 'DATE');
      return dateDecoder(spec, 3, (b, p, keepZero) => decodeDate(b, p, keepZero));
    case ColumnType.TIME:
      expect(kind === 'time' || TEXT_KINDS.has(kind), spec, 'TIME');
      return (b, c) => {
        const v = decodeTimeOld(b, c.pos);
        c.pos += 3;
        return v;
      };
    case ColumnType.TIME2: {
      expect(kind === 'time' || TEXT_KINDS.has(kind), spec, 'TIME');
      const fsp = spec.meta;
      const size = 3 + fractionBytes(fsp);
      return (b, c) => {
        const v = decodeTime2(b, c.pos, fsp);
        c.pos += size;
        return v;
      };
    }
    case ColumnType.DATETIME: {
      const suffix = timestampSuffix(spec, 'DATETIME', '');
      return dateDecoder(spec, 8, (b, p, keepZero) => decodeDatetimeOld(b, p, keepZero ? '' : suffix, keepZero));
    }
    case ColumnType.DATETIME2: {
      const suffix = timestampSuffix(spec, 'DATETIME', '');
      const fsp = spec.meta;
      return dateDecoder(spec, 5 + fractionBytes(fsp), (b, p, keepZero) =>
        decodeDatetime2(b, p, fsp, keepZero ? '' : suffix, keepZero),
      );
    }
    case ColumnType.TIMESTAMP: {
      const suffix = timestampSuffix(spec, 'TIMESTAMP', 'Z');
      return dateDecoder(spec, 4, (b, p, keepZero) => decodeTimestampOld(b, p, keepZero ? '' : suffix, keepZero));
    }
    case ColumnType.TIMESTAMP2: {
      const suffix = timestampSuffix(spec, 'TIMESTAMP', 'Z');
      const fsp = spec.meta;
      return dateDecoder(spec, 4 + fractionBytes(fsp), (b, p, keepZero) =>
        decodeTimestamp2(b, p, fsp, keepZero ? '' : suffix, keepZero),
      );
    }
    case ColumnType.VARCHAR:
    case ColumnType.VAR_STRING:
      return lengthPrefixedDecoder(spec, spec.meta > 255 ? 2 : 1, 0);
    case ColumnType.STRING: {
      const length = stringColumnLength(spec.wireType, spec.meta);
      // BINARY(n) values lose their trailing 0x00 padding in the binlog; SELECT returns them padded.
      return lengthPrefixedDecoder(spec, length > 255 ? 2 : 1, isBinaryCharset(spec.charset) ? length : 0);
    }
    case ColumnType.TINY_BLOB:
    case ColumnType.MEDIUM_BLOB:
    case ColumnType.LONG_BLOB:
    case ColumnType.BLOB:
      return lengthPrefixedDecoder(spec, spec.meta, 0);
    case ColumnType.GEOMETRY:
      // The stored form, as SELECT returns it: a 4-byte little-endian SRID, then the WKB.
      expect(BYTES_KINDS.has(kind), spec, 'GEOMETRY');
      return lengthPrefixedDecoder(spec, spec.meta, 0);
    case ColumnType.JSON:
      return jsonDecoder(spec);
    case ColumnType.ENUM:
      return enumDecoder(spec, stringColumnLength(spec.wireType, spec.meta));
    case ColumnType.SET:
      return setDecoder(spec, stringColumnLength(spec.wireType, spec.meta));
    case ColumnType.BIT:
      return bitDecoder(spec);
    case ColumnType.NULL:
      return () => null;
    default:
      // old DECIMAL (pre-5.0 tables), MariaDB COMPRESSED columns, MySQL VECTOR and typed arrays
      throw new ColumnUnsupported(real);
  }
}

/**
 * A DATE, DATETIME or TIMESTAMP of `size` bytes read by `read` (null for a zero or partial-zero date unless
 * `keepZero`). Under `spec.onZeroDate` such a date is read again as text and handed over; the row decoder
 * never calls a decoder for SQL NULL, so null here is always a zero date.
 */
function dateDecoder(
  spec: ColumnSpec,
  size: number,
  read: (b: Buffer, pos: number, keepZero: boolean) => string | null,
): ColumnDecoder {
  const onZeroDate = spec.onZeroDate;
  if (onZeroDate === undefined) {
    return (b, c) => {
      const v = read(b, c.pos, false);
      c.pos += size;
      return v;
    };
  }
  return (b, c) => {
    const v = read(b, c.pos, false);
    if (v === null) onZeroDate(read(b, c.pos, true) ?? '');
    c.pos += size;
    return v;
  };
}

function expect(condition: boolean, spec: ColumnSpec, wire: string): void {
  if (!condition) throw new ColumnMismatch(`a ${wire} column in the binlog cannot be read as ${spec.type.kind}`);
}

function timestampSuffix(spec: ColumnSpec, wire: string, textSuffix: string): string {
  const kind = spec.type.kind;
  if (kind === 'timestamptz') return 'Z';
  if (kind === 'timestamp') return '';
  expect(TEXT_KINDS.has(kind), spec, wire);
  return textSuffix;
}

function integerDecoder(real: number, spec: ColumnSpec): ColumnDecoder {
  const kind = spec.type.kind;
  const width = INTEGER_WIDTH[real] ?? 8;
  const unsigned = spec.unsigned;
  if (kind === 'boolean') {
    return (b, c) => {
      let nonZero = false;
      for (let i = 0; i < width; i++) if (b[c.pos + i] !== 0) nonZero = true;
      c.pos += width;
      return nonZero;
    };
  }
  const wantsBigint = kind === 'int64' || kind === 'uint64';
  const wantsText = kind === 'decimal' || TEXT_KINDS.has(kind);
  const wantsNumber = SMALL_INT_KINDS.has(kind) || kind === 'float' || kind === 'double';
  expect(wantsBigint || wantsText || wantsNumber, spec, 'integer');
  // A canonical type narrower than the wire would lose values: the schema the caller holds is stale.
  const canonicalBytes = INT_BYTES[kind];
  expect(canonicalBytes === undefined || canonicalBytes >= width, spec, `${width * 8}-bit integer`);
  if (width === 8) {
    const read: ColumnDecoder = unsigned ? readUint64 : readInt64;
    if (wantsBigint) return read;
    if (wantsText) return (b, c) => String(read(b, c));
    return (b, c) => Number(read(b, c));
  }
  let read: (b: Buffer, p: number) => number;
  switch (width) {
    case 1:
      read = unsigned ? (b, p) => b[p]! : (b, p) => (b[p]! << 24) >> 24;
      break;
    case 2:
      read = unsigned ? (b, p) => b[p]! | (b[p + 1]! << 8) : (b, p) => ((b[p]! | (b[p + 1]! << 8)) << 16) >> 16;
      break;
    case 3:
      read = unsigned
        ? (b, p) => b[p]! | (b[p + 1]! << 8) | (b[p + 2]! << 16)
        : (b, p) => ((b[p]! | (b[p + 1]! << 8) | (b[p + 2]! << 16)) << 8) >> 8;
      break;
    default:
      read = unsigned
        ? (b, p) => (b[p]! | (b[p + 1]! << 8) | (b[p + 2]! << 16) | (b[p + 3]! << 24)) >>> 0
        : (b, p) => b[p]! | (b[p + 1]! << 8) | (b[p + 2]! << 16) | (b[p + 3]! << 24);
  }
  if (wantsNumber) {
    return (b, c) => {
      const v = read(b, c.pos);
      c.pos += width;
      return v;
    };
  }
  if (wantsBigint) {
    return (b, c) => {
      const v = read(b, c.pos);
      c.pos += width;
      return BigInt(v);
    };
  }
  return (b, c) => {
    const v = read(b, c.pos);
    c.pos += width;
    return String(v);
  };
}

/** 64-bit integers as bigint, with one BigInt conversion when the value fits in 53 bits (the common case). */
const readInt64: ColumnDecoder = (b, c) => {
  const p = c.pos;
  c.pos = p + 8;
  const lo = (b[p]! | (b[p + 1]! << 8) | (b[p + 2]! << 16) | (b[p + 3]! << 24)) >>> 0;
  const hi = b[p + 4]! | (b[p + 5]! << 8) | (b[p + 6]! << 16) | (b[p + 7]! << 24);
  if (hi >= -0x200000 && hi < 0x200000) return BigInt(hi * 0x100000000 + lo);
  return (BigInt(hi) << 32n) | BigInt(lo);
};

const readUint64: ColumnDecoder = (b, c) => {
  const p = c.pos;
  c.pos = p + 8;
  const lo = (b[p]! | (b[p + 1]! << 8) | (b[p + 2]! << 16) | (b[p + 3]! << 24)) >>> 0;
  const hi = (b[p + 4]! | (b[p + 5]! << 8) | (b[p + 6]! << 16) | (b[p + 7]! << 24)) >>> 0;
  if (hi < 0x200000) return BigInt(hi * 0x100000000 + lo);
  return (BigInt(hi) << 32n) | BigInt(lo);
};

/** Copies bytes out of the network buffer, which is not ours to keep. */
function copyBytes(b: Buffer, start: number, end: number): Buffer {
  const out = Buffer.allocUnsafe(end - start);
  b.copy(out, 0, start, end);
  return out;
}

function paddedBytes(b: Buffer, start: number, end: number, length: number): Buffer {
  const out = Buffer.alloc(Math.max(length, end - start));
  b.copy(out, 0, start, end);
  return out;
}

function textDecoderOf(spec: ColumnSpec): TextDecodeFn {
  const charset = spec.charset === undefined || isBinaryCharset(spec.charset) ? 'utf8mb4' : spec.charset;
  try {
    return textDecoderFor(charset);
  } catch (error) {
    throw new ColumnMismatch((error as Error).message);
  }
}

/** Values preceded by their length in `prefixBytes` little-endian bytes: VARCHAR, CHAR, BINARY, BLOB, TEXT. */
function lengthPrefixedDecoder(spec: ColumnSpec, prefixBytes: number, padTo: number): ColumnDecoder {
  const kind = spec.type.kind;
  const asText = TEXT_KINDS.has(kind);
  expect(asText || BYTES_KINDS.has(kind), spec, 'string/BLOB');
  if (asText) {
    const decode = textDecoderOf(spec);
    switch (prefixBytes) {
      case 1:
        return (b, c) => {
          const start = c.pos + 1;
          const end = start + b[c.pos]!;
          c.pos = end;
          return decode(b, start, end);
        };
      case 2:
        return (b, c) => {
          const start = c.pos + 2;
          const end = start + (b[c.pos]! | (b[c.pos + 1]! << 8));
          c.pos = end;
          return decode(b, start, end);
        };
      default:
        return (b, c) => {
          const start = c.pos + prefixBytes;
          const end = start + b.readUIntLE(c.pos, prefixBytes);
          c.pos = end;
          return decode(b, start, end);
        };
    }
  }
  return (b, c) => {
    const start = c.pos + prefixBytes;
    const end = start + (prefixBytes === 1 ? b[c.pos]! : b.readUIntLE(c.pos, prefixBytes));
    c.pos = end;
    return padTo > 0 ? paddedBytes(b, start, end, padTo) : copyBytes(b, start, end);
  };
}

function jsonDecoder(spec: ColumnSpec): ColumnDecoder {
  const kind = spec.type.kind;
  const prefixBytes = spec.meta;
  if (BYTES_KINDS.has(kind)) return lengthPrefixedDecoder(spec, prefixBytes, 0);
  expect(TEXT_KINDS.has(kind), spec, 'JSON');
  return (b, c) => {
    const start = c.pos + prefixBytes;
    const end = start + b.readUIntLE(c.pos, prefixBytes);
    c.pos = end;
    return jsonBinaryToText(b, start, end);
  };
}

function requireLabels(spec: ColumnSpec, wire: string): readonly string[] {
  if (spec.labels === undefined) {
    throw new ColumnMismatch(
      `the labels of this ${wire} column are unknown (give its canonical type, or set binlog_row_metadata=FULL)`,
    );
  }
  return spec.labels;
}

function enumDecoder(spec: ColumnSpec, packLength: number): ColumnDecoder {
  const kind = spec.type.kind;
  const read = (b: Buffer, c: ByteCursor): number => {
    const v = packLength === 1 ? b[c.pos]! : b[c.pos]! | (b[c.pos + 1]! << 8);
    c.pos += packLength;
    return v;
  };
  if (SMALL_INT_KINDS.has(kind)) return read;
  expect(TEXT_KINDS.has(kind), spec, 'ENUM');
  const labels = requireLabels(spec, 'ENUM');
  return (b, c) => {
    const index = read(b, c);
    if (index === 0) return ''; // the "invalid value" member of non-strict inserts
    const label = labels[index - 1];
    if (label === undefined) throw new ColumnMismatch(`ENUM index ${index} beyond its ${labels.length} labels`);
    return label;
  };
}

function setDecoder(spec: ColumnSpec, packLength: number): ColumnDecoder {
  const kind = spec.type.kind;
  if (kind === 'int64' || kind === 'uint64') {
    return (b, c) => {
      const v = b.readUIntLE(c.pos, Math.min(packLength, 6));
      const high = packLength > 6 ? b.readUInt16LE(c.pos + 6) : 0;
      c.pos += packLength;
      return (BigInt(high) << 48n) | BigInt(v);
    };
  }
  expect(TEXT_KINDS.has(kind), spec, 'SET');
  const labels = requireLabels(spec, 'SET');
  return (b, c) => {
    let out = '';
    for (let byte = 0; byte < packLength; byte++) {
      const bits = b[c.pos + byte]!;
      if (bits === 0) continue;
      for (let bit = 0; bit < 8; bit++) {
        if ((bits & (1 << bit)) === 0) continue;
        const label = labels[byte * 8 + bit];
        if (label === undefined)
          throw new ColumnMismatch(`SET member ${byte * 8 + bit + 1} beyond its ${labels.length} labels`);
        out = out === '' ? label : `${out},${label}`;
      }
    }
    c.pos += packLength;
    return out;
  };
}

const BYTE_BITS: readonly string[] = Array.from({ length: 256 }, (_, i) => i.toString(2).padStart(8, '0'));

function bitDecoder(spec: ColumnSpec): ColumnDecoder {
  const kind = spec.type.kind;
  const bits = (spec.meta >> 8) * 8 + (spec.meta & 0xff);
  const size = (spec.meta >> 8) + ((spec.meta & 0xff) > 0 ? 1 : 0);
  if (kind === 'boolean') {
    return (b, c) => {
      let nonZero = false;
      for (let i = 0; i < size; i++) if (b[c.pos + i] !== 0) nonZero = true;
      c.pos += size;
      return nonZero;
    };
  }
  if (kind === 'int64' || kind === 'uint64' || SMALL_INT_KINDS.has(kind)) {
    return (b, c) => {
      let v = 0n;
      for (let i = 0; i < size; i++) v = (v << 8n) | BigInt(b[c.pos + i]!);
      c.pos += size;
      return kind === 'int64' || kind === 'uint64' ? v : Number(v);
    };
  }
  expect(kind === 'bit' || TEXT_KINDS.has(kind), spec, 'BIT');
  return (b, c) => {
    let out = '';
    for (let i = 0; i < size; i++) out += BYTE_BITS[b[c.pos + i]!]!;
    c.pos += size;
    return out.length === bits ? out : out.slice(out.length - bits);
  };
}
