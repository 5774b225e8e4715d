import type { Row } from '../../core/index.js';
import type { BinlogFingerprint } from './mysql-binlog-fingerprint.js';
import type { LogPoint } from './mysql-log-point.js';

/**
 * What the binlog reader hands to the source, one step per binlog event that matters. Positions are event
 * ends (`end`) or, for a transaction's first event, its start (`start`), so the source always knows the
 * last transaction boundary it may resume from.
 */
export type BinlogStep =
  /** A transaction starts at `start` (its GTID event, or BEGIN). */
  | {
      readonly kind: 'begin';
      readonly start: LogPoint;
      readonly gtid: string | undefined;
      /** The events just before `start` (see BinlogFingerprint). */
      readonly fingerprint: BinlogFingerprint | undefined;
    }
  /**
   * Row changes of one captured table. For updates `rows` alternates before and after images:
   * [before0, after0, before1, after1, …].
   */
  | {
      readonly kind: 'rows';
      readonly table: string;
      readonly action: 'insert' | 'update' | 'delete';
      readonly rows: readonly Row[];
      readonly end: LogPoint;
      readonly tsMs: number;
    }
  /**
   * The transaction in progress committed; `end` is a safe resume point, `gtidState` the GTID state there (see
   * mysql-gtid.ts; undefined when the reader does not know it).
   */
  | {
      readonly kind: 'commit';
      readonly end: LogPoint;
      readonly fingerprint: BinlogFingerprint | undefined;
      readonly gtidState?: string | undefined;
    }
  /** A statement outside row events (DDL) in `database`; `end` is after it (DDL commits implicitly). */
  | {
      readonly kind: 'ddl';
      readonly database: string;
      readonly sql: string;
      readonly end: LogPoint;
      readonly tsMs: number;
      readonly fingerprint: BinlogFingerprint | undefined;
      readonly gtidState?: string | undefined;
    }
  /** Any other event: only the position moved (`end`); `fingerprint` is set outside transactions. */
  | { readonly kind: 'advance'; readonly end: LogPoint; readonly fingerprint?: BinlogFingerprint | undefined }
  /** A heartbeat: the server has nothing more to send right now. */
  | { readonly kind: 'idle' };
