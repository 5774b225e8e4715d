import { TributaryError } from '../../core/errors.js';

/**
 * A mistake in a transform expression, located by `offset` (0-based, into `text`). The message shows the
 * expression with a caret under the offending place; `reason` is the same without the picture, for callers
 * (the config loader) that place the problem in the file themselves.
 */
export class ExpressionError extends TributaryError {
  readonly text: string;
  readonly offset: number;
  readonly reason: string;

  constructor(text: string, offset: number, reason: string, hint?: string) {
    super('CONFIG_INVALID', `${reason}\n${formatCaret(text, offset)}`, hint === undefined ? {} : { hint });
    this.name = 'ExpressionError';
    this.text = text;
    this.offset = offset;
    this.reason = reason;
  }
}

/**
 * Two lines: the line of `text` that holds `offset`, and a caret under that character. Each is indented by
 * `indent` spaces so that it reads as part of a longer message.
 */
export function formatCaret(text: string, offset: number, indent = 4): string {
  const at = Math.max(0, Math.min(offset, text.length));
  const lineStart = text.lastIndexOf('\n', at - 1) + 1;
  const lineEndAt = text.indexOf('\n', at);
  const line = text.slice(lineStart, lineEndAt < 0 ? text.length : lineEndAt).replace(/\t/g, ' ');
  const pad = ' '.repeat(indent);
  return `${pad}${line}\n${pad}${' '.repeat(at - lineStart)}^`;
}

/** 1-based column of `offset` within its line of `text`, for "at column N" in messages. */
export function columnOf(text: string, offset: number): number {
  return offset - (text.lastIndexOf('\n', offset - 1) + 1) + 1;
}
