import { plural, type SourcePosition } from '../../core/index.js';
import type { SnapshotProgress } from '../source-kit/snapshot-progress.js';
import type { BinlogFingerprint } from './mysql-binlog-fingerprint.js';
import type { SavedSchemas } from './mysql-schema-history.js';

/**
 * A resumable binlog position. `file`/`pos` point at an event boundary: the start of the transaction that
 * was in progress (or the end of the last complete one); `skipRows` row changes of that transaction were
 * already delivered and are skipped on resume. So a batch may end in the middle of a huge transaction and a
 * restart still neither repeats nor loses a row.
 */
export interface BinlogOffset {
  readonly file: string;
  readonly pos: number;
  readonly skipRows: number;
  /** The last GTID seen (MariaDB `domain-server-seq` or MySQL `uuid:n`), for humans and later GTID resume. */
  readonly gtid?: string;
  /** The events just before `pos`, read again on resume to prove it is the same binlog (see BinlogFingerprint). */
  readonly fingerprint?: BinlogFingerprint;
  /**
   * The GTID state at `pos` (MariaDB GTID position, MySQL executed set; see mysql-gtid.ts): what a resume on
   * another server of the topology starts from. `file` '' means the position is known only by this state (a
   * resume by GTID that has not seen the new server's first transaction yet).
   */
  readonly gtidState?: string;
}

/** The MySQL source's whole resume state, as committed with each checkpoint. */
export interface MysqlPosition extends SourcePosition {
  readonly kind: 'mysql';
  readonly binlog: BinlogOffset;
  /** Absent once every snapshot is done (or for latest-offset). */
  readonly snapshot?: SnapshotProgress;
  /** Every table captured when the position was taken: a table matched later is snapshotted on resume. */
  readonly capturedTables?: readonly string[];
  /** The server's identity when the position was taken; a different server cannot resume it. */
  readonly serverUuid?: string;
  /** `host:port` the position was read from: with several hosts, the one tried first on resume. */
  readonly host?: string;
  /**
   * The captured tables' schemas at the position (the schema history): a resumed run decodes the binlog from
   * there with them, not with what information_schema says later. Absent in checkpoints of older versions.
   */
  readonly schemas?: SavedSchemas;
}

export function isMysqlPosition(position: SourcePosition | null): position is MysqlPosition {
  return position !== null && position['kind'] === 'mysql' && typeof position['binlog'] === 'object';
}

export function formatBinlogOffset(offset: BinlogOffset): string {
  if (offset.file === '' && offset.gtidState !== undefined) {
    return `GTID ${offset.gtidState}${offset.skipRows ? `+${plural(offset.skipRows, 'row')}` : ''}`;
  }
  return `${offset.file}:${offset.pos}${offset.skipRows ? `+${plural(offset.skipRows, 'row')}` : ''}`;
}
