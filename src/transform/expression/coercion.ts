import { formatDataType, type DataType, type Value } from '../../core/data-type.js';
import { castConverter } from './cast.js';
import { compareDecimal, parseDecimal } from './decimal.js';
import type { Compiled } from './eval-context.js';
import { familyOf, integerDigits, isNumericFamily, widerInteger, type TypeFamily } from './sql-type.js';
import { parseTime, parseTimestamp } from './temporal.js';

const STRING: DataType = { kind: 'string' };
const DOUBLE: DataType = { kind: 'double' };

/** A decimal type wide enough for any value of an integer or decimal type. */
export function asDecimal(type: DataType): { precision: number; scale: number } {
  return type.kind === 'decimal' ? type : { precision: integerDigits(type), scale: 0 };
}

/**
 * The type that values of all `types` convert to without loss, for CASE / IF / COALESCE branches and the two
 * sides of a comparison; a string reason when there is none.
 */
export function commonType(types: readonly DataType[]): DataType | string {
  const first = types[0];
  if (first === undefined) return STRING;
  const families = new Set<TypeFamily>(types.map(familyOf));
  if (types.every((t) => formatDataType(t) === formatDataType(first))) return first;
  if ([...families].every(isNumericFamily)) {
    if (families.has('approx')) return DOUBLE;
    if (families.has('decimal')) {
      const parts = types.map(asDecimal);
      const scale = Math.max(...parts.map((d) => d.scale));
      const whole = Math.max(...parts.map((d) => d.precision - d.scale));
      return { kind: 'decimal', precision: Math.min(38, whole + scale), scale };
    }
    return types.reduce((a, b) => widerInteger(a, b));
  }
  if (families.size === 1) {
    const family = first && familyOf(first);
    if (family === 'string') return STRING;
    if (family === 'binary') return { kind: 'bytes' };
    if (family === 'time' || family === 'timestamp' || family === 'timestamptz') {
      const precision = Math.max(...types.map((t) => ('precision' in t ? t.precision : 0)));
      return { kind: family, precision };
    }
  }
  if (families.size === 2 && families.has('date') && families.has('timestamp')) {
    return { kind: 'timestamp', precision: Math.max(...types.map((t) => ('precision' in t ? t.precision : 0))) };
  }
  if (families.size === 2 && families.has('timestamp') && families.has('timestamptz')) {
    return { kind: 'timestamptz', precision: Math.max(...types.map((t) => ('precision' in t ? t.precision : 0))) };
  }
  return `${[...new Set(types.map(formatDataType))].join(' and ')} have no common type`;
}

/** A conversion SQL does not have (the reason says which). */
export class CoercionError extends Error {}

/** `compiled` converted to `type` (identity when it already is). Throws {@link CoercionError}. */
export function coerce(compiled: Compiled, type: DataType, timeZone: string): Compiled {
  if (compiled.nullLiteral === true) return { ...compiled, type };
  if (formatDataType(compiled.type) === formatDataType(type)) return compiled;
  // A string constant meets a number or a time: it is read as one (`created_at > '2024-01-01'`).
  const converter = castConverter(compiled.type, type, timeZone);
  if (typeof converter === 'string') throw new CoercionError(converter);
  const inner = compiled.evaluate;
  if (compiled.constant === true) {
    // Converted once; a constant that does not convert (`i = 'abc'`) throws EvalProblem to the compiler.
    const value = inner({ row: [], op: 'read', image: 'after', tsMs: 0, nowMs: 0 });
    const converted = value === null ? null : converter(value);
    return { ...compiled, type, evaluate: () => converted };
  }
  return {
    ...compiled,
    type,
    evaluate: (ctx) => {
      const v = inner(ctx);
      return v === null ? null : converter(v);
    },
  };
}

/**
 * The type two compared values are compared in. A string compared with a number, a date or a time is read
 * as that type (Flink's implicit cast of comparisons).
 */
export function comparisonType(a: DataType, b: DataType): DataType | string {
  const fa = familyOf(a);
  const fb = familyOf(b);
  if (fa === 'string' && fb !== 'string') return b;
  if (fb === 'string' && fa !== 'string') return a;
  if (fa === 'date' && fb === 'timestamptz') return b;
  if (fb === 'date' && fa === 'timestamptz') return a;
  return commonType([a, b]);
}

export type Comparator = (a: Value, b: Value) => number;

/** How two non-NULL values of `type` order: -1, 0, 1. */
export function comparatorFor(type: DataType): Comparator {
  switch (familyOf(type)) {
    case 'integer':
    case 'approx':
      return (a, b) => {
        const x = a as number | bigint;
        const y = b as number | bigint;
        return x < y ? -1 : x > y ? 1 : 0;
      };
    case 'decimal':
      // Up to 15 significant digits, distinct decimals are distinct doubles, in the same order.
      if (type.kind === 'decimal' && type.precision <= 15) {
        return (a, b) => {
          const x = Number(a);
          const y = Number(b);
          return x < y ? -1 : x > y ? 1 : 0;
        };
      }
      return (a, b) => compareDecimal(parseDecimal(a as string)!, parseDecimal(b as string)!);
    case 'boolean':
      return (a, b) => Number(a) - Number(b);
    case 'string':
    case 'date':
      return (a, b) => {
        const x = a as string;
        const y = b as string;
        return x < y ? -1 : x > y ? 1 : 0;
      };
    case 'time':
      return (a, b) => compareBig(parseTime(a as string)!, parseTime(b as string)!);
    case 'timestamp':
    case 'timestamptz':
      return (a, b) => compareBig(parseTimestamp(a as string)!, parseTimestamp(b as string)!);
    case 'binary':
      return (a, b) => {
        const x = a as Uint8Array;
        const y = b as Uint8Array;
        for (let i = 0; i < Math.min(x.length, y.length); i++) if (x[i] !== y[i]) return x[i]! - y[i]!;
        return x.length - y.length;
      };
  }
}

function compareBig(a: bigint, b: bigint): number {
  return a < b ? -1 : a > b ? 1 : 0;
}
