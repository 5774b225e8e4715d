import type { SourcePosition } from '../../core/index.js';
import type { SnapshotProgress } from '../source-kit/index.js';

/**
 * The PostgreSQL source's resume state, committed with each checkpoint. `lsn` is the end of the last
 * transaction delivered completely (a Commit message's end LSN; or, when idle, a keepalive's WAL position with
 * nothing in flight); `skip` changes of the transaction after it were already delivered and are skipped on
 * resume, so a batch may end inside a large transaction. The slot's `confirmed_flush_lsn` follows `lsn` once it
 * is committed.
 */
export interface PostgresPosition extends SourcePosition {
  readonly kind: 'postgres';
  readonly slot: string;
  readonly lsn: string;
  readonly skip: number;
  /**
   * While the snapshot is incomplete: the chunks delivered, per table not finished (the source kit's progress).
   * Checkpoints of earlier releases list the tables done instead (`tablesDone`).
   */
  readonly snapshot?: SnapshotProgress | { readonly tablesDone: readonly string[] };
  /** Every table captured when the position was taken (`schema.table`): a table matched later is snapshotted. */
  readonly capturedTables?: readonly string[];
  /** The server's `IDENTIFY_SYSTEM` id: a checkpoint of another cluster cannot resume here. */
  readonly systemId?: string;
}

export function isPostgresPosition(position: SourcePosition | null): position is PostgresPosition {
  return position !== null && position['kind'] === 'postgres' && typeof position['lsn'] === 'string';
}
