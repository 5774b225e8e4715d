import type { Row, Value } from '../../core/index.js';
import type { ChunkRange, SnapshotChunk, SnapshotTable } from './chunk-window.js';

/**
 * What a database gives the source kit: how to split a table into chunks, how to read a chunk between its
 * watermarks, how its log positions compare, and its log as steps. Everything else — held log steps, chunk
 * tickets, interleaved scheduling, chunk progress and resume, tables added live, flow control and batch
 * cutting — is the kit's ({@link DblogMerge}, {@link SnapshotCoordinator}).
 *
 * `Offset` is the source's log position: comparable, and small (every step carries one). MySQL: file + byte
 * position; PostgreSQL: an LSN (a bigint).
 */
export interface SourceDialect<Offset, Step extends LogStep<Offset>, Table extends SnapshotTable = SnapshotTable> {
  /** Total order of log positions: negative when `a` is before `b`, 0 when equal, positive after. */
  compareOffsets(a: Offset, b: Offset): number;
  /**
   * A session that finds chunk boundaries, shared by every table's splitter (the kit asks one boundary at a
   * time). Closed by the kit when the snapshot is done or the source closes.
   */
  openSplitter(): Promise<ChunkSplitterSession<Table>>;
  /** A chunk reader on its own connection; the kit opens up to `parallelism` of them. */
  openReader(): Promise<ChunkReader<Offset, Table>>;
  /** The log from `from` on (not called in snapshot-only mode). Closed by the kit. */
  openLog(from: Offset): Promise<LogReader<Step>>;
  /**
   * Every chunk read holds every log step pulled before it began: its consistent snapshot stands exactly at a log
   * position (low = high), at or after them (MariaDB reports the position). Then the kit drops the log's changes of
   * rows whose chunk is not delivered yet — that chunk, read later, holds them — and the merged stream is an exact
   * changelog (see DblogMerge). Default false: such changes pass, marked `snapshotPending`.
   */
  readonly chunksHoldPulledSteps?: boolean;
}

export interface ChunkSplitterSession<Table extends SnapshotTable = SnapshotTable> {
  /**
   * Splits `table` lazily, from after key `start` (null: the table's start), into chunks of about `chunkSize`
   * rows, comparing keys as the database does.
   */
  splitTable(table: Table, chunkSize: number, start: Value[] | null): TableChunkSplitter<Table>;
  close(): Promise<void>;
}

export interface TableChunkSplitter<Table extends SnapshotTable = SnapshotTable> {
  /** The next chunk, or null after the one that reaches the end of the table (its `hi` is null). */
  next(): Promise<ChunkRange<Table> | null>;
  /** Continues after `hi` (a chunk delivered before a restart, which is not read again). */
  skipTo(hi: Value[] | null): void;
}

export interface ChunkReader<Offset, Table extends SnapshotTable = SnapshotTable> {
  /**
   * The chunk is read by another process at some later moment (a scale-out snapshot reader): the kit does not
   * hold the log for it. Every row change of the chunk's table that the log delivers from the chunk's
   * registration until its rows are in hand drops that key from the chunk (the log delivered a state at least
   * as new), and the rows go out once the log reaches the chunk's high watermark, as for any chunk. The
   * property below still holds: the read starts after the registration, on the same server.
   */
  readonly detached?: boolean;
  /**
   * Reads the rows of `range` (key in (lo, hi]) in one consistent snapshot, between a low watermark taken
   * before and a high watermark taken after it (or one exact point: low = high). `onHigh` learns the high
   * watermark as soon as it is known — before the rows, when the database can tell (MariaDB) — so the log
   * may flow up to it meanwhile. Rows are in the table's column order, canonical values as the log gives them.
   *
   * The kit counts on one property: every log step the source could have pulled before this call lies at or
   * before `low`, and the rows include its effect. (A database that writes its log before the change is
   * visible to new snapshots must wait for it: MariaDB's reader takes its snapshot again until the snapshot's
   * position reaches the binlog end read before it.) Steps pulled after the call are placed by the kit.
   */
  readChunk(range: ChunkRange<Table>, onHigh: (high: Offset) => void): Promise<SnapshotChunk<Offset, Table>>;
  /**
   * Optional: reads several ranges (small tables, together no more rows than one chunk) in one consistent
   * snapshot between one pair of watermarks, as {@link readChunk} reads one — one set of round trips for the
   * watermarks and the transaction instead of one per table. The chunks come back in the order of `ranges`,
   * all with the same `low` and `high`.
   */
  readChunks?(
    ranges: readonly ChunkRange<Table>[],
    onHigh: (high: Offset) => void,
  ): Promise<SnapshotChunk<Offset, Table>[]>;
  close(): Promise<void>;
}

/**
 * What the log reader hands the kit, one step per log event that matters. A source's step type may carry more
 * (MySQL: GTIDs, fingerprints, DDL text) as long as it has these. Steps come in log order; their positions
 * never go back.
 */
export type LogStep<Offset> =
  /** A transaction starts at `start`. */
  | { readonly kind: 'begin'; readonly start: Offset }
  /**
   * Row changes of one captured table (`table`: `namespace.name`, as {@link tableKeyOf}), ending at `end`.
   * `rows` holds every image (for updates: before and after), whose keys a chunk window drops.
   */
  | { readonly kind: 'rows'; readonly table: string; readonly rows: readonly Row[]; readonly end: Offset }
  /** The transaction in progress committed at `end`. */
  | { readonly kind: 'commit'; readonly end: Offset }
  /**
   * A schema change ending at `end`. The kit stops pulling steps behind it until it is applied: they may need
   * the schema it produces to be decoded.
   */
  | { readonly kind: 'ddl'; readonly end: Offset }
  /** Only the position moved. */
  | { readonly kind: 'advance'; readonly end: Offset }
  /** A heartbeat: the server has nothing more to send right now. */
  | { readonly kind: 'idle' };

/** The source's log, read from where it was opened. */
export interface LogReader<Step> {
  /** The next steps, and whether the reader has nothing more buffered; null when the log ended. */
  next(): Promise<{ readonly steps: readonly Step[]; readonly caughtUp: boolean } | null>;
  close(): Promise<void>;
}

/** Whether `step` lies at or before `high` in the log (so it goes out before a chunk with that watermark). */
export function stepBefore<Offset>(
  step: LogStep<Offset>,
  high: Offset,
  compare: (a: Offset, b: Offset) => number,
): boolean {
  switch (step.kind) {
    case 'idle':
      return true;
    case 'begin':
      return compare(step.start, high) < 0;
    default:
      return compare(step.end, high) <= 0;
  }
}

/** The position a step leaves the log at (undefined: an idle step does not move it). */
export function stepPosition<Offset>(step: LogStep<Offset>): Offset | undefined {
  switch (step.kind) {
    case 'idle':
      return undefined;
    case 'begin':
      return step.start;
    default:
      return step.end;
  }
}
