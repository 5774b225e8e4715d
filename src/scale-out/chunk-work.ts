import { TributaryError } from '../core/errors.js';

/**
 * The messages of the parallel snapshot across machines (docs/scale-out.md): a work item — one snapshot chunk
 * to read, as the source describes it — and its result, split into parts that each fit JetStream's maximum
 * payload. Both are JSON in which bigints and bytes survive (`{ "$bigint": "…" }`, `{ "$hex": "…" }`).
 */

/** A chunk to read: `id` is unique per capture run; `item` is the source's description of the chunk. */
export interface ChunkWorkItem {
  readonly id: string;
  readonly item: unknown;
}

/**
 * One part of a result. `attempt` tells apart the reads of one item (a reader that died after publishing some
 * parts, and the reader that read the item again): parts are assembled per attempt.
 */
export interface ChunkResultPart {
  readonly id: string;
  readonly attempt: string;
  readonly part: number;
  readonly parts: number;
  readonly bytes: Uint8Array;
}

/** A result: what the reader's source returned, or the error that stopped it reading the item. */
export type ChunkResult =
  | { readonly ok: true; readonly result: unknown }
  | { readonly ok: false; readonly code: string; readonly message: string; readonly hint?: string };

/** Bytes a result part keeps free for its header line (id, attempt, numbers) under the maximum payload. */
const HEADER_ROOM = 1024;

export function encodeChunkItem(work: ChunkWorkItem): Uint8Array {
  return Buffer.from(JSON.stringify(toTagged({ v: 1, id: work.id, item: work.item })), 'utf8');
}

export function decodeChunkItem(bytes: Uint8Array): ChunkWorkItem {
  const parsed = parseJson(bytes, 'snapshot chunk item') as { v?: unknown; id?: unknown; item?: unknown };
  if (parsed.v !== 1 || typeof parsed.id !== 'string') throw corrupt('snapshot chunk item', 'no version 1 and id');
  return { id: parsed.id, item: fromTagged(parsed.item) };
}

/** The parts of `result` for item `id`, each at most `maxPayload` bytes. */
export function encodeChunkResult(id: string, attempt: string, result: ChunkResult, maxPayload: number): Uint8Array[] {
  const body = Buffer.from(JSON.stringify(toTagged(result)), 'utf8');
  const room = Math.max(1, maxPayload - HEADER_ROOM - Buffer.byteLength(id) - Buffer.byteLength(attempt));
  const parts = Math.max(1, Math.ceil(body.length / room));
  const out: Uint8Array[] = [];
  for (let part = 0; part < parts; part++) {
    const header = Buffer.from(JSON.stringify({ id, attempt, part, parts }) + '\n', 'utf8');
    out.push(Buffer.concat([header, body.subarray(part * room, (part + 1) * room)]));
  }
  return out;
}

export function decodeChunkResultPart(bytes: Uint8Array): ChunkResultPart {
  const buffer = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const newline = buffer.indexOf(0x0a);
  if (newline < 0) throw corrupt('snapshot chunk result', 'no header line');
  const header = parseJson(buffer.subarray(0, newline), 'snapshot chunk result header') as Partial<ChunkResultPart>;
  const { id, attempt, part, parts } = header;
  if (
    typeof id !== 'string' ||
    typeof attempt !== 'string' ||
    !Number.isInteger(part) ||
    !Number.isInteger(parts) ||
    part! < 0 ||
    part! >= parts!
  ) {
    throw corrupt('snapshot chunk result', 'a bad header line');
  }
  return { id, attempt, part: part!, parts: parts!, bytes: buffer.subarray(newline + 1) };
}

/**
 * Puts results together from their parts, which may come from several attempts at one item, interleaved,
 * and repeated. The first attempt that is complete is the item's result; the rest of that item is dropped.
 */
export class ChunkResultAssembler {
  private readonly attempts = new Map<string, { parts: (Uint8Array | undefined)[]; have: number }>();

  /** Adds a part; returns the result once its attempt is complete (once per attempt). */
  add(part: ChunkResultPart): ChunkResult | undefined {
    const key = `${part.id}\u0000${part.attempt}`;
    let entry = this.attempts.get(key);
    if (!entry) {
      entry = { parts: new Array<Uint8Array | undefined>(part.parts).fill(undefined), have: 0 };
      this.attempts.set(key, entry);
    }
    if (entry.parts.length !== part.parts) throw corrupt('snapshot chunk result', 'parts of one attempt disagree');
    if (entry.parts[part.part] !== undefined) return undefined; // redelivered
    entry.parts[part.part] = part.bytes;
    entry.have++;
    if (entry.have < entry.parts.length) return undefined;
    this.attempts.delete(key);
    const body = Buffer.concat(entry.parts as Uint8Array[]);
    return fromTagged(parseJson(body, 'snapshot chunk result')) as ChunkResult;
  }

  /** Forgets every part of item `id` (its result is in hand, or nobody waits for it any more). */
  forget(id: string): void {
    for (const key of this.attempts.keys()) if (key.startsWith(`${id}\u0000`)) this.attempts.delete(key);
  }

  /** Attempts with parts still missing. */
  get incomplete(): number {
    return this.attempts.size;
  }
}

/** `value` with bigints and bytes tagged, ready for JSON.stringify. */
export function toTagged(value: unknown): unknown {
  if (typeof value === 'bigint') return { $bigint: value.toString() };
  if (value instanceof Uint8Array) return { $hex: Buffer.from(value).toString('hex') };
  if (Array.isArray(value)) return value.map(toTagged);
  if (value !== null && typeof value === 'object') {
    return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, toTagged(v)]));
  }
  return value;
}

/** The inverse of {@link toTagged} (bytes come back as Buffers, which are Uint8Arrays). */
export function fromTagged(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(fromTagged);
  if (value !== null && typeof value === 'object') {
    const record = value as Record<string, unknown>;
    const keys = Object.keys(record);
    if (keys.length === 1 && typeof record['$bigint'] === 'string') return BigInt(record['$bigint']);
    if (keys.length === 1 && typeof record['$hex'] === 'string') return Buffer.from(record['$hex'], 'hex');
    return Object.fromEntries(keys.map((k) => [k, fromTagged(record[k])]));
  }
  return value;
}

function parseJson(bytes: Uint8Array, what: string): unknown {
  try {
    return JSON.parse(Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('utf8')) as unknown;
  } catch {
    throw corrupt(what, 'text that is not JSON');
  }
}

function corrupt(what: string, detail: string): TributaryError {
  return new TributaryError('STATE_CORRUPT', `a ${what} in the JetStream work queue holds ${detail}`, {
    hint: 'another program publishes on the snapshot subjects, or capture and readers run different Tributary versions',
  });
}
