import type { ChangeEvent, SchemaChangeEvent } from './change-event.js';
import type { StreamEvent } from './packed-rows.js';

/**
 * An operator's state as committed with a checkpoint: JSON-serialisable (no bigints, no class instances),
 * opaque to everything but the operator that wrote it.
 */
export type OperatorState = { readonly [key: string]: unknown };

/**
 * A stage between source and sink (route, projection, …). It receives batches in source order and returns
 * the events to pass on, in order. Operators keep per-table plans, rebuilt on each schema event.
 *
 * A stage whose output depends on more than the schema events of the current attempt (the schema-evolution
 * stage: what each sink table really is) keeps state across restarts: the runner takes `snapshotState()` at
 * every commit, after every event up to the checkpoint's position went through `process`, stores it in the
 * {@link Checkpoint} next to that position, and hands it to `restoreState` of a new operator before the first
 * event of the next attempt. Both are optional; a checkpoint without state leaves the operator as built.
 */
export interface Operator {
  process(events: readonly ChangeEvent[]): readonly ChangeEvent[];
  /**
   * `process` for a batch that may hold packed snapshot reads ({@link PackedReadEvent}): passes a packed run on
   * where its rows go through unchanged, unpacks it where they do not. An operator without it gets unpacked
   * batches (and the source is not asked for packed runs).
   */
  processPacked?(events: readonly StreamEvent[]): readonly StreamEvent[];
  /**
   * The state to commit with the next checkpoint. Called between batches only; the runner awaits it (an operator
   * whose state a background write is still taking waits for it here).
   */
  snapshotState?(): OperatorState | Promise<OperatorState>;
  /** Restores what `snapshotState` returned in an earlier attempt; called before any `process`. */
  restoreState?(state: OperatorState): void;
  /**
   * The checkpoint holding the state `snapshotState` returned last is committed at the sink (an operator whose
   * state lives on disk applies it there now, or starts to; a crash before it lands is caught up from that
   * checkpoint). The runner awaits it before the next batch.
   */
  checkpointCommitted?(): void | Promise<void>;
  /** The attempt ends (stopped, failed or finished): finish background writes, release files and connections. */
  close?(): void | Promise<void>;
  /**
   * The sink could not apply `event`, a schema event this operator emitted, and undid it. Returns true when the
   * operator takes that in (the events it emits from now on fit the table as it was before `event`); false when
   * it does not know the event or its policy is to stop — the runner then stops the pipeline with the sink's error.
   */
  schemaChangeFailed?(event: SchemaChangeEvent): boolean;
}
