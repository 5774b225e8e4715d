import type { DataType, Value } from '../../core/data-type.js';
import { EvalProblem, type Compiled } from './eval-context.js';
import { familyOf } from './sql-type.js';
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
import {
  BIGINT,
  constantInt,
  DATE,
  DUMMY,
  expect,
  INT,
  INTEGER,
  now,
  strict,
  STRING,
  STRINGY,
  TIMESTAMPS,
  type FunctionDef,
  type FunctionEnv,
} from './function-kit.js';

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

function localTime(env: FunctionEnv): Compiled {
  return now({ kind: 'time', precision: 0 }, (ctx) => {
    const local = instantToLocal(BigInt(ctx.nowMs) * 1000n, env.timeZone);
    return formatTime(local - floorDiv(local, MICROS_PER_DAY) * MICROS_PER_DAY, 0);
  });
}

/** Flink CDC's temporal functions; times in the pipeline's time zone (`env.timeZone`). */
export const TEMPORAL_FUNCTIONS: readonly (readonly [string, FunctionDef])[] = [
  // ---- temporal ----
  [
    'LOCALTIME',
    {
      min: 0,
      max: 0,
      signature: 'LOCALTIME',
      description: 'The wall-clock time now in the pipeline time zone: TIME(0).',
      compile: (_a, env) => localTime(env),
    },
  ],
  [
    'CURRENT_TIME',
    {
      min: 0,
      max: 0,
      signature: 'CURRENT_TIME',
      description: 'Same as LOCALTIME.',
      compile: (_a, env) => localTime(env),
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
];
