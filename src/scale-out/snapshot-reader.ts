import { hostname } from 'node:os';
import { randomUUID } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import type { Consumer, JsMsg, NatsConnection } from 'nats';
import { asTributaryError, TributaryError } from '../core/errors.js';
import type { Source } from '../core/source.js';
import type { PipelineDef } from '../config/pipeline-def.js';
import { sources } from '../connectors/registry.js';
import { natsConnect } from '../connectors/nats/nats-connection.js';
import { classifyNatsError } from '../connectors/nats/nats-errors.js';
import type { Logger } from '../runtime/logger.js';
import { decodeChunkItem, encodeChunkResult, type ChunkResult } from './chunk-work.js';
import { PartitionLeases } from './partition-leases.js';
import { encodeReaderReport, type ChunkInHand, type ReaderReport } from './reader-report.js';
import { scaleOutSettings, type ScaleOutSettings } from './scale-out-roles.js';
import { snapshotQueueNames } from './snapshot-queue.js';
import { withinMs } from './within-ms.js';

export interface SnapshotReaderOptions {
  readonly log: Logger;
  readonly signal: AbortSignal;
  /** Default: `<host>-<pid>-<random>`. */
  readonly readerId?: string;
}

/** A chunk whose read failed this many times is reported to the capture as failed (its source retries). */
const MAX_READS = 5;
/** How long a failed read waits before the item may be handed out again. */
const RETRY_DELAY_MS = 2_000;
/** How often a reader that read chunks says how many. */
const PROGRESS_MS = 10_000;
/** A pull for an item expires after this long (and is issued again). */
const PULL_EXPIRES_MS = 5_000;

/**
 * A snapshot reader of a scale-out pipeline (`tributary run --role snapshot-reader`): takes chunks from the
 * work queue `<stream>_chunks` one at a time, reads each from the source on a connection of its own (the
 * source's `scan.snapshot.rows-per-second` caps this reader), puts the result on `<stream>_chunk_results` and
 * only then acknowledges the item. While it reads it tells JetStream it is working; a reader that dies leaves
 * its item unacknowledged, and JetStream hands it to another reader after `snapshot.ack-wait`. Every fifth of
 * `lease.ttl` it beats `reader.<id>` in the lease bucket with its report (chunks and rows read, the chunk in
 * hand), which the capture's dashboard, `/metrics` and `tributary status` show. Returns when `signal` aborts
 * (its heartbeat removed).
 */
export async function runSnapshotReader(def: PipelineDef, options: SnapshotReaderOptions): Promise<void> {
  const { log, signal } = options;
  const settings = scaleOutSettings(def);
  const names = snapshotQueueNames(settings.stream);
  const readerId = options.readerId ?? `${hostname()}-${process.pid}-${randomUUID().slice(0, 8)}`;
  const source = await openSource(def, log);
  const rate = def.source.options['scan.snapshot.rows-per-second'];
  const rowsPerSecond = typeof rate === 'number' && rate > 0 ? rate : undefined;
  let nextAllowedAt = 0;
  const nc = await natsConnect(settings.connection, 'source', log, `tributary ${def.pipeline.name} snapshot reader`);
  let chunks = 0;
  let rows = 0;
  let saidAt = Date.now();
  let said = 0;
  let inHand: ChunkInHand | null = null;
  const startedAt = new Date().toISOString();
  let previousBeat: { at: number; rows: number } | undefined;
  /** This reader's status, published as its heartbeat's value. */
  const report = (): ReaderReport => {
    const now = Date.now();
    const seconds = previousBeat ? (now - previousBeat.at) / 1000 : 0;
    const rate = seconds > 0 ? Math.max(0, rows - previousBeat!.rows) / seconds : 0;
    previousBeat = { at: now, rows };
    return {
      v: 1,
      host: hostname(),
      pid: process.pid,
      startedAt,
      chunksRead: chunks,
      rowsRead: rows,
      rowsPerSecond: Math.round(rate * 10) / 10,
      chunk: inHand,
    };
  };
  const beating = new AbortController();
  const beats = beat(nc, settings, readerId, report, log, beating.signal);
  try {
    while (!signal.aborted) {
      const consumer = await waitForQueue(nc, names.items, names.readers, log, signal);
      if (!consumer) break;
      try {
        while (!signal.aborted) {
          const messages = await consumer.fetch({ max_messages: 1, expires: PULL_EXPIRES_MS });
          for await (const message of messages) {
            const read = await handle(message);
            if (read === undefined) continue;
            chunks++;
            rows += read;
            if (rowsPerSecond) nextAllowedAt = Math.max(Date.now(), nextAllowedAt) + (read * 1000) / rowsPerSecond;
            if (said === 0 || Date.now() - saidAt >= PROGRESS_MS) {
              log.info(`snapshot chunks read: ${chunks} (${rows} rows)`);
              saidAt = Date.now();
              said = chunks;
            }
          }
        }
      } catch (error) {
        if (signal.aborted) break;
        // The consumer was re-created (a capture restarted) or NATS moved: take it again.
        log.debug(`snapshot reader: ${error instanceof Error ? error.message : String(error)}; pulling again`);
        await sleep(1_000, undefined, { signal }).catch(() => undefined);
      }
    }
  } finally {
    beating.abort();
    await beats;
    log.info(`snapshot reader stopped after ${chunks} chunks (${rows} rows)`);
    await source.close().catch(() => undefined);
    await nc.close().catch(() => undefined);
  }

  /** Reads one item and reports it; the number of rows read, undefined when the read failed. */
  async function handle(message: JsMsg): Promise<number | undefined> {
    const work = decodeChunkItem(message.data);
    const reads = message.info.redeliveryCount;
    log.debug(`snapshot chunk ${work.id} taken`);
    inHand = { id: work.id, delivery: reads, since: new Date().toISOString() };
    if (reads > 1) log.info(`snapshot chunk ${work.id}: delivery ${reads} (a reader before did not report it)`);
    const working = setInterval(() => message.working(), Math.max(500, settings.snapshotAckWaitMs / 3));
    let result: ChunkResult;
    let count: number | undefined;
    try {
      // The rate cap: the item is held (and reported as in progress) until this reader may read again.
      const wait = nextAllowedAt - Date.now();
      if (wait > 0) await sleep(wait, undefined, { signal }).catch(() => undefined);
      if (signal.aborted) {
        message.nak();
        return undefined;
      }
      try {
        const read = await source.readChunkItem!(work.item);
        count = Array.isArray((read as { rows?: unknown }).rows) ? (read as { rows: unknown[] }).rows.length : 0;
        result = { ok: true, result: read };
      } catch (error) {
        const failure = asTributaryError(error);
        if (failure.retryable && reads < MAX_READS) {
          log.warn(`snapshot chunk ${work.id}: ${failure.message} (read ${reads} of ${MAX_READS}); handed out again`);
          message.nak(RETRY_DELAY_MS);
          return undefined;
        }
        log.error(`snapshot chunk ${work.id}: ${failure.message}; reported to the capture`);
        result = {
          ok: false,
          code: failure.code,
          message: failure.message,
          ...(failure.hint === undefined ? {} : { hint: failure.hint }),
        };
      }
      const maxPayload = nc.info?.max_payload ?? 1024 * 1024;
      const js = nc.jetstream();
      try {
        for (const part of encodeChunkResult(work.id, `${readerId}.${reads}`, result, maxPayload)) {
          await js.publish(names.resultSubject, part);
        }
        // Acknowledged only once the result is stored: a reader that dies before this leaves the item to another.
        await message.ackAck();
      } catch (error) {
        throw classifyNatsError(error, 'source', `reporting snapshot chunk ${work.id}`);
      }
      log.debug(`snapshot chunk ${work.id} read: ${count ?? 0} rows`);
      return count;
    } finally {
      clearInterval(working);
      inHand = null;
    }
  }
}

/**
 * The reader's heartbeat: `reader.<id>` in the lease bucket (created if missing, as the workers create it), every
 * fifth of the TTL, until `signal` aborts; then the entry is removed. A failed beat is logged once per outage and
 * never stops the reader (it only shows as down meanwhile).
 */
async function beat(
  nc: NatsConnection,
  settings: ScaleOutSettings,
  readerId: string,
  report: () => ReaderReport,
  log: Logger,
  signal: AbortSignal,
): Promise<void> {
  let leases: PartitionLeases | undefined;
  let failing = false;
  while (!signal.aborted) {
    try {
      leases ??= await withinMs(
        PartitionLeases.open(nc, settings.leaseBucket, {
          workerId: readerId,
          ttlMs: settings.leaseTtlMs,
          replicas: settings.replicas,
          kind: 'reader',
        }),
        settings.leaseTtlMs / 2,
      );
      await withinMs(leases.beat(encodeReaderReport(report())), settings.leaseTtlMs / 2);
      failing = false;
    } catch (error) {
      if (!failing) {
        log.warn(
          `${classifyNatsError(error, 'source', `writing the heartbeat of snapshot reader ${readerId}`).format()}; the reader goes on, shown as down until a heartbeat is written again`,
        );
      }
      failing = true;
    }
    await sleep(Math.max(50, Math.floor(settings.leaseTtlMs / 5)), undefined, { signal }).catch(() => undefined);
  }
  if (leases) await withinMs(leases.leave(), settings.leaseTtlMs / 2).catch(() => undefined);
}

async function openSource(def: PipelineDef, log: Logger): Promise<Source> {
  const entry = sources[def.source.type];
  if (!entry) {
    throw new TributaryError('CONNECTOR_UNKNOWN', `unknown source type ${def.source.type}`);
  }
  const source = (await entry.load())(def.source.options, {
    log: log.child('source'),
    pipelineName: def.pipeline.name,
    parallelism: 1,
    include: [],
    exclude: [],
  });
  if (!source.readChunkItem) {
    await source.close();
    throw new TributaryError('CONFIG_INVALID', `a ${def.source.type} source cannot be read by snapshot readers`, {
      hint: 'snapshot readers read MySQL/MariaDB sources; set scale-out.snapshot.readers: local',
    });
  }
  return source;
}

/** The readers' consumer of the work queue, once the capture created it; undefined when stopped first. */
async function waitForQueue(
  nc: NatsConnection,
  stream: string,
  durable: string,
  log: Logger,
  signal: AbortSignal,
): Promise<Consumer | undefined> {
  let said = false;
  while (!signal.aborted) {
    try {
      return await nc.jetstream().consumers.get(stream, durable);
    } catch {
      if (!said) log.info(`waiting for the capture to create the snapshot work queue ${stream}`);
      said = true;
      await sleep(2_000, undefined, { signal }).catch(() => undefined);
    }
  }
  return undefined;
}
