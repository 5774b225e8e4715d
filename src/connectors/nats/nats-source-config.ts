import type { OptionSpec, OptionValues } from '../../core/option-spec.js';
import { natsConnectionOptions } from './nats-connection-options.js';

/** The options of `type: nats` sources. */
export const natsSourceOptions: readonly OptionSpec[] = [
  ...natsConnectionOptions,
  {
    key: 'stream',
    type: 'string',
    required: true,
    pattern: { regex: /^[A-Za-z0-9_-]+$/, description: 'letters, digits, `_` and `-` (JetStream stream names)' },
    description: 'The JetStream stream to read, e.g. the one a `nats` sink writes (`tributary_<its pipeline>`).',
  },
  {
    key: 'subject.prefix',
    type: 'string',
    description: 'The subject prefix of the stream’s messages. Default: the stream name.',
  },
  {
    key: 'format',
    type: 'enum',
    values: ['debezium-json'],
    default: 'debezium-json',
    description: 'The format of the messages: Debezium change events with their schema part.',
  },
  {
    key: 'tables',
    type: 'table-patterns',
    default: '.*\\..*',
    description:
      'Which tables (`source.db` / `source.table` of the events) to read, as regular expressions on `db.table`.',
  },
  {
    key: 'tables.exclude',
    type: 'table-patterns',
    description: 'Tables not to read, even when `tables` selects them.',
  },
  {
    key: 'durable',
    type: 'string',
    pattern: { regex: /^[A-Za-z0-9_-]+$/, description: 'letters, digits, `_` and `-`' },
    description:
      'Name of the durable consumer (re-created at each start, from the position in the sink’s checkpoint). ' +
      'Default: `tributary_<pipeline name>`.',
  },
  {
    key: 'partition',
    type: 'integer',
    min: 0,
    description:
      'Read only this key-hash partition (0..N-1) of a stream a `nats` sink writes with `partitions: N`: its data subjects and the checkpoint messages. What each apply worker of a scale-out reads ([scale-out.md](../scale-out.md)).',
  },
  {
    key: 'fetch.max-messages',
    type: 'integer',
    min: 1,
    default: 1000,
    description: 'Messages requested from the server at once.',
  },
];

export interface NatsSourceConfig {
  readonly stream: string;
  readonly subjectPrefix: string;
  readonly durable: string;
  readonly fetchMaxMessages: number;
  /** Undefined: the whole stream. */
  readonly partition?: number;
}

export function natsSourceConfig(values: OptionValues, pipeline: string): NatsSourceConfig {
  const stream = String(values['stream'] ?? '');
  return {
    stream,
    subjectPrefix: typeof values['subject.prefix'] === 'string' ? values['subject.prefix'] : stream,
    durable:
      typeof values['durable'] === 'string'
        ? values['durable']
        : `tributary_${pipeline.replace(/[^A-Za-z0-9_-]/g, '_')}`,
    fetchMaxMessages: Number(values['fetch.max-messages'] ?? 1000),
    ...(typeof values['partition'] === 'number' ? { partition: values['partition'] } : {}),
  };
}
