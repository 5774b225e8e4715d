import { describe, expect, it } from 'vitest';
import { progressDetail, progressLine } from '../../src/cli/progress-line.js';
import type { SourceProgress } from '../../src/core/index.js';

const snapshot = (read: number, estimate?: number): SourceProgress => ({
  phase: 'snapshot',
  snapshotTablesDone: 1,
  snapshotTablesTotal: 3,
  snapshotRowsRead: read,
  ...(estimate === undefined ? {} : { snapshotRowsEstimate: estimate }),
  snapshotTables: [
    { table: 'shop.orders', rowsRead: read - 1, rowsEstimate: estimate },
    { table: 'shop.items', rowsRead: 1, rowsEstimate: undefined },
  ],
  logPosition: 'mysql-bin.000001:4',
  lagMs: 0,
});

describe('the progress line of run (issue 10)', () => {
  it('gives rows done of the estimate, percent, rate over the interval and ETA during a snapshot', () => {
    const line = progressLine(snapshot(30_000, 100_000), { rowsRead: 10_000, atMs: 0 }, 10_000, {
      events: 30_000,
      checkpoints: 1,
    });
    expect(line).toBe(
      'snapshot: 30,000 of ~100,000 rows (30 %), 2,000 rows/s, ETA 35 s; 1/3 tables done; ' +
        'binlog mysql-bin.000001:4; 30,000 changes committed in 1 checkpoint',
    );
  });

  it('stops at 99 % while the snapshot runs past a low estimate, and has no rate on its first line', () => {
    const line = progressLine(snapshot(1_200, 1_000), undefined, 0, { events: 1, checkpoints: 2 });
    expect(line).toMatch(/^snapshot: 1,200 of ~1,000 rows \(99 %\); /);
    expect(line).toContain('1 change committed in 2 checkpoints');
    expect(line).not.toContain('rows/s');
  });

  it('without an estimate counts rows only; while streaming gives position and lag', () => {
    expect(progressLine(snapshot(1), undefined, 0, { events: 0, checkpoints: 0 })).toMatch(/^snapshot: 1 row; /);
    const streaming: SourceProgress = { ...snapshot(0), phase: 'streaming', lagMs: 2_400 };
    expect(progressLine(streaming, undefined, 0, { events: 2, checkpoints: 1 })).toBe(
      'streaming: binlog mysql-bin.000001:4, lag 2 s; 2 changes committed in 1 checkpoint',
    );
    expect(progressLine({ ...streaming, lagBytes: 123_456 }, undefined, 0, { events: 2, checkpoints: 1 })).toBe(
      'streaming: binlog mysql-bin.000001:4, lag 2 s (123,456 bytes); 2 changes committed in 1 checkpoint',
    );
  });

  it('details each table being snapshotted (for debug level)', () => {
    expect(progressDetail(snapshot(5_001, 20_000))).toEqual([
      '  shop.orders: 5,000 of ~20,000 rows',
      '  shop.items: 1 row',
    ]);
  });

  it('details at most 20 tables being read and sums up the rest, so 10,000 tables make 21 lines, not 10,000 (issue 21)', () => {
    const many: SourceProgress = {
      ...snapshot(0),
      snapshotTables: Array.from({ length: 10_000 }, (_, i) => ({
        table: `shop.t${i}`,
        rowsRead: i < 25 ? 5 : 0,
        rowsEstimate: 10,
      })),
    };
    const lines = progressDetail(many);
    expect(lines).toHaveLength(21);
    expect(lines[0]).toBe('  shop.t0: 5 of ~10 rows');
    expect(lines[20]).toBe('  … 9,980 tables more: 5 more being read, 9,975 not started');
  });
});
