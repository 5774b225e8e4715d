import type { DataChangeEvent, SchemaChangeEvent } from '../../core/change-event.js';
import type { LogRecord } from '../../formats/change-format.js';
import type { TableSchema } from '../../core/table-schema.js';
import type { ChangeFormat } from '../../formats/change-format.js';
import { partitionForKey } from './kafka-partitioner.js';
import type { TopicRouter } from './kafka-topics.js';

/** One record to produce: topic, partition chosen here (not by the client), key and value bytes, headers. */
export interface KafkaRecord {
  readonly topic: string;
  readonly partition: number;
  readonly key: Buffer | null;
  /** Null: a tombstone. */
  readonly value: Buffer | null;
  readonly headers: Record<string, string>;
}

export interface RecordBuilderOptions {
  readonly format: ChangeFormat;
  readonly topics: TopicRouter;
  readonly partitionStrategy: 'hash-by-key' | 'all-to-zero';
  readonly tableIdHeaders: boolean;
  readonly customHeaders: ReadonlyMap<string, string>;
  /** The partition count of `topic` (the sink reads it from the brokers once per topic). */
  readonly partitionsOf: (topic: string) => number;
}

/**
 * The records of one change: the format's key/value pairs (a tombstone after a debezium-json delete) on the
 * table's topic, each in the partition of its key — Kafka's default partitioner over the key's UTF-8 bytes, so a
 * Java producer of the same key would pick the same partition and every change of one key stays in order. A
 * record without a key (a table without a primary key) goes to partition 0, which keeps its order too.
 */
export function buildRecords(
  options: RecordBuilderOptions,
  event: DataChangeEvent,
  schema: TableSchema,
): KafkaRecord[] {
  const topic = options.topics.topicOf(event.table);
  const headers = headersOf(options, event.table.namespace, event.table.name);
  return options.format.encode(event, schema).map((record) => toKafka(options, topic, headers, record));
}

/**
 * The records of a truncate or a dropped table (see {@link ChangeFormat.encodeTableChange}): keyless, so in
 * partition 0 of the table's topic. Consumers of other partitions see it out of order with their rows: only
 * with one partition per topic does a truncate keep its place among the changes.
 */
export function buildTableChangeRecords(options: RecordBuilderOptions, event: SchemaChangeEvent): KafkaRecord[] {
  const topic = options.topics.topicOf(event.table);
  const headers = headersOf(options, event.table.namespace, event.table.name);
  return options.format.encodeTableChange(event).map((record) => toKafka(options, topic, headers, record));
}

function headersOf(options: RecordBuilderOptions, namespace: string, table: string): Record<string, string> {
  const headers: Record<string, string> = {};
  for (const [k, v] of options.customHeaders) headers[k] = v;
  if (options.tableIdHeaders) {
    // Flink CDC's header names; a MySQL table id is schemaName.tableName (its namespace is empty).
    headers['namespace'] = '';
    headers['schemaName'] = namespace;
    headers['tableName'] = table;
  }
  return headers;
}

function toKafka(
  options: RecordBuilderOptions,
  topic: string,
  headers: Record<string, string>,
  record: LogRecord,
): KafkaRecord {
  const key = record.key === null ? null : Buffer.from(record.key, 'utf8');
  const partition =
    key === null || options.partitionStrategy === 'all-to-zero' ? 0 : partitionForKey(key, options.partitionsOf(topic));
  return { topic, partition, key, value: record.value === null ? null : Buffer.from(record.value, 'utf8'), headers };
}
