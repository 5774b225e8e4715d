import { pgTimestampToMs, type Lsn } from './pg-lsn.js';

/**
 * The pgoutput logical replication messages (protocol version 1; PostgreSQL docs, "Logical Replication Message
 * Formats"), decoded from the payload of one XLogData frame. Column values stay the server's text (pgoutput
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
    };

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

export function decodePgoutput(buffer: Buffer): PgoutputMessage {
  const r = new Reader(buffer);
  const tag = String.fromCharCode(r.byte());
  switch (tag) {
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
      throw new PgoutputDecodeError(
        `unknown pgoutput message '${tag}' (0x${buffer[0]?.toString(16) ?? '??'}): streamed transactions ` +
          '(protocol version 2) are not requested by this source',
      );
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
