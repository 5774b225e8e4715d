import { randomUUID } from 'node:crypto';
import type { NatsConnection } from 'nats';
import type { PipelineDef } from '../config/pipeline-def.js';
import { natsConnect } from '../connectors/nats/nats-connection.js';
import { classifyNatsError } from '../connectors/nats/nats-errors.js';
import type { Logger } from '../runtime/logger.js';
import { clusterStatus, type HeartbeatEntry, type ScaleOutStatus } from './cluster-status.js';
import { PartitionLeases } from './partition-leases.js';
import type { SnapshotQueueDepth } from './reader-report.js';
import { scaleOutSettings, type ScaleOutSettings } from './scale-out-roles.js';
import { snapshotQueueNames } from './snapshot-queue.js';

/** Workers and readers whose heartbeat went are shown as down for this long, then forgotten. */
const GONE_KEPT_MS = 10 * 60_000;
/** At most this many gone workers (and as many gone readers) are remembered (the oldest forgotten first). */
const GONE_KEPT_MAX = 32;

/** The cluster view of a scale-out pipeline, kept fresh in the background for a dashboard and `/metrics`. */
export interface ScaleOutMonitor {
  /** The last view read (undefined before the first read answered). */
  current(): ScaleOutStatus | undefined;
  /** `scale-out.snapshot.readers`: whether the view has snapshot readers to show. */
  readonly snapshotReaders: 'local' | 'remote';
  close(): Promise<void>;
}

/**
 * Reads the lease bucket (workers' and snapshot readers' heartbeats with their reports, partition leases), the
 * stream's last sequence and, with remote snapshot readers, the depth of the snapshot work queue every
 * `intervalMs` (default a fifth of the lease TTL, at least 1 s), on a connection of its own (made again when it
 * closed after NATS was gone for long). It never writes the bucket and never throws: read
 * errors are logged at debug level and shown in the view's `error`, the figures staying those of the last good
 * read. Its timer never keeps the process alive.
 */
export function startScaleOutMonitor(
  def: PipelineDef,
  options: { readonly log: Logger; readonly intervalMs?: number },
): ScaleOutMonitor {
  const settings = scaleOutSettings(def);
  const reader = new ClusterReader(settings, () =>
    natsConnect(settings.connection, 'source', options.log, `tributary ${def.pipeline.name} status`),
  );
  const intervalMs = options.intervalMs ?? Math.max(1000, Math.floor(settings.leaseTtlMs / 5));
  let view: ScaleOutStatus | undefined;
  let reading: Promise<void> | undefined;
  const refresh = () =>
    (reading ??= (async () => {
      try {
        view = await reader.read();
      } catch (error) {
        const message = classifyNatsError(error, 'source', 'reading the scale-out lease bucket').format();
        options.log.debug(message);
        if (view) view = { ...view, error: message };
      } finally {
        reading = undefined;
      }
    })());
  void refresh();
  const timer = setInterval(() => void refresh(), intervalMs);
  timer.unref();
  return {
    current: () => view,
    snapshotReaders: settings.snapshotReaders,
    async close() {
      clearInterval(timer);
      await reading;
      await reader.close();
    },
  };
}

/** Reads the cluster view once (`tributary status`). */
export async function readScaleOutStatus(def: PipelineDef, log: Logger): Promise<ScaleOutStatus> {
  const settings = scaleOutSettings(def);
  const reader = new ClusterReader(settings, () =>
    natsConnect(settings.connection, 'source', log, `tributary ${def.pipeline.name} status`),
  );
  try {
    return await reader.read();
  } catch (error) {
    throw classifyNatsError(error, 'source', 'reading the scale-out lease bucket');
  } finally {
    await reader.close();
  }
}

/** One read of the bucket and the stream; remembers workers and readers that went, to show them down for a while. */
class ClusterReader {
  private nc: NatsConnection | undefined;
  private leases: PartitionLeases | undefined;
  private readonly workers = new GoneTracker();
  private readonly readers = new GoneTracker();

  constructor(
    private readonly settings: ScaleOutSettings,
    private readonly connect: () => Promise<NatsConnection>,
  ) {}

  async read(): Promise<ScaleOutStatus> {
    const settings = this.settings;
    if (!this.nc || this.nc.isClosed()) {
      this.leases = undefined;
      this.nc = await this.connect();
    }
    const nc = this.nc;
    // A reader id that is never written: only the bucket's entries are read.
    this.leases ??= await PartitionLeases.open(nc, settings.leaseBucket, {
      workerId: `status-${randomUUID().slice(0, 8)}`,
      ttlMs: settings.leaseTtlMs,
      replicas: settings.replicas,
    });
    const heartbeats = await this.leases.heartbeats('worker');
    const readers = await this.leases.heartbeats('reader');
    const leases = await this.leases.leased();
    const jsm = await nc.jetstreamManager();
    const streamLastSeq = await jsm.streams.info(settings.stream).then(
      (info) => info.state.last_seq,
      () => null,
    );
    const snapshotQueue = settings.snapshotReaders === 'remote' ? await queueDepth(nc, settings.stream) : null;
    const now = Date.now();
    return clusterStatus({
      stream: settings.stream,
      partitionCount: settings.partitions,
      leaseTtlMs: settings.leaseTtlMs,
      streamLastSeq,
      heartbeats,
      gone: this.workers.update(heartbeats, now),
      leases,
      now,
      snapshotReaders: settings.snapshotReaders,
      readers,
      goneReaders: this.readers.update(readers, now),
      snapshotQueue,
    });
  }

  async close(): Promise<void> {
    await this.nc?.close().catch(() => undefined);
    this.nc = undefined;
  }
}

/** Heartbeats seen before and no longer live, kept {@link GONE_KEPT_MS} (at most {@link GONE_KEPT_MAX}). */
class GoneTracker {
  private readonly gone = new Map<string, HeartbeatEntry & { goneAt: number }>();
  private previous: ReadonlyMap<string, HeartbeatEntry> = new Map();

  /** Takes the live heartbeats of this read; returns those gone. */
  update(live: ReadonlyMap<string, HeartbeatEntry>, now: number): ReadonlyMap<string, HeartbeatEntry> {
    for (const [id, entry] of this.previous) if (!live.has(id)) this.gone.set(id, { ...entry, goneAt: now });
    for (const id of live.keys()) this.gone.delete(id);
    for (const [id, entry] of this.gone) if (now - entry.goneAt > GONE_KEPT_MS) this.gone.delete(id);
    while (this.gone.size > GONE_KEPT_MAX) this.gone.delete(this.gone.keys().next().value!);
    this.previous = live;
    return this.gone;
  }
}

/**
 * The work queue's depth from its readers' consumer (one consumer-info request): items not yet delivered, and
 * delivered but not acknowledged. Null when the capture has not created the queue yet.
 */
async function queueDepth(nc: NatsConnection, stream: string): Promise<SnapshotQueueDepth | null> {
  const names = snapshotQueueNames(stream);
  const jsm = await nc.jetstreamManager();
  return await jsm.consumers.info(names.items, names.readers).then(
    (info) => ({ waiting: info.num_pending, inFlight: info.num_ack_pending, redelivered: info.num_redelivered }),
    () => null,
  );
}
