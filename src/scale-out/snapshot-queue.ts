import { randomUUID } from 'node:crypto';
import { AckPolicy, RetentionPolicy, type ConsumerMessages, type JetStreamManager, type NatsConnection } from 'nats';
import { ERROR_CODES, TributaryError, type ErrorCode } from '../core/errors.js';
import type { RemoteChunks } from '../core/connector.js';
import type { Logger } from '../core/logger.js';
import { natsConnect } from '../connectors/nats/nats-connection.js';
import { classifyNatsError } from '../connectors/nats/nats-errors.js';
import { ChunkResultAssembler, decodeChunkResultPart, encodeChunkItem, type ChunkResult } from './chunk-work.js';
import type { ScaleOutSettings } from './scale-out-roles.js';

/**
 * The JetStream names of the parallel snapshot: the work queue of chunks to read (`<stream>_chunks`, one durable
 * consumer `readers` shared by every snapshot reader) and the stream the readers put results on
 * (`<stream>_chunk_results`, read by the capture alone). Both keep a message only until it is acknowledged
 * (work-queue retention). Their subjects lie outside `<stream>.>`, the data stream's.
 */
export interface SnapshotQueueNames {
  readonly items: string;
  readonly itemSubject: string;
  readonly results: string;
  readonly resultSubject: string;
  readonly readers: string;
  readonly capture: string;
}

export function snapshotQueueNames(stream: string): SnapshotQueueNames {
  return {
    items: `${stream}_chunks`,
    itemSubject: `${stream}_chunks.item`,
    results: `${stream}_chunk_results`,
    resultSubject: `${stream}_chunks.result`,
    readers: 'readers',
    capture: 'capture',
  };
}

/** How long chunks may wait with no reader taking any before the capture says so (then again this often). */
const NO_READER_WARN_MS = 15_000;
/** How often the capture looks at the work queue while chunks are out. */
const WATCH_MS = 5_000;

interface Waiting {
  readonly resolve: (result: unknown) => void;
  readonly reject: (error: Error) => void;
}

/**
 * The capture's side of the parallel snapshot: the source's chunk reads become work items, and results come
 * back on the results stream, assembled from their parts. A result for an item nobody waits for — a second
 * read of an item whose first reader died after reporting, or an item of an earlier attempt — is acknowledged
 * and dropped. Created streams and consumers are emptied when the capture starts: the items of an earlier run
 * refer to chunks its checkpoint no longer waits for.
 */
export class SnapshotWorkQueue implements RemoteChunks {
  readonly inFlight: number;
  private readonly names: SnapshotQueueNames;
  private session: Promise<{ nc: NatsConnection; jsm: JetStreamManager }> | undefined;
  private readonly waiting = new Map<string, Waiting>();
  private readonly assembler = new ChunkResultAssembler();
  private readonly runId = randomUUID().slice(0, 8);
  private next = 0;
  private watch: NodeJS.Timeout | undefined;
  /** Since when chunks wait with no reader taking them (0: a reader is there, or nothing waits). */
  private idleSince = 0;
  private lastWarned = 0;
  private closed = false;

  constructor(
    private readonly settings: ScaleOutSettings,
    private readonly log: Logger,
    private readonly name: string,
  ) {
    this.inFlight = settings.snapshotInFlight;
    this.names = snapshotQueueNames(settings.stream);
  }

  async read(item: unknown, signal: AbortSignal): Promise<unknown> {
    const { nc } = await this.open();
    const id = `${this.runId}.${++this.next}`;
    const result = new Promise<unknown>((resolve, reject) => {
      this.waiting.set(id, { resolve, reject });
      signal.addEventListener(
        'abort',
        () => {
          this.waiting.delete(id);
          this.assembler.forget(id);
          reject(new TributaryError('SOURCE_CONNECTION_LOST', 'the source closed while a snapshot chunk was out'));
        },
        { once: true },
      );
    });
    try {
      await nc.jetstream().publish(this.names.itemSubject, encodeChunkItem({ id, item }), { msgID: id });
    } catch (error) {
      this.waiting.delete(id);
      throw classifyNatsError(error, 'source', `handing out a snapshot chunk on ${this.names.items}`);
    }
    this.watch ??= setInterval(() => void this.look(), WATCH_MS);
    return await result;
  }

  async close(): Promise<void> {
    this.closed = true;
    if (this.watch) clearInterval(this.watch);
    const session = this.session;
    this.session = undefined;
    for (const waiting of this.waiting.values()) {
      waiting.reject(new TributaryError('SOURCE_CONNECTION_LOST', 'the snapshot work queue closed'));
    }
    this.waiting.clear();
    if (session) await (await session.catch(() => undefined))?.nc.close().catch(() => undefined);
  }

  private open(): Promise<{ nc: NatsConnection; jsm: JetStreamManager }> {
    this.session ??= this.connect();
    this.session.catch(() => (this.session = undefined));
    return this.session;
  }

  private async connect(): Promise<{ nc: NatsConnection; jsm: JetStreamManager }> {
    const nc = await natsConnect(this.settings.connection, 'source', this.log, `${this.name} snapshot queue`);
    try {
      const jsm = await nc.jetstreamManager();
      await createSnapshotStreams(jsm, this.names, this.settings.replicas);
      // Items and results of an earlier run: nobody waits for them now.
      await jsm.streams.purge(this.names.items);
      await jsm.streams.purge(this.names.results);
      await jsm.consumers.delete(this.names.items, this.names.readers).catch(() => undefined);
      await jsm.consumers.add(this.names.items, {
        durable_name: this.names.readers,
        ack_policy: AckPolicy.Explicit,
        ack_wait: this.settings.snapshotAckWaitMs * 1_000_000,
        max_deliver: -1,
      });
      await jsm.consumers.delete(this.names.results, this.names.capture).catch(() => undefined);
      await jsm.consumers.add(this.names.results, {
        durable_name: this.names.capture,
        ack_policy: AckPolicy.Explicit,
      });
      const consumer = await nc.jetstream().consumers.get(this.names.results, this.names.capture);
      const messages = await consumer.consume({ max_messages: 256 });
      void this.receive(messages, nc);
      this.log.info(
        `snapshot chunks go to snapshot readers through the JetStream work queue ${this.names.items} (${this.inFlight} at a time)`,
      );
      return { nc, jsm };
    } catch (error) {
      await nc.close().catch(() => undefined);
      throw classifyNatsError(error, 'source', `opening the snapshot work queue ${this.names.items}`);
    }
  }

  /** Results as they come; the loop ends with the connection (every waiting read then fails, and is retried). */
  private async receive(messages: ConsumerMessages, nc: NatsConnection): Promise<void> {
    try {
      for await (const message of messages) {
        let part: ReturnType<typeof decodeChunkResultPart>;
        try {
          part = decodeChunkResultPart(message.data);
        } catch (error) {
          message.ack(); // not a result part of a reader's: dropped
          this.log.warn(error instanceof Error ? error.message : String(error));
          continue;
        }
        const waiting = this.waiting.get(part.id);
        const result = waiting ? this.assembler.add(part) : undefined;
        message.ack();
        if (!waiting || !result) continue;
        this.waiting.delete(part.id);
        this.assembler.forget(part.id);
        if (result.ok) waiting.resolve(result.result);
        else waiting.reject(resultError(result));
      }
      if (this.closed) return;
      this.fail(new TributaryError('SOURCE_CONNECTION_LOST', `the results of ${this.names.items} stopped coming`), nc);
    } catch (error) {
      this.fail(classifyNatsError(error, 'source', `reading snapshot chunk results from ${this.names.results}`), nc);
    }
  }

  /** The connection is done for: every waiting read fails (the source retries), the next read connects anew. */
  private fail(error: Error, nc: NatsConnection): void {
    this.session = undefined;
    nc.close().catch(() => undefined);
    for (const waiting of this.waiting.values()) waiting.reject(error);
    this.waiting.clear();
  }

  /** Says so when chunks wait and no snapshot reader is there to take them (none pulls, none reads). */
  private async look(): Promise<void> {
    if (this.waiting.size === 0) {
      this.idleSince = 0;
      return;
    }
    try {
      const session = await this.session;
      if (!session) return;
      const info = await session.jsm.consumers.info(this.names.items, this.names.readers);
      const now = Date.now();
      if (info.num_waiting > 0 || info.num_ack_pending > 0) {
        this.idleSince = 0;
        return;
      }
      this.idleSince ||= now;
      if (now - this.idleSince >= NO_READER_WARN_MS && now - this.lastWarned >= NO_READER_WARN_MS) {
        this.lastWarned = now;
        this.log.warn(
          `${this.waiting.size} snapshot chunks have waited ${Math.round((now - this.idleSince) / 1000)} s in ${this.names.items} and no snapshot reader takes them; the snapshot does not move on without one\n  fix: start \`tributary run <pipeline.yaml> --role snapshot-reader\` on any machine that reaches the source and NATS (or set scale-out.snapshot.readers: local)`,
        );
      }
    } catch (error) {
      this.log.debug(`snapshot work queue: ${error instanceof Error ? error.message : String(error)}`);
    }
  }
}

/** Creates the work queue and the results stream if missing (the capture and every reader may). */
export async function createSnapshotStreams(
  jsm: JetStreamManager,
  names: SnapshotQueueNames,
  replicas: number,
): Promise<void> {
  for (const [name, subject] of [
    [names.items, names.itemSubject],
    [names.results, names.resultSubject],
  ] as const) {
    try {
      await jsm.streams.info(name);
    } catch {
      await jsm.streams.add({
        name,
        subjects: [subject],
        retention: RetentionPolicy.Workqueue,
        num_replicas: replicas,
      });
    }
  }
}

function resultError(result: Extract<ChunkResult, { ok: false }>): TributaryError {
  const code = (result.code in ERROR_CODES ? result.code : 'INTERNAL') as ErrorCode;
  return new TributaryError(code, `a snapshot reader failed to read a chunk: ${result.message}`, {
    ...(result.hint === undefined ? {} : { hint: result.hint }),
  });
}
