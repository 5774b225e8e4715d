import type { Value } from '../../core/index.js';
import { compareTuples, isNumeric } from './chunk-window.js';
import { decodeKey, type JsonValue, type TableSnapshotProgress } from './snapshot-progress.js';

/**
 * Whether a row of a table in snapshot was delivered by the snapshot already, by its key and the table's
 * progress: `true` (a chunk holding it went out), `false` (no chunk holding it went out yet), or `undefined` when
 * it cannot be told here — a key or a bound that is not a number compares by the database's collation, not in
 * JavaScript.
 */
export function keyDelivered(progress: TableSnapshotProgress, key: readonly Value[]): boolean | undefined {
  const bound = (values: readonly JsonValue[] | null) => (values === null ? null : decodeKey(values));
  // Everything up to doneUpTo (from the table's start), then each chunk done beyond it.
  const ranges = [...(progress.doneUpTo === null ? [] : [{ lo: null, hi: progress.doneUpTo }]), ...progress.doneChunks];
  if (ranges.length === 0) return key.every(isNumeric) ? false : undefined;
  for (const range of ranges) {
    const inside = keyInRange(key, bound(range.lo), bound(range.hi));
    if (inside !== false) return inside;
  }
  return false;
}

/** Whether `key` lies in (`lo`, `hi`] (null: open); undefined when a key or bound is not a number. */
export function keyInRange(
  key: readonly Value[],
  lo: readonly Value[] | null,
  hi: readonly Value[] | null,
): boolean | undefined {
  if (!key.every(isNumeric) || (lo !== null && !lo.every(isNumeric)) || (hi !== null && !hi.every(isNumeric))) {
    return undefined;
  }
  return (lo === null || compareTuples(key, lo) > 0) && (hi === null || compareTuples(key, hi) <= 0);
}
