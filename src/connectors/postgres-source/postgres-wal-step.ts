import type { Row } from '../../core/index.js';
import type { Lsn } from './pg-lsn.js';
import type { RelationMessage, TupleData } from './pgoutput-decoder.js';
import type { PgTable } from './postgres-source-catalog.js';

/**
 * One row change as the WAL reader decoded it: images converted with the relation's columns. An update whose
 * new row has unchanged TOAST values keeps its raw tuples (`toast`) for the source to resolve when it applies
 * the step; its `after` is then the key only.
 */
export interface WalRowChange {
  readonly op: 'insert' | 'update' | 'delete';
  readonly before: Row | null;
  readonly after: Row | null;
  readonly toast?: {
    readonly after: TupleData;
    readonly before: TupleData | null;
    readonly beforeKind: 'key' | 'old' | null;
  };
}

/**
 * The steps the source kit merges (source-kit/source-dialect.ts), from pgoutput messages. Positions are LSNs
 * in stream order: a transaction's steps sit at its commit record's LSN (pgoutput sends a transaction when it
 * commits), a logical message at its own record's LSN, so a chunk's watermarks fall between transactions.
 */
export type WalStep =
  | { readonly kind: 'begin'; readonly start: Lsn; readonly xid: number; readonly tsMs: number }
  | {
      readonly kind: 'rows';
      readonly table: string;
      readonly pgTable: PgTable;
      /** Every image of `changes` (their keys are what chunk windows drop). */
      readonly rows: readonly Row[];
      readonly changes: readonly WalRowChange[];
      readonly end: Lsn;
    }
  | { readonly kind: 'commit'; readonly end: Lsn; readonly endLsn: Lsn; readonly tsMs: number }
  | { readonly kind: 'ddl'; readonly end: Lsn; readonly change: WalDdl }
  | { readonly kind: 'advance'; readonly end: Lsn }
  | { readonly kind: 'idle' };

/**
 * What the kit must apply before it pulls on: a Relation message (the columns that the rows after it have), a
 * TRUNCATE of captured tables, or a table found by the source's discovery (a logical message written before
 * the table was added to the publication, so it comes before any of its rows).
 */
export type WalDdl =
  | { readonly type: 'relation'; readonly message: RelationMessage }
  | { readonly type: 'truncate'; readonly relations: readonly number[] }
  | { readonly type: 'table-added'; readonly table: string };
