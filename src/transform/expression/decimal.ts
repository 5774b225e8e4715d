/**
 * Exact decimal arithmetic on the canonical decimal representation (decimal text such as `-12.50`). A value
 * is read into an unscaled bigint and a scale, computed on, and written back as text: no JavaScript number is
 * ever involved, so no digit is lost. Rounding is HALF_UP (away from zero on a tie), as in Flink and MySQL.
 */
import { EXACT_POWERS_OF_TEN } from '../../core/powers-of-ten.js';
export interface Decimal {
  readonly unscaled: bigint;
  readonly scale: number;
}

const DECIMAL_TEXT = /^([+-]?)(\d*)(?:\.(\d*))?(?:[eE]([+-]?\d+))?$/;

const PLAIN = /^-?\d+(?:\.\d+)?$/;

/** Parses decimal text (also `1e3`, `.5`, `+2`); undefined when it is not a number. */
export function parseDecimal(text: string): Decimal | undefined {
  // The canonical form (`-12.50`) without the general pattern: this is on the hot path of arithmetic.
  if (PLAIN.test(text)) {
    const point = text.indexOf('.');
    if (point < 0) return { unscaled: BigInt(text), scale: 0 };
    return { unscaled: BigInt(text.slice(0, point) + text.slice(point + 1)), scale: text.length - point - 1 };
  }
  const match = DECIMAL_TEXT.exec(text.trim());
  if (match === null) return undefined;
  const [, sign = '', whole = '', fraction = '', exponent] = match;
  if (whole === '' && fraction === '') return undefined;
  let digits = whole + fraction;
  let scale = fraction.length - (exponent === undefined ? 0 : Number(exponent));
  if (scale < 0) {
    digits += '0'.repeat(-scale);
    scale = 0;
  }
  const unscaled = BigInt(digits === '' ? '0' : digits);
  return { unscaled: sign === '-' ? -unscaled : unscaled, scale };
}

export function formatDecimal(value: Decimal): string {
  const negative = value.unscaled < 0n;
  const digits = (negative ? -value.unscaled : value.unscaled).toString();
  if (value.scale <= 0) return (negative ? '-' : '') + digits + '0'.repeat(-value.scale);
  const padded = digits.padStart(value.scale + 1, '0');
  const point = padded.length - value.scale;
  return `${negative ? '-' : ''}${padded.slice(0, point)}.${padded.slice(point)}`;
}

const TEN = 10n;

const POWERS: bigint[] = Array.from({ length: 80 }, (_, i) => TEN ** BigInt(i));

function pow10(n: number): bigint {
  return POWERS[n] ?? TEN ** BigInt(n);
}

/** Divides with HALF_UP rounding. */
export function divRoundHalfUp(a: bigint, b: bigint): bigint {
  const q = a / b;
  const r = a % b;
  if (r === 0n) return q;
  const twice = (r < 0n ? -r : r) * 2n;
  const absB = b < 0n ? -b : b;
  if (twice < absB) return q;
  return a < 0n !== b < 0n ? q - 1n : q + 1n;
}

/** The same value at `scale` digits after the point, rounding HALF_UP when digits are dropped. */
export function rescale(value: Decimal, scale: number): Decimal {
  if (scale === value.scale) return value;
  if (scale > value.scale) return { unscaled: value.unscaled * pow10(scale - value.scale), scale };
  return { unscaled: divRoundHalfUp(value.unscaled, pow10(value.scale - scale)), scale };
}

/** The same value at `scale` digits, dropping digits toward negative infinity (FLOOR) or positive (CEIL). */
export function rescaleDirected(value: Decimal, scale: number, direction: 'floor' | 'ceil'): Decimal {
  if (scale >= value.scale) return rescale(value, scale);
  const divisor = pow10(value.scale - scale);
  let q = value.unscaled / divisor;
  const r = value.unscaled % divisor;
  if (r !== 0n) {
    if (direction === 'floor' && value.unscaled < 0n) q -= 1n;
    if (direction === 'ceil' && value.unscaled > 0n) q += 1n;
  }
  return { unscaled: q, scale };
}

export function addDecimal(a: Decimal, b: Decimal): Decimal {
  const scale = Math.max(a.scale, b.scale);
  return { unscaled: rescale(a, scale).unscaled + rescale(b, scale).unscaled, scale };
}

export function subtractDecimal(a: Decimal, b: Decimal): Decimal {
  const scale = Math.max(a.scale, b.scale);
  return { unscaled: rescale(a, scale).unscaled - rescale(b, scale).unscaled, scale };
}

export function multiplyDecimal(a: Decimal, b: Decimal): Decimal {
  return { unscaled: a.unscaled * b.unscaled, scale: a.scale + b.scale };
}

/** a / b rounded HALF_UP to `scale` digits; undefined when b is zero. */
export function divideDecimal(a: Decimal, b: Decimal, scale: number): Decimal | undefined {
  if (b.unscaled === 0n) return undefined;
  // a.u / 10^as ÷ b.u / 10^bs = a.u * 10^(bs + scale - as) / b.u, in units of 10^-scale.
  const shift = b.scale + scale - a.scale;
  const numerator = shift >= 0 ? a.unscaled * pow10(shift) : a.unscaled;
  const denominator = shift >= 0 ? b.unscaled : b.unscaled * pow10(-shift);
  return { unscaled: divRoundHalfUp(numerator, denominator), scale };
}

/** Remainder with the sign of the dividend (SQL MOD); undefined when b is zero. */
export function remainderDecimal(a: Decimal, b: Decimal): Decimal | undefined {
  if (b.unscaled === 0n) return undefined;
  const scale = Math.max(a.scale, b.scale);
  return { unscaled: rescale(a, scale).unscaled % rescale(b, scale).unscaled, scale };
}

export function compareDecimal(a: Decimal, b: Decimal): number {
  const scale = Math.max(a.scale, b.scale);
  const x = rescale(a, scale).unscaled;
  const y = rescale(b, scale).unscaled;
  return x < y ? -1 : x > y ? 1 : 0;
}

/** Number of significant integer digits plus scale: whether the value fits decimal(precision, scale). */
export function fitsPrecision(value: Decimal, precision: number): boolean {
  const abs = value.unscaled < 0n ? -value.unscaled : value.unscaled;
  return abs < pow10(precision);
}

/**
 * Small decimals as exact JavaScript integers: the unscaled value when the text has at most 15 digits (so
 * it and its sums stay below 2^53), else undefined. Lets arithmetic on typical amounts skip BigInt.
 */
export function smallDecimal(text: string): { unscaled: number; scale: number } | undefined {
  const point = text.indexOf('.');
  const digits = text.length - (point < 0 ? 0 : 1) - (text.charCodeAt(0) === 45 ? 1 : 0);
  if (digits > 15) return undefined;
  if (point < 0) return { unscaled: Number(text), scale: 0 };
  return { unscaled: Number(text.slice(0, point) + text.slice(point + 1)), scale: text.length - point - 1 };
}

/** `unscaled` × 10^-scale as canonical text (unscaled a safe integer). */
export function formatSmallDecimal(unscaled: number, scale: number): string {
  if (scale === 0) return String(unscaled);
  const negative = unscaled < 0;
  const digits = String(negative ? -unscaled : unscaled).padStart(scale + 1, '0');
  const point = digits.length - scale;
  return `${negative ? '-' : ''}${digits.slice(0, point)}.${digits.slice(point)}`;
}

export function numberPow10(n: number): number {
  return EXACT_POWERS_OF_TEN[n] ?? 10 ** n;
}
