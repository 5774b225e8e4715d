import { isAbsolute, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { formatDataType, type DataType, type Value } from '../../core/data-type.js';
import { TributaryError } from '../../core/errors.js';
import { castConverter } from './cast.js';
import { EvalProblem, type Compiled } from './eval-context.js';
import { familyOf, parseSqlType } from './sql-type.js';

/**
 * A user-defined function: Flink CDC's `pipeline.user-defined-function` entry, with a JavaScript module in
 * place of a Java class. `evaluate` is the module's `eval` export; it gets the argument values in their
 * canonical representation (data-type.ts: BIGINT as bigint, DECIMAL as text, NULL as null) and its result
 * is converted to `returnType` (STRING when the module declares none).
 */
export interface UserFunction {
  readonly name: string;
  readonly classpath: string;
  readonly returnType: DataType;
  readonly evaluate: (...args: Value[]) => unknown;
}

/** One `user-defined-function` entry as written. */
export interface UserFunctionDef {
  readonly name: string;
  readonly classpath: string;
}

/**
 * Imports each module (a path relative to `baseDir`, an absolute path, or a package name), checks that it
 * exports `eval` and, if it declares one, a valid `returnType`, and calls its optional `open()`. Throws
 * TributaryError UDF_LOAD_FAILED naming the function and the fix.
 */
export async function loadUserFunctions(
  defs: readonly UserFunctionDef[],
  baseDir: string,
  builtins: ReadonlySet<string>,
): Promise<Map<string, UserFunction>> {
  const functions = new Map<string, UserFunction>();
  for (const def of defs) {
    const name = def.name.toUpperCase();
    const fail = (reason: string, hint: string, cause?: unknown): never => {
      throw new TributaryError('UDF_LOAD_FAILED', `user-defined function ${def.name} (${def.classpath}): ${reason}`, {
        hint,
        ...(cause === undefined ? {} : { cause }),
      });
    };
    if (builtins.has(name)) fail(`${name} is a built-in function`, 'give the function another name');
    if (functions.has(name)) fail('the name is declared twice', 'remove one of the two entries');
    const specifier =
      def.classpath.startsWith('.') || isAbsolute(def.classpath)
        ? pathToFileURL(resolve(baseDir, def.classpath)).href
        : def.classpath;
    let module: Record<string, unknown>;
    try {
      module = (await import(specifier)) as Record<string, unknown>;
    } catch (error) {
      return fail(
        `the module cannot be loaded (${(error as Error).message.split('\n')[0]})`,
        'classpath is a path to an ES module (.mjs or .js), relative to the pipeline file, or a package name',
        error,
      );
    }
    const holder =
      (typeof module.eval === 'function' ? module : (module.default as Record<string, unknown> | undefined)) ?? {};
    const evaluate = holder.eval;
    if (typeof evaluate !== 'function') {
      fail(
        'the module exports no eval function',
        'export it: `function evaluate(x) { … }; export { evaluate as eval };`',
      );
    }
    const declared = holder.returnType ?? module.returnType;
    let returnType: DataType = { kind: 'string' };
    if (declared !== undefined) {
      const parsed = typeof declared === 'string' ? parseSqlType(declared) : `returnType must be a type name`;
      if (typeof parsed === 'string')
        fail(parsed, "export returnType as a SQL type name, e.g. `export const returnType = 'BIGINT'`");
      returnType = parsed as DataType;
    }
    const open = holder.open;
    if (typeof open === 'function') {
      try {
        await (open as () => unknown).call(holder);
      } catch (error) {
        fail(`open() failed (${(error as Error).message})`, 'fix the function module', error);
      }
    }
    const fn = evaluate as (...args: Value[]) => unknown;
    functions.set(name, {
      name: def.name,
      classpath: def.classpath,
      returnType,
      evaluate: (...args) => fn.apply(holder, args),
    });
  }
  return functions;
}

/** Closes the functions that have a `close()` (called once the pipeline stops). */
export function userFunctionsDescription(functions: ReadonlyMap<string, UserFunction>): string {
  return [...functions.values()].map((f) => `${f.name}(…) → ${formatDataType(f.returnType)}`).join(', ');
}

/** A call of `fn`: arguments evaluated (NULLs passed as null), the result converted to the declared type. */
export function userFunctionCall(fn: UserFunction, args: readonly Compiled[]): Compiled {
  const evals = args.map((a) => a.evaluate);
  const convert = fromJs(fn.returnType);
  return {
    type: fn.returnType,
    nullable: true,
    evaluate: (ctx) => {
      const values = evals.map((e) => e(ctx));
      let result: unknown;
      try {
        result = fn.evaluate(...values);
      } catch (error) {
        throw new EvalProblem(`the function ${fn.name} threw: ${(error as Error).message}`, `fix ${fn.classpath}`);
      }
      if (result instanceof Promise) {
        throw new EvalProblem(`the function ${fn.name} returned a Promise`, 'eval must return its value synchronously');
      }
      return result === null || result === undefined ? null : convert(result);
    },
  };
}

/** A JavaScript value returned by a function → the canonical value of `type`, via CAST from its own type. */
function fromJs(type: DataType): (v: unknown) => Value {
  const family = familyOf(type);
  const viaString = castConverter({ kind: 'string' }, type, 'UTC');
  return (v) => {
    if (family === 'string') return typeof v === 'string' ? v : String(v);
    if (typeof v === 'boolean' && family === 'boolean') return v;
    if (typeof v === 'number' || typeof v === 'bigint') {
      if (family === 'approx') return Number(v);
      if (family === 'integer' && typeof v === 'number' && !Number.isInteger(v)) {
        throw new EvalProblem(`returned ${v}, not an integer`, `return an integer, or declare returnType 'DOUBLE'`);
      }
    }
    if (v instanceof Uint8Array && family === 'binary') return v;
    if (v instanceof Date) return convertText(viaString, v.toISOString().replace('T', ' '), type);
    return convertText(viaString, String(v), type);
  };
}

function convertText(converter: ReturnType<typeof castConverter>, text: string, type: DataType): Value {
  if (typeof converter === 'string')
    throw new EvalProblem(`cannot convert the result to ${formatDataType(type)}`, 'declare returnType STRING');
  return converter(text);
}
