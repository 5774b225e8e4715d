import { pgTimestampToMs, type Lsn } from './pg-lsn.js';

/**
 * The pgoutput logical replication messages (protocol version 1, and version 2's streamed transactions;
 * PostgreSQL docs, "Logical Replication Message Formats"), decoded from the payload of one XLogData frame. Column values stay the server's text (pgoutput
 * sends every value in its type's text output unless `binary` is requested, which this source never does), so
 * the snapshot and the stream convert the same text with the same function (postgres-source-types.ts).
 */
export type PgoutputMessage =
  | { readonly tag: 'begin'; readonly finalLsn: Lsn; readonly tsMs: number; readonly xid: number }
  | { readonly tag: 'commit'; readonly commitLsn: Lsn; readonly endLsn: Lsn; readonly tsMs: number }
  | { readonly tag: 'origin'; readonly lsn: Lsn; readonly name: string }
  | RelationMessage
  | { readonly tag: 'type'; readonly oid: number; readonly namespace: string; readonly name: string }
  | { readonly tag: 'insert'; readonly relation: number; readonly after: TupleData }
  | {
      readonly tag: 'update';
      readonly relation: number;
      /** The old key ('K') or the whole old row ('O', REPLICA IDENTITY FULL), when the server sent one. */
      readonly before: TupleData | null;
      readonly beforeKind: 'key' | 'old' | null;
      readonly after: TupleData;
    }
  | {
      readonly tag: 'delete';
      readonly relation: number;
      readonly before: TupleData;
      readonly beforeKind: 'key' | 'old';
    }
  | { readonly tag: 'truncate'; readonly relations: readonly number[]; readonly cascade: boolean }
  | {
      readonly tag: 'message';
      readonly transactional: boolean;
      readonly lsn: Lsn;
      readonly prefix: string;
      readonly content: Buffer;
    }
  /** Protocol 2: a block of a large transaction in progress follows (until `stream-stop`); `first` for its first. */
  | { readonly tag: 'stream-start'; readonly xid: number; readonly first: boolean }
  | { readonly tag: 'stream-stop' }
  /** Protocol 2: the streamed transaction `xid` committed; its blocks are to be applied now. */
  | {
      readonly tag: 'stream-commit';
      readonly xid: number;
      readonly commitLsn: Lsn;
      readonly endLsn: Lsn;
      readonly tsMs: number;
    }
  /** Protocol 2: the streamed transaction `xid` (when `subxid` = `xid`) or its subtransaction `subxid` rolled back. */
  | { readonly tag: 'stream-abort'; readonly xid: number; readonly subxid: number };

/** The tags whose messages carry the (sub)transaction id after the tag byte inside a stream block (protocol 2). */
const STREAMED_TAGS = new Set(['R', 'Y', 'I', 'U', 'D', 'T', 'M'].map((c) => c.charCodeAt(0)));

/**
 * The (sub)transaction id of a message inside a stream block, or undefined for a message that has none (the
 * stream control messages). Such a message is decoded with `decodePgoutput(buffer, true)`.
 */
export function streamedMessageXid(buffer: Buffer): number | undefined {
  return buffer.length >= 5 && STREAMED_TAGS.has(buffer[0]!) ? buffer.readUInt32BE(1) : undefined;
}

export interface RelationColumn {
  /** Part of the relation's replica identity (its key, or every column under REPLICA IDENTITY FULL). */
  readonly key: boolean;
  readonly name: string;
  readonly typeOid: number;
  readonly typmod: number;
}

export interface RelationMessage {
  readonly tag: 'relation';
  readonly oid: number;
  readonly namespace: string;
  readonly name: string;
  /** `relreplident`: d (default: the primary key), n (nothing), f (full), i (an index). */
  readonly replicaIdentity: string;
  readonly columns: readonly RelationColumn[];
}

/**
 * One column of a tuple: SQL NULL, the text of the value, or UNCHANGED_TOAST — a large value that the update
 * did not change and that the server therefore did not send (it is not in the WAL record).
 */
export type TupleValue = string | null | typeof UNCHANGED_TOAST;
export type TupleData = readonly TupleValue[];

export const UNCHANGED_TOAST: unique symbol = Symbol('unchanged-toast');

/** Thrown for a message this decoder does not know or that is cut short; the source reports SOURCE_PROTOCOL. */
export class PgoutputDecodeError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'PgoutputDecodeError';
  }
}

class Reader {
  offset = 0;
  constructor(private readonly buffer: Buffer) {}

  private need(bytes: number): void {
    if (this.offset + bytes > this.buffer.length) {
      throw new PgoutputDecodeError(`message cut short: ${bytes} bytes needed at offset ${this.offset}`);
    }
  }
  byte(): number {
    this.need(1);
    return this.buffer[this.offset++]!;
  }
  int16(): number {
    this.need(2);
    const v = this.buffer.readInt16BE(this.offset);
    this.offset += 2;
    return v;
  }
  int32(): number {
    this.need(4);
    const v = this.buffer.readInt32BE(this.offset);
    this.offset += 4;
    return v;
  }
  uint32(): number {
    this.need(4);
    const v = this.buffer.readUInt32BE(this.offset);
    this.offset += 4;
    return v;
  }
  int64(): bigint {
    this.need(8);
    const v = this.buffer.readBigInt64BE(this.offset);
    this.offset += 8;
    return v;
  }
  uint64(): bigint {
    this.need(8);
    const v = this.buffer.readBigUInt64BE(this.offset);
    this.offset += 8;
    return v;
  }
  /** A NUL-terminated string. */
  cstring(): string {
    const end = this.buffer.indexOf(0, this.offset);
    if (end < 0) throw new PgoutputDecodeError(`unterminated string at offset ${this.offset}`);
    const text = this.buffer.toString('utf8', this.offset, end);
    this.offset = end + 1;
    return text;
  }
  bytes(length: number): Buffer {
    this.need(length);
    const slice = this.buffer.subarray(this.offset, this.offset + length);
    this.offset += length;
    return slice;
  }
}

/**
 * Decodes one message. `inStream`: the message was sent inside a stream block (protocol 2), so a data message
 * carries its transaction id after the tag byte (read past: the caller buffers by it, see
 * {@link streamedMessageXid}).
 */
export function decodePgoutput(buffer: Buffer, inStream = false): PgoutputMessage {
  const r = new Reader(buffer);
  const tag = String.fromCharCode(r.byte());
  if (inStream && STREAMED_TAGS.has(buffer[0]!)) r.uint32();
  switch (tag) {
    case 'S': {
      const xid = r.uint32();
      return { tag: 'stream-start', xid, first: r.byte() === 1 };
    }
    case 'E':
      return { tag: 'stream-stop' };
    case 'c': {
      const xid = r.uint32();
      r.byte(); // flags, unused
      return {
        tag: 'stream-commit',
        xid,
        commitLsn: r.uint64(),
        endLsn: r.uint64(),
        tsMs: pgTimestampToMs(r.int64()),
      };
    }
    case 'A':
      return { tag: 'stream-abort', xid: r.uint32(), subxid: r.uint32() };
    case 'B':
      return { tag: 'begin', finalLsn: r.uint64(), tsMs: pgTimestampToMs(r.int64()), xid: r.uint32() };
    case 'C': {
      r.byte(); // flags, unused
      return { tag: 'commit', commitLsn: r.uint64(), endLsn: r.uint64(), tsMs: pgTimestampToMs(r.int64()) };
    }
    case 'O':
      return { tag: 'origin', lsn: r.uint64(), name: r.cstring() };
    case 'R': {
      const oid = r.uint32();
      const namespace = r.cstring();
      const name = r.cstring();
      const replicaIdentity = String.fromCharCode(r.byte());
      const count = r.int16();
      const columns: RelationColumn[] = [];
      for (let i = 0; i < count; i++) {
        const flags = r.byte();
        columns.push({ key: (flags & 1) === 1, name: r.cstring(), typeOid: r.uint32(), typmod: r.int32() });
      }
      return { tag: 'relation', oid, namespace, name, replicaIdentity, columns };
    }
    case 'Y':
      return { tag: 'type', oid: r.uint32(), namespace: r.cstring(), name: r.cstring() };
    case 'I': {
      const relation = r.uint32();
      expectByte(r, 'N', 'insert');
      return { tag: 'insert', relation, after: tuple(r) };
    }
    case 'U': {
      const relation = r.uint32();
      let kind = String.fromCharCode(r.byte());
      let before: TupleData | null = null;
      let beforeKind: 'key' | 'old' | null = null;
      if (kind === 'K' || kind === 'O') {
        beforeKind = kind === 'K' ? 'key' : 'old';
        before = tuple(r);
        kind = String.fromCharCode(r.byte());
      }
      if (kind !== 'N') throw new PgoutputDecodeError(`update: expected 'N', got '${kind}'`);
      return { tag: 'update', relation, before, beforeKind, after: tuple(r) };
    }
    case 'D': {
      const relation = r.uint32();
      const kind = String.fromCharCode(r.byte());
      if (kind !== 'K' && kind !== 'O') throw new PgoutputDecodeError(`delete: expected 'K' or 'O', got '${kind}'`);
      return { tag: 'delete', relation, before: tuple(r), beforeKind: kind === 'K' ? 'key' : 'old' };
    }
    case 'T': {
      const count = r.int32();
      const options = r.byte();
      const relations: number[] = [];
      for (let i = 0; i < count; i++) relations.push(r.uint32());
      return { tag: 'truncate', relations, cascade: (options & 1) === 1 };
    }
    case 'M': {
      const flags = r.byte();
      const lsn = r.uint64();
      const prefix = r.cstring();
      const length = r.int32();
      return { tag: 'message', transactional: (flags & 1) === 1, lsn, prefix, content: r.bytes(length) };
    }
    default:
      throw new PgoutputDecodeError(`unknown pgoutput message '${tag}' (0x${buffer[0]?.toString(16) ?? '??'})`);
  }
}

function expectByte(r: Reader, expected: string, what: string): void {
  const got = String.fromCharCode(r.byte());
  if (got !== expected) throw new PgoutputDecodeError(`${what}: expected '${expected}', got '${got}'`);
}

function tuple(r: Reader): TupleData {
  const count = r.int16();
  const values: TupleValue[] = new Array<TupleValue>(count);
  for (let i = 0; i < count; i++) {
    const kind = r.byte();
    switch (kind) {
      case 0x6e: // 'n'
        values[i] = null;
        break;
      case 0x75: // 'u'
        values[i] = UNCHANGED_TOAST;
        break;
      case 0x74: {
        // 't'
        const length = r.int32();
        values[i] = r.bytes(length).toString('utf8');
        break;
      }
      default:
        throw new PgoutputDecodeError(
          `tuple: unknown column kind 0x${kind.toString(16)} (binary values not requested)`,
        );
    }
  }
  return values;
}
