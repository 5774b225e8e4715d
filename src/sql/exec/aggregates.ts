import type { DataType, Value } from '../../core/data-type.js';
import { comparatorFor, type Comparator } from '../../transform/expression/coercion.js';
import { divideDecimal, formatDecimal, parseDecimal, rescale } from '../../transform/expression/decimal.js';
import { familyOf } from '../../transform/expression/sql-type.js';
import { encodeValue, valueFromJson, valueToJson, type JsonValue } from './changelog.js';

/**
 * The aggregate functions. `$SUM0` is the planner's own (no query can name it): the sum of partial counts, 0 and
 * never NULL where there are none, as COUNT (src/sql/eager-aggregation.ts).
 */
export const AGGREGATE_FUNCTIONS = new Set(['COUNT', 'SUM', 'AVG', 'MIN', 'MAX', '$SUM0']);

export type AggregateName = 'COUNT' | 'SUM' | 'AVG' | 'MIN' | 'MAX' | '$SUM0';

/** One aggregate of a GROUP BY, as the planner resolved it. */
export interface AggregateSpec {
  readonly name: AggregateName;
  /** `COUNT(*)`: no argument. */
  readonly hasArgument: boolean;
  readonly distinct: boolean;
  /** The argument's type (for COUNT(*): unused). */
  readonly argType: DataType;
  /** The result type. */
  readonly type: DataType;
  /** As written, for EXPLAIN. */
  readonly text: string;
}

/**
 * The retraction-safe state of one aggregate in one group: every function can take a row back. COUNT and SUM
 * keep counts and exact sums (bigint for integers, unscaled bigint for decimals); AVG keeps both; MIN, MAX and
 * COUNT(DISTINCT) keep the multiset of values seen (value → how many rows hold it), so that taking back the
 * current minimum finds the next one.
 */
export interface Accumulator {
  /** `expiring`: the state has a TTL, so a value taken back may be one counted before the group expired (ignored). */
  add(value: Value, sign: 1 | -1, expiring?: boolean): void;
  result(): Value;
  toJson(): unknown;
}

/** The result type of `name` over `arg` (Flink's rules, with integer sums widened to BIGINT). */
export function aggregateType(name: AggregateName, arg: DataType, hasArgument: boolean): DataType | string {
  if (name === 'COUNT' || name === '$SUM0') return { kind: 'int64' };
  const family = familyOf(arg);
  if (name === 'MIN' || name === 'MAX') return arg;
  if (!hasArgument) return `${name}(*) is not an aggregate; write ${name}(column)`;
  switch (family) {
    case 'integer':
      return { kind: 'int64' };
    case 'decimal': {
      const scale = arg.kind === 'decimal' ? arg.scale : 0;
      return { kind: 'decimal', precision: 38, scale: name === 'AVG' ? Math.max(scale, 6) : scale };
    }
    case 'approx':
      return { kind: 'double' };
    default:
      return `${name} needs a number, not ${arg.kind}`;
  }
}

export function createAccumulator(spec: AggregateSpec, saved?: unknown): Accumulator {
  if (spec.name === 'COUNT') {
    if (spec.distinct) return new DistinctCount(saved);
    return new Count(spec.hasArgument, saved);
  }
  if (spec.name === '$SUM0') return new SumOfCounts(saved);
  // MIN(DISTINCT x) is MIN(x).
  if (spec.name === 'MIN' || spec.name === 'MAX') return new MinMax(spec.name, comparatorFor(spec.argType), saved);
  if (spec.distinct) return new DistinctSum(spec.name === 'AVG', spec.argType, spec.type, saved);
  return new Sum(spec.name === 'AVG', spec.argType, spec.type, saved);
}

class Count implements Accumulator {
  private n: number;

  constructor(
    private readonly hasArgument: boolean,
    saved?: unknown,
  ) {
    this.n = typeof saved === 'number' ? saved : 0;
  }

  add(value: Value, sign: 1 | -1): void {
    if (this.hasArgument && value === null) return;
    this.n += sign;
  }

  result(): Value {
    return BigInt(this.n);
  }

  toJson(): unknown {
    return this.n;
  }
}

/** `$SUM0`: the sum of partial counts (BIGINT values that are never NULL). */
class SumOfCounts implements Accumulator {
  private n: number;

  constructor(saved?: unknown) {
    this.n = typeof saved === 'number' ? saved : 0;
  }

  add(value: Value, sign: 1 | -1): void {
    if (value === null) return;
    this.n += sign * Number(value);
  }

  result(): Value {
    return BigInt(this.n);
  }

  toJson(): unknown {
    return this.n;
  }
}

/** A multiset of values: encoded value → [value, rows holding it]. */
class ValueCounts {
  readonly values = new Map<string, [Value, number]>();

  constructor(saved?: unknown) {
    if (Array.isArray(saved)) {
      for (const [json, n] of saved as [JsonValue, number][]) {
        const value = valueFromJson(json);
        this.values.set(encodeValue(value), [value, n]);
      }
    }
  }

  add(value: Value, sign: 1 | -1, expiring = false): void {
    if (value === null) return;
    const key = encodeValue(value);
    const entry = this.values.get(key);
    if (entry === undefined) {
      if (sign < 0 && expiring) return;
      if (sign < 0) throw new Error(`an aggregate was asked to take back ${key}, which it never counted`);
      this.values.set(key, [value, 1]);
    } else if (entry[1] + sign === 0) {
      this.values.delete(key);
    } else {
      entry[1] += sign;
    }
  }

  toJson(): unknown {
    return [...this.values.values()].map(([value, n]) => [valueToJson(value), n]);
  }
}

class DistinctCount extends ValueCounts implements Accumulator {
  result(): Value {
    return BigInt(this.values.size);
  }
}

/** SUM(DISTINCT x), AVG(DISTINCT x): the multiset of values, summed once each when the result is asked for. */
class DistinctSum extends ValueCounts implements Accumulator {
  constructor(
    private readonly average: boolean,
    private readonly argType: DataType,
    private readonly type: DataType,
    saved?: unknown,
  ) {
    super(saved);
  }

  result(): Value {
    const sum = new Sum(this.average, this.argType, this.type);
    for (const [value] of this.values.values()) sum.add(value, 1);
    return sum.result();
  }
}

class MinMax extends ValueCounts implements Accumulator {
  constructor(
    private readonly name: 'MIN' | 'MAX',
    private readonly compare: Comparator,
    saved?: unknown,
  ) {
    super(saved);
  }

  result(): Value {
    let best: Value = null;
    for (const [value] of this.values.values()) {
      if (best === null) best = value;
      else {
        const c = this.compare(value, best);
        if (this.name === 'MIN' ? c < 0 : c > 0) best = value;
      }
    }
    return best;
  }
}

/** SUM and AVG: the non-NULL count and the exact sum. */
class Sum implements Accumulator {
  private n = 0;
  private total: bigint | number;
  private readonly family: 'integer' | 'decimal' | 'approx';
  private readonly scale: number;

  constructor(
    private readonly average: boolean,
    arg: DataType,
    private readonly type: DataType,
    saved?: unknown,
  ) {
    const family = familyOf(arg);
    this.family = family === 'decimal' ? 'decimal' : family === 'approx' ? 'approx' : 'integer';
    this.scale = arg.kind === 'decimal' ? arg.scale : 0;
    this.total = this.family === 'approx' ? 0 : 0n;
    if (Array.isArray(saved)) {
      const [n, total] = saved as [number, string | number];
      this.n = n;
      this.total = this.family === 'approx' ? Number(total) : BigInt(total);
    }
  }

  add(value: Value, sign: 1 | -1): void {
    if (value === null) return;
    this.n += sign;
    if (this.family === 'approx') {
      this.total = (this.total as number) + sign * Number(value);
    } else if (this.family === 'integer') {
      const v = typeof value === 'bigint' ? value : BigInt(value as number);
      this.total = (this.total as bigint) + (sign > 0 ? v : -v);
    } else {
      const v = rescale(parseDecimal(String(value))!, this.scale).unscaled;
      this.total = (this.total as bigint) + (sign > 0 ? v : -v);
    }
  }

  result(): Value {
    if (this.n === 0) return null;
    if (this.family === 'approx') return this.average ? (this.total as number) / this.n : this.total;
    const total = this.total as bigint;
    if (this.family === 'integer') return this.average ? total / BigInt(this.n) : total;
    const sum = { unscaled: total, scale: this.scale };
    const scale = this.type.kind === 'decimal' ? this.type.scale : this.scale;
    if (!this.average) return formatDecimal(rescale(sum, scale));
    return formatDecimal(divideDecimal(sum, { unscaled: BigInt(this.n), scale: 0 }, scale)!);
  }

  toJson(): unknown {
    // A DOUBLE total that overflowed (or became NaN) as text: JSON would make it null, read back as 0.
    const total = this.total;
    return [this.n, typeof total === 'bigint' || !Number.isFinite(total) ? total.toString() : total];
  }
}
