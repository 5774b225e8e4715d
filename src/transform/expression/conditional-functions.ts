import type { DataType, Value } from '../../core/data-type.js';
import { castConverter } from './cast.js';
import { coerce, commonType } from './coercion.js';
import type { Compiled } from './eval-context.js';
import { expect, STRING, type FunctionDef, type FunctionEnv } from './function-kit.js';

function conditionalResult(env: FunctionEnv, branches: readonly Compiled[]): { type: DataType; branches: Compiled[] } {
  const typed = branches.filter((b) => b.nullLiteral !== true).map((b) => b.type);
  const type = commonType(typed);
  if (typeof type === 'string') env.fail(`the branches of ${env.name} ${type}`, 'CAST them to one type');
  return { type, branches: branches.map((b) => coerce(b, type, env.timeZone)) };
}

/** Flink CDC's conditional functions. */
export const CONDITIONAL_FUNCTIONS: readonly (readonly [string, FunctionDef])[] = [
  // ---- conditional ----
  [
    'COALESCE',
    {
      min: 1,
      max: 255,
      signature: 'COALESCE(value1, value2, …)',
      description: 'The first argument that is not NULL.',
      compile: (args, env) => {
        const { type, branches } = conditionalResult(env, args);
        const evals = branches.map((b) => b.evaluate);
        return {
          type,
          nullable: branches.every((b) => b.nullable),
          evaluate: (ctx) => {
            for (const e of evals) {
              const v = e(ctx);
              if (v !== null) return v;
            }
            return null;
          },
        };
      },
    },
  ],
  [
    'IF',
    {
      min: 3,
      max: 3,
      signature: 'IF(condition, then, else)',
      description: 'then when condition is TRUE, else otherwise (also when it is NULL).',
      compile: (args, env) => {
        const cond = expect(env, args, 0, ['boolean'], 'a condition');
        const { type, branches } = conditionalResult(env, args.slice(1));
        const [a, b] = branches as [Compiled, Compiled];
        const [c, x, y] = [cond.evaluate, a.evaluate, b.evaluate];
        return { type, nullable: a.nullable || b.nullable, evaluate: (ctx) => (c(ctx) === true ? x(ctx) : y(ctx)) };
      },
    },
  ],
  [
    'NULLIF',
    {
      min: 2,
      max: 2,
      signature: 'NULLIF(value1, value2)',
      description: 'NULL when value1 = value2, else value1.',
      compile: (args, env) => {
        const { type, branches } = conditionalResult(env, args);
        const [a, b] = branches as [Compiled, Compiled];
        const x = a.evaluate;
        const y = b.evaluate;
        const cmp = castConverter(type, STRING, env.timeZone);
        const text = typeof cmp === 'string' ? (v: Value) => String(v) : cmp;
        return {
          type,
          nullable: true,
          evaluate: (ctx) => {
            const v = x(ctx);
            if (v === null) return null;
            const w = y(ctx);
            return w !== null && text(v) === text(w) ? null : v;
          },
        };
      },
    },
  ],
];
