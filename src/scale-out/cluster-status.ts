import { heartbeatFields, readerViews, type ScaleOutReader, type SnapshotQueueDepth } from './reader-report.js';

/**
 * What an apply worker publishes about itself with each heartbeat (the value of `worker.<id>` in the lease
 * bucket), and the cluster view built from the bucket — types and pure functions only, so the dashboard and
 * the exporter (`src/ui`) can use them without reaching NATS.
 */

/** At most this many partitions are listed in one worker's report (a worker holds its fair share anyway). */
export const MAX_REPORTED_PARTITIONS = 256;

/** One partition as the worker applying it reports it. */
export interface PartitionReport {
  readonly partition: number;
  /** Stream sequence of the last checkpoint message read and handed to the sink (committed with the next checkpoint). */
  readonly position: number | null;
  /** The partition's messages in the stream past what its reader took (null until its consumer answered). */
  readonly lagMessages: number | null;
  /** Change events handed to the sink by this worker for the partition (since it took the lease). */
  readonly rowsApplied: number;
  /** The partition pipeline's state: starting, running, retrying, … */
  readonly state: string;
}

/** The value of `worker.<id>`: small and bounded (a few dozen bytes per partition). */
export interface WorkerReport {
  readonly v: 1;
  readonly host: string;
  readonly pid: number;
  readonly startedAt: string;
  /** Change events handed to the sink by this worker since it started, all partitions. */
  readonly rowsApplied: number;
  /** Of those, per second since its previous heartbeat. */
  readonly rowsPerSecond: number;
  readonly partitions: readonly PartitionReport[];
}

export function encodeWorkerReport(report: WorkerReport): string {
  return JSON.stringify({ ...report, partitions: report.partitions.slice(0, MAX_REPORTED_PARTITIONS) });
}

/** A heartbeat value as a report; undefined for anything else (an older worker wrote a bare timestamp). */
export function decodeWorkerReport(text: string): WorkerReport | undefined {
  const r = heartbeatFields(text) as Partial<WorkerReport> | undefined;
  if (r === undefined) return undefined;
  const num = (n: unknown, fallback: number) => (typeof n === 'number' && Number.isFinite(n) ? n : fallback);
  const orNull = (n: unknown) => (typeof n === 'number' && Number.isFinite(n) ? n : null);
  return {
    v: 1,
    host: typeof r.host === 'string' ? r.host : '',
    pid: num(r.pid, 0),
    startedAt: typeof r.startedAt === 'string' ? r.startedAt : '',
    rowsApplied: num(r.rowsApplied, 0),
    rowsPerSecond: num(r.rowsPerSecond, 0),
    partitions: (Array.isArray(r.partitions) ? (r.partitions as unknown[]) : [])
      .slice(0, MAX_REPORTED_PARTITIONS)
      .filter(
        (p): p is PartitionReport =>
          typeof p === 'object' && p !== null && typeof (p as { partition?: unknown }).partition === 'number',
      )
      .map((p) => ({
        partition: p.partition,
        position: orNull(p.position),
        lagMessages: orNull(p.lagMessages),
        rowsApplied: num(p.rowsApplied, 0),
        state: typeof p.state === 'string' ? p.state : '',
      })),
  };
}

/** One worker in the cluster view. */
export interface ScaleOutWorker {
  readonly id: string;
  /** Its heartbeat is live; false for a worker seen before whose heartbeat expired or was removed. */
  readonly up: boolean;
  readonly host: string;
  readonly pid: number;
  /** Seconds since its last heartbeat was written (the JetStream server's timestamp). */
  readonly heartbeatAgeSeconds: number;
  /** Partitions whose lease it holds. */
  readonly partitions: readonly number[];
  readonly rowsApplied: number;
  readonly rowsPerSecond: number;
}

/** One partition in the cluster view: who holds its lease, and what that worker reported about it. */
export interface ScaleOutPartition {
  readonly partition: number;
  readonly worker: string | null;
  readonly position: number | null;
  readonly lagMessages: number | null;
  readonly rowsApplied: number | null;
}

/** The cluster view of a scale-out pipeline, from its lease bucket and stream. */
export interface ScaleOutStatus {
  readonly stream: string;
  readonly partitionCount: number;
  readonly leaseTtlMs: number;
  /** When it was read (ISO). */
  readonly at: string;
  /** The stream's last sequence (null when unknown). */
  readonly streamLastSeq: number | null;
  /** Live workers first (by id), then those seen before and gone. */
  readonly workers: readonly ScaleOutWorker[];
  readonly partitions: readonly ScaleOutPartition[];
  /** Who reads the snapshot chunks (`scale-out.snapshot.readers`). */
  readonly snapshotReaders: 'local' | 'remote';
  /** Snapshot readers (`reader.<id>` heartbeats): live ones first (by id), then those seen before and gone. */
  readonly readers: readonly ScaleOutReader[];
  /** The snapshot work queue's depth; null with local readers, or before the capture created the queue. */
  readonly snapshotQueue: SnapshotQueueDepth | null;
  /** The last read failed: why (the figures are from the read before). */
  readonly error: string | null;
}

/** A live `worker.<id>` or `reader.<id>` entry as read from the bucket. */
export interface HeartbeatEntry {
  readonly value: string;
  /** Server time of the write (ms). */
  readonly writtenAt: number;
}

/**
 * The cluster view from the bucket's live entries: `heartbeats` (worker id → entry), `leases` (partition →
 * worker id), and `gone` (workers seen before whose heartbeat is no longer there, with their last entry);
 * `readers` and `goneReaders` likewise for snapshot readers.
 */
export function clusterStatus(input: {
  readonly stream: string;
  readonly partitionCount: number;
  readonly leaseTtlMs: number;
  readonly streamLastSeq: number | null;
  readonly heartbeats: ReadonlyMap<string, HeartbeatEntry>;
  readonly gone: ReadonlyMap<string, HeartbeatEntry>;
  readonly leases: ReadonlyMap<number, string>;
  readonly now: number;
  readonly snapshotReaders?: 'local' | 'remote';
  readonly readers?: ReadonlyMap<string, HeartbeatEntry>;
  readonly goneReaders?: ReadonlyMap<string, HeartbeatEntry>;
  readonly snapshotQueue?: SnapshotQueueDepth | null;
  readonly error?: string | null;
}): ScaleOutStatus {
  const held = new Map<string, number[]>();
  for (const [partition, worker] of [...input.leases].sort(([a], [b]) => a - b)) {
    held.set(worker, [...(held.get(worker) ?? []), partition]);
  }
  const reports = new Map<string, WorkerReport | undefined>();
  const worker = (id: string, entry: HeartbeatEntry, up: boolean): ScaleOutWorker => {
    const report = decodeWorkerReport(entry.value);
    reports.set(id, report);
    return {
      id,
      up,
      host: report?.host ?? '',
      pid: report?.pid ?? 0,
      heartbeatAgeSeconds: Math.max(0, (input.now - entry.writtenAt) / 1000),
      partitions: up ? (held.get(id) ?? []) : [],
      rowsApplied: report?.rowsApplied ?? 0,
      rowsPerSecond: up ? (report?.rowsPerSecond ?? 0) : 0,
    };
  };
  const byId = (a: [string, HeartbeatEntry], b: [string, HeartbeatEntry]) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0);
  const workers = [
    ...[...input.heartbeats].sort(byId).map(([id, e]) => worker(id, e, true)),
    ...[...input.gone]
      .filter(([id]) => !input.heartbeats.has(id))
      .sort(byId)
      .map(([id, e]) => worker(id, e, false)),
  ];
  const partitions: ScaleOutPartition[] = [];
  for (let partition = 0; partition < input.partitionCount; partition++) {
    const holder = input.leases.get(partition) ?? null;
    const reported =
      holder === null ? undefined : reports.get(holder)?.partitions.find((p) => p.partition === partition);
    partitions.push({
      partition,
      worker: holder,
      position: reported?.position ?? null,
      lagMessages: reported?.lagMessages ?? null,
      rowsApplied: reported?.rowsApplied ?? null,
    });
  }
  return {
    stream: input.stream,
    partitionCount: input.partitionCount,
    leaseTtlMs: input.leaseTtlMs,
    at: new Date(input.now).toISOString(),
    streamLastSeq: input.streamLastSeq,
    workers,
    partitions,
    snapshotReaders: input.snapshotReaders ?? 'local',
    readers: readerViews(input.readers ?? new Map(), input.goneReaders ?? new Map(), input.now),
    snapshotQueue: input.snapshotQueue ?? null,
    error: input.error ?? null,
  };
}
