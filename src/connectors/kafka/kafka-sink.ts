import type { Admin, Kafka, Message, Producer, TopicMessages, Transaction } from 'kafkajs';
import type { ChangeEvent } from '../../core/change-event.js';
import { TributaryError } from '../../core/errors.js';
import type { OptionValues } from '../../core/option-spec.js';
import type { Checkpoint, Sink } from '../../core/sink.js';
import { tableIdToString, type TableSchema } from '../../core/table-schema.js';
import type { ChangeFormat } from '../../formats/change-format.js';
import { changeFormat } from '../../formats/change-formats.js';
import type { SinkContext } from '../../core/connector.js';
import { ensureCheckpointTopic, readLastCheckpoint, type CheckpointRecord } from './kafka-checkpoint-store.js';
import { kafkaClient } from './kafka-connection.js';
import { classifyKafkaError } from './kafka-errors.js';
import { buildRecords, buildTableChangeRecords, type KafkaRecord, type RecordBuilderOptions } from './kafka-records.js';
import { kafkaSinkConfig, type KafkaSinkConfig } from './kafka-sink-config.js';
import { topicRouter } from './kafka-topics.js';

export function kafkaSink(options: OptionValues, context: SinkContext): Sink {
  if (typeof options['sasl.password'] === 'string') context.log.addSecret(options['sasl.password']);
  return new KafkaSink(options, kafkaSinkConfig(options, context.pipelineName), context);
}

interface Session {
  readonly kafka: Kafka;
  readonly admin: Admin;
  readonly producer: Producer;
}

/**
 * The `kafka` sink: each change becomes one or two records (a tombstone after a debezium-json delete) on its
 * table's topic, in its key's partition. Exactly once (the default): every commit is one Kafka transaction of
 * a producer whose `transactional.id` derives from the pipeline — the records, then the checkpoint record on the
 * pipeline's checkpoint topic — so a read_committed consumer sees the records of a checkpoint together with it
 * or not at all; a new producer with the same id fences the old one and aborts its open transaction, and `open`
 * returns the checkpoint of the last committed transaction.
 */
class KafkaSink implements Sink {
  private session: Session | undefined;
  private readonly format: ChangeFormat;
  private readonly records: RecordBuilderOptions;
  private readonly schemas = new Map<string, TableSchema>();
  private readonly partitionCounts = new Map<string, number>();
  private pipeline = '';
  private transaction: Transaction | undefined;
  private buffer: KafkaRecord[] = [];
  private events = 0;

  constructor(
    private readonly options: OptionValues,
    private readonly config: KafkaSinkConfig,
    private readonly context: SinkContext,
  ) {
    this.format = changeFormat(config.format, config.debezium, {
      serverName: config.serverName,
      nowMs: () => Date.now(),
    });
    this.records = {
      format: this.format,
      topics: topicRouter(config.topicPattern, config.topicMapping),
      partitionStrategy: config.partitionStrategy,
      tableIdHeaders: config.tableIdHeaders,
      customHeaders: config.customHeaders,
      partitionsOf: (topic) => this.partitionCounts.get(topic) ?? 1,
    };
  }

  private async connect(): Promise<Session> {
    if (!this.session) {
      const kafka = kafkaClient(this.options, 'sink', this.context.log, `tributary-${this.context.pipelineName}-sink`);
      const admin = kafka.admin();
      const producer = kafka.producer({
        idempotent: true,
        allowAutoTopicCreation: false,
        // One request in flight keeps the idempotent sequence numbers in order (kafkajs' advice for EoS).
        maxInFlightRequests: 1,
        // kafkajs retries an idempotent producer forever by default; a failure that outlasts these retries ends
        // the transaction (aborted), and the pipeline retries from its checkpoint instead.
        retry: { retries: 10 },
        ...(this.config.transactional
          ? { transactionalId: this.config.transactionalId, transactionTimeout: this.config.transactionTimeoutMs }
          : {}),
      });
      try {
        await admin.connect();
        await producer.connect();
      } catch (error) {
        await Promise.allSettled([admin.disconnect(), producer.disconnect()]);
        throw classifyKafkaError(error, 'sink', 'connecting to Kafka');
      }
      this.session = { kafka, admin, producer };
    }
    return this.session;
  }

  async validate(): Promise<void> {
    const { admin } = await this.connect();
    try {
      await admin.describeCluster();
    } catch (error) {
      throw classifyKafkaError(error, 'sink', 'describing the Kafka cluster');
    }
  }

  async open(pipeline: string): Promise<Checkpoint | null> {
    // A producer that failed (fenced, a transaction in error) cannot begin again: each open starts a new one.
    await this.close();
    const { kafka, admin, producer } = await this.connect();
    this.pipeline = pipeline;
    this.buffer = [];
    this.events = 0;
    this.transaction = undefined;
    try {
      if (await ensureCheckpointTopic(admin, this.config.checkpointTopic, this.config.replicationFactor)) {
        this.context.log.info(`created checkpoint topic ${this.config.checkpointTopic} (1 partition, compacted)`);
      }
      if (this.config.transactional) {
        // The fence: the first transaction of this producer registers its transactional.id, which bumps the
        // epoch (an older producer with the id fails from now on) and aborts what that producer left open.
        const fence = await producer.transaction();
        await fence.abort();
      } else {
        this.context.log.warn(
          'sink.delivery-guarantee is at-least-once: a crash between two checkpoints produces the records since the last one again',
        );
      }
      const record = await readLastCheckpoint(
        kafka,
        admin,
        this.config.checkpointTopic,
        pipeline,
        `${this.config.transactionalId}.checkpoint-reader`,
        Math.max(30_000, Number(this.options['connect.timeout'] ?? 10_000) * 3),
      );
      const checkpoint = record?.checkpoint;
      return checkpoint && checkpoint.pipeline === pipeline ? checkpoint : null;
    } catch (error) {
      throw classifyKafkaError(error, 'sink', `opening the checkpoint topic ${this.config.checkpointTopic}`);
    }
  }

  async write(events: readonly ChangeEvent[]): Promise<void> {
    await this.connect();
    for (const event of events) {
      if (event.kind === 'schema') {
        const records = buildTableChangeRecords(this.records, event);
        if (records.length > 0) {
          const topic = this.records.topics.topicOf(event.table);
          if (!this.partitionCounts.has(topic)) await this.ensureTopic(topic);
          this.events++;
          this.buffer.push(...records);
        }
        this.applySchema(event.change, tableIdToString(event.table), event.schema);
        continue;
      }
      const name = tableIdToString(event.table);
      const schema = this.schemas.get(name);
      if (!schema) throw new TributaryError('INTERNAL', `a change of ${name} arrived before its schema`);
      const topic = this.records.topics.topicOf(event.table);
      if (!this.partitionCounts.has(topic)) await this.ensureTopic(topic);
      this.events++;
      for (const record of buildRecords(this.records, event, schema)) this.buffer.push(record);
      if (this.buffer.length >= this.config.batchMaxRecords) await this.flush();
    }
  }

  private applySchema(change: string, name: string, schema: TableSchema): void {
    if (change === 'dropTable') this.schemas.delete(name);
    else if (change === 'renameTable') {
      this.schemas.delete(name);
      this.schemas.set(tableIdToString(schema.id), schema);
    } else this.schemas.set(name, schema);
  }

  /** Creates `topic` if missing (`topic.partitions`, `topic.replication-factor`) and learns its partition count. */
  private async ensureTopic(topic: string): Promise<void> {
    const { admin } = await this.connect();
    try {
      const created = await admin.createTopics({
        waitForLeaders: true,
        topics: [
          {
            topic,
            ...(this.config.topicPartitions !== undefined ? { numPartitions: this.config.topicPartitions } : {}),
            ...(this.config.replicationFactor !== undefined
              ? { replicationFactor: this.config.replicationFactor }
              : {}),
          },
        ],
      });
      if (created) this.context.log.info(`created topic ${topic}`);
      const metadata = await admin.fetchTopicMetadata({ topics: [topic] });
      const partitions = metadata.topics.find((t) => t.name === topic)?.partitions.length ?? 0;
      if (partitions < 1) throw new TributaryError('SINK_WRITE_FAILED', `topic ${topic} has no partitions`);
      this.partitionCounts.set(topic, partitions);
    } catch (error) {
      throw classifyKafkaError(error, 'sink', `creating or describing topic ${topic}`);
    }
  }

  /** Sends the buffered records, in the open transaction (begun here if none is open). */
  private async flush(): Promise<void> {
    const sender = await this.sender();
    const records = this.buffer;
    this.buffer = [];
    if (records.length === 0) return;
    try {
      await sender.sendBatch({ acks: -1, topicMessages: groupByTopic(records) });
    } catch (error) {
      throw classifyKafkaError(error, 'sink', 'producing records');
    }
  }

  private async sender(): Promise<Producer | Transaction> {
    const { producer } = await this.connect();
    if (!this.config.transactional) return producer;
    if (!this.transaction) {
      try {
        this.transaction = await producer.transaction();
      } catch (error) {
        throw classifyKafkaError(
          error,
          'sink',
          `beginning a transaction (transactional.id ${this.config.transactionalId})`,
        );
      }
    }
    return this.transaction;
  }

  pending(): number {
    return this.events;
  }

  async commit(checkpoint: Checkpoint): Promise<void> {
    await this.flush();
    await this.sendCheckpointRecord({ pipeline: this.pipeline, checkpoint, format: this.config.format });
    this.events = 0;
  }

  /** Sends the checkpoint record and commits the transaction with it; the data of the transaction commit or abort together with it. */
  private async sendCheckpointRecord(record: CheckpointRecord): Promise<void> {
    const sender = await this.sender();
    const transaction = this.transaction;
    this.transaction = undefined;
    try {
      await sender.send({
        topic: this.config.checkpointTopic,
        acks: -1,
        messages: [{ key: record.pipeline, value: JSON.stringify(record), partition: 0 }],
      });
      await transaction?.commit();
    } catch (error) {
      if (transaction?.isActive()) await transaction.abort().catch(() => undefined);
      throw classifyKafkaError(error, 'sink', `committing checkpoint to ${this.config.checkpointTopic}`);
    }
  }

  /** Writes a checkpoint record without a checkpoint: the next run starts over; the data stays in the topics. */
  async reset(pipeline: string): Promise<void> {
    const { admin } = await this.connect();
    try {
      await ensureCheckpointTopic(admin, this.config.checkpointTopic, this.config.replicationFactor);
    } catch (error) {
      throw classifyKafkaError(error, 'sink', `creating checkpoint topic ${this.config.checkpointTopic}`);
    }
    this.pipeline = pipeline;
    await this.sendCheckpointRecord({ pipeline, checkpoint: null, format: this.config.format });
  }

  async close(): Promise<void> {
    const session = this.session;
    this.session = undefined;
    if (!session) return;
    const transaction = this.transaction;
    this.transaction = undefined;
    if (transaction?.isActive()) await transaction.abort().catch(() => undefined);
    await Promise.allSettled([session.producer.disconnect(), session.admin.disconnect()]);
  }
}

function groupByTopic(records: readonly KafkaRecord[]): TopicMessages[] {
  const byTopic = new Map<string, Message[]>();
  for (const r of records) {
    let messages = byTopic.get(r.topic);
    if (!messages) byTopic.set(r.topic, (messages = []));
    messages.push({ key: r.key, value: r.value, partition: r.partition, headers: r.headers });
  }
  return [...byTopic].map(([topic, messages]) => ({ topic, messages }));
}
