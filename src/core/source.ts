import type { ChangeEvent } from './change-event.js';
import type { TableSchema } from './table-schema.js';

/**
 * A source's resume state, JSON-serialisable and opaque to everything but its source: for MySQL the binlog
 * position plus snapshot progress. It is committed together with the effects of the events before it, so a
 * restart from it neither skips nor repeats a change.
 */
export type SourcePosition = { readonly [key: string]: unknown };

/** Events travel in batches; each batch carries the position to resume from after its last event. */
export interface ChangeBatch {
  readonly events: readonly ChangeEvent[];
  /** Resume state after the last event of this batch (applies to the whole stream, not one table). */
  readonly position: SourcePosition;
  /** The source had nothing more buffered when it handed this batch over: a good moment to commit. */
  readonly caughtUp: boolean;
}

/** What `validate` found: the tables the pipeline will capture, with their schemas. */
export interface SourceDescription {
  readonly tables: readonly TableSchema[];
  /** One line per check that passed, for `tributary validate`. */
  readonly checks: readonly string[];
}

/**
 * A source connector. `validate` runs every check a user can fail before anything moves (reachability,
 * credentials, server settings, privileges, keys). `open` then starts reading at `resume` (or, without one,
 * where the startup mode says); `batches` yields changes in source history order per key until `close` is
 * called or, for a bounded source (snapshot-only), until it is done.
 */
export interface Source {
  validate(): Promise<SourceDescription>;
  open(resume: SourcePosition | null): Promise<void>;
  /**
   * Called before `open`: each batch should hold events of at most `maxTables` distinct tables, so that the
   * runtime can commit between batches before a sink transaction touches more tables than the sink allows. A
   * batch is cut only where its position is a valid resume point; a source that cannot cut (or does not
   * implement this) hands over larger batches, which the sink then writes in one transaction.
   */
  limitBatchTables?(maxTables: number): void;
  batches(): AsyncIterable<ChangeBatch>;
  /** Progress for humans: snapshot chunks done, binlog position, lag. */
  progress(): SourceProgress;
  close(): Promise<void>;
}

export interface SourceProgress {
  readonly phase: 'starting' | 'snapshot' | 'streaming' | 'done';
  readonly snapshotTablesDone: number;
  readonly snapshotTablesTotal: number;
  readonly snapshotRowsRead: number;
  /** Human-readable log position, e.g. `mysql-bin.000003:1234`. */
  readonly logPosition: string;
  /** How far the last event read lags behind the source's clock, in ms (0 when caught up). */
  readonly lagMs: number;
}
