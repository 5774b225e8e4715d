import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import type { PipelineMetrics } from '../runtime/pipeline-metrics.js';
import type { ScaleOutView } from './dashboard-page.js';

/** Buckets of `tributary_checkpoint_duration_seconds`: a commit takes milliseconds to tens of seconds. */
const CHECKPOINT_BUCKETS = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60];

/**
 * A Prometheus registry over one pipeline's {@link PipelineMetrics}. Every figure is read from the metrics
 * registry when scraped (`collect`), so the pipeline's hot path never touches prom-client; only the checkpoint
 * histogram is fed as checkpoints commit (one observation per commit). Every series carries `pipeline`;
 * per-table series are capped as {@link PipelineMetrics} documents (`table="_other"` sums the rest).
 */
export function prometheusRegistry(metrics: PipelineMetrics, scaleOut?: ScaleOutView): Registry {
  const registry = new Registry();
  registry.setDefaultLabels({ pipeline: metrics.pipeline });
  collectDefaultMetrics({ register: registry, prefix: 'tributary_process_' });
  const registers = [registry];

  new Counter({
    name: 'tributary_source_rows_total',
    help: 'Change events (snapshot rows and binlog changes) read from the source, by source table.',
    labelNames: ['table'],
    registers,
    collect() {
      this.reset();
      for (const [table, n] of metrics.rowsIn.entries()) this.labels(table).inc(n);
    },
  });
  new Counter({
    name: 'tributary_sink_rows_total',
    help: 'Change events handed to the sink, by sink table (after transforms and routes).',
    labelNames: ['table'],
    registers,
    collect() {
      this.reset();
      for (const [table, n] of metrics.rowsOut.entries()) this.labels(table).inc(n);
    },
  });
  new Gauge({
    name: 'tributary_source_lag_seconds',
    help: 'How far the last change read lags behind the source server clock (0 when caught up).',
    registers,
    collect() {
      const p = metrics.progress();
      if (p) this.set(p.lagMs / 1000);
    },
  });
  new Gauge({
    name: 'tributary_source_lag_bytes',
    help: 'Bytes of binlog the source server wrote past the position read, when the source reports it.',
    registers,
    collect() {
      const bytes = metrics.progress()?.lagBytes;
      if (bytes !== undefined) this.set(bytes);
    },
  });
  new Gauge({
    name: 'tributary_snapshot_tables',
    help: 'Tables of the snapshot, by state (done, total).',
    labelNames: ['state'],
    registers,
    collect() {
      const p = metrics.progress();
      this.labels('done').set(p?.snapshotTablesDone ?? 0);
      this.labels('total').set(p?.snapshotTablesTotal ?? 0);
    },
  });
  new Gauge({
    name: 'tributary_snapshot_chunks',
    help: 'Snapshot chunks: read so far by this run (done), and estimated in all from table statistics (estimate).',
    labelNames: ['state'],
    registers,
    collect() {
      const s = metrics.status().snapshot;
      if (s.chunksDone !== null) this.labels('done').set(s.chunksDone);
      if (s.chunksEstimate !== null) this.labels('estimate').set(s.chunksEstimate);
    },
  });
  new Gauge({
    name: 'tributary_snapshot_rows',
    help: 'Snapshot rows per table still being read or read by this run: read, and estimated from table statistics.',
    labelNames: ['table', 'state'],
    registers,
    collect() {
      this.reset();
      for (const t of metrics.status().tables) {
        if (!t.snapshot) continue;
        this.labels(t.table, 'read').set(t.snapshot.rowsRead);
        if (t.snapshot.rowsEstimate !== null) this.labels(t.table, 'estimate').set(t.snapshot.rowsEstimate);
      }
    },
  });
  new Counter({
    name: 'tributary_checkpoints_total',
    help: 'Checkpoints committed (data and source position in one sink transaction).',
    registers,
    collect() {
      this.reset();
      this.inc(metrics.checkpoints);
    },
  });
  new Counter({
    name: 'tributary_checkpoint_failures_total',
    help: 'Attempts that failed while committing a checkpoint (retried from the last committed one).',
    registers,
    collect() {
      this.reset();
      this.inc(metrics.checkpointFailures);
    },
  });
  const histogram = new Histogram({
    name: 'tributary_checkpoint_duration_seconds',
    help: 'How long committing one checkpoint took.',
    buckets: CHECKPOINT_BUCKETS,
    registers,
  });
  metrics.checkpointObservers.push((seconds) => histogram.observe(seconds));
  new Gauge({
    name: 'tributary_checkpoint_last_size_events',
    help: 'Change events made durable by the last checkpoint.',
    registers,
    collect() {
      if (metrics.lastCheckpoint) this.set(metrics.lastCheckpoint.events);
    },
  });
  new Gauge({
    name: 'tributary_checkpoint_last_id',
    help: 'Id of the last checkpoint committed.',
    registers,
    collect() {
      if (metrics.lastCheckpoint) this.set(metrics.lastCheckpoint.id);
    },
  });
  new Gauge({
    name: 'tributary_checkpoint_age_seconds',
    help: 'Time since the last checkpoint committed (alert when it grows past a few checkpoint intervals).',
    registers,
    collect() {
      const last = metrics.lastCheckpoint?.at ?? metrics.startedAt;
      this.set((Date.now() - last.getTime()) / 1000);
    },
  });
  new Counter({
    name: 'tributary_schema_changes_total',
    help: 'Schema changes handed to the sink (columns added, types widened, …), by sink table.',
    labelNames: ['table'],
    registers,
    collect() {
      this.reset();
      for (const [table, n] of metrics.schemaChangesByTable.entries()) this.labels(table).inc(n);
    },
  });
  new Counter({
    name: 'tributary_errors_total',
    help: 'Failed attempts by error code (docs/errors.md); retryable ones are retried from the last checkpoint.',
    labelNames: ['code'],
    registers,
    collect() {
      this.reset();
      for (const [code, n] of metrics.errorsByCode) this.labels(code).inc(n);
    },
  });
  new Gauge({
    name: 'tributary_pipeline_state',
    help: 'The pipeline state: 1 for the current one (starting, running, retrying, stopping, stopped, finished, failed).',
    labelNames: ['state'],
    registers,
    collect() {
      for (const state of STATES) this.labels(state).set(metrics.state === state ? 1 : 0);
    },
  });
  new Gauge({
    name: 'tributary_watchdog_stalls',
    help: 'Attempts the watchdog restarted because neither a batch nor a checkpoint came for watchdog.timeout.',
    registers,
    collect() {
      const w = metrics.status().watchdog;
      if (w) this.set(w.stalls);
    },
  });
  if (scaleOut) scaleOutMetrics(scaleOut, registers);
  return registry;
}

/**
 * `tributary_scaleout_*`: the cluster view of a scale-out pipeline (its lease bucket, read in the background),
 * on the capture's and the apply workers' `/metrics`. Series per worker (live ones, and for a while those gone:
 * `worker_up` 0) and per partition (bounded by `partitions`).
 */
function scaleOutMetrics(scaleOut: ScaleOutView, registers: Registry[]): void {
  const view = () => scaleOut.current();
  new Gauge({
    name: 'tributary_scaleout_worker_up',
    help: 'Apply workers: 1 while its heartbeat is in the lease bucket, 0 for a while after it expired or was removed.',
    labelNames: ['worker'],
    registers,
    collect() {
      this.reset();
      for (const w of view()?.workers ?? []) this.labels(w.id).set(w.up ? 1 : 0);
    },
  });
  new Gauge({
    name: 'tributary_scaleout_worker_heartbeat_age_seconds',
    help: 'Seconds since an apply worker last wrote its heartbeat (by the JetStream server clock of the write).',
    labelNames: ['worker'],
    registers,
    collect() {
      this.reset();
      for (const w of view()?.workers ?? []) this.labels(w.id).set(w.heartbeatAgeSeconds);
    },
  });
  new Gauge({
    name: 'tributary_scaleout_worker_partitions',
    help: 'Partitions whose lease an apply worker holds.',
    labelNames: ['worker'],
    registers,
    collect() {
      this.reset();
      for (const w of view()?.workers ?? []) if (w.up) this.labels(w.id).set(w.partitions.length);
    },
  });
  new Counter({
    name: 'tributary_scaleout_worker_rows_applied_total',
    help: 'Change events an apply worker handed to the sink since it started, as it last reported.',
    labelNames: ['worker'],
    registers,
    collect() {
      this.reset();
      for (const w of view()?.workers ?? []) this.labels(w.id).inc(w.rowsApplied);
    },
  });
  new Gauge({
    name: 'tributary_scaleout_partition_position',
    help: 'Stream sequence of the last checkpoint message a partition reader handed to the sink, by partition and the worker holding it.',
    labelNames: ['partition', 'worker'],
    registers,
    collect() {
      this.reset();
      for (const p of view()?.partitions ?? [])
        if (p.worker !== null && p.position !== null) this.labels(String(p.partition), p.worker).set(p.position);
    },
  });
  new Gauge({
    name: 'tributary_scaleout_partition_lag_messages',
    help: "A partition's messages in the stream that its reader has not taken yet, by partition and the worker holding it.",
    labelNames: ['partition', 'worker'],
    registers,
    collect() {
      this.reset();
      for (const p of view()?.partitions ?? [])
        if (p.worker !== null && p.lagMessages !== null) this.labels(String(p.partition), p.worker).set(p.lagMessages);
    },
  });
  new Counter({
    name: 'tributary_scaleout_partition_rows_applied_total',
    help: 'Change events handed to the sink for a partition by the worker holding it, since it took the lease.',
    labelNames: ['partition', 'worker'],
    registers,
    collect() {
      this.reset();
      for (const p of view()?.partitions ?? [])
        if (p.worker !== null && p.rowsApplied !== null) this.labels(String(p.partition), p.worker).inc(p.rowsApplied);
    },
  });
  new Gauge({
    name: 'tributary_scaleout_partitions',
    help: 'Partitions of the stream, by state: leased (a live lease), unleased (no worker applies them).',
    labelNames: ['state'],
    registers,
    collect() {
      const v = view();
      if (!v) return;
      const leased = v.partitions.filter((p) => p.worker !== null).length;
      this.labels('leased').set(leased);
      this.labels('unleased').set(v.partitionCount - leased);
    },
  });
  new Gauge({
    name: 'tributary_scaleout_stream_last_sequence',
    help: 'The last sequence of the scale-out stream.',
    registers,
    collect() {
      const last = view()?.streamLastSeq;
      if (last !== undefined && last !== null) this.set(last);
    },
  });
  if (scaleOut.snapshotReaders === 'remote') snapshotReaderMetrics(scaleOut, registers);
}

/**
 * `tributary_scaleout_reader_*` and the snapshot work queue's depth, with `snapshot.readers: remote`: series per
 * snapshot reader (the live ones, and for 10 minutes those gone: `reader_up` 0).
 */
function snapshotReaderMetrics(scaleOut: ScaleOutView, registers: Registry[]): void {
  const readers = () => scaleOut.current()?.readers ?? [];
  new Gauge({
    name: 'tributary_scaleout_reader_up',
    help: 'Snapshot readers: 1 while its heartbeat is in the lease bucket, 0 for a while after it expired or was removed.',
    labelNames: ['reader'],
    registers,
    collect() {
      this.reset();
      for (const r of readers()) this.labels(r.id).set(r.up ? 1 : 0);
    },
  });
  new Gauge({
    name: 'tributary_scaleout_reader_heartbeat_age_seconds',
    help: 'Seconds since a snapshot reader last wrote its heartbeat (by the JetStream server clock of the write).',
    labelNames: ['reader'],
    registers,
    collect() {
      this.reset();
      for (const r of readers()) this.labels(r.id).set(r.heartbeatAgeSeconds);
    },
  });
  new Counter({
    name: 'tributary_scaleout_reader_chunks_read_total',
    help: 'Snapshot chunks a reader read and reported to the capture since it started, as it last reported.',
    labelNames: ['reader'],
    registers,
    collect() {
      this.reset();
      for (const r of readers()) this.labels(r.id).inc(r.chunksRead);
    },
  });
  new Counter({
    name: 'tributary_scaleout_reader_rows_read_total',
    help: 'Rows of the snapshot chunks a reader read since it started, as it last reported.',
    labelNames: ['reader'],
    registers,
    collect() {
      this.reset();
      for (const r of readers()) this.labels(r.id).inc(r.rowsRead);
    },
  });
  new Gauge({
    name: 'tributary_scaleout_reader_chunk_delivery',
    help: 'Delivery count of the chunk a snapshot reader holds (above 1: a reader before did not report it); no series while it holds none.',
    labelNames: ['reader'],
    registers,
    collect() {
      this.reset();
      for (const r of readers()) if (r.chunk !== null) this.labels(r.id).set(r.chunk.delivery);
    },
  });
  new Gauge({
    name: 'tributary_scaleout_snapshot_queue_chunks',
    help: 'Snapshot chunks in the work queue, by state: waiting (no reader took them yet), in_flight (a reader holds them).',
    labelNames: ['state'],
    registers,
    collect() {
      this.reset();
      const q = scaleOut.current()?.snapshotQueue;
      if (!q) return;
      this.labels('waiting').set(q.waiting);
      this.labels('in_flight').set(q.inFlight);
    },
  });
}

const STATES = ['starting', 'running', 'retrying', 'stopping', 'stopped', 'finished', 'failed'] as const;
