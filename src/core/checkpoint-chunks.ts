import { createHash } from 'node:crypto';
import type { Checkpoint } from './sink.js';
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

/**
 * How the bulk is cut into chunks: sizes in characters, cut where the content says (so an insertion moves no later
 * cut), within bounds — a cut where the rolling hash's bits under `cutMask` are zero, or, at the maximum, at the last
 * point where those under `backupMask` (16 times as frequent) were.
 */
interface ChunkBounds {
  readonly min: number;
  readonly max: number;
  readonly cutMask: number;
  readonly backupMask: number;
}

/**
 * The position's bulk: a cut where the hash's top 12 bits are zero, one in 4 KiB of random text. They depend on the
 * last 32 characters (the low bits on fewer, which JSON's repeated keys make too regular). Sharded schemas repeat
 * themselves, with only the digits of a name changing, so real cuts come rarer than that: ~8-32 KiB chunks.
 */
const POSITION_CHUNKS: ChunkBounds = {
  min: 2 * 1024,
  max: 32 * 1024,
  cutMask: ~((1 << 20) - 1),
  backupMask: ~((1 << 24) - 1),
};

/**
 * The operators' state's bulk: ~1 MiB chunks (a cut where the hash's top 20 bits are zero), from 256 KiB to 4 MiB.
 * A SQL job's state is the delta since the last checkpoint, new at every commit: in chunks of the position's size a
 * commit of 28,000 changes wrote ~100 chunks of ~17 KB — a file each in the state directory, 400–600 ms of the
 * commit — where a few files do (bench/README.md, "Seed 004 end to end"). A state that seldom changes (the schema
 * evolution's targets) is rewritten a chunk of ~1 MiB at a time instead of ~16 KiB.
 */
const OPERATOR_CHUNKS: ChunkBounds = {
  min: 256 * 1024,
  max: 4 * 1024 * 1024,
  cutMask: ~((1 << 12) - 1),
  backupMask: ~((1 << 16) - 1),
};

/** The bulk's document: the large position fields and the operators' state. */
interface Bulk {
  position?: Record<string, unknown>;
  operators?: Checkpoint['operators'];
}

/** The last bulk text and its chunks: between snapshots and DDL every commit has the same bulk. */
let last: { text: string; bulk: string[]; chunks: Map<string, string> } | undefined;
/** The sink and the state store store the same checkpoint object: split it once. */
const split = new WeakMap<Checkpoint, ChunkedCheckpoint>();

/** Splits `checkpoint` into a head and content-addressed chunks (see {@link ChunkedCheckpoint}). */
export function chunkCheckpoint(checkpoint: Checkpoint): ChunkedCheckpoint {
  const known = split.get(checkpoint);
  if (known !== undefined) return known;
  let bulkPosition: Record<string, unknown> | undefined;
  const headPosition: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(checkpoint.position)) {
    const text = value === undefined ? undefined : JSON.stringify(value);
    if (text !== undefined && text.length >= BULK_FIELD_BYTES) {
      (bulkPosition ??= {})[key] = value;
      headPosition[key] = { $chunked: text.length };
    } else {
      headPosition[key] = value;
    }
  }
  let headOperators = checkpoint.operators;
  /** The operators' state as JSON when it goes into the bulk (stringified once: a SQL job's is megabytes). */
  let bulkOperators: string | undefined;
  if (checkpoint.operators !== undefined) {
    const json = JSON.stringify(checkpoint.operators);
    if (json.length >= BULK_FIELD_BYTES) {
      bulkOperators = json;
      headOperators = [{ $chunked: json.length }];
    }
  }
  let result: ChunkedCheckpoint;
  if (bulkPosition === undefined && bulkOperators === undefined) {
    result = { head: checkpoint, bulk: [], chunks: new Map() };
  } else {
    // The bulk's JSON, `{"position":…,"operators":…}`; the operators' part, from `boundary` on, cut in chunks of its
    // own size.
    const positionPart = bulkPosition === undefined ? undefined : `"position":${JSON.stringify(bulkPosition)}`;
    const operatorsPart = bulkOperators === undefined ? undefined : `"operators":${bulkOperators}`;
    const text = `{${[positionPart, operatorsPart].filter((part) => part !== undefined).join(',')}}`;
    const boundary = operatorsPart === undefined ? text.length : text.length - operatorsPart.length - 1;
    if (last?.text !== text) {
      const chunks = new Map<string, string>();
      const ids = [
        ...cut(text.slice(0, boundary), POSITION_CHUNKS, chunks),
        ...cut(text.slice(boundary), OPERATOR_CHUNKS, chunks),
      ];
      last = { text, bulk: ids, chunks };
    }
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

/**
 * Content-defined cut points (a gear rolling hash, as FastCDC): a cut depends only on the characters just
 * before it, so an edit moves the cuts near it and no others, and unchanged regions make the same chunks. A
 * chunk that reaches the maximum without a cut is cut at the last backup point, a weaker condition of the same
 * hash (TTTD), not at the maximum: repetitive JSON (sharded tables, the same schema a thousand times) seldom
 * meets the cut condition, and cuts at fixed offsets would move with every insertion before them.
 * Never cuts inside a surrogate pair, so every chunk is valid UTF-16 (and survives a UTF-8 store). Adds each chunk
 * to `chunks` by id; returns the ids in order.
 */
function cut(text: string, bounds: ChunkBounds, chunks: Map<string, string>): string[] {
  const { min, max, cutMask, backupMask } = bounds;
  const bulk: string[] = [];
  let start = 0;
  while (start < text.length) {
    const limit = Math.min(text.length, start + max);
    let end = limit;
    let backup = -1;
    let hash = 0;
    for (let i = start + min; i < limit; i++) {
      hash = ((hash << 1) + (GEAR[text.charCodeAt(i) & 0xff] ?? 0)) | 0;
      if ((hash & cutMask) === 0) {
        end = i + 1;
        break;
      }
      if ((hash & backupMask) === 0) backup = i + 1;
    }
    if (end === limit && limit < text.length && backup > 0) end = backup;
    const code = text.charCodeAt(end);
    if (end < text.length && code >= 0xdc00 && code <= 0xdfff) end++;
    const piece = text.slice(start, end);
    const id = chunkId(piece);
    bulk.push(id);
    chunks.set(id, piece);
    start = end;
  }
  return bulk;
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
