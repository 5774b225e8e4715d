import type { OptionSpec, OptionValues } from '../../core/option-spec.js';
import {
  CHANGE_FORMAT_NAMES,
  debeziumJsonOptions,
  debeziumJsonOptionsOf,
  type ChangeFormatName,
  type DebeziumJsonOptions,
} from '../../formats/change-formats.js';
import { kafkaConnectionOptions } from './kafka-connection-options.js';
import { checkTopicName, defaultCheckpointTopic, kafkaTopicName, parseTopicMapping } from './kafka-topics.js';

/** The options of `type: kafka` sinks: Flink CDC's Kafka pipeline sink names where it has one. */
export const kafkaSinkOptions: readonly OptionSpec[] = [
  ...kafkaConnectionOptions,
  {
    key: 'topic',
    type: 'string',
    default: '{db}.{table}',
    description:
      'The topic of every table, or a pattern with `{db}` and `{table}`. Default: the table id, as Flink CDC. ' +
      'Characters Kafka does not allow in topic names become `_`.',
  },
  {
    key: 'sink.tableId-to-topic.mapping',
    type: 'string',
    description: 'Topics of particular tables, before `topic`: `db.table:topic` pairs separated by `;`.',
    check: (value) => {
      const parsed = parseTopicMapping(value);
      return typeof parsed === 'string' ? parsed : undefined;
    },
  },
  {
    key: 'value.format',
    type: 'enum',
    values: CHANGE_FORMAT_NAMES,
    default: 'debezium-json',
    description: 'How each change is written; see [formats.md](../formats.md).',
  },
  {
    key: 'key.format',
    type: 'enum',
    values: ['json'],
    default: 'json',
    description: 'The record key: the primary key’s columns as a JSON object (debezium-json: with its schema part).',
  },
  {
    key: 'partition.strategy',
    type: 'enum',
    values: ['hash-by-key', 'all-to-zero'],
    default: 'hash-by-key',
    description:
      'hash-by-key: the partition Kafka’s default partitioner gives the record key (murmur2, as the Java client), ' +
      'so each key keeps its order; all-to-zero: every record to partition 0 (Flink CDC’s default).',
  },
  {
    key: 'sink.add-tableId-to-header-enabled',
    type: 'boolean',
    default: false,
    description: 'Add headers `namespace`, `schemaName` (the database) and `tableName` to every record, as Flink CDC.',
  },
  {
    key: 'sink.custom-header',
    type: 'string',
    description: 'Headers added to every record: `key:value` pairs separated by `,`.',
  },
  {
    key: 'sink.delivery-guarantee',
    type: 'enum',
    values: ['exactly-once', 'at-least-once'],
    default: 'exactly-once',
    description:
      'exactly-once: every commit is one Kafka transaction holding the records and the checkpoint record; ' +
      'at-least-once: an idempotent producer without transactions (a crash may repeat the records since the last commit).',
  },
  {
    key: 'sink.transactional-id-prefix',
    type: 'string',
    default: 'tributary-',
    description:
      'The producer’s `transactional.id` is this prefix and the pipeline name; a new producer with it fences the old one.',
  },
  {
    key: 'transaction.timeout',
    type: 'duration',
    default: '60s',
    description:
      'The transaction timeout the broker enforces (at most its `transaction.max.timeout.ms`): a commit must finish within it.',
  },
  {
    key: 'checkpoint.topic',
    type: 'string',
    description:
      'The compacted one-partition topic of the checkpoint records. Default: `_tributary.<pipeline name>.checkpoints`.',
  },
  {
    key: 'topic.partitions',
    type: 'integer',
    min: 1,
    description: 'Partitions of the topics the sink creates (missing topics). Default: the broker’s `num.partitions`.',
  },
  {
    key: 'topic.replication-factor',
    type: 'integer',
    min: 1,
    description:
      'Replication factor of the topics the sink creates. Default: the broker’s `default.replication.factor`.',
  },
  {
    key: 'batch.max-records',
    type: 'integer',
    min: 1,
    default: 2000,
    description: 'Records sent to the brokers in one request (within the open transaction).',
  },
  {
    key: 'server-name',
    type: 'string',
    description: 'The `source.name` of debezium-json events. Default: the pipeline name.',
  },
  ...debeziumJsonOptions,
];

export interface KafkaSinkConfig {
  readonly topicPattern: string;
  readonly topicMapping: ReadonlyMap<string, string>;
  readonly format: ChangeFormatName;
  readonly partitionStrategy: 'hash-by-key' | 'all-to-zero';
  readonly tableIdHeaders: boolean;
  readonly customHeaders: ReadonlyMap<string, string>;
  readonly transactional: boolean;
  readonly transactionalId: string;
  readonly transactionTimeoutMs: number;
  readonly checkpointTopic: string;
  readonly topicPartitions: number | undefined;
  readonly replicationFactor: number | undefined;
  readonly batchMaxRecords: number;
  readonly serverName: string;
  readonly debezium: DebeziumJsonOptions;
}

export function kafkaSinkConfig(values: OptionValues, pipeline: string): KafkaSinkConfig {
  const mapping = parseTopicMapping(String(values['sink.tableId-to-topic.mapping'] ?? ''));
  const checkpointTopic =
    typeof values['checkpoint.topic'] === 'string' ? values['checkpoint.topic'] : defaultCheckpointTopic(pipeline);
  checkTopicName(checkpointTopic, 'sink option checkpoint.topic');
  return {
    topicPattern: String(values['topic'] ?? '{db}.{table}'),
    topicMapping: typeof mapping === 'string' ? new Map() : mapping,
    format: (values['value.format'] ?? 'debezium-json') as ChangeFormatName,
    partitionStrategy: values['partition.strategy'] === 'all-to-zero' ? 'all-to-zero' : 'hash-by-key',
    tableIdHeaders: values['sink.add-tableId-to-header-enabled'] === true,
    customHeaders: parseCustomHeaders(String(values['sink.custom-header'] ?? '')),
    transactional: values['sink.delivery-guarantee'] !== 'at-least-once',
    transactionalId: `${String(values['sink.transactional-id-prefix'] ?? 'tributary-')}${kafkaTopicName(pipeline)}`,
    transactionTimeoutMs: Number(values['transaction.timeout'] ?? 60_000),
    checkpointTopic,
    topicPartitions: values['topic.partitions'] === undefined ? undefined : Number(values['topic.partitions']),
    replicationFactor:
      values['topic.replication-factor'] === undefined ? undefined : Number(values['topic.replication-factor']),
    batchMaxRecords: Number(values['batch.max-records'] ?? 2000),
    serverName: typeof values['server-name'] === 'string' ? values['server-name'] : pipeline,
    debezium: debeziumJsonOptionsOf(values),
  };
}

/** Flink CDC's `sink.custom-header`: `key:value` pairs separated by `,`. */
export function parseCustomHeaders(text: string): Map<string, string> {
  const headers = new Map<string, string>();
  for (const pair of text.split(',')) {
    const colon = pair.indexOf(':');
    if (colon > 0) headers.set(pair.slice(0, colon).trim(), pair.slice(colon + 1).trim());
  }
  return headers;
}
