import type { ChangeEvent } from './change-event.js';
import type { StreamEvent } from './packed-rows.js';
import type { OperatorState } from './operator.js';
import type { SourcePosition } from './source.js';
import type { TableId, TableSchema } from './table-schema.js';
import type { TableChecksums } from './table-checksums.js';
import type { ValidationCheck } from './validation-check.js';

/** A committed checkpoint: the source position up to which the sink holds every change, exactly once. */
export interface Checkpoint {
  readonly pipeline: string;
  readonly id: number;
  readonly position: SourcePosition;
  /** ISO-8601 time of the commit. */
  readonly committedAt: string;
  /**
   * The operators' state at `position` (see {@link Operator.snapshotState}), one entry per operator in pipeline
   * order, null for an operator without state. Absent in checkpoints written before operators had state: the
   * operators then start as built. A sink stores it with the position, in the same transaction.
   */
  readonly operators?: readonly (OperatorState | null)[];
}

/**
 * A sink connector. Events handed to `write` are buffered; `commit` makes all of them durable together with
 * the checkpoint record, atomically where the sink has transactions, so that after a crash `open` returns
 * exactly the position whose effects are in the sink. Events of one table arrive in source order, and a
 * table's `createTable` schema event always precedes its rows.
 */
export interface Sink {
  /**
   * False for a sink that cannot store checkpoints itself (a log, a file drop); the runtime then keeps them in
   * the embedded state store. Otherwise (the default) what `open` returns is authoritative, even when null.
   */
  readonly keepsCheckpoints?: false;
  /**
   * The most distinct tables one transaction of this sink may touch (sink option `commit.max-tables`), so that
   * a commit never needs more locks, staging tables or memory than the sink has. The runtime commits a
   * checkpoint before a batch would take the open transaction past it, and asks the source for batches of no
   * more tables than that ({@link Source.limitBatchTables}). Undefined: unbounded.
   */
  readonly maxTablesPerCommit?: number;
  /** Connects and checks credentials, database and privileges; throws TributaryError with a fix. */
  validate(): Promise<void>;
  /**
   * The last committed checkpoint of `pipeline`, as `open` would return it, but read without creating anything
   * (null when there is none, or no checkpoint table yet). For `validate`.
   */
  savedCheckpoint?(pipeline: string): Promise<Checkpoint | null>;
  /**
   * For `validate`: checks each existing sink table against the schema of its first `createTable` event, as
   * the first write will (SINK_SCHEMA_MISMATCH), creating and changing nothing. One check per table; a
   * table that does not exist yet is `ok` (it will be created).
   */
  checkTables?(schemas: readonly TableSchema[]): Promise<ValidationCheck[]>;
  /** Returns the last committed checkpoint of `pipeline`, or null on a first run. */
  open(pipeline: string): Promise<Checkpoint | null>;
  /**
   * Buffers or applies `events`. A write that holds a schema event has applied it when it resolves, so that a
   * failure is reported by that write: a schema change the sink cannot apply (a value that does not convert,
   * a change the sink does not support) is undone without losing the transaction, and the write rejects with
   * {@link SchemaChangeFailedError} (SINK_SCHEMA_CHANGE_FAILED). Then the events before `error.event` are
   * written (they commit with the next checkpoint), `error.event` is not, nor any event after it, and the
   * sink stays usable: the table keeps the schema it had before. Any other error ends the transaction.
   */
  write(events: readonly ChangeEvent[]): Promise<void>;
  /**
   * `write` for a batch that may hold packed snapshot reads ({@link PackedReadEvent}), which the sink writes from
   * their bytes. A sink without it is handed unpacked events (and the source is not asked for packed runs).
   */
  writePacked?(events: readonly StreamEvent[]): Promise<void>;
  /** Number of events buffered since the last commit. */
  pending(): number;
  commit(checkpoint: Checkpoint): Promise<void>;
  /** Forgets the committed checkpoint of `pipeline` (data stays), so the next run starts over. */
  reset?(pipeline: string): Promise<void>;
  /**
   * Empties the sink tables of `tables` (the pipeline's output tables, after routing) that exist, in one
   * transaction, and returns their names as the sink shows them. For `run --reset --truncate-targets`.
   */
  truncateTargets?(pipeline: string, tables: readonly TableId[]): Promise<string[]>;
  /** Checksums of the sink's tables for `tributary verify` (own connection; needs no `open`). */
  checksums?(): Promise<TableChecksums>;
  close(): Promise<void>;
}
