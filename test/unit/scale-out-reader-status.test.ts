import { describe, expect, it } from 'vitest';
import { describeScaleOut } from '../../src/cli/status-command.js';
import { PipelineMetrics } from '../../src/runtime/pipeline-metrics.js';
import { clusterStatus } from '../../src/scale-out/cluster-status.js';
import { decodeReaderReport, encodeReaderReport, type ReaderReport } from '../../src/scale-out/reader-report.js';
import { dashboardSections } from '../../src/ui/dashboard-page.js';
import { prometheusRegistry } from '../../src/ui/prometheus-exporter.js';

const reader = (rowsRead: number, chunk: ReaderReport['chunk']): ReaderReport => ({
  v: 1,
  host: 'h2',
  pid: 7,
  startedAt: '2026-01-01T00:00:00.000Z',
  chunksRead: rowsRead / 500,
  rowsRead,
  rowsPerSecond: 480,
  chunk,
});

/** A cluster with one reader up holding a redelivered chunk, and one gone. */
const view = clusterStatus({
  stream: 's',
  partitionCount: 1,
  leaseTtlMs: 10_000,
  streamLastSeq: 5,
  heartbeats: new Map(),
  gone: new Map(),
  leases: new Map(),
  now: 4_000,
  snapshotReaders: 'remote',
  readers: new Map([
    ['r2', { value: encodeReaderReport(reader(1500, { id: 'ab12.7', delivery: 2, since: 'x' })), writtenAt: 3_000 }],
  ]),
  goneReaders: new Map([
    ['r1', { value: encodeReaderReport(reader(1000, { id: 'ab12.5', delivery: 1, since: 'x' })), writtenAt: 0 }],
  ]),
  snapshotQueue: { waiting: 3, inFlight: 1, redelivered: 1 },
});

describe('snapshot readers in the scale-out cluster view', () => {
  it('reads a reader heartbeat back, bounded, and refuses what is not one', () => {
    const long = reader(500, { id: 'x'.repeat(500), delivery: 1, since: '2026-01-01T00:00:01.000Z' });
    const text = encodeReaderReport(long);
    expect(text.length).toBeLessThan(400);
    expect(decodeReaderReport(text)).toEqual({ ...long, chunk: { ...long.chunk!, id: 'x'.repeat(64) } });
    expect(decodeReaderReport('1733300000000')).toBeUndefined();
    expect(decodeReaderReport('{"v":1}')).toMatchObject({ rowsRead: 0, chunk: null });
  });

  it('lists live readers first with the chunk in hand, then gone ones as down with no chunk and no rate', () => {
    expect(view.readers.map((r) => [r.id, r.up, r.rowsRead, r.rowsPerSecond, r.chunk?.id ?? null])).toEqual([
      ['r2', true, 1500, 480, 'ab12.7'],
      ['r1', false, 1000, 0, null],
    ]);
    expect(view.readers[0]!.heartbeatAgeSeconds).toBe(1);
    // A view without readers (an older caller, local readers) has none and no queue.
    const none = clusterStatus({
      stream: 's',
      partitionCount: 1,
      leaseTtlMs: 10_000,
      streamLastSeq: null,
      heartbeats: new Map(),
      gone: new Map(),
      leases: new Map(),
      now: 0,
    });
    expect(none).toMatchObject({ snapshotReaders: 'local', readers: [], snapshotQueue: null });
  });

  it('shows them on the page, in /metrics and in `tributary status` only with remote readers', async () => {
    const html = dashboardSections(new PipelineMetrics('p').status(), [], {
      current: () => view,
      snapshotReaders: 'remote',
    }).readers!;
    expect(html).toContain('<tr data-reader="r2" data-up="true">');
    expect(html).toContain('<tr data-reader="r1" data-up="false">');
    expect(html).toContain('3 chunks waiting, 1 in flight (1 redelivered)');
    expect(html).toContain('(delivery 2)');
    expect(
      dashboardSections(new PipelineMetrics('p').status(), [], { current: () => view, snapshotReaders: 'local' })
        .readers,
    ).toBeUndefined();

    const text = await prometheusRegistry(new PipelineMetrics('p'), {
      current: () => view,
      snapshotReaders: 'remote',
    }).metrics();
    expect(text).toContain('tributary_scaleout_reader_up{reader="r2",pipeline="p"} 1');
    expect(text).toContain('tributary_scaleout_reader_up{reader="r1",pipeline="p"} 0');
    expect(text).toContain('tributary_scaleout_reader_rows_read_total{reader="r2",pipeline="p"} 1500');
    expect(text).toContain('tributary_scaleout_reader_chunk_delivery{reader="r2",pipeline="p"} 2');
    expect(text).toContain('tributary_scaleout_snapshot_queue_chunks{state="waiting",pipeline="p"} 3');
    const local = await prometheusRegistry(new PipelineMetrics('p'), { current: () => view }).metrics();
    expect(local).not.toContain('tributary_scaleout_reader_up');

    const lines = describeScaleOut(view).join('\n');
    expect(lines).toContain(
      'snapshot readers: 1 reader up; work queue s_chunks: 3 waiting, 1 in flight (1 redelivered)',
    );
    expect(lines).toMatch(/r2 +\| up/);
    expect(lines).toMatch(/r1 +\| down/);
  });
});
