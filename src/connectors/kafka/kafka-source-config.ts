import type { OptionSpec, OptionValues } from '../../core/option-spec.js';
import type { LogSourceFormat } from '../log-kit/log-change-reader.js';
import { kafkaConnectionOptions } from './kafka-connection-options.js';

/** The options of `type: kafka` sources: Flink's Kafka connector names where it has one. */
export const kafkaSourceOptions: readonly OptionSpec[] = [
  ...kafkaConnectionOptions,
  {
    key: 'topic',
    type: 'string',
    description: 'The topics to read, separated by `;` (or use `topic-pattern`).',
  },
  {
    key: 'topic-pattern',
    type: 'string',
    description:
      'A regular expression on topic names: every matching topic at start is read (topics starting with ' +
      '`_tributary.`, the checkpoint topics, never).',
    check: (value) => {
      try {
        new RegExp(value);
        return undefined;
      } catch {
        return 'is not a regular expression';
      }
    },
  },
  {
    key: 'value.format',
    type: 'enum',
    values: ['debezium-json', 'canal-json'],
    default: 'debezium-json',
    description:
      'The format of the records: Debezium change events with their schema part, or Canal flat messages; see [formats.md](../formats.md).',
  },
  {
    key: 'properties.group.id',
    type: 'string',
    description:
      'The consumer group (for partition assignment only: offsets are never committed to Kafka, the position lives in the sink’s checkpoint). Default: `tributary-<pipeline name>`.',
  },
  {
    key: 'scan.startup.mode',
    type: 'enum',
    values: ['earliest-offset', 'latest-offset'],
    default: 'earliest-offset',
    description: 'Where a pipeline without a checkpoint starts: the beginning of each partition, or its end.',
  },
  {
    key: 'tables',
    type: 'table-patterns',
    default: '.*\\..*',
    description: 'Which tables (the database and table the events name) to read, as regular expressions on `db.table`.',
  },
  {
    key: 'tables.exclude',
    type: 'table-patterns',
    description: 'Tables not to read, even when `tables` selects them.',
  },
];

export interface KafkaSourceConfig {
  readonly topics: readonly string[];
  readonly topicPattern: RegExp | undefined;
  readonly format: LogSourceFormat;
  readonly groupId: string;
  readonly fromBeginning: boolean;
}

export function kafkaSourceConfig(values: OptionValues, pipeline: string): KafkaSourceConfig {
  const pattern = values['topic-pattern'];
  return {
    topics: String(values['topic'] ?? '')
      .split(';')
      .map((t) => t.trim())
      .filter((t) => t !== ''),
    topicPattern: typeof pattern === 'string' ? new RegExp(`^(?:${pattern})$`) : undefined,
    format: values['value.format'] === 'canal-json' ? 'canal-json' : 'debezium-json',
    groupId:
      typeof values['properties.group.id'] === 'string'
        ? values['properties.group.id']
        : `tributary-${pipeline.replace(/[^A-Za-z0-9._-]/g, '_')}`,
    fromBeginning: values['scan.startup.mode'] !== 'latest-offset',
  };
}
