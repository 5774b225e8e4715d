import { TributaryError } from '../core/index.js';
import type { Logger } from './logger.js';

/** Default of `pipeline.watchdog.timeout`: longer than every connection deadline, so those speak first. */
export const DEFAULT_WATCHDOG_TIMEOUT_MS = 5 * 60_000;

/**
 * Default bound on the final checkpoint (savepoint) after a stop signal: well inside the 30 s an orchestrator
 * (Kubernetes, systemd) commonly allows between SIGTERM and SIGKILL.
 */
export const DEFAULT_STOP_TIMEOUT_MS = 10_000;

/**
 * The watchdog's view of the running pipeline, kept up to date by the runner: what status pages and metrics
 * read. One object for the whole run, across attempts.
 */
export interface WatchdogState {
  /** `pipeline.watchdog.timeout` in ms (0: the watchdog is off). */
  timeoutMs: number;
  /** What the runner waits for right now, in words ("the source's next batch", "the sink to commit checkpoint 7"). */
  waitingFor: string;
  /** When a batch last arrived or a checkpoint last completed (ms since the epoch). */
  lastProgressAt: number;
  /** How often the watchdog restarted an attempt. */
  stalls: number;
  /** The last restart: when, and what the runner had waited for. */
  lastStall: { readonly at: number; readonly waitingFor: string } | undefined;
}

export function createWatchdogState(timeoutMs = DEFAULT_WATCHDOG_TIMEOUT_MS): WatchdogState {
  return {
    timeoutMs,
    waitingFor: 'the pipeline to start',
    lastProgressAt: Date.now(),
    stalls: 0,
    lastStall: undefined,
  };
}

/**
 * Watches one attempt: when neither a batch arrives from the source nor a checkpoint completes for
 * `state.timeoutMs`, it logs what the runner was waiting for and rejects `stalled` with PIPELINE_STALLED
 * (retryable), which ends the attempt; the runner then resumes from the last checkpoint as after any
 * retryable error. A source that is caught up and waiting on a live log is not a stall: its heartbeats come
 * through as (empty) batches and feed the watchdog, so only a silent link — or a hang nothing else noticed —
 * trips it.
 *
 * A tick that comes late (a blocked event loop) starts the wait over instead of counting the block as silence.
 */
export class Watchdog {
  /** Rejects with PIPELINE_STALLED when the attempt stalls; never resolves. Handled: no unhandled rejection. */
  readonly stalled: Promise<never>;
  private expired = false;
  private readonly timer: NodeJS.Timeout | undefined;

  constructor(
    private readonly state: WatchdogState,
    log: Logger,
  ) {
    state.lastProgressAt = Date.now();
    let reject: (error: TributaryError) => void = () => undefined;
    this.stalled = new Promise<never>((_, r) => (reject = r));
    this.stalled.catch(() => undefined);
    const timeoutMs = state.timeoutMs;
    if (timeoutMs <= 0) return;
    const tickMs = Math.max(50, Math.min(1000, Math.floor(timeoutMs / 10)));
    let lastTick = Date.now();
    this.timer = setInterval(() => {
      const now = Date.now();
      if (now - lastTick > 3 * tickMs) state.lastProgressAt = Math.max(state.lastProgressAt, now - tickMs);
      lastTick = now;
      const silentMs = now - state.lastProgressAt;
      if (silentMs < timeoutMs) return;
      this.stop();
      this.expired = true;
      state.stalls++;
      state.lastStall = { at: now, waitingFor: state.waitingFor };
      const seconds = Math.round(silentMs / 1000);
      log.warn(
        `watchdog: no batch from the source and no checkpoint for ${seconds} s while waiting for ${state.waitingFor}; ` +
          'restarting from the last checkpoint',
      );
      reject(
        new TributaryError(
          'PIPELINE_STALLED',
          `the pipeline made no progress for ${seconds} s (it was waiting for ${state.waitingFor})`,
          {
            hint:
              'transient: the attempt restarts from the last checkpoint. If it repeats, look at the connection to the ' +
              'part named; `pipeline.watchdog.timeout` sets how long a stall may last',
          },
        ),
      );
    }, tickMs);
    this.timer.unref();
  }

  /** A batch arrived or a checkpoint completed. */
  progressed(): void {
    this.state.lastProgressAt = Date.now();
  }

  /** What the runner waits for from now on (for the warning and the status). */
  waitingFor(what: string): void {
    this.state.waitingFor = what;
  }

  /** What the runner waits for now. */
  get waiting(): string {
    return this.state.waitingFor;
  }

  /** True once the watchdog gave up on this attempt: nothing it started may take effect any more. */
  get abandoned(): boolean {
    return this.expired;
  }

  stop(): void {
    clearInterval(this.timer);
  }
}

export interface SuperviseOptions {
  readonly watchdog: Watchdog;
  readonly signal: AbortSignal | undefined;
  /** After the stop signal, how long the attempt may take for its final checkpoint. */
  readonly stopTimeoutMs: number;
  readonly log: Logger;
}

/**
 * Waits for `attempt`, but not forever: a stall (the watchdog) throws PIPELINE_STALLED, and after the stop
 * signal an attempt that has not ended within `stopTimeoutMs` — its final checkpoint hangs on a connection
 * that does not answer — is given up with a clear line: the savepoint is skipped, and the last committed
 * checkpoint still holds, so nothing is lost. The abandoned attempt's promise is kept from raising an
 * unhandled rejection; closing its parts (the caller's job) makes it fail soon.
 */
export async function superviseAttempt<T>(
  attempt: Promise<T>,
  options: SuperviseOptions,
): Promise<T | 'stop-timed-out'> {
  const { watchdog, signal, stopTimeoutMs, log } = options;
  let timer: NodeJS.Timeout | undefined;
  let onAbort: (() => void) | undefined;
  const stopBound = new Promise<'stop-timed-out'>((resolve) => {
    const arm = () => {
      timer = setTimeout(() => resolve('stop-timed-out'), stopTimeoutMs);
      timer.unref();
    };
    if (signal?.aborted) arm();
    else if (signal) signal.addEventListener('abort', (onAbort = arm), { once: true });
  });
  try {
    const outcome = await Promise.race([attempt, watchdog.stalled, stopBound]);
    if (outcome === 'stop-timed-out') {
      attempt.catch(() => undefined);
      log.warn(
        `stopping without a final savepoint: the pipeline did not finish within ${Math.round(stopTimeoutMs / 1000)} s ` +
          `of the stop signal (it was waiting for ${watchdog.waiting}); the last committed checkpoint still holds`,
      );
    }
    return outcome;
  } catch (error) {
    attempt.catch(() => undefined);
    throw error;
  } finally {
    clearTimeout(timer);
    if (onAbort) signal?.removeEventListener('abort', onAbort);
    watchdog.stop();
  }
}

/** Awaits `work`, giving up after `ms` with a debug line: closing a hung connection must not hang a restart. */
export async function boundedClose(work: Promise<unknown>, ms: number, log: Logger, what: string): Promise<void> {
  let timer: NodeJS.Timeout | undefined;
  const expired = new Promise<'expired'>((resolve) => {
    timer = setTimeout(() => resolve('expired'), ms);
    timer.unref();
  });
  try {
    const outcome = await Promise.race([work.then(() => 'done' as const), expired]);
    if (outcome === 'expired')
      log.warn(`${what} did not finish within ${Math.round(ms / 1000)} s; going on without it`);
  } finally {
    clearTimeout(timer);
  }
}
