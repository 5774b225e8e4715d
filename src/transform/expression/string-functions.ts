import { EvalProblem, type Compiled } from './eval-context.js';
import {
  asText,
  BOOLEAN,
  codePoints,
  DUMMY,
  expect,
  INT,
  INTEGER,
  strict,
  STRING,
  STRINGY,
  type FunctionDef,
  type FunctionEnv,
} from './function-kit.js';

function sqlLikeRegex(source: string): string {
  return source;
}

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

/** Flink CDC's string functions. */
export const STRING_FUNCTIONS: readonly (readonly [string, FunctionDef])[] = [
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
      compile: (args, env) => {
        const parts = args.map((a) => asText(a, env));
        const evals = parts.map((p) => p.evaluate);
        const count = evals.length;
        // A loop rather than strict()'s argument array: CONCAT is common in projections.
        return {
          type: STRING,
          nullable: parts.some((p) => p.nullable),
          evaluate: (ctx) => {
            let out = '';
            for (let i = 0; i < count; i++) {
              const v = evals[i]!(ctx);
              if (v === null) return null;
              out += v as string;
            }
            return out;
          },
        };
      },
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
];
