import { hostname } from 'node:os';
import { createConnection, type Connection, type ConnectionOptions, type RowDataPacket } from 'mysql2';
import { TributaryError } from '../../../core/errors.js';
import { EventType } from './binlog-constants.js';
import type { BinlogEvent } from './binlog-event.js';
import type { TableResolver } from './rows-event-decoder.js';
import { createDecoderContext, decodeEvent, decodeEventHeader, type DecoderContext } from './binlog-event-decoder.js';
import {
  BinlogStreamError,
  binlogProtocolError,
  classifyBinlogError,
  type BinlogStreamPhase,
} from './binlog-errors.js';
import type { BinlogPosition } from './binlog-position.js';
import { encodeMysqlGtidSet, parseMysqlGtidSet } from './gtid-set.js';
import { destroyConnection, pauseSocket, resumeSocket, socketOf, startBinlogDump } from './mysql2-binlog-command.js';
import { guardConnection, ProtocolFramingError, type ConnectionGuard } from './mysql2-connection-guard.js';
import { startSocketDeadline, type SocketDeadline } from '../../socket-deadline.js';

export interface BinlogStreamOptions {
  readonly host: string;
  readonly port?: number;
  readonly user: string;
  readonly password?: string;
  /** TLS, as mysql2 takes it. */
  readonly ssl?: ConnectionOptions['ssl'];
  /** With `ssl`: connect without TLS when the server offers none (`ssl-mode: preferred`). */
  readonly sslFallBackToPlain?: boolean;
  readonly connectTimeoutMs?: number;
  /** This reader's replica server id: unique among the server's replicas and other readers. */
  readonly serverId: number;
  /** Where to start: a binlog file and the position of an event boundary in it (4 = the file's start). */
  readonly file: string;
  readonly position: number;
  /**
   * Start by GTID instead (`file`/`position` are then ignored): the first transaction the server sends is the
   * first one not in this state. MariaDB: a GTID position (`0-1-120,1-5-17`), sent as `@slave_connect_state`
   * with strict mode; MySQL: a GTID set (`uuid:1-120`), sent with COM_BINLOG_DUMP_GTID.
   */
  readonly gtidState?: string;
  /** How often an idle server sends a heartbeat (default 5000 ms). */
  readonly heartbeatMs?: number;
  /**
   * The stream fails with SOURCE_TIMEOUT after this long without a byte from the server while it is read
   * (not while paused by backpressure). Default: 3 heartbeat periods — a live server sends at least one.
   */
  readonly idleTimeoutMs?: number;
  /** Canonical columns of a table (see `prepareRowDecoder`); undefined → derived from the table map. */
  readonly columnsFor?: TableResolver['columnsFor'];
  /** Tables whose rows events are skipped undecoded (they come as `other` events). */
  readonly includeTable?: (database: string, table: string) => boolean;
  /** MariaDB: also send the SQL of row-logged statements (annotateRows events). Default false. */
  readonly annotateRows?: boolean;
  /** End the iteration at the current end of the binlog instead of waiting for new events (default false). */
  readonly stopAtEnd?: boolean;
  /** Check every event's CRC32 (default false). */
  readonly verifyChecksum?: boolean;
  /**
   * Decode headers only: every event comes as an `other` event (default false). For reading a stretch of the
   * binlog that may start inside a transaction, where rows events lack their table maps.
   */
  readonly headersOnly?: boolean;
  /** Register with COM_REGISTER_SLAVE before dumping (default true). */
  readonly registerReplica?: boolean;
  /** Backpressure: the socket pauses above this many undelivered events (default 10 000) … */
  readonly maxQueuedEvents?: number;
  /** … or this many undelivered bytes (default 16 MiB); one larger event still passes. */
  readonly maxQueuedBytes?: number;
  /** Most events per batch (default 1000) … */
  readonly maxBatchEvents?: number;
  /** … and about this many raw bytes per batch (default 1 MiB; a larger event makes a batch of its own). */
  readonly maxBatchBytes?: number;
}

/**
 * A running binlog dump. Iterating yields batches of decoded events in binlog order; a batch ends after a DDL
 * statement, so `columnsFor` is asked about the tables after it only once the caller has seen the DDL.
 * Errors (TributaryErrors, see binlog-errors.ts) reject the iterator's `next()` after the events received
 * before them were delivered — except a broken framing, after which the undelivered events are dropped. Breaking out of the iteration closes the stream.
 */
export interface BinlogStream extends AsyncIterable<BinlogEvent[]> {
  readonly serverVersion: string;
  readonly flavor: 'mariadb' | 'mysql';
  /** Where the stream stands after the last event handed out (the end of that event). */
  readonly position: BinlogPosition;
  /** Events received from the server but not handed out yet (0: the consumer has caught up with the socket). */
  readonly backlog: number;
  /** Stops reading and closes the connection; resolves when its socket has closed. Idempotent. */
  close(): Promise<void>;
}

const DEFAULTS = {
  heartbeatMs: 5000,
  maxQueuedEvents: 10_000,
  maxQueuedBytes: 16 * 1024 * 1024,
  maxBatchEvents: 1000,
  maxBatchBytes: 1024 * 1024,
};

/** Connects, checks out the server, and starts dumping the binlog at `file`:`position`. */
export async function openBinlogStream(options: BinlogStreamOptions): Promise<BinlogStream> {
  const { connection, guard } = await connect(options).catch((error: unknown) => {
    if (
      options.sslFallBackToPlain === true &&
      error instanceof BinlogStreamError &&
      error.driverCode === 'HANDSHAKE_NO_SSL_SUPPORT'
    ) {
      return connect({ ...options, ssl: undefined });
    }
    throw error;
  });
  try {
    const { version, checksum } = await setUpSession(connection, options);
    // From here on the heartbeat rule watches the stream: a paused (backpressured) dump is silent by design.
    guard.stopDeadline();
    return new BinlogStreamImpl(connection, options, version, checksum);
  } catch (error) {
    await destroyConnection(connection);
    throw classifyBinlogError(error, 'setup');
  }
}

function connect(options: BinlogStreamOptions): Promise<{ connection: Connection; guard: ConnectionGuard }> {
  return new Promise((resolve, reject) => {
    const connection = createConnection({
      host: options.host,
      port: options.port ?? 3306,
      user: options.user,
      password: options.password ?? '',
      ...(options.ssl === undefined ? {} : { ssl: options.ssl }),
      connectTimeout: options.connectTimeoutMs ?? 10_000,
      charset: 'utf8mb4',
      supportBigNumbers: true,
      bigNumberStrings: true,
    });
    const guard = guardConnection(connection, {
      purpose: 'binlog',
      readTimeoutMs: options.idleTimeoutMs ?? 3 * (options.heartbeatMs ?? DEFAULTS.heartbeatMs),
    });
    connection.connect((error) => {
      if (error) {
        connection.destroy();
        reject(classifyBinlogError(error, 'connect'));
      } else {
        resolve({ connection, guard });
      }
    });
  });
}

function query(connection: Connection, sql: string): Promise<RowDataPacket[]> {
  return new Promise((resolve, reject) => {
    connection.query<RowDataPacket[]>(sql, (error, rows) => (error ? reject(error) : resolve(rows)));
  });
}

/**
 * Tells the server what this replica understands: checksums as the server writes them, heartbeats when idle,
 * and (MariaDB) GTID events as they are, not rewritten into BEGIN queries for old replicas. These are user
 * variables the dump thread reads; the other server's names are harmless.
 */
async function setUpSession(
  connection: Connection,
  options: BinlogStreamOptions,
): Promise<{ version: string; checksum: 'none' | 'crc32' }> {
  const [row] = await query(connection, 'SELECT VERSION() AS version, @@GLOBAL.binlog_checksum AS checksum');
  const version = String(row?.['version'] ?? '');
  if (options.gtidState !== undefined && /mariadb/i.test(version)) {
    // The dump thread reads these instead of the file and position of COM_BINLOG_DUMP. Strict: a GTID of the
    // state that is not in the server's binlog (a diverged server) is an error, not a silent skip.
    await query(
      connection,
      `SET @slave_connect_state = ${connection.escape(options.gtidState)}, @slave_gtid_strict_mode = 1, ` +
        '@slave_gtid_ignore_duplicates = 0',
    );
  }
  const checksum = String(row?.['checksum'] ?? 'NONE').toUpperCase() === 'CRC32' ? 'crc32' : 'none';
  const periodNs = BigInt(Math.max(1, Math.round(options.heartbeatMs ?? DEFAULTS.heartbeatMs))) * 1_000_000n;
  await query(
    connection,
    'SET @master_binlog_checksum = @@GLOBAL.binlog_checksum, @source_binlog_checksum = @@GLOBAL.binlog_checksum, ' +
      `@master_heartbeat_period = ${periodNs}, @source_heartbeat_period = ${periodNs}, @mariadb_slave_capability = 4, ` +
      // The dump thread gives up on a replica that does not read for net_write_timeout (60 s by default);
      // a paused stream (slow consumer, backpressure) must survive longer than that.
      `SESSION net_write_timeout = ${NET_WRITE_TIMEOUT_S}`,
  );
  return { version, checksum };
}

const BINLOG_DUMP_NON_BLOCK = 1;
const BINLOG_SEND_ANNOTATE_ROWS_EVENT = 2;

/** How long the server waits on a paused (backpressured) stream before it drops the connection. */
const NET_WRITE_TIMEOUT_S = 3600;

/** Types the server sends before the requested position's own events; a 1236 after them is mid-stream. */
const PREAMBLE_TYPES: ReadonlySet<number> = new Set([
  EventType.ROTATE,
  EventType.FORMAT_DESCRIPTION,
  EventType.MARIADB_GTID_LIST,
  EventType.BINLOG_CHECKPOINT,
  EventType.PREVIOUS_GTIDS,
  EventType.HEARTBEAT,
  EventType.HEARTBEAT_V2,
]);

class BinlogStreamImpl implements BinlogStream {
  readonly flavor: 'mariadb' | 'mysql';
  private readonly ctx: DecoderContext;
  /** Undelivered raw events; `head` is the next one. */
  private queue: Buffer[] = [];
  private head = 0;
  private queuedBytes = 0;
  private paused = false;
  private failure: BinlogStreamError | undefined;
  private ended = false;
  private closed = false;
  private phase: BinlogStreamPhase = 'dump-start';
  private wake: (() => void) | undefined;
  /** Set once the connection is being torn down; resolves when its socket has closed. */
  private socketClosed: Promise<void> | undefined;
  private readonly idleDeadline: SocketDeadline;
  private file: string;
  private pos: number;
  private readonly maxQueuedEvents: number;
  private readonly maxQueuedBytes: number;
  private readonly maxBatchEvents: number;
  private readonly maxBatchBytes: number;
  private readonly headersOnly: boolean;

  constructor(
    private readonly connection: Connection,
    options: BinlogStreamOptions,
    readonly serverVersion: string,
    checksum: 'none' | 'crc32',
  ) {
    this.flavor = /mariadb/i.test(serverVersion) ? 'mariadb' : 'mysql';
    this.file = options.file;
    this.pos = options.position;
    this.maxQueuedEvents = options.maxQueuedEvents ?? DEFAULTS.maxQueuedEvents;
    this.maxQueuedBytes = options.maxQueuedBytes ?? DEFAULTS.maxQueuedBytes;
    this.maxBatchEvents = options.maxBatchEvents ?? DEFAULTS.maxBatchEvents;
    this.maxBatchBytes = options.maxBatchBytes ?? DEFAULTS.maxBatchBytes;
    this.headersOnly = options.headersOnly ?? false;
    this.ctx = createDecoderContext({
      checksum,
      verifyChecksum: options.verifyChecksum ?? false,
      columnsFor: options.columnsFor,
      includeTable: options.includeTable,
    });

    connection.on('error', (error: unknown) => this.fail(classifyBinlogError(error, this.phase)));
    const heartbeatMs = options.heartbeatMs ?? DEFAULTS.heartbeatMs;
    const idleTimeoutMs = options.idleTimeoutMs ?? 3 * heartbeatMs;
    // Counted in bytes, not events: a large event arriving slowly is progress, silence is not.
    this.idleDeadline = startSocketDeadline({
      socket: () => socketOf(connection),
      busy: () => !this.paused,
      timeoutMs: idleTimeoutMs,
      onExpire: (silentMs) =>
        this.fail(
          new BinlogStreamError(
            'SOURCE_TIMEOUT',
            `no binlog event nor heartbeat from the server for ${Math.round(silentMs / 100) / 10} s ` +
              `(heartbeat every ${heartbeatMs / 1000} s): the connection is silent`,
            {
              hint:
                'transient: the pipeline reconnects and resumes from its last checkpoint. A half-open link (NAT, ' +
                'firewall, failover) or a stalled server; source option `heartbeat.interval` sets how soon this is noticed',
            },
          ),
        ),
    });

    startBinlogDump(
      connection,
      {
        serverId: options.serverId,
        file: options.gtidState === undefined ? options.file : '',
        position: options.gtidState === undefined ? options.position : 4,
        ...(options.gtidState !== undefined && this.flavor === 'mysql'
          ? { mysqlGtidSet: encodeMysqlGtidSet(parseMysqlGtidSet(options.gtidState)) }
          : {}),
        flags:
          (options.stopAtEnd === true ? BINLOG_DUMP_NON_BLOCK : 0) |
          (this.flavor === 'mariadb' && options.annotateRows === true ? BINLOG_SEND_ANNOTATE_ROWS_EVENT : 0),
        register: options.registerReplica ?? true,
        hostname: hostname(),
      },
      {
        onEvent: (event) => this.onEvent(event),
        onEnd: () => {
          this.ended = true;
          this.socketClosed = destroyConnection(connection);
          this.signal();
        },
        onError: (error) => this.fail(classifyBinlogError(error, this.phase)),
      },
    );
  }

  get position(): BinlogPosition {
    return { file: this.file, pos: this.pos };
  }

  get backlog(): number {
    return this.queue.length - this.head;
  }

  private onEvent(event: Buffer): void {
    if (this.phase === 'dump-start' && !PREAMBLE_TYPES.has(event[4] ?? 0)) this.phase = 'streaming';
    this.queue.push(event);
    this.queuedBytes += event.length;
    if (
      !this.paused &&
      (this.queue.length - this.head >= this.maxQueuedEvents || this.queuedBytes >= this.maxQueuedBytes)
    ) {
      this.paused = true;
      pauseSocket(this.connection);
    }
    this.signal();
  }

  private fail(error: BinlogStreamError): void {
    if (this.closed || this.failure !== undefined || this.ended) return;
    this.failure = error;
    this.idleDeadline.stop();
    if (error.cause instanceof ProtocolFramingError) {
      // The events not handed out yet are dropped: the last of them may hold bytes of the packets after it, and
      // a reconnect reads them all again from the last checkpoint.
      this.queue = [];
      this.head = 0;
      this.queuedBytes = 0;
    }
    this.socketClosed = destroyConnection(this.connection);
    this.signal();
  }

  private signal(): void {
    const wake = this.wake;
    this.wake = undefined;
    wake?.();
  }

  close(): Promise<void> {
    if (!this.closed) {
      this.closed = true;
      this.idleDeadline.stop();
      this.socketClosed ??= destroyConnection(this.connection);
      this.queue = [];
      this.head = 0;
      this.queuedBytes = 0;
      this.signal();
    }
    return this.socketClosed ?? Promise.resolve();
  }

  async *[Symbol.asyncIterator](): AsyncIterator<BinlogEvent[]> {
    try {
      for (;;) {
        while (this.head >= this.queue.length) {
          if (this.closed) return;
          if (this.failure !== undefined) throw this.failure;
          if (this.ended) return;
          await new Promise<void>((resolve) => (this.wake = resolve));
        }
        yield this.nextBatch();
      }
    } finally {
      await this.close();
    }
  }

  /** Decodes the next events, up to the batch limit or a DDL statement. */
  private nextBatch(): BinlogEvent[] {
    const batch: BinlogEvent[] = [];
    const limit = Math.min(this.queue.length, this.head + this.maxBatchEvents);
    let bytes = 0;
    while (this.head < limit) {
      const raw = this.queue[this.head]!;
      if (bytes > 0 && bytes + raw.length > this.maxBatchBytes) break;
      bytes += raw.length;
      this.head++;
      this.queuedBytes -= raw.length;
      let event: BinlogEvent;
      try {
        if (this.headersOnly) {
          const header = decodeEventHeader(raw, this.ctx);
          event = { kind: 'other', header, type: header.type };
        } else {
          event = decodeEvent(raw, this.ctx);
        }
      } catch (error) {
        // After the connection failed (a broken framing), the event may be garbage: report why, not the symptom.
        const failure = this.failure ?? (error instanceof BinlogStreamError ? error : classifyDecodeError(error));
        this.fail(failure);
        throw failure;
      }
      batch.push(event);
      this.advance(event);
      if (event.kind === 'query' && isDdl(event.sql)) break;
    }
    if (this.head > 4096 && this.head * 2 > this.queue.length) {
      this.queue = this.queue.slice(this.head);
      this.head = 0;
    }
    if (
      this.paused &&
      this.queue.length - this.head <= this.maxQueuedEvents >> 1 &&
      this.queuedBytes <= this.maxQueuedBytes / 2
    ) {
      this.paused = false;
      resumeSocket(this.connection);
    }
    return batch;
  }

  private advance(event: BinlogEvent): void {
    if (event.kind === 'rotate') {
      this.file = event.nextFile;
      this.pos = event.nextPos;
    } else if (event.kind === 'heartbeat') {
      // Sent only when the server has nothing more: it stands at the end of the file it names.
      if (event.logFile !== '') this.file = event.logFile;
      if (event.logPos > 0) this.pos = event.logPos;
    } else if (event.kind !== 'formatDescription' && event.header.logPos > 0 && (event.header.flags & 0x20) === 0) {
      this.pos = event.header.logPos;
    }
  }
}

function classifyDecodeError(error: unknown): BinlogStreamError {
  if (error instanceof BinlogStreamError) return error;
  if (error instanceof TributaryError) {
    return new BinlogStreamError(error.code, error.message, {
      ...(error.hint ? { hint: error.hint } : {}),
      cause: error,
    });
  }
  return binlogProtocolError(error instanceof Error ? error.message : String(error), error);
}

/** Statements after which the caller must see the event before later table maps are decoded. */
function isDdl(sql: string): boolean {
  const head = sql.trimStart().slice(0, 9).toUpperCase();
  return !(
    head.startsWith('BEGIN') ||
    head.startsWith('COMMIT') ||
    head.startsWith('ROLLBACK') ||
    head.startsWith('XA ') ||
    head.startsWith('SAVEPOINT')
  );
}
