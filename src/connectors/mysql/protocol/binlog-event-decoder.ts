import { crc32 } from 'node:zlib';
import { TributaryError } from '../../../core/errors.js';
import {
  EVENT_HEADER_LENGTH,
  EventType,
  LOG_EVENT_ARTIFICIAL_F,
  MARIADB_GTID_FL_GROUP_COMMIT_ID,
  MARIADB_GTID_FL_STANDALONE,
} from './binlog-constants.js';
import type { BinlogEvent, BinlogEventHeader, FormatDescriptionEvent } from './binlog-event.js';
import { BinlogStreamError, binlogProtocolError } from './binlog-errors.js';
import { ByteCursor } from './byte-cursor.js';
import { inflateMariadbPayload } from './mariadb-compression.js';
import { TableMapCache, type TableResolver } from './rows-event-decoder.js';

/**
 * State that decoding carries from event to event: whether events end in a checksum (from the last format
 * description event), the post-header lengths it announced, and the table maps with their row decoders.
 */
export interface DecoderContext {
  checksum: 'none' | 'crc32';
  /** Check each event's CRC32 (cheap with zlib's crc32; off by default: TCP already protects the bytes). */
  verifyChecksum: boolean;
  /** Post-header length per event type (index type - 1), from the last format description event. */
  postHeaderLengths: Uint8Array | undefined;
  /** Which server wrote the binlog, from the last format description event (table maps differ a little). */
  flavor: 'mariadb' | 'mysql';
  readonly tables: TableMapCache;
}

export interface DecoderContextOptions extends TableResolver {
  /** Checksum of the events before the first format description event (the server's `binlog_checksum`). */
  checksum?: 'none' | 'crc32';
  verifyChecksum?: boolean;
}

export function createDecoderContext(options: DecoderContextOptions = {}): DecoderContext {
  return {
    checksum: options.checksum ?? 'none',
    verifyChecksum: options.verifyChecksum ?? false,
    postHeaderLengths: undefined,
    flavor: 'mysql',
    tables: new TableMapCache({ columnsFor: options.columnsFor, includeTable: options.includeTable }),
  };
}

/**
 * Decodes one binlog event: `buf` holds exactly the event (header, body and checksum, if any), as a file or
 * a replication packet after its status byte carries it. Errors are TributaryErrors: SOURCE_PROTOCOL for
 * malformed events, BinlogSchemaMismatchError when the caller's columns no longer fit, SOURCE_BINLOG_FORMAT /
 * SOURCE_UNSUPPORTED_TYPE for what this reader cannot decode.
 */
export function decodeEvent(buf: Buffer, ctx: DecoderContext): BinlogEvent {
  const header = decodeEventHeader(buf, ctx);
  try {
    return decodeBody(header, buf, ctx);
  } catch (error) {
    if (error instanceof TributaryError) throw error;
    throw binlogProtocolError(
      `cannot decode binlog event type ${header.type} ending at ${header.logPos}: ${(error as Error).message}`,
      error,
    );
  }
}

/** The common header of an event (and its CRC32 trailer, when events carry one); SOURCE_PROTOCOL if malformed. */
export function decodeEventHeader(buf: Buffer, ctx: DecoderContext): BinlogEventHeader {
  if (buf.length < EVENT_HEADER_LENGTH) {
    throw binlogProtocolError(`binlog event of ${buf.length} bytes is shorter than its header`);
  }
  const header: BinlogEventHeader = {
    timestamp: buf.readUInt32LE(0),
    type: buf[4]!,
    serverId: buf.readUInt32LE(5),
    eventSize: buf.readUInt32LE(9),
    logPos: buf.readUInt32LE(13),
    flags: buf.readUInt16LE(17),
    checksum:
      ctx.checksum === 'crc32' && buf.length >= EVENT_HEADER_LENGTH + 4 ? buf.readUInt32LE(buf.length - 4) : undefined,
  };
  if (header.eventSize !== buf.length) {
    throw binlogProtocolError(`binlog event type ${header.type} says ${header.eventSize} bytes but has ${buf.length}`);
  }
  return header;
}

function decodeBody(header: BinlogEventHeader, buf: Buffer, ctx: DecoderContext): BinlogEvent {
  const type = header.type;
  if (type === EventType.FORMAT_DESCRIPTION) return formatDescription(header, buf, ctx);
  // The server makes these up for the stream; whether they carry a checksum depends on the server, so look.
  const end =
    type === EventType.ROTATE || type === EventType.HEARTBEAT || type === EventType.HEARTBEAT_V2
      ? hasValidCrc(buf)
        ? buf.length - 4
        : buf.length
      : bodyEnd(buf, ctx);
  const c = new ByteCursor(buf, EVENT_HEADER_LENGTH, end);
  switch (type) {
    case EventType.ROTATE: {
      const nextPos = c.u64Number();
      const artificial = (header.flags & LOG_EVENT_ARTIFICIAL_F) !== 0 || header.logPos === 0;
      return { kind: 'rotate', header, nextPos, nextFile: c.rest(), artificial };
    }
    case EventType.TABLE_MAP:
      return ctx.tables.tableMap(header, buf, EVENT_HEADER_LENGTH, end, tableIdSize(ctx, type), ctx.flavor);
    case EventType.WRITE_ROWS_V1:
    case EventType.UPDATE_ROWS_V1:
    case EventType.DELETE_ROWS_V1:
    case EventType.WRITE_ROWS_V2:
    case EventType.UPDATE_ROWS_V2:
    case EventType.DELETE_ROWS_V2:
    case EventType.WRITE_ROWS_COMPRESSED_V1:
    case EventType.UPDATE_ROWS_COMPRESSED_V1:
    case EventType.DELETE_ROWS_COMPRESSED_V1:
    case EventType.WRITE_ROWS_COMPRESSED_V2:
    case EventType.UPDATE_ROWS_COMPRESSED_V2:
    case EventType.DELETE_ROWS_COMPRESSED_V2:
      return ctx.tables.rows(header, buf, end, tableIdSize(ctx, type));
    case EventType.QUERY:
    case EventType.QUERY_COMPRESSED: {
      const threadId = c.u32();
      const executionTime = c.u32();
      const databaseLength = c.u8();
      const errorCode = c.u16();
      const statusLength = c.u16();
      c.skip(Math.max(0, postHeaderLength(ctx, EventType.QUERY, 13) - 13));
      c.skip(statusLength);
      const database = c.string(databaseLength);
      c.skip(1);
      const sql =
        type === EventType.QUERY_COMPRESSED ? inflateMariadbPayload(buf, c.pos, end).toString('utf8') : c.rest();
      return { kind: 'query', header, database, sql, errorCode, threadId, executionTime };
    }
    case EventType.XID:
      return { kind: 'xid', header, xid: c.u64() };
    case EventType.MARIADB_GTID: {
      const sequence = c.u64();
      const domainId = c.u32();
      const flags = c.u8();
      const commitId = (flags & MARIADB_GTID_FL_GROUP_COMMIT_ID) !== 0 ? c.u64() : undefined;
      return {
        kind: 'gtid',
        flavor: 'mariadb',
        header,
        domainId,
        serverId: header.serverId,
        sequence,
        flags,
        standalone: (flags & MARIADB_GTID_FL_STANDALONE) !== 0,
        ...(commitId === undefined ? {} : { commitId }),
        gtid: `${domainId}-${header.serverId}-${sequence}`,
      };
    }
    case EventType.GTID:
    case EventType.ANONYMOUS_GTID: {
      const flags = c.u8();
      const uuid = formatUuid(c.bytes(16));
      const gno = c.buf.readBigInt64LE(c.pos);
      c.skip(8);
      const anonymous = type === EventType.ANONYMOUS_GTID;
      return { kind: 'gtid', flavor: 'mysql', header, anonymous, uuid, gno, flags, gtid: `${uuid}:${gno}` };
    }
    case EventType.MARIADB_GTID_LIST: {
      const count = c.u32() & 0x0fffffff;
      const gtids = [];
      for (let i = 0; i < count; i++) gtids.push({ domainId: c.u32(), serverId: c.u32(), sequence: c.u64() });
      return { kind: 'gtidList', header, gtids };
    }
    case EventType.PREVIOUS_GTIDS:
      return { kind: 'previousGtids', header, gtidSet: previousGtids(c) };
    case EventType.ANNOTATE_ROWS:
      return { kind: 'annotateRows', header, sql: c.rest() };
    case EventType.ROWS_QUERY:
      c.skip(1); // a length byte, truncated at 255: the text runs to the end
      return { kind: 'annotateRows', header, sql: c.rest() };
    case EventType.HEARTBEAT:
      return { kind: 'heartbeat', header, logFile: c.rest(), logPos: header.logPos };
    case EventType.HEARTBEAT_V2:
      return { kind: 'heartbeat', header, ...heartbeatV2(c, header.logPos) };
    case EventType.BINLOG_CHECKPOINT: {
      const length = c.u32();
      return { kind: 'mariadbBinlogCheckpoint', header, logFile: c.string(length) };
    }
    case EventType.INCIDENT: {
      const incident = c.u16();
      const message = c.remaining > 0 ? c.string(c.u8()) : '';
      return { kind: 'incident', header, incident, message };
    }
    case EventType.TRANSACTION_PAYLOAD:
      throw new BinlogStreamError(
        'SOURCE_BINLOG_FORMAT',
        'the binlog holds compressed transactions, which this reader cannot read',
        {
          hint: 'SET GLOBAL binlog_transaction_compression = OFF (the events already written stay unreadable: take a new snapshot)',
        },
      );
    case EventType.PARTIAL_UPDATE_ROWS:
      throw new BinlogStreamError(
        'SOURCE_BINLOG_FORMAT',
        'the binlog holds partial JSON updates, which this reader cannot apply',
        {
          hint: "SET GLOBAL binlog_row_value_options = '' (full row images are needed)",
        },
      );
    case EventType.PARTIAL_ROW_DATA:
      throw new BinlogStreamError(
        'SOURCE_BINLOG_FORMAT',
        'the binlog holds fragmented rows events, which this reader cannot read',
        {
          hint: 'raise binlog_row_event_fragment_threshold above the largest rows event',
        },
      );
    default:
      return { kind: 'other', header, type };
  }
}

function bodyEnd(buf: Buffer, ctx: DecoderContext): number {
  if (ctx.checksum === 'none') return buf.length;
  const end = buf.length - 4;
  if (ctx.verifyChecksum && crc32(buf) !== CRC32_RESIDUE) {
    throw checksumError(`binlog event type ${buf[4]} ending at ${buf.readUInt32LE(13)} fails its CRC32 check`);
  }
  return end;
}

/**
 * A CRC32 mismatch: bytes were altered or lost on the way (a broken proxy, a desynchronised stream) — the
 * server checked the event when it wrote it. Retryable: the pipeline reconnects and reads the event again.
 */
function checksumError(message: string): BinlogStreamError {
  return new BinlogStreamError('SOURCE_CONNECTION_LOST', `${message}: the bytes were altered on the way`, {
    hint: 'transient: the pipeline reconnects and resumes from its last checkpoint; if it repeats at the same position, the binlog file itself is damaged',
  });
}

function hasValidCrc(buf: Buffer): boolean {
  return buf.length - 4 >= EVENT_HEADER_LENGTH && crc32(buf) === CRC32_RESIDUE;
}

/**
 * The CRC32 of any bytes followed by their own CRC32 (little-endian, as an event's trailer is): the checksum of the
 * whole event is this exactly when its trailer is right (appending four bytes maps them one to one onto the result),
 * so an event is checked without a view of its bytes before the trailer.
 */
const CRC32_RESIDUE = 0x2144df1c;

function postHeaderLength(ctx: DecoderContext, type: number, fallback: number): number {
  return ctx.postHeaderLengths?.[type - 1] ?? fallback;
}

/** Table ids take 6 bytes, except in binlogs whose format description gives these events 6-byte post-headers. */
function tableIdSize(ctx: DecoderContext, type: number): number {
  return postHeaderLength(ctx, type, 8) === 6 ? 4 : 6;
}

/**
 * FORMAT_DESCRIPTION: binlog version, server version, creation time, header length, post-header lengths,
 * then — from MySQL 5.6.1 / MariaDB 5.3 on — the checksum algorithm byte and a CRC32 (present even when the
 * algorithm is "off").
 */
function formatDescription(header: BinlogEventHeader, buf: Buffer, ctx: DecoderContext): FormatDescriptionEvent {
  const c = new ByteCursor(buf, EVENT_HEADER_LENGTH, buf.length);
  const binlogVersion = c.u16();
  const rawVersion = c.string(50, 'latin1');
  const nul = rawVersion.indexOf('\0');
  const serverVersion = nul >= 0 ? rawVersion.slice(0, nul) : rawVersion;
  c.skip(4); // create timestamp
  c.skip(1); // common header length (19)
  let end = buf.length;
  let checksumAlg: 'none' | 'crc32' = 'none';
  if (hasChecksumAlgorithm(serverVersion)) {
    const alg = buf[buf.length - 5]!;
    if (alg !== 0 && alg !== 1 && alg !== 0xff) throw binlogProtocolError(`unknown binlog checksum algorithm ${alg}`);
    checksumAlg = alg === 1 ? 'crc32' : 'none';
    end = buf.length - 5;
    if (checksumAlg === 'crc32' && ctx.verifyChecksum && !hasValidCrc(buf)) {
      throw checksumError('format description event fails its CRC32 check');
    }
  }
  ctx.postHeaderLengths = Uint8Array.from(buf.subarray(c.pos, end));
  ctx.flavor = /mariadb/i.test(serverVersion) ? 'mariadb' : 'mysql';
  ctx.checksum = checksumAlg;
  return { kind: 'formatDescription', header, binlogVersion, serverVersion, checksumAlg };
}

function hasChecksumAlgorithm(serverVersion: string): boolean {
  const match = /^(\d+)\.(\d+)\.(\d+)/.exec(serverVersion);
  if (!match) return false;
  const version = Number(match[1]) * 65536 + Number(match[2]) * 256 + Number(match[3]);
  const since = /mariadb/i.test(serverVersion) ? 5 * 65536 + 3 * 256 : 5 * 65536 + 6 * 256 + 1;
  return version >= since;
}

function formatUuid(bytes: Buffer): string {
  const hex = bytes.toString('hex');
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
}

/** PREVIOUS_GTIDS: per source uuid its intervals [start, end) → `uuid:1-5:7`. */
function previousGtids(c: ByteCursor): string {
  const sids = c.u64Number();
  const parts: string[] = [];
  for (let i = 0; i < sids; i++) {
    let text = formatUuid(c.bytes(16));
    const intervals = c.u64Number();
    for (let k = 0; k < intervals; k++) {
      const start = c.u64();
      const end = c.u64() - 1n;
      text += start === end ? `:${start}` : `:${start}-${end}`;
    }
    parts.push(text);
  }
  return parts.join(',');
}

/**
 * HEARTBEAT_V2 (MySQL 8.0.26+): type / length / value fields, 1 = log file name, 2 = position (length-encoded).
 * A heartbeat only tells where the server stands, so a field this reader does not understand is skipped and
 * a malformed one leaves the header's values: it must never fail the stream.
 */
function heartbeatV2(c: ByteCursor, headerPos: number): { logFile: string; logPos: number } {
  let logFile = '';
  let logPos = headerPos;
  try {
    while (c.remaining > 0) {
      const type = c.u8();
      const length = c.packed();
      const end = c.pos + length;
      if (type === 1) logFile = c.string(length);
      else if (type === 2 && length > 0) logPos = new ByteCursor(c.buf, c.pos, end).packed();
      c.pos = end;
    }
  } catch {
    // keep what was read
  }
  return { logFile, logPos };
}
