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

/**
 * Splits an expression into tokens. `\*` is read as `*` (Flink CDC's escaped star); `'…'` is a string with
 * `''` for a quote; `` `…` `` is a name with ` `` ` for a backquote. The last token is always `end`.
 */
export function tokenize(text: string): Token[] {
  const tokens: Token[] = [];
  let i = 0;
  while (i < text.length) {
    const c = text.charAt(i);
    if (/\s/.test(c)) {
      i++;
      continue;
    }
    const start = i;
    if (c === '\\' && text.charAt(i + 1) === '*') {
      tokens.push({ type: 'operator', value: '*', start, end: i + 2 });
      i += 2;
    } else if (c === "'" || c === '`') {
      const [value, end] = readQuoted(text, i, c);
      tokens.push({ type: c === "'" ? 'string' : 'quoted', value, start, end });
      i = end;
    } else if (c === '"') {
      throw new ExpressionError(
        text,
        i,
        'double quotes are not used in expressions',
        "write strings in 'single quotes' and names in `backquotes`",
      );
    } else if (/\d/.test(c) || (c === '.' && /\d/.test(text.charAt(i + 1)))) {
      NUMBER.lastIndex = i;
      const match = NUMBER.exec(text);
      const end = i + (match?.[0].length ?? 1);
      if (IDENT_PART.test(text.charAt(end))) {
        throw new ExpressionError(text, end, `unexpected "${text.charAt(end)}" after the number ${text.slice(i, end)}`);
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
      const op = OPERATORS.find((o) => text.startsWith(o, i));
      if (op === undefined) throw new ExpressionError(text, i, `unexpected character "${c}"`);
      tokens.push({ type: 'operator', value: op === '!=' ? '<>' : op, start, end: i + op.length });
      i += op.length;
    }
  }
  tokens.push({ type: 'end', value: '', start: text.length, end: text.length });
  return tokens;
}

function readQuoted(text: string, open: number, quote: string): [string, number] {
  let value = '';
  let i = open + 1;
  for (;;) {
    const next = text.indexOf(quote, i);
    if (next < 0) {
      const what = quote === "'" ? 'string' : 'quoted name';
      throw new ExpressionError(text, open, `this ${what} is not closed`, `add the closing ${quote}`);
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
