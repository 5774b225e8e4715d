import type { Value } from '../../core/index.js';

/**
 * A snapshot's progress as a checkpoint records it, for any source that reads tables in key-range chunks
 * (`SnapshotProgress` goes into the source's position as it is). Tables are named by their key,
 * `namespace.name`.
 */

/** A key value that survives JSON: bigints and bytes are tagged. */
export type JsonValue = null | boolean | number | string | { readonly $bigint: string } | { readonly $hex: string };

/** A chunk as the checkpoint records it: keys in (`lo`, `hi`], null meaning the table's start / end. */
export interface ChunkBounds {
  readonly lo: readonly JsonValue[] | null;
  readonly hi: readonly JsonValue[] | null;
}

/**
 * Snapshot progress of one table. Every chunk up to `doneUpTo` is delivered; parallel readers finish chunks
 * out of order, so chunks delivered beyond it are listed in `doneChunks` and are not read again on resume.
 */
export interface TableSnapshotProgress {
  readonly table: string;
  readonly doneUpTo: readonly JsonValue[] | null;
  readonly doneChunks: readonly ChunkBounds[];
}

/** The tables whose snapshot is not complete, in schedule order (finished tables leave the list). */
export interface SnapshotProgress {
  readonly tables: readonly TableSnapshotProgress[];
}

/** Key values survive JSON: bigints and bytes are tagged. */
export function encodeKey(values: readonly Value[]): JsonValue[] {
  return values.map((v) => {
    if (typeof v === 'bigint') return { $bigint: v.toString() };
    if (v instanceof Uint8Array) return { $hex: Buffer.from(v).toString('hex') };
    return v;
  });
}

export function decodeKey(values: readonly JsonValue[]): Value[] {
  return values.map((v) => {
    if (v !== null && typeof v === 'object') {
      return '$bigint' in v ? BigInt(v.$bigint) : Buffer.from(v.$hex, 'hex');
    }
    return v;
  });
}

/** Progress for a snapshot of `tables` that has not started. */
export function startSnapshot(tables: readonly string[]): SnapshotProgress | undefined {
  return tables.length === 0
    ? undefined
    : { tables: tables.map((table) => ({ table, doneUpTo: null, doneChunks: [] })) };
}

/** Adds tables to snapshot (new matches), keeping those already in progress. */
export function addTables(
  progress: SnapshotProgress | undefined,
  tables: readonly string[],
): SnapshotProgress | undefined {
  const known = new Set(progress?.tables.map((t) => t.table));
  const added = tables.filter((t) => !known.has(t)).map((table) => ({ table, doneUpTo: null, doneChunks: [] }));
  if (added.length === 0) return progress;
  return { tables: [...(progress?.tables ?? []), ...added] };
}

/** Drops tables from the snapshot (dropped or renamed at the source); undefined when none is left. */
export function removeTables(
  progress: SnapshotProgress | undefined,
  tables: readonly string[],
): SnapshotProgress | undefined {
  if (!progress) return undefined;
  const gone = new Set(tables);
  const left = progress.tables.filter((t) => !gone.has(t.table));
  if (left.length === progress.tables.length) return progress;
  return left.length === 0 ? undefined : { tables: left };
}

/**
 * Records chunk (`lo`, `hi`] of `table` as delivered. Contiguous chunks fold into `doneUpTo`; a table whose
 * chunks reach its end (`hi` null) leaves the progress; with no table left, the snapshot is complete
 * (undefined).
 */
export function markChunkDone(
  progress: SnapshotProgress | undefined,
  table: string,
  lo: readonly Value[] | null,
  hi: readonly Value[] | null,
): SnapshotProgress | undefined {
  if (!progress) return undefined;
  const tables: TableSnapshotProgress[] = [];
  for (const t of progress.tables) {
    if (t.table !== table) {
      tables.push(t);
      continue;
    }
    let doneUpTo: readonly JsonValue[] | null = t.doneUpTo;
    let pending: ChunkBounds[] = [...t.doneChunks, { lo: lo ? encodeKey(lo) : null, hi: hi ? encodeKey(hi) : null }];
    let finished = false;
    for (;;) {
      const index = pending.findIndex((c) => sameKey(c.lo, doneUpTo));
      if (index < 0) break;
      const chunk = pending[index]!;
      pending = pending.filter((_, i) => i !== index);
      if (chunk.hi === null) {
        finished = true;
        break;
      }
      doneUpTo = chunk.hi;
    }
    if (!finished) tables.push({ table, doneUpTo, doneChunks: pending });
  }
  return tables.length === 0 ? undefined : { tables };
}

/** The delivered chunk that starts at `lo`, if any (to skip it on resume). */
export function doneChunkAt(progress: TableSnapshotProgress, lo: readonly Value[] | null): ChunkBounds | undefined {
  const key = lo ? encodeKey(lo) : null;
  return progress.doneChunks.find((c) => sameKey(c.lo, key));
}

export function sameKey(a: readonly JsonValue[] | null, b: readonly JsonValue[] | null): boolean {
  return JSON.stringify(a) === JSON.stringify(b);
}
