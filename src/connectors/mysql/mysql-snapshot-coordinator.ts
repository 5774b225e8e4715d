import type { Connection } from 'mysql2/promise';
import { plural } from '../../core/plural.js';
import type { Logger } from '../../runtime/logger.js';
import { endMysqlConnection } from './mysql-errors.js';
import { MysqlChunkSplitter, type ChunkRange } from './mysql-chunk-splitter.js';
import { ChunkWindow } from './mysql-chunk-window.js';
import type { LogPoint } from './mysql-log-point.js';
import { decodeKey, type SnapshotProgress, type TableSnapshotProgress } from './mysql-offset.js';
import type { MysqlTable } from './mysql-schema-reader.js';
import { doneChunkAt } from './mysql-snapshot-progress.js';
import { MysqlSnapshotReader } from './mysql-snapshot-reader.js';

/**
 * A chunk on its way: registered before its read starts (`registeredAt`: how many binlog steps the source had
 * pulled then), its high watermark known as soon as the server reports it, its rows once read.
 */
export interface ChunkTicket {
  readonly range: ChunkRange;
  readonly registeredAt: number;
  high: LogPoint | undefined;
  window: ChunkWindow | undefined;
}

export interface SnapshotCoordinatorOptions {
  readonly connect: () => Promise<Connection>;
  readonly flavor: 'mariadb' | 'mysql';
  readonly tableFor: (key: string) => MysqlTable | undefined;
  readonly chunkSize: number;
  readonly parallelism: number;
  /** Cap on snapshot rows read per second over all readers (undefined: no cap). */
  readonly rowsPerSecond: number | undefined;
  /** The number of binlog steps the source has pulled so far. */
  readonly pulledSteps: () => number;
  /** Called whenever a ticket changes (watermark known, rows ready) or a reader fails or finishes. */
  readonly onChange: () => void;
  readonly log: Logger;
}

/**
 * Reads snapshot chunks with `parallelism` connections while the binlog keeps flowing. Chunks of different
 * tables are scheduled round-robin, so every table starts receiving rows at once; each table is split
 * lazily by its own {@link MysqlChunkSplitter}. Chunks delivered before a restart are skipped. Memory is
 * bounded by chunk size × readers: a reader waits while as many chunks as there are readers await delivery.
 */
export class SnapshotCoordinator {
  readonly tickets: ChunkTicket[] = [];
  error: Error | undefined;
  chunksRead = 0;
  rowsRead = 0;
  /** Rows read per `db.table`, for progress detail. */
  readonly rowsReadByTable = new Map<string, number>();
  private readonly queue: { progress: TableSnapshotProgress; splitter: MysqlSplitterHandle | undefined }[] = [];
  private turn = 0;
  private scheduling: Promise<unknown> = Promise.resolve();
  private readers = 0;
  private closed = false;
  private nextAllowedAt = 0;
  private readonly connections: Connection[] = [];
  private splitConn: Connection | undefined;
  private readonly readerWakers = new Set<() => void>();
  private readonly retries: ChunkRange[] = [];

  constructor(private readonly options: SnapshotCoordinatorOptions) {}

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

  /** `ticket` must be read again with `table`'s new schema (it changed during the read); it goes first. */
  retry(ticket: ChunkTicket, table: MysqlTable): void {
    this.retries.push({ ...ticket.range, table });
    this.delivered(ticket);
    this.schedule(undefined);
  }

  /** The source delivered `ticket`'s rows: forget it and let a waiting reader go on. */
  delivered(ticket: ChunkTicket): void {
    const index = this.tickets.indexOf(ticket);
    if (index >= 0) this.tickets.splice(index, 1);
    for (const wake of [...this.readerWakers]) wake();
    this.readerWakers.clear();
  }

  async close(): Promise<void> {
    this.closed = true;
    for (const wake of [...this.readerWakers]) wake();
    await Promise.allSettled(
      [...this.connections, ...(this.splitConn ? [this.splitConn] : [])].map((c) => endMysqlConnection(c)),
    );
  }

  private async runReader(): Promise<void> {
    let conn: Connection | undefined;
    try {
      conn = await this.options.connect();
      this.connections.push(conn);
      const reader = new MysqlSnapshotReader(conn, this.options.flavor);
      await reader.prepare();
      for (;;) {
        while (!this.closed && this.tickets.filter((t) => t.window).length >= this.options.parallelism) {
          await new Promise<void>((resolve) => this.readerWakers.add(resolve));
        }
        if (this.closed) return;
        const range = await this.nextRange();
        if (!range || this.closed) return;
        await this.throttle();
        const ticket: ChunkTicket = {
          range,
          registeredAt: this.options.pulledSteps(),
          high: undefined,
          window: undefined,
        };
        this.tickets.push(ticket);
        const chunk = await reader.readChunk(range, (high) => {
          ticket.high = high;
          this.options.onChange();
        });
        if (this.closed) return;
        ticket.high = chunk.high;
        ticket.window = new ChunkWindow(chunk);
        this.chunksRead++;
        this.rowsRead += chunk.rows.length;
        const key = ticket.window.tableKey;
        this.rowsReadByTable.set(key, (this.rowsReadByTable.get(key) ?? 0) + chunk.rows.length);
        this.consume(chunk.rows.length);
        this.options.log.debug(`snapshot chunk read: ${ticket.window.tableKey} (${plural(chunk.rows.length, 'row')})`);
        this.options.onChange();
      }
    } catch (error) {
      if (!this.closed) this.error ??= error instanceof Error ? error : new Error(String(error));
    } finally {
      this.readers--;
      this.options.onChange();
    }
  }

  /** Round-robin over tables with chunks left; one boundary query at a time on the splitter connection. */
  private nextRange(): Promise<ChunkRange | null> {
    const next = this.scheduling.then(async () => {
      const retry = this.retries.shift();
      if (retry) return retry;
      while (this.queue.length > 0 && !this.closed) {
        const index = this.turn % this.queue.length;
        const entry = this.queue[index]!;
        const table = this.options.tableFor(entry.progress.table);
        if (!table) {
          this.queue.splice(index, 1); // dropped meanwhile
          continue;
        }
        entry.splitter ??= await this.splitter(entry.progress, table);
        const range = await entry.splitter.next();
        if (!range) {
          this.queue.splice(index, 1);
          continue;
        }
        this.turn = index + 1;
        // Read with the table's schema as it is now (a DDL may have changed it since the splitter began).
        return { ...range, table };
      }
      return null;
    });
    this.scheduling = next.catch(() => {});
    return next;
  }

  private async splitter(progress: TableSnapshotProgress, table: MysqlTable): Promise<MysqlSplitterHandle> {
    if (!this.splitConn) {
      this.splitConn = await this.options.connect();
      // Key boundaries are read and compared as the chunk readers see them: TIMESTAMP keys as UTC text.
      await this.splitConn.query("SET SESSION time_zone = '+00:00'");
    }
    const start = progress.doneUpTo ? decodeKey(progress.doneUpTo) : null;
    const inner = new MysqlChunkSplitter(this.splitConn, table, this.options.chunkSize, start);
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

interface MysqlSplitterHandle {
  next(): Promise<ChunkRange | null>;
}
