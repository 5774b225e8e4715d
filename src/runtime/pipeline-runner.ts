import {
  asTributaryError,
  plural,
  SchemaChangeFailedError,
  TributaryError,
  tableIdToString,
  type ChangeBatch,
  type Checkpoint,
  type Operator,
  type OperatorState,
  type Sink,
  type Source,
  type SourcePosition,
  type StreamEvent,
  unpackEvents,
} from '../core/index.js';
import { sleep } from './backoff.js';
import type { Logger } from './logger.js';
import type { PipelineMetrics } from './pipeline-metrics.js';
import { RetryPolicy, type TransactionLimits } from './retry-policy.js';
import type { StateStore } from './state-store.js';
import { TableBudget } from './table-budget.js';
import {
  boundedClose,
  createWatchdogState,
  DEFAULT_STOP_TIMEOUT_MS,
  superviseAttempt,
  Watchdog,
  type WatchdogState,
} from './watchdog.js';

/** The connected parts of one pipeline attempt. A retry builds them anew (fresh connections). */
export interface PipelineParts {
  readonly source: Source;
  readonly sink: Sink;
  readonly operators: readonly Operator[];
}

export interface RunOptions {
  readonly name: string;
  readonly createParts: () => Promise<PipelineParts>;
  readonly stateStore: StateStore;
  readonly log: Logger;
  /** Upper bound on the time between checkpoints while changes flow. */
  readonly checkpointIntervalMs: number;
  /** Commit as soon as this many events are buffered in the sink (bounds memory). */
  readonly maxPendingEvents?: number;
  /**
   * After a batch that says the source caught up, commit only once no batch came for this long (default 0: at
   * once). A SQL job sets 25 ms (`SQL_CAUGHT_UP_LINGER_MS` in composer/sql-job.ts).
   */
  readonly caughtUpLingerMs?: number;
  /**
   * False: every snapshot row is decoded, even where each stage after the source takes packed reads
   * (`pipeline.snapshot.packed-reads`; for comparing the two paths). Default: true.
   */
  readonly packedReads?: boolean;
  /** Aborting stops the pipeline after a final checkpoint (a savepoint). */
  readonly signal?: AbortSignal;
  /** Give up after this many consecutive failed attempts on retryable errors (default: never). */
  readonly maxRetries?: number;
  /**
   * Stop after this many identical failures in a row (same code and SQLSTATE, no checkpoint between) that are
   * not transient; see {@link RetryPolicy}. Default 8.
   */
  readonly maxIdenticalFailures?: number;
  /** The first retry's delay (doubling up to `retryMaxDelayMs`); default 1 s. */
  readonly retryInitialDelayMs?: number;
  /** The longest delay between attempts; default 30 s. */
  readonly retryMaxDelayMs?: number;
  readonly onCheckpoint?: (checkpoint: Checkpoint, stats: CheckpointStats) => void;
  /** Resume the first attempt from this checkpoint (a savepoint) instead of the sink's last one. */
  readonly startFrom?: Checkpoint;
  readonly onStart?: (parts: PipelineParts) => void;
  /**
   * The watchdog's state (see watchdog.ts), updated as the pipeline runs, for status and metrics; its
   * `timeoutMs` is `pipeline.watchdog.timeout`. Default: a fresh state with the default timeout.
   */
  readonly watchdog?: WatchdogState;
  /** After the stop signal, how long the final checkpoint may take before it is skipped (default 10 s). */
  readonly stopTimeoutMs?: number;
  /** The registry the run reports into (rows per table, checkpoints, schema changes, failures). */
  readonly metrics?: PipelineMetrics;
  /**
   * Process the next batches while the sink commits a checkpoint (a SQL job): the operators' output waits in memory
   * until the commit is done, then goes to the sink for the next checkpoint. Each operator's `snapshotState` must
   * return a value later batches do not change, and its `checkpointCommitted` must commit that state, not the
   * current one (see `SqlOperator`). A commit in flight is awaited before the next one, before a schema event goes to
   * the sink, once it has run for the checkpoint interval, and at the end. Default: false (each commit is awaited
   * where it is made).
   */
  readonly overlapCommits?: boolean;
}

export interface CheckpointStats {
  /** Changes made durable by this checkpoint. */
  readonly events: number;
  /** How long the commit took. */
  readonly durationMs: number;
  /** Time since the previous checkpoint of this attempt. */
  readonly ageMs: number;
}

export interface RunResult {
  /** `stopped`: by the signal; `finished`: a bounded source (snapshot mode) reached its end. */
  readonly outcome: 'stopped' | 'finished';
  readonly lastCheckpoint: Checkpoint | null;
  readonly eventsApplied: number;
}

/**
 * Runs a pipeline until it is stopped or its bounded source ends. Each attempt resumes from the sink's last
 * committed checkpoint (falling back to the state store), so a retry after a retryable error — or a restart
 * after a crash — replays from exactly where the sink's data ends. Commits happen when the source has caught
 * up, when `maxPendingEvents` are buffered, or every `checkpointIntervalMs`; each commit writes the data, the
 * source position and the operators' state together, and each attempt restores the operators' state from the
 * checkpoint it resumes from.
 *
 * No attempt hangs for good: a watchdog (watchdog.ts) ends one that sees neither a batch nor a checkpoint for
 * `watchdog.timeoutMs` (PIPELINE_STALLED, retried like any retryable error), and after the stop signal the final
 * checkpoint gets `stopTimeoutMs` before it is skipped — the last committed checkpoint still holds.
 *
 * A batch is handed to the operators and the sink in pieces that end at a schema event, so that when the sink
 * cannot apply a schema change (SINK_SCHEMA_CHANGE_FAILED) and an operator takes the failure in
 * (`schemaChangeFailed`, under `try_evolve`), no event after it was shaped for the change yet.
 */
export async function runPipeline(options: RunOptions): Promise<RunResult> {
  const { metrics } = options;
  try {
    const result = await retryAttempts(options);
    if (metrics) metrics.state = result.outcome;
    return result;
  } catch (error) {
    if (metrics) metrics.state = 'failed';
    throw error;
  } finally {
    if (metrics) metrics.source = undefined;
  }
}

/** The attempts of {@link runPipeline}, each retried as the policy decides. */
async function retryAttempts(options: RunOptions): Promise<RunResult> {
  const { log, signal, metrics } = options;
  const policy = new RetryPolicy({
    ...(options.maxRetries === undefined ? {} : { maxRetries: options.maxRetries }),
    ...(options.maxIdenticalFailures === undefined ? {} : { maxIdenticalFailures: options.maxIdenticalFailures }),
    ...(options.retryInitialDelayMs === undefined ? {} : { initialDelayMs: options.retryInitialDelayMs }),
    ...(options.retryMaxDelayMs === undefined ? {} : { maxDelayMs: options.retryMaxDelayMs }),
  });
  let eventsApplied = 0;
  // Whether the attempt failed while committing (a checkpoint failure, for the metrics).
  const committing = { active: false };
  let lastCheckpoint: Checkpoint | null = null;
  const watchdogState = options.watchdog ?? createWatchdogState();

  for (;;) {
    let parts: PipelineParts | undefined;
    let progressed = false;
    try {
      parts = await options.createParts();
      const watchdog = new Watchdog(watchdogState, log);
      const onCommitted = (events: number, checkpoint: Checkpoint) => {
        eventsApplied += events;
        lastCheckpoint = checkpoint;
        progressed = true;
      };
      const attempt = await superviseAttempt(
        runAttempt(options, parts, policy.limits.bind(policy), onCommitted, watchdog, committing),
        {
          watchdog,
          signal,
          stopTimeoutMs: options.stopTimeoutMs ?? DEFAULT_STOP_TIMEOUT_MS,
          log,
        },
      );
      if (attempt === 'stop-timed-out') return { outcome: 'stopped', lastCheckpoint, eventsApplied };
      return { outcome: attempt, lastCheckpoint, eventsApplied };
    } catch (error) {
      const failure = asTributaryError(error);
      metrics?.failed(failure, committing.active);
      committing.active = false;
      if (progressed) policy.progressed();
      if (signal?.aborted && failure.retryable) {
        // Stopping: the final checkpoint failed on a connection that broke; nothing is lost.
        log.warn(
          `stopping without a final savepoint: ${failure.format()}\n  the last committed checkpoint still holds`,
        );
        return { outcome: 'stopped', lastCheckpoint, eventsApplied };
      }
      const decision = signal?.aborted ? ({ action: 'stop' } as const) : policy.decide(failure);
      if (decision.action === 'stop') throw failure;
      const delay = decision.delayMs;
      log.warn(`${failure.format()} — retrying in ${Math.round(delay / 1000)} s (attempt ${policy.attempts})`);
      if (decision.shrunk) logShrink(log, decision.identical, policy, parts?.sink, options);
      if (metrics) metrics.state = 'retrying';
      await closeQuietly(parts, log);
      parts = undefined;
      await sleep(delay, signal);
      if (signal?.aborted) return { outcome: 'stopped', lastCheckpoint, eventsApplied };
    } finally {
      await closeQuietly(parts, log);
    }
  }
}

async function runAttempt(
  options: RunOptions,
  parts: PipelineParts,
  limitsOf: (base: TransactionLimits) => TransactionLimits,
  onCommitted: (events: number, checkpoint: Checkpoint) => void,
  watchdog: Watchdog,
  committing: { active: boolean },
): Promise<'stopped' | 'finished'> {
  const { source, sink, operators } = parts;
  const { log, signal, stateStore, metrics } = options;
  const limits = limitsOf(baseLimits(sink, options));
  const maxPending = limits.maxPendingEvents;
  const overlap = options.overlapCommits === true;
  // The sink's open transaction touches at most this many tables: a commit never needs more than the sink has.
  const tables = new TableBudget(limits.maxTables);

  watchdog.waitingFor('the sink to open and read its checkpoint');
  const inSink = await sink.open(options.name);
  const local = await stateStore.load();
  let committed = sink.keepsCheckpoints === false ? local : inSink;
  if (sink.keepsCheckpoints !== false && !inSink && local) {
    log.warn(
      `the sink holds no checkpoint of pipeline ${options.name}, though ${stateStore.dir} has checkpoint ${local.id}: ` +
        'the sink is authoritative, so the pipeline starts over (a new snapshot)',
    );
  }
  if (sink.keepsCheckpoints !== false && inSink && local && local.id > inSink.id) {
    // Each checkpoint goes to the sink before the state store: the sink lost commits it had acknowledged.
    log.warn(
      `the sink's last checkpoint of pipeline ${options.name} is ${inSink.id}, older than checkpoint ${local.id} ` +
        `in ${stateStore.dir}: the sink lost data it had committed (restored from a backup, a failover to a copy ` +
        'that was behind); the sink is authoritative, so the changes after its checkpoint are delivered again',
    );
  }
  let nextId = Math.max(committed?.id ?? 0, local?.id ?? 0) + 1;
  if (options.startFrom && !startedFromSavepoint.has(options)) {
    startedFromSavepoint.add(options);
    committed = options.startFrom;
    log.info(`resuming from savepoint ${committed.id} (${committed.committedAt}) instead of the last checkpoint`);
  } else if (committed) {
    log.info(`resuming from checkpoint ${committed.id} (${committed.committedAt})`);
  }
  restoreOperators(operators, committed, log);
  if (limits.maxTables !== undefined) source.limitBatchTables?.(limits.maxTables);
  // Snapshot reads stay in the source's bytes while every stage after the source takes them so (see PackedRows).
  const packed =
    options.packedReads !== false &&
    sink.writePacked !== undefined &&
    operators.every((operator) => operator.processPacked !== undefined);
  if (packed && source.packReads !== undefined) {
    source.packReads();
    log.debug('snapshot reads stay packed from the source to the sink (pipeline.snapshot.packed-reads)');
  }
  watchdog.waitingFor('the source to open');
  await source.open(committed?.position ?? null);
  if (metrics) {
    metrics.source = source;
    metrics.state = 'running';
  }
  options.onStart?.(parts);

  let position: SourcePosition | null = committed?.position ?? null;
  let uncommittedPosition = false;
  let lastCommit = Date.now();
  let previousCommit = lastCommit;
  // Each checkpoint is logged at debug; at info a summary at most every CHECKPOINT_SUMMARY_MS (a snapshot
  // commits several times a second), the first one at once.
  const summary = { since: 0, checkpoints: 0, events: 0, startedAt: lastCommit };

  /** Takes the checkpoint at `position`: the operators' state there, with the sink's events up to it. */
  const cut = async (): Promise<Cut> => {
    const started = Date.now();
    const events = sink.pending();
    watchdog.waitingFor(`the operators' state for checkpoint ${nextId}`);
    const states: (OperatorState | null)[] = [];
    for (const operator of operators) states.push((await operator.snapshotState?.()) ?? null);
    const checkpoint: Checkpoint = {
      pipeline: options.name,
      id: nextId,
      position: position!,
      committedAt: new Date().toISOString(),
      ...(states.some((state) => state !== null) ? { operators: states } : {}),
    };
    uncommittedPosition = false;
    tables.clear();
    return { checkpoint, events, started, stated: Date.now() };
  };

  /** What follows the sink's commit of `taken`: the operators, the state store and the source learn of it. */
  const finish = async (taken: Cut, sunk: number): Promise<void> => {
    const { checkpoint, events, started, stated } = taken;
    // A commit that completes after the watchdog gave up belongs to an attempt that is being replaced.
    if (watchdog.abandoned)
      throw new TributaryError('PIPELINE_STALLED', 'a commit completed after its attempt was given up');
    watchdog.progressed();
    for (const operator of operators) await operator.checkpointCommitted?.();
    await stateStore.save(checkpoint);
    source.committed?.(checkpoint.position);
    nextId++;
    lastCommit = Date.now();
    onCommitted(events, checkpoint);
    const stats = { events, durationMs: lastCommit - started, ageMs: started - previousCommit };
    metrics?.checkpointCommitted(checkpoint.id, stats.durationMs, events);
    previousCommit = lastCommit;
    log.debug(
      `checkpoint ${checkpoint.id}: ${plural(events, 'change')} committed in ${stats.durationMs} ms, ` +
        `${Math.round(stats.ageMs / 100) / 10} s after the previous one ` +
        `(operators' state ${stated - started} ms, sink ${sunk - stated} ms, the rest ${lastCommit - sunk} ms)`,
    );
    summary.checkpoints++;
    summary.events += events;
    if (lastCommit - summary.since >= CHECKPOINT_SUMMARY_MS) {
      log.info(
        `committed ${plural(summary.events, 'change')} in ${plural(summary.checkpoints, 'checkpoint')} ` +
          `over ${Math.round((lastCommit - summary.startedAt) / 100) / 10} s (last: checkpoint ${checkpoint.id})`,
      );
      Object.assign(summary, { since: lastCommit, checkpoints: 0, events: 0, startedAt: lastCommit });
    }
    options.onCheckpoint?.(checkpoint, stats);
  };

  const nothingToCommit = () => {
    const nothing = !uncommittedPosition && sink.pending() === 0;
    if (nothing) tables.clear();
    return nothing || !position;
  };

  /** Commits a checkpoint and waits for it. */
  const commit = async () => {
    await settle();
    if (nothingToCommit()) return;
    const taken = await cut();
    watchdog.waitingFor(`the sink to commit checkpoint ${taken.checkpoint.id}`);
    committing.active = true;
    await sink.commit(taken.checkpoint);
    committing.active = false;
    await finish(taken, Date.now());
  };

  /**
   * The checkpoint whose commit runs while the next batches are processed (`RunOptions.overlapCommits`), and
   * the operators' output of those batches: the sink takes it once the commit is done.
   */
  let inFlight: InFlight | undefined;
  let held: (readonly StreamEvent[])[] = [];
  let heldEvents = 0;
  /** The events of the next checkpoint: while a commit is in flight, the sink's are that commit's. */
  const pendingEvents = () => (inFlight === undefined ? sink.pending() : 0) + heldEvents;

  /** Starts a checkpoint's commit ({@link commit} without `overlapCommits`) and returns. */
  const commitBehind = async () => {
    if (!overlap) return commit();
    await settle();
    if (nothingToCommit()) return;
    const taken = await cut();
    const flight: InFlight = {
      taken,
      sunk: 0,
      settled: false,
      waiters: new Set(),
      done: sink.commit(taken.checkpoint).then(() => {
        flight.sunk = Date.now();
      }),
    };
    // A failure is thrown where the commit is settled; meanwhile it must not count as unhandled.
    const wake = () => {
      flight.settled = true;
      for (const waiter of flight.waiters) waiter();
    };
    flight.done.then(wake, wake);
    inFlight = flight;
  };

  /** Waits for the commit in flight (if any), finishes it, and hands the sink what the operators held back. */
  const settle = async () => {
    const flight = inFlight;
    if (flight === undefined) return;
    watchdog.waitingFor(`the sink to commit checkpoint ${flight.taken.checkpoint.id}`);
    committing.active = true;
    await flight.done;
    committing.active = false;
    inFlight = undefined;
    await finish(flight.taken, flight.sunk);
    const pieces = held;
    held = [];
    heldEvents = 0;
    watchdog.waitingFor('the sink to take a batch');
    for (const events of pieces) await writeToSink(sink, operators, events, log);
  };

  const iterator = source.batches()[Symbol.asyncIterator]();
  let pull: Promise<IteratorResult<ChangeBatch>> = iterator.next();
  pull.catch(() => {});
  const linger = options.caughtUpLingerMs ?? 0;
  /** When the source last said it had caught up, with changes waiting (with a {@link RunOptions.caughtUpLingerMs}). */
  let caughtUpAt: number | undefined;
  for (;;) {
    // With changes waiting and the source quiet, commit when the interval is up rather than at the next batch —
    // or, once the source has caught up, when no batch came for the linger. A commit in flight for the interval
    // is waited for (then a commit that hangs is the watchdog's, even while the source's heartbeats come).
    const waiting = pendingEvents() > 0 || uncommittedPosition;
    const from = inFlight?.taken.started ?? lastCommit;
    let timeoutMs =
      waiting || inFlight !== undefined ? Math.max(0, options.checkpointIntervalMs - (Date.now() - from)) : undefined;
    if (timeoutMs !== undefined && caughtUpAt !== undefined) {
      timeoutMs = Math.min(timeoutMs, Math.max(0, caughtUpAt + linger - Date.now()));
    }
    watchdog.waitingFor("the source's next batch");
    const next = await nextOrInterrupt(pull, signal, timeoutMs, inFlight);
    if (next === ABORTED) {
      if (metrics) metrics.state = 'stopping';
      await commit();
      const last = await stateStore.load();
      if (last) log.info(`savepoint written: ${await stateStore.saveSavepoint(last)}`);
      return 'stopped';
    }
    if (next === LANDED) {
      await settle();
      continue;
    }
    if (next === INTERVAL) {
      if (inFlight !== undefined) {
        await settle();
        continue;
      }
      caughtUpAt = undefined;
      await commitBehind();
      continue;
    }
    if (next.done) {
      await commit();
      return 'finished';
    }
    const batch: ChangeBatch = next.value;
    caughtUpAt = undefined;
    watchdog.progressed();
    metrics?.sourceBatch(batch.events);
    // Commit first when this batch would take the transaction past the sink's table bound: everything before
    // `position` (the previous batch's end, a valid resume point) is in the sink.
    if (tables.wouldOverflow(batch.events)) await commit();
    tables.add(batch.events);
    watchdog.waitingFor('the sink to take a batch');
    for (const piece of piecesEndingAtSchemaEvents(batch.events)) {
      let events: readonly StreamEvent[] = piece;
      for (const operator of operators) {
        events = packed ? operator.processPacked!(events) : operator.process(unpackEvents(events));
      }
      // A schema event reaches the sink before the operators see what follows it (see writeToSink).
      if (inFlight !== undefined && events.some((event) => event.kind === 'schema')) await settle();
      if (inFlight === undefined) {
        await writeToSink(sink, operators, events, log);
      } else if (events.length > 0) {
        held.push(events);
        heldEvents += events.length;
      }
      metrics?.sinkBatch(events);
    }
    if (batch.events.length > 0 || JSON.stringify(batch.position) !== JSON.stringify(position)) {
      position = batch.position;
      uncommittedPosition = true;
    }
    // Ask for the next batch before committing, so the source reads while the sink commits.
    pull = iterator.next();
    pull.catch(() => {}); // handled when awaited; a failure during the commit must not count as unhandled
    if (inFlight !== undefined && inFlight.sunk === 0) {
      // With batches waiting in the source, the loop runs on microtasks alone: the sink's replies would wait in
      // their socket until the next commit. A turn of the event loop lets the commit go on (and finish below).
      await new Promise((resolve) => setImmediate(resolve));
    }
    if (inFlight?.sunk) await settle();
    // The interval counts from the last commit's end (a commit in flight has not ended).
    const due = inFlight === undefined && Date.now() - lastCommit >= options.checkpointIntervalMs;
    const caughtUp = batch.caughtUp && pendingEvents() > 0;
    if (pendingEvents() >= maxPending || due || tables.full || (caughtUp && linger === 0)) await commitBehind();
    else if (caughtUp) caughtUpAt = Date.now();
  }
}

/** A checkpoint taken: what its commit logs and reports. */
interface Cut {
  readonly checkpoint: Checkpoint;
  /** The sink's events it commits. */
  readonly events: number;
  /** When it was taken, and when the operators' state was. */
  readonly started: number;
  readonly stated: number;
}

/** A checkpoint the sink commits while the next batches are processed. */
interface InFlight extends Wake {
  readonly taken: Cut;
  /** Resolves when the sink committed it. */
  readonly done: Promise<void>;
  /** When the sink committed it (0: not yet). */
  sunk: number;
}

/** Something {@link nextOrInterrupt} waits for besides the source: settled, or the waiters it calls when it is. */
interface Wake {
  settled: boolean;
  readonly waiters: Set<() => void>;
}

/** The transaction limits the sink and the run options set, before any shrinking. */
function baseLimits(sink: Sink | undefined, options: RunOptions): TransactionLimits {
  // (The pending-event default stays here rather than in RetryPolicy: the runner owns the commit triggers.)
  return { maxTables: sink?.maxTablesPerCommit, maxPendingEvents: options.maxPendingEvents ?? 50_000 };
}

function logShrink(
  log: Logger,
  identical: number,
  policy: RetryPolicy,
  sink: Sink | undefined,
  options: RunOptions,
): void {
  const base = baseLimits(sink, options);
  const next = policy.limits(base);
  log.warn(
    `the same failure ${identical === 1 ? 'once' : `${identical} times in a row`}: the next attempt commits every ` +
      `${next.maxTables === undefined ? '' : `${next.maxTables} tables or `}${next.maxPendingEvents} events ` +
      `(configured: ${base.maxTables === undefined ? '' : `sink option commit.max-tables ${base.maxTables}, `}${base.maxPendingEvents} events)`,
  );
}

/** Hands the operators the state committed with `checkpoint`, if it has any. */
export function restoreOperators(operators: readonly Operator[], checkpoint: Checkpoint | null, log: Logger): void {
  const states = checkpoint?.operators;
  if (states === undefined) return;
  if (states.length !== operators.length) {
    log.warn(
      `checkpoint ${checkpoint?.id} holds the state of ${plural(states.length, 'operator')}, the pipeline has ${operators.length}: ` +
        'their state is not restored',
    );
    return;
  }
  operators.forEach((operator, i) => {
    const state = states[i];
    if (state !== null && state !== undefined) operator.restoreState?.(state);
  });
}

/**
 * `events` cut after each schema event (one piece, uncopied, when there is none), so that an operator learns of a
 * schema change the sink could not apply before it processes the events behind it. A run of createTable events
 * of distinct tables stays one piece (the start of a pipeline of 1,000 tables): none of them bears on another's
 * table, and the sink creates them together.
 */
function piecesEndingAtSchemaEvents(events: readonly StreamEvent[]): (readonly StreamEvent[])[] {
  if (!events.some((event) => event.kind === 'schema')) return [events];
  const pieces: StreamEvent[][] = [];
  let piece: StreamEvent[] = [];
  let creating = new Set<string>();
  for (const [i, event] of events.entries()) {
    piece.push(event);
    if (event.kind !== 'schema') continue;
    const next = events[i + 1];
    if (event.change === 'createTable' && next?.kind === 'schema' && next.change === 'createTable') {
      creating.add(tableIdToString(event.table));
      if (!creating.has(tableIdToString(next.table))) continue;
    }
    pieces.push(piece);
    piece = [];
    creating = new Set();
  }
  if (piece.length > 0) pieces.push(piece);
  return pieces;
}

/**
 * Writes `events`. A schema change the sink could not apply (and undid) is skipped when an operator takes the
 * failure in; the events after it, which the sink did not write, are written then. Otherwise its error stops
 * the attempt (not retryable: the same change fails the same way).
 */
async function writeToSink(
  sink: Sink,
  operators: readonly Operator[],
  events: readonly StreamEvent[],
  log: Logger,
): Promise<void> {
  let rest = events;
  while (rest.length > 0) {
    try {
      await (sink.writePacked !== undefined ? sink.writePacked(rest) : sink.write(unpackEvents(rest)));
      return;
    } catch (error) {
      if (!(error instanceof SchemaChangeFailedError)) throw error;
      const index = rest.indexOf(error.event);
      if (index < 0 || !operators.some((operator) => operator.schemaChangeFailed?.(error.event) === true)) throw error;
      log.warn(
        `${error.format()}\n  skipped (schema.change.behavior: try_evolve): ${tableIdToString(error.event.table)} ` +
          'keeps its schema, and the rows that follow are written in it',
      );
      rest = rest.slice(index + 1);
    }
  }
}

/** The shortest time between two info-level checkpoint summaries. */
const CHECKPOINT_SUMMARY_MS = 10_000;

/** Run options whose savepoint was used already: a retry resumes from the sink's checkpoint instead. */
const startedFromSavepoint = new WeakSet<RunOptions>();

const ABORTED = Symbol('aborted');
const INTERVAL = Symbol('interval');
const LANDED = Symbol('landed');

/**
 * Waits for `pull`, the abort signal, `timeoutMs`, or `commit` (a commit in flight) to settle, whichever comes
 * first. Everything it registers is removed when it settles: racing against a long-lived promise instead would keep
 * every batch reachable.
 */
function nextOrInterrupt<T>(
  pull: Promise<T>,
  signal: AbortSignal | undefined,
  timeoutMs: number | undefined,
  commit?: Wake,
): Promise<T | typeof ABORTED | typeof INTERVAL | typeof LANDED> {
  if (signal?.aborted) return Promise.resolve(ABORTED);
  if (commit?.settled === true) return Promise.resolve(LANDED);
  return new Promise((resolve, reject) => {
    const removeAll = () => {
      signal?.removeEventListener('abort', onAbort);
      clearTimeout(timer);
      commit?.waiters.delete(onLanded);
    };
    const finish = (value: T | typeof ABORTED | typeof INTERVAL | typeof LANDED) => {
      removeAll();
      resolve(value);
    };
    const onAbort = () => finish(ABORTED);
    signal?.addEventListener('abort', onAbort, { once: true });
    const timer = timeoutMs === undefined ? undefined : setTimeout(() => finish(INTERVAL), timeoutMs);
    // A failed commit is thrown where it is settled.
    const onLanded = () => finish(LANDED);
    commit?.waiters.add(onLanded);
    pull.then(finish, (error: unknown) => {
      removeAll();
      reject(error instanceof Error ? error : new Error(String(error)));
    });
  });
}

async function closeQuietly(parts: PipelineParts | undefined, log: Logger): Promise<void> {
  if (!parts) return;
  for (const operator of parts.operators) {
    try {
      await operator.close?.();
    } catch (error) {
      // An operator's state write that failed at the end: the next run catches it up from the sink's checkpoint.
      log.warn(`while closing: ${asTributaryError(error).message}`);
    }
  }
  const closing = Promise.allSettled([parts.source.close(), parts.sink.close()]).then((results) => {
    for (const result of results) {
      if (result.status === 'rejected') log.debug(`while closing: ${asTributaryError(result.reason).message}`);
    }
  });
  await boundedClose(closing, CLOSE_TIMEOUT_MS, log, 'closing the source and sink');
}

/** Connectors bound their own goodbyes (a few seconds); this is the backstop, so a restart never hangs on one. */
const CLOSE_TIMEOUT_MS = 15_000;
