import { plural } from '../../core/plural.js';
import type { Logger } from '../../core/logger.js';
import {
  ChangedKeys,
  ChunkWindow,
  tableKeyOf,
  type ChunkRange,
  type SnapshotChunk,
  type SnapshotTable,
} from './chunk-window.js';
import type {
  ChunkReader,
  ChunkSplitterSession,
  LogStep,
  SourceDialect,
  TableChunkSplitter,
} from './source-dialect.js';
import { decodeKey, doneChunkAt, type SnapshotProgress, type TableSnapshotProgress } from './snapshot-progress.js';

/**
 * A chunk on its way: registered before its read starts (`registeredAt`: how many log steps the source had
 * pulled then), its high watermark known as soon as the server reports it, its rows once read.
 */
export interface ChunkTicket<Offset, Table extends SnapshotTable = SnapshotTable> {
  readonly range: ChunkRange<Table>;
  readonly registeredAt: number;
  /** Read by another process (see {@link ChunkReader.detached}): the log is not held back for it. */
  readonly detached: boolean;
  high: Offset | undefined;
  window: ChunkWindow<Offset, Table> | undefined;
  /**
   * Keys of the chunk's table that the source emitted changes of while the rows were not in hand yet: they are
   * dropped from the chunk (the log delivered their state at least as new as the chunk's).
   */
  readonly early: ChangedKeys;
}

/** Ranges read in one watermark window, at most (each its own chunk ticket). */
const MAX_GROUP = 64;
/**
 * Chunks a reader may hold beyond one per reader: with one reader, the next chunk is read while the one before waits
 * for the sink to finish its batch, so the sink's next write starts as soon as that one ends, instead of after a
 * whole chunk query (the sink idled while the source read, and the source while the sink wrote).
 */
const READ_AHEAD_CHUNKS = 1;

/** Big or unknown ranges passed over while a group is formed, at most (each costs a boundary query ahead). */
const MAX_SKIPPED = 4;

export type SnapshotReading<Offset, Table extends SnapshotTable> = Pick<
  SourceDialect<Offset, LogStep<Offset>, Table>,
  'openReader' | 'openSplitter'
>;

export interface SnapshotCoordinatorOptions<Offset, Table extends SnapshotTable> {
  /** How chunks are split and read (a {@link SourceDialect}'s snapshot half). */
  readonly dialect: SnapshotReading<Offset, Table>;
  /** The table as it is now (a DDL may have changed it), by `namespace.name`; undefined once dropped. */
  readonly tableFor: (key: string) => Table | undefined;
  readonly chunkSize: number;
  readonly parallelism: number;
  /** Cap on snapshot rows read per second over all readers (undefined: no cap). */
  readonly rowsPerSecond: number | undefined;
  /** The number of log steps the source has pulled so far. */
  readonly pulledSteps: () => number;
  /** Keys a chunk out of hand remembers before it must be read again (default {@link ChangedKeys}' limit). */
  readonly maxChangedKeys?: number;
  /** Called whenever a ticket changes (watermark known, rows ready) or a reader fails or finishes. */
  readonly onChange: () => void;
  readonly log: Logger;
}

/**
 * Reads snapshot chunks with `parallelism` readers while the log keeps flowing. Chunks of different tables
 * are scheduled round-robin, so every table starts receiving rows at once; each table is split lazily by its
 * own splitter (the dialect's). Chunks delivered before a restart are skipped. Memory is bounded by chunk
 * size × (readers + 1): a reader waits while one chunk more than there are readers is in hand — read and waiting
 * for their watermark, or emitted in a batch the pipeline has not taken yet (see {@link handedOver}).
 */
export class SnapshotCoordinator<Offset, Table extends SnapshotTable = SnapshotTable> {
  readonly tickets: ChunkTicket<Offset, Table>[] = [];
  error: Error | undefined;
  chunksRead = 0;
  rowsRead = 0;
  /** Rows read per `db.table`, for progress detail. */
  readonly rowsReadByTable = new Map<string, number>();
  private readonly queue: {
    progress: TableSnapshotProgress;
    splitter: SplitterHandle<Table> | undefined;
    /** A range given out but put back (it did not fit a group): the table's next range. */
    held?: ChunkRange<Table> | undefined;
  }[] = [];
  private turn = 0;
  private scheduling: Promise<unknown> = Promise.resolve();
  private readers = 0;
  private closed = false;
  private nextAllowedAt = 0;
  private readonly chunkReaders: ChunkReader<Offset, Table>[] = [];
  private splitSession: Promise<ChunkSplitterSession<Table>> | undefined;
  private readonly readerWakers = new Set<() => void>();
  private readonly retries: ChunkRange<Table>[] = [];
  /** Chunks handed over in a batch whose sink write has not finished yet (see {@link handedOver}). */
  private outstanding = 0;

  constructor(private readonly options: SnapshotCoordinatorOptions<Offset, Table>) {}

  /** Starts (or widens) the snapshot of the tables in `progress` that are not scheduled yet. */
  schedule(progress: SnapshotProgress | undefined): void {
    const known = new Set(this.queue.map((q) => q.progress.table));
    for (const table of progress?.tables ?? []) {
      if (!known.has(table.table)) this.queue.push({ progress: table, splitter: undefined });
    }
    while (this.readers < this.options.parallelism && this.queue.length + this.retries.length > 0 && !this.closed) {
      this.readers++;
      void this.runReader();
    }
  }

  /** True while chunks are scheduled, being read or awaiting delivery. */
  get busy(): boolean {
    return this.readers > 0 || this.tickets.length > 0;
  }

  /** Reads `range` again beside the log (a repair), before any snapshot chunk still to come. */
  readAgain(range: ChunkRange<Table>): void {
    this.retries.push(range);
    this.schedule(undefined);
  }

  /** `ticket` must be read again with `table`'s new schema (it changed during the read); it goes first. */
  retry(ticket: ChunkTicket<Offset, Table>, table: Table): void {
    this.retries.push({ ...ticket.range, table });
    this.delivered(ticket);
    this.schedule(undefined);
  }

  /** The source delivered `ticket`'s rows: forget it and let a waiting reader go on. */
  delivered(ticket: ChunkTicket<Offset, Table>): void {
    const index = this.tickets.indexOf(ticket);
    if (index >= 0) this.tickets.splice(index, 1);
    this.wakeReaders();
  }

  /**
   * `ticket`'s rows went into a batch: forget it, but count it as in hand until {@link released} — the rows stay
   * in memory until the sink has written them, and a reader reading ahead meanwhile only adds to what is live.
   */
  handedOver(ticket: ChunkTicket<Offset, Table>): void {
    const index = this.tickets.indexOf(ticket);
    if (index >= 0) this.tickets.splice(index, 1);
    this.outstanding++;
  }

  /** `chunks` handed over earlier are written: waiting readers may go on. */
  released(chunks: number): void {
    if (chunks === 0) return;
    this.outstanding = Math.max(0, this.outstanding - chunks);
    this.wakeReaders();
  }

  private wakeReaders(): void {
    for (const wake of [...this.readerWakers]) wake();
    this.readerWakers.clear();
  }

  /** Chunks in hand: read and waiting for their watermark, or handed over and not yet written. */
  private inHand(): number {
    let windows = this.outstanding;
    for (const ticket of this.tickets) if (ticket.window) windows++;
    return windows;
  }

  async close(): Promise<void> {
    this.closed = true;
    for (const wake of [...this.readerWakers]) wake();
    const split = this.splitSession;
    await Promise.allSettled([
      ...this.chunkReaders.map((r) => r.close()),
      ...(split ? [split.then((s) => s.close())] : []),
    ]);
  }

  private async runReader(): Promise<void> {
    let reader: ChunkReader<Offset, Table> | undefined;
    try {
      reader = await this.options.dialect.openReader();
      if (this.closed) {
        await reader.close(); // closed while it was opening
        return;
      }
      this.chunkReaders.push(reader);
      for (;;) {
        while (!this.closed && this.inHand() >= this.options.parallelism + READ_AHEAD_CHUNKS) {
          await new Promise<void>((resolve) => this.readerWakers.add(resolve));
        }
        if (this.closed) return;
        const ranges = await this.nextRanges(reader.readChunks !== undefined);
        if (ranges.length === 0 || this.closed) return;
        await this.throttle();
        const registeredAt = this.options.pulledSteps();
        const detached = reader.detached === true;
        const tickets = ranges.map((range): ChunkTicket<Offset, Table> => ({
          range,
          registeredAt,
          detached,
          high: undefined,
          window: undefined,
          early: new ChangedKeys(range, this.options.maxChangedKeys),
        }));
        this.tickets.push(...tickets);
        const onHigh = (high: Offset) => {
          for (const ticket of tickets) ticket.high = high;
          this.options.onChange();
        };
        const chunks =
          ranges.length === 1 || !reader.readChunks
            ? [await reader.readChunk(ranges[0]!, onHigh)]
            : await reader.readChunks(ranges, onHigh);
        if (this.closed) return;
        for (const [i, ticket] of tickets.entries()) this.took(ticket, chunks[i]!);
        this.options.onChange();
      }
    } catch (error) {
      if (!this.closed) this.error ??= error instanceof Error ? error : new Error(String(error));
    } finally {
      this.readers--;
      // A reader with nothing left to read gives its connection back (a later repair or table opens another).
      if (reader && !this.closed) {
        this.chunkReaders.splice(this.chunkReaders.indexOf(reader), 1);
        reader.close().catch(() => undefined);
      }
      this.options.onChange();
    }
  }

  /** A chunk's rows are in hand: its window opens, the counters move. */
  private took(ticket: ChunkTicket<Offset, Table>, chunk: SnapshotChunk<Offset, Table>): void {
    ticket.high = chunk.high;
    ticket.window = new ChunkWindow(chunk);
    this.chunksRead++;
    this.rowsRead += chunk.rows.length;
    const key = ticket.window.tableKey;
    this.rowsReadByTable.set(key, (this.rowsReadByTable.get(key) ?? 0) + chunk.rows.length);
    this.consume(chunk.rows.length);
    this.options.log.debug(`snapshot chunk read: ${key} (${plural(chunk.rows.length, 'row')})`);
  }

  /**
   * The ranges one read takes: the next range in round-robin order and, when the reader can read several in one
   * window (`group`), the following tables' next ranges as long as each is known to be small and together they
   * hold at most a chunk's rows (many tiny tables cost one watermark pair per group, not per table). A range that
   * does not fit is kept for its table's next turn. A repair is read alone.
   */
  private nextRanges(group: boolean): Promise<ChunkRange<Table>[]> {
    const next = this.scheduling.then(async () => {
      const retry = this.retries.shift();
      if (retry) return [retry];
      const first = await this.nextRange();
      if (!first) return [];
      const ranges = [first];
      let rows = first.rows;
      const tables = new Set([tableKeyOf(first.table)]);
      // Each other table at most once: one that does not fit keeps its range for its next turn.
      let skipped = 0;
      for (let tried = 1; group && tried < this.queue.length; tried++) {
        if (rows === undefined || rows >= this.options.chunkSize || ranges.length >= MAX_GROUP) break;
        const entry = this.queue[this.turn % this.queue.length];
        if (!entry || tables.has(entry.progress.table)) break;
        const range = await this.nextRange();
        if (!range) break;
        const key = tableKeyOf(range.table);
        if (tables.has(key)) {
          this.putBack(range, true);
          break;
        }
        if (range.rows === undefined || rows + range.rows > this.options.chunkSize) {
          // A small range that does not fit: the group is full, and this range starts the next one. A big or
          // unknown one waits for its table's next turn while a few more tables are looked at.
          const small = range.rows !== undefined && range.rows <= this.options.chunkSize / 2;
          this.putBack(range, small);
          if (small || ++skipped >= MAX_SKIPPED) break;
          continue;
        }
        ranges.push(range);
        rows += range.rows;
        tables.add(key);
      }
      return ranges;
    });
    this.scheduling = next.catch(() => {});
    return next;
  }

  /** Round-robin over tables with chunks left; one boundary query at a time on the splitter connection. */
  private async nextRange(): Promise<ChunkRange<Table> | null> {
    while (this.queue.length > 0 && !this.closed) {
      const index = this.turn % this.queue.length;
      const entry = this.queue[index]!;
      const table = this.options.tableFor(entry.progress.table);
      if (!table) {
        this.queue.splice(index, 1); // dropped meanwhile
        continue;
      }
      let range = entry.held;
      entry.held = undefined;
      if (!range) {
        entry.splitter ??= await this.splitter(entry.progress, table);
        range = (await entry.splitter.next()) ?? undefined;
      }
      if (!range) {
        this.queue.splice(index, 1);
        continue;
      }
      this.turn = index + 1;
      // Read with the table's schema as it is now (a DDL may have changed it since the splitter began).
      return { ...range, table };
    }
    return null;
  }

  /** `range` (the last one {@link nextRange} gave) is read on its table's next turn (`now`: the next one). */
  private putBack(range: ChunkRange<Table>, now: boolean): void {
    const key = tableKeyOf(range.table);
    const index = this.queue.findIndex((q) => q.progress.table === key);
    if (index < 0) return;
    this.queue[index]!.held = range;
    if (now) this.turn = index;
  }

  private async splitter(progress: TableSnapshotProgress, table: Table): Promise<SplitterHandle<Table>> {
    if (!this.splitSession) {
      this.splitSession = this.options.dialect.openSplitter();
      this.splitSession.catch(() => (this.splitSession = undefined)); // the next table tries again
    }
    const session = await this.splitSession;
    const start = progress.doneUpTo ? decodeKey(progress.doneUpTo) : null;
    const inner: TableChunkSplitter<Table> = session.splitTable(table, this.options.chunkSize, start);
    return {
      // Chunks delivered before a restart are skipped, not read again.
      next: async () => {
        for (;;) {
          const range = await inner.next();
          if (!range) return null;
          const done = doneChunkAt(progress, range.lo);
          if (!done) return range;
          inner.skipTo(done.hi ? decodeKey(done.hi) : null);
        }
      },
    };
  }

  private async throttle(): Promise<void> {
    const wait = this.nextAllowedAt - Date.now();
    if (wait > 0) await new Promise((resolve) => setTimeout(resolve, wait));
  }

  private consume(rows: number): void {
    const rate = this.options.rowsPerSecond;
    if (!rate) return;
    this.nextAllowedAt = Math.max(Date.now(), this.nextAllowedAt) + (rows * 1000) / rate;
  }
}

interface SplitterHandle<Table extends SnapshotTable> {
  next(): Promise<ChunkRange<Table> | null>;
}
