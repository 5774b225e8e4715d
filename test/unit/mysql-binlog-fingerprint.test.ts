import { describe, expect, it } from 'vitest';
import { FingerprintRing } from '../../src/connectors/mysql/mysql-binlog-fingerprint.js';
import type { BinlogEventHeader } from '../../src/connectors/mysql/protocol/binlog-event.js';

function event(end: number, size: number, checksum: number, extra: Partial<BinlogEventHeader> = {}): BinlogEventHeader {
  return { timestamp: 1_700_000_000, type: 2, serverId: 1, eventSize: size, logPos: end, flags: 0, checksum, ...extra };
}

describe('binlog fingerprint', () => {
  it('keeps the last 8 contiguous events ending at the newest one', () => {
    const ring = new FingerprintRing(undefined);
    let end = 256;
    for (let i = 0; i < 12; i++) ring.add(event((end += 100), 100, i));
    const print = ring.current()!;
    expect(print).toHaveLength(8);
    expect(print[7]).toEqual([end, 100, 11]);
    expect(print[0]).toEqual([end - 700, 100, 4]);
  });

  it('starts over after a gap, and leaves out events the server makes up for the stream', () => {
    const ring = new FingerprintRing(undefined);
    ring.add(event(356, 100, 1));
    ring.add(event(0, 40, 2)); // artificial: no position
    ring.add(event(456, 100, 3, { flags: 0x20 })); // artificial flag
    ring.add(event(456, 100, 4, { type: 27 })); // heartbeat
    expect(ring.current()).toEqual([[356, 100, 1]]);
    ring.add(event(900, 100, 5)); // starts at 800, not 356: an event was not sent
    expect(ring.current()).toEqual([[900, 100, 5]]);
  });

  it('keeps at most 256 KiB but always the newest event, and the timestamp stands in for a missing checksum', () => {
    const ring = new FingerprintRing([[1000, 996, 7]]);
    ring.add(event(1000 + 200_000, 200_000, 8));
    ring.add(event(1000 + 400_000, 200_000, 9));
    expect(ring.current()).toEqual([[401_000, 200_000, 9]]);
    ring.add({ ...event(401_100, 100, 0), checksum: undefined });
    expect(ring.current()![1]).toEqual([401_100, 100, 1_700_000_000]);
  });
});
