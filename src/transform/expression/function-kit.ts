import { formatDataType, type DataType, type Value } from '../../core/data-type.js';
import { coerce } from './coercion.js';
import type { Compiled, EvalContext } from './eval-context.js';
import { familyOf, type TypeFamily } from './sql-type.js';

/** What a function's compiler gets besides its compiled arguments. */
export interface FunctionEnv {
  readonly name: string;
  readonly timeZone: string;
  /** The text of argument `index` when it is a bare word (`DAY` in TIMESTAMPADD(DAY, 1, t)). */
  word(index: number): string | undefined;
  /** Rejects the call: `reason` and `hint` go into the validate message, at argument `index` if given. */
  fail(reason: string, hint: string, index?: number): never;
}

export interface FunctionDef {
  readonly min: number;
  readonly max: number;
  /** Signature for messages and docs: `SUBSTR(string, start[, length])`. */
  readonly signature: string;
  readonly description: string;
  /** Arguments that are unit words (not columns). */
  readonly words?: readonly number[];
  readonly compile: (args: readonly Compiled[], env: FunctionEnv) => Compiled;
}

export const STRING: DataType = { kind: 'string' };
export const INT: DataType = { kind: 'int32' };
export const BIGINT: DataType = { kind: 'int64' };
export const BOOLEAN: DataType = { kind: 'boolean' };
export const DATE: DataType = { kind: 'date' };

/** A function NULL in, NULL out: evaluates its arguments and calls `f` when none is NULL. */
export function strict(
  type: DataType,
  args: readonly Compiled[],
  f: (...values: Value[]) => Value,
  nullable = false,
): Compiled {
  const anyNullable = nullable || args.some((a) => a.nullable);
  const constant = args.every((a) => a.constant === true);
  const evals = args.map((a) => a.evaluate);
  let evaluate: (ctx: EvalContext) => Value;
  if (evals.length === 1) {
    const [a] = evals as [(ctx: EvalContext) => Value];
    evaluate = (ctx) => {
      const x = a(ctx);
      return x === null ? null : f(x);
    };
  } else if (evals.length === 2) {
    const [a, b] = evals as [(ctx: EvalContext) => Value, (ctx: EvalContext) => Value];
    evaluate = (ctx) => {
      const x = a(ctx);
      if (x === null) return null;
      const y = b(ctx);
      return y === null ? null : f(x, y);
    };
  } else {
    evaluate = (ctx) => {
      const values = new Array<Value>(evals.length);
      for (let i = 0; i < evals.length; i++) {
        const v = evals[i]!(ctx);
        if (v === null) return null;
        values[i] = v;
      }
      return f(...values);
    };
  }
  return { type, nullable: anyNullable, evaluate, ...(constant ? { constant: true } : {}) };
}

export function expect(
  env: FunctionEnv,
  args: readonly Compiled[],
  index: number,
  families: readonly TypeFamily[],
  what: string,
): Compiled {
  const arg = args[index]!;
  if (arg.nullLiteral === true) return arg;
  if (!families.includes(familyOf(arg.type))) {
    const cast = what === 'a string' ? ` — write CAST(… AS STRING)` : '';
    env.fail(
      `argument ${index + 1} of ${env.name} must be ${what}, not ${formatDataType(arg.type)}`,
      `pass ${what}${cast}`,
      index,
    );
  }
  return arg;
}

export const STRINGY: readonly TypeFamily[] = ['string'];
export const NUMERIC: readonly TypeFamily[] = ['integer', 'decimal', 'approx'];
export const INTEGER: readonly TypeFamily[] = ['integer'];
export const TIMESTAMPS: readonly TypeFamily[] = ['timestamp', 'timestamptz', 'date', 'string'];

/** A constant integer argument (ROUND's digits), read once at compile time. */
export function constantInt(env: FunctionEnv, args: readonly Compiled[], index: number): number {
  const arg = args[index];
  if (arg === undefined) return 0;
  const value = arg.constant === true ? arg.evaluate(DUMMY) : undefined;
  if (familyOf(arg.type) !== 'integer' || value === undefined || value === null) {
    env.fail(`argument ${index + 1} of ${env.name} must be a constant integer`, 'write a number such as 2', index);
  }
  return Number(value);
}

export const DUMMY: EvalContext = { row: [], op: 'read', image: 'after', tsMs: 0, nowMs: 0 };

export const codePoints = (s: string) => Array.from(s);

/** Any argument as text (for CONCAT and ||): strings pass, other types are cast as CAST(… AS STRING) would. */
export function asText(arg: Compiled, env: { timeZone: string }): Compiled {
  if (arg.nullLiteral === true || familyOf(arg.type) === 'string') return arg;
  return coerce(arg, STRING, env.timeZone);
}

/** A value computed per row without arguments (the clock, UUID()). */
export function now(type: DataType, f: (ctx: EvalContext) => Value): Compiled {
  return { type, nullable: false, evaluate: f };
}
