import { describe, expect, it } from 'vitest';
import { keyDelivered, keyInRange } from '../../src/connectors/source-kit/snapshot-delivery.js';
import type { TableSnapshotProgress } from '../../src/connectors/source-kit/index.js';

/**
 * Whether the snapshot delivered a row already, by its key and the table's progress: what the merge uses to drop
 * a log change whose chunk will hold it (docs/02-snapshots.md, "An exact changelog on MariaDB").
 */
describe('source kit: a key against the snapshot progress', () => {
  const progress = (
    doneUpTo: TableSnapshotProgress['doneUpTo'],
    doneChunks: TableSnapshotProgress['doneChunks'] = [],
  ) => ({
    table: 'db.t',
    doneUpTo,
    doneChunks,
  });

  it('delivered up to doneUpTo (inclusive) and inside a chunk done out of order, (lo, hi]', () => {
    const p = progress([100], [{ lo: [200], hi: [300] }]);
    expect([50, 100, 101, 200, 201, 300, 301].map((k) => keyDelivered(p, [k]))).toEqual([
      true,
      true,
      false,
      false,
      true,
      true,
      false,
    ]);
    // Nothing done yet; the last chunk (open end) done out of order.
    expect(keyDelivered(progress(null), [1])).toBe(false);
    expect(keyDelivered(progress(null, [{ lo: [500], hi: null }]), [10_000])).toBe(true);
  });

  it('compares bigints with JSON-tagged bounds, and composite keys as tuples', () => {
    const big = progress([{ $bigint: '9007199254740993' }]);
    expect(keyDelivered(big, [9007199254740993n])).toBe(true);
    expect(keyDelivered(big, [9007199254740994n])).toBe(false);
    const composite = progress([2, 5]);
    expect(keyDelivered(composite, [2, 5])).toBe(true);
    expect(keyDelivered(composite, [2, 6])).toBe(false);
    expect(keyDelivered(composite, [1, 99])).toBe(true);
  });

  it('cannot tell keys or bounds that are not numbers (the database compares them by collation)', () => {
    expect(keyDelivered(progress(['m']), ['a'])).toBeUndefined();
    expect(keyDelivered(progress([10]), ['a'])).toBeUndefined();
    expect(keyInRange(['b'], ['a'], ['c'])).toBeUndefined();
    expect(keyInRange([5], [1], [5])).toBe(true);
    expect(keyInRange([1], [1], [5])).toBe(false);
    expect(keyInRange([6], null, null)).toBe(true);
  });
});
