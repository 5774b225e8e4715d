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
  if (!key.every(isNumeric)) return undefined;
  const bound = (values: readonly JsonValue[] | null): Value[] | null | undefined => {
    if (values === null) return null;
    const decoded = decodeKey(values);
    return decoded.every(isNumeric) ? decoded : undefined;
  };
  const upTo = bound(progress.doneUpTo);
  if (upTo === undefined) return undefined;
  if (upTo !== null && compareTuples(key, upTo) <= 0) return true;
  for (const chunk of progress.doneChunks) {
    const lo = bound(chunk.lo);
    const hi = bound(chunk.hi);
    if (lo === undefined || hi === undefined) return undefined;
    if ((lo === null || compareTuples(key, lo) > 0) && (hi === null || compareTuples(key, hi) <= 0)) return true;
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
