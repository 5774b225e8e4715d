import { tableIdToString } from '../../core/index.js';
import type { Logger } from '../../core/logger.js';
import type { BinlogEvent } from './protocol/binlog-event.js';
import { openBinlogStream, type BinlogStream, type BinlogStreamOptions } from './protocol/binlog-client.js';
import type { ColumnInfo } from './protocol/canonical-types.js';
import { FingerprintRing, type BinlogFingerprint } from './mysql-binlog-fingerprint.js';
import type { BinlogStep } from './mysql-binlog-step.js';
import { GtidTracker } from './mysql-gtid.js';
import type { LogPoint } from './mysql-log-point.js';
import type { MysqlTable } from './mysql-schema-reader.js';
import type { MysqlSourceConfig } from './mysql-source-config.js';
import { zeroDateError } from './mysql-types.js';

/**
 * The one small interface between the MySQL source and the binlog: batches of {@link BinlogStep}s in binlog
 * order. Behind it sits our own decoder on mysql2's protocol framing (protocol/); another reader (a
 * different library, a file reader for tests) only has to produce the same steps.
 */
export interface MysqlBinlogReader {
  /** The next steps, or null when the stream ended. `caughtUp`: nothing more is buffered right now. */
  next(): Promise<{ readonly steps: BinlogStep[]; readonly caughtUp: boolean } | null>;
  close(): Promise<void>;
}

export interface BinlogReaderOptions {
  readonly config: MysqlSourceConfig;
  readonly serverId: number;
  readonly start: LogPoint;
  /** The fingerprint of `start` (the events before it), when the position carried one. */
  readonly fingerprint?: BinlogFingerprint | undefined;
  /** The GTID state at `start` (see mysql-gtid.ts): commit steps carry it on; undefined: not tracked. */
  readonly gtidState?: string | undefined;
  /**
   * Connect by `gtidState` instead of `start` (a resume on another server of the topology): `start` is then
   * unknown until the server's first transaction arrives.
   */
  readonly byGtid?: boolean;
  /** The captured table of that name, or undefined when the table is not captured. */
  /** `qualifiedName`: `database.table`, when the caller has it made already. */
  readonly tableFor: (database: string, table: string, qualifiedName?: string) => MysqlTable | undefined;
  readonly log: Logger;
}

export async function openMysqlBinlogReader(options: BinlogReaderOptions): Promise<MysqlBinlogReader> {
  const { config } = options;
  const columns = new WeakMap<MysqlTable, ColumnInfo[]>();
  const stream = await openBinlogStream({
    ...binlogConnection(config),
    serverId: options.serverId,
    file: options.start.file,
    position: options.start.pos,
    ...(options.byGtid === true && options.gtidState !== undefined ? { gtidState: options.gtidState } : {}),
    heartbeatMs: config.heartbeatMs,
    // Cheap (zlib's crc32), and the only way to notice bytes altered on the way before they become rows.
    verifyChecksum: true,
    includeTable: (db, table) => options.tableFor(db, table) !== undefined,
    columnsFor: (db, table, qualifiedName) => {
      const captured = options.tableFor(db, table, qualifiedName);
      if (!captured) return undefined;
      let info = columns.get(captured);
      if (!info) columns.set(captured, (info = columnInfo(captured)));
      return info;
    },
  });
  return new StepReader(
    stream,
    options.start,
    options.fingerprint,
    new GtidTracker(options.gtidState),
    options.byGtid === true && options.gtidState !== undefined,
  );
}

/**
 * Column types and charsets as the row decoder needs them (the same array while the schema is unchanged), and
 * under `zero-date.handling: error` the error a zero date raises.
 */
function columnInfo(table: MysqlTable): ColumnInfo[] {
  const name = tableIdToString(table.schema.id);
  return table.schema.columns.map((column, i) => {
    const charset = table.charsets[i];
    return {
      type: column.type,
      ...(charset ? { charset } : {}),
      // Signedness from the catalog, not the table map's bitmap: that one is optional, and which columns it
      // counts differs between servers (MariaDB counts YEAR, see protocol/table-map-decoder.ts).
      ...(column.sourceType === undefined ? {} : { unsigned: /\bunsigned\b/i.test(column.sourceType) }),
      ...(table.zeroDates === 'error'
        ? {
            onZeroDate: (text: string): never => {
              throw zeroDateError(name, column.name, text);
            },
          }
        : {}),
    };
  });
}

/** Turns decoded events into steps, tracking the file name and transaction boundaries. */
class StepReader implements MysqlBinlogReader {
  private readonly iterator: AsyncIterator<BinlogEvent[]>;
  private file: string;
  private inTxn = false;
  private readonly ring: FingerprintRing;

  private txnGtid: string | undefined;

  /**
   * `byGtid`: the stream started at a GTID state. The server skips the transactions before it without sending
   * them, so the events before the first transaction it sends (format description, GTID list, …) end at
   * positions that are not resume points: nothing moves the position until that first transaction begins.
   */
  constructor(
    private readonly stream: BinlogStream,
    start: LogPoint,
    fingerprint: BinlogFingerprint | undefined,
    private readonly gtids: GtidTracker,
    private byGtid: boolean,
  ) {
    this.iterator = stream[Symbol.asyncIterator]();
    this.file = start.file;
    this.ring = new FingerprintRing(byGtid ? undefined : fingerprint);
  }

  async next(): Promise<{ steps: BinlogStep[]; caughtUp: boolean } | null> {
    const result = await this.iterator.next();
    if (result.done) return null;
    const steps: BinlogStep[] = [];
    for (const event of result.value) this.toSteps(event, steps);
    return { steps, caughtUp: this.stream.backlog === 0 };
  }

  close(): Promise<void> {
    return this.stream.close();
  }

  private toSteps(event: BinlogEvent, steps: BinlogStep[]): void {
    // Positions and the time are made where a step needs them, without a closure per event: two events of each
    // single-row statement come through here.
    const { header } = event;
    if (this.byGtid) {
      if (event.kind === 'rotate') this.file = event.nextFile;
      if (event.kind === 'heartbeat' && event.logFile !== '' && event.logPos > 0) {
        // The server is idle: it has sent or skipped everything up to where it stands, and what it skipped is
        // in the state. So that point is a resume point (and a snapshot chunk's watermark can be reached).
        this.byGtid = false;
        this.ring.reset();
        this.file = event.logFile;
        steps.push({ kind: 'advance', end: { file: event.logFile, pos: event.logPos }, fingerprint: undefined });
      }
      if (event.kind === 'heartbeat') steps.push({ kind: 'idle' });
      if (event.kind !== 'gtid' && event.kind !== 'query') return;
      this.byGtid = false;
      this.ring.reset();
    }
    // The events before a transaction's start; then this event joins the fingerprint.
    const before = event.kind === 'gtid' || event.kind === 'query' ? this.ring.current() : undefined;
    if (event.kind === 'rotate') this.ring.reset();
    else this.ring.add(header);
    switch (event.kind) {
      case 'rotate':
        this.file = event.nextFile;
        steps.push({ kind: 'advance', end: { file: event.nextFile, pos: event.nextPos }, fingerprint: undefined });
        return;
      case 'gtid':
        this.inTxn = true;
        this.txnGtid = event.gtid;
        steps.push({
          kind: 'begin',
          start: this.point(header.logPos - header.eventSize),
          gtid: event.gtid,
          fingerprint: before,
        });
        return;
      case 'query': {
        const sql = event.sql.trim();
        const word = firstWord(sql);
        if (word === 'BEGIN' || /^XA\s+START/i.test(sql)) {
          if (!this.inTxn)
            steps.push({
              kind: 'begin',
              start: this.point(header.logPos - header.eventSize),
              gtid: undefined,
              fingerprint: before,
            });
          this.inTxn = true;
        } else if (word === 'COMMIT' || word === 'ROLLBACK') {
          this.inTxn = false;
          steps.push({
            kind: 'commit',
            end: this.point(header.logPos),
            fingerprint: this.ring.current(),
            gtidState: this.committed(),
          });
        } else if (isSavepointOrNoise(word)) {
          return;
        } else {
          this.inTxn = false; // DDL commits implicitly
          steps.push({
            kind: 'ddl',
            database: event.database,
            sql,
            end: this.point(header.logPos),
            tsMs: header.timestamp * 1000,
            fingerprint: this.ring.current(),
            gtidState: this.committed(),
          });
        }
        return;
      }
      case 'xid':
        this.inTxn = false;
        steps.push({
          kind: 'commit',
          end: this.point(header.logPos),
          fingerprint: this.ring.current(),
          gtidState: this.committed(),
        });
        return;
      case 'rows':
        steps.push({
          kind: 'rows',
          table: event.qualifiedName,
          action: event.action,
          rows: event.rows,
          end: this.point(header.logPos),
          tsMs: header.timestamp * 1000,
        });
        return;
      case 'heartbeat':
        steps.push({ kind: 'idle' });
        return;
      default:
        // Artificial events (fake rotate/format description at the start of a dump) carry no position.
        // Inside a transaction (a table map before each statement's rows) the source keeps its resume point at the
        // transaction's start: the step would move nothing, and none is made.
        if (header.logPos > 0 && (header.flags & LOG_EVENT_ARTIFICIAL) === 0 && !this.inTxn) {
          steps.push({ kind: 'advance', end: this.point(header.logPos), fingerprint: this.ring.current() });
        }
    }
  }

  /** `pos` in the current file. */
  private point(pos: number): LogPoint {
    return { file: this.file, pos };
  }

  /** The GTID state once the transaction in progress has committed. */
  private committed(): string | undefined {
    this.gtids.commit(this.txnGtid);
    this.txnGtid = undefined;
    return this.gtids.state;
  }
}

const LOG_EVENT_ARTIFICIAL = 0x20;

function firstWord(sql: string): string {
  const match = /^[A-Za-z]+/.exec(sql);
  return match ? match[0].toUpperCase() : '';
}

/** Statements that neither change a schema nor end a transaction (XA END/PREPARE/COMMIT close an XA group that began with XA START). */
function isSavepointOrNoise(word: string): boolean {
  return word === 'SAVEPOINT' || word === 'RELEASE' || word === 'XA' || word === '';
}

/** Where and as whom binlog connections (the reader's, the fingerprint check's) connect. */
export function binlogConnection(
  config: MysqlSourceConfig,
): Pick<
  BinlogStreamOptions,
  'host' | 'port' | 'user' | 'password' | 'connectTimeoutMs' | 'ssl' | 'sslFallBackToPlain'
> {
  return {
    host: config.host,
    port: config.port,
    user: config.user,
    password: config.password,
    connectTimeoutMs: config.connectTimeoutMs,
    ...(config.tls.ssl === undefined ? {} : { ssl: config.tls.ssl, sslFallBackToPlain: config.tls.fallBackToPlain }),
  };
}
