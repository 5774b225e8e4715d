import {
  tableIdToString,
  eventCount,
  type ErrorCode,
  type StreamEvent,
  type Source,
  type SourceProgress,
  type TributaryError,
} from '../core/index.js';

/**
 * Per-table series above this many tables are summed into one `_other` entry (see {@link TableCounters}), so
 * that a pipeline of 10,000 tables exposes a bounded number of Prometheus series and a bounded status document.
 */
export const DEFAULT_MAX_TABLE_SERIES = 200;

/** The label of the entry that sums the tables past the cap. */
export const OTHER_TABLES = '_other';

/** The most recent schema changes and errors kept for the status page (older ones are only counted). */
const RECENT_LIMIT = 50;

/** What the pipeline is doing, for status pages and `/readyz`. */
export type PipelineState = 'starting' | 'running' | 'retrying' | 'stopping' | 'stopped' | 'finished' | 'failed';

/** Rows (change events) counted per table, with the cardinality cap. */
export class TableCounters {
  private readonly counts = new Map<string, number>();

  constructor(readonly maxSeries: number) {}

  /** Adds `n` to `table`; a table first seen once the cap is reached counts towards {@link OTHER_TABLES}. */
  add(table: string, n: number): void {
    const current = this.counts.get(table);
    if (current !== undefined) {
      this.counts.set(table, current + n);
    } else if (this.counts.size < this.maxSeries) {
      this.counts.set(table, n);
    } else {
      this.counts.set(OTHER_TABLES, (this.counts.get(OTHER_TABLES) ?? 0) + n);
    }
  }

  entries(): IterableIterator<[string, number]> {
    return this.counts.entries();
  }

  get(table: string): number | undefined {
    return this.counts.get(table);
  }

  total(): number {
    let sum = 0;
    for (const n of this.counts.values()) sum += n;
    return sum;
  }
}

/** One schema change the sink applied. */
export interface AppliedSchemaChange {
  readonly at: string;
  readonly table: string;
  readonly change: string;
  readonly ddl?: string;
}

/** One failure of an attempt, with the fix its code documents. */
export interface RecordedError {
  readonly at: string;
  readonly code: ErrorCode;
  readonly message: string;
  readonly fix: string | undefined;
  readonly retryable: boolean;
}

/** The checkpoint figures of the status document. */
export interface CheckpointFigures {
  readonly count: number;
  readonly lastId: number | null;
  readonly lastAt: string | null;
  readonly lastDurationMs: number | null;
  /** Changes made durable by the last checkpoint. */
  readonly lastSize: number | null;
  readonly failures: number;
}

/** Snapshot progress of one table in the status document. */
export interface TableSnapshotFigures {
  readonly rowsRead: number;
  readonly rowsEstimate: number | null;
  readonly done: boolean;
}

/** One table of the status document. */
export interface TableStatus {
  readonly table: string;
  readonly rowsIn: number;
  readonly rowsOut: number;
  readonly snapshot: TableSnapshotFigures | null;
}

/** What `/api/status` returns and `tributary status` prints: JSON, no secrets. */
export interface PipelineStatus {
  readonly pipeline: string;
  readonly state: PipelineState;
  readonly startedAt: string;
  readonly now: string;
  readonly phase: SourceProgress['phase'];
  readonly logPosition: string | null;
  readonly lagSeconds: number | null;
  readonly lagBytes: number | null;
  readonly rowsIn: number;
  readonly rowsOut: number;
  readonly snapshot: {
    readonly tablesDone: number;
    readonly tablesTotal: number;
    readonly rowsRead: number;
    readonly rowsEstimate: number | null;
    readonly chunksDone: number | null;
    readonly chunksEstimate: number | null;
  };
  readonly checkpoints: CheckpointFigures;
  readonly tables: readonly TableStatus[];
  /** Some tables are summed into `_other` because of the series cap: the list is cut. */
  readonly tablesCapped: boolean;
  readonly schemaChanges: { readonly total: number; readonly recent: readonly AppliedSchemaChange[] };
  readonly errors: {
    readonly byCode: Readonly<Record<string, number>>;
    readonly recent: readonly RecordedError[];
  };
  readonly watchdog: { readonly waitingFor: string; readonly stalls: number } | null;
}

/**
 * The in-process registry one pipeline reports into: the runner counts rows per batch (not per row: a run of
 * events of one table is one map update), checkpoints, schema changes and failures; the source's own progress
 * (snapshot, log position, lag) is read when someone asks — a scrape, the dashboard — never on the hot path.
 * Exporters (Prometheus, the status JSON) read it; nothing here does I/O.
 *
 * Cardinality: per-table figures are kept for the first `maxTableSeries` tables seen; later tables are summed
 * into `_other`. Snapshot progress is per table only for tables still being read (the source's list).
 */
export class PipelineMetrics {
  readonly startedAt = new Date();
  state: PipelineState = 'starting';
  readonly rowsIn: TableCounters;
  readonly rowsOut: TableCounters;
  /** Called with each checkpoint's duration in seconds (an exporter's histogram). */
  readonly checkpointObservers: ((seconds: number) => void)[] = [];
  checkpoints = 0;
  checkpointFailures = 0;
  lastCheckpoint: { id: number; at: Date; durationMs: number; events: number } | undefined;
  schemaChangesTotal = 0;
  readonly schemaChangesByTable: TableCounters;
  readonly recentSchemaChanges: AppliedSchemaChange[] = [];
  readonly errorsByCode = new Map<ErrorCode, number>();
  readonly recentErrors: RecordedError[] = [];
  /** Set by the runner while an attempt runs: whose progress to read. */
  source: Source | undefined;
  /** The last progress read from a source (kept when the attempt ends, so a stopped pipeline still shows it). */
  private lastProgress: SourceProgress | undefined;
  /** Per-table snapshot figures, kept after the table finished. */
  private readonly snapshotTables = new Map<string, { rowsRead: number; rowsEstimate: number | undefined }>();
  private readonly finishedSnapshotTables = new Set<string>();
  private readonly watchdogView: (() => { waitingFor: string; stalls: number }) | undefined;

  constructor(
    readonly pipeline: string,
    options: { maxTableSeries?: number; watchdog?: () => { waitingFor: string; stalls: number } } = {},
  ) {
    const max = options.maxTableSeries ?? DEFAULT_MAX_TABLE_SERIES;
    this.rowsIn = new TableCounters(max);
    this.rowsOut = new TableCounters(max);
    this.schemaChangesByTable = new TableCounters(max);
    this.watchdogView = options.watchdog;
  }

  /** Counts a batch as the source handed it over (rows in, by source table). */
  sourceBatch(events: readonly StreamEvent[]): void {
    countByTable(events, this.rowsIn);
  }

  /** Counts events as handed to the sink (rows out, by sink table) and records the schema changes among them. */
  sinkBatch(events: readonly StreamEvent[]): void {
    countByTable(events, this.rowsOut);
    for (const event of events) {
      if (event.kind !== 'schema' || event.change === 'createTable') continue;
      const table = tableIdToString(event.table);
      this.schemaChangesTotal++;
      this.schemaChangesByTable.add(table, 1);
      pushBounded(this.recentSchemaChanges, {
        at: new Date().toISOString(),
        table,
        change: event.change,
        ...(event.ddl === undefined ? {} : { ddl: event.ddl }),
      });
    }
  }

  /** A checkpoint committed. */
  checkpointCommitted(id: number, durationMs: number, events: number): void {
    this.checkpoints++;
    this.lastCheckpoint = { id, at: new Date(), durationMs, events };
    for (const observe of this.checkpointObservers) observe(durationMs / 1000);
  }

  /** An attempt failed (retried or not). */
  failed(error: TributaryError, duringCommit: boolean): void {
    if (duringCommit) this.checkpointFailures++;
    this.errorsByCode.set(error.code, (this.errorsByCode.get(error.code) ?? 0) + 1);
    pushBounded(this.recentErrors, {
      at: new Date().toISOString(),
      code: error.code,
      message: error.message,
      fix: error.hint,
      retryable: error.retryable,
    });
  }

  /** The source's progress now (the last one read when no attempt runs). */
  progress(): SourceProgress | undefined {
    if (this.source) {
      try {
        this.lastProgress = this.source.progress();
      } catch {
        // a closing source: keep the last figures
      }
      this.noteSnapshotTables(this.lastProgress);
    }
    return this.lastProgress;
  }

  private noteSnapshotTables(p: SourceProgress | undefined): void {
    if (!p) return;
    const listed = new Set<string>();
    for (const t of p.snapshotTables ?? []) {
      listed.add(t.table);
      if (this.snapshotTables.has(t.table) || this.snapshotTables.size < this.rowsIn.maxSeries) {
        this.snapshotTables.set(t.table, { rowsRead: t.rowsRead, rowsEstimate: t.rowsEstimate });
      }
    }
    for (const [table, figures] of this.snapshotTables) {
      if (listed.has(table)) continue;
      this.finishedSnapshotTables.add(table);
      const rows = p.snapshotRowsByTable?.get(table);
      if (rows !== undefined) figures.rowsRead = rows;
    }
  }

  /** The status document of `/api/status`. */
  status(): PipelineStatus {
    const p = this.progress();
    const tables = new Map<string, TableStatus>();
    const row = (table: string): TableStatus => tables.get(table) ?? { table, rowsIn: 0, rowsOut: 0, snapshot: null };
    for (const [table, n] of this.rowsIn.entries()) tables.set(table, { ...row(table), rowsIn: n });
    for (const [table, n] of this.rowsOut.entries()) tables.set(table, { ...row(table), rowsOut: n });
    for (const [table, s] of this.snapshotTables) {
      const done = this.finishedSnapshotTables.has(table) || p?.phase === 'streaming' || p?.phase === 'done';
      tables.set(table, {
        ...row(table),
        snapshot: { rowsRead: s.rowsRead, rowsEstimate: s.rowsEstimate ?? null, done },
      });
    }
    const estimate = p?.snapshotRowsEstimate;
    const chunkSize = p?.snapshotChunkSize;
    const last = this.lastCheckpoint;
    const watchdog = this.watchdogView?.();
    return {
      pipeline: this.pipeline,
      state: this.state,
      startedAt: this.startedAt.toISOString(),
      now: new Date().toISOString(),
      phase: p?.phase ?? 'starting',
      logPosition: p?.logPosition ?? null,
      lagSeconds: p ? p.lagMs / 1000 : null,
      lagBytes: p?.lagBytes ?? null,
      rowsIn: this.rowsIn.total(),
      rowsOut: this.rowsOut.total(),
      snapshot: {
        tablesDone: p?.snapshotTablesDone ?? 0,
        tablesTotal: p?.snapshotTablesTotal ?? 0,
        rowsRead: p?.snapshotRowsRead ?? 0,
        rowsEstimate: estimate ?? null,
        chunksDone: p?.snapshotChunksRead ?? null,
        chunksEstimate:
          estimate !== undefined && chunkSize !== undefined && chunkSize > 0
            ? Math.max(p?.snapshotChunksRead ?? 0, Math.ceil(estimate / chunkSize))
            : null,
      },
      checkpoints: {
        count: this.checkpoints,
        lastId: last?.id ?? null,
        lastAt: last?.at.toISOString() ?? null,
        lastDurationMs: last?.durationMs ?? null,
        lastSize: last?.events ?? null,
        failures: this.checkpointFailures,
      },
      tables: [...tables.values()].sort((a, b) => a.table.localeCompare(b.table)),
      tablesCapped: this.rowsIn.get(OTHER_TABLES) !== undefined || this.rowsOut.get(OTHER_TABLES) !== undefined,
      schemaChanges: { total: this.schemaChangesTotal, recent: [...this.recentSchemaChanges] },
      errors: { byCode: Object.fromEntries(this.errorsByCode), recent: [...this.recentErrors] },
      watchdog: watchdog ?? null,
    };
  }
}

/**
 * Data events per table: one map update per run of consecutive events of one table (a batch is mostly such
 * runs), so the cost per row is two string comparisons.
 */
function countByTable(events: readonly StreamEvent[], counters: TableCounters): void {
  let i = 0;
  while (i < events.length) {
    const first = events[i]!;
    const { namespace, name } = first.table;
    let j = i + 1;
    let rows = first.kind === 'schema' ? 0 : eventCount(first);
    for (; j < events.length; j++) {
      const event = events[j]!;
      if (event.table.name !== name || event.table.namespace !== namespace) break;
      if (event.kind !== 'schema') rows += eventCount(event);
    }
    if (rows > 0) counters.add(tableIdToString(first.table), rows);
    i = j;
  }
}

function pushBounded<T>(list: T[], item: T): void {
  list.push(item);
  if (list.length > RECENT_LIMIT) list.shift();
}
