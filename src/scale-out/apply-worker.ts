import { hostname } from 'node:os';
import { randomUUID } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import type { NatsConnection } from 'nats';
import { asTributaryError, type TributaryError } from '../core/errors.js';
import type { PipelineDef } from '../config/pipeline-def.js';
import { composePipeline } from '../composer/pipeline-composer.js';
import { natsConnect } from '../connectors/nats/nats-connection.js';
import { classifyNatsError, streamInfoWithLeader } from '../connectors/nats/nats-errors.js';
import { Backoff } from '../runtime/backoff.js';
import type { Logger } from '../runtime/logger.js';
import type { PipelineMetrics } from '../runtime/pipeline-metrics.js';
import { encodeWorkerReport, type PartitionReport, type WorkerReport } from './cluster-status.js';
import { PartitionLeases } from './partition-leases.js';
import { applyDef, scaleOutSettings, type ScaleOutSettings } from './scale-out-roles.js';
import { withinMs } from './within-ms.js';

/**
 * A partition's pipeline retries at least this often: its failures are mostly a JetStream server dying (no
 * leader for a moment, a consumer gone with its server), over within seconds once the cluster has a leader
 * again — a delay doubling up to 30 s would keep the partition behind long after.
 */
const PARTITION_RETRY_MAX_DELAY_MS = 4_000;

export interface ApplyWorkerOptions {
  readonly log: Logger;
  readonly signal: AbortSignal;
  /** Default: `<host>-<pid>-<random>`. */
  readonly workerId?: string;
  /** Called whenever the set of partitions this worker applies changes. */
  readonly onPartitions?: (partitions: readonly number[]) => void;
  /**
   * The worker's own figures for its dashboard: rows in and out per table summed over its partitions' pipelines
   * (updated with each heartbeat), and its state (running once it holds the lease bucket, then stopping, stopped).
   */
  readonly metrics?: PipelineMetrics;
}

/** One partition being applied: its own pipeline run, stopped through its controller. */
interface Applying {
  readonly controller: AbortController;
  readonly done: Promise<void>;
  readonly metrics: PipelineMetrics;
}

/**
 * An apply worker of a scale-out pipeline (`tributary run --role apply`): leases partitions of the stream in
 * the JetStream KV bucket, and applies each leased partition as a pipeline of its own (`nats` source of that
 * partition → transforms → the pipeline's sink, positions in the sink's checkpoint transaction).
 *
 * Every third of the lease TTL it beats, renews its leases, and balances: it takes free partitions up to its
 * fair share (partitions / live workers, rounded up) and gives up those above it. A partition is given up only
 * after its pipeline stopped (final checkpoint committed, sink closed), and a taker resumes from the sink's
 * committed position — so a key's changes are applied in order across the handover. A partition whose lease
 * is lost, or could not be renewed for half the TTL, is stopped at once. Each partition's sink gets the lease's
 * fencing token ({@link PartitionLeases.token}); a partition whose sink refuses it with SINK_FENCED (this worker
 * was cut off past the TTL and another took the partition over) is stopped and its lease forgotten, the worker
 * goes on. Returns when `signal` aborts (after
 * stopping every partition and releasing its leases); throws when a partition's pipeline fails for good.
 */
export async function runApplyWorker(def: PipelineDef, options: ApplyWorkerOptions): Promise<void> {
  const { log, signal } = options;
  const settings = scaleOutSettings(def);
  const workerId = options.workerId ?? `${hostname()}-${process.pid}-${randomUUID().slice(0, 8)}`;
  const nc = await natsConnect(settings.connection, 'source', log, `tributary ${def.pipeline.name} apply ${workerId}`);
  const applying = new Map<number, Applying>();
  let failure: TributaryError | undefined;
  const changed = () => options.onPartitions?.([...applying.keys()].sort((a, b) => a - b));
  const startedAt = new Date().toISOString();
  /** Rows applied by partition pipelines that stopped here (handed over, lost), for the worker's total. */
  let rowsOfStopped = 0;
  let previousBeat: { at: number; rows: number } | undefined;
  /** Per partition pipeline: the rows per table already added to `options.metrics`. */
  const summed = new WeakMap<PipelineMetrics, { in: Map<string, number>; out: Map<string, number> }>();
  const sum = (metrics: PipelineMetrics): void => {
    const total = options.metrics;
    if (!total) return;
    const seen = summed.get(metrics) ?? { in: new Map<string, number>(), out: new Map<string, number>() };
    summed.set(metrics, seen);
    for (const [counters, into, done] of [
      [metrics.rowsIn, total.rowsIn, seen.in],
      [metrics.rowsOut, total.rowsOut, seen.out],
    ] as const) {
      for (const [table, n] of counters.entries()) {
        const delta = n - (done.get(table) ?? 0);
        if (delta > 0) into.add(table, delta);
        done.set(table, n);
      }
    }
  };
  /** This worker's status, published as its heartbeat's value. */
  const report = (): WorkerReport => {
    const partitions: PartitionReport[] = [];
    let rows = rowsOfStopped;
    for (const [partition, { metrics }] of [...applying].sort(([a], [b]) => a - b)) {
      sum(metrics);
      const progress = metrics.progress();
      const seq = progress ? Number(/:(\d+)$/.exec(progress.logPosition)?.[1]) : NaN;
      const applied = metrics.rowsOut.total();
      rows += applied;
      partitions.push({
        partition,
        position: Number.isFinite(seq) ? seq : null,
        lagMessages: progress?.lagMessages ?? null,
        rowsApplied: applied,
        state: metrics.state,
      });
    }
    const now = Date.now();
    const seconds = previousBeat ? (now - previousBeat.at) / 1000 : 0;
    const rate = seconds > 0 ? Math.max(0, rows - previousBeat!.rows) / seconds : 0;
    previousBeat = { at: now, rows };
    const out: WorkerReport = {
      v: 1,
      host: hostname(),
      pid: process.pid,
      startedAt,
      rowsApplied: rows,
      rowsPerSecond: Math.round(rate * 10) / 10,
      partitions,
    };
    return out;
  };

  const start = (partition: number, leases: PartitionLeases): void => {
    const controller = new AbortController();
    const token = leases.token(partition);
    const pipeline = composePipeline(applyDef(def, partition), {
      log: log.child(`p${partition}`),
      retryMaxDelayMs: PARTITION_RETRY_MAX_DELAY_MS,
      ...(token === undefined ? {} : { sinkFenceToken: token }),
    });
    const done = pipeline.run({ signal: controller.signal }).then(
      (result) => {
        if (result.outcome !== 'stopped') log.warn(`partition ${partition}: pipeline ${result.outcome}`);
      },
      (error: unknown) => {
        const fail = asTributaryError(error);
        if (fail.code !== 'SINK_FENCED') {
          failure ??= fail;
          return;
        }
        // The sink holds a larger fencing token: another worker leased the partition after this one's lease
        // expired (this process was paused, or cut off from NATS). Its commit was refused; the partition is
        // theirs now.
        log.warn(
          `partition ${partition}: another worker took it over while this one was cut off ([${fail.code}] ${fail.message}); stopping it here`,
        );
        leases.forget(partition);
        void stop(partition);
      },
    );
    applying.set(partition, { controller, done, metrics: pipeline.metrics });
    log.info(`applying partition ${partition}`);
    changed();
  };
  const stopping = new Map<number, Promise<void>>();
  const stop = (partition: number): Promise<void> => {
    const running = applying.get(partition);
    if (!running) return Promise.resolve();
    const pending =
      stopping.get(partition) ??
      (async () => {
        running.controller.abort();
        await running.done;
        rowsOfStopped += running.metrics.rowsOut.total();
        sum(running.metrics);
        applying.delete(partition);
        stopping.delete(partition);
        changed();
      })();
    stopping.set(partition, pending);
    return pending;
  };

  try {
    const leases = await retried(log, signal, 'starting the apply worker', async () => {
      await ensureStream(nc, settings);
      return await PartitionLeases.open(nc, settings.leaseBucket, {
        workerId,
        ttlMs: settings.leaseTtlMs,
        replicas: settings.replicas,
      });
    });
    log.info(
      `apply worker ${workerId}: ${settings.partitions} partitions of stream ${settings.stream}, lease TTL ${settings.leaseTtlMs} ms`,
    );
    if (options.metrics) options.metrics.state = 'running';
    const done = new AbortController();
    const until = AbortSignal.any([signal, done.signal]);
    // Two loops: renewals never wait for a partition's final checkpoint (which may take seconds), balancing does.
    const renewals = (async () => {
      while (!until.aborted) {
        try {
          await withinMs(leases.beat(encodeWorkerReport(report())), settings.leaseTtlMs / 2);
          for (const partition of await withinMs(leases.renew(), settings.leaseTtlMs / 2)) {
            log.warn(`partition ${partition}: lease lost to another worker, stopping`);
            void stop(partition);
          }
        } catch (error) {
          log.warn(classifyNatsError(error, 'source', 'scale-out leases').format());
        }
        // Whatever could not be renewed for half the TTL: another worker may take it after the TTL.
        for (const partition of leases.expiring()) {
          log.warn(`partition ${partition}: lease not renewed for ${settings.leaseTtlMs / 2} ms, stopping`);
          leases.forget(partition);
          void stop(partition);
        }
        await sleep(Math.max(50, Math.floor(settings.leaseTtlMs / 5)), undefined, { signal: until }).catch(
          () => undefined,
        );
      }
    })();
    try {
      while (!signal.aborted) {
        if (failure) throw failure;
        try {
          await withinMs(balance(leases), Math.max(30_000, settings.leaseTtlMs * 3));
        } catch (error) {
          log.warn(classifyNatsError(error, 'source', 'scale-out leases').format());
        }
        await sleep(Math.max(100, Math.floor(settings.leaseTtlMs / 3)), undefined, { signal }).catch(() => undefined);
      }
    } finally {
      if (options.metrics) options.metrics.state = 'stopping';
      await Promise.allSettled([...applying.keys()].map((p) => stop(p)));
      done.abort();
      await renewals;
      for (let p = 0; p < settings.partitions; p++) if (leases.holds(p)) await leases.release(p).catch(() => undefined);
      await leases.leave();
    }
    if (failure) throw failure;
    if (options.metrics) options.metrics.state = 'stopped';
  } catch (error) {
    if (options.metrics) options.metrics.state = 'failed';
    throw error;
  } finally {
    await Promise.allSettled([...applying.keys()].map((p) => stop(p)));
    await nc.close().catch(() => undefined);
  }

  async function balance(leases: PartitionLeases): Promise<void> {
    const workers = await leases.liveWorkers();
    const share = Math.ceil(settings.partitions / workers.length);
    // Above the fair share: stop first, then release, so the taker starts from a committed position.
    const mine = [...applying.keys()].filter((p) => leases.holds(p)).sort((a, b) => b - a);
    for (const partition of mine.slice(0, Math.max(0, mine.length - share))) {
      log.info(`partition ${partition}: handing over (${workers.length} workers, share ${share})`);
      await stop(partition);
      await leases.release(partition);
    }
    if (applying.size >= share) return;
    const leased = await leases.leased();
    // Start at a worker-specific offset, so workers starting together do not all race for partition 0.
    const offset = Math.max(0, workers.indexOf(workerId)) * share;
    for (let i = 0; i < settings.partitions && applying.size < share && !signal.aborted; i++) {
      const partition = (offset + i) % settings.partitions;
      if (leased.has(partition) || applying.has(partition)) continue;
      if (await leases.acquire(partition)) start(partition, leases);
    }
  }
}

/**
 * `attempt()`, again after a retryable error (a JetStream request that timed out, no leader, a server dying)
 * with a delay doubling from 1 s up to 10 s, until it succeeds, fails for good, or `signal` aborts.
 */
async function retried<T>(log: Logger, signal: AbortSignal, what: string, attempt: () => Promise<T>): Promise<T> {
  const backoff = new Backoff(1000, 10_000);
  for (;;) {
    try {
      return await attempt();
    } catch (error) {
      const failure = classifyNatsError(error, 'source', what);
      if (!failure.retryable || signal.aborted) throw failure;
      const delayMs = backoff.next();
      log.warn(`${failure.format()} — retrying in ${delayMs / 1000} s (attempt ${backoff.attempts})`);
      await sleep(delayMs, undefined, { signal }).catch(() => undefined);
    }
  }
}

/** Creates the stream if the capture has not yet (same configuration as the `nats` sink creates). */
async function ensureStream(nc: NatsConnection, settings: ScaleOutSettings): Promise<void> {
  const jsm = await nc.jetstreamManager();
  if ((await streamInfoWithLeader(jsm, settings.stream, 'source')) === null) {
    await jsm.streams.add({
      name: settings.stream,
      subjects: [`${settings.stream}.>`],
      num_replicas: settings.replicas,
    });
  }
}
