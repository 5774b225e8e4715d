import { readFileSync } from 'node:fs';
import { connect, credsAuthenticator, type ConnectionOptions, type NatsConnection } from 'nats';
import { TributaryError } from '../../core/errors.js';
import type { OptionValues } from '../../core/option-spec.js';
import { readTlsSettings, tlsFailure, type TlsOptionNames, type TlsSettings } from '../tls-options.js';
import type { Logger } from '../../core/logger.js';
import { classifyNatsError } from './nats-errors.js';

/** Connects with the options of `natsConnectionOptions`; errors are classified for `side`. */
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
