import { createHash } from 'node:crypto';
import type { Checkpoint } from '../core/index.js';
import type { Logger } from './logger.js';

/**
 * A checkpoint as a store keeps it: a small head, written with every commit, and its bulk — the large parts
 * (the schema history, the snapshot progress, the captured tables, the operators' state) — as
 * content-addressed chunks, each written once and referenced by id from the heads that need it.
 *
 * With 10,000 tables the bulk is megabytes and hardly changes between commits; rewritten whole it would be
 * most of what a commit writes. Here a commit writes its head and only the chunks no earlier checkpoint stored.
 */
export interface ChunkedCheckpoint {
  /**
   * The checkpoint with each bulky part replaced by a marker `{ "$chunked": <bytes> }`: a position field whose
   * JSON has {@link BULK_FIELD_BYTES} or more, and the operators' state as a whole from that size on. Small
   * fields (`kind`, `binlog`, `serverUuid`) stay readable in the head.
   */
  readonly head: Checkpoint;
  /** The ids of the bulk's chunks, in order; empty when nothing was bulky (the head is then the checkpoint). */
  readonly bulk: readonly string[];
  /** Each chunk of the bulk by id (its text, a piece of one JSON document). */
  readonly chunks: ReadonlyMap<string, string>;
}

/** A position field (or the operators' state) this size or larger, in JSON characters, goes into the bulk. */
export const BULK_FIELD_BYTES = 4096;

/** Chunk sizes in characters: cut where the content says (so an insertion moves no later cut), within bounds. */
const MIN_CHUNK = 2 * 1024;
const MAX_CHUNK = 32 * 1024;
/**
 * A cut where the rolling hash's top 12 bits are zero: one in 4 KiB of random text. They depend on the last 32
 * characters (the low bits on fewer, which JSON's repeated keys make too regular). Sharded schemas repeat
 * themselves, with only the digits of a name changing, so real cuts come rarer than that: ~8-32 KiB chunks.
 */
const CUT_MASK = ~((1 << 20) - 1);
/** The backup condition: the top 8 bits zero, 16 times as often as a cut. */
const BACKUP_MASK = ~((1 << 24) - 1);

interface Bulk {
  position?: Record<string, unknown>;
  operators?: Checkpoint['operators'];
}

/** The last bulk and its chunks: the next one is cut anew only where it differs (see {@link cut}). */
let last: Cut | undefined;
/** The sink and the state store store the same checkpoint object: split it once. */
const split = new WeakMap<Checkpoint, ChunkedCheckpoint>();
/** JSON of values seen before (the schema history is the same object until a schema changes). */
const texts = new WeakMap<object, string>();

function json(value: unknown): string | undefined {
  if (value === null || typeof value !== 'object') return JSON.stringify(value);
  let text = texts.get(value);
  if (text === undefined) {
    text = JSON.stringify(value);
    texts.set(value, text);
  }
  return text;
}

/** Splits `checkpoint` into a head and content-addressed chunks (see {@link ChunkedCheckpoint}). */
export function chunkCheckpoint(checkpoint: Checkpoint): ChunkedCheckpoint {
  const known = split.get(checkpoint);
  if (known !== undefined) return known;
  // The bulk's JSON is made of the fields' JSON, each serialised once.
  const bulkFields: string[] = [];
  const headPosition: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(checkpoint.position)) {
    const text = value === undefined ? undefined : json(value);
    if (text !== undefined && text.length >= BULK_FIELD_BYTES) {
      bulkFields.push(`${JSON.stringify(key)}:${text}`);
      headPosition[key] = { $chunked: text.length };
    } else {
      headPosition[key] = value;
    }
  }
  let headOperators = checkpoint.operators;
  let operatorsText: string | undefined;
  if (checkpoint.operators !== undefined) {
    const text = JSON.stringify(checkpoint.operators);
    if (text.length >= BULK_FIELD_BYTES) {
      operatorsText = text;
      headOperators = [{ $chunked: text.length }];
    }
  }
  let result: ChunkedCheckpoint;
  if (bulkFields.length === 0 && operatorsText === undefined) {
    result = { head: checkpoint, bulk: [], chunks: new Map() };
  } else {
    const parts = [
      ...(bulkFields.length === 0 ? [] : [`"position":{${bulkFields.join(',')}}`]),
      ...(operatorsText === undefined ? [] : [`"operators":${operatorsText}`]),
    ];
    const text = `{${parts.join(',')}}`;
    if (last?.text !== text) last = cut(text, last);
    result = {
      head: {
        ...checkpoint,
        position: headPosition,
        ...(headOperators === undefined ? {} : { operators: headOperators }),
      },
      bulk: last.bulk,
      chunks: last.chunks,
    };
  }
  split.set(checkpoint, result);
  return result;
}

/**
 * The checkpoint a head and its chunks stand for. A head without bulk (an empty or absent list: every
 * checkpoint of earlier releases) is the checkpoint itself. Throws when a chunk is missing or the chunks do
 * not make the document they were cut from; the caller reports it as STATE_CORRUPT.
 */
export function joinCheckpoint(
  head: Checkpoint,
  bulk: readonly string[] | null | undefined,
  chunk: (id: string) => string | undefined,
): Checkpoint {
  if (bulk === null || bulk === undefined || bulk.length === 0) return head;
  const pieces = bulk.map((id) => {
    const text = chunk(id);
    if (text === undefined) throw new Error(`chunk ${id} of the checkpoint is missing`);
    if (chunkId(text) !== id) throw new Error(`chunk ${id} of the checkpoint does not hold what it was written with`);
    return text;
  });
  const parsed = JSON.parse(pieces.join('')) as Bulk;
  return {
    ...head,
    position: { ...head.position, ...parsed.position },
    ...(parsed.operators === undefined ? {} : { operators: parsed.operators }),
  };
}

/**
 * The chunks a store holds for one pipeline, as of its last committed checkpoint: which of a new checkpoint's
 * chunks to write, and which chunks nothing references any more. Update it only once the commit that wrote
 * them is durable: a rolled-back commit must not make chunks look stored.
 */
export class ChunkLedger {
  private stored: Set<string>;

  constructor(stored: Iterable<string> = []) {
    this.stored = new Set(stored);
  }

  /** What storing `chunked` as the next checkpoint writes and deletes. */
  plan(chunked: ChunkedCheckpoint): { write: [string, string][]; remove: string[] } {
    const wanted = new Set(chunked.bulk);
    const write: [string, string][] = [];
    for (const id of wanted) {
      if (!this.stored.has(id)) write.push([id, chunked.chunks.get(id)!]);
    }
    return { write, remove: [...this.stored].filter((id) => !wanted.has(id)) };
  }

  /** The checkpoint of `chunked` is committed: its chunks, and only those, are stored now. */
  committed(chunked: ChunkedCheckpoint): void {
    this.stored = new Set(chunked.bulk);
  }

  /** A reset: nothing is stored. */
  clear(): void {
    this.stored.clear();
  }
}

/** A chunk's id: its content hash (132 bits of SHA-256, base64url). */
export function chunkId(text: string): string {
  return createHash('sha256').update(text).digest('base64url').slice(0, 22);
}

/** What a store wrote for one checkpoint, for the debug log and bench/. */
export interface CheckpointWrite {
  /** Bytes of the head: the position, the operators' state and the list of chunk ids, as JSON. */
  readonly headBytes: number;
  readonly chunksWritten: number;
  readonly chunkBytes: number;
  readonly chunksRemoved: number;
}

/** One debug line per checkpoint: what the store wrote for it (bench/many-tables-scale.ts sums them). */
export function logCheckpointWrite(log: Logger, store: string, id: number, write: CheckpointWrite | undefined): void {
  if (write === undefined) return;
  log.debug(
    `${store}: checkpoint ${id} stored ${write.headBytes + write.chunkBytes} bytes: a head of ${write.headBytes} bytes, ` +
      `${write.chunksWritten} new chunks of ${write.chunkBytes} bytes; ${write.chunksRemoved} chunks no longer referenced deleted`,
  );
}

/** Bytes (UTF-8) a store writes for `write`. */
export function chunkBytes(write: readonly [string, string][]): number {
  let bytes = 0;
  for (const [, text] of write) bytes += Buffer.byteLength(text);
  return bytes;
}

/** A text cut into chunks: `starts[i]` is where chunk `bulk[i]` begins. */
export interface Cut {
  readonly text: string;
  readonly starts: readonly number[];
  readonly bulk: readonly string[];
  readonly chunks: ReadonlyMap<string, string>;
}

/**
 * Content-defined cut points (a gear rolling hash, as FastCDC): a cut depends only on the characters just
 * before it, so an edit moves the cuts near it and no others, and unchanged regions make the same chunks. A
 * chunk that reaches the maximum without a cut is cut at the last backup point, a weaker condition of the same
 * hash (TTTD), not at the maximum: repetitive JSON (sharded tables, the same schema a thousand times) seldom
 * meets the cut condition, and cuts at fixed offsets would move with every insertion before them.
 * Never cuts inside a surrogate pair, so every chunk is valid UTF-16 (and survives a UTF-8 store).
 *
 * With `previous` (the cut of the last bulk), only the part that differs is cut and hashed again: chunks
 * whose every deciding character lies in the common prefix are taken as they were, and once a new cut falls
 * on a cut of `previous` inside the common suffix, the rest is `previous`'s. The result is the same as
 * cutting `text` afresh (test/unit/checkpoint-chunks.test.ts checks it), in time proportional to the change.
 */
export function cut(text: string, previous?: Cut): Cut {
  const starts: number[] = [];
  const bulk: string[] = [];
  const chunks = new Map<string, string>();
  const take = (start: number, id: string, piece: string) => {
    starts.push(start);
    bulk.push(id);
    chunks.set(id, piece);
  };
  let start = 0;
  let suffix: { length: number; at: Map<number, number> } | undefined;
  if (previous !== undefined) {
    const prefix = commonPrefix(previous, text);
    // A chunk of `previous` is cut the same when the characters that decided it (up to MAX_CHUNK after its
    // start, and the one after its end) are in the common prefix.
    let i = 0;
    while (i < previous.bulk.length - 1 && previous.starts[i]! + MAX_CHUNK + 1 <= prefix) {
      const id = previous.bulk[i]!;
      take(previous.starts[i]!, id, previous.chunks.get(id)!);
      i++;
    }
    start = i === 0 ? 0 : previous.starts[i]!;
    suffix = {
      length: commonSuffix(previous, text, prefix),
      at: new Map(previous.starts.map((s, index) => [s, index])),
    };
  }
  while (start < text.length) {
    if (previous !== undefined && suffix !== undefined && start > 0 && text.length - start <= suffix.length) {
      // The rest of `text` from here is the rest of `previous` from `start - delta`: if a chunk began there,
      // so do all the ones after it.
      const index = suffix.at.get(start - (text.length - previous.text.length));
      if (index !== undefined) {
        for (let i = index; i < previous.bulk.length; i++) {
          const id = previous.bulk[i]!;
          take(previous.starts[i]! + (text.length - previous.text.length), id, previous.chunks.get(id)!);
        }
        break;
      }
    }
    const limit = Math.min(text.length, start + MAX_CHUNK);
    let end = limit;
    let backup = -1;
    let hash = 0;
    for (let i = start + MIN_CHUNK; i < limit; i++) {
      hash = ((hash << 1) + (GEAR[text.charCodeAt(i) & 0xff] ?? 0)) | 0;
      if ((hash & CUT_MASK) === 0) {
        end = i + 1;
        break;
      }
      if ((hash & BACKUP_MASK) === 0) backup = i + 1;
    }
    if (end === limit && limit < text.length && backup > 0) end = backup;
    const code = text.charCodeAt(end);
    if (end < text.length && code >= 0xdc00 && code <= 0xdfff) end++;
    const piece = text.slice(start, end);
    take(start, chunkId(piece), piece);
    start = end;
  }
  return { text, starts, bulk, chunks };
}

/** How many characters `text` shares with `previous.text` from the start (compared a chunk at a time). */
function commonPrefix(previous: Cut, text: string): number {
  let at = 0;
  for (const id of previous.bulk) {
    const piece = previous.chunks.get(id)!;
    if (!text.startsWith(piece, at)) break;
    at += piece.length;
  }
  const max = Math.min(text.length, previous.text.length);
  while (at < max && text.charCodeAt(at) === previous.text.charCodeAt(at)) at++;
  return at;
}

/** How many characters `text` shares with `previous.text` at the end, not counting the first `prefix`. */
function commonSuffix(previous: Cut, text: string, prefix: number): number {
  const delta = text.length - previous.text.length;
  const max = Math.min(text.length, previous.text.length) - prefix;
  let length = 0;
  for (let i = previous.bulk.length - 1; i >= 0; i--) {
    const piece = previous.chunks.get(previous.bulk[i]!)!;
    const at = previous.starts[i]! + delta;
    if (length + piece.length > max || at < 0 || !text.startsWith(piece, at)) break;
    length += piece.length;
  }
  while (
    length < max &&
    text.charCodeAt(text.length - 1 - length) === previous.text.charCodeAt(previous.text.length - 1 - length)
  ) {
    length++;
  }
  return length;
}

/** 256 fixed pseudo-random 32-bit values (xorshift32 from a constant seed). */
const GEAR: readonly number[] = (() => {
  const gear: number[] = [];
  let x = 0x9e3779b9;
  for (let i = 0; i < 256; i++) {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    gear.push(x | 0);
  }
  return gear;
})();
