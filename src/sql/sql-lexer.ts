import { KEYWORDS, type Token } from '../transform/expression/tokenizer.js';
import { SqlError } from './sql-error.js';

/**
 * Splits a SQL script into tokens of the expression engine's kind (so that its Pratt parser reads the
 * expressions inside statements), with offsets into the whole script. Besides what expressions have, it knows
 * `;` (an operator token), `--` line comments and `/* … *\/` block comments. Reserved words are the expression
 * engine's (AND, AS, CASE, …); statement words (SELECT, FROM, JOIN …) are identifiers, matched without case.
 */
export function tokenizeSql(text: string): Token[] {
  const tokens: Token[] = [];
  let i = 0;
  while (i < text.length) {
    const c = text.charAt(i);
    if (/\s/.test(c)) {
      i++;
      continue;
    }
    if (c === '-' && text.charAt(i + 1) === '-') {
      const end = text.indexOf('\n', i);
      i = end < 0 ? text.length : end + 1;
      continue;
    }
    if (c === '/' && text.charAt(i + 1) === '*') {
      const end = text.indexOf('*/', i + 2);
      if (end < 0) throw new SqlError(text, i, 'this comment is not closed', 'end it with */');
      i = end + 2;
      continue;
    }
    const start = i;
    if (c === "'" || c === '`') {
      const [value, end] = readQuoted(text, i, c);
      tokens.push({ type: c === "'" ? 'string' : 'quoted', value, start, end });
      i = end;
    } else if (c === '"') {
      throw new SqlError(
        text,
        i,
        'double quotes are not used in Flink SQL',
        "write strings in 'single quotes' and names in `backquotes`",
      );
    } else if (/\d/.test(c) || (c === '.' && /\d/.test(text.charAt(i + 1)))) {
      NUMBER.lastIndex = i;
      const match = NUMBER.exec(text);
      const end = i + (match?.[0].length ?? 1);
      if (IDENT_PART.test(text.charAt(end))) {
        throw new SqlError(text, end, `unexpected "${text.charAt(end)}" after the number ${text.slice(i, end)}`);
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
      if (op === undefined) throw new SqlError(text, i, `unexpected character "${c}"`);
      tokens.push({ type: 'operator', value: op === '!=' ? '<>' : op, start, end: i + op.length });
      i += op.length;
    }
  }
  tokens.push({ type: 'end', value: '', start: text.length, end: text.length });
  return tokens;
}

const OPERATORS = ['<>', '<=', '>=', '!=', '||', '=', '<', '>', '+', '-', '*', '/', '%', '(', ')', ',', '.', ';'];
const IDENT_START = /[A-Za-z_\u0080-\uffff]/;
const IDENT_PART = /[A-Za-z0-9_$\u0080-\uffff]/;
const NUMBER = /(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?/y;

function readQuoted(text: string, open: number, quote: string): [string, number] {
  let value = '';
  let i = open + 1;
  for (;;) {
    const next = text.indexOf(quote, i);
    if (next < 0) {
      const what = quote === "'" ? 'string' : 'quoted name';
      throw new SqlError(text, open, `this ${what} is not closed`, `add the closing ${quote}`);
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
