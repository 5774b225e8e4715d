import type { Connection } from 'mysql2';

/**
 * With mysql2-connection-guard.ts, the one place that touches mysql2 internals (checked against mysql2 3.24, lib/base/connection.js and
 * lib/packet_parser.js). mysql2 does the handshake, authentication, TLS and packet framing — including the
 * reassembly of packets split at 16 MB — and hands each complete packet to the active command's
 * `execute(packet, connection)`. This file adds a command that registers as a replica and dumps the binlog.
 *
 * Relied upon:
 * - `connection.addCommand(cmd)`: makes `cmd` active once earlier commands are done; calls
 *   `cmd.execute(undefined, connection)` to start it, then `cmd.execute(packet, connection)` per packet until
 *   it returns true; on a fatal network error calls `cmd.onResult(error)`.
 * - `packet.buffer`, `packet.start`, `packet.end`: the payload is `buffer[start + 4, end)`. The packet object
 *   and its buffer may be reused after `execute` returns, so the event is handed on at once (as a view of the
 *   socket chunk, which Node never reuses; decoders copy what they keep).
 * - `connection.writePacket(p)` with `p.buffer` (4 header bytes + payload), `p.length()` and
 *   `p.writeHeader(sequenceId)`; `connection._resetSequenceId()` before each new command packet.
 * - `connection.stream`: the socket, paused and resumed for backpressure directly (mysql2's own
 *   `pause()` re-queues packets through `Packet.clone()`, which loses the part count of split packets).
 */

interface IncomingPacket {
  readonly buffer: Buffer;
  readonly start: number;
  readonly end: number;
}

interface OutgoingPacket {
  readonly buffer: Buffer;
  length(): number;
  writeHeader(sequenceId: number): void;
}

interface Mysql2Command {
  execute(packet: IncomingPacket | undefined, connection: Mysql2Internals): boolean;
  onResult(error: Error): void;
}

interface Mysql2Internals {
  addCommand(command: Mysql2Command): unknown;
  writePacket(packet: OutgoingPacket): void;
  _resetSequenceId(): void;
  readonly stream: {
    readonly bytesRead: number;
    readonly bytesWritten: number;
    pause(): void;
    resume(): void;
    destroy(): void;
    readonly closed: boolean;
    once(event: 'close', listener: () => void): unknown;
  };
}

/** An error packet of the server. */
export interface ServerError extends Error {
  readonly errno: number;
  readonly sqlState: string;
  readonly code: string;
}

export interface BinlogDumpHandlers {
  /** One binlog event (header, body, checksum): a view valid until the caller drops it. */
  onEvent(event: Buffer): void;
  /** The server sent EOF (non-blocking dump reached the end). */
  onEnd(): void;
  /** A server error packet, or a network error from mysql2. No more calls follow. */
  onError(error: Error): void;
}

export interface BinlogDumpRequest {
  readonly serverId: number;
  readonly file: string;
  readonly position: number;
  /** COM_BINLOG_DUMP flags: 1 = non-blocking (EOF at the end), 2 = MariaDB annotate-rows events. */
  readonly flags: number;
  /** Register with COM_REGISTER_SLAVE first (shows in SHOW SLAVE HOSTS / replica lists). */
  readonly register: boolean;
  readonly hostname: string;
  /**
   * MySQL: dump by GTID (COM_BINLOG_DUMP_GTID) from this set, encoded as `encodeMysqlGtidSet` does; `file` and
   * `position` are then the place to look from ('' and 4: wherever the set says).
   */
  readonly mysqlGtidSet?: Buffer;
}

const COM_REGISTER_SLAVE = 0x15;
const COM_BINLOG_DUMP = 0x12;
const COM_BINLOG_DUMP_GTID = 0x1e;
/** COM_BINLOG_DUMP_GTID flag: the GTID set follows. */
const BINLOG_THROUGH_GTID = 0x04;

/** Starts registering and dumping on an idle, authenticated connection. */
export function startBinlogDump(
  connection: Connection,
  request: BinlogDumpRequest,
  handlers: BinlogDumpHandlers,
): void {
  const internals = connection as unknown as Mysql2Internals;
  if (typeof internals.addCommand !== 'function' || typeof internals.writePacket !== 'function') {
    throw new Error('this mysql2 version does not expose the command API the binlog reader needs');
  }
  internals.addCommand(new BinlogDumpCommand(request, handlers));
}

/** The connection's socket, for its byte counters (see socket-deadline.ts). */
export function socketOf(connection: Connection): { readonly bytesRead: number; readonly bytesWritten: number } {
  return (connection as unknown as Mysql2Internals).stream;
}

export function pauseSocket(connection: Connection): void {
  (connection as unknown as Mysql2Internals).stream.pause();
}

export function resumeSocket(connection: Connection): void {
  (connection as unknown as Mysql2Internals).stream.resume();
}

/**
 * Ends the connection at once (a dump never finishes, so a polite COM_QUIT would wait forever); resolves
 * when the socket has closed.
 */
export function destroyConnection(connection: Connection): Promise<void> {
  const stream = (connection as unknown as Mysql2Internals).stream;
  const closed = stream.closed
    ? Promise.resolve()
    : new Promise<void>((resolve) => stream.once('close', () => resolve()));
  connection.destroy();
  stream.destroy();
  return closed;
}

class BinlogDumpCommand implements Mysql2Command {
  private state: 'start' | 'registering' | 'dumping' | 'done' = 'start';

  constructor(
    private readonly request: BinlogDumpRequest,
    private readonly handlers: BinlogDumpHandlers,
  ) {}

  execute(packet: IncomingPacket | undefined, connection: Mysql2Internals): boolean {
    if (this.state === 'done') return true;
    if (packet === undefined || this.state === 'start') {
      if (this.request.register) {
        this.send(connection, registerSlavePayload(this.request));
        this.state = 'registering';
      } else {
        this.send(connection, binlogDumpPayload(this.request));
        this.state = 'dumping';
      }
      return false;
    }
    const { buffer, start, end } = packet;
    const first = buffer[start + 4];
    if (first === 0xff) {
      this.finish();
      this.handlers.onError(parseErrorPacket(buffer, start + 4, end));
      return true;
    }
    if (this.state === 'registering') {
      this.send(connection, binlogDumpPayload(this.request));
      this.state = 'dumping';
      return false;
    }
    if (first === 0xfe && end - start - 4 < 9) {
      this.finish();
      this.handlers.onEnd();
      return true;
    }
    this.handlers.onEvent(buffer.subarray(start + 5, end));
    return false;
  }

  onResult(error: Error): void {
    if (this.state === 'done') return;
    this.finish();
    this.handlers.onError(error);
  }

  private finish(): void {
    this.state = 'done';
  }

  private send(connection: Mysql2Internals, payload: Buffer): void {
    connection._resetSequenceId();
    const buffer = Buffer.alloc(4 + payload.length);
    payload.copy(buffer, 4);
    connection.writePacket({
      buffer,
      length: () => buffer.length,
      writeHeader: (sequenceId: number) => {
        buffer.writeUIntLE(buffer.length - 4, 0, 3);
        buffer[3] = sequenceId;
      },
    });
  }
}

function registerSlavePayload(request: BinlogDumpRequest): Buffer {
  const host = Buffer.from(request.hostname.slice(0, 60), 'utf8');
  const out = Buffer.alloc(1 + 4 + 1 + host.length + 1 + 1 + 2 + 4 + 4);
  let p = out.writeUInt8(COM_REGISTER_SLAVE, 0);
  p = out.writeUInt32LE(request.serverId, p);
  p = out.writeUInt8(host.length, p);
  p += host.copy(out, p);
  p = out.writeUInt8(0, p); // user
  p = out.writeUInt8(0, p); // password
  p = out.writeUInt16LE(0, p); // port
  p = out.writeUInt32LE(0, p); // replication rank
  out.writeUInt32LE(0, p); // master id
  return out;
}

/** COM_BINLOG_DUMP, or COM_BINLOG_DUMP_GTID when the request carries a MySQL GTID set. */
export function binlogDumpPayload(request: BinlogDumpRequest): Buffer {
  if (request.mysqlGtidSet !== undefined) return binlogDumpGtidPayload(request, request.mysqlGtidSet);
  const file = Buffer.from(request.file, 'utf8');
  const out = Buffer.alloc(1 + 4 + 2 + 4 + file.length);
  let p = out.writeUInt8(COM_BINLOG_DUMP, 0);
  p = out.writeUInt32LE(request.position, p);
  p = out.writeUInt16LE(request.flags, p);
  p = out.writeUInt32LE(request.serverId, p);
  file.copy(out, p);
  return out;
}

/**
 * COM_BINLOG_DUMP_GTID: flags (2), server id (4), file name length (4) and name, position (8), then with
 * BINLOG_THROUGH_GTID the set's length (4) and the set. Untested against a real MySQL (only MariaDB runs here);
 * the layout is MySQL's `com_binlog_dump_gtid` (sql/rpl_source.cc) and is checked by a unit test.
 */
function binlogDumpGtidPayload(request: BinlogDumpRequest, set: Buffer): Buffer {
  const file = Buffer.from(request.file, 'utf8');
  const out = Buffer.alloc(1 + 2 + 4 + 4 + file.length + 8 + 4 + set.length);
  let p = out.writeUInt8(COM_BINLOG_DUMP_GTID, 0);
  p = out.writeUInt16LE((request.flags & 0xffff) | BINLOG_THROUGH_GTID, p);
  p = out.writeUInt32LE(request.serverId, p);
  p = out.writeUInt32LE(file.length, p);
  p += file.copy(out, p);
  p = out.writeBigUInt64LE(BigInt(request.position), p);
  p = out.writeUInt32LE(set.length, p);
  set.copy(out, p);
  return out;
}

/** ERR packet: 0xff, errno (2), '#' + SQLSTATE (5), message. */
function parseErrorPacket(buffer: Buffer, start: number, end: number): ServerError {
  const errno = buffer.readUInt16LE(start + 1);
  let p = start + 3;
  let sqlState = 'HY000';
  if (buffer[p] === 0x23) {
    sqlState = buffer.toString('latin1', p + 1, p + 6);
    p += 6;
  }
  const message = buffer.toString('utf8', p, end);
  return Object.assign(new Error(message), { errno, sqlState, code: serverErrorCode(errno) });
}

function serverErrorCode(errno: number): string {
  switch (errno) {
    case 1236:
      return 'ER_MASTER_FATAL_ERROR_READING_BINLOG';
    case 1789:
      return 'ER_MASTER_HAS_PURGED_REQUIRED_GTIDS';
    case 1227:
      return 'ER_SPECIFIC_ACCESS_DENIED_ERROR';
    case 4052:
      return 'ER_SLAVE_SAME_ID';
    default:
      return `ER_${errno}`;
  }
}
