import type { StreamEvent } from '../../core/packed-rows.js';

/** The sink option `write-mode`: how changes reach the sink tables (docs/connectors/postgres.md#write-modes). */
export type PostgresWriteMode = 'upsert' | 'merge' | 'append';

/**
 * What the sink needs from each write mode. Every method runs inside the sink's open transaction, which the
 * sink begins before the first `write` after a commit and ends after `flush` with the checkpoint row; so
 * whatever a mode writes, it becomes visible together with the checkpoint that vouches for it, or not at all.
 */
export interface PostgresModeWriter {
  /**
   * Applies or stages one batch (events in source order), schema changes included, in order. Packed snapshot
   * reads come only to the upsert mode's writer, which writes them from their bytes (the sink offers
   * `writePacked` in that mode alone).
   */
  write(events: readonly StreamEvent[]): Promise<void>;
  /** Completes the transaction's data before the checkpoint row is written. */
  flush(): Promise<void>;
  /** The sink table being written, for error messages (undefined between statements). */
  readonly currentTable: string | undefined;
  /**
   * Forgets what a rolled-back transaction may have undone or left half-done (staging tables, remembered
   * table facts, staged rows). Table schemas are kept.
   */
  rollback(): void;
  /** Forgets everything, table schemas included: a re-opened stream starts with createTable events again. */
  restart(): void;
}
