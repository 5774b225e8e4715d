import { randomUUID } from 'node:crypto';
import {
  AckPolicy,
  nanos,
  NatsError,
  type ConsumerConfig,
  type ConsumerInfo,
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
import type { Logger } from '../../core/logger.js';
import { natsConnect } from './nats-connection.js';
import {
  classifyNatsError,
  jetStreamErrorCode,
  JS_CONSUMER_NOT_FOUND,
  JS_NO_MESSAGE_FOUND,
  streamInfoWithLeader,
} from './nats-errors.js';
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

/** How long a partition reader waits for its next message before it asks its consumer what it sent. */
const PARTITION_CHECK_MS = 2_000;

/**
 * From the first check of a quiet spell (so about 10 s after the last message): how long a partition reader
 * waits on a consumer that cannot say what it sent (its one replica's server died, no leader), that keeps
 * messages pending without delivering them (its pull lost), or — waiting for a batch's data, which are in the
 * stream already — that delivers nothing, before it re-creates its consumers from the committed position.
 */
const PARTITION_STUCK_MS = 8_000;

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

/** How often a partition reader makes a consumer again whose server lags behind or does not answer. */
const FRESH_CONSUMER_ATTEMPTS = 4;

/**
 * The timeout of a partition reader's requests about its own consumers (create, info): they take milliseconds
 * when their server runs; one placed on a server that just died never answers.
 */
const QUICK_REQUEST_MS = 2_500;

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

/** What a consumer's info tells about it. */
interface ConsumerState {
  /**
   * Messages it delivered (its consumer sequence: what tells a loss), and how far in the stream it got — past
   * the last one delivered when it skipped messages outside its filter, so no measure of what was sent.
   */
  readonly delivered: number;
  readonly deliveredSeq: number;
  readonly ackPending: number;
  /** Messages of its filter in the stream not yet delivered. */
  readonly pending: number;
  /** Pull requests of the client waiting at the server. */
  readonly waiting: number;
}

/** Why a partition reader gives up on its consumers: `lost` messages get one more wait first. */
interface ConsumerVerdict {
  readonly lost: boolean;
  readonly error: TributaryError;
}

/**
 * One of a partition reader's consumers (data or control), asked about itself after each quiet spell. Its
 * verdict: messages `lost` when it delivered more than the reader received (in flight to a server that died;
 * with no acks they are never redelivered), stuck when for {@link PARTITION_STUCK_MS} it could not say what it
 * sent, kept messages pending without delivering them, or — with `expecting` — delivered nothing at all; else
 * none (wait on). Every check is logged at debug level: a lost message and a starved client look different.
 */
class ConsumerWatch {
  /** Messages received (the consumer sequence of the last one) and the stream sequence of the last one. */
  private received = 0;
  private receivedSeq: number;
  /** When a check first found the consumer stuck, in this quiet spell. */
  private stuckSince: number | undefined;

  constructor(
    private readonly jsm: () => JetStreamManager,
    private readonly stream: string,
    private readonly name: string,
    private readonly role: 'data' | 'control',
    private readonly log: Logger,
    startSeq: number,
  ) {
    this.receivedSeq = startSeq;
  }

  /** The stream sequence of the last message received (the start position before any). */
  get lastSeq(): number {
    return this.receivedSeq;
  }

  /**
   * `msg` came: false when it is one received already (a consumer restored on a restarted server may deliver
   * again what it had delivered before its state was saved), which the reader skips.
   */
  took(msg: JsMsg): boolean {
    this.stuckSince = undefined;
    this.received = Math.max(this.received, msg.info.deliverySequence);
    if (msg.seq <= this.receivedSeq) {
      this.log.debug(
        `${this.role} consumer ${this.name}: message ${msg.seq} again (received up to ${this.receivedSeq}), skipped`,
      );
      return false;
    }
    this.receivedSeq = msg.seq;
    return true;
  }

  /**
   * After a quiet spell. `expecting` says whether messages must come although the consumer has none pending: a
   * batch's data (in the stream before its checkpoint message), or a checkpoint message the stream's leader
   * holds after the last one received — a consumer on a server whose copy of the stream lags (just restarted)
   * can see nothing to deliver for long.
   */
  async check(expecting: () => Promise<boolean>): Promise<ConsumerVerdict | undefined> {
    const asked = Date.now();
    const state = await this.state();
    this.log.debug(
      `${this.role} consumer ${this.name}: ${
        state === undefined
          ? 'no answer about its state'
          : `delivered ${state.delivered} messages (up to sequence ${state.deliveredSeq}), ${state.ackPending} ack-pending, ${state.pending} pending, ${state.waiting} pulls waiting`
      }; received ${this.received} (up to sequence ${this.receivedSeq})`,
    );
    if (state !== undefined && state.delivered > this.received) {
      return {
        lost: true,
        error: new TributaryError(
          'SOURCE_TIMEOUT',
          `the ${this.role} consumer of stream ${this.stream} delivered ${state.delivered} messages (up to sequence ${state.deliveredSeq}), this reader received ${this.received} (up to sequence ${this.receivedSeq})`,
          {
            retryable: true,
            hint: 'retried from the last committed position (messages lost in flight to a server that died)',
          },
        ),
      };
    }
    if (state !== undefined && state.deliveredSeq < this.receivedSeq) {
      // Its server's copy of the stream ends before what this reader received: nothing comes until it caught up.
      return {
        lost: false,
        error: new TributaryError(
          'SOURCE_TIMEOUT',
          `the ${this.role} consumer of stream ${this.stream} is on a server whose copy of the stream ends at sequence ${state.deliveredSeq}, this reader is at ${this.receivedSeq}`,
          { retryable: true, hint: 'retried with new consumers (a JetStream server restarted and is catching up)' },
        ),
      };
    }
    if (state !== undefined && state.pending === 0 && !(await expecting())) {
      this.stuckSince = undefined; // nothing to deliver: a quiet stream
      return undefined;
    }
    this.stuckSince ??= asked;
    const stuckMs = Date.now() - this.stuckSince;
    if (stuckMs < PARTITION_STUCK_MS) return undefined;
    const why =
      state === undefined
        ? 'no answer about its state'
        : state.pending > 0
          ? `${state.pending} messages pending, none delivered`
          : this.role === 'data'
            ? 'delivered nothing of the batch it is waiting for'
            : `nothing pending while the stream holds checkpoint messages after sequence ${this.receivedSeq}`;
    return {
      lost: false,
      error: new TributaryError(
        'SOURCE_TIMEOUT',
        `the ${this.role} consumer of stream ${this.stream} has ${why} for ${Math.round((stuckMs + PARTITION_CHECK_MS) / 1000)} s`,
        {
          retryable: true,
          hint: 'retried from the last committed position with new consumers (a JetStream server died, or the consumer moved); if it repeats, the stream lost messages (limits, or deleted by hand): run the capture again with --reset',
        },
      ),
    };
  }

  private async state(): Promise<ConsumerState | undefined> {
    try {
      const info = await this.jsm().consumers.info(this.stream, this.name);
      return {
        delivered: info.delivered.consumer_seq,
        deliveredSeq: info.delivered.stream_seq,
        ackPending: info.num_ack_pending,
        pending: info.num_pending,
        waiting: info.num_waiting,
      };
    } catch (error) {
      this.log.debug(`consumer info of ${this.name}: ${String(error)}`);
      return undefined;
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
  /** The same, with a short request timeout: a partition reader's questions about its own consumers. */
  private quickJsm: JetStreamManager | undefined;
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
        this.quickJsm = await this.nc.jetstreamManager({ timeout: QUICK_REQUEST_MS, checkAPI: false });
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
        await this.checkCommittedPosition(this.quickJsm!, partition);
        const prefix = this.config.subjectPrefix;
        // Consumers of their own per attempt (a fresh name, removed by the server once idle): re-creating a
        // durable means deleting the previous one first, a request that hangs while the server holding it is
        // dead or rejoining — the partition would stall in its retries until that server is back.
        this.dataConsumer = await this.freshConsumer(this.quickJsm!, this.config.durable, `${prefix}.*.*.${partition}`);
        this.messages = await this.consume(js, this.dataConsumer);
        this.controlConsumer = await this.freshConsumer(this.quickJsm!, `${this.config.durable}_ctl`, `${prefix}.*`);
        this.control = await this.consume(js, this.controlConsumer);
      }
    } catch (error) {
      throw classifyNatsError(error, 'source', `opening a consumer on stream ${this.config.stream}`);
    }
    this.context.log.info(`reading stream ${this.config.stream} after sequence ${this.seq}`);
  }

  /**
   * A partition reader commits only positions of checkpoint messages. If the stream holds something else at the
   * committed position now, it lost messages the writer had published and acknowledged — with `replicas: 3`,
   * JetStream elected a server whose copy of the stream was behind (seen when the leader died while a restarted
   * server was still catching up) — and the capture, resuming from the last checkpoint left, numbered new
   * messages in their place. Reading on after the position would skip some of those and never complete a batch
   * that straddles it (retried forever, the partition stalled): so this fails for good, saying why.
   */
  private async checkCommittedPosition(jsm: JetStreamManager, partition: number): Promise<void> {
    if (this.seq === 0) return;
    let found: string;
    try {
      const message = await jsm.streams.getMessage(this.config.stream, { seq: this.seq });
      if (message.subject === this.subjects.checkpoint) return;
      found = `a message on ${message.subject}`;
    } catch (error) {
      if (jetStreamErrorCode(error) !== JS_NO_MESSAGE_FOUND) throw error;
      found = 'no message';
    }
    throw new TributaryError(
      'PIPELINE_STATE_MISMATCH',
      `partition ${partition} committed up to the checkpoint message at sequence ${this.seq} of stream ${this.config.stream}, and the stream now holds ${found} there: it lost messages after they were acknowledged (a JetStream server whose copy was behind became the leader, or limits or a purge removed them), and later ones may have been numbered in their place`,
      {
        hint: 'the target may differ from the source: start the scale-out over (docs/scale-out.md, "To start over": a new stream, the capture with --reset)',
      },
    );
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
    await jsm.consumers.add(this.config.stream, this.consumerConfig(durable, filter));
    return await this.consume(js, durable);
  }

  /**
   * A partition reader's own consumer of `filter`'s messages, named `<prefix>_<random>`: one replica, since it
   * holds nothing worth replicating (made anew at every open, from the sink's position) and a replicated one
   * must elect a leader first — which can hang while a server rejoins. If its server dies, the reader notices
   * (no answer about it) and retries. The server holding it is picked by JetStream among the stream's; one
   * whose copy of the stream ends before the position (restarted, still catching up — which can take a minute)
   * has nothing to deliver until it caught up: such a consumer is deleted and made again, up to 4 times.
   */
  private async freshConsumer(jsm: JetStreamManager, prefix: string, filter: string): Promise<string> {
    for (let attempt = 1; ; attempt++) {
      const name = `${prefix}_${randomUUID().slice(0, 8)}`;
      let info: ConsumerInfo;
      try {
        info = await jsm.consumers.add(this.config.stream, {
          ...this.consumerConfig(name, filter),
          inactive_threshold: nanos(FRESH_CONSUMER_IDLE_MS),
          num_replicas: 1,
        });
      } catch (error) {
        // Placed on a server that died (JetStream has not noticed yet): its server never answers. Another one
        // (removed by the server once idle should it appear after all).
        if (!(error instanceof NatsError && error.code === 'TIMEOUT') || attempt >= FRESH_CONSUMER_ATTEMPTS) {
          throw error;
        }
        this.context.log.debug(`creating consumer ${name}: no answer within ${QUICK_REQUEST_MS} ms; another one`);
        continue;
      }
      // A new consumer has "delivered" up to the sequence before its start, or up to its server's last one.
      const end = info.delivered.stream_seq;
      if (end >= this.seq || attempt >= FRESH_CONSUMER_ATTEMPTS) return name;
      this.context.log.debug(
        `consumer ${name} on ${info.cluster?.leader ?? '?'}: its server's copy of stream ${this.config.stream} ends at sequence ${end}, before position ${this.seq}; making another one`,
      );
      await jsm.consumers.delete(this.config.stream, name).catch((error: unknown) => {
        this.context.log.debug(`deleting consumer ${name}: ${String(error)}`);
      });
    }
  }

  private consumerConfig(durable: string, filter: string): Partial<ConsumerConfig> {
    return {
      durable_name: durable,
      // No acks: the position lives in the sink's checkpoint, and acks would cap what is delivered before a
      // batch's checkpoint message arrives (max_ack_pending) — a batch may be larger than that.
      ack_policy: AckPolicy.None,
      filter_subject: filter,
      ...(this.seq > 0
        ? { deliver_policy: DeliverPolicy.StartSequence, opt_start_seq: this.seq + 1 }
        : { deliver_policy: DeliverPolicy.All }),
    };
  }

  private async consume(js: JetStreamClient, durable: string): Promise<ConsumerMessages> {
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
    const jsm = () => this.quickJsm!;
    const { stream } = this.config;
    const log = this.context.log;
    const dataMessages = new PatientIterator(data[Symbol.asyncIterator]());
    const dataWatch = new ConsumerWatch(jsm, stream, this.dataConsumer, 'data', log, this.seq);
    const controlMessages = new PatientIterator(control[Symbol.asyncIterator]());
    const controlWatch = new ConsumerWatch(jsm, stream, this.controlConsumer, 'control', log, this.seq);
    let last: { epoch: number; batch: number } | undefined;
    for (;;) {
      // Nothing new, or a control message lost in flight, or a pull left unanswered while a server died:
      // waiting would be endless if the lost one was the last checkpoint message. The consumer's info tells.
      const next = await this.nextChecked(controlMessages, controlWatch, () =>
        this.checkpointAfter(controlWatch.lastSeq),
      );
      if (next?.done === true || this.closed) break;
      if (next === undefined || !controlWatch.took(next.value)) continue;
      const msg = next.value;
      const caughtUp = msg.info.pending === 0;
      if (msg.subject !== this.subjects.checkpoint) {
        if (caughtUp) yield { events: [], position: this.position(), caughtUp };
        continue;
      }
      const record = parseCheckpointRecord(msg.data);
      if (record.partitions === undefined && record.count > 0) {
        throw new TributaryError(
          'CONFIG_INVALID',
          `checkpoint message ${msg.seq} of stream ${stream} has no partition counts: the stream was not written with partitions`,
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
            `checkpoint message ${msg.seq} of stream ${stream} is batch ${record.epoch}.${record.batch}, batch ${record.epoch}.${expected} was not delivered`,
            { retryable: true, hint: 'retried from the last committed position' },
          );
        }
      }
      if (record.epoch > 0) last = { epoch: record.epoch, batch: record.batch };
      const need = record.partitions?.[partition] ?? 0;
      const events: ChangeEvent[] = [];
      for (let got = 0; got < need;) {
        // Slow, or lost (in flight to a server that died; with no acks never redelivered), or a consumer stuck:
        // the batch's data are in the stream already, so the consumer's info tells which.
        const next = await this.nextChecked(dataMessages, dataWatch, () => Promise.resolve(true));
        if (next?.done === true || this.closed) return;
        if (next === undefined || !dataWatch.took(next.value)) continue;
        const m = next.value;
        if (m.seq > msg.seq) {
          // The batch's data are all in the stream before its checkpoint message, so they are missing from what
          // the consumer delivered. Retried: the attempt re-creates the consumers after the last committed
          // position and reads them again.
          throw new TributaryError(
            'SOURCE_TIMEOUT',
            `checkpoint message ${msg.seq} of stream ${stream} announces ${need} messages in partition ${partition}, ${got} were delivered before message ${m.seq}`,
            {
              retryable: true,
              hint: 'retried from the last committed position; if it repeats, the stream lost messages (limits, or deleted by hand): run the capture again with --reset',
            },
          );
        }
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
   * The next message of a partition reader's consumer, or undefined after a quiet spell its info explains (wait
   * on); throws a retryable SOURCE_TIMEOUT when it does not (see {@link ConsumerWatch}). Messages it reports sent
   * but not received get one more wait first: its answer can overtake messages it delivered just before.
   */
  private async nextChecked(
    messages: PatientIterator<JsMsg>,
    watch: ConsumerWatch,
    expecting: () => Promise<boolean>,
  ): Promise<IteratorResult<JsMsg> | undefined> {
    const next = await messages.nextWithin(PARTITION_CHECK_MS);
    if (next !== undefined || this.closed) return next;
    const verdict = await watch.check(expecting);
    if (verdict === undefined) return undefined;
    if (verdict.lost) {
      const late = await messages.nextWithin(PARTITION_CHECK_MS);
      if (late !== undefined) {
        this.context.log.debug(`the messages after sequence ${watch.lastSeq} were late, not lost`);
        return late;
      }
    }
    throw verdict.error;
  }

  /** Whether the stream's leader holds a checkpoint message after sequence `seq`; false when it cannot say. */
  private async checkpointAfter(seq: number): Promise<boolean> {
    try {
      const last = await this.quickJsm!.streams.getMessage(this.config.stream, {
        last_by_subj: this.subjects.checkpoint,
      });
      this.context.log.debug(`the stream's last checkpoint message is ${last.seq}`);
      return last.seq > seq;
    } catch (error) {
      if (jetStreamErrorCode(error) !== JS_NO_MESSAGE_FOUND) {
        this.context.log.debug(`the stream's last checkpoint message: ${String(error)}`);
      }
      return false;
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
