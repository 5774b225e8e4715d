import { describe, expect, it } from 'vitest';
import { binlogBytesAfter } from '../../src/connectors/mysql/mysql-binlog-lag.js';

describe('binlog bytes after a position (issue 14)', () => {
  const files = [
    { name: 'mysql-bin.000001', size: 1000 },
    { name: 'mysql-bin.000002', size: 5000 },
    { name: 'mysql-bin.000003', size: 300 },
  ];

  it('sums the rest of the position file and every later file', () => {
    expect(binlogBytesAfter(files, { file: 'mysql-bin.000002', pos: 4000 })).toBe(1000 + 300);
    expect(binlogBytesAfter(files, { file: 'mysql-bin.000001', pos: 4 })).toBe(996 + 5000 + 300);
  });

  it('is 0 at (or, after a stale listing, past) the end, undefined for a file not listed', () => {
    expect(binlogBytesAfter(files, { file: 'mysql-bin.000003', pos: 300 })).toBe(0);
    expect(binlogBytesAfter(files, { file: 'mysql-bin.000003', pos: 900 })).toBe(0);
    expect(binlogBytesAfter(files, { file: 'mysql-bin.000009', pos: 4 })).toBeUndefined();
  });
});
