import { readFileSync } from 'node:fs';
import { Kafka, logLevel, type KafkaConfig, type LogEntry } from 'kafkajs';
import { TributaryError } from '../../core/errors.js';
import type { OptionValues } from '../../core/option-spec.js';
import type { Logger } from '../../core/logger.js';

/** A kafkajs client for the options of `kafkaConnectionOptions`, logging through `log` at debug level. */
export function kafkaClient(values: OptionValues, side: 'source' | 'sink', log: Logger, clientId: string): Kafka {
  const brokers = String(values['properties.bootstrap.servers'] ?? '')
    .split(',')
    .map((s) => s.trim())
    .filter((s) => s !== '');
  const protocol = String(values['properties.security.protocol'] ?? 'PLAINTEXT');
  const config: KafkaConfig = {
    brokers,
    clientId,
    connectionTimeout: Number(values['connect.timeout'] ?? 10_000),
    logLevel: logLevel.WARN,
    // kafkajs' own log lines go to ours (debug), never to stdout; secrets are redacted by the logger.
    logCreator: () => (entry: LogEntry) => log.debug(`kafkajs ${entry.namespace}: ${entry.log.message}`),
  };
  if (protocol === 'SSL' || protocol === 'SASL_SSL') {
    const ca = values['tls.ca'];
    config.ssl = typeof ca === 'string' ? { ca: [readPem(ca, side)], rejectUnauthorized: true } : true;
  }
  if (protocol === 'SASL_PLAINTEXT' || protocol === 'SASL_SSL') {
    const username = String(values['sasl.username'] ?? '');
    const password = String(values['sasl.password'] ?? '');
    const mechanism = String(values['properties.sasl.mechanism'] ?? 'PLAIN');
    config.sasl =
      mechanism === 'SCRAM-SHA-256'
        ? { mechanism: 'scram-sha-256', username, password }
        : mechanism === 'SCRAM-SHA-512'
          ? { mechanism: 'scram-sha-512', username, password }
          : { mechanism: 'plain', username, password };
  }
  return new Kafka(config);
}

function readPem(path: string, side: string): string {
  try {
    return readFileSync(path, 'utf8');
  } catch (error) {
    throw new TributaryError(
      'CONFIG_INVALID',
      `${side}.tls.ca: cannot read ${path} (${(error as { code?: string }).code ?? 'unreadable'})`,
      { hint: 'write the path of a PEM file this process may read' },
    );
  }
}
