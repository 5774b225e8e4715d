import { describe, expect, it } from 'vitest';
import { clusterStatus, decodeWorkerReport, encodeWorkerReport } from '../../src/scale-out/cluster-status.js';

const report = (partitions: number[]) =>
  encodeWorkerReport({
    v: 1,
    host: 'h1',
    pid: 42,
    startedAt: '2026-01-01T00:00:00.000Z',
    rowsApplied: 100,
    rowsPerSecond: 5,
    partitions: partitions.map((partition) => ({
      partition,
      position: 10 + partition,
      lagMessages: partition,
      rowsApplied: 50,
      state: 'running',
    })),
  });

describe('scale-out cluster view', () => {
  it('puts each partition with the worker holding its lease and that worker’s position and lag', () => {
    const s = clusterStatus({
      stream: 's',
      partitionCount: 3,
      leaseTtlMs: 10_000,
      streamLastSeq: 99,
      heartbeats: new Map([['w1', { value: report([0, 1]), writtenAt: 1_000 }]]),
      gone: new Map([['w0', { value: report([2]), writtenAt: 0 }]]),
      leases: new Map([
        [0, 'w1'],
        [1, 'w1'],
      ]),
      now: 3_000,
    });
    expect(s.workers.map((w) => [w.id, w.up, w.partitions, w.heartbeatAgeSeconds])).toEqual([
      ['w1', true, [0, 1], 2],
      ['w0', false, [], 3],
    ]);
    expect(s.partitions).toEqual([
      { partition: 0, worker: 'w1', position: 10, lagMessages: 0, rowsApplied: 50 },
      { partition: 1, worker: 'w1', position: 11, lagMessages: 1, rowsApplied: 50 },
      { partition: 2, worker: null, position: null, lagMessages: null, rowsApplied: null },
    ]);
  });

  it('shows a worker of an older release (a bare timestamp as heartbeat) without figures', () => {
    expect(decodeWorkerReport(String(Date.now()))).toBeUndefined();
    const s = clusterStatus({
      stream: 's',
      partitionCount: 1,
      leaseTtlMs: 10_000,
      streamLastSeq: null,
      heartbeats: new Map([['old', { value: '1733300000000', writtenAt: 0 }]]),
      gone: new Map(),
      leases: new Map([[0, 'old']]),
      now: 0,
    });
    expect(s.workers[0]).toMatchObject({ id: 'old', up: true, partitions: [0], rowsApplied: 0 });
    expect(s.partitions[0]).toMatchObject({ worker: 'old', position: null, lagMessages: null });
  });
});
