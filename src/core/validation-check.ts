import type { ErrorCode } from './errors.js';

/**
 * One line of `tributary validate`'s checklist: what was checked and how it came out. A `warning` lets the
 * pipeline run but names something a user should change (a binlog kept too briefly, shards whose keys
 * collide); an `error` is what `run` would stop with, carrying the same code and fix.
 */
export interface ValidationCheck {
  readonly status: 'ok' | 'warning' | 'error';
  /** What was found, e.g. `binlog_format=ROW` or `binlog_expire_logs_seconds is 600 (10 min)`. */
  readonly message: string;
  /** What to change, and where (warnings and errors). */
  readonly fix?: string;
  /** The error's code (errors), or the code a warning turns into when made strict. */
  readonly code?: ErrorCode;
}
