import { formatDataType, type DataType, type Value } from '../../core/data-type.js';
import { TributaryError } from '../../core/errors.js';
import { arithmetic, negate } from './arithmetic.js';
import { BUILTIN_FUNCTIONS, asText, type FunctionEnv } from './builtin-functions.js';
import { castConverter } from './cast.js';
import { CoercionError, coerce, commonType, comparatorFor, comparisonType } from './coercion.js';
import { evalError, EvalProblem, type Compiled, type EvalContext } from './eval-context.js';
import { ExpressionError } from './expression-error.js';
import type { BinaryOperator, ColumnNode, ExpressionNode, LiteralNode } from './expression-node.js';
import { familyOf } from './sql-type.js';
import { parseSqlType } from './sql-type.js';
import { nearest } from './static-check.js';
import { userFunctionCall, type UserFunction } from './user-function.js';

/** A column the expression may name: its position in the row is its index in {@link ExpressionScope.columns}. */
export interface ScopeColumn {
  readonly name: string;
  readonly type: DataType;
  readonly nullable: boolean;
}

/**
 * What names mean inside an expression. The engine knows nothing of transforms or tables: the caller lists
 * the row's columns, and resolves other names (metadata such as `__table_name__`) with `metadata`.
 */
export interface ExpressionScope {
  readonly columns: readonly ScopeColumn[];
  /** A name that is not a column of the row (or that hides one, as metadata columns do); undefined if unknown. */
  readonly metadata?: (name: string, hasColumn: boolean) => Compiled | undefined;
  /** User-defined functions by upper-case name. */
  readonly functions?: ReadonlyMap<string, UserFunction>;
  /** IANA zone or `+08:00`: the session time zone of LOCALTIMESTAMP, DATE_FORMAT, CAST to/from TIMESTAMP_LTZ. */
  readonly timeZone: string;
  /**
   * Streaming SQL: resolves every column reference (qualified `c.id` too) to an index into `columns`, or says
   * why it cannot (unknown, ambiguous). When set, it replaces the lookup by name and `metadata` is not asked.
   */
  readonly resolveColumn?: (node: ColumnNode) => number | { readonly reason: string; readonly hint?: string };
}

/**
 * Compiles `node` (parsed from `text`) against `scope` into a closure tree: names are resolved, types
 * inferred and checked, and each operator is chosen for its operand types, once. Throws
 * {@link ExpressionError} (with the offset into `text`) for unknown names and ill-typed expressions. The
 * returned `evaluate` throws TributaryError TRANSFORM_EVAL_FAILED for a row it cannot compute (overflow,
 * division by zero, an impossible CAST).
 */
export function compileExpression(node: ExpressionNode, text: string, scope: ExpressionScope): Compiled {
  const compiled = new ExpressionCompiler(text, scope).compile(node);
  const inner = compiled.evaluate;
  return {
    ...compiled,
    evaluate: (ctx) => {
      try {
        return inner(ctx);
      } catch (error) {
        if (error instanceof EvalProblem) throw evalError(text.slice(node.start, node.end), error.message, error.hint);
        if (error instanceof TributaryError) throw error;
        throw evalError(text.slice(node.start, node.end), (error as Error).message, 'check the function and its input');
      }
    },
  };
}

/** A filter: like {@link compileExpression}, but the expression must be a condition (BOOLEAN). */
export function compileCondition(node: ExpressionNode, text: string, scope: ExpressionScope): Compiled {
  const compiled = compileExpression(node, text, scope);
  if (compiled.nullLiteral !== true && compiled.type.kind !== 'boolean') {
    throw new ExpressionError(
      text,
      node.start,
      `a filter must be a condition, but this is ${formatDataType(compiled.type)}`,
      'compare it with something, e.g. `x > 0` or `x IS NOT NULL`',
    );
  }
  return compiled;
}

const BOOLEAN: DataType = { kind: 'boolean' };
const CONSTANT_CONTEXT: EvalContext = { row: [], op: 'read', image: 'after', tsMs: 0, nowMs: 0 };
const STRING: DataType = { kind: 'string' };
const INT32_MAX = 2147483647n;
const INT64_MAX = 9223372036854775807n;

class ExpressionCompiler {
  constructor(
    private readonly text: string,
    private readonly scope: ExpressionScope,
  ) {}

  private fail(node: { start: number }, reason: string, hint?: string): never {
    throw new ExpressionError(this.text, node.start, reason, hint);
  }

  private source(node: ExpressionNode): string {
    return this.text.slice(node.start, node.end);
  }

  private coerceAt(node: ExpressionNode, compiled: Compiled, type: DataType): Compiled {
    try {
      return coerce(compiled, type, this.scope.timeZone);
    } catch (error) {
      if (error instanceof EvalProblem) return this.fail(node, error.message, error.hint);
      if (!(error instanceof CoercionError)) throw error;
      return this.fail(node, error.message, `CAST \`${this.source(node)}\` to a type that fits`);
    }
  }

  /** Compiles `node`; a subtree that is the same for every row is computed here, once. */
  compile(node: ExpressionNode): Compiled {
    const compiled = this.compileNode(node);
    if (compiled.constant !== true || compiled.nullLiteral === true) return compiled;
    let value: Value;
    try {
      value = compiled.evaluate(CONSTANT_CONTEXT);
    } catch (error) {
      if (!(error instanceof EvalProblem)) throw error;
      return this.fail(node, error.message, error.hint);
    }
    return { ...compiled, evaluate: () => value };
  }

  private compileNode(node: ExpressionNode): Compiled {
    switch (node.kind) {
      case 'literal':
        return this.literal(node, false);
      case 'column':
        return this.column(node);
      case 'star':
        return this.fail(node, '* stands for all columns only as a projection item', 'name the columns');
      case 'unary':
        return this.unary(node);
      case 'binary':
        return this.binary(node);
      case 'isNull': {
        const e = this.compile(node.operand).evaluate;
        const negated = node.negated;
        return { type: BOOLEAN, nullable: false, evaluate: (ctx) => (e(ctx) === null) !== negated };
      }
      case 'isTruth': {
        const operand = this.condition(node.operand, 'IS TRUE / IS FALSE');
        const e = operand.evaluate;
        const { value, negated } = node;
        return { type: BOOLEAN, nullable: false, evaluate: (ctx) => (e(ctx) === value) !== negated };
      }
      case 'between':
        return this.between(node);
      case 'in':
        return this.inList(node);
      case 'exists':
        return this.fail(
          node,
          'EXISTS (SELECT …) is built only as a condition of WHERE, joined to the others with AND (or NOT EXISTS)',
          'move it out of OR or the select list',
        );
      case 'scalarQuery':
        return this.fail(
          node,
          'a scalar subquery (SELECT …) is built in WHERE, HAVING and the select list',
          'compute it in a subquery in FROM and join it',
        );
      case 'interval':
        return this.fail(
          node,
          'an INTERVAL is read only by a group window (GROUP BY TUMBLE(ts, INTERVAL …)) and its TUMBLE_START/END',
          'add or subtract time with TIMESTAMPADD(MINUTE, 10, ts)',
        );
      case 'inQuery':
        return this.fail(
          node,
          `${node.negated ? 'NOT IN' : 'IN'} (SELECT …) is built only as a condition of WHERE, joined to the others with AND`,
          'move it out of OR, NOT or the select list',
        );
      case 'cast':
        return this.cast(node);
      case 'case':
        return this.caseExpression(node);
      case 'call':
        return this.call(node);
    }
  }

  private literal(node: LiteralNode, negative: boolean): Compiled {
    const constant = (type: DataType, value: Value): Compiled => ({
      type,
      nullable: value === null,
      constant: true,
      evaluate: () => value,
    });
    switch (node.type) {
      case 'null':
        return { type: STRING, nullable: true, nullLiteral: true, constant: true, evaluate: () => null };
      case 'boolean':
        return constant(BOOLEAN, node.value);
      case 'string':
        return constant(STRING, node.value);
      case 'number': {
        const text = node.text;
        const sign = negative ? '-' : '';
        if (/[eE]/.test(text)) return constant({ kind: 'double' }, Number(sign + text));
        const [whole = '', fraction = ''] = text.split('.');
        const digits = whole.replace(/^0+(?=\d)/, '') || '0';
        if (fraction === '') {
          const big = BigInt(sign + digits);
          const magnitude = big < 0n ? -big : big;
          if (magnitude <= INT32_MAX || big === -INT32_MAX - 1n) return constant({ kind: 'int32' }, Number(big));
          if (magnitude <= INT64_MAX || big === -INT64_MAX - 1n) return constant({ kind: 'int64' }, big);
          if (digits.length > 38) return this.fail(node, 'this number has more than 38 digits');
          return constant({ kind: 'decimal', precision: digits.length, scale: 0 }, sign + digits);
        }
        const precision = Math.max((digits === '0' ? 0 : digits.length) + fraction.length, 1);
        if (precision > 38) return this.fail(node, 'this number has more than 38 digits');
        return constant({ kind: 'decimal', precision, scale: fraction.length }, `${sign}${digits}.${fraction}`);
      }
    }
  }

  private column(node: ColumnNode): Compiled {
    if (this.scope.resolveColumn !== undefined) {
      const resolved = this.scope.resolveColumn(node);
      if (typeof resolved !== 'number') return this.fail(node, resolved.reason, resolved.hint);
      const column = this.scope.columns[resolved]!;
      return { type: column.type, nullable: column.nullable, evaluate: (ctx) => ctx.row[resolved] ?? null };
    }
    if (node.qualifier !== undefined) {
      return this.fail(
        node,
        `qualified column names are not supported (\`${this.source(node)}\`)`,
        `write \`${node.name}\``,
      );
    }
    const columns = this.scope.columns;
    let index = columns.findIndex((c) => c.name === node.name);
    if (index < 0) {
      const lower = node.name.toLowerCase();
      index = columns.findIndex((c) => c.name.toLowerCase() === lower);
    }
    const metadata = this.scope.metadata?.(node.name, index >= 0);
    if (metadata !== undefined) return metadata;
    const column = columns[index];
    if (column === undefined) {
      const near = nearest(
        node.name,
        columns.map((c) => c.name),
      );
      return this.fail(
        node,
        `unknown column "${node.name}"`,
        near !== undefined
          ? `did you mean "${near}"?`
          : `the columns are ${columns.map((c) => c.name).join(', ') || '(none)'}; metadata: __namespace_name__, __schema_name__, __table_name__, __data_event_type__, op_ts`,
      );
    }
    const at = index;
    return { type: column.type, nullable: column.nullable, evaluate: (ctx) => ctx.row[at] ?? null };
  }

  private condition(node: ExpressionNode, what: string): Compiled {
    const c = this.compile(node);
    if (c.nullLiteral !== true && c.type.kind !== 'boolean') {
      this.fail(
        node,
        `${what} needs a condition, but \`${this.source(node)}\` is ${formatDataType(c.type)}`,
        'compare it, e.g. `x > 0`',
      );
    }
    return c;
  }

  private unary(node: Extract<ExpressionNode, { kind: 'unary' }>): Compiled {
    if (node.op === 'NOT') {
      const e = this.condition(node.operand, 'NOT').evaluate;
      return {
        type: BOOLEAN,
        nullable: true,
        evaluate: (ctx) => {
          const v = e(ctx);
          return v === null ? null : !v;
        },
      };
    }
    if (node.operand.kind === 'literal' && node.operand.type === 'number') {
      const lit = this.literal(node.operand, node.op === '-');
      return { ...lit };
    }
    const operand = this.compile(node.operand);
    if (!['integer', 'decimal', 'approx'].includes(familyOf(operand.type)) && operand.nullLiteral !== true) {
      return this.fail(node, `${node.op} needs a number, not ${formatDataType(operand.type)}`, 'CAST it to a number');
    }
    if (node.op === '+') return operand;
    const f = negate(operand.type);
    const e = operand.evaluate;
    return {
      ...operand,
      evaluate: (ctx) => {
        const v = e(ctx);
        return v === null ? null : f(v);
      },
    };
  }

  private binary(node: Extract<ExpressionNode, { kind: 'binary' }>): Compiled {
    const op = node.op;
    if (op === 'AND' || op === 'OR') {
      const a = this.condition(node.left, op).evaluate;
      const b = this.condition(node.right, op).evaluate;
      // Three-valued: FALSE AND NULL is FALSE, TRUE OR NULL is TRUE, otherwise NULL wins over the other.
      const evaluate =
        op === 'AND'
          ? (ctx: EvalContext): Value => {
              const x = a(ctx);
              if (x === false) return false;
              const y = b(ctx);
              if (y === false) return false;
              return x === null || y === null ? null : true;
            }
          : (ctx: EvalContext): Value => {
              const x = a(ctx);
              if (x === true) return true;
              const y = b(ctx);
              if (y === true) return true;
              return x === null || y === null ? null : false;
            };
      return { type: BOOLEAN, nullable: true, evaluate };
    }
    const left = this.compile(node.left);
    const right = this.compile(node.right);
    if (op === '||') {
      return this.strict2(STRING, asText(left, this.scope), asText(right, this.scope), (x, y) => String(x) + String(y));
    }
    if (op === '+' || op === '-' || op === '*' || op === '/' || op === '%') {
      const plan = arithmetic(
        op,
        left.nullLiteral ? right.type : left.type,
        right.nullLiteral ? left.type : right.type,
      );
      if (typeof plan === 'string') {
        return this.fail(
          node,
          `${plan} (\`${this.source(node)}\`)`,
          'CAST the operands to numbers, or use || to join strings',
        );
      }
      return this.strict2(plan.type, left, right, plan.apply);
    }
    if (op === 'LIKE' || op === 'NOT LIKE') {
      for (const [side, c] of [
        [node.left, left],
        [node.right, right],
      ] as const) {
        if (c.nullLiteral !== true && familyOf(c.type) !== 'string') {
          this.fail(
            side,
            `LIKE compares strings, not ${formatDataType(c.type)}`,
            `write CAST(${this.source(side)} AS STRING)`,
          );
        }
      }
      const negated = op === 'NOT LIKE';
      const cache = new Map<string, RegExp>();
      return this.strict2(BOOLEAN, left, right, (x, y) => {
        const pattern = String(y);
        let re = cache.get(pattern);
        if (re === undefined) {
          re = likeRegex(pattern);
          if (cache.size < 100) cache.set(pattern, re);
        }
        return re.test(String(x)) !== negated;
      });
    }
    return this.comparison(node, op, left, right);
  }

  private comparePair(
    node: ExpressionNode,
    left: Compiled,
    right: Compiled,
  ): [Compiled, Compiled, (a: Value, b: Value) => number] {
    const lt = left.nullLiteral ? right.type : left.type;
    const rt = right.nullLiteral ? left.type : right.type;
    const type = comparisonType(lt, rt);
    if (typeof type === 'string') {
      return this.fail(
        node,
        `cannot compare ${formatDataType(lt)} with ${formatDataType(rt)} (\`${this.source(node)}\`)`,
        'CAST one side to the type of the other',
      );
    }
    return [this.coerceAt(node, left, type), this.coerceAt(node, right, type), comparatorFor(type)];
  }

  private comparison(node: ExpressionNode, op: BinaryOperator, l: Compiled, r: Compiled): Compiled {
    const [left, right, compare] = this.comparePair(node, l, r);
    const test: (c: number) => boolean =
      op === '='
        ? (c) => c === 0
        : op === '<>'
          ? (c) => c !== 0
          : op === '<'
            ? (c) => c < 0
            : op === '<='
              ? (c) => c <= 0
              : op === '>'
                ? (c) => c > 0
                : (c) => c >= 0;
    return this.strict2(BOOLEAN, left, right, (a, b) => test(compare(a, b)));
  }

  private strict2(type: DataType, left: Compiled, right: Compiled, f: (a: Value, b: Value) => Value): Compiled {
    const a = left.evaluate;
    const b = right.evaluate;
    const constant = left.constant === true && right.constant === true;
    return {
      type,
      nullable: left.nullable || right.nullable,
      ...(constant ? { constant } : {}),
      evaluate: (ctx) => {
        const x = a(ctx);
        if (x === null) return null;
        const y = b(ctx);
        return y === null ? null : f(x, y);
      },
    };
  }

  private between(node: Extract<ExpressionNode, { kind: 'between' }>): Compiled {
    const operand = this.compile(node.operand);
    const [a1, low, cmpLow] = this.comparePair(node, operand, this.compile(node.low));
    const [a2, high, cmpHigh] = this.comparePair(node, operand, this.compile(node.high));
    const [x1, x2, lo, hi] = [a1.evaluate, a2.evaluate, low.evaluate, high.evaluate];
    const negated = node.negated;
    return {
      type: BOOLEAN,
      nullable: true,
      evaluate: (ctx) => {
        const v1 = x1(ctx);
        const l = lo(ctx);
        const h = hi(ctx);
        const geLow = v1 === null || l === null ? null : cmpLow(v1, l) >= 0;
        const v2 = x2(ctx);
        const leHigh = v2 === null || h === null ? null : cmpHigh(v2, h) <= 0;
        const inside = geLow === false || leHigh === false ? false : geLow === null || leHigh === null ? null : true;
        return inside === null ? null : inside !== negated;
      },
    };
  }

  private inList(node: Extract<ExpressionNode, { kind: 'in' }>): Compiled {
    const operand = this.compile(node.operand);
    const items = node.list.map((item) => this.compile(item));
    const types = [operand, ...items].filter((c) => c.nullLiteral !== true).map((c) => c.type);
    let type: DataType | string = types[0] ?? STRING;
    for (const t of types.slice(1)) if (typeof type !== 'string') type = comparisonType(type, t);
    if (typeof type === 'string') {
      return this.fail(
        node,
        `the values of IN have no common type (${type})`,
        'CAST them to the type of the tested value',
      );
    }
    const t = type;
    const x = this.coerceAt(node.operand, operand, t).evaluate;
    const list = items.map((item, i) => this.coerceAt(node.list[i]!, item, t).evaluate);
    const compare = comparatorFor(t);
    const negated = node.negated;
    return {
      type: BOOLEAN,
      nullable: true,
      evaluate: (ctx) => {
        const v = x(ctx);
        if (v === null) return null;
        let sawNull = false;
        for (const e of list) {
          const w = e(ctx);
          if (w === null) sawNull = true;
          else if (compare(v, w) === 0) return !negated;
        }
        return sawNull ? null : negated;
      },
    };
  }

  private cast(node: Extract<ExpressionNode, { kind: 'cast' }>): Compiled {
    const operand = this.compile(node.operand);
    const target = parseSqlType(node.type);
    if (typeof target === 'string') {
      return this.fail(
        node,
        target,
        'write BOOLEAN, TINYINT, SMALLINT, INT, BIGINT, FLOAT, DOUBLE, DECIMAL(p, s), CHAR(n), VARCHAR(n), STRING, BYTES, DATE, TIME(p), TIMESTAMP(p) or TIMESTAMP_LTZ(p)',
      );
    }
    if (operand.nullLiteral === true) return { ...operand, type: target, nullLiteral: false };
    const converter = castConverter(operand.type, target, this.scope.timeZone);
    if (typeof converter === 'string')
      return this.fail(node, converter, 'cast through STRING, or use a function (DATE_FORMAT, TO_TIMESTAMP, …)');
    const e = operand.evaluate;
    return {
      type: target,
      nullable: operand.nullable,
      ...(operand.constant ? { constant: true } : {}),
      evaluate: (ctx) => {
        const v = e(ctx);
        return v === null ? null : converter(v);
      },
    };
  }

  private caseExpression(node: Extract<ExpressionNode, { kind: 'case' }>): Compiled {
    const thens = node.whens.map((w) => this.compile(w.then));
    const otherwise = node.else === undefined ? undefined : this.compile(node.else);
    const branches = otherwise === undefined ? thens : [...thens, otherwise];
    const typed = branches.filter((b) => b.nullLiteral !== true).map((b) => b.type);
    const type = typed.length === 0 ? STRING : commonType(typed);
    if (typeof type === 'string') return this.fail(node, `the branches of CASE ${type}`, 'CAST them to one type');
    const results = branches.map(
      (b, i) => this.coerceAt(i < thens.length ? node.whens[i]!.then : node.else!, b, type).evaluate,
    );
    const elseResult = otherwise === undefined ? undefined : results[results.length - 1];
    const nullable = otherwise === undefined || branches.some((b) => b.nullable);
    let conditions: ((ctx: EvalContext) => boolean)[];
    if (node.operand === undefined) {
      conditions = node.whens.map((w) => {
        const c = this.condition(w.when, 'CASE WHEN').evaluate;
        return (ctx: EvalContext) => c(ctx) === true;
      });
    } else {
      const subject = this.compile(node.operand);
      conditions = node.whens.map((w) => {
        const [s, v, compare] = this.comparePair(w.when, subject, this.compile(w.when));
        const [a, b] = [s.evaluate, v.evaluate];
        return (ctx: EvalContext) => {
          const x = a(ctx);
          const y = x === null ? null : b(ctx);
          return x !== null && y !== null && compare(x, y) === 0;
        };
      });
    }
    const count = conditions.length;
    return {
      type,
      nullable,
      evaluate: (ctx) => {
        for (let i = 0; i < count; i++) if (conditions[i]!(ctx)) return results[i]!(ctx);
        return elseResult === undefined ? null : elseResult(ctx);
      },
    };
  }

  private call(node: Extract<ExpressionNode, { kind: 'call' }>): Compiled {
    const name = node.name.toUpperCase();
    if (node.distinct === true) {
      return this.fail(node, `DISTINCT goes only into an aggregate (COUNT(DISTINCT x)), not into ${node.name}(…)`);
    }
    const builtin = BUILTIN_FUNCTIONS.get(name);
    const udf = this.scope.functions?.get(name);
    if (builtin === undefined && udf === undefined) {
      const known = [...BUILTIN_FUNCTIONS.keys(), ...(this.scope.functions?.keys() ?? [])];
      const near = nearest(name, known);
      return this.fail(
        node,
        `unknown function ${node.name}`,
        near !== undefined
          ? `did you mean ${near}?`
          : 'see the functions in docs/pipeline-file.md#functions, or declare it under pipeline.user-defined-function',
      );
    }
    if (udf !== undefined) {
      const args = node.args.map((a) => this.compile(a));
      return userFunctionCall(udf, args);
    }
    const def = builtin!;
    if (node.args.length < def.min || node.args.length > def.max) {
      const count =
        def.min === def.max ? `${def.min}` : def.max > 100 ? `at least ${def.min}` : `${def.min} to ${def.max}`;
      return this.fail(
        node,
        `${name} takes ${count} argument${def.max === 1 && def.min === 1 ? '' : 's'}, not ${node.args.length}`,
        `write ${def.signature}`,
      );
    }
    const words = def.words ?? [];
    const args = node.args.map((a, i) => (words.includes(i) ? placeholder() : this.compile(a)));
    const env: FunctionEnv = {
      name,
      timeZone: this.scope.timeZone,
      word: (i) => {
        const arg = node.args[i];
        return arg?.kind === 'column' ? arg.name : undefined;
      },
      fail: (reason, hint, index) => this.fail(index === undefined ? node : (node.args[index] ?? node), reason, hint),
    };
    return def.compile(args, env);
  }
}

function placeholder(): Compiled {
  return { type: STRING, nullable: false, constant: true, evaluate: () => null };
}

/** SQL LIKE: `%` any run, `_` one character, `\` escapes the next. */
export function likeRegex(pattern: string): RegExp {
  let source = '';
  for (let i = 0; i < pattern.length; i++) {
    const c = pattern.charAt(i);
    if (c === '\\' && i + 1 < pattern.length) source += escapeRegex(pattern.charAt(++i));
    else if (c === '%') source += '[\\s\\S]*';
    else if (c === '_') source += '[\\s\\S]';
    else source += escapeRegex(c);
  }
  return new RegExp(`^${source}$`, 'u');
}

function escapeRegex(c: string): string {
  return /[.*+?^${}()|[\]\\/]/.test(c) ? `\\${c}` : c;
}
