import {
  AckPolicy,
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

/** The iterator's next result, or undefined when none came within `ms` (the pending next() is left running). */
async function nextWithin<T>(iterator: AsyncIterator<T>, ms: number): Promise<IteratorResult<T> | undefined> {
  let timer: NodeJS.Timeout | undefined;
  try {
    return await Promise.race([
      iterator.next(),
      new Promise<undefined>((resolve) => (timer = setTimeout(() => resolve(undefined), ms))),
    ]);
  } finally {
    clearTimeout(timer);
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
  private readonly subjects: StreamSubjects;
  private readonly reader: LogChangeReader;
  private seq = 0;
  private lagMs = 0;
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
      this.jsm = await this.nc.jetstreamManager();
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
    const partition = this.config.partition;
    try {
      if (partition === undefined) {
        this.messages = await this.consumer(js, jsm, this.config.durable, this.subjects.all);
      } else {
        // Two consumers in one sequence space: the partition's data subjects, and the control subjects (fence,
        // checkpoint: the only subjects with one token after the prefix).
        const prefix = this.config.subjectPrefix;
        this.messages = await this.consumer(js, jsm, this.config.durable, `${prefix}.*.*.${partition}`);
        this.control = await this.consumer(js, jsm, `${this.config.durable}_ctl`, `${prefix}.*`);
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
  ): Promise<ConsumerMessages> {
    try {
      await jsm.consumers.delete(this.config.stream, durable);
    } catch (error) {
      if (jetStreamErrorCode(error) !== JS_CONSUMER_NOT_FOUND) throw error;
    }
    await jsm.consumers.add(this.config.stream, {
      durable_name: durable,
      // No acks: the position lives in the sink's checkpoint, and acks would cap what is delivered before a
      // batch's checkpoint message arrives (max_ack_pending) — a batch may be larger than that.
      ack_policy: AckPolicy.None,
      filter_subject: filter,
      ...(this.seq > 0
        ? { deliver_policy: DeliverPolicy.StartSequence, opt_start_seq: this.seq + 1 }
        : { deliver_policy: DeliverPolicy.All }),
    });
    const consumer = await js.consumers.get(this.config.stream, durable);
    return await consumer.consume({ max_messages: this.config.fetchMaxMessages });
  }

  batches(): AsyncIterable<ChangeBatch> {
    const messages = this.messages;
    if (!messages) throw new TributaryError('INTERNAL', 'batches() before open()');
    return this.control && this.config.partition !== undefined
      ? this.partitionBatches(messages, this.control, this.config.partition)
      : this.streamBatches(messages);
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
    const dataMessages = data[Symbol.asyncIterator]();
    let last: { epoch: number; batch: number } | undefined;
    for await (const msg of control) {
      if (this.closed) break;
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
      for (let got = 0; got < need;) {
        const next = await nextWithin(dataMessages, PARTITION_DATA_WAIT_MS);
        if (next?.done === true || this.closed) return;
        if (next === undefined || next.value.seq > msg.seq) {
          // The batch's data are all in the stream before its checkpoint message, so they are missing from what
          // the consumer delivered: with no acks, messages in flight to a server that died are not redelivered.
          // Retried: the attempt re-creates the consumers after the last committed position and reads them again.
          throw new TributaryError(
            'SOURCE_TIMEOUT',
            `checkpoint message ${msg.seq} of stream ${this.config.stream} announces ${need} messages in partition ${partition}, ${got} were delivered${next === undefined ? ` within ${PARTITION_DATA_WAIT_MS / 1000} s` : ''}`,
            {
              retryable: true,
              hint: 'retried from the last committed position; if it repeats, the stream lost messages (limits, or deleted by hand): run the capture again with --reset',
            },
          );
        }
        const m = next.value;
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
    return {
      phase: 'streaming',
      snapshotTablesDone: 0,
      snapshotTablesTotal: 0,
      snapshotRowsRead: 0,
      logPosition: `${this.config.stream}:${this.seq}`,
      lagMs: this.lagMs,
    };
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
    await nc?.close();
  }
}
