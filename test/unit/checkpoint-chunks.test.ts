import { describe, expect, it } from 'vitest';
import type { Checkpoint } from '../../src/core/index.js';
import { ChunkLedger, chunkCheckpoint, joinCheckpoint } from '../../src/core/checkpoint-chunks.js';

/** A MySQL-like checkpoint over `tables` tables: schema history, captured tables, snapshot progress, state. */
function checkpointOf(tables: number, options: { id?: number; snapshotFrom?: number; comment?: string } = {}) {
  const names = Array.from({ length: tables }, (_, i) => `shop.t${String(i).padStart(5, '0')}`);
  const schema = (name: string, i: number) => ({
    schema: {
      id: { namespace: 'shop', name },
      columns: [
        { name: 'id', type: { kind: 'int', bits: 32 }, nullable: false },
        { name: 'a', type: { kind: 'int', bits: 32 }, nullable: false },
        { name: 'd', type: { kind: 'varchar', length: 64 }, nullable: true, comment: i === 7 ? options.comment : null },
      ],
      primaryKey: ['id'],
    },
    charsets: ['utf8mb4'],
  });
  const snapshotFrom = options.snapshotFrom ?? tables;
  const checkpoint: Checkpoint = {
    pipeline: 'p',
    id: options.id ?? 1,
    position: {
      kind: 'mysql',
      binlog: { file: 'mysql-bin.000001', pos: 4 + (options.id ?? 1), skipRows: 0 },
      ...(snapshotFrom < tables
        ? {
            snapshot: { tables: names.slice(snapshotFrom).map((table) => ({ table, doneUpTo: null, doneChunks: [] })) },
          }
        : {}),
      capturedTables: names,
      schemas: { tables: Object.fromEntries(names.map((n, i) => [n, schema(n, i)])), charsets: { databases: {} } },
      serverUuid: 'server-id:1',
    },
    committedAt: '2026-12-03T12:00:00.000Z',
    operators: [{ stage: 'schema-evolution', version: 1, targets: names.map((n) => ({ id: n, shards: [n] })) }],
  };
  return checkpoint;
}

function roundTrip(checkpoint: Checkpoint): Checkpoint {
  const chunked = chunkCheckpoint(checkpoint);
  return joinCheckpoint(chunked.head, chunked.bulk, (id) => chunked.chunks.get(id));
}

describe('checkpoint chunks', () => {
  it('leaves a small checkpoint as it is: no bulk, the head is the checkpoint', () => {
    const checkpoint = checkpointOf(2);
    const chunked = chunkCheckpoint(checkpoint);
    expect(chunked.bulk).toEqual([]);
    expect(chunked.head).toEqual(checkpoint);
    expect(joinCheckpoint(chunked.head, null, () => undefined)).toEqual(checkpoint);
  });

  it('keeps the small position fields in the head and restores the whole checkpoint from head and chunks', () => {
    const checkpoint = checkpointOf(1000, { snapshotFrom: 300 });
    const chunked = chunkCheckpoint(checkpoint);
    expect(chunked.head.position).toMatchObject({
      kind: 'mysql',
      binlog: checkpoint.position['binlog'],
      serverUuid: 'server-id:1',
      snapshot: { $chunked: expect.any(Number) as number },
      schemas: { $chunked: expect.any(Number) as number },
    });
    expect(JSON.stringify(chunked.head).length).toBeLessThan(1024);
    expect(chunked.bulk.length).toBeGreaterThan(3);
    expect(roundTrip(checkpoint)).toEqual(checkpoint);
  });

  it('a commit that changes one table writes a few chunks, not the whole bulk', () => {
    const ledger = new ChunkLedger();
    const first = chunkCheckpoint(checkpointOf(3000, { snapshotFrom: 100 }));
    const all = ledger.plan(first);
    expect(all.write.length).toBe(first.bulk.length);
    ledger.committed(first);

    // The next commit: a new binlog position, 100 more tables snapshotted, one table's schema changed.
    const next = chunkCheckpoint(checkpointOf(3000, { id: 2, snapshotFrom: 200, comment: 'changed' }));
    const plan = ledger.plan(next);
    const total = [...next.chunks.values()].reduce((n, text) => n + text.length, 0);
    const written = plan.write.reduce((n, [, text]) => n + text.length, 0);
    expect(total).toBeGreaterThan(1_000_000);
    // The chunks around the three edits: the binlog position is in the head, not in a chunk.
    expect(plan.write.length).toBeLessThanOrEqual(8);
    expect(written).toBeLessThan(total / 5);
    expect(plan.remove.length).toBeGreaterThan(0);
    expect(plan.remove.every((id) => !next.bulk.includes(id))).toBe(true);
    ledger.committed(next);
    // The same bulk again (streaming, no DDL): nothing to write or delete.
    expect(ledger.plan(chunkCheckpoint(checkpointOf(3000, { id: 3, snapshotFrom: 200, comment: 'changed' })))).toEqual({
      write: [],
      remove: [],
    });
  });

  it("stores an operators' state that is new at every commit (a SQL job's delta) in a few large chunks, apart from the position's", () => {
    // ~2 MB of state text unlike the last commit's, as a SQL job's delta of ~28,000 changes is.
    const delta = (seed: number) =>
      Array.from({ length: 60_000 }, (_, i) => `[${(i * 7919 + seed) % 1_000_003},"n${i}|",${seed}]`).join('');
    const withState = (id: number) => ({
      ...checkpointOf(1000),
      id,
      operators: [{ stage: 'sql', version: 4, state: { version: id, parts: [{ text: delta(id) }] } }],
    });
    const ledger = new ChunkLedger();
    const first = chunkCheckpoint(withState(1));
    ledger.committed(first);
    const next = chunkCheckpoint(withState(2));
    const { write, remove } = ledger.plan(next);
    // Only the state's chunks are new: the position's (the schemas of 1,000 tables) are those stored already.
    // (The state's JSON, and `"operators":` and the closing brace around it.)
    const stateChars = JSON.stringify(withState(2).operators).length + 16;
    expect(write.reduce((n, [, text]) => n + text.length, 0)).toBeLessThan(stateChars);
    expect(write.length).toBeGreaterThanOrEqual(1);
    expect(write.length).toBeLessThanOrEqual(4);
    expect(write.slice(0, -1).every(([, text]) => text.length >= 256 * 1024)).toBe(true);
    expect(remove.length).toBe(write.length);
    expect(next.bulk.filter((id) => first.bulk.includes(id)).length).toBe(next.bulk.length - write.length);
    expect(roundTrip(withState(2))).toEqual(withState(2));
  });

  it('never cuts a surrogate pair: every chunk survives UTF-8, and the text comes back as it was', () => {
    const checkpoint = checkpointOf(800, { comment: '😀'.repeat(100_000) });
    const chunked = chunkCheckpoint(checkpoint);
    for (const text of chunked.chunks.values()) {
      expect(Buffer.from(text, 'utf8').toString('utf8')).toBe(text);
    }
    expect(roundTrip(checkpoint)).toEqual(checkpoint);
  });

  it('refuses a missing or altered chunk instead of loading another checkpoint', () => {
    const chunked = chunkCheckpoint(checkpointOf(500));
    const [first] = chunked.bulk;
    expect(() =>
      joinCheckpoint(chunked.head, chunked.bulk, (id) => (id === first ? undefined : chunked.chunks.get(id))),
    ).toThrow(/missing/);
    expect(() =>
      joinCheckpoint(chunked.head, chunked.bulk, (id) =>
        id === first ? ' ' + chunked.chunks.get(id)! : chunked.chunks.get(id),
      ),
    ).toThrow(/does not hold/);
  });
});
