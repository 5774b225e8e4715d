import { formatDataType, type DataType, type Value } from '../../core/data-type.js';

/**
 * The widening lattice over the canonical types: the least type that holds every value of both `a` and `b`,
 * or undefined when there is none (the types are incompatible). Equal types widen to themselves.
 *
 * - int8 < int16 < int32 < int64, uint8 < uint16 < uint32 < uint64, and uintN < the signed type twice as wide
 *   (uint64 with a signed type → decimal(20,0));
 * - an integer < decimal(p,s) with enough integer digits; decimals grow to the larger integer digits and the
 *   larger scale;
 * - float < double;
 * - char(n) / varchar(n) grow in length, char < varchar < string; enum and set < string;
 * - binary(n) / varbinary(n) grow in length, binary < varbinary < bytes;
 * - enum(…) and set(…) grow by their values (the labels of `a` first); bit(n) grows in length;
 * - time, timestamp and timestamptz grow in fractional precision (each only with its own kind).
 *
 * Nothing else widens: boolean, date, year and json only equal themselves.
 */
export function widenType(a: DataType, b: DataType): DataType | undefined {
  if (formatDataType(a) === formatDataType(b)) return a;
  const integers = widenIntegers(a, b);
  if (integers !== undefined) return integers;
  switch (a.kind) {
    case 'decimal':
      if (b.kind === 'decimal') return decimal(Math.max(a.precision - a.scale, b.precision - b.scale), a, b);
      return integerDigits(b) === undefined
        ? undefined
        : decimal(Math.max(a.precision - a.scale, integerDigits(b)!), a);
    case 'float':
    case 'double':
      return b.kind === 'float' || b.kind === 'double' ? { kind: 'double' } : undefined;
    case 'char':
    case 'varchar':
    case 'string':
    case 'enum':
    case 'set':
      return widenText(a, b);
    case 'binary':
    case 'varbinary':
    case 'bytes':
      return widenBinary(a, b);
    case 'bit':
      return b.kind === 'bit' ? { kind: 'bit', length: Math.max(a.length, b.length) } : undefined;
    case 'time':
    case 'timestamp':
    case 'timestamptz':
      return b.kind === a.kind ? { kind: a.kind, precision: Math.max(a.precision, b.precision) } : undefined;
    default:
      return integerDigits(a) !== undefined && b.kind === 'decimal' ? widenType(b, a) : undefined;
  }
}

/** True when `to` holds every value of `from` (`from` widens to `to`). */
export function widensTo(from: DataType, to: DataType): boolean {
  const wider = widenType(from, to);
  return wider !== undefined && formatDataType(wider) === formatDataType(to);
}

const SIGNED = ['int8', 'int16', 'int32', 'int64'] as const;
const UNSIGNED = ['uint8', 'uint16', 'uint32', 'uint64'] as const;
/** Decimal digits of the largest value of each integer type. */
const DIGITS: Readonly<Record<string, number>> = {
  int8: 3,
  int16: 5,
  int32: 10,
  int64: 19,
  uint8: 3,
  uint16: 5,
  uint32: 10,
  uint64: 20,
};

function integerDigits(type: DataType): number | undefined {
  return DIGITS[type.kind];
}

function widenIntegers(a: DataType, b: DataType): DataType | undefined {
  const sa = SIGNED.indexOf(a.kind as (typeof SIGNED)[number]);
  const sb = SIGNED.indexOf(b.kind as (typeof SIGNED)[number]);
  const ua = UNSIGNED.indexOf(a.kind as (typeof UNSIGNED)[number]);
  const ub = UNSIGNED.indexOf(b.kind as (typeof UNSIGNED)[number]);
  if (sa >= 0 && sb >= 0) return { kind: SIGNED[Math.max(sa, sb)]! };
  if (ua >= 0 && ub >= 0) return { kind: UNSIGNED[Math.max(ua, ub)]! };
  const signed = Math.max(sa, sb);
  const unsigned = Math.max(ua, ub);
  if (signed < 0 || unsigned < 0) return undefined;
  const rank = Math.max(signed, unsigned + 1);
  return rank < SIGNED.length ? { kind: SIGNED[rank]! } : { kind: 'decimal', precision: 20, scale: 0 };
}

function decimal(intDigits: number, ...decimals: { kind: string; scale?: number }[]): DataType {
  const scale = Math.max(...decimals.map((d) => d.scale ?? 0));
  return { kind: 'decimal', precision: intDigits + scale, scale };
}

function widenText(a: DataType, b: DataType): DataType | undefined {
  const texts = ['char', 'varchar', 'string', 'enum', 'set'];
  if (!texts.includes(b.kind)) return undefined;
  if ((a.kind === 'enum' || a.kind === 'set') && b.kind === a.kind) {
    return { kind: a.kind, values: [...a.values, ...b.values.filter((v) => !a.values.includes(v))] };
  }
  if (a.kind === 'string' || b.kind === 'string' || 'values' in a || 'values' in b) return { kind: 'string' };
  if (!('length' in a) || !('length' in b)) return undefined;
  const length = Math.max(a.length, b.length);
  return a.kind === 'char' && b.kind === 'char' ? { kind: 'char', length } : { kind: 'varchar', length };
}

function widenBinary(a: DataType, b: DataType): DataType | undefined {
  if (b.kind !== 'binary' && b.kind !== 'varbinary' && b.kind !== 'bytes') return undefined;
  if (a.kind === 'bytes' || b.kind === 'bytes') return { kind: 'bytes' };
  if (!('length' in a)) return undefined;
  const length = Math.max(a.length, b.length);
  return a.kind === 'binary' && b.kind === 'binary' ? { kind: 'binary', length } : { kind: 'varbinary', length };
}

/**
 * How a value of type `from` is written as a value of the wider type `to` (see {@link Value}): integers
 * become bigints for int64/uint64 and decimal text for decimals, decimal text and fractional seconds are
 * padded to the new scale or precision, bit strings to the new length. Undefined when values pass as they
 * are (the representation does not change, or `to` is not wider).
 */
export function valueConverter(from: DataType, to: DataType): ((value: Value) => Value) | undefined {
  if (formatDataType(from) === formatDataType(to) || !widensTo(from, to)) return undefined;
  const fromInteger = integerDigits(from) !== undefined;
  switch (to.kind) {
    case 'int64':
    case 'uint64':
      return from.kind === 'int64' || from.kind === 'uint64' ? undefined : toBigInt;
    case 'decimal': {
      const scale = to.scale;
      if (fromInteger) return (v) => (v === null ? null : padFraction(String(v), scale));
      const fromScale = from.kind === 'decimal' ? from.scale : 0;
      return fromScale === scale ? undefined : (v) => (typeof v === 'string' ? padFraction(v, scale) : v);
    }
    case 'time':
    case 'timestamp':
      return (v) => (typeof v === 'string' ? padFraction(v, to.precision) : v);
    case 'timestamptz':
      return (v) => (typeof v === 'string' && v.endsWith('Z') ? `${padFraction(v.slice(0, -1), to.precision)}Z` : v);
    case 'bit':
      return (v) => (typeof v === 'string' ? v.padStart(to.length, '0') : v);
    default:
      return undefined;
  }
}

function toBigInt(value: Value): Value {
  return typeof value === 'number' ? BigInt(value) : value;
}

/** `12.5` with 3 digits → `12.500`; `7` with 2 → `7.00`; with 0 digits unchanged. */
function padFraction(text: string, digits: number): string {
  const dot = text.indexOf('.');
  const have = dot < 0 ? 0 : text.length - dot - 1;
  if (have >= digits) return text;
  return (dot < 0 ? `${text}.` : text) + '0'.repeat(digits - have);
}
