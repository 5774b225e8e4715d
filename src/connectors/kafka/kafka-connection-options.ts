import type { OptionSpec } from '../../core/option-spec.js';

// Apart from kafka-connection.ts so that the registry's option specs do not load kafkajs (issue 16).

/** Connection options shared by the `kafka` source and sink (Java client property names where they exist). */
export const kafkaConnectionOptions: readonly OptionSpec[] = [
  {
    key: 'properties.bootstrap.servers',
    type: 'string',
    required: true,
    description: 'Kafka brokers to start from, comma-separated `host:port` pairs, e.g. `127.0.0.1:9092`.',
  },
  {
    key: 'properties.security.protocol',
    type: 'enum',
    values: ['PLAINTEXT', 'SSL', 'SASL_PLAINTEXT', 'SASL_SSL'],
    default: 'PLAINTEXT',
    description:
      'As the Java client’s `security.protocol`: TLS (`SSL`, `SASL_SSL`, verifying the broker certificate against ' +
      '`tls.ca` or the system CAs and the host name) and SASL authentication (`SASL_…`).',
  },
  {
    key: 'properties.sasl.mechanism',
    type: 'enum',
    values: ['PLAIN', 'SCRAM-SHA-256', 'SCRAM-SHA-512'],
    default: 'PLAIN',
    description: 'The SASL mechanism, with `sasl.username` and `sasl.password`.',
  },
  { key: 'sasl.username', type: 'string', description: 'SASL user name (what `sasl.jaas.config` holds for Java).' },
  { key: 'sasl.password', type: 'secret', description: 'SASL password of `sasl.username`.' },
  {
    key: 'tls.ca',
    type: 'string',
    description: 'PEM file of the CA certificate(s) that signed the broker certificates.',
  },
  {
    key: 'connect.timeout',
    type: 'duration',
    default: '10s',
    description: 'How long to wait for a broker when connecting.',
  },
];
