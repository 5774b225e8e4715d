import type { ChangeEvent } from './change-event.js';
import type { SourcePosition } from './source.js';

/** A committed checkpoint: the source position up to which the sink holds every change, exactly once. */
export interface Checkpoint {
  readonly pipeline: string;
  readonly id: number;
  readonly position: SourcePosition;
  /** ISO-8601 time of the commit. */
  readonly committedAt: string;
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
  /** Connects and checks credentials, database and privileges; throws TributaryError with a fix. */
  validate(): Promise<void>;
  /** Returns the last committed checkpoint of `pipeline`, or null on a first run. */
  open(pipeline: string): Promise<Checkpoint | null>;
  write(events: readonly ChangeEvent[]): Promise<void>;
  /** Number of events buffered since the last commit. */
  pending(): number;
  commit(checkpoint: Checkpoint): Promise<void>;
  /** Forgets the committed checkpoint of `pipeline` (data stays), so the next run starts over. */
  reset?(pipeline: string): Promise<void>;
  close(): Promise<void>;
}
