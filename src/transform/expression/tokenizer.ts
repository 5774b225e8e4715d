import { ExpressionError } from './expression-error.js';

export type TokenType = 'identifier' | 'quoted' | 'keyword' | 'number' | 'string' | 'operator' | 'end';

export interface Token {
  readonly type: TokenType;
  /** Identifier name (unquoted), keyword in upper case, string contents (unescaped), number or operator text. */
  readonly value: string;
  readonly start: number;
  readonly end: number;
}

/** Reserved words: they are not column names unless written in backquotes. */
export const KEYWORDS: ReadonlySet<string> = new Set([
  'AND',
  'AS',
  'BETWEEN',
  'CASE',
  'CAST',
  'ELSE',
  'END',
  'FALSE',
  'IN',
  'IS',
  'LIKE',
  'NOT',
  'NULL',
  'OR',
  'THEN',
  'TRUE',
  'WHEN',
]);

const OPERATORS = ['<>', '<=', '>=', '!=', '||', '=', '<', '>', '+', '-', '*', '/', '%', '(', ')', ',', '.'];

const IDENT_START = /[A-Za-z_\u0080-\uffff]/;
const IDENT_PART = /[A-Za-z0-9_$\u0080-\uffff]/;
const NUMBER = /(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?/y;

/** What differs between the languages that share this lexer: expressions and SQL scripts (`src/sql/`). */
export interface LexerDialect {
  /** Operators, longest first where one is the prefix of another. */
  readonly operators: readonly string[];
  /** Where the language is named in messages, e.g. `expressions`. */
  readonly language: string;
  /** The error of the language for a position in `text`. */
  readonly error: (text: string, offset: number, reason: string, hint?: string) => Error;
  /** Where whatever the language skips besides white space (comments) starting at `i` ends, or undefined. */
  readonly skip?: (text: string, i: number) => number | undefined;
  /** `\*` reads as `*` (Flink CDC's escaped star in projections). */
  readonly escapedStar?: boolean;
}

const EXPRESSIONS: LexerDialect = {
  operators: OPERATORS,
  language: 'expressions',
  error: (text, offset, reason, hint) => new ExpressionError(text, offset, reason, hint),
  escapedStar: true,
};

/**
 * Splits an expression into tokens. `\*` is read as `*` (Flink CDC's escaped star); `'…'` is a string with
 * `''` for a quote; `` `…` `` is a name with ` `` ` for a backquote. The last token is always `end`.
 */
export function tokenize(text: string): Token[] {
  return tokenizeAs(text, EXPRESSIONS);
}

/** A token as an error message names it: `the end`, `the string 'x'`, `CASE`, `` `name` ``, `"+"`. */
export function describeToken(token: Token): string {
  switch (token.type) {
    case 'end':
      return 'the end';
    case 'string':
      return `the string '${token.value}'`;
    case 'keyword':
      return token.value;
    case 'quoted':
      return `\`${token.value}\``;
    default:
      return `"${token.value}"`;
  }
}

/** {@link tokenize} for another language on the same tokens (the SQL lexer). */
export function tokenizeAs(text: string, dialect: LexerDialect): Token[] {
  const tokens: Token[] = [];
  let i = 0;
  while (i < text.length) {
    const c = text.charAt(i);
    if (/\s/.test(c)) {
      i++;
      continue;
    }
    const skipped = dialect.skip?.(text, i);
    if (skipped !== undefined) {
      i = skipped;
      continue;
    }
    const start = i;
    if (dialect.escapedStar === true && c === '\\' && text.charAt(i + 1) === '*') {
      tokens.push({ type: 'operator', value: '*', start, end: i + 2 });
      i += 2;
    } else if (c === "'" || c === '`') {
      const [value, end] = readQuoted(text, i, c, dialect);
      tokens.push({ type: c === "'" ? 'string' : 'quoted', value, start, end });
      i = end;
    } else if (c === '"') {
      throw dialect.error(
        text,
        i,
        `double quotes are not used in ${dialect.language}`,
        "write strings in 'single quotes' and names in `backquotes`",
      );
    } else if (/\d/.test(c) || (c === '.' && /\d/.test(text.charAt(i + 1)))) {
      NUMBER.lastIndex = i;
      const match = NUMBER.exec(text);
      const end = i + (match?.[0].length ?? 1);
      if (IDENT_PART.test(text.charAt(end))) {
        throw dialect.error(text, end, `unexpected "${text.charAt(end)}" after the number ${text.slice(i, end)}`);
      }
      tokens.push({ type: 'number', value: text.slice(i, end), start, end });
      i = end;
    } else if (IDENT_START.test(c)) {
      let end = i + 1;
      while (end < text.length && IDENT_PART.test(text.charAt(end))) end++;
      const word = text.slice(i, end);
      const upper = word.toUpperCase();
      tokens.push(
        KEYWORDS.has(upper)
          ? { type: 'keyword', value: upper, start, end }
          : { type: 'identifier', value: word, start, end },
      );
      i = end;
    } else {
      const op = dialect.operators.find((o) => text.startsWith(o, i));
      if (op === undefined) throw dialect.error(text, i, `unexpected character "${c}"`);
      tokens.push({ type: 'operator', value: op === '!=' ? '<>' : op, start, end: i + op.length });
      i += op.length;
    }
  }
  tokens.push({ type: 'end', value: '', start: text.length, end: text.length });
  return tokens;
}

function readQuoted(text: string, open: number, quote: string, dialect: LexerDialect): [string, number] {
  let value = '';
  let i = open + 1;
  for (;;) {
    const next = text.indexOf(quote, i);
    if (next < 0) {
      const what = quote === "'" ? 'string' : 'quoted name';
      throw dialect.error(text, open, `this ${what} is not closed`, `add the closing ${quote}`);
    }
    value += text.slice(i, next);
    if (text.charAt(next + 1) === quote) {
      value += quote;
      i = next + 2;
    } else {
      return [value, next + 1];
    }
  }
}
