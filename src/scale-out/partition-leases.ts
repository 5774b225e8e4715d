import type { JetStreamManager, KV, NatsConnection } from 'nats';

/** A partition this worker holds: the lease key's revision its next renewal must match. */
interface Held {
  revision: number;
  /** The fencing token of this acquisition (see {@link PartitionLeases.token}). */
  readonly token: bigint;
  /** When the lease was last written by us (ms). */
  renewedAt: number;
}

/** Who beats: an apply worker (`worker.<id>`, counted in the fair share) or a snapshot reader (`reader.<id>`). */
export type HeartbeatKind = 'worker' | 'reader';

/**
 * Partition leases and worker heartbeats in one JetStream KV bucket whose entries expire after the lease TTL
 * (the bucket's max age): `lease.<partition>` holds the worker id, `worker.<id>` says a worker is alive,
 * `reader.<id>` a snapshot reader (it takes no leases and is never counted among the workers).
 *
 * Invariants: a lease is taken only by `create` (fails when the key holds a live value) and renewed or
 * released only with the revision this worker wrote last (fails when anyone else wrote since, or the entry
 * expired), so two workers never both believe they hold one partition — except across a TTL expiry, which is
 * why a worker stops applying a partition once half the TTL passed without a renewal (see {@link expiring}).
 * Across an expiry the sink decides, by the fencing token of each acquisition ({@link token}).
 */
export class PartitionLeases {
  private readonly held = new Map<number, Held>();

  private constructor(
    private readonly kv: KV,
    private readonly jsm: JetStreamManager,
    private readonly bucket: string,
    private readonly workerId: string,
    private readonly ttlMs: number,
    private readonly kind: HeartbeatKind,
    /** The largest fencing epoch this worker has read (ms): a re-written epoch is never below it. */
    private epochSeenMs: number,
  ) {}

  static async open(
    nc: NatsConnection,
    bucket: string,
    options: {
      readonly workerId: string;
      readonly ttlMs: number;
      readonly replicas: number;
      /** Default `worker`. */
      readonly kind?: HeartbeatKind;
    },
  ): Promise<PartitionLeases> {
    // Every worker asks for the same configuration, so workers that create the bucket at the same moment do not
    // race to set different ones (JetStream applies both creations, the later as an update).
    const settings = {
      ttl: options.ttlMs,
      history: 1,
      replicas: options.replicas,
      description: LEASE_BUCKET_DESCRIPTION,
    };
    const kv = await nc.jetstream().views.kv(bucket, settings);
    const jsm = await nc.jetstreamManager();
    // A bucket of an earlier release carries its epoch in its description, or only its `created`: the epoch
    // written from now on is not below it.
    const earlier = fencingEpochMs(await jsm.streams.info(`KV_${bucket}`));
    return new PartitionLeases(kv, jsm, bucket, options.workerId, options.ttlMs, options.kind ?? 'worker', earlier);
  }

  /**
   * Says this worker (or reader) is alive (its entry expires one TTL after the last beat); the value is its
   * status report (JSON, see cluster-status.ts and reader-report.ts), or the time when it has none.
   */
  async beat(report?: string): Promise<void> {
    await this.kv.put(`${this.kind}.${this.workerId}`, new TextEncoder().encode(report ?? String(Date.now())));
  }

  /** The live heartbeats of workers (or readers): id → its value and the server's time of the write. */
  async heartbeats(kind: HeartbeatKind = 'worker'): Promise<Map<string, { value: string; writtenAt: number }>> {
    return await this.live(`${kind}.`);
  }

  /** The ids of the workers whose heartbeat has not expired, this one included. */
  async liveWorkers(): Promise<string[]> {
    const out = [...(await this.live('worker.')).keys()];
    if (!out.includes(this.workerId)) out.push(this.workerId);
    return out.sort();
  }

  /** Partitions whose lease is held by a live entry (any worker). */
  async leased(): Promise<Map<number, string>> {
    const out = new Map<number, string>();
    for (const [key, holder] of await this.live('lease.')) out.set(Number(key), holder.value);
    return out;
  }

  /**
   * Live entries under `prefix` (key without the prefix → value). The keys come from the bucket stream's
   * subject list (one request, no consumer), each value from a get; deleted entries are left out.
   */
  private async live(prefix: string): Promise<Map<string, { value: string; writtenAt: number }>> {
    const subjectPrefix = `$KV.${this.bucket}.`;
    const info = await this.jsm.streams.info(`KV_${this.bucket}`, { subjects_filter: `${subjectPrefix}${prefix}>` });
    const out = new Map<string, { value: string; writtenAt: number }>();
    for (const subject of Object.keys(info.state.subjects ?? {})) {
      const key = subject.slice(subjectPrefix.length);
      const entry = await this.kv.get(key);
      if (entry && entry.operation === 'PUT')
        out.set(key.slice(prefix.length), { value: entry.string(), writtenAt: entry.created.getTime() });
    }
    return out;
  }

  /** Takes the lease of `partition` if nobody holds it; false when someone does. */
  async acquire(partition: number): Promise<boolean> {
    let revision: number;
    try {
      revision = await this.kv.create(`lease.${partition}`, new TextEncoder().encode(this.workerId));
    } catch (error) {
      if (isWrongRevision(error)) return false;
      throw error;
    }
    // The epoch is read after the lease is ours, so a later acquisition never reads an earlier epoch.
    const token = fencingToken(await this.epoch(), revision);
    this.held.set(partition, { revision, token, renewedAt: Date.now() });
    return true;
  }

  /**
   * The bucket's fencing epoch (ms): the value of its `epoch` key, which the first worker to find it missing
   * writes (`create`, so one writer wins and every worker reads its value). The key expires like any other entry
   * of the bucket; the next acquisition then writes a new one, later than the old (the time now, and at least
   * the largest epoch this worker has read, plus one), so tokens still only grow.
   */
  private async epoch(): Promise<number> {
    for (;;) {
      const entry = await this.kv.get(EPOCH_KEY);
      const value = entry?.operation === 'PUT' ? Number(entry.string()) : NaN;
      if (Number.isSafeInteger(value) && value > 0) {
        this.epochSeenMs = Math.max(this.epochSeenMs, value);
        return value;
      }
      const next = Math.max(Date.now(), this.epochSeenMs + 1);
      try {
        await this.kv.create(EPOCH_KEY, new TextEncoder().encode(String(next)));
      } catch (error) {
        if (!isWrongRevision(error)) throw error; // another worker wrote it first: read theirs
      }
    }
  }

  /**
   * Renews every held lease. Returns the partitions whose lease is gone (expired, or taken by another worker):
   * the caller must stop applying them at once. A lease that could not be reached stays held until
   * {@link expiring} says otherwise.
   */
  async renew(): Promise<number[]> {
    const lost: number[] = [];
    for (const [partition, held] of this.held) {
      try {
        held.revision = await this.kv.update(
          `lease.${partition}`,
          new TextEncoder().encode(this.workerId),
          held.revision,
        );
        held.renewedAt = Date.now();
      } catch (error) {
        if (!isWrongRevision(error)) continue; // unreachable: expiring() decides
        this.held.delete(partition);
        lost.push(partition);
      }
    }
    return lost;
  }

  /** Held partitions not renewed for half the TTL: another worker may take them soon, so stop applying them. */
  expiring(now = Date.now()): number[] {
    return [...this.held].filter(([, h]) => now - h.renewedAt > this.ttlMs / 2).map(([p]) => p);
  }

  /** Gives `partition` up (only if the lease is still ours); call after its apply stopped. */
  async release(partition: number): Promise<void> {
    const held = this.held.get(partition);
    this.held.delete(partition);
    if (!held) return;
    try {
      await this.kv.delete(`lease.${partition}`, { previousSeq: held.revision });
    } catch (error) {
      if (!isWrongRevision(error)) throw error;
    }
  }

  /** Forgets a lease without writing (it expires by itself): for a partition stopped because it was expiring. */
  forget(partition: number): void {
    this.held.delete(partition);
  }

  /**
   * The fencing token of the held lease of `partition`: the bucket's fencing epoch (ms, see {@link epoch}) × 10^20
   * + the revision `create` returned. Revisions are the bucket stream's sequence numbers, strictly increasing, so
   * any later acquisition — by any worker — has a larger token; a bucket made anew (a new `stream`, a deleted
   * bucket) writes its epoch later, so its tokens are larger than the old bucket's. Renewals do not change it.
   */
  token(partition: number): bigint | undefined {
    return this.held.get(partition)?.token;
  }

  holds(partition: number): boolean {
    return this.held.has(partition);
  }

  get count(): number {
    return this.held.size;
  }

  /** Removes this worker's (or reader's) heartbeat, so the others rebalance at once instead of after the TTL. */
  async leave(): Promise<void> {
    await this.kv.delete(`${this.kind}.${this.workerId}`).catch(() => undefined);
  }
}

/** The lease bucket's description. Releases before the `epoch` key appended `(fencing epoch <ms>)` to it. */
const LEASE_BUCKET_DESCRIPTION = 'Tributary partition leases and worker heartbeats';
const EARLIER_DESCRIPTION = `${LEASE_BUCKET_DESCRIPTION} (fencing epoch`;

/** The key holding the bucket's fencing epoch (ms), the high part of its tokens. */
const EPOCH_KEY = 'epoch';

/**
 * The fencing epoch an earlier release used for this bucket, the floor of the epoch written now: the one its
 * creator wrote into the description, or else the stream info's `created`. Neither was the same for every
 * worker — `created` is each server's own copy's time, and workers creating the bucket together each had
 * their description applied, the later as an update — so one worker's tokens could all be larger than
 * another's, and a partition it leased could never be taken over (SINK_FENCED, over and over). Hence the
 * `epoch` key: a `create` that exactly one worker wins.
 */
export function fencingEpochMs(info: {
  readonly created: string;
  readonly config: { readonly description?: string };
}): number {
  const written = info.config.description?.startsWith(EARLIER_DESCRIPTION)
    ? Number(info.config.description.slice(EARLIER_DESCRIPTION.length).replace(/\)$/, ''))
    : NaN;
  if (Number.isSafeInteger(written) && written > 0) return written;
  const created = Date.parse(info.created);
  return Number.isFinite(created) ? created : 0;
}

/** See {@link PartitionLeases.token}: revisions stay below 2^64 < 10^20. */
export function fencingToken(epochMs: number, revision: number): bigint {
  return BigInt(Math.max(0, Math.trunc(epochMs))) * 10n ** 20n + BigInt(revision);
}

/** JetStream's "wrong last sequence" (10071): the key was written by someone else, or expired, since. */
function isWrongRevision(error: unknown): boolean {
  return (error as { api_error?: { err_code?: number } } | undefined)?.api_error?.err_code === 10071;
}
