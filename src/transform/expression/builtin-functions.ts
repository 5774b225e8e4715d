import { randomUUID } from 'node:crypto';
import { formatDataType, type DataType, type Value } from '../../core/data-type.js';
import { negate } from './arithmetic.js';
import { coerce, commonType } from './coercion.js';
import { castConverter } from './cast.js';
import { formatDecimal, parseDecimal, rescale, rescaleDirected, type Decimal } from './decimal.js';
import { EvalProblem, type Compiled, type EvalContext } from './eval-context.js';
import { familyOf, integerRange, isBigIntType, type TypeFamily } from './sql-type.js';
import {
  civilFromDays,
  compilePattern,
  daysFromCivil,
  daysInMonth,
  floorDiv,
  formatDate,
  formatPattern,
  formatPatternText,
  formatTime,
  formatTimestamp,
  instantToLocal,
  localToInstant,
  MICROS_PER_DAY,
  parseDate,
  parsePattern,
  parseTimestamp,
} from './temporal.js';

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

const STRING: DataType = { kind: 'string' };
const INT: DataType = { kind: 'int32' };
const BIGINT: DataType = { kind: 'int64' };
const BOOLEAN: DataType = { kind: 'boolean' };
const DATE: DataType = { kind: 'date' };

/** A function NULL in, NULL out: evaluates its arguments and calls `f` when none is NULL. */
function strict(
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

function expect(
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

const STRINGY: readonly TypeFamily[] = ['string'];
const NUMERIC: readonly TypeFamily[] = ['integer', 'decimal', 'approx'];
const INTEGER: readonly TypeFamily[] = ['integer'];
const TIMESTAMPS: readonly TypeFamily[] = ['timestamp', 'timestamptz', 'date', 'string'];

/** A constant integer argument (ROUND's digits), read once at compile time. */
function constantInt(env: FunctionEnv, args: readonly Compiled[], index: number): number {
  const arg = args[index];
  if (arg === undefined) return 0;
  const value = arg.constant === true ? arg.evaluate(DUMMY) : undefined;
  if (familyOf(arg.type) !== 'integer' || value === undefined || value === null) {
    env.fail(`argument ${index + 1} of ${env.name} must be a constant integer`, 'write a number such as 2', index);
  }
  return Number(value);
}

const DUMMY: EvalContext = { row: [], op: 'read', image: 'after', tsMs: 0, nowMs: 0 };

const codePoints = (s: string) => Array.from(s);

/** Any argument as text (for CONCAT and ||): strings pass, other types are cast as CAST(… AS STRING) would. */
export function asText(arg: Compiled, env: { timeZone: string }): Compiled {
  if (arg.nullLiteral === true || familyOf(arg.type) === 'string') return arg;
  return coerce(arg, STRING, env.timeZone);
}

function sqlLikeRegex(source: string): string {
  return source;
}

const TIME_UNITS = [
  'MICROSECOND',
  'MILLISECOND',
  'SECOND',
  'MINUTE',
  'HOUR',
  'DAY',
  'WEEK',
  'MONTH',
  'QUARTER',
  'YEAR',
] as const;
type TimeUnit = (typeof TIME_UNITS)[number];
const UNIT_MICROS: Partial<Record<TimeUnit, bigint>> = {
  MICROSECOND: 1n,
  MILLISECOND: 1000n,
  SECOND: 1_000_000n,
  MINUTE: 60_000_000n,
  HOUR: 3_600_000_000n,
  DAY: MICROS_PER_DAY,
  WEEK: 7n * MICROS_PER_DAY,
};
const UNIT_MONTHS: Partial<Record<TimeUnit, number>> = { MONTH: 1, QUARTER: 3, YEAR: 12 };

function timeUnit(env: FunctionEnv, index: number): TimeUnit {
  const word = env
    .word(index)
    ?.toUpperCase()
    .replace(/^SQL_TSI_/, '');
  if (word === undefined || !(TIME_UNITS as readonly string[]).includes(word)) {
    env.fail(
      `argument ${index + 1} of ${env.name} must be a time unit`,
      `write one of ${TIME_UNITS.join(', ')}`,
      index,
    );
  }
  return word as TimeUnit;
}

/** Reads a timestamp-like argument as microseconds of a wall clock (timestamptz: in the session zone). */
function wallClockReader(arg: Compiled, timeZone: string): (v: Value) => bigint | undefined {
  switch (familyOf(arg.type)) {
    case 'timestamptz':
      return (v) => instantToLocal(parseTimestamp(String(v))!, timeZone);
    case 'date':
      return (v) => BigInt(parseDate(String(v))!) * MICROS_PER_DAY;
    default:
      return (v) => parseTimestamp(String(v));
  }
}

function addMonths(local: bigint, months: number): bigint {
  const days = floorDiv(local, MICROS_PER_DAY);
  const within = local - days * MICROS_PER_DAY;
  const { year, month, day } = civilFromDays(Number(days));
  const total = year * 12 + (month - 1) + months;
  const y = Math.floor(total / 12);
  const m = total - y * 12 + 1;
  const d = Math.min(day, daysInMonth(y, m));
  return BigInt(daysFromCivil(y, m, d)) * MICROS_PER_DAY + within;
}

function monthsBetween(a: bigint, b: bigint): number {
  const da = civilFromDays(Number(floorDiv(a, MICROS_PER_DAY)));
  const db = civilFromDays(Number(floorDiv(b, MICROS_PER_DAY)));
  let months = (db.year - da.year) * 12 + (db.month - da.month);
  // A month counts once the day and time of month are reached (java.time's ChronoUnit.MONTHS.between).
  if (months > 0 && addMonths(a, months) > b) months--;
  if (months < 0 && addMonths(a, months) < b) months++;
  return months;
}

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

function conditionalResult(env: FunctionEnv, branches: readonly Compiled[]): { type: DataType; branches: Compiled[] } {
  const typed = branches.filter((b) => b.nullLiteral !== true).map((b) => b.type);
  const type = commonType(typed);
  if (typeof type === 'string') env.fail(`the branches of ${env.name} ${type}`, 'CAST them to one type');
  return { type, branches: branches.map((b) => coerce(b, type, env.timeZone)) };
}

function now(type: DataType, f: (ctx: EvalContext) => Value): Compiled {
  return { type, nullable: false, evaluate: f };
}

/** Flink CDC's transform functions (see docs/pipeline-file.md#functions), by upper-case name. */
export const BUILTIN_FUNCTIONS: ReadonlyMap<string, FunctionDef> = new Map<string, FunctionDef>([
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
  // ---- string ----
  [
    'CHAR_LENGTH',
    {
      min: 1,
      max: 1,
      signature: 'CHAR_LENGTH(string)',
      description: 'Number of characters.',
      compile: (args, env) =>
        strict(INT, [expect(env, args, 0, STRINGY, 'a string')], (v) => codePoints(String(v)).length),
    },
  ],
  [
    'CHARACTER_LENGTH',
    {
      min: 1,
      max: 1,
      signature: 'CHARACTER_LENGTH(string)',
      description: 'Same as CHAR_LENGTH.',
      compile: (args, env) =>
        strict(INT, [expect(env, args, 0, STRINGY, 'a string')], (v) => codePoints(String(v)).length),
    },
  ],
  [
    'UPPER',
    {
      min: 1,
      max: 1,
      signature: 'UPPER(string)',
      description: 'Upper case.',
      compile: (args, env) =>
        strict(STRING, [expect(env, args, 0, STRINGY, 'a string')], (v) => String(v).toUpperCase()),
    },
  ],
  [
    'LOWER',
    {
      min: 1,
      max: 1,
      signature: 'LOWER(string)',
      description: 'Lower case.',
      compile: (args, env) =>
        strict(STRING, [expect(env, args, 0, STRINGY, 'a string')], (v) => String(v).toLowerCase()),
    },
  ],
  [
    'TRIM',
    {
      min: 1,
      max: 1,
      signature: 'TRIM(string)',
      description: 'Without leading and trailing spaces.',
      compile: (args, env) =>
        strict(STRING, [expect(env, args, 0, STRINGY, 'a string')], (v) => String(v).replace(/^ +| +$/g, '')),
    },
  ],
  [
    'LTRIM',
    {
      min: 1,
      max: 1,
      signature: 'LTRIM(string)',
      description: 'Without leading spaces.',
      compile: (args, env) =>
        strict(STRING, [expect(env, args, 0, STRINGY, 'a string')], (v) => String(v).replace(/^ +/, '')),
    },
  ],
  [
    'RTRIM',
    {
      min: 1,
      max: 1,
      signature: 'RTRIM(string)',
      description: 'Without trailing spaces.',
      compile: (args, env) =>
        strict(STRING, [expect(env, args, 0, STRINGY, 'a string')], (v) => String(v).replace(/ +$/, '')),
    },
  ],
  [
    'CONCAT',
    {
      min: 1,
      max: 255,
      signature: 'CONCAT(string1, string2, …)',
      description: 'The arguments joined; NULL if any is NULL. Non-strings are cast to STRING.',
      compile: (args, env) =>
        strict(
          STRING,
          args.map((a) => asText(a, env)),
          (...v) => v.join(''),
        ),
    },
  ],
  [
    'CONCAT_WS',
    {
      min: 2,
      max: 255,
      signature: 'CONCAT_WS(separator, string1, …)',
      description: 'The non-NULL strings joined by separator.',
      compile: (args, env) => {
        const [sep, ...rest] = args.map((a) => asText(a, env)) as [Compiled, ...Compiled[]];
        const evals = rest.map((r) => r.evaluate);
        return {
          type: STRING,
          nullable: sep.nullable,
          evaluate: (ctx) => {
            const s = sep.evaluate(ctx);
            if (s === null) return null;
            const parts: string[] = [];
            for (const e of evals) {
              const v = e(ctx);
              if (v !== null) parts.push(String(v));
            }
            return parts.join(String(s));
          },
        };
      },
    },
  ],
  [
    'SUBSTR',
    {
      min: 2,
      max: 3,
      signature: 'SUBSTR(string, start[, length])',
      description: 'Characters from start (1-based) on, length of them.',
      compile: (args, env) => substring(args, env),
    },
  ],
  [
    'SUBSTRING',
    {
      min: 2,
      max: 3,
      signature: 'SUBSTRING(string FROM start [FOR length])',
      description: 'Same as SUBSTR.',
      compile: (args, env) => substring(args, env),
    },
  ],
  [
    'LEFT',
    {
      min: 2,
      max: 2,
      signature: 'LEFT(string, n)',
      description: 'The first n characters.',
      compile: (args, env) =>
        strict(
          STRING,
          [expect(env, args, 0, STRINGY, 'a string'), expect(env, args, 1, INTEGER, 'an integer')],
          (s, n) =>
            codePoints(String(s))
              .slice(0, Math.max(0, Number(n)))
              .join(''),
        ),
    },
  ],
  [
    'RIGHT',
    {
      min: 2,
      max: 2,
      signature: 'RIGHT(string, n)',
      description: 'The last n characters.',
      compile: (args, env) =>
        strict(
          STRING,
          [expect(env, args, 0, STRINGY, 'a string'), expect(env, args, 1, INTEGER, 'an integer')],
          (s, n) => {
            const c = codePoints(String(s));
            return Number(n) <= 0 ? '' : c.slice(Math.max(0, c.length - Number(n))).join('');
          },
        ),
    },
  ],
  [
    'REPLACE',
    {
      min: 3,
      max: 3,
      signature: 'REPLACE(string, search, replacement)',
      description: 'Every occurrence of search replaced.',
      compile: (args, env) =>
        strict(
          STRING,
          [0, 1, 2].map((i) => expect(env, args, i, STRINGY, 'a string')),
          (s, a, b) => String(s).split(String(a)).join(String(b)),
        ),
    },
  ],
  [
    'REPEAT',
    {
      min: 2,
      max: 2,
      signature: 'REPEAT(string, n)',
      description: 'string n times.',
      compile: (args, env) =>
        strict(
          STRING,
          [expect(env, args, 0, STRINGY, 'a string'), expect(env, args, 1, INTEGER, 'an integer')],
          (s, n) => String(s).repeat(Math.max(0, Number(n))),
        ),
    },
  ],
  [
    'LPAD',
    {
      min: 3,
      max: 3,
      signature: 'LPAD(string, length, pad)',
      description: 'Padded on the left (or cut) to length.',
      compile: (args, env) => pad(args, env, true),
    },
  ],
  [
    'RPAD',
    {
      min: 3,
      max: 3,
      signature: 'RPAD(string, length, pad)',
      description: 'Padded on the right (or cut) to length.',
      compile: (args, env) => pad(args, env, false),
    },
  ],
  [
    'REGEXP_REPLACE',
    {
      min: 3,
      max: 3,
      signature: 'REGEXP_REPLACE(string, regex, replacement)',
      description: 'Every match of the regular expression replaced ($1 for groups).',
      compile: (args, env) => {
        const [s, r, rep] = [0, 1, 2].map((i) => expect(env, args, i, STRINGY, 'a string')) as [
          Compiled,
          Compiled,
          Compiled,
        ];
        const cache = new Map<string, RegExp>();
        const regex = (source: string): RegExp => {
          let re = cache.get(source);
          if (re === undefined) {
            try {
              re = new RegExp(sqlLikeRegex(source), 'gu');
            } catch (error) {
              throw new EvalProblem(
                `invalid regular expression ${source} (${(error as Error).message})`,
                'fix the pattern',
              );
            }
            if (cache.size < 100) cache.set(source, re);
          }
          re.lastIndex = 0;
          return re;
        };
        if (r.constant === true) {
          const source = r.evaluate(DUMMY);
          if (typeof source === 'string') {
            try {
              new RegExp(source, 'gu');
            } catch (error) {
              env.fail(`invalid regular expression ${source} (${(error as Error).message})`, 'fix the pattern', 1);
            }
          }
        }
        return strict(STRING, [s, r, rep], (a, b, c) => String(a).replace(regex(String(b)), String(c)));
      },
    },
  ],
  [
    'REGEXP',
    {
      min: 2,
      max: 2,
      signature: 'REGEXP(string, regex)',
      description: 'Whether the string has a match of the regular expression.',
      compile: (args, env) => {
        const [s, r] = [0, 1].map((i) => expect(env, args, i, STRINGY, 'a string')) as [Compiled, Compiled];
        return strict(BOOLEAN, [s, r], (a, b) => new RegExp(String(b), 'u').test(String(a)));
      },
    },
  ],
  // ---- temporal ----
  [
    'LOCALTIME',
    {
      min: 0,
      max: 0,
      signature: 'LOCALTIME',
      description: 'The wall-clock time now in the pipeline time zone: TIME(0).',
      compile: (_a, env) =>
        now({ kind: 'time', precision: 0 }, (ctx) => {
          const local = instantToLocal(BigInt(ctx.nowMs) * 1000n, env.timeZone);
          return formatTime(local - floorDiv(local, MICROS_PER_DAY) * MICROS_PER_DAY, 0);
        }),
    },
  ],
  [
    'CURRENT_TIME',
    {
      min: 0,
      max: 0,
      signature: 'CURRENT_TIME',
      description: 'Same as LOCALTIME.',
      compile: (_a, env) => BUILTIN_FUNCTIONS.get('LOCALTIME')!.compile([], env),
    },
  ],
  [
    'LOCALTIMESTAMP',
    {
      min: 0,
      max: 0,
      signature: 'LOCALTIMESTAMP',
      description: 'The wall clock now in the pipeline time zone: TIMESTAMP(3).',
      compile: (_a, env) =>
        now({ kind: 'timestamp', precision: 3 }, (ctx) =>
          formatTimestamp(instantToLocal(BigInt(ctx.nowMs) * 1000n, env.timeZone), 3),
        ),
    },
  ],
  [
    'CURRENT_TIMESTAMP',
    {
      min: 0,
      max: 0,
      signature: 'CURRENT_TIMESTAMP',
      description: 'The instant now: TIMESTAMP_LTZ(3).',
      compile: () =>
        now({ kind: 'timestamptz', precision: 3 }, (ctx) => formatTimestamp(BigInt(ctx.nowMs) * 1000n, 3, 'Z')),
    },
  ],
  [
    'NOW',
    {
      min: 0,
      max: 0,
      signature: 'NOW()',
      description: 'Same as CURRENT_TIMESTAMP.',
      compile: () =>
        now({ kind: 'timestamptz', precision: 3 }, (ctx) => formatTimestamp(BigInt(ctx.nowMs) * 1000n, 3, 'Z')),
    },
  ],
  [
    'CURRENT_DATE',
    {
      min: 0,
      max: 0,
      signature: 'CURRENT_DATE',
      description: 'Today in the pipeline time zone: DATE.',
      compile: (_a, env) =>
        now(DATE, (ctx) =>
          formatDate(Number(floorDiv(instantToLocal(BigInt(ctx.nowMs) * 1000n, env.timeZone), MICROS_PER_DAY))),
        ),
    },
  ],
  [
    'DATE_FORMAT',
    {
      min: 2,
      max: 2,
      signature: 'DATE_FORMAT(timestamp, format)',
      description:
        'The timestamp as text in a SimpleDateFormat pattern (`yyyy-MM-dd HH:mm:ss`); TIMESTAMP_LTZ in the pipeline time zone.',
      compile: (args, env) => {
        const t = expect(env, args, 0, TIMESTAMPS, 'a timestamp');
        const f = expect(env, args, 1, STRINGY, 'a format string');
        checkPattern(env, f, 1);
        const read = wallClockReader(t, env.timeZone);
        const zoned = familyOf(t.type) === 'timestamptz';
        return strict(
          STRING,
          [t, f],
          (v, p) => {
            // Wall clocks in canonical text format from their fields; instants through the time zone.
            if (!zoned) {
              const fast = formatPatternText(String(v), String(p));
              if (fast !== undefined) return fast;
            }
            const local = read(v);
            return local === undefined ? null : formatPattern(local, String(p));
          },
          familyOf(t.type) === 'string',
        );
      },
    },
  ],
  [
    'TIMESTAMPADD',
    {
      min: 3,
      max: 3,
      words: [0],
      signature: 'TIMESTAMPADD(unit, interval, timepoint)',
      description: 'timepoint plus interval units (SECOND, MINUTE, HOUR, DAY, WEEK, MONTH, QUARTER, YEAR).',
      compile: (args, env) => {
        const unit = timeUnit(env, 0);
        const n = expect(env, args, 1, INTEGER, 'an integer');
        const t = expect(env, args, 2, ['timestamp', 'timestamptz', 'date'], 'a timestamp or date');
        const kind = familyOf(t.type);
        const zoned = kind === 'timestamptz';
        const dateOnly = kind === 'date' && UNIT_MICROS[unit] !== undefined && UNIT_MICROS[unit] < MICROS_PER_DAY;
        const type: DataType = kind === 'date' ? (dateOnly ? { kind: 'timestamp', precision: 0 } : DATE) : t.type;
        const precision = 'precision' in type ? type.precision : 0;
        const read = wallClockReader(t, env.timeZone);
        return strict(type, [n, t], (count, v) => {
          const local = read(v)!;
          const months = UNIT_MONTHS[unit];
          const moved =
            months !== undefined
              ? addMonths(local, Number(count) * months)
              : local + BigInt(count as number | bigint) * UNIT_MICROS[unit]!;
          if (type.kind === 'date') return formatDate(Number(floorDiv(moved, MICROS_PER_DAY)));
          return zoned
            ? formatTimestamp(localToInstant(moved, env.timeZone), precision, 'Z')
            : formatTimestamp(moved, precision);
        });
      },
    },
  ],
  [
    'TIMESTAMPDIFF',
    {
      min: 3,
      max: 3,
      words: [0],
      signature: 'TIMESTAMPDIFF(unit, timepoint1, timepoint2)',
      description: 'Whole units from timepoint1 to timepoint2: INT.',
      compile: (args, env) => timestampDiff(args, env),
    },
  ],
  [
    'TIMESTAMP_DIFF',
    {
      min: 3,
      max: 3,
      words: [0],
      signature: 'TIMESTAMP_DIFF(unit, timepoint1, timepoint2)',
      description: 'Same as TIMESTAMPDIFF (Flink CDC 3.1 name).',
      compile: (args, env) => timestampDiff(args, env),
    },
  ],
  [
    'TO_DATE',
    {
      min: 1,
      max: 2,
      signature: 'TO_DATE(string[, format])',
      description:
        'The string read as a DATE with a SimpleDateFormat pattern (default `yyyy-MM-dd`); NULL when it does not match.',
      compile: (args, env) => {
        const s = expect(env, args, 0, STRINGY, 'a string');
        const f = args[1] === undefined ? undefined : expect(env, args, 1, STRINGY, 'a format string');
        if (f !== undefined) checkPattern(env, f, 1);
        return strict(
          DATE,
          f === undefined ? [s] : [s, f],
          (v, p) => {
            const local = parsePattern(String(v).trim(), p === undefined ? 'yyyy-MM-dd' : String(p));
            return local === undefined ? null : formatDate(Number(floorDiv(local, MICROS_PER_DAY)));
          },
          true,
        );
      },
    },
  ],
  [
    'TO_TIMESTAMP',
    {
      min: 1,
      max: 2,
      signature: 'TO_TIMESTAMP(string[, format])',
      description:
        'The string read as a TIMESTAMP(3) with a SimpleDateFormat pattern (default `yyyy-MM-dd HH:mm:ss`); NULL when it does not match.',
      compile: (args, env) => {
        const s = expect(env, args, 0, STRINGY, 'a string');
        const f = args[1] === undefined ? undefined : expect(env, args, 1, STRINGY, 'a format string');
        if (f !== undefined) checkPattern(env, f, 1);
        return strict(
          { kind: 'timestamp', precision: 3 },
          f === undefined ? [s] : [s, f],
          (v, p) => {
            const text = String(v).trim();
            const local =
              p === undefined
                ? (parsePattern(text, 'yyyy-MM-dd HH:mm:ss') ?? parseTimestamp(text))
                : parsePattern(text, String(p));
            return local === undefined ? null : formatTimestamp(local, 3);
          },
          true,
        );
      },
    },
  ],
  [
    'TO_TIMESTAMP_LTZ',
    {
      min: 1,
      max: 2,
      signature: 'TO_TIMESTAMP_LTZ(numeric[, precision])',
      description: 'Epoch seconds (precision 0) or milliseconds (3, the default) as a TIMESTAMP_LTZ(3).',
      compile: (args, env) => {
        const n = expect(env, args, 0, INTEGER, 'an integer');
        const p = args[1] === undefined ? 3 : constantInt(env, args, 1);
        if (p !== 0 && p !== 3)
          env.fail('the precision of TO_TIMESTAMP_LTZ is 0 (seconds) or 3 (milliseconds)', 'write 0 or 3', 1);
        return strict({ kind: 'timestamptz', precision: 3 }, [n], (v) =>
          formatTimestamp(BigInt(v as number | bigint) * (p === 0 ? 1_000_000n : 1000n), 3, 'Z'),
        );
      },
    },
  ],
  [
    'FROM_UNIXTIME',
    {
      min: 1,
      max: 2,
      signature: 'FROM_UNIXTIME(seconds[, format])',
      description: 'Epoch seconds as text in the pipeline time zone (default format `yyyy-MM-dd HH:mm:ss`).',
      compile: (args, env) => {
        const n = expect(env, args, 0, INTEGER, 'an integer');
        const f = args[1] === undefined ? undefined : expect(env, args, 1, STRINGY, 'a format string');
        if (f !== undefined) checkPattern(env, f, 1);
        return strict(STRING, f === undefined ? [n] : [n, f], (v, p) =>
          formatPattern(
            instantToLocal(BigInt(v as number | bigint) * 1_000_000n, env.timeZone),
            p === undefined ? 'yyyy-MM-dd HH:mm:ss' : String(p),
          ),
        );
      },
    },
  ],
  [
    'UNIX_TIMESTAMP',
    {
      min: 0,
      max: 2,
      signature: 'UNIX_TIMESTAMP([string[, format]])',
      description:
        'Epoch seconds now, or of the string read in the pipeline time zone (NULL when it does not match): BIGINT.',
      compile: (args, env) => {
        if (args.length === 0) return now(BIGINT, (ctx) => BigInt(Math.floor(ctx.nowMs / 1000)));
        const s = expect(env, args, 0, STRINGY, 'a string');
        const f = args[1] === undefined ? undefined : expect(env, args, 1, STRINGY, 'a format string');
        if (f !== undefined) checkPattern(env, f, 1);
        return strict(
          BIGINT,
          f === undefined ? [s] : [s, f],
          (v, p) => {
            const local = parsePattern(String(v).trim(), p === undefined ? 'yyyy-MM-dd HH:mm:ss' : String(p));
            return local === undefined ? null : floorDiv(localToInstant(local, env.timeZone), 1_000_000n);
          },
          true,
        );
      },
    },
  ],
  ...(['YEAR', 'QUARTER', 'MONTH', 'DAYOFMONTH', 'HOUR', 'MINUTE', 'SECOND'] as const).map(
    (part): [string, FunctionDef] => [
      part,
      {
        min: 1,
        max: 1,
        signature: `${part}(timepoint)`,
        description: `The ${part.toLowerCase()} of a date or timestamp: BIGINT.`,
        compile: (args, env) => {
          const t = expect(env, args, 0, ['timestamp', 'timestamptz', 'date'], 'a timestamp or date');
          const read = wallClockReader(t, env.timeZone);
          return strict(BIGINT, [t], (v) => {
            const local = read(v)!;
            const days = floorDiv(local, MICROS_PER_DAY);
            const seconds = Number((local - days * MICROS_PER_DAY) / 1_000_000n);
            const c = civilFromDays(Number(days));
            const value = {
              YEAR: c.year,
              QUARTER: Math.ceil(c.month / 3),
              MONTH: c.month,
              DAYOFMONTH: c.day,
              HOUR: Math.floor(seconds / 3600),
              MINUTE: Math.floor(seconds / 60) % 60,
              SECOND: seconds % 60,
            }[part];
            return BigInt(value);
          });
        },
      },
    ],
  ),
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
]);

function substring(args: readonly Compiled[], env: FunctionEnv): Compiled {
  const s = expect(env, args, 0, STRINGY, 'a string');
  const start = expect(env, args, 1, INTEGER, 'an integer');
  const length = args[2] === undefined ? undefined : expect(env, args, 2, INTEGER, 'an integer');
  return strict(STRING, length === undefined ? [s, start] : [s, start, length], (v, from, count) => {
    const text = String(v);
    const begin = Number(from);
    // SQL: characters at positions begin .. begin+count-1 (1-based), clipped to the string.
    if (count !== undefined && Number(count) < 0)
      throw new EvalProblem('negative substring length', 'pass a length of 0 or more');
    const end = count === undefined ? Infinity : begin + Number(count);
    const first = Math.max(begin, 1);
    if (end <= first) return '';
    if (!/[\ud800-\udfff]/.test(text)) return text.slice(first - 1, end === Infinity ? undefined : end - 1);
    return codePoints(text)
      .slice(first - 1, end === Infinity ? undefined : end - 1)
      .join('');
  });
}

function pad(args: readonly Compiled[], env: FunctionEnv, left: boolean): Compiled {
  const s = expect(env, args, 0, STRINGY, 'a string');
  const n = expect(env, args, 1, INTEGER, 'an integer');
  const p = expect(env, args, 2, STRINGY, 'a string');
  return strict(
    STRING,
    [s, n, p],
    (v, len, fill) => {
      const chars = codePoints(String(v));
      const target = Number(len);
      if (target < 0) return null;
      if (chars.length >= target) return chars.slice(0, target).join('');
      const filler = codePoints(String(fill));
      if (filler.length === 0) return null;
      const padding: string[] = [];
      while (padding.length < target - chars.length) padding.push(filler[padding.length % filler.length]!);
      return left ? padding.join('') + chars.join('') : chars.join('') + padding.join('');
    },
    true,
  );
}

function timestampDiff(args: readonly Compiled[], env: FunctionEnv): Compiled {
  const unit = timeUnit(env, 0);
  const a = expect(env, args, 1, ['timestamp', 'timestamptz', 'date'], 'a timestamp or date');
  const b = expect(env, args, 2, ['timestamp', 'timestamptz', 'date'], 'a timestamp or date');
  // Two instants differ by their UTC distance; wall clocks by theirs.
  const instants = familyOf(a.type) === 'timestamptz' && familyOf(b.type) === 'timestamptz';
  const read = (c: Compiled) => (instants ? (v: Value) => parseTimestamp(String(v)) : wallClockReader(c, env.timeZone));
  const [ra, rb] = [read(a), read(b)];
  return strict(INT, [a, b], (x, y) => {
    const from = ra(x)!;
    const to = rb(y)!;
    const months = UNIT_MONTHS[unit];
    const n =
      months !== undefined ? Math.trunc(monthsBetween(from, to) / months) : Number((to - from) / UNIT_MICROS[unit]!);
    if (n > 2147483647 || n < -2147483648) throw new EvalProblem('TIMESTAMPDIFF overflows INT', 'use a larger unit');
    return n;
  });
}

function checkPattern(env: FunctionEnv, f: Compiled, index: number): void {
  if (f.constant !== true) return;
  const value = f.evaluate(DUMMY);
  if (typeof value !== 'string') return;
  try {
    compilePattern(value);
  } catch (error) {
    env.fail(
      `${(error as Error).message} in the format '${value}'`,
      "write a SimpleDateFormat pattern such as 'yyyy-MM-dd HH:mm:ss'",
      index,
    );
  }
}

export { codePoints };
