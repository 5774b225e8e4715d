import { tokenizeAs, type LexerDialect, type Token } from '../transform/expression/tokenizer.js';
import { SqlError } from './sql-error.js';

const SQL: LexerDialect = {
  operators: ['<>', '<=', '>=', '!=', '||', '=', '<', '>', '+', '-', '*', '/', '%', '(', ')', ',', '.', ';'],
  language: 'Flink SQL',
  error: (text, offset, reason, hint) => new SqlError(text, offset, reason, hint),
  skip: (text, i) => {
    if (text.startsWith('--', i)) {
      const end = text.indexOf('\n', i);
      return end < 0 ? text.length : end + 1;
    }
    if (text.startsWith('/*', i)) {
      const end = text.indexOf('*/', i + 2);
      if (end < 0) throw new SqlError(text, i, 'this comment is not closed', 'end it with */');
      return end + 2;
    }
    return undefined;
  },
};

/**
 * Splits a SQL script into tokens of the expression engine's kind (so that its Pratt parser reads the
 * expressions inside statements), with offsets into the whole script: the expression engine's lexer with `;`
 * (an operator token), `--` line comments and `/* … *\/` block comments. Reserved words are the expression
 * engine's (AND, AS, CASE, …); statement words (SELECT, FROM, JOIN …) are identifiers, matched without case.
 */
export function tokenizeSql(text: string): Token[] {
  return tokenizeAs(text, SQL);
}
