import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { afterAll, describe, expect, it } from 'vitest';
import type { ChangeEvent, DataChangeEvent } from '../../src/core/change-event.js';
import type { Row } from '../../src/core/data-type.js';
import { tableId, type TableSchema } from '../../src/core/table-schema.js';
import { SqlSession } from '../../src/composer/sql-job.js';
import { SqlOperator } from '../../src/sql/sql-operator.js';
import { committedArrays, DiskStateStore, type CommittedState } from '../../src/sql/exec/disk-state.js';
import type { InsertStatement } from '../../src/sql/sql-ast.js';
import type { OperatorState } from '../../src/core/operator.js';

const dirs: string[] = [];
afterAll(() => dirs.forEach((dir) => rmSync(dir, { recursive: true, force: true })));
const tempDir = () => {
  const dir = mkdtempSync(join(tmpdir(), 'sql-ttl-'));
  dirs.push(dir);
  return dir;
};

const SOURCE = (table: string) =>
  `'connector' = 'mysql-cdc', 'hostname' = 'h', 'username' = 'u', 'database-name' = 'db', 'table-name' = '${table}'`;
const A: TableSchema = {
  id: tableId('db', 'a'),
  columns: [
    { name: 'id', type: { kind: 'int64' }, nullable: false },
    { name: 'k', type: { kind: 'int32' }, nullable: true },
  ],
  primaryKey: ['id'],
};
const B: TableSchema = { ...A, id: tableId('db', 'b') };
const ev = (schema: TableSchema, op: DataChangeEvent['op'], before: Row | null, after: Row | null): ChangeEvent => ({
  kind: 'data',
  table: schema.id,
  op,
  before,
  after,
  source: { tsMs: 0 },
});

/** A job of `select` with `table.exec.state.ttl` = 1 s on a clock the test moves; the sink table as it would be. */
function job(sinkColumns: string, select: string) {
  const clock = { now: 0 };
  const text = `CREATE TABLE a (id BIGINT, k INT, PRIMARY KEY (id) NOT ENFORCED) WITH (${SOURCE('a')});
CREATE TABLE b (id BIGINT, k INT, PRIMARY KEY (id) NOT ENFORCED) WITH (${SOURCE('b')});
CREATE TABLE r (${sinkColumns}) WITH ('connector' = 'jdbc', 'table-name' = 'r');
INSERT INTO r ${select};`;
  const { session, statements } = SqlSession.parse(text);
  statements.forEach((s) => session.declare(s));
  const plan = session.plan(statements.find((s): s is InsertStatement => s.kind === 'insert')!);
  const sink: TableSchema = {
    id: tableId('', 'r'),
    columns: plan.sink.columns.map((c) => ({ name: c.name, type: c.type, nullable: c.nullable })),
    primaryKey: [...plan.sink.primaryKey],
  };
  const re = (s: string) => new RegExp(`^${s}$`);
  const operator = new SqlOperator(
    [
      {
        plan,
        sources: plan.scans.map((scan) => ({ scan, database: re('db'), table: re(scan.table) })),
        sinkSchema: sink,
      },
    ],
    'UTC',
    { dir: tempDir(), ttlMs: 1000, now: () => clock.now },
  );
  const table = new Map<string, Row>();
  const feed = (events: ChangeEvent[]) => {
    for (const event of operator.process(events)) {
      if (event.kind !== 'data') continue;
      const row = event.after ?? event.before!;
      const key = String(row[plan.sinkKey[0]!]);
      if (event.op === 'delete') table.delete(key);
      else table.set(key, event.after!);
    }
    return [...table.values()].map((r) => r.map((v) => (v === null ? null : String(v)))).sort();
  };
  /** A committed checkpoint at `at`: returns the state delta it committed. */
  const checkpoint = async (at: number) => {
    clock.now = at;
    const state = (await operator.snapshotState()) as OperatorState & { state: CommittedState };
    await operator.checkpointCommitted();
    return committedArrays(state.state).delta;
  };
  feed(
    [A, B].map((schema) => ({ kind: 'schema', table: schema.id, change: 'createTable', schema, source: { tsMs: 0 } })),
  );
  return { feed, checkpoint, close: () => operator.close() };
}

describe('table.exec.state.ttl', () => {
  it('drops a group not written for the TTL at a checkpoint; a late change to it starts the group anew', async () => {
    const { feed, checkpoint, close } = job(
      'k INT, n BIGINT, PRIMARY KEY (k) NOT ENFORCED',
      'SELECT k, COUNT(*) FROM a GROUP BY k',
    );
    feed([ev(A, 'insert', null, [1n, 1]), ev(A, 'insert', null, [2n, 1]), ev(A, 'insert', null, [3n, 2])]);
    await checkpoint(0);
    expect(feed([ev(A, 'insert', null, [4n, 2])])).toEqual([
      ['1', '2'],
      ['2', '2'],
    ]);
    expect(await checkpoint(600)).toEqual({ '1.groups': [[expect.any(String), '', expect.any(String)]] });
    // At 1100 group 1 (last written at 0) is idle for longer than 1 s, group 2 (600) is not: only 1 is deleted,
    // and its deletion is part of the checkpoint's delta. The result row stays: expiry retracts nothing.
    const delta = await checkpoint(1100);
    expect(delta['1.groups']).toHaveLength(1);
    expect(delta['1.groups']![0]![2]).toBeNull();
    expect(feed([])).toEqual([
      ['1', '2'],
      ['2', '2'],
    ]);
    // The consequence (as in Flink): a new row of group 1 starts the group from zero — the result says 1 where
    // the source has 3 —, and a later delete in it takes back what the new group counted: the row disappears
    // while the source has 2.
    expect(feed([ev(A, 'insert', null, [5n, 1])])).toEqual([
      ['1', '1'],
      ['2', '2'],
    ]);
    expect(feed([ev(A, 'delete', [2n, 1], null)])).toEqual([['2', '2']]);
    // Group 2, written lately, is still exact.
    expect(feed([ev(A, 'delete', [3n, 2], null)])).toEqual([['2', '1']]);
    await close();
  });

  it('a join side row that expired matches nothing, and its retraction is dropped', async () => {
    const { feed, checkpoint, close } = job(
      'aid BIGINT, bid BIGINT, PRIMARY KEY (aid, bid) NOT ENFORCED',
      'SELECT a.id, b.id FROM a JOIN b ON a.k = b.k',
    );
    feed([ev(B, 'insert', null, [10n, 7])]);
    await checkpoint(0);
    expect(feed([ev(A, 'insert', null, [1n, 7])])).toEqual([['1', '10']]);
    await checkpoint(500);
    await checkpoint(1200); // b's row (written at 0) expires; a's (500) stays
    expect(feed([ev(A, 'insert', null, [2n, 7])])).toEqual([['1', '10']]);
    expect(() => feed([ev(B, 'delete', [10n, 7], null)])).not.toThrow();
    await close();
  });

  it('a join side expires per row: a row of a join key written lately stays while an idle one of the key goes', async () => {
    const { feed, checkpoint, close } = job(
      'aid BIGINT, bid BIGINT, PRIMARY KEY (aid, bid) NOT ENFORCED',
      'SELECT a.id, b.id FROM a JOIN b ON a.k = b.k',
    );
    feed([ev(B, 'insert', null, [10n, 7])]);
    await checkpoint(0);
    feed([ev(B, 'insert', null, [11n, 7])]);
    await checkpoint(600);
    // At 1100 b's row 10 (written at 0) is idle for longer than 1 s, row 11 of the same join key (600) is not:
    // the delta deletes the entry of row 10 alone.
    const delta = await checkpoint(1100);
    expect(Object.keys(delta)).toEqual([expect.stringMatching(/\.right$/)]);
    expect(Object.values(delta)[0]).toEqual([[expect.any(String), expect.stringContaining('10'), null]]);
    expect(feed([ev(A, 'insert', null, [1n, 7])])).toEqual([['1', '11']]);
    // Row 11 is still there: its update takes back the joined row.
    expect(feed([ev(B, 'update', [11n, 7], [11n, 8])])).toEqual([]);
    // The update is written at 1700 (under join key 8); an inner side's row is written when it changes, not when
    // a row of the other side matches it: idle since, it is gone at 2800.
    await checkpoint(1700);
    expect(feed([ev(A, 'insert', null, [2n, 8])])).toEqual([['2', '11']]);
    await checkpoint(2800);
    expect(feed([ev(A, 'insert', null, [3n, 8])])).toEqual([['2', '11']]);
    await close();
  });

  it('a restart keeps the stamps; without a TTL the same state never expires', async () => {
    const dir = tempDir();
    let now = 0;
    const open = (ttlMs: number) => DiskStateStore.open(dir, 'plan', { ttlMs, now: () => now });
    const codec = { toJson: (v: number) => v, fromJson: (j: unknown) => j as number };
    let store = open(1000);
    store.keyed('s', codec).set('x', 1);
    await store.snapshot();
    await store.committed();
    await store.close();
    now = 5000;
    store = open(0);
    const plain = store.keyed('s', codec);
    expect(committedArrays(await store.snapshot()).delta).toEqual({});
    await store.committed();
    expect(plain.peek('x')).toBe(1);
    await store.close();
    // TTL set again: the stamps of the run without one are gone; x's time starts at this open.
    store = open(1000);
    const timed = store.keyed('s', codec);
    expect(committedArrays(await store.snapshot()).delta).toEqual({});
    await store.committed();
    now = 6001;
    expect(committedArrays(await store.snapshot()).delta).toEqual({ s: [['x', '', null]] });
    await store.committed();
    expect(timed.peek('x')).toBeUndefined();
    await store.close();
  });

  it('a map state expires per entry, and a crash before the file took the expiry catches it up from the delta', async () => {
    const dir = tempDir();
    let now = 0;
    const open = () => DiskStateStore.open(dir, 'plan', { ttlMs: 1000, now: () => now });
    const codec = { toJson: (v: number) => v, fromJson: (j: unknown) => j as number };
    let store = open();
    let map = store.keyedMap('m', codec);
    map.put('k', 'a', 1);
    await store.snapshot();
    await store.committed();
    now = 600;
    map.put('k', 'b', 2);
    await store.snapshot();
    await store.committed();
    now = 1100;
    const saved = await store.snapshot();
    expect(committedArrays(saved).delta).toEqual({ m: [['k', 'a', null]] });
    expect([...map.entries('k')]).toEqual([['b', 2]]);
    // The sink committed the checkpoint, the process died before the file took it.
    await store.close();
    store = open();
    map = store.keyedMap('m', codec);
    store.restore(saved);
    expect([...map.entries('k')]).toEqual([['b', 2]]);
    // b's stamp (600) survived the restart: it goes once idle for the TTL, the key with it.
    now = 1700;
    expect(committedArrays(await store.snapshot()).delta).toEqual({ m: [['k', 'b', null]] });
    await store.committed();
    expect(map.entries('k').size).toBe(0);
    await store.close();
  });

  it('stamps kept per key by an earlier build are dropped on open; the entries count from then', async () => {
    const dir = tempDir();
    const file = new Database(join(dir, 'sql-state.sqlite'));
    file.exec(`CREATE TABLE expiry (ns TEXT NOT NULL, key TEXT NOT NULL, at INTEGER NOT NULL,
      PRIMARY KEY (ns, key)) WITHOUT ROWID; INSERT INTO expiry VALUES ('m', 'k', 0);`);
    file.close();
    let now = 5000;
    const store = DiskStateStore.open(dir, 'plan', { ttlMs: 1000, now: () => now });
    const map = store.keyedMap('m', { toJson: (v: number) => v, fromJson: (j: unknown) => j as number });
    map.put('k', 'a', 1);
    await store.snapshot();
    await store.committed();
    now = 5500;
    expect(committedArrays(await store.snapshot()).delta).toEqual({});
    await store.committed();
    now = 6000;
    expect(committedArrays(await store.snapshot()).delta).toEqual({ m: [['k', 'a', null]] });
    await store.close();
  });
});
