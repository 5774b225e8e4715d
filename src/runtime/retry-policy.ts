import type { ErrorCode, TributaryError } from '../core/errors.js';
import { Backoff } from './backoff.js';

/**
 * Failures that are the world's doing — a server away, a connection lost or silent, no connection slot free: retried as
 * long as `maxRetries` allows, never counted as identical failures and never a reason to shrink.
 */
const TRANSIENT: ReadonlySet<ErrorCode> = new Set<ErrorCode>([
  'SOURCE_UNREACHABLE',
  'SOURCE_CONNECTION_LOST',
  'SINK_UNREACHABLE',
  'SINK_TOO_MANY_CONNECTIONS',
  // A link that went silent (half-open, paused): a network partition can last as long as it likes.
  'SOURCE_TIMEOUT',
  'SINK_TIMEOUT',
]);

/** Whether `code` is a server or connection away or silent: the world's doing, retried without counting. */
export function isTransient(code: ErrorCode): boolean {
  return TRANSIENT.has(code);
}

/** Failures about the size of a transaction: the next attempt is smaller from the first one on. */
const SIZE: ReadonlySet<ErrorCode> = new Set<ErrorCode>(['SINK_OUT_OF_RESOURCES']);

/** Identical failures in a row (no checkpoint between) after which the pipeline stops, by default. */
export const DEFAULT_MAX_IDENTICAL_FAILURES = 8;

/** The size of one sink transaction: the bounds an attempt runs with. */
export interface TransactionLimits {
  /** Distinct tables per sink transaction; undefined: unbounded. */
  readonly maxTables: number | undefined;
  /** Events buffered in the sink before it commits. */
  readonly maxPendingEvents: number;
}

export type RetryDecision =
  | { readonly action: 'stop' }
  | { readonly action: 'retry'; readonly delayMs: number; readonly shrunk: boolean; readonly identical: number };

/**
 * Decides, after an attempt failed, whether the pipeline retries, and how big its transactions are next.
 *
 * Invariants: a failure that is not retryable stops at once; a transient one (see {@link TRANSIENT}) is
 * retried unchanged until `maxRetries` attempts; any other retryable failure that repeats with the same code
 * and SQLSTATE (or errno) and no checkpoint committed between counts as *identical*: from the second one on
 * (from the first for SINK_OUT_OF_RESOURCES) the next attempt's table bound and pending-event bound are
 * halved, and the `maxIdenticalFailures`-th stops the pipeline with the error instead of retrying the same
 * failure forever. Shrinking is kept for the rest of the run (a smaller transaction is only slower); a
 * committed checkpoint resets the count and the backoff.
 */
export class RetryPolicy {
  private readonly backoff: Backoff;
  private signature: string | undefined;
  private identical = 0;
  /** The divisor applied to the configured limits (a power of two). */
  private shrink = 1;

  constructor(
    private readonly options: {
      readonly maxRetries?: number;
      readonly maxIdenticalFailures?: number;
      readonly initialDelayMs?: number;
      /** The longest delay between attempts (default 30 s). */
      readonly maxDelayMs?: number;
    } = {},
  ) {
    this.backoff = new Backoff(options.initialDelayMs, options.maxDelayMs);
  }

  /** The limits the next attempt runs with: `base` divided by the shrink so far, never below 1. */
  limits(base: TransactionLimits): TransactionLimits {
    return {
      maxTables: base.maxTables === undefined ? undefined : Math.max(1, Math.floor(base.maxTables / this.shrink)),
      maxPendingEvents: Math.max(1, Math.floor(base.maxPendingEvents / this.shrink)),
    };
  }

  /** An attempt committed a checkpoint: whatever failed before is not repeating. */
  progressed(): void {
    this.backoff.reset();
    this.signature = undefined;
    this.identical = 0;
  }

  decide(failure: TributaryError): RetryDecision {
    if (!failure.retryable || (this.options.maxRetries ?? Infinity) <= this.backoff.attempts) return { action: 'stop' };
    let shrunk = false;
    if (!TRANSIENT.has(failure.code)) {
      const signature = signatureOf(failure);
      this.identical = signature === this.signature ? this.identical + 1 : 1;
      this.signature = signature;
      if (this.identical >= (this.options.maxIdenticalFailures ?? DEFAULT_MAX_IDENTICAL_FAILURES)) {
        return { action: 'stop' };
      }
      if (this.identical >= 2 || SIZE.has(failure.code)) {
        this.shrink *= 2;
        shrunk = true;
      }
    }
    return { action: 'retry', delayMs: this.backoff.next(), shrunk, identical: this.identical };
  }

  /** How many attempts have failed since the last progress. */
  get attempts(): number {
    return this.backoff.attempts;
  }
}

/** What makes two failures the same: the code and the driver's SQLSTATE or errno, not the message text. */
function signatureOf(failure: TributaryError): string {
  const cause = failure.cause as { code?: unknown } | undefined;
  return `${failure.code}:${typeof cause?.code === 'string' || typeof cause?.code === 'number' ? String(cause.code) : ''}`;
}
