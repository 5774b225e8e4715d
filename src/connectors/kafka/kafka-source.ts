import type { Admin, Consumer, EachBatchPayload, Kafka } from 'kafkajs';
import type { ChangeEvent } from '../../core/change-event.js';
import { TributaryError } from '../../core/errors.js';
import type { OptionValues } from '../../core/option-spec.js';
import type { ChangeBatch, Source, SourceDescription, SourcePosition, SourceProgress } from '../../core/source.js';
import { LogChangeReader } from '../log-kit/log-change-reader.js';
import type { SourceContext } from '../../core/connector.js';
import { kafkaClient } from './kafka-connection.js';
import { classifyKafkaError } from './kafka-errors.js';
import { Handoff } from './kafka-handoff.js';
import { kafkaSourceConfig, type KafkaSourceConfig } from './kafka-source-config.js';

/**
 * Where a `kafka` source resumes: per `topic:partition`, the offset of the next record to read. It is stored in
 * the sink's checkpoint transaction, never committed to Kafka as the truth.
 */
export type KafkaPosition = {
  readonly offsets: { readonly [topicPartition: string]: string };
};

/** How long eachBatch waits for the pipeline before it heartbeats again (the group's session must not expire). */
const HEARTBEAT_WHILE_WAITING_MS = 3_000;

export function kafkaSource(options: OptionValues, context: SourceContext): Source {
  if (typeof options['sasl.password'] === 'string') context.log.addSecret(options['sasl.password']);
  return new KafkaSource(options, kafkaSourceConfig(options, context.pipelineName), context);
}

/**
 * The `kafka` source: reads debezium-json or canal-json change events from topics with a read_committed
 * consumer (records of aborted or open transactions are never seen), hands each fetched batch on with the
 * offsets after it, and starts from the offsets in the sink's checkpoint — records before them are dropped
 * even if the consumer was positioned earlier.
 */
class KafkaSource implements Source {
  private kafka: Kafka | undefined;
  private admin: Admin | undefined;
  private consumer: Consumer | undefined;
  private readonly reader: LogChangeReader;
  private readonly handoff = new Handoff<ChangeBatch>();
  private offsets: Record<string, string> = {};
  private lagMs = 0;
  private topics: string[] = [];

  constructor(
    private readonly options: OptionValues,
    private readonly config: KafkaSourceConfig,
    private readonly context: SourceContext,
  ) {
    this.reader = new LogChangeReader(config.format, context.include, context.exclude);
  }

  private async connect(): Promise<{ kafka: Kafka; admin: Admin }> {
    if (!this.kafka || !this.admin) {
      const kafka = kafkaClient(
        this.options,
        'source',
        this.context.log,
        `tributary-${this.context.pipelineName}-source`,
      );
      const admin = kafka.admin();
      try {
        await admin.connect();
      } catch (error) {
        throw classifyKafkaError(error, 'source', 'connecting to Kafka');
      }
      this.kafka = kafka;
      this.admin = admin;
    }
    return { kafka: this.kafka, admin: this.admin };
  }

  /** The topics to read: option `topic`, or those matching `topic-pattern` now (never a checkpoint topic). */
  private async resolveTopics(admin: Admin): Promise<string[]> {
    const existing = await admin.listTopics();
    if (this.config.topicPattern) {
      const pattern = this.config.topicPattern;
      return existing.filter((t) => !t.startsWith('_tributary.') && pattern.test(t)).sort();
    }
    const missing = this.config.topics.filter((t) => !existing.includes(t));
    if (missing.length > 0) {
      throw new TributaryError('SOURCE_NO_TABLES', `topic ${missing.join(', ')} does not exist`, {
        hint: 'start the pipeline that writes it first, or correct source option `topic`',
      });
    }
    return [...this.config.topics];
  }

  async validate(): Promise<SourceDescription> {
    if (this.config.topics.length === 0 && !this.config.topicPattern) {
      throw new TributaryError('CONFIG_INVALID', 'the kafka source needs option `topic` or `topic-pattern`', {
        hint: 'write source option topic: mydb.orders;mydb.items, or topic-pattern: mydb\\..*',
      });
    }
    const { admin } = await this.connect();
    try {
      const topics = await this.resolveTopics(admin);
      if (topics.length === 0) {
        throw new TributaryError('SOURCE_NO_TABLES', `no topic matches ${String(this.config.topicPattern)}`, {
          hint: 'correct source option `topic-pattern`',
        });
      }
      return { tables: [], checks: [`kafka: reading topics ${topics.join(', ')} (read_committed)`] };
    } catch (error) {
      throw classifyKafkaError(error, 'source', 'listing topics');
    }
  }

  async open(resume: SourcePosition | null): Promise<void> {
    await this.validate();
    const { kafka, admin } = await this.connect();
    const position = resume as KafkaPosition | null;
    if (position && typeof position.offsets !== 'object') {
      throw new TributaryError('PIPELINE_STATE_MISMATCH', 'the checkpoint is not a position of a kafka source', {
        hint: 'run with --reset to start over',
      });
    }
    this.offsets = { ...(position?.offsets ?? {}) };
    this.topics = await this.resolveTopics(admin);
    // Every partition without a position starts where scan.startup.mode says, noted now, so that the first
    // checkpoint holds it: a restart then never falls back on the group's offsets (which kafkajs may commit).
    try {
      for (const topic of this.topics) {
        for (const p of await admin.fetchTopicOffsets(topic)) {
          this.offsets[`${topic}:${p.partition}`] ??= this.config.fromBeginning ? p.low : p.high;
        }
      }
    } catch (error) {
      throw classifyKafkaError(error, 'source', `reading the offsets of ${this.topics.join(', ')}`);
    }
    const consumer = kafka.consumer({
      groupId: this.config.groupId,
      readUncommitted: false,
      allowAutoTopicCreation: false,
    });
    this.consumer = consumer;
    try {
      await consumer.connect();
      await consumer.subscribe({ topics: this.topics, fromBeginning: this.config.fromBeginning });
      // On every assignment, start each partition at its position (the group's own offsets are not the truth).
      // eachBatch drops what lies before it in any case.
      consumer.on(consumer.events.GROUP_JOIN, (event) => {
        for (const [topic, partitions] of Object.entries(event.payload.memberAssignment)) {
          for (const partition of partitions) {
            const offset = this.offsets[`${topic}:${partition}`];
            if (offset !== undefined) consumer.seek({ topic, partition, offset });
          }
        }
      });
      consumer.on(consumer.events.CRASH, (event) => {
        if (!event.payload.restart) this.handoff.fail(classifyKafkaError(event.payload.error, 'source', 'consuming'));
      });
      await consumer.run({
        autoCommit: false,
        eachBatchAutoResolve: false,
        eachBatch: (payload) => this.onBatch(payload),
      });
    } catch (error) {
      throw classifyKafkaError(error, 'source', `consuming ${this.topics.join(', ')}`);
    }
    this.context.log.info(`reading topics ${this.topics.join(', ')} as consumer group ${this.config.groupId}`);
  }

  private async onBatch(payload: EachBatchPayload): Promise<void> {
    const { batch } = payload;
    const key = `${batch.topic}:${batch.partition}`;
    const from = BigInt(this.offsets[key] ?? '0');
    const events: ChangeEvent[] = [];
    let next: bigint | undefined;
    let seen: string | undefined;
    for (const message of batch.messages) {
      if (!payload.isRunning() || payload.isStale()) break;
      seen = message.offset;
      const offset = BigInt(message.offset);
      if (offset < from) continue; // before the position: already in the sink
      this.reader.read(
        message.value === null ? null : message.value.toString('utf8'),
        message.key === null ? null : message.key.toString('utf8'),
        `${key}:${message.offset.padStart(20, '0')}`,
        events,
      );
      next = offset + 1n;
    }
    // Resolved offsets only move the fetch position (nothing is committed to Kafka); what was not looked at
    // (a stopping consumer, a stale batch) is fetched again.
    if (seen !== undefined) payload.resolveOffset(seen);
    if (next === undefined) return;
    this.offsets = { ...this.offsets, [key]: next.toString() };
    if (this.reader.lastSourceTsMs > 0) this.lagMs = Math.max(0, Date.now() - this.reader.lastSourceTsMs);
    const taken = this.handoff.put({
      events,
      position: { offsets: this.offsets } satisfies KafkaPosition,
      // A transactional producer's partition ends with a commit marker that is never delivered: a lag of one
      // offset is the end.
      caughtUp: BigInt(batch.offsetLag()) <= 1n,
    });
    // Wait for the pipeline to take the batch, heartbeating so the group does not drop this member meanwhile.
    for (;;) {
      let timer: NodeJS.Timeout | undefined;
      const done = await Promise.race([
        taken.then(() => true),
        new Promise<false>((resolve) => (timer = setTimeout(() => resolve(false), HEARTBEAT_WHILE_WAITING_MS))),
      ]);
      clearTimeout(timer);
      if (done) return;
      await payload.heartbeat();
    }
  }

  async *batches(): AsyncIterable<ChangeBatch> {
    if (!this.consumer) throw new TributaryError('INTERNAL', 'batches() before open()');
    for (;;) {
      const batch = await this.handoff.take();
      if (!batch) return;
      yield batch;
    }
  }

  progress(): SourceProgress {
    return {
      phase: 'streaming',
      snapshotTablesDone: 0,
      snapshotTablesTotal: 0,
      snapshotRowsRead: 0,
      logPosition: Object.entries(this.offsets)
        .map(([tp, offset]) => `${tp}@${offset}`)
        .join(' '),
      lagMs: this.lagMs,
    };
  }

  async close(): Promise<void> {
    this.handoff.close();
    const consumer = this.consumer;
    const admin = this.admin;
    this.consumer = undefined;
    this.admin = undefined;
    this.kafka = undefined;
    await Promise.allSettled([consumer?.disconnect(), admin?.disconnect()]);
  }
}
