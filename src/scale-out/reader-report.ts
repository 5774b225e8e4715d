/**
 * What a snapshot reader publishes about itself with each heartbeat (the value of `reader.<id>` in the lease
 * bucket), and the readers in the cluster view — types and pure functions only, like cluster-status.ts.
 */

/** The chunk a reader holds: taken from the work queue, not yet acknowledged. */
export interface ChunkInHand {
  /** The work item's id (`<capture run>.<n>`). */
  readonly id: string;
  /** JetStream's delivery count of the item: above 1 when a reader before did not report it. */
  readonly delivery: number;
  /** When this reader took it (ISO). */
  readonly since: string;
}

/** The value of `reader.<id>`: a fixed set of fields, under 400 bytes. */
export interface ReaderReport {
  readonly v: 1;
  readonly host: string;
  readonly pid: number;
  readonly startedAt: string;
  /** Chunks this reader read and reported to the capture since it started. */
  readonly chunksRead: number;
  /** Rows of those chunks. */
  readonly rowsRead: number;
  /** Of those, per second since its previous heartbeat. */
  readonly rowsPerSecond: number;
  readonly chunk: ChunkInHand | null;
}

/** Longer item ids and host names are cut: the report stays bounded whatever they are. */
const MAX_TEXT_LENGTH = 64;

export function encodeReaderReport(report: ReaderReport): string {
  const { chunk } = report;
  return JSON.stringify({
    ...report,
    host: report.host.slice(0, MAX_TEXT_LENGTH),
    chunk: chunk === null ? null : { ...chunk, id: chunk.id.slice(0, MAX_TEXT_LENGTH) },
  });
}

/**
 * A heartbeat value's fields when it is a report of version 1 (a JSON object with `v: 1`); undefined for anything
 * else. The decoders of each kind (a worker's, cluster-status.ts; a reader's, here) check every field themselves.
 */
export function heartbeatFields(text: string): Record<string, unknown> | undefined {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    return undefined;
  }
  if (typeof value !== 'object' || value === null || (value as { v?: unknown }).v !== 1) return undefined;
  return value as Record<string, unknown>;
}

/** A heartbeat value as a reader report; undefined for anything else. */
export function decodeReaderReport(text: string): ReaderReport | undefined {
  const r = heartbeatFields(text) as Partial<Record<keyof ReaderReport, unknown>> | undefined;
  if (r === undefined) return undefined;
  const num = (n: unknown) => (typeof n === 'number' && Number.isFinite(n) ? n : 0);
  const str = (s: unknown) => (typeof s === 'string' ? s.slice(0, MAX_TEXT_LENGTH) : '');
  const chunk = typeof r.chunk === 'object' && r.chunk !== null ? (r.chunk as Record<string, unknown>) : undefined;
  return {
    v: 1,
    host: str(r.host),
    pid: num(r.pid),
    startedAt: str(r.startedAt),
    chunksRead: num(r.chunksRead),
    rowsRead: num(r.rowsRead),
    rowsPerSecond: num(r.rowsPerSecond),
    chunk:
      chunk === undefined
        ? null
        : { id: str(chunk['id']), delivery: num(chunk['delivery']), since: str(chunk['since']) },
  };
}

/** One snapshot reader in the cluster view. */
export interface ScaleOutReader {
  readonly id: string;
  /** Its heartbeat is live; false for a reader seen before whose heartbeat expired or was removed. */
  readonly up: boolean;
  readonly host: string;
  readonly pid: number;
  readonly startedAt: string;
  /** Seconds since its last heartbeat was written (the JetStream server's timestamp). */
  readonly heartbeatAgeSeconds: number;
  readonly chunksRead: number;
  readonly rowsRead: number;
  readonly rowsPerSecond: number;
  /** The chunk it holds (null when it waits for one, and for a reader that is down). */
  readonly chunk: ChunkInHand | null;
}

/**
 * The snapshot work queue `<stream>_chunks` as its consumer `readers` counts it: items the capture handed out
 * that no reader took yet, and items a reader holds (taken, not yet acknowledged).
 */
export interface SnapshotQueueDepth {
  readonly waiting: number;
  readonly inFlight: number;
  /** Of the items held, those delivered more than once (a reader before died or failed with them). */
  readonly redelivered: number;
}

/** A live or remembered heartbeat entry: its value and the server's time of the write (ms). */
interface Entry {
  readonly value: string;
  readonly writtenAt: number;
}

/** The readers of the cluster view: live ones by id, then those seen before and gone. */
export function readerViews(
  live: ReadonlyMap<string, Entry>,
  gone: ReadonlyMap<string, Entry>,
  now: number,
): ScaleOutReader[] {
  const reader = (id: string, entry: Entry, up: boolean): ScaleOutReader => {
    const report = decodeReaderReport(entry.value);
    return {
      id,
      up,
      host: report?.host ?? '',
      pid: report?.pid ?? 0,
      startedAt: report?.startedAt ?? '',
      heartbeatAgeSeconds: Math.max(0, (now - entry.writtenAt) / 1000),
      chunksRead: report?.chunksRead ?? 0,
      rowsRead: report?.rowsRead ?? 0,
      rowsPerSecond: up ? (report?.rowsPerSecond ?? 0) : 0,
      chunk: up ? (report?.chunk ?? null) : null,
    };
  };
  const byId = (a: [string, Entry], b: [string, Entry]) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0);
  return [
    ...[...live].sort(byId).map(([id, e]) => reader(id, e, true)),
    ...[...gone]
      .filter(([id]) => !live.has(id))
      .sort(byId)
      .map(([id, e]) => reader(id, e, false)),
  ];
}
