import { randomUUID } from 'node:crypto';
import {
  AckPolicy,
  nanos,
  DeliverPolicy,
  type ConsumerMessages,
  type JetStreamClient,
  type JetStreamManager,
  type JsMsg,
  type NatsConnection,
} from 'nats';
import type { ChangeEvent } from '../../core/change-event.js';
import { TributaryError } from '../../core/errors.js';
import type { OptionValues } from '../../core/option-spec.js';
import type { ChangeBatch, Source, SourceDescription, SourcePosition, SourceProgress } from '../../core/source.js';
import { LogChangeReader } from '../log-kit/log-change-reader.js';
import type { SourceContext } from '../../core/connector.js';
import { natsConnect } from './nats-connection.js';
import { classifyNatsError, jetStreamErrorCode, JS_CONSUMER_NOT_FOUND, streamInfoWithLeader } from './nats-errors.js';
import { HEADER_BATCH, HEADER_EPOCH, HEADER_KEY, parseCheckpointRecord } from './nats-log-protocol.js';
import { natsSourceConfig, type NatsSourceConfig } from './nats-source-config.js';
import { streamSubjects, type StreamSubjects } from './nats-subjects.js';

/** The position a `nats` source resumes from: the stream sequence of the last message whose effects are committed. */
export type NatsPosition = {
  readonly stream: string;
  readonly seq: number;
};

export function natsSource(options: OptionValues, context: SourceContext): Source {
  for (const key of ['password', 'token']) {
    if (typeof options[key] === 'string') context.log.addSecret(options[key]);
  }
  return new NatsSource(options, natsSourceConfig(options, context.pipelineName), context);
}

/** How long a partition reader waits for a batch's data after its checkpoint message arrived. */
const PARTITION_DATA_WAIT_MS = 30_000;

/** How often a partition reader waiting for a batch's data asks the data consumer whether they were sent. */
const PARTITION_DATA_CHECK_MS = 2_000;

/**
 * The pull consumers' request expiry: a pull left unanswered (its server died, the consumer's leader moved) is
 * noticed by the client after two missed idle heartbeats (half of this each) and pulled again — 5 s, not the
 * client's default 30 s.
 */
const PULL_EXPIRES_MS = 5_000;

/** How often, at most, a partition reader asks its data consumer how many messages are left (when asked itself). */
const LAG_ASK_MS = 1_000;

/** A partition reader's consumers are removed by the server after this long without a pull. */
const FRESH_CONSUMER_IDLE_MS = 60_000;

/**
 * An iterator whose next() may be waited for a limited time: a next() still pending when the wait ends is kept
 * for the next call, so no message is taken from the iterator and dropped.
 */
class PatientIterator<T> {
  private pending: Promise<IteratorResult<T>> | undefined;
  constructor(private readonly iterator: AsyncIterator<T>) {}

  /** The next result, or undefined when none came within `ms`. */
  async nextWithin(ms: number): Promise<IteratorResult<T> | undefined> {
    const pending = (this.pending ??= this.iterator.next());
    let timer: NodeJS.Timeout | undefined;
    try {
      const result = await Promise.race([
        pending,
        new Promise<undefined>((resolve) => (timer = setTimeout(() => resolve(undefined), ms))),
      ]);
      if (result !== undefined) this.pending = undefined;
      return result;
    } finally {
      clearTimeout(timer);
    }
  }
}

interface Pending {
  readonly msg: JsMsg;
  readonly epoch: number;
  readonly batch: number;
}

/**
 * The `nats` source: reads debezium-json change events from a JetStream stream through a durable pull consumer
 * that starts after the position in the sink's checkpoint. Messages a Tributary writer published are handed on
 * only with their batch's checkpoint message (orphans of a crashed writer are dropped); messages without
 * Tributary's headers (another producer) are handed on as they come.
 */
class NatsSource implements Source {
  private nc: NatsConnection | undefined;
  private js: JetStreamClient | undefined;
  private jsm: JetStreamManager | undefined;
  private messages: ConsumerMessages | undefined;
  /** With option `partition`: the consumer of the control subjects. */
  private control: ConsumerMessages | undefined;
  /** With option `partition`: this attempt's consumer names (data, control). */
  private dataConsumer = '';
  private controlConsumer = '';
  private readonly subjects: StreamSubjects;
  private readonly reader: LogChangeReader;
  private seq = 0;
  private lagMs = 0;
  /** With option `partition`: data messages taken from this attempt's data consumer. */
  private dataTaken = 0;
  /** With option `partition`: the partition's messages past what this reader took, as last asked; when. */
  private lagMessages: number | undefined;
  private lagAskedAt = 0;
  private closed = false;

  constructor(
    private readonly options: OptionValues,
    private readonly config: NatsSourceConfig,
    private readonly context: SourceContext,
  ) {
    this.subjects = streamSubjects(config.subjectPrefix, 1);
    this.reader = new LogChangeReader('debezium-json', context.include, context.exclude);
  }

  private async connect(): Promise<{ js: JetStreamClient; jsm: JetStreamManager }> {
    if (!this.nc) {
      this.nc = await natsConnect(
        this.options,
        'source',
        this.context.log,
        `tributary ${this.context.pipelineName} source`,
      );
      this.js = this.nc.jetstream();
      try {
        // Asks the server for the account's JetStream info: a request that times out while a server dies.
        this.jsm = await this.nc.jetstreamManager();
      } catch (error) {
        const nc = this.nc;
        this.nc = undefined;
        await nc.close().catch(() => undefined);
        throw classifyNatsError(error, 'source', 'reaching JetStream');
      }
    }
    return { js: this.js!, jsm: this.jsm! };
  }

  async validate(): Promise<SourceDescription> {
    const { jsm } = await this.connect();
    let info;
    try {
      info = await streamInfoWithLeader(jsm, this.config.stream, 'source');
    } catch (error) {
      throw classifyNatsError(error, 'source', `reading stream ${this.config.stream}`);
    }
    if (info === null) {
      throw new TributaryError('SOURCE_NO_TABLES', `stream ${this.config.stream} does not exist`, {
        hint: 'start the pipeline that writes it first, or correct source option `stream`',
      });
    }
    return {
      tables: [],
      checks: [
        `nats: stream ${this.config.stream} holds ${info.state.messages} messages (sequences ${info.state.first_seq}..${info.state.last_seq})`,
      ],
    };
  }

  async open(resume: SourcePosition | null): Promise<void> {
    const { js, jsm } = await this.connect();
    const position = resume as NatsPosition | null;
    if (position && position.stream !== this.config.stream) {
      throw new TributaryError(
        'PIPELINE_STATE_MISMATCH',
        `the checkpoint is a position in stream ${String(position.stream)}, the source reads ${this.config.stream}`,
        { hint: 'run with --reset to start over from the beginning of the stream' },
      );
    }
    this.seq = position?.seq ?? 0;
    this.dataTaken = 0;
    const partition = this.config.partition;
    try {
      if (partition === undefined) {
        this.messages = await this.consumer(js, jsm, this.config.durable, this.subjects.all);
      } else {
        // Two consumers in one sequence space: the partition's data subjects, and the control subjects (fence,
        // checkpoint: the only subjects with one token after the prefix).
        const prefix = this.config.subjectPrefix;
        // Consumers of their own per attempt (a fresh name, removed by the server once idle): re-creating a
        // durable means deleting the previous one first, a request that hangs while the server holding it is
        // dead or rejoining — the partition would stall in its retries until that server is back.
        const attempt = randomUUID().slice(0, 8);
        this.dataConsumer = `${this.config.durable}_${attempt}`;
        this.controlConsumer = `${this.config.durable}_ctl_${attempt}`;
        this.messages = await this.consumer(js, jsm, this.dataConsumer, `${prefix}.*.*.${partition}`, true);
        this.control = await this.consumer(js, jsm, this.controlConsumer, `${prefix}.*`, true);
      }
    } catch (error) {
      throw classifyNatsError(error, 'source', `opening a consumer on stream ${this.config.stream}`);
    }
    this.context.log.info(`reading stream ${this.config.stream} after sequence ${this.seq}`);
  }

  /** A durable consumer (re-created: its start is the position in the sink's checkpoint) of `filter`'s messages. */
  private async consumer(
    js: JetStreamClient,
    jsm: JetStreamManager,
    durable: string,
    filter: string,
    fresh = false,
  ): Promise<ConsumerMessages> {
    if (!fresh) {
      try {
        await jsm.consumers.delete(this.config.stream, durable);
      } catch (error) {
        if (jetStreamErrorCode(error) !== JS_CONSUMER_NOT_FOUND) throw error;
      }
    }
    await jsm.consumers.add(this.config.stream, {
      durable_name: durable,
      // A partition reader's own consumer: one replica, since it holds nothing worth replicating (made anew at
      // every open, from the sink's position) and a replicated one must elect a leader first — which can hang
      // while a server rejoins. If its server dies, the reader notices (no answer about it) and retries.
      ...(fresh ? { inactive_threshold: nanos(FRESH_CONSUMER_IDLE_MS), num_replicas: 1 } : {}),
      // No acks: the position lives in the sink's checkpoint, and acks would cap what is delivered before a
      // batch's checkpoint message arrives (max_ack_pending) — a batch may be larger than that.
      ack_policy: AckPolicy.None,
      filter_subject: filter,
      ...(this.seq > 0
        ? { deliver_policy: DeliverPolicy.StartSequence, opt_start_seq: this.seq + 1 }
        : { deliver_policy: DeliverPolicy.All }),
    });
    const consumer = await js.consumers.get(this.config.stream, durable);
    return await consumer.consume({ max_messages: this.config.fetchMaxMessages, expires: PULL_EXPIRES_MS });
  }

  batches(): AsyncIterable<ChangeBatch> {
    const messages = this.messages;
    if (!messages) throw new TributaryError('INTERNAL', 'batches() before open()');
    return this.classified(
      this.control && this.config.partition !== undefined
        ? this.partitionBatches(messages, this.control, this.config.partition)
        : this.streamBatches(messages),
    );
  }

  /**
   * `batches`, with the client's errors classified: a consumer's pull that times out or a connection lost while a
   * server dies is a retryable SOURCE_TIMEOUT / SOURCE_UNREACHABLE (the attempt re-creates the consumers after the
   * committed position), never an INTERNAL error that stops the pipeline.
   */
  private async *classified(batches: AsyncIterable<ChangeBatch>): AsyncIterable<ChangeBatch> {
    try {
      yield* batches;
    } catch (error) {
      throw classifyNatsError(error, 'source', `reading stream ${this.config.stream}`);
    }
  }

  /**
   * One key-hash partition: each checkpoint message (control consumer) says how many data messages of its batch
   * fall in this partition; exactly that many of the batch are taken from the data consumer, in sequence order.
   * Data messages before the checkpoint that belong to no committed batch are a crashed writer's orphans.
   */
  private async *partitionBatches(
    data: ConsumerMessages,
    control: ConsumerMessages,
    partition: number,
  ): AsyncIterable<ChangeBatch> {
    const dataMessages = new PatientIterator(data[Symbol.asyncIterator]());
    /** The stream sequence of the last data message received. */
    let lastData = this.seq;
    let last: { epoch: number; batch: number } | undefined;
    const controlMessages = new PatientIterator(control[Symbol.asyncIterator]());
    /** The stream sequence of the last control message received, and how many checks found the consumer stuck. */
    let lastControl = this.seq;
    let stuckChecks = 0;
    for (;;) {
      const next = await controlMessages.nextWithin(PARTITION_DATA_CHECK_MS);
      if (next?.done === true || this.closed) break;
      if (next === undefined) {
        // Nothing new, or a control message lost in flight, or a pull left unanswered while a server died:
        // waiting would be endless if the lost one was the last checkpoint message. The consumer's info tells.
        const state = await this.consumerState(this.controlConsumer);
        if (state !== undefined && state.deliveredSeq > lastControl) {
          throw new TributaryError(
            'SOURCE_TIMEOUT',
            `the control consumer of stream ${this.config.stream} delivered up to sequence ${state.deliveredSeq}, this reader received up to ${lastControl}`,
            {
              retryable: true,
              hint: 'retried from the last committed position (messages lost in flight to a server that died)',
            },
          );
        }
        // Pending messages not coming, or no answer about the consumer (no leader, gone with its server): stuck.
        stuckChecks = state === undefined || state.pending > 0 ? stuckChecks + 1 : 0;
        if (stuckChecks * PARTITION_DATA_CHECK_MS > 2 * PULL_EXPIRES_MS) {
          throw new TributaryError(
            'SOURCE_TIMEOUT',
            `the control consumer of stream ${this.config.stream} has ${state === undefined ? 'no answer about its state' : `${state.pending} messages pending`}, none delivered for ${(stuckChecks * PARTITION_DATA_CHECK_MS) / 1000} s`,
            {
              retryable: true,
              hint: 'retried from the last committed position (a JetStream server died, or the consumer moved)',
            },
          );
        }
        continue;
      }
      stuckChecks = 0;
      const msg = next.value;
      lastControl = msg.seq;
      const caughtUp = msg.info.pending === 0;
      if (msg.subject !== this.subjects.checkpoint) {
        if (caughtUp) yield { events: [], position: this.position(), caughtUp };
        continue;
      }
      const record = parseCheckpointRecord(msg.data);
      if (record.partitions === undefined && record.count > 0) {
        throw new TributaryError(
          'CONFIG_INVALID',
          `checkpoint message ${msg.seq} of stream ${this.config.stream} has no partition counts: the stream was not written with partitions`,
          { hint: 'read this stream without source option `partition`, or write it with sink option `partitions` > 1' },
        );
      }
      // A checkpoint message lost in flight would make its batch's data look like orphans: the writer numbers
      // its batches 1, 2, 3… per epoch, so a gap is seen and the attempt re-reads from the committed position.
      if (record.epoch > 0 && last !== undefined) {
        const expected = record.epoch === last.epoch ? last.batch + 1 : 1;
        if (record.batch !== expected) {
          throw new TributaryError(
            'SOURCE_TIMEOUT',
            `checkpoint message ${msg.seq} of stream ${this.config.stream} is batch ${record.epoch}.${record.batch}, batch ${record.epoch}.${expected} was not delivered`,
            { retryable: true, hint: 'retried from the last committed position' },
          );
        }
      }
      if (record.epoch > 0) last = { epoch: record.epoch, batch: record.batch };
      const need = record.partitions?.[partition] ?? 0;
      const events: ChangeEvent[] = [];
      const waitingSince = Date.now();
      for (let got = 0; got < need;) {
        const next = await dataMessages.nextWithin(PARTITION_DATA_CHECK_MS);
        if (next?.done === true || this.closed) return;
        if (next === undefined) {
          // Slow, or lost: the server sent data messages this reader never received (in flight to a server that
          // died; with no acks they are not redelivered) — then waiting longer is useless.
          const lost = await this.dataSentAfter(lastData);
          if (!lost && Date.now() - waitingSince < PARTITION_DATA_WAIT_MS) continue;
        }
        if (next === undefined || next.value.seq > msg.seq) {
          // The batch's data are all in the stream before its checkpoint message, so they are missing from what
          // the consumer delivered. Retried: the attempt re-creates the consumers after the last committed
          // position and reads them again.
          throw new TributaryError(
            'SOURCE_TIMEOUT',
            `checkpoint message ${msg.seq} of stream ${this.config.stream} announces ${need} messages in partition ${partition}, ${got} were delivered${next === undefined ? ` within ${Math.round((Date.now() - waitingSince) / 1000)} s` : ''}`,
            {
              retryable: true,
              hint: 'retried from the last committed position; if it repeats, the stream lost messages (limits, or deleted by hand): run the capture again with --reset',
            },
          );
        }
        const m = next.value;
        lastData = m.seq;
        this.dataTaken++;
        if (
          Number(m.headers?.get(HEADER_EPOCH)) === record.epoch &&
          Number(m.headers?.get(HEADER_BATCH)) === record.batch
        ) {
          this.decode(m, events);
          got++;
        }
      }
      this.seq = msg.seq;
      yield { events, position: this.position(), caughtUp };
    }
  }

  /**
   * Whether the partition's data consumer says it delivered a message after stream sequence `seq` (which this
   * reader never received). False when its info cannot be had (a server dying): the caller waits on.
   */
  private async dataSentAfter(seq: number): Promise<boolean> {
    const state = await this.consumerState(this.dataConsumer);
    return state !== undefined && state.deliveredSeq > seq;
  }

  /** The stream sequence a consumer delivered last and how many messages it has pending; undefined when unknown. */
  private async consumerState(durable: string): Promise<{ deliveredSeq: number; pending: number } | undefined> {
    try {
      const info = await this.jsm!.consumers.info(this.config.stream, durable);
      return { deliveredSeq: info.delivered.stream_seq, pending: info.num_pending };
    } catch (error) {
      this.context.log.debug(`consumer info of ${durable}: ${String(error)}`);
      return undefined;
    }
  }

  private async *streamBatches(messages: ConsumerMessages): AsyncIterable<ChangeBatch> {
    let pending: Pending[] = [];
    let foreign: ChangeEvent[] = [];
    let last: JsMsg | undefined;
    this.context.log.debug(`consuming ${this.config.stream} with durable ${this.config.durable}`);
    for await (const msg of messages) {
      if (this.closed) break;
      last = msg;
      const caughtUp = msg.info.pending === 0;
      if (msg.subject === this.subjects.fence) {
        pending = []; // a new writer: whatever the previous one left without a checkpoint is not committed
        if (caughtUp) yield { events: [], position: this.position(), caughtUp };
        continue;
      }
      if (msg.subject === this.subjects.checkpoint) {
        const record = parseCheckpointRecord(msg.data);
        const batch = pending.filter((p) => p.epoch === record.epoch && p.batch === record.batch);
        pending = [];
        if (batch.length !== record.count) {
          throw new TributaryError(
            'FORMAT_DECODE_FAILED',
            `checkpoint message ${msg.seq} of stream ${this.config.stream} announces ${record.count} messages, ${batch.length} were read`,
            {
              hint: 'the stream lost messages (limits, or messages deleted by hand); run the writing pipeline again with --reset',
            },
          );
        }
        const events: ChangeEvent[] = [];
        for (const p of batch) this.decode(p.msg, events);
        this.seq = msg.seq;
        this.context.log.debug(
          `batch ${record.epoch}.${record.batch}: ${batch.length} messages, checkpoint at ${msg.seq}`,
        );
        yield { events, position: this.position(), caughtUp };
        continue;
      }
      const epoch = msg.headers?.get(HEADER_EPOCH);
      if (epoch) {
        pending.push({ msg, epoch: Number(epoch), batch: Number(msg.headers?.get(HEADER_BATCH)) });
        // Nothing more in the stream: what is pending waits for its checkpoint (or never gets one).
        if (caughtUp) yield { events: [], position: this.position(), caughtUp };
        continue;
      }
      // Another producer's message (e.g. Debezium Server): committed as soon as it is in the stream.
      this.decode(msg, foreign);
      if (caughtUp || foreign.length >= this.config.fetchMaxMessages) {
        this.seq = msg.seq;
        yield { events: foreign, position: this.position(), caughtUp };
        foreign = [];
      }
    }
    if (last && foreign.length > 0) {
      this.seq = last.seq;
      yield { events: foreign, position: this.position(), caughtUp: true };
    }
  }

  private decode(msg: JsMsg, out: ChangeEvent[]): void {
    const value = msg.data.length === 0 ? null : Buffer.from(msg.data).toString('utf8');
    const key = msg.headers?.get(HEADER_KEY) || null;
    this.reader.read(value, key, `${this.config.stream}:${String(msg.seq).padStart(20, '0')}`, out);
    const tsMs = this.reader.lastSourceTsMs;
    if (tsMs > 0) this.lagMs = Math.max(0, Date.now() - tsMs);
  }

  private position(): NatsPosition {
    return { stream: this.config.stream, seq: this.seq };
  }

  progress(): SourceProgress {
    if (this.config.partition !== undefined) this.askLag();
    return {
      phase: 'streaming',
      snapshotTablesDone: 0,
      snapshotTablesTotal: 0,
      snapshotRowsRead: 0,
      logPosition: `${this.config.stream}:${this.seq}`,
      lagMs: this.lagMs,
      ...(this.lagMessages === undefined ? {} : { lagMessages: this.lagMessages }),
    };
  }

  /**
   * Refreshes {@link lagMessages} in the background, at most every {@link LAG_ASK_MS} and only when someone reads
   * the progress: the data consumer's messages not yet delivered plus those delivered but not yet taken by this
   * reader (its consumer sequence counts deliveries: no acks, so no redeliveries). One consumer-info request.
   */
  private askLag(): void {
    const now = Date.now();
    if (now - this.lagAskedAt < LAG_ASK_MS || !this.jsm || this.dataConsumer === '') return;
    this.lagAskedAt = now;
    const consumer = this.dataConsumer;
    const taken = this.dataTaken;
    this.jsm.consumers.info(this.config.stream, consumer).then(
      (info) => {
        if (consumer !== this.dataConsumer) return; // a new attempt since
        this.lagMessages = info.num_pending + Math.max(0, info.delivered.consumer_seq - taken);
      },
      (error: unknown) => this.context.log.debug(`consumer info of ${consumer}: ${String(error)}`),
    );
  }

  async close(): Promise<void> {
    this.closed = true;
    const messages = this.messages;
    const control = this.control;
    this.messages = undefined;
    this.control = undefined;
    const nc = this.nc;
    this.nc = undefined;
    // stop(), not close(): close() waits for the pull in flight, which a consumer with nothing to deliver never ends.
    messages?.stop();
    control?.stop();
    // A connection to a server that just died may fail to close cleanly: nothing of it is needed any more.
    await nc
      ?.close()
      .catch((error: unknown) => this.context.log.debug(`closing the NATS connection: ${String(error)}`));
  }
}
