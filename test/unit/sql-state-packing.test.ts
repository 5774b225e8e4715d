import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { rowToJson, rowToJsonText } from '../../src/sql/exec/changelog.js';
import { committedArrays, DiskStateStore, type CommittedState } from '../../src/sql/exec/disk-state.js';
import type { StateCodec } from '../../src/sql/exec/keyed-state.js';
import { joinEntryCodec, type JoinEntry } from '../../src/sql/exec/nodes.js';
import type { DataType } from '../../src/core/data-type.js';
import { DeltaPacker, unpackDelta, type StateChange } from '../../src/sql/exec/state-file-writer.js';

const dirs: string[] = [];
afterAll(() => dirs.forEach((dir) => rmSync(dir, { recursive: true, force: true })));

/** Changes of two states, each state's grouped by key as a store's pending changes are; nasty keys and values. */
function changes(): [string, StateChange][] {
  const out: [string, StateChange][] = [];
  const keys = ['n7|', 'n10|', 's2:é|', 's3:a"b|', 'n1|', 's1:😀|', ''];
  for (const key of keys) {
    for (const sub of ['n3|', 'n20|', '', 's2:\\x|']) {
      out.push(['1.right', [key, sub, sub === 'n20|' ? null : `[[${JSON.stringify(key)},"\u0000"],1,0]`]]);
    }
  }
  for (const key of [...keys].reverse()) out.push(['2.groups', [key, '', key.length % 2 === 0 ? null : '[1]']]);
  return out;
}

describe('a checkpoint packed for the sink and the writer thread', () => {
  it('unpacks every change of every part as it was added, in parts of about the size asked', () => {
    const all = changes();
    for (const partChars of [Infinity, 200, 1]) {
      const packer = new DeltaPacker(partChars);
      for (const [name, [key, sub, value]] of all) packer.add(name, key, sub, value);
      const parts = packer.finish();
      if (partChars === Infinity) expect(parts).toHaveLength(1);
      // At 1 character a part ends after each change that has one (the empty key's deletion joins the next); at
      // 200 the parts cut changes of one state apart.
      const withText = all.filter(([, [key, sub, value]]) => key.length + sub.length + (value?.length ?? 0) > 0);
      if (partChars === 1) expect(parts).toHaveLength(withText.length);
      if (partChars === 200) expect(parts.length).toBeGreaterThan(2);
      const read: [string, StateChange][] = [];
      for (const part of parts) {
        for (const [name, list] of Object.entries(unpackDelta(part))) {
          for (let i = 0; i < list.size; i++) read.push([name, [list.key(i), list.sub(i), list.value(i)]]);
        }
      }
      expect(read).toEqual(all);
    }
    expect(new DeltaPacker().finish()).toEqual([]);
  });

  it('orders each state’s changes by (key, sub key), as one sort of them all would', () => {
    const packer = new DeltaPacker(Infinity);
    const all = changes();
    for (const [name, [key, sub, value]] of all) packer.add(name, key, sub, value);
    const lists = unpackDelta(packer.finish()[0]!);
    for (const [name, list] of Object.entries(lists)) {
      const expected = all
        .filter(([n]) => n === name)
        .map(([, [key, sub]]) => [key, sub])
        .sort(([ka, sa], [kb, sb]) => (ka! < kb! ? -1 : ka! > kb! ? 1 : sa! < sb! ? -1 : sa! > sb! ? 1 : 0));
      expect([...list.order()].map((i) => [list.key(i), list.sub(i)])).toEqual(expected);
    }
  });

  it('a group’s row as JSON text is the JSON of its values', () => {
    const row = [
      12345678901234567890n,
      42n,
      -0,
      1.5,
      Number.NaN,
      'a"b\\c\u0000é😀',
      null,
      true,
      new Uint8Array([0, 255]),
    ];
    expect(rowToJsonText(row)).toBe(JSON.stringify(rowToJson(row)));
    expect(rowToJsonText([])).toBe('[]');
  });
});

describe('the state a checkpoint committed, read back', () => {
  const codec: StateCodec<number> = { toJson: (v) => v, fromJson: (json) => json as number };

  async function behindByOne(): Promise<{ saved: CommittedState; dir: string }> {
    const dir = mkdtempSync(join(tmpdir(), 'sql-state-packing-'));
    dirs.push(dir);
    const store = DiskStateStore.open(dir, 'plan', { writePartChars: 8 });
    store.restore(undefined);
    const map = store.keyedMap('m', codec);
    for (let i = 0; i < 20; i++) map.put(`k${i % 3}`, `s${i}`, i);
    await store.snapshot();
    await store.committed();
    map.remove('k0', 's0');
    map.put('k1', 's1', 100);
    map.put('k9', 'é', 9);
    // The sink committed version 2; the process dies before the file takes it.
    const saved = await store.snapshot();
    await store.close();
    return { saved, dir };
  }

  const read = (dir: string) => {
    const store = DiskStateStore.open(dir, 'plan');
    const map = store.keyedMap('m', codec);
    return { store, map };
  };

  it('in parts: the file one checkpoint behind takes them, in several parts', async () => {
    const { saved, dir } = await behindByOne();
    expect(saved.parts.length).toBeGreaterThan(1);
    // What the sink stores is JSON.
    const { store, map } = read(dir);
    store.restore(JSON.parse(JSON.stringify(saved)) as CommittedState);
    expect(map.get('k0', 's0')).toBeUndefined();
    expect(map.get('k1', 's1')).toBe(100);
    expect(map.get('k9', 'é')).toBe(9);
    expect([...map.entries('k2')]).toHaveLength(6);
    await store.close();
  });

  it('as arrays (a checkpoint written by version 3 of the SQL stage): the same', async () => {
    const { saved, dir } = await behindByOne();
    const { delta } = committedArrays(saved);
    expect(delta).toEqual({
      m: [
        ['k0', 's0', null],
        ['k1', 's1', '100'],
        ['k9', 'é', '9'],
      ],
    });
    const { store, map } = read(dir);
    store.restore({ version: saved.version, delta });
    expect(map.get('k0', 's0')).toBeUndefined();
    expect(map.get('k1', 's1')).toBe(100);
    expect(map.get('k9', 'é')).toBe(9);
    await store.close();
  });

  it('a part whose lengths do not add up is STATE_CORRUPT, and the file takes nothing of it', async () => {
    const { saved, dir } = await behindByOne();
    const broken = { ...saved, parts: saved.parts.map((p, i) => (i === 0 ? { ...p, text: `${p.text}x` } : p)) };
    const { store, map } = read(dir);
    expect(() => store.restore(broken)).toThrow(expect.objectContaining({ code: 'STATE_CORRUPT' }));
    expect(() => store.restore({ ...saved, parts: [{ ...saved.parts[0]!, lengths: 'AAAA' }] })).toThrow(
      expect.objectContaining({ code: 'STATE_CORRUPT' }),
    );
    expect(store.version).toBe(1);
    expect(map.get('k1', 's1')).toBe(1);
    await store.close();
  });
});

describe('a join side’s entries as stored', () => {
  const types: DataType[] = [{ kind: 'int64' }, { kind: 'string' }];
  const entry = { row: [274019n, 'é"'], count: 1, matches: 0 };
  const text = (codec: StateCodec<JoinEntry>, e: JoinEntry) => codec.toText!(e);

  it('on a unique inner side: the row alone, read back as one copy', () => {
    const codec = joinEntryCodec(types, true);
    expect(text(codec, entry)).toBe('[274019,"é\\""]');
    expect(codec.fromJson(JSON.parse(text(codec, entry)))).toEqual(entry);
    expect(JSON.stringify(codec.toJson(entry))).toBe(text(codec, entry));
  });

  it('elsewhere with its counts; and an entry stored with them still reads on a unique inner side', () => {
    const full = joinEntryCodec(types, false);
    const counted = { row: [7n, null], count: 2, matches: 3 };
    expect(text(full, counted)).toBe('[[7,null],2,3]');
    expect(full.fromJson(JSON.parse(text(full, counted)))).toEqual(counted);
    // State written before the row-only form.
    expect(joinEntryCodec(types, true).fromJson(JSON.parse('[[274019,"é\\""],1,1]'))).toEqual({ ...entry, matches: 1 });
  });
});
