import { readFileSync } from 'node:fs';
import { connect, credsAuthenticator, type ConnectionOptions, type NatsConnection } from 'nats';
import { TributaryError } from '../../core/errors.js';
import type { OptionSpec, OptionValues } from '../../core/option-spec.js';
import { readTlsSettings, tlsFailure, type TlsOptionNames, type TlsSettings } from '../tls-options.js';
import type { Logger } from '../../core/logger.js';
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
    key: 'credentials',
    type: 'string',
    description:
      'A NATS credentials file (`.creds`: a user JWT and its NKey seed, as `nsc` writes it), instead of a user and password or token.',
  },
  {
    key: 'tls.enabled',
    type: 'boolean',
    description:
      'Require TLS, verifying the server certificate against `tls.ca` (or the system CAs) and the host name. Default: on when `tls.ca` or `tls.cert` is set or a server URL is `tls://…`; a server that requires TLS gets it either way.',
  },
  {
    key: 'tls.ca',
    type: 'string',
    description: 'PEM file of the CA certificate(s) that signed the server certificate.',
  },
  {
    key: 'tls.cert',
    type: 'string',
    description: 'PEM file of the client certificate, for a server with `verify: true` in its `tls {}` block.',
  },
  { key: 'tls.key', type: 'string', description: 'PEM file of the private key of `tls.cert` (unencrypted).' },
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
    // Without it the client captures two stack traces per request — every JetStream publish and acknowledgement
    // — for the message of a timeout that rarely comes (~10 % of a publishing process's CPU, bench/README.md);
    // errors keep their codes, which is what Tributary classifies them by.
    noAsyncTraces: true,
  };
  if (typeof values['username'] === 'string') options.user = values['username'];
  if (typeof values['password'] === 'string') options.pass = values['password'];
  if (typeof values['token'] === 'string') options.token = values['token'];
  const tls = natsTls(values, servers, side);
  if (tls !== undefined) {
    options.tls = {
      ...(tls.ca ? { ca: tls.ca.toString('utf8') } : {}),
      ...(tls.cert ? { cert: tls.cert.toString('utf8') } : {}),
      ...(tls.key ? { key: tls.key.toString('utf8') } : {}),
    };
  }
  const credentials = values['credentials'];
  if (typeof credentials === 'string' && credentials !== '') {
    let creds: Uint8Array;
    try {
      creds = readFileSync(credentials);
    } catch (error) {
      throw new TributaryError(
        'CONFIG_INVALID',
        `${side}.credentials: cannot read ${credentials} (${(error as { code?: string }).code ?? 'unreadable'})`,
        { hint: 'write the path of the .creds file (nsc generate creds) this process may read' },
      );
    }
    options.authenticator = credsAuthenticator(creds);
  }
  try {
    const nc = await connect(options);
    void (async () => {
      for await (const status of nc.status()) log.debug(`nats ${status.type}`);
    })();
    return nc;
  } catch (error) {
    const names = { ...NATS_TLS_NAMES, block: side };
    const cause = (error as { chainedError?: unknown }).chainedError ?? error;
    throw (
      tlsFailure(cause, servers.join(', '), names) ??
      classifyNatsError(error, side, `cannot connect to NATS at ${servers.join(', ')}`)
    );
  }
}

const NATS_TLS_NAMES: TlsOptionNames = {
  mode: 'tls.enabled',
  ca: 'tls.ca',
  cert: 'tls.cert',
  key: 'tls.key',
  block: 'sink',
  verifyFull: 'true',
  prefer: 'false',
};

/** The TLS settings of the connection, or undefined when the options ask for none (a server that requires TLS still gets it). */
function natsTls(values: OptionValues, servers: readonly string[], side: 'source' | 'sink'): TlsSettings | undefined {
  const text = (key: string) =>
    typeof values[key] === 'string' && values[key] !== '' ? String(values[key]) : undefined;
  const files = { ca: text('tls.ca'), cert: text('tls.cert'), key: text('tls.key') };
  const written = values['tls.enabled'];
  const enabled =
    written === undefined
      ? files.ca !== undefined || files.cert !== undefined || servers.some((s) => s.startsWith('tls://'))
      : written === true;
  return enabled
    ? readTlsSettings('verify-identity', files, { ...NATS_TLS_NAMES, block: side })
    : written === false && (files.ca !== undefined || files.cert !== undefined)
      ? readTlsSettings('disabled', files, { ...NATS_TLS_NAMES, block: side })
      : undefined;
}
