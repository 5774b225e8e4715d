import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { DiskStateStore, type CommittedState } from '../../src/sql/exec/disk-state.js';
import type { KeyedMapState, StateCodec } from '../../src/sql/exec/keyed-state.js';

const dirs: string[] = [];
afterAll(() => dirs.forEach((dir) => rmSync(dir, { recursive: true, force: true })));

const codec: StateCodec<{ n: number }> = { toJson: (v) => v, fromJson: (json) => json as { n: number } };

/** A store in a new directory; `reopen` opens the same file anew (a restart) from the given checkpoint. */
function store(cacheBytes: number) {
  const dir = mkdtempSync(join(tmpdir(), 'sql-disk-state-'));
  dirs.push(dir);
  const open = () => {
    const s = DiskStateStore.open(dir, 'plan', { cacheBytes });
    return { store: s, rows: s.keyedMap('1.right', codec) };
  };
  return { open };
}

const entries = (rows: KeyedMapState<{ n: number }>, key: string) =>
  Object.fromEntries([...rows.entries(key)].map(([sub, v]) => [sub, v.n]));

describe('SQL state on disk: map state', () => {
  it('keeps each entry apart: a checkpoint holds the entries changed, the others stay as they were', () => {
    const { open } = store(32 * 1024 * 1024);
    const { store: s, rows } = open();
    s.restore(undefined);
    for (let i = 0; i < 100; i++) rows.put('site-1', `order-${i}`, { n: i });
    expect(s.snapshot().delta['1.right']).toHaveLength(100);
    s.committed();
    rows.put('site-1', 'order-7', { n: 70 });
    rows.remove('site-1', 'order-8');
    const { delta } = s.snapshot();
    expect(delta).toEqual({
      '1.right': [
        ['site-1', 'order-7', '{"n":70}'],
        ['site-1', 'order-8', null],
      ],
    });
    s.committed();
    s.close();
    const again = open();
    again.store.restore({ version: 2, delta: {} });
    const read = entries(again.rows, 'site-1');
    expect(Object.keys(read)).toHaveLength(99);
    expect(read['order-7']).toBe(70);
    expect(read['order-8']).toBeUndefined();
    expect(again.rows.get('site-1', 'order-9')).toEqual({ n: 9 });
    again.store.close();
  });

  it('reads a key whole from the file, the changes not yet committed and memory, after eviction', () => {
    const { open } = store(1);
    const { store: s, rows } = open();
    s.restore(undefined);
    rows.put('a', 'x', { n: 1 });
    rows.put('a', 'y', { n: 2 });
    rows.put('b', 'z', { n: 3 });
    s.committed();
    // A partial bucket: one entry read, one changed, one removed, one added; then all evicted (cache of 1 byte).
    expect(rows.get('a', 'x')).toEqual({ n: 1 });
    rows.put('a', 'y', { n: 20 });
    rows.remove('a', 'x');
    rows.put('a', 'w', { n: 4 });
    expect(entries(rows, 'a')).toEqual({ y: 20, w: 4 });
    s.endBatch();
    expect(entries(rows, 'a')).toEqual({ y: 20, w: 4 });
    expect(rows.get('a', 'x')).toBeUndefined();
    expect(entries(rows, 'c')).toEqual({});
    // A crash after the sink committed version 2, before the file took it: the delta catches it up.
    const saved = JSON.parse(JSON.stringify(s.snapshot())) as CommittedState;
    s.close();
    const again = open();
    again.store.restore(saved);
    expect(entries(again.rows, 'a')).toEqual({ y: 20, w: 4 });
    expect(entries(again.rows, 'b')).toEqual({ z: 3 });
    again.store.close();
  });
});
