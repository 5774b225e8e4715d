import type { OptionSpec, OptionValues } from '../../core/option-spec.js';
import { debeziumJsonOptions, debeziumJsonOptionsOf, type DebeziumJsonOptions } from '../../formats/change-formats.js';
import { natsConnectionOptions } from './nats-connection-options.js';
import { defaultStreamName } from './nats-subjects.js';

const streamNamePattern = {
  regex: /^[A-Za-z0-9_-]+$/,
  description: 'letters, digits, `_` and `-` (JetStream stream names)',
};
const subjectPrefixPattern = {
  regex: /^[A-Za-z0-9_-]+(\.[A-Za-z0-9_-]+)*$/,
  description: 'subject tokens of letters, digits, `_` and `-`, separated by `.`',
};

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
    key: 'replicas',
    type: 'integer',
    min: 1,
    default: 1,
    description:
      'Replicas of the stream when the sink creates it (a JetStream cluster keeps each message on this many servers; 3 survives the loss of one). An existing stream keeps its own.',
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
  readonly replicas: number;
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
    replicas: Number(values['replicas'] ?? 1),
    maxInFlight: Number(values['max-in-flight'] ?? 512),
    serverName: typeof values['server-name'] === 'string' ? values['server-name'] : subjectPrefix,
    debezium: debeziumJsonOptionsOf(values),
  };
}
