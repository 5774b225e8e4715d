import { formatDataType, type DataType, type Value } from '../../core/data-type.js';
import { asDecimal } from './coercion.js';
import {
  addDecimal,
  divideDecimal,
  fitsPrecision,
  formatDecimal,
  formatSmallDecimal,
  numberPow10,
  smallDecimal,
  multiplyDecimal,
  parseDecimal,
  remainderDecimal,
  rescale,
  subtractDecimal,
  type Decimal,
} from './decimal.js';
import { EvalProblem } from './eval-context.js';
import { familyOf, integerRange, isBigIntType, widerInteger } from './sql-type.js';

export type ArithmeticOperator = '+' | '-' | '*' | '/' | '%';

export interface ArithmeticPlan {
  readonly type: DataType;
  /** Both operands non-NULL. Throws {@link EvalProblem} on overflow or division by zero. */
  readonly apply: (a: Value, b: Value) => Value;
}

const MAX_PRECISION = 38;

/**
 * The result type and the operation of `left op right`, following Flink SQL (Calcite) typing: integers stay
 * integers of the wider operand (`/` truncates toward zero), a decimal operand makes the result decimal
 * with Calcite's precision and scale, a FLOAT/DOUBLE operand makes it DOUBLE. Integer and decimal results
 * are exact: an overflow is an error, never a wrapped or rounded value.
 */
export function arithmetic(op: ArithmeticOperator, left: DataType, right: DataType): ArithmeticPlan | string {
  const fl = familyOf(left);
  const fr = familyOf(right);
  const numeric = (f: string) => f === 'integer' || f === 'decimal' || f === 'approx';
  if (!numeric(fl) || !numeric(fr)) {
    return `${op} needs numbers, not ${formatDataType(left)} and ${formatDataType(right)}`;
  }
  if (fl === 'approx' || fr === 'approx') {
    return { type: { kind: 'double' }, apply: doubleOp(op) };
  }
  if (fl === 'integer' && fr === 'integer') {
    const type = widerInteger(left, right);
    if (type.kind !== 'decimal') return { type, apply: integerOp(op, type) };
  }
  const a = asDecimal(left);
  const b = asDecimal(right);
  let precision: number;
  let scale: number;
  switch (op) {
    case '+':
    case '-':
      scale = Math.max(a.scale, b.scale);
      precision = Math.max(a.precision - a.scale, b.precision - b.scale) + scale + 1;
      break;
    case '*':
      scale = a.scale + b.scale;
      precision = a.precision + b.precision;
      break;
    case '/': {
      const whole = a.precision - a.scale + b.scale;
      scale = Math.max(6, a.scale + b.precision + 1);
      precision = whole + scale;
      break;
    }
    case '%':
      scale = Math.max(a.scale, b.scale);
      precision = Math.min(a.precision - a.scale, b.precision - b.scale) + scale;
      break;
  }
  // Flink's (and SQL Server's) rule when the exact result needs more than 38 digits: keep the integer
  // digits, and at least 6 (or the scale, if smaller) after the point.
  if (precision > MAX_PRECISION) {
    const whole = precision - scale;
    scale = Math.max(MAX_PRECISION - whole, Math.min(scale, 6));
    precision = MAX_PRECISION;
  }
  const type: DataType = { kind: 'decimal', precision, scale };
  return { type, apply: decimalOp(op, precision, scale) };
}

function doubleOp(op: ArithmeticOperator): (a: Value, b: Value) => Value {
  switch (op) {
    case '+':
      return (a, b) => Number(a) + Number(b);
    case '-':
      return (a, b) => Number(a) - Number(b);
    case '*':
      return (a, b) => Number(a) * Number(b);
    case '/':
      return (a, b) => Number(a) / Number(b);
    case '%':
      return (a, b) => Number(a) % Number(b);
  }
}

const divisionByZero = () =>
  new EvalProblem('division by zero', 'guard the divisor: CASE WHEN d <> 0 THEN n / d END, or NULLIF(d, 0)');

function integerOp(op: ArithmeticOperator, type: DataType): (a: Value, b: Value) => Value {
  const [min, max] = integerRange(type);
  const big = isBigIntType(type);
  const wider = type.kind === 'int64' ? 'DECIMAL(20, 0)' : 'BIGINT';
  const check = (n: bigint): Value => {
    if (n < min || n > max) {
      throw new EvalProblem(`${formatDataType(type)} overflow (${n})`, `CAST an operand to ${wider} first`);
    }
    return big ? n : Number(n);
  };
  if (!big) {
    const lo = Number(min);
    const hi = Number(max);
    const fits = (n: number, exact: () => bigint): Value =>
      n >= lo && n <= hi && Number.isSafeInteger(n) ? n : check(exact());
    switch (op) {
      case '+':
        return (a, b) => fits((a as number) + (b as number), () => BigInt(a as number) + BigInt(b as number));
      case '-':
        return (a, b) => fits((a as number) - (b as number), () => BigInt(a as number) - BigInt(b as number));
      case '*':
        return (a, b) => fits((a as number) * (b as number), () => BigInt(a as number) * BigInt(b as number));
      case '/':
        return (a, b) => {
          if (b === 0) throw divisionByZero();
          return fits(Math.trunc((a as number) / (b as number)), () => BigInt(a as number) / BigInt(b as number));
        };
      case '%':
        return (a, b) => {
          if (b === 0) throw divisionByZero();
          return (a as number) % (b as number);
        };
    }
  }
  const n = (v: Value) => BigInt(v as number | bigint);
  switch (op) {
    case '+':
      return (a, b) => check(n(a) + n(b));
    case '-':
      return (a, b) => check(n(a) - n(b));
    case '*':
      return (a, b) => check(n(a) * n(b));
    case '/':
      return (a, b) => {
        if (n(b) === 0n) throw divisionByZero();
        return check(n(a) / n(b));
      };
    case '%':
      return (a, b) => {
        if (n(b) === 0n) throw divisionByZero();
        return check(n(a) % n(b));
      };
  }
}

function decimalOp(op: ArithmeticOperator, precision: number, scale: number): (a: Value, b: Value) => Value {
  const exact = exactDecimalOp(op, precision, scale);
  if (op === '/' || op === '%') return exact;
  // Typical amounts (at most 15 digits) are exact JavaScript integers: no BigInt unless the result is unsafe.
  const limit = numberPow10(Math.min(precision, 15));
  return (a, b) => {
    const x = typeof a === 'string' ? smallDecimal(a) : undefined;
    const y =
      typeof b === 'string'
        ? smallDecimal(b)
        : typeof b === 'number' && Number.isSafeInteger(b)
          ? { unscaled: b, scale: 0 }
          : undefined;
    if (x === undefined || y === undefined || x.scale > scale || y.scale > scale) return exact(a, b);
    let r: number;
    if (op === '*') {
      if (x.scale + y.scale !== scale) return exact(a, b);
      r = x.unscaled * y.unscaled;
    } else {
      const xs = x.unscaled * numberPow10(scale - x.scale);
      const ys = y.unscaled * numberPow10(scale - y.scale);
      r = op === '+' ? xs + ys : xs - ys;
    }
    if (!Number.isSafeInteger(r) || Math.abs(r) >= limit) return exact(a, b);
    return formatSmallDecimal(r, scale);
  };
}

function exactDecimalOp(op: ArithmeticOperator, precision: number, scale: number): (a: Value, b: Value) => Value {
  const read = (v: Value): Decimal => parseDecimal(String(v))!;
  const out = (d: Decimal | undefined): Value => {
    if (d === undefined) throw divisionByZero();
    const r = rescale(d, scale);
    if (!fitsPrecision(r, precision)) {
      throw new EvalProblem(
        `decimal(${precision},${scale}) overflow (${formatDecimal(d)})`,
        'CAST the operands to a DECIMAL with more integer digits',
      );
    }
    return formatDecimal(r);
  };
  switch (op) {
    case '+':
      return (a, b) => out(addDecimal(read(a), read(b)));
    case '-':
      return (a, b) => out(subtractDecimal(read(a), read(b)));
    case '*':
      return (a, b) => out(multiplyDecimal(read(a), read(b)));
    case '/':
      return (a, b) => out(divideDecimal(read(a), read(b), scale));
    case '%':
      return (a, b) => out(remainderDecimal(read(a), read(b)));
  }
}

/** Unary minus of a value of `type` (exact, overflow-checked). */
export function negate(type: DataType): (a: Value) => Value {
  switch (familyOf(type)) {
    case 'approx':
      return (a) => -(a as number);
    case 'decimal':
      return (a) => {
        const d = parseDecimal(a as string)!;
        return formatDecimal({ unscaled: -d.unscaled, scale: d.scale });
      };
    default: {
      const apply = integerOp('-', type);
      return (a) => apply(isBigIntType(type) ? 0n : 0, a);
    }
  }
}
