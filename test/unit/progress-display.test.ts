import { describe, expect, it } from 'vitest';
import { LiveRegion } from '../../src/cli/live-region.js';
import { DISPLAY_TABLES, displaySample, progressDisplay } from '../../src/cli/progress-line.js';
import type { SourceProgress } from '../../src/core/index.js';

const snapshot = (orders: number, items: number): SourceProgress => ({
  phase: 'snapshot',
  snapshotTablesDone: 1,
  snapshotTablesTotal: 4,
  snapshotRowsRead: 5_000 + orders + items,
  snapshotRowsEstimate: 5_000 + 100_000 + 2_000,
  snapshotChunkSize: 8_000,
  snapshotTables: [
    { table: 'shop.orders', rowsRead: orders, rowsEstimate: 100_000 },
    { table: 'shop.items', rowsRead: items, rowsEstimate: undefined },
    { table: 'shop.refunds', rowsRead: 0, rowsEstimate: 10 },
  ],
  logPosition: 'mysql-bin.000001:4',
  lagMs: 0,
});

describe("run's live progress display on a terminal (issue 14)", () => {
  const totals = { events: 1_500, checkpoints: 3 };

  it('draws a header, a bar per table being read (percent, chunks, rows, ETA at its own rate) and a footer', () => {
    const before = displaySample(snapshot(20_000, 100), 0, { events: 0, checkpoints: 0 });
    expect(progressDisplay(snapshot(40_000, 300), before, 10_000, totals, 200)).toEqual([
      'snapshot: 1 of 4 tables done · 45,300 of ~107,000 rows (42 %) · 2,020 rows/s · ETA 31 s',
      '  shop.orders  ████████░░░░░░░░░░░░ 40 %  chunk ~5 of ~13  40,000 of ~100,000 rows  ETA 30 s',
      '  shop.items   300 rows',
      '  … 1 table more: 1 not started',
      'binlog mysql-bin.000001:4 · lag 0 s · 1500 changes committed in 3 checkpoints',
    ]);
  });

  it('has no rate on its first frame, stops at 99 %, and bars at most DISPLAY_TABLES tables', () => {
    const many: SourceProgress = {
      ...snapshot(150_000, 1),
      snapshotTables: Array.from({ length: DISPLAY_TABLES + 3 }, (_, i) => ({
        table: `db.t${i}`,
        rowsRead: 10,
        rowsEstimate: 5,
      })),
    };
    const lines = progressDisplay(many, undefined, 0, totals, 200);
    expect(lines[0]).not.toContain('rows/s');
    expect(lines.filter((l) => l.startsWith('  db.') && l.includes('99 %'))).toHaveLength(DISPLAY_TABLES);
    expect(lines).toContain('  … 3 tables more: 3 being read');
  });

  it('is one status line while streaming, with lag in bytes and changes per second; cut to the width', () => {
    const streaming: SourceProgress = { ...snapshot(0, 0), phase: 'streaming', lagMs: 1_200, lagBytes: 4_096 };
    const before = displaySample(streaming, 0, { events: 1_000, checkpoints: 2 });
    expect(progressDisplay(streaming, before, 5_000, totals, 200)).toEqual([
      'streaming: binlog mysql-bin.000001:4 · lag 1 s (4,096 bytes) · 100 changes/s · 1500 changes committed in 3 checkpoints',
    ]);
    const [narrow] = progressDisplay(streaming, before, 5_000, totals, 40);
    expect(narrow).toHaveLength(40);
    expect(narrow!.endsWith('…')).toBe(true);
  });

  it('redraws in place: erases its lines before the next frame and writes log lines above itself', () => {
    let out = '';
    const region = new LiveRegion({ write: (text: string) => (out += text), columns: 100 });
    region.draw(['a', 'b']);
    region.log('log line');
    region.draw(['c']);
    region.stop();
    region.log('after');
    expect(out).toBe(
      '\r\x1b[0Ja\nb\n' + // first frame
        '\r\x1b[2A\x1b[0Jlog line\na\nb\n' + // up over 2 lines, clear, the log line, the frame again
        '\r\x1b[2A\x1b[0Jc\n' + // the next frame replaces both lines
        '\r\x1b[1A\x1b[0J' + // stop erases the frame
        'after\n',
    );
  });
});
