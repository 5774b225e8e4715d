import type { ChangeOp } from '../../core/change-event.js';
import type { DataType, Row, Value } from '../../core/data-type.js';
import { TributaryError } from '../../core/errors.js';

/**
 * What a compiled expression reads when it runs: the row and what is known about its change event. One
 * object is reused for every row of a batch (the caller overwrites its fields), so evaluation allocates
 * nothing of its own.
 */
export interface EvalContext {
  row: Row;
  /** The change the row image belongs to (`read` for snapshot rows). */
  op: ChangeOp;
  image: 'before' | 'after';
  /** When the source committed the change, ms since the epoch (0 for snapshot reads). */
  tsMs: number;
  /** Processing time, ms since the epoch: what NOW(), CURRENT_TIMESTAMP, … return. Set once per batch. */
  nowMs: number;
}

export function evalContext(): EvalContext {
  return { row: [], op: 'read', image: 'after', tsMs: 0, nowMs: Date.now() };
}

/** A compiled expression: its type, whether it can be NULL, and the closure that computes it. */
export interface Compiled {
  readonly type: DataType;
  readonly nullable: boolean;
  /** A NULL literal (its `type` is a placeholder until the context gives it one). */
  readonly nullLiteral?: boolean;
  /** Set when the value is the same for every row (no column, no clock): the planner may keep it. */
  readonly constant?: boolean;
  readonly evaluate: (ctx: EvalContext) => Value;
}

/**
 * A row whose expression cannot be computed (an integer overflow, a division by zero, a string that is not
 * a number in CAST): the pipeline stops rather than write a wrong value.
 */
export function evalError(expression: string, reason: string, hint: string): TributaryError {
  return new TributaryError('TRANSFORM_EVAL_FAILED', `${reason} in \`${expression}\``, { hint });
}

/** Thrown inside evaluation; the compiler wraps it with the expression's text (see {@link evalError}). */
export class EvalProblem extends Error {
  constructor(
    message: string,
    readonly hint: string,
  ) {
    super(message);
  }
}
