import { TributaryError } from '../core/errors.js';
import { ExpressionError, formatCaret } from '../transform/expression/expression-error.js';

/**
 * A mistake in a SQL script, located by line and column: the message reads `line L, column C: reason`,
 * then the line with a caret under the place. Code SQL_INVALID.
 */
export class SqlError extends TributaryError {
  readonly line: number;
  readonly column: number;
  readonly reason: string;

  constructor(text: string, offset: number, reason: string, hint?: string) {
    const { line, column } = lineColumn(text, offset);
    super('SQL_INVALID', `line ${line}, column ${column}: ${reason}\n${formatCaret(text, offset)}`, {
      ...(hint === undefined ? {} : { hint }),
    });
    this.name = 'SqlError';
    this.line = line;
    this.column = column;
    this.reason = reason;
  }
}

/** 1-based line and column of `offset` in `text`. */
export function lineColumn(text: string, offset: number): { line: number; column: number } {
  const at = Math.max(0, Math.min(offset, text.length));
  let line = 1;
  for (let i = text.indexOf('\n'); i >= 0 && i < at; i = text.indexOf('\n', i + 1)) line++;
  return { line, column: at - (text.lastIndexOf('\n', at - 1) + 1) + 1 };
}

/** An expression engine error inside a script becomes a {@link SqlError} at the same place. */
export function asSqlError(error: unknown, text: string): unknown {
  if (error instanceof ExpressionError && error.text === text) {
    return new SqlError(text, error.offset, error.reason, error.hint);
  }
  return error;
}
