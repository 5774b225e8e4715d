import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { runInNewContext } from 'node:vm';
import Database from 'better-sqlite3';
import { afterAll, describe, expect, it } from 'vitest';
import {
  committedArrays,
  DiskStateStore,
  type CommittedState,
  type DiskStateOptions,
} from '../../src/sql/exec/disk-state.js';
import {
  keyText,
  numberKey,
  type KeyedMapState,
  type KeyedState,
  type StateCodec,
  type StateKey,
} from '../../src/sql/exec/keyed-state.js';
import { encodeValue, RowJson, valueKey } from '../../src/sql/exec/changelog.js';

const dirs: string[] = [];
afterAll(() => dirs.forEach((dir) => rmSync(dir, { recursive: true, force: true })));

const codec: StateCodec<{ n: number }> = { toJson: (v) => v, fromJson: (json) => json as { n: number } };

/** A store in a new directory; `open` opens the same file anew (a restart). */
function store(cacheBytes: number) {
  const dir = mkdtempSync(join(tmpdir(), 'sql-disk-state-'));
  dirs.push(dir);
  const open = (options: DiskStateOptions = {}) => {
    const s = DiskStateStore.open(dir, 'plan', { cacheBytes, ...options });
    return { store: s, rows: s.keyedMap('1.right', codec), groups: s.keyed('2.groups', codec) };
  };
  return { open, file: join(dir, 'sql-state.sqlite') };
}

const entries = (rows: KeyedMapState<{ n: number }>, key: string) =>
  Object.fromEntries([...rows.entries(key)].map(([sub, v]) => [sub, v.n]));

describe('SQL state on disk: map state', () => {
  it('keeps each entry apart: a checkpoint holds the entries changed, the others stay as they were', async () => {
    const { open } = store(32 * 1024 * 1024);
    const { store: s, rows } = open();
    s.restore(undefined);
    for (let i = 0; i < 100; i++) rows.put('site-1', `order-${i}`, { n: i });
    expect(committedArrays(await s.snapshot()).delta['1.right']).toHaveLength(100);
    await s.committed();
    rows.put('site-1', 'order-7', { n: 70 });
    rows.remove('site-1', 'order-8');
    const { delta } = committedArrays(await s.snapshot());
    expect(delta).toEqual({
      '1.right': [
        ['site-1', 'order-7', '{"n":70}'],
        ['site-1', 'order-8', null],
      ],
    });
    await s.committed();
    await s.close();
    const again = open();
    again.store.restore({ version: 2, delta: {} });
    const read = entries(again.rows, 'site-1');
    expect(Object.keys(read)).toHaveLength(99);
    expect(read['order-7']).toBe(70);
    expect(read['order-8']).toBeUndefined();
    expect(again.rows.get('site-1', 'order-9')).toEqual({ n: 9 });
    await again.store.close();
  });

  it('reads a key whole from the file, the changes not yet committed and memory, after eviction', async () => {
    const { open } = store(1);
    const { store: s, rows } = open();
    s.restore(undefined);
    rows.put('a', 'x', { n: 1 });
    rows.put('a', 'y', { n: 2 });
    rows.put('b', 'z', { n: 3 });
    await s.committed();
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
    const saved = JSON.parse(JSON.stringify(await s.snapshot())) as CommittedState;
    await s.close();
    const again = open();
    again.store.restore(saved);
    expect(entries(again.rows, 'a')).toEqual({ y: 20, w: 4 });
    expect(entries(again.rows, 'b')).toEqual({ z: 3 });
    await again.store.close();
  });

  it('an entry written to a key not in memory stays out of the cache, and every read finds it', async () => {
    const { open } = store(32 * 1024 * 1024);
    const { store: s, rows } = open();
    s.restore(undefined);
    for (let i = 0; i < 1000; i++) rows.put(`site-${i % 100}`, `order-${i}`, { n: i });
    s.endBatch();
    // Nothing read: no value in the cache, all of them in the changes since the last checkpoint.
    expect(s.memory.cachedBytes).toBe(0);
    expect(s.memory.changedBytes).toBeGreaterThan(1000 * 20);
    expect(rows.get('site-3', 'order-503')).toEqual({ n: 503 });
    rows.put('site-3', 'order-503', { n: -503 });
    expect(rows.removeHeld('site-4', 'order-4')).toBe(true);
    expect(rows.removeHeld('site-4', 'order-4')).toBe(false);
    await s.snapshot();
    await s.committed();
    // Being written, then in the file: a key read whole has its entries from both.
    rows.put('site-3', 'order-1003', { n: 1003 });
    const site3 = entries(rows, 'site-3');
    expect(Object.keys(site3)).toHaveLength(11);
    expect(site3['order-503']).toBe(-503);
    expect(site3['order-1003']).toBe(1003);
    await s.settle();
    expect(Object.keys(entries(rows, 'site-4'))).toHaveLength(9);
    await s.close();
  });

  it('the changes not yet in the file count against the memory budget: the cache gives way to them, down to a quarter', async () => {
    const budget = 256 * 1024;
    const { open } = store(budget);
    const { store: s, rows, groups } = open();
    s.restore(undefined);
    const fill = (from: number, to: number) => {
      for (let i = from; i < to; i++) {
        rows.put(`site-${i % 500}`, `order-${i}`, { n: i });
        groups.set(`customer-${i}`, { n: i });
      }
      s.endBatch();
    };
    // Checkpoint 1 in the file; its values read back fill the cache to the whole budget (nothing is pending).
    fill(0, 4000);
    await s.snapshot();
    await s.committed();
    await s.settle();
    s.endBatch();
    for (let i = 0; i < 4000; i++) groups.peek(`customer-${i}`);
    s.endBatch();
    expect(s.memory.changedBytes).toBe(0);
    expect(s.memory.cachedBytes).toBeGreaterThan(budget * 0.9);
    expect(s.memory.cachedBytes).toBeLessThanOrEqual(budget);
    // Changes beyond the budget: the cache shrinks to a quarter of it; every value still reads back.
    fill(4000, 8000);
    const { cachedBytes, changedBytes } = s.memory;
    expect(changedBytes).toBeGreaterThan(budget);
    expect(cachedBytes).toBeLessThanOrEqual(budget / 4);
    expect(cachedBytes).toBeGreaterThan(budget / 8);
    // Some changes: the cache keeps what the changes leave of the budget.
    await s.snapshot();
    await s.committed();
    await s.settle();
    s.endBatch();
    fill(8000, 8200);
    for (let i = 0; i < 4000; i++) groups.peek(`customer-${i}`);
    s.endBatch();
    const after = s.memory;
    expect(after.changedBytes).toBeGreaterThan(budget / 8);
    expect(after.changedBytes).toBeLessThan(budget / 2);
    expect(after.cachedBytes + after.changedBytes).toBeLessThanOrEqual(budget);
    expect(after.cachedBytes + after.changedBytes).toBeGreaterThan(budget * 0.9);
    for (let i = 0; i < 8200; i += 97) {
      expect(groups.peek(`customer-${i}`)).toEqual({ n: i });
      expect(rows.get(`site-${i % 500}`, `order-${i}`)).toEqual({ n: i });
    }
    await s.close();
  });

  it('tells whether an entry is there without reading its value: file, changes, partial and complete buckets', async () => {
    const { open } = store(1);
    const { store: s, rows } = open();
    s.restore(undefined);
    rows.put('a', 'x', { n: 1 });
    rows.put('a', 'y', { n: 2 });
    await s.committed();
    await s.settle();
    s.endBatch(); // evicted: the file answers
    expect([rows.has('a', 'x'), rows.has('a', 'z'), rows.has('b', 'x')]).toEqual([true, false, false]);
    rows.remove('a', 'x'); // a change not committed yet
    rows.put('a', 'z', { n: 3 });
    expect([rows.has('a', 'x'), rows.has('a', 'z'), rows.has('a', 'y')]).toEqual([false, true, true]);
    expect(entries(rows, 'a')).toEqual({ y: 2, z: 3 }); // a complete bucket
    expect([rows.has('a', 'x'), rows.has('a', 'y'), rows.has('a', 'w')]).toEqual([false, true, false]);
    await s.close();
  });

  it("removes a retracted entry only the file holds without reading it: the checkpoint's write checks it", async () => {
    const { open } = store(1);
    const { store: s, rows } = open();
    s.restore(undefined);
    rows.put('a', 'x', { n: 1 });
    rows.put('a', 'y', { n: 2 });
    await s.snapshot();
    await s.committed();
    await s.settle();
    s.endBatch(); // evicted: only the file knows the entries
    expect(rows.removeHeld('a', 'x')).toBe(true);
    expect(rows.removeHeld('a', 'x')).toBe(false); // memory knows it is gone now: refused at once
    const good = await s.snapshot();
    expect(committedArrays(good).held).toEqual({ '1.right': [['a', 'x']] });
    await s.committed();
    await s.settle(); // the file held it: the write landed
    expect(entries(rows, 'a')).toEqual({ y: 2 });
    s.endBatch();
    // Taken back and added again before the checkpoint: the write reads it before it writes the new value.
    expect(rows.removeHeld('a', 'y')).toBe(true);
    rows.put('a', 'y', { n: 5 });
    await s.snapshot();
    await s.committed();
    await s.settle();
    expect(entries(rows, 'a')).toEqual({ y: 5 });
    s.endBatch();
    expect(rows.removeHeld('b', 'never')).toBe(true); // nothing in memory says otherwise
    const bad = JSON.parse(JSON.stringify(await s.snapshot())) as CommittedState;
    expect(committedArrays(bad).held).toEqual({ '1.right': [['b', 'never']] });
    await s.committed();
    await expect(s.snapshot()).rejects.toMatchObject({
      code: 'STATE_CORRUPT',
      message: expect.stringMatching(/1\.right state was asked to take back a row it never held/),
    });
    await s.close().catch(() => undefined);
    // The sink committed that checkpoint: a restart that brings the file up to it refuses it the same way.
    const again = open();
    expect(() => again.store.restore(bad)).toThrow(/never held/);
    await again.store.close();
    const after = open();
    after.store.restore({ version: 3, delta: {} }); // the file holds the last checkpoint that landed
    expect(entries(after.rows, 'a')).toEqual({ y: 5 });
    await after.store.close();
  });

  it('a retracted entry the file never held fails the write also when it was added again before the checkpoint', async () => {
    const { open } = store(1);
    const { store: s, rows } = open();
    s.restore(undefined);
    rows.put('a', 'x', { n: 1 });
    await s.snapshot();
    await s.committed();
    await s.settle();
    s.endBatch();
    expect(rows.removeHeld('a', 'never')).toBe(true);
    rows.put('a', 'never', { n: 2 });
    expect(committedArrays(await s.snapshot()).held).toEqual({ '1.right': [['a', 'never']] });
    await s.committed();
    await expect(s.snapshot()).rejects.toMatchObject({ code: 'STATE_CORRUPT' });
    await s.close().catch(() => undefined);
  });
});

describe('SQL state on disk: number keys', () => {
  const numbered: StateCodec<{ n: number }> = { ...codec, numberKeys: true };

  it('a key of one integer is its number, every other value its text, and the text reads back to the same key', () => {
    const values = [5, 5n, -0, 0, -12n, 2 ** 53 - 1, 2 ** 53, 2n ** 53n + 1n, 1.5, 'n5', '5', null, true];
    for (const value of values) {
      const key = valueKey(value);
      expect(key).toEqual(keyText(key) === encodeValue(value) + '|' ? key : 'not the same text');
      expect(numberKey(keyText(key))).toBe(key);
    }
    expect(values.map(valueKey)).toEqual([
      5,
      5,
      0,
      0,
      -12,
      2 ** 53 - 1,
      'n9007199254740992|',
      'n9007199254740993|',
      'n1.5|',
      's2:n5|',
      's1:5|',
      'N|',
      't|',
    ]);
    // Texts no single integer makes stay text.
    for (const text of ['n007|', 'n-0|', 'n|', 'n 5|', 'n5|n6|', 'n5', 'x05|']) expect(numberKey(text)).toBe(text);
  });

  it('entries written by number land in the file as text, and read back from it by number after a restart', async () => {
    const { open } = store(1);
    const openNumbered = () => {
      const opened = open();
      return {
        ...opened,
        rows: opened.store.keyedMap<{ n: number }, StateKey>('3.left', numbered),
        groups: opened.store.keyed<{ n: number }, StateKey>('4.groups', numbered),
      };
    };
    const { store: s, rows, groups } = openNumbered();
    s.restore(undefined);
    for (let order = 1; order <= 4; order++) rows.put(7, order, { n: order });
    rows.put('s3:abc|', 9, { n: 9 });
    groups.set(7, { n: 4 });
    const { delta } = committedArrays(await s.snapshot());
    expect(delta['3.left']).toEqual([
      ['n7|', 'n1|', '{"n":1}'],
      ['n7|', 'n2|', '{"n":2}'],
      ['n7|', 'n3|', '{"n":3}'],
      ['n7|', 'n4|', '{"n":4}'],
      ['s3:abc|', 'n9|', '{"n":9}'],
    ]);
    expect(delta['4.groups']).toEqual([['n7|', '', '{"n":4}']]);
    await s.committed();
    await s.settle();
    s.endBatch();
    // From the file (the cache holds nothing): the sub keys come back as numbers.
    expect([...rows.entries(7)]).toEqual([
      [1, { n: 1 }],
      [2, { n: 2 }],
      [3, { n: 3 }],
      [4, { n: 4 }],
    ]);
    expect(rows.removeHeld(7, 2)).toBe(true);
    expect(rows.removeHeld(7, 2)).toBe(false);
    expect(committedArrays(await s.snapshot()).delta['3.left']).toEqual([['n7|', 'n2|', null]]);
    await s.committed();
    await s.close();

    const again = openNumbered();
    again.store.restore({ version: 2, delta: {} });
    expect(again.rows.has(7, 2)).toBe(false);
    expect(again.rows.get(7, 3)).toEqual({ n: 3 });
    expect([...again.rows.entries(7)].map(([sub]) => sub).sort()).toEqual([1, 3, 4]);
    expect([...again.rows.entries('s3:abc|')]).toEqual([[9, { n: 9 }]]);
    expect(again.groups.get(7)).toEqual({ n: 4 });
    // An entry only the file holds, removed by number: the checkpoint's write finds it by its text.
    again.store.endBatch();
    expect(again.rows.removeHeld(7, 4)).toBe(true);
    expect(committedArrays(await again.store.snapshot()).held).toEqual({ '3.left': [['n7|', 'n4|']] });
    await again.store.committed();
    await again.store.snapshot();
    await again.store.close();
  });
});

describe('SQL state on disk: a restart', () => {
  const numbered: StateCodec<{ n: number }> = { ...codec, numberKeys: true };
  /** A file of `n` sites' orders and groups, committed; then `file` for the same directory with `cacheBytes`. */
  async function written(n: number) {
    const dir = mkdtempSync(join(tmpdir(), 'sql-disk-warm-'));
    dirs.push(dir);
    const open = (cacheBytes: number) => {
      const s = DiskStateStore.open(dir, 'plan', { cacheBytes });
      return {
        store: s,
        rows: s.keyedMap<{ n: number }, StateKey>('3.left', numbered),
        groups: s.keyed<{ n: number }, StateKey>('4.groups', numbered),
      };
    };
    const { store: s, rows, groups } = open(1024 * 1024);
    s.restore(undefined);
    for (let site = 1; site <= n; site++) {
      for (let order = 1; order <= 3; order++) rows.put(site, site * 10 + order, { n: order });
      groups.set(site, { n: site });
    }
    rows.put('s3:abc|', 9, { n: 9 });
    await s.snapshot();
    await s.committed();
    await s.close();
    /** Empties the file behind the store's back: what reads then find came from memory. */
    const emptyFile = () => {
      const db = new Database(join(dir, 'sql-state.sqlite'));
      db.exec('DELETE FROM entries');
      db.close();
    };
    return { open, emptyFile };
  }

  it('a store opened again on a file small beside its cache reads the whole state into memory in one scan', async () => {
    const { open, emptyFile } = await written(50);
    const { store: s, rows, groups } = open(1024 * 1024);
    s.restore({ version: 1, delta: {} });
    expect(s.memory.cachedBytes).toBe(0);
    s.warmUp();
    expect(s.memory.cachedBytes).toBeGreaterThan(0);
    emptyFile();
    // Every value as written, by number keys and text keys, whole keys and single entries.
    expect([...rows.entries(7)]).toEqual([
      [71, { n: 1 }],
      [72, { n: 2 }],
      [73, { n: 3 }],
    ]);
    expect(rows.get(50, 503)).toEqual({ n: 3 });
    expect(rows.has(50, 504)).toBe(false);
    expect([...rows.entries('s3:abc|')]).toEqual([[9, { n: 9 }]]);
    expect(groups.peek(42)).toEqual({ n: 42 });
    expect(groups.peek(51)).toBeUndefined();
    // Changes after it go on as before.
    rows.put(7, 74, { n: 4 });
    groups.set(7, { n: 70 });
    expect(committedArrays(await s.snapshot()).delta).toEqual({
      '3.left': [['n7|', 'n74|', '{"n":4}']],
      '4.groups': [['n7|', '', '{"n":70}']],
    });
    await s.committed();
    await s.close();
  });

  it('a file larger than a quarter of the cache is read key by key, as the changes need it', async () => {
    const { open, emptyFile } = await written(50);
    const { store: s, rows, groups } = open(4096);
    s.restore({ version: 1, delta: {} });
    s.warmUp();
    expect(s.memory.cachedBytes).toBe(0);
    emptyFile();
    expect(rows.entries(7).size).toBe(0);
    expect(groups.get(42)).toBeUndefined();
    await s.close();
  });
});

describe('SQL state: rows as JSON', () => {
  it('writes BIGINT values as plain numbers when a number holds them exactly, and reads every form back', () => {
    const rows = new RowJson([{ kind: 'int64' }, { kind: 'int64' }, { kind: 'int64' }, { kind: 'varchar', length: 9 }]);
    const row = [-9007199254740991n, 2n ** 63n - 1n, null, '12'];
    const text = rows.toText(row);
    expect(text).toBe('[-9007199254740991,{"b":"9223372036854775807"},null,"12"]');
    expect(JSON.stringify(rows.toJson(row))).toBe(text);
    expect(rows.fromJson(JSON.parse(text) as never)).toEqual(row);
    // The form written before (every bigint as {"b": …}), and a JavaScript number in a BIGINT column.
    expect(rows.fromJson([{ b: '5' }, { d: '7' }, 3, 4] as never)).toEqual([5n, 7, 3n, 4]);
    expect(rows.toText([5n, 7, 3n, 4])).toBe('[5,{"d":"7"},3,4]');
  });
});

describe('SQL state on disk: the writer thread', () => {
  /** Version 1 in the file: keys 0–99 of one map state and one keyed state, each entry {n: i}. */
  const atVersion1 = async (open: ReturnType<typeof store>['open']) => {
    const { store: s, rows, groups } = open();
    s.restore(undefined);
    for (let i = 0; i < 100; i++) {
      rows.put('site-1', `order-${i}`, { n: i });
      groups.set(`g${i}`, { n: i });
    }
    await s.snapshot();
    await s.committed();
    await s.close();
  };
  /** Checkpoint 2's changes: orders 0–49 change, 50–59 go, 100–109 come; groups 0–49 change, 50–59 go. */
  const change = (rows: KeyedMapState<{ n: number }>, groups: KeyedState<{ n: number }>) => {
    for (let i = 0; i < 50; i++) {
      rows.put('site-1', `order-${i}`, { n: 1000 + i });
      groups.get(`g${i}`)!.n += 1000;
    }
    for (let i = 50; i < 60; i++) {
      rows.remove('site-1', `order-${i}`);
      groups.delete(`g${i}`);
    }
    for (let i = 100; i < 110; i++) rows.put('site-1', `order-${i}`, { n: i });
  };
  /** What version 2 holds. */
  const expected = () => {
    const orders: Record<string, number> = {};
    const groups: Record<string, number | undefined> = {};
    for (let i = 0; i < 110; i++) {
      if (i < 50) orders[`order-${i}`] = 1000 + i;
      else if (i >= 60) orders[`order-${i}`] = i;
      if (i < 100) groups[`g${i}`] = i < 50 ? 1000 + i : i < 60 ? undefined : i;
    }
    return { orders, groups };
  };
  const read = (rows: KeyedMapState<{ n: number }>, groups: KeyedState<{ n: number }>) => ({
    orders: entries(rows, 'site-1'),
    groups: Object.fromEntries(Array.from({ length: 100 }, (_, i) => [`g${i}`, groups.peek(`g${i}`)?.n])),
  });

  it('a crash in the middle of the write: reads saw the new values meanwhile, and the restart gets exactly the checkpoint', async () => {
    const { open, file } = store(1);
    await atVersion1(open);
    // The writer thread dies halfway through the transaction of version 2, as in a kill -9.
    const { store: s, rows, groups } = open({ crashMidWrite: true });
    s.restore({ version: 1, delta: {} });
    change(rows, groups);
    s.endBatch();
    // What the sink commits with checkpoint 2 (through JSON), then the hand-off to the writer.
    const saved = JSON.parse(JSON.stringify(await s.snapshot())) as CommittedState;
    expect(saved.version).toBe(2);
    await s.committed();
    // The write is in flight (the file holds version 1): every read, cache emptied (1 byte), sees version 2.
    s.endBatch();
    expect(read(rows, groups)).toEqual(expected());
    // The next checkpoint waits for the write: it failed, with a code and a fix.
    const failed = expect.objectContaining({ code: 'STATE_DIR_UNWRITABLE', hint: expect.stringContaining('next run') });
    await expect(s.snapshot()).rejects.toThrow(failed);
    await expect(s.close()).rejects.toThrow(failed);
    // The file claims only what it holds: version 1, none of version 2's changes.
    const raw = new Database(file, { readonly: true });
    expect(raw.prepare("SELECT value FROM meta WHERE name = 'version'").pluck().get()).toBe('1');
    expect(raw.prepare("SELECT value FROM entries WHERE key = 'site-1' AND sub = 'order-0'").pluck().get()).toBe(
      '{"n":0}',
    );
    expect(raw.prepare("SELECT count(*) FROM entries WHERE sub = 'order-105'").pluck().get()).toBe(0);
    raw.close();
    // The restart: the file is one checkpoint behind the sink, whose delta brings it to version 2.
    const again = open();
    expect(again.store.version).toBe(1);
    again.store.restore(saved);
    expect(read(again.rows, again.groups)).toEqual(expected());
    await again.store.close();
    const third = open();
    expect(third.store.version).toBe(2);
    third.store.restore(saved);
    expect(read(third.rows, third.groups)).toEqual(expected());
    await third.store.close();
  });

  it('the writer thread writes every key, sub key and value as given: any text, several states, deletions', async () => {
    const { open, file } = store(1);
    const { store: s, rows, groups } = open();
    s.restore(undefined);
    // Keys that are prefixes of one another, empty texts, and characters beyond Latin-1 and the BMP (the delta's
    // text is then two bytes per character): the thread reads each change at its place in the one string.
    const keys = ['', 'a', 'ab', 'é', '日本', '🚀x', 'a🚀', 'z'];
    for (const key of keys) {
      for (const sub of keys) rows.put(key, sub, { n: key.length * 10 + sub.length });
      groups.set(key, { n: key.length });
    }
    await s.snapshot();
    await s.committed();
    // Checkpoint 2 changes some entries, removes others and adds new ones.
    rows.remove('🚀x', 'é');
    rows.remove('', '');
    rows.put('日本', 'ab', { n: -1 });
    rows.put('new', '🚀', { n: 42 });
    groups.delete('a');
    groups.set('é', { n: 99 });
    s.endBatch();
    await s.snapshot();
    await s.committed();
    await s.close();
    const expectedRows: [string, string, string][] = [];
    for (const key of keys) {
      for (const sub of keys) {
        if ((key === '🚀x' && sub === 'é') || (key === '' && sub === '')) continue;
        const n = key === '日本' && sub === 'ab' ? -1 : key.length * 10 + sub.length;
        expectedRows.push([key, sub, JSON.stringify({ n })]);
      }
    }
    expectedRows.push(['new', '🚀', '{"n":42}']);
    const expectedGroups = keys
      .filter((key) => key !== 'a')
      .map((key) => [key, '', JSON.stringify({ n: key === 'é' ? 99 : key.length })]);
    const raw = new Database(file, { readonly: true });
    const held = (ns: string) =>
      raw.prepare<[string], [string, string, string]>('SELECT key, sub, value FROM entries WHERE ns = ?').raw().all(ns);
    const sorted = (list: string[][]) => [...list].sort((a, b) => JSON.stringify(a).localeCompare(JSON.stringify(b)));
    expect(sorted(held('1.right'))).toEqual(sorted(expectedRows));
    expect(sorted(held('2.groups'))).toEqual(sorted(expectedGroups));
    expect(raw.prepare("SELECT value FROM meta WHERE name = 'version'").pluck().get()).toBe('2');
    raw.close();
  });

  /** A store at version 1 whose checkpoint 2 (see `change`) was handed to the writer thread. */
  const handedOffVersion2 = async () => {
    const { open } = store(1);
    await atVersion1(open);
    const { store: s, rows, groups } = open();
    s.restore({ version: 1, delta: {} });
    change(rows, groups);
    s.endBatch();
    await s.snapshot();
    await s.committed();
    return { open, s, rows, groups };
  };

  it('a write that lands: the next checkpoint waits for it, close too, and the file holds the version', async () => {
    const { open, s, rows, groups } = await handedOffVersion2();
    s.endBatch();
    expect(read(rows, groups)).toEqual(expected());
    // No change since: checkpoint 3 is empty, and it comes after version 2 is in the file.
    expect(await s.snapshot()).toEqual({ version: 3, parts: [] });
    expect(read(rows, groups)).toEqual(expected());
    await s.committed();
    rows.put('site-1', 'order-0', { n: 7 });
    await s.snapshot();
    await s.committed();
    await s.close();
    const again = open();
    expect(again.store.version).toBe(4);
    again.store.restore({ version: 4, delta: {} });
    expect(again.rows.get('site-1', 'order-0')).toEqual({ n: 7 });
    expect(entries(again.rows, 'site-1')['order-105']).toBe(105);
    await again.store.close();
  });

  it('changes after a snapshot belong to the next checkpoint; reads see the sealed ones until the file holds them', async () => {
    const { open } = store(32 * 1024 * 1024);
    const { store: s, rows } = open();
    s.restore(undefined);
    // Written to a key not in memory: reads find the entries among the changes, not in a cached bucket.
    rows.put('site-1', 'order-1', { n: 1 });
    await s.snapshot();
    await s.committed();
    await s.settle();
    rows.put('site-1', 'order-2', { n: 2 });
    const sealed = await s.snapshot();
    expect(committedArrays(sealed).delta).toEqual({ '1.right': [['site-1', 'order-2', '{"n":2}']] });
    // While the sink commits checkpoint 2, the next batches run: the last write landed long ago, and order-2 is
    // in no file yet.
    s.endBatch();
    expect(rows.get('site-1', 'order-2')).toEqual({ n: 2 });
    rows.put('site-1', 'order-3', { n: 3 });
    rows.remove('site-1', 'order-1');
    s.endBatch();
    expect(entries(rows, 'site-1')).toEqual({ 'order-2': 2, 'order-3': 3 });
    await s.committed();
    expect(committedArrays(await s.snapshot()).delta).toEqual({
      '1.right': [
        ['site-1', 'order-3', '{"n":3}'],
        ['site-1', 'order-1', null],
      ],
    });
    // The sink committed checkpoint 3, the process died before the file took it: the file holds checkpoint 2.
    await s.close();
    const again = open();
    expect(again.store.version).toBe(2);
    expect(entries(again.rows, 'site-1')).toEqual({ 'order-1': 1, 'order-2': 2 });
    await again.store.close();
  });

  it('a write that lands leaves memory at the next batch end, not at the next checkpoint; reads then come from the file', async () => {
    const { s, rows, groups } = await handedOffVersion2();
    const handedOff = s.memory.changedBytes;
    expect(handedOff).toBeGreaterThan(0);
    // Batch ends, with no checkpoint: once the thread has written version 2, its changes are no longer held.
    const deadline = Date.now() + 20_000;
    while (s.memory.changedBytes > 0 && Date.now() < deadline) {
      await new Promise((resolve) => setTimeout(resolve, 5));
      s.endBatch();
    }
    expect(s.memory.changedBytes).toBe(0);
    expect(read(rows, groups)).toEqual(expected());
    await s.close();
  }, 30_000);

  it('a checkpoint larger than one part of a write lands whole in one transaction, or not at all', async () => {
    const { open, file } = store(1);
    const { store: s, rows, groups } = open({ writePartChars: 1_000_000 });
    s.restore(undefined);
    // ~2.9 million characters of keys and values: three parts of about a million.
    const value = (i: number, round: number) => ({ n: i * 10 + round });
    for (let i = 0; i < 100_000; i++) rows.put(`site-${i % 50}`, `order-${i}`, value(i, 1));
    for (let i = 0; i < 1_000; i++) groups.set(`g${i}`, value(i, 1));
    await s.snapshot();
    await s.committed();
    await s.settle();
    s.endBatch();
    const raw = new Database(file, { readonly: true });
    const count = raw.prepare<[string], number>('SELECT count(*) FROM entries WHERE ns = ?').pluck();
    const version = raw.prepare("SELECT value FROM meta WHERE name = 'version'").pluck();
    expect([count.get('1.right'), count.get('2.groups'), version.get()]).toEqual([100_000, 1_000, '1']);
    // Checkpoint 2 changes every entry; its last part takes back a row the file never held: nothing of it lands.
    for (let i = 0; i < 100_000; i++) rows.put(`site-${i % 50}`, `order-${i}`, value(i, 2));
    for (let i = 0; i < 1_000; i++) groups.set(`g${i}`, value(i, 2));
    expect(rows.removeHeld('site-zz', 'never')).toBe(true);
    await s.snapshot();
    await s.committed();
    await expect(s.snapshot()).rejects.toMatchObject({ code: 'STATE_CORRUPT' });
    await s.close().catch(() => undefined);
    expect(version.get()).toBe('1');
    const values = raw.prepare<[string], string>('SELECT value FROM entries WHERE ns = ? ORDER BY key, sub').pluck();
    const n = (texts: string[]) => texts.map((text) => (JSON.parse(text) as { n: number }).n % 10);
    expect(new Set(n(values.all('1.right')))).toEqual(new Set([1]));
    expect(new Set(n(values.all('2.groups')))).toEqual(new Set([1]));
    raw.close();
  });

  it('several jobs start their writer threads at once: each writes, and V8 flags are set back once all are up', async () => {
    const opened = Array.from({ length: 6 }, () => store(1).open());
    for (const { store: s, rows } of opened) {
      s.restore(undefined);
      for (let i = 0; i < 1000; i++) rows.put(`site-${i % 10}`, `order-${i}`, { n: i });
    }
    // Each store starts its thread at its first checkpoint: six threads starting together.
    await Promise.all(opened.map(async ({ store: s }) => (await s.snapshot(), await s.committed())));
    await Promise.all(opened.map(({ store: s }) => s.settle()));
    for (const { store: s, rows } of opened) {
      expect(s.version).toBe(1);
      expect(s.writerHeapBytes).toBeGreaterThan(0);
      s.endBatch();
      expect(rows.get('site-3', 'order-993')).toEqual({ n: 993 });
    }
    // The threads got V8's `gc` for their own use; a context made here now does not.
    expect(runInNewContext('typeof gc')).toBe('undefined');
    await Promise.all(opened.map(({ store: s }) => s.close()));
  });

  it('an error in the writer thread fails the next checkpoint with STATE_DIR_UNWRITABLE, not an unhandled rejection', async () => {
    const { open, file } = store(32 * 1024 * 1024);
    await atVersion1(open);
    const { store: s, rows } = open();
    s.restore({ version: 1, delta: {} });
    // Another process makes the file refuse writes (as a full disk or an I/O error would).
    const other = new Database(file);
    other.exec("CREATE TRIGGER refuse BEFORE INSERT ON entries BEGIN SELECT RAISE(ABORT, 'no space left'); END;");
    other.close();
    rows.put('site-1', 'order-200', { n: 200 });
    await s.snapshot();
    await s.committed();
    await expect(s.snapshot()).rejects.toThrow(
      expect.objectContaining({ code: 'STATE_DIR_UNWRITABLE', message: expect.stringContaining('no space left') }),
    );
    // It stays failed: the pipeline stops; close reports it too.
    await expect(s.committed()).rejects.toThrow(/no space left/);
    await expect(s.close()).rejects.toThrow(/no space left/);
    const again = open();
    expect(again.store.version).toBe(1);
    await again.store.close();
  });
});
