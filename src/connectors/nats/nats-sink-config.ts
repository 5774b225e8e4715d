import type { OptionSpec, OptionValues } from '../../core/option-spec.js';
import type { DebeziumJsonOptions } from '../../formats/debezium-json.js';
import { natsConnectionOptions } from './nats-connection.js';
import { defaultStreamName } from './nats-subjects.js';

const streamNamePattern = {
  regex: /^[A-Za-z0-9_-]+$/,
  description: 'letters, digits, `_` and `-` (JetStream stream names)',
};
const subjectPrefixPattern = {
  regex: /^[A-Za-z0-9_-]+(\.[A-Za-z0-9_-]+)*$/,
  description: 'subject tokens of letters, digits, `_` and `-`, separated by `.`',
};

/** Debezium's own option names, under `debezium-json.`. */
export const debeziumJsonOptions: readonly OptionSpec[] = [
  {
    key: 'debezium-json.schema-include',
    type: 'boolean',
    default: true,
    description:
      'Write the Kafka Connect `schema` part beside `payload` (the JSON converter default, `schemas.enable=true`). ' +
      'The `nats` source needs it to read the stream back.',
  },
  {
    key: 'debezium-json.tombstones',
    type: 'boolean',
    default: true,
    description: 'After each delete, a tombstone: the key with an empty value (Debezium `tombstones.on.delete`).',
  },
  {
    key: 'debezium-json.decimal.handling.mode',
    type: 'enum',
    values: ['precise', 'string', 'double'],
    default: 'precise',
    description:
      'DECIMAL as Kafka Connect `Decimal` (base64 of the unscaled two’s complement bytes; exact), as a string ' +
      '(exact), or as a double (loses digits).',
  },
  {
    key: 'debezium-json.bigint.unsigned.handling.mode',
    type: 'enum',
    values: ['long', 'precise'],
    default: 'long',
    description:
      'BIGINT UNSIGNED as int64 (a value above 2^63-1 stops the pipeline with FORMAT_VALUE_UNREPRESENTABLE) or as ' +
      '`Decimal` with precision 20.',
  },
  {
    key: 'debezium-json.binary.handling.mode',
    type: 'enum',
    values: ['bytes', 'base64', 'base64-url-safe', 'hex'],
    default: 'bytes',
    description: 'Binary columns as Kafka Connect bytes (base64 text in JSON), or as base64, base64url or hex strings.',
  },
];

/** The options of `type: nats` sinks. */
export const natsSinkOptions: readonly OptionSpec[] = [
  ...natsConnectionOptions,
  {
    key: 'stream',
    type: 'string',
    pattern: streamNamePattern,
    description: 'The JetStream stream, created if missing (file storage). Default: `tributary_<pipeline name>`.',
  },
  {
    key: 'subject.prefix',
    type: 'string',
    pattern: subjectPrefixPattern,
    description: 'First tokens of every subject (Debezium’s `topic.prefix`). Default: the stream name.',
  },
  {
    key: 'format',
    type: 'enum',
    values: ['debezium-json', 'canal-json', 'json'],
    default: 'debezium-json',
    description: 'How each change is written; see [formats.md](../formats.md).',
  },
  {
    key: 'partitions',
    type: 'integer',
    min: 1,
    default: 1,
    description:
      'More than 1: each table’s subject gets a last token 0..N-1 chosen by a hash of the primary key, so N ' +
      'consumers can share a table while each key keeps its order.',
  },
  {
    key: 'max-in-flight',
    type: 'integer',
    min: 1,
    default: 512,
    description: 'Publishes sent before their acknowledgements arrive (all fenced by expected last sequence).',
  },
  {
    key: 'server-name',
    type: 'string',
    description: 'The `source.name` of debezium-json events. Default: the subject prefix.',
  },
  ...debeziumJsonOptions,
];

export interface NatsSinkConfig {
  readonly stream: string;
  readonly subjectPrefix: string;
  readonly format: 'debezium-json' | 'canal-json' | 'json';
  readonly partitions: number;
  readonly maxInFlight: number;
  readonly serverName: string;
  readonly debezium: DebeziumJsonOptions;
}

export function natsSinkConfig(values: OptionValues, pipeline: string): NatsSinkConfig {
  const stream = typeof values['stream'] === 'string' ? values['stream'] : defaultStreamName(pipeline);
  const subjectPrefix = typeof values['subject.prefix'] === 'string' ? values['subject.prefix'] : stream;
  return {
    stream,
    subjectPrefix,
    format: (values['format'] ?? 'debezium-json') as NatsSinkConfig['format'],
    partitions: Number(values['partitions'] ?? 1),
    maxInFlight: Number(values['max-in-flight'] ?? 512),
    serverName: typeof values['server-name'] === 'string' ? values['server-name'] : subjectPrefix,
    debezium: debeziumJsonOptionsOf(values),
  };
}

export function debeziumJsonOptionsOf(values: OptionValues): DebeziumJsonOptions {
  return {
    schemaInclude: values['debezium-json.schema-include'] !== false,
    tombstones: values['debezium-json.tombstones'] !== false,
    decimalHandling: (values['debezium-json.decimal.handling.mode'] ??
      'precise') as DebeziumJsonOptions['decimalHandling'],
    bigintUnsignedHandling: (values['debezium-json.bigint.unsigned.handling.mode'] ??
      'long') as DebeziumJsonOptions['bigintUnsignedHandling'],
    binaryHandling: (values['debezium-json.binary.handling.mode'] ?? 'bytes') as DebeziumJsonOptions['binaryHandling'],
  };
}
