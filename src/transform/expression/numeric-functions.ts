import { randomUUID } from 'node:crypto';
import { formatDataType, type DataType, type Value } from '../../core/data-type.js';
import { negate } from './arithmetic.js';
import { formatDecimal, parseDecimal, rescale, rescaleDirected, type Decimal } from './decimal.js';
import { EvalProblem, type Compiled } from './eval-context.js';
import { familyOf, integerRange, isBigIntType } from './sql-type.js';
import { constantInt, expect, now, NUMERIC, strict, type FunctionDef, type FunctionEnv } from './function-kit.js';

function round(env: FunctionEnv, args: readonly Compiled[], direction: 'half' | 'floor' | 'ceil'): Compiled {
  const n = expect(env, args, 0, NUMERIC, 'a number');
  const digits = direction === 'half' ? constantInt(env, args, 1) : 0;
  switch (familyOf(n.type)) {
    case 'approx': {
      const factor = 10 ** digits;
      const f =
        direction === 'floor'
          ? Math.floor
          : direction === 'ceil'
            ? Math.ceil
            : (x: number) => (Math.sign(x) * Math.round(Math.abs(x) * factor)) / factor;
      return strict({ kind: 'double' }, [n], (v) => f(v as number));
    }
    case 'decimal': {
      const t = n.type as { precision: number; scale: number };
      const scale = Math.max(0, Math.min(t.scale, digits));
      const precision = Math.min(38, t.precision - t.scale + scale + 1);
      const type: DataType = { kind: 'decimal', precision, scale };
      return strict(type, [n], (v) => {
        const d = parseDecimal(String(v))!;
        const r: Decimal =
          direction === 'half'
            ? digits >= 0
              ? rescale(d, Math.min(digits, d.scale))
              : rescale(rescale(d, digits), 0)
            : rescaleDirected(d, 0, direction);
        return formatDecimal(rescale(r, scale));
      });
    }
    default: {
      if (direction !== 'half' || digits >= 0) return n;
      const unit = 10n ** BigInt(-digits);
      const big = isBigIntType(n.type);
      const [min, max] = integerRange(n.type);
      return strict(n.type, [n], (v) => {
        const x = BigInt(v as number | bigint);
        const half = unit / 2n;
        const r = ((x < 0n ? x - half : x + half) / unit) * unit;
        if (r < min || r > max)
          throw new EvalProblem(`ROUND overflows ${formatDataType(n.type)}`, 'CAST to BIGINT first');
        return big ? r : Number(r);
      });
    }
  }
}

/** Flink CDC's arithmetic functions. */
export const NUMERIC_FUNCTIONS: readonly (readonly [string, FunctionDef])[] = [
  // ---- arithmetic ----
  [
    'ABS',
    {
      min: 1,
      max: 1,
      signature: 'ABS(numeric)',
      description: 'Absolute value.',
      compile: (args, env) => {
        const n = expect(env, args, 0, NUMERIC, 'a number');
        const minus = negate(n.type);
        const lessThanZero =
          familyOf(n.type) === 'decimal' ? (v: Value) => String(v).startsWith('-') : (v: Value) => (v as number) < 0;
        return strict(n.type, [n], (v) => (lessThanZero(v) ? minus(v) : v));
      },
    },
  ],
  [
    'CEIL',
    {
      min: 1,
      max: 1,
      signature: 'CEIL(numeric)',
      description: 'Smallest integer not below.',
      compile: (a, env) => round(env, a, 'ceil'),
    },
  ],
  [
    'CEILING',
    {
      min: 1,
      max: 1,
      signature: 'CEILING(numeric)',
      description: 'Same as CEIL.',
      compile: (a, env) => round(env, a, 'ceil'),
    },
  ],
  [
    'FLOOR',
    {
      min: 1,
      max: 1,
      signature: 'FLOOR(numeric)',
      description: 'Largest integer not above.',
      compile: (a, env) => round(env, a, 'floor'),
    },
  ],
  [
    'ROUND',
    {
      min: 1,
      max: 2,
      signature: 'ROUND(numeric[, int])',
      description: 'Rounded to int decimal places (HALF_UP).',
      compile: (a, env) => round(env, a, 'half'),
    },
  ],
  [
    'UUID',
    {
      min: 0,
      max: 0,
      signature: 'UUID()',
      description: 'A random RFC 4122 version 4 UUID.',
      compile: () => now({ kind: 'varchar', length: 36 }, () => randomUUID()),
    },
  ],
];
