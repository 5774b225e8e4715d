import {
  TributaryError,
  primaryKeyIndexes,
  tableIdToString,
  type ChangeBatch,
  type ChangeEvent,
  type Row,
  type StreamEvent,
  type RepairOutcome,
  type SourcePosition,
  type SourceInfo,
  type SourceProgress,
} from '../../core/index.js';
import type { Logger } from '../../core/logger.js';
import { BatchTables } from './batch-tables.js';
import { RepairJobs, type RepairRange } from './repair-jobs.js';
import { decodedRows, isPacked, keyString, tableKeyOf, type ChunkWindow, type SnapshotTable } from './chunk-window.js';
import { keyDelivered, keyInRange } from './snapshot-delivery.js';
import { SnapshotCoordinator, type ChunkTicket } from './snapshot-coordinator.js';
import {
  addTables,
  markChunkDone,
  removeTables,
  type SnapshotProgress,
  type TableSnapshotProgress,
} from './snapshot-progress.js';
import { stepBefore, stepPosition, type LogReader, type LogStep, type SourceDialect } from './source-dialect.js';

/** Log steps held back while a chunk is being read, before the source stops pulling more. */
const HOLD_LIMIT = 20_000;
/** The key of a log step's rows that no snapshot needs to reconcile (none is looked up). */
const NO_KEY: readonly number[] = [];

/**
 * The `source` of every snapshot read: one shared, frozen object instead of one per row (a snapshot's rows are
 * the bulk of what the pipeline allocates, and every object per row is garbage-collector work).
 */
const SNAPSHOT_READ: SourceInfo = Object.freeze({ tsMs: 0 });

/**
 * How a log change of a row stands to its table's snapshot: its chunk went out (`delivered`), or not — and then
 * either the chunk will hold the change (`drop` it) or the kit cannot tell (`pending`: pass it on, marked).
 */
type Delivery = 'delivered' | 'drop' | 'pending';

/** Above this many tables to snapshot, finished tables are logged as a count, every this many. */
const TABLES_PER_PROGRESS_LINE = 100;

export interface DblogMergeOptions<Offset, Step extends LogStep<Offset>, Table extends SnapshotTable> {
  readonly log: Logger;
  /** The log's name in messages (`binlog`, `WAL`). */
  readonly logName: string;
  /** The captured table as it is now, by `namespace.name` (undefined: not captured, or dropped). */
  readonly tableFor: (key: string) => Table | undefined;
  /** Rows per chunk (`scan.incremental.snapshot.chunk.size`). */
  readonly chunkSize: number;
  /** Chunks read at once (`pipeline.parallelism`). */
  readonly parallelism: number;
  /** Cap on snapshot rows read per second over all readers (undefined: no cap). */
  readonly rowsPerSecond: number | undefined;
  /** Keys changed while a chunk is out of hand that it remembers before it is read again (tests lower it). */
  readonly maxChangedKeys?: number;
  /**
   * Applies one log step in order: emits its changes onto `out` and moves the source's resume position. The
   * kit has already emitted every chunk that goes before the step, noted a rows step's keys in the open chunk
   * windows, and moved {@link DblogMerge.logPosition} to the step's position. A promise only where the step must
   * wait (a DDL that reads the catalog): most steps of a busy log are a transaction's begin, rows and commit, and an
   * `await` for each of them was a microtask and a promise per step.
   */
  readonly applyStep: (step: Step, out: ChangeEvent[]) => void | Promise<void>;
  /** The source's resume position now (it includes {@link DblogMerge.snapshot}). */
  readonly position: () => SourcePosition;
  /** The error to throw for a chunk reader's failure (the source classifies its driver's errors). */
  readonly snapshotError: (error: Error) => Error;
}

/** What a merge starts with. */
export interface DblogMergeStart<Offset, Step extends LogStep<Offset>, Table extends SnapshotTable> {
  readonly dialect: SourceDialect<Offset, Step, Table>;
  /** Where the log is read from. */
  readonly logPosition: Offset;
  /** Snapshot only (startup mode `snapshot`): no log is opened; the stream ends with the snapshot. */
  readonly snapshotOnly: boolean;
  /** The tables still to snapshot (from the saved position, or every table on a first run); undefined: none. */
  readonly snapshot: SnapshotProgress | undefined;
}

/**
 * The DBLog merge of a source's log with its snapshot chunks into one stream in source history order per key
 * (design.md §2), for any database that gives a {@link SnapshotDialect} and a log of {@link LogStep}s.
 *
 * The log reader starts first and never stops. A chunk is read in its own short consistent snapshot; from the
 * moment a chunk read begins until its rows are in hand, log steps are held back, because the chunk's rows
 * must be emitted exactly where its high watermark lies in the log: every change ending at or before the
 * watermark goes out before the rows, every later one after them (see ChunkWindow). The snapshot progress
 * (chunks delivered, tables left) lives here and goes into the source's position.
 */
export class DblogMerge<Offset, Step extends LogStep<Offset>, Table extends SnapshotTable> {
  private closed = false;
  private coordinator: SnapshotCoordinator<Offset, Table> | undefined;
  private reader: LogReader<Step> | undefined;
  private dialect: SourceDialect<Offset, Step, Table> | undefined;
  private progressSnapshot: SnapshotProgress | undefined;
  private tablesTotal = 0;
  private position: Offset | undefined;
  /** Log steps pulled so far; a chunk ticket remembers the count at its registration. */
  private pulled = 0;
  /** Steps pulled but not yet applied, each with its pull number. */
  private held: { step: Step; seq: number }[] = [];
  /** Waiters for the snapshot readers' news (a watermark, rows ready, an error); see {@link waitForWake}. */
  private readonly wakers = new Set<() => void>();
  /** Snapshot progress moved since the last batch (a batch must carry it even without events). */
  private progressChanged = false;
  /** Distinct tables per batch, at most (see {@link limitBatchTables}). */
  private maxBatchTables = Number.POSITIVE_INFINITY;
  /** Batches handed over so far; each batch's position object remembers its number (see {@link committed}). */
  private batchCount = 0;
  private readonly batchNumbers = new WeakMap<SourcePosition, number>();
  private readonly repairs = new RepairJobs();
  /** The progress of each table in the snapshot, by key, as of {@link indexedProgress}. */
  private progressByTable = new Map<string, TableSnapshotProgress>();
  private indexedProgress: SnapshotProgress | undefined;

  constructor(private readonly options: DblogMergeOptions<Offset, Step, Table>) {}

  /** The tables whose snapshot is not complete; undefined once every one is (saved with the position). */
  get snapshot(): SnapshotProgress | undefined {
    return this.progressSnapshot;
  }

  /** The position of the last log step applied (emitted or not); undefined before {@link start}. */
  get logPosition(): Offset | undefined {
    return this.position;
  }

  /** True while the log is open (not snapshot-only, not closed). */
  get streaming(): boolean {
    return this.reader !== undefined;
  }

  /** Opens the log and starts the snapshot readers (the log is pulled only by {@link batches}). */
  async start(start: DblogMergeStart<Offset, Step, Table>): Promise<void> {
    this.dialect = start.dialect;
    this.position = start.logPosition;
    if (!start.snapshotOnly) this.reader = await start.dialect.openLog(start.logPosition);
    this.progressSnapshot = start.snapshot;
    this.tablesTotal = start.snapshot?.tables.length ?? 0;
    const { options } = this;
    this.coordinator = new SnapshotCoordinator({
      dialect: start.dialect,
      tableFor: options.tableFor,
      chunkSize: options.chunkSize,
      parallelism: Math.max(1, options.parallelism),
      rowsPerSecond: options.rowsPerSecond,
      maxChangedKeys: options.maxChangedKeys,
      pulledSteps: () => this.pulled,
      onChange: () => this.wake(),
      log: options.log,
    });
    this.coordinator.schedule(this.progressSnapshot);
  }

  /** A table that appeared (created, renamed into the pattern) is snapshotted beside the log. */
  addTable(key: string): void {
    this.progressSnapshot = addTables(this.progressSnapshot, [key]);
    this.tablesTotal++;
    this.coordinator?.schedule(this.progressSnapshot);
  }

  /**
   * Reads `ranges` of `table` again beside the log (`verify --repair` of a running pipeline): each is read in a
   * chunk window like a snapshot chunk and goes out at its high watermark, its rows as upserts, its `deletes`
   * keys as deletes where the window shows the source has no such row. Resolves once a checkpoint holding all
   * of it committed ({@link committed}); rejects with REPAIR_INTERRUPTED when the source closes first.
   */
  repair(table: Table, ranges: readonly RepairRange[]): Promise<RepairOutcome> {
    if (!this.reader || !this.coordinator || this.closed) {
      throw new TributaryError('REPAIR_INTERRUPTED', `the source is not streaming the ${this.options.logName}`, {
        hint: 'repair while the pipeline streams changes, or stop it and run verify --repair',
      });
    }
    const job = this.repairs.start(ranges.length);
    for (const { lo, hi, deletes } of ranges) {
      this.coordinator.readAgain({ table, lo, hi, repair: { deletes, emitted: job.emitted } });
    }
    return job.outcome;
  }

  /** The runtime committed a checkpoint with `position` (a position this merge handed over). */
  committed(position: SourcePosition): void {
    const batch = this.batchNumbers.get(position);
    if (batch !== undefined) this.repairs.committed(batch);
  }

  /** Takes a table out of the snapshot (dropped or renamed at the source). */
  forgetTable(key: string): void {
    this.progressSnapshot = removeTables(this.progressSnapshot, [key]);
  }

  /** Whether the table's snapshot is still in progress. */
  inSnapshot(key: string): boolean {
    return this.progressSnapshot?.tables.some((t) => t.table === key) ?? false;
  }

  /**
   * Batches are cut once they hold events of `maxTables` tables, at positions that are resume points: between
   * the tables' schema events at the start (they do not move the position), after a snapshot chunk (the
   * position records it as delivered), after a log step (the source's position must be a resume point after
   * every step, e.g. by counting the rows of a transaction already emitted).
   */
  limitBatchTables(maxTables: number): void {
    this.maxBatchTables = Math.max(1, maxTables);
  }

  /**
   * The merged stream: first `schemaEvents` (one per captured table), then chunks and log changes in order,
   * until {@link close} or, snapshot-only, until the snapshot is done.
   */
  async *batches(schemaEvents: readonly ChangeEvent[]): AsyncGenerator<ChangeBatch> {
    for await (const batch of this.merged(schemaEvents)) {
      const chunks = this.chunksHandedOver;
      this.chunksHandedOver = 0;
      yield batch;
      // Taken: the pipeline handed the batch to the sink (and the sink's write of the batch before is done).
      // Until now its chunks counted as in hand, so readers did not read further ahead than the sink takes.
      this.coordinator?.released(chunks);
    }
  }

  /** Chunks emitted into the batch being built (see {@link SnapshotCoordinator.handedOver}). */
  private chunksHandedOver = 0;

  /** {@link batches} before the hand-over accounting. */
  private async *merged(schemaEvents: readonly ChangeEvent[]): AsyncGenerator<ChangeBatch> {
    const { options } = this;
    const slice = Number.isFinite(this.maxBatchTables) ? this.maxBatchTables : Math.max(1, schemaEvents.length);
    for (let start = 0; start === 0 || start < schemaEvents.length; start += slice) {
      yield this.batch(schemaEvents.slice(start, start + slice), false);
    }
    const reader = this.reader;
    if (!reader) {
      yield* this.snapshotOnly();
      return;
    }
    let pending: ReturnType<LogReader<Step>['next']> | undefined;
    while (!this.closed) {
      this.throwSnapshotError();
      const out: StreamEvent[] = [];
      const tables = new BatchTables(out, this.maxBatchTables);
      const wasSnapshotting = this.progressSnapshot !== undefined;
      await this.drainHeld(out, tables);
      // Chunks whose watermark the log has already passed (or reached, when it is idle).
      for (const ticket of this.readyTickets()) {
        if (tables.full) break;
        if (this.compare(this.position!, ticket.high!) >= 0 && this.held.length === 0) this.emitChunk(ticket, out);
      }
      if (out.length > 0 || this.progressChanged) {
        this.progressChanged = false;
        // The snapshot's end is a good moment to commit, whatever else is buffered.
        yield this.batch(out, wasSnapshotting && !this.progressSnapshot);
        continue;
      }
      // Stop pulling while too much is held, and after a held DDL: the steps behind it must be decoded with
      // the schema the DDL produces, which is known only once the DDL step is applied.
      if (this.held.length >= HOLD_LIMIT || this.held[this.held.length - 1]?.step.kind === 'ddl') {
        await this.waitForWake().promise;
        continue;
      }
      pending ??= reader.next();
      const woke = this.waitForWake();
      const result = await Promise.race([pending, woke.promise]).finally(() => woke.cancel());
      if (result === WOKEN) continue;
      pending = undefined;
      if (result === null) {
        if (this.closed) return;
        // Outside snapshot mode the log never ends: the server went away (a restart ends it cleanly).
        throw new TributaryError('SOURCE_CONNECTION_LOST', `the server ended the ${options.logName} stream`, {
          hint: 'transient: the pipeline reconnects and resumes from its last checkpoint',
        });
      }
      for (const step of result.steps) this.held.push({ step, seq: ++this.pulled });
      await this.drainHeld(out, tables);
      yield this.batch(out, result.caughtUp && this.held.length === 0 && !this.coordinator?.busy);
    }
  }

  /** The snapshot part of the source's progress (`estimates`: row estimates by `namespace.name`). */
  snapshotProgress(estimates: ReadonlyMap<string, number>): Omit<SourceProgress, 'phase' | 'logPosition' | 'lagMs'> {
    const left = this.progressSnapshot?.tables.length ?? 0;
    const byTable = this.coordinator?.rowsReadByTable;
    return {
      snapshotTablesDone: this.tablesTotal - left,
      snapshotTablesTotal: this.tablesTotal,
      snapshotRowsRead: this.coordinator?.rowsRead ?? 0,
      snapshotChunksRead: this.coordinator?.chunksRead ?? 0,
      ...(byTable ? { snapshotRowsByTable: byTable } : {}),
      snapshotChunkSize: this.options.chunkSize,
      ...(estimates.size === 0 ? {} : { snapshotRowsEstimate: [...estimates.values()].reduce((a, b) => a + b, 0) }),
      ...(this.progressSnapshot
        ? {
            snapshotTables: this.progressSnapshot.tables.map(({ table }) => ({
              table,
              rowsRead: byTable?.get(table) ?? 0,
              rowsEstimate: estimates.get(table),
            })),
          }
        : {}),
    };
  }

  /** Closes the log and the snapshot readers; ends {@link batches}. */
  async close(): Promise<void> {
    this.closed = true;
    this.repairs.failAll();
    this.wake();
    const closing: Promise<void>[] = [];
    if (this.reader) closing.push(this.reader.close());
    if (this.coordinator) closing.push(this.coordinator.close());
    this.coordinator = undefined;
    this.reader = undefined;
    await Promise.allSettled(closing);
  }

  /** The next batch, numbered: its position object is how {@link committed} finds it. */
  private batch(events: readonly StreamEvent[], caughtUp: boolean): ChangeBatch {
    const position = this.options.position();
    this.batchNumbers.set(position, ++this.batchCount);
    return { events, position, caughtUp };
  }

  private compare(a: Offset, b: Offset): number {
    return this.dialect!.compareOffsets(a, b);
  }

  /** Snapshot-only mode: chunks go out as they are read; each is consistent at its own watermark. */
  private async *snapshotOnly(): AsyncGenerator<ChangeBatch> {
    while (!this.closed && this.progressSnapshot) {
      this.throwSnapshotError();
      const out: StreamEvent[] = [];
      const tables = new BatchTables(out, this.maxBatchTables);
      for (const ticket of this.readyTickets()) {
        if (tables.full) break;
        this.emitChunk(ticket, out);
      }
      if (out.length > 0 || !this.progressSnapshot || this.progressChanged) {
        this.progressChanged = false;
        yield this.batch(out, !this.progressSnapshot);
        continue;
      }
      if (!this.coordinator?.busy) break;
      await this.waitForWake().promise;
    }
    this.throwSnapshotError();
  }

  /** Chunks whose rows are read, in watermark order. */
  private readyTickets(): ChunkTicket<Offset, Table>[] {
    return (this.coordinator?.tickets ?? [])
      .filter((t) => t.window !== undefined)
      .sort((a, b) => this.compare(a.high!, b.high!));
  }

  /**
   * Applies held log steps in order for as long as no chunk still being read could have to go before them: a
   * step pulled after a chunk's registration may lie beyond the chunk's high watermark, so it waits until
   * that watermark is known (MariaDB: when the consistent snapshot starts) and, if it lies beyond, until the
   * chunk's rows are in hand.
   */
  private async drainHeld(out: StreamEvent[], tables: BatchTables): Promise<void> {
    const compare = (a: Offset, b: Offset) => this.compare(a, b);
    // A detached chunk (read by another process) holds nothing back: the keys the log changes meanwhile are
    // dropped from it (`early`), so it may go out at any point at or after its high watermark.
    const unread = (this.coordinator?.tickets ?? []).filter((t) => t.window === undefined && !t.detached);
    let emitted = 0;
    for (const { step, seq } of this.held) {
      if (tables.full) break;
      if (!unread.every((t) => seq <= t.registeredAt || (t.high !== undefined && stepBefore(step, t.high, compare))))
        break;
      const applying = this.applyStep(step, out);
      if (applying !== undefined) await applying;
      emitted++;
    }
    if (emitted > 0) this.held = this.held.slice(emitted);
  }

  /**
   * One log step in order: first the chunks that go before it, then the step itself (the source's part). A promise
   * only when the source's part returned one (see {@link DblogMergeOptions.applyStep}).
   */
  private applyStep(step: Step, out: StreamEvent[]): void | Promise<void> {
    // Streaming with no chunk in hand (each step of a catch-up): no tickets to sort.
    if (this.coordinator !== undefined && this.coordinator.tickets.length > 0) {
      const compare = (a: Offset, b: Offset) => this.compare(a, b);
      for (const ticket of this.readyTickets()) {
        if (!stepBefore(step, ticket.high!, compare)) this.emitChunk(ticket, out);
      }
    }
    this.position = stepPosition(step) ?? this.position;
    let delivery: Map<string, Delivery> | undefined;
    let keyIndexes: readonly number[] = NO_KEY;
    if (step.kind === 'rows') {
      const table = this.options.tableFor(step.table);
      const progress = table === undefined ? undefined : this.tableProgress(step.table);
      let kept = step.rows;
      if (table !== undefined && progress !== undefined) {
        keyIndexes = primaryKeyIndexes(table.schema);
        delivery = new Map();
        const notDropped: Row[] = [];
        for (const row of step.rows) {
          const rowDelivery = this.delivery(progress, row, keyIndexes, step.end);
          delivery.set(keyString(row, keyIndexes), rowDelivery);
          if (rowDelivery !== 'drop') notDropped.push(row);
        }
        kept = notDropped;
      }
      // Changes inside a chunk's window (low, high] are newer than the chunk's copy of those keys. A chunk whose
      // rows are not in hand yet keeps its table's changes for when they are (see emitChunk) — not those dropped
      // here, which the chunk holds.
      for (const ticket of this.coordinator?.tickets ?? []) {
        const window = ticket.window;
        if (window === undefined) {
          if (tableKeyOf(ticket.range.table) === step.table) ticket.early.note(kept);
        } else if (window.tableKey === step.table && this.compare(step.end, window.chunk.low) > 0) {
          window.noteChanged(step.rows);
        }
      }
    }
    // The source only pushes change events onto the batch (packed runs are the merge's own).
    const from = out.length;
    const applying = this.options.applyStep(step, out as ChangeEvent[]);
    if (delivery === undefined) return applying;
    if (applying !== undefined) return applying.then(() => reconcile(out, from, delivery, keyIndexes));
    reconcile(out, from, delivery, keyIndexes);
  }

  /** The snapshot progress of table `key` (undefined: not in the snapshot). */
  private tableProgress(key: string): TableSnapshotProgress | undefined {
    const progress = this.progressSnapshot;
    if (progress === undefined) return undefined;
    if (this.indexedProgress !== progress) {
      this.progressByTable = new Map(progress.tables.map((t) => [t.table, t]));
      this.indexedProgress = progress;
    }
    return this.progressByTable.get(key);
  }

  /**
   * How a log change of `row` stands to its table's snapshot (see {@link Delivery}). Not delivered, the chunk holds
   * the change when the dialect's chunk reads hold every step pulled before them: a chunk not read yet begins after
   * this step was pulled; a chunk being read began after it or holds the step back until its watermark is known,
   * and steps beyond the watermark come after the chunk. A chunk read by another process (detached) holds nothing
   * back: the change passes, and its key leaves that chunk (early).
   */
  private delivery(progress: TableSnapshotProgress, row: Row, keyIndexes: readonly number[], end: Offset): Delivery {
    if (keyIndexes.length === 0) return 'pending';
    const key = keyIndexes.map((i) => row[i] ?? null);
    const delivered = keyDelivered(progress, key);
    if (delivered === true) return 'delivered';
    if (delivered === undefined || this.dialect?.chunksHoldPulledSteps !== true) return 'pending';
    for (const ticket of this.coordinator?.tickets ?? []) {
      if (tableKeyOf(ticket.range.table) !== progress.table) continue;
      const inside = keyInRange(key, ticket.range.lo, ticket.range.hi);
      if (inside === false) continue;
      if (inside === undefined || ticket.detached) return 'pending';
      // A window that began before this step (low < end) may not hold it (not with low = high).
      if (ticket.window !== undefined && this.compare(end, ticket.window.chunk.low) > 0) return 'pending';
    }
    return 'drop';
  }

  /** Emits a chunk's remaining rows as reads and records it in the snapshot progress. */
  private emitChunk(ticket: ChunkTicket<Offset, Table>, out: StreamEvent[]): void {
    const window = ticket.window;
    if (!window) return;
    const { table, lo, hi } = ticket.range;
    const id = table.schema.id;
    const current = this.options.tableFor(window.tableKey);
    if (current !== table) {
      // The table's schema changed while this chunk was read: its rows have the old shape. Read it again.
      this.options.log.info(`schema of ${tableIdToString(id)} changed during a snapshot chunk: reading it again`);
      if (current) this.coordinator?.retry(ticket, current);
      else this.coordinator?.delivered(ticket);
      return;
    }
    if (ticket.early.overflowed) {
      // More keys changed while the chunk was out than it may remember: read it again (at a later watermark).
      this.options.log.info(
        `snapshot chunk of ${tableIdToString(id)}: more keys changed while it was being read than are kept; reading it again`,
      );
      this.coordinator?.retry(ticket, table);
      return;
    }
    // Changes emitted while the rows were being read went out before them: the log has those keys' newer state
    // (or the same, when the snapshot saw the change), so the chunk's copy is dropped whatever `low` says.
    window.noteChangedKeys(ticket.early.take());
    if (ticket.range.repair) {
      this.emitRepair(ticket, window, out);
      return;
    }
    const rows = window.remainingRows();
    if (isPacked(rows)) {
      if (rows.length > 0) out.push({ kind: 'packed', table: id, rows, source: SNAPSHOT_READ });
    } else {
      for (const row of rows) {
        out.push({ kind: 'data', table: id, op: 'read', before: null, after: row, source: SNAPSHOT_READ });
      }
    }
    const before = this.progressSnapshot?.tables.length ?? 0;
    this.progressSnapshot = markChunkDone(this.progressSnapshot, window.tableKey, lo, hi);
    this.progressChanged = true; // an empty chunk still moves the position
    const left = this.progressSnapshot?.tables.length ?? 0;
    if (left < before) this.logTableDone(tableIdToString(id), left);
    if (before > 0 && !this.progressSnapshot) {
      this.options.log.info(`snapshot complete; streaming the ${this.options.logName}`);
    }
    this.coordinator?.handedOver(ticket);
    this.chunksHandedOver++;
  }

  /**
   * A chunk read again for a repair: its remaining rows as upserts (an update without a before image), then each
   * sink-only key the window shows the source lacks as a delete; the snapshot progress is not touched.
   */
  private emitRepair(ticket: ChunkTicket<Offset, Table>, window: ChunkWindow<Offset, Table>, out: StreamEvent[]): void {
    const repair = ticket.range.repair!;
    const table = ticket.range.table.schema.id;
    const source = { tsMs: Date.now() };
    const rows = decodedRows(window.remainingRows());
    for (const row of rows) out.push({ kind: 'data', table, op: 'update', before: null, after: row, source });
    let deleted = 0;
    for (const key of repair.deletes) {
      if (!window.absent(key)) continue;
      out.push({ kind: 'data', table, op: 'delete', before: key, after: null, source });
      deleted++;
    }
    this.coordinator?.delivered(ticket);
    // These events go out in the next batch handed over; a chunk that emitted nothing needs no commit.
    repair.emitted(rows.length, deleted, rows.length + deleted > 0 ? this.batchCount + 1 : 0);
    this.progressChanged = true;
  }

  /**
   * One line per finished table while there are few; with many (10,000 small tables) the line goes to debug
   * and a count goes to info every {@link TABLES_PER_PROGRESS_LINE} tables.
   */
  private logTableDone(table: string, left: number): void {
    const { log } = this.options;
    if (this.tablesTotal <= TABLES_PER_PROGRESS_LINE) {
      log.info(`snapshot of ${table} done`);
      return;
    }
    log.debug(`snapshot of ${table} done`);
    const done = this.tablesTotal - left;
    if (done % TABLES_PER_PROGRESS_LINE === 0 && left > 0) {
      log.info(`snapshot: ${done} of ${this.tablesTotal} tables done`);
    }
  }

  private wake(): void {
    const wakers = [...this.wakers];
    this.wakers.clear();
    for (const waker of wakers) waker();
  }

  /**
   * A promise that resolves at the next {@link wake}. `cancel` forgets it: a waiter that lost a race must not
   * stay registered, or every result it was raced against would stay reachable (a leak per log batch).
   */
  private waitForWake(): { promise: Promise<typeof WOKEN>; cancel(): void } {
    let waker: () => void = () => {};
    const promise = new Promise<typeof WOKEN>((resolve) => {
      waker = () => resolve(WOKEN);
      this.wakers.add(waker);
    });
    return { promise, cancel: () => this.wakers.delete(waker) };
  }

  private throwSnapshotError(): void {
    const error = this.coordinator?.error;
    if (error) throw this.options.snapshotError(error);
  }
}

const WOKEN = Symbol('woken');

/**
 * The change events a rows step emitted (from `from` on), fitted to their rows' {@link Delivery}: a row image to
 * drop leaves its event (an update keeps the other image, as a delete or an insert), an event touching a pending
 * row is marked `snapshotPending`.
 */
function reconcile(
  out: StreamEvent[],
  from: number,
  delivery: ReadonlyMap<string, Delivery>,
  keyIndexes: readonly number[],
): void {
  let kept = from;
  for (let i = from; i < out.length; i++) {
    const event = out[i]!;
    if (event.kind !== 'data') {
      out[kept++] = event;
      continue;
    }
    const before = event.before === null ? undefined : delivery.get(keyString(event.before, keyIndexes));
    const after = event.after === null ? undefined : delivery.get(keyString(event.after, keyIndexes));
    const keepBefore = event.before !== null && before !== 'drop';
    const keepAfter = event.after !== null && after !== 'drop';
    let fitted: ChangeEvent;
    if (keepBefore && keepAfter) fitted = event;
    else if (keepBefore) fitted = { ...event, op: 'delete', after: null };
    else if (keepAfter) fitted = { ...event, op: 'insert', before: null };
    else continue;
    if (before === 'pending' || after === 'pending') {
      fitted = { ...fitted, source: { ...fitted.source, snapshotPending: true } };
    }
    out[kept++] = fitted;
  }
  out.length = kept;
}
