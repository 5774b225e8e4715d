import { connect, type ConnectionOptions, type NatsConnection } from 'nats';
import type { OptionSpec, OptionValues } from '../../core/option-spec.js';
import type { Logger } from '../../runtime/logger.js';
import { classifyNatsError } from './nats-errors.js';

/** Connection options shared by the `nats` source and sink. */
export const natsConnectionOptions: readonly OptionSpec[] = [
  {
    key: 'servers',
    type: 'string',
    required: true,
    description: 'NATS server URLs, comma-separated, e.g. `nats://127.0.0.1:4222`. The server needs JetStream (`-js`).',
  },
  { key: 'username', type: 'string', description: 'User name, with `password`.' },
  { key: 'password', type: 'secret', description: 'Password of `username`.' },
  { key: 'token', type: 'secret', description: 'An authentication token, instead of a user and password.' },
  {
    key: 'connect.timeout',
    type: 'duration',
    default: '10s',
    description: 'How long to wait for the server when connecting.',
  },
];

/** Connects with the options of {@link natsConnectionOptions}; errors are classified for `side`. */
export async function natsConnect(
  values: OptionValues,
  side: 'source' | 'sink',
  log: Logger,
  name: string,
): Promise<NatsConnection> {
  const servers = String(values['servers'] ?? '')
    .split(',')
    .map((s) => s.trim())
    .filter((s) => s !== '');
  const options: ConnectionOptions = {
    servers,
    name,
    timeout: Number(values['connect.timeout'] ?? 10_000),
    maxReconnectAttempts: 10,
  };
  if (typeof values['username'] === 'string') options.user = values['username'];
  if (typeof values['password'] === 'string') options.pass = values['password'];
  if (typeof values['token'] === 'string') options.token = values['token'];
  try {
    const nc = await connect(options);
    void (async () => {
      for await (const status of nc.status()) log.debug(`nats ${status.type}`);
    })();
    return nc;
  } catch (error) {
    throw classifyNatsError(error, side, `cannot connect to NATS at ${servers.join(', ')}`);
  }
}
