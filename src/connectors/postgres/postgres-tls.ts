import { connect as netConnect } from 'node:net';
import type { ConnectionOptions as TlsConnectionOptions } from 'node:tls';
import { TributaryError } from '../../core/errors.js';
import type { OptionSpec, OptionValues } from '../../core/option-spec.js';
import {
  readTlsSettings,
  tlsFailure,
  tlsRequiredHint,
  verifiesCertificate,
  type TlsMode,
  type TlsOptionNames,
  type TlsSettings,
} from '../tls-options.js';

/** libpq's `sslmode` values. */
export const POSTGRES_SSL_MODES = ['disable', 'allow', 'prefer', 'require', 'verify-ca', 'verify-full'] as const;
export type PostgresSslMode = (typeof POSTGRES_SSL_MODES)[number];

/** The sink's TLS options, named as libpq's connection parameters. */
export const postgresTlsOptionSpecs: readonly OptionSpec[] = [
  {
    key: 'sslmode',
    type: 'enum',
    values: [...POSTGRES_SSL_MODES],
    description:
      "As libpq's: `disable`: plain TCP. `allow` / `prefer`: TLS when the server offers it, certificate not checked. `require`: TLS, certificate not checked — unless `sslrootcert` is set, then as `verify-ca` (as libpq). `verify-ca`: the certificate must be signed by `sslrootcert` (or a system CA); the host name is not checked. `verify-full`: as `verify-ca`, and it must name `hostname`. A `sslmode` in `url` takes precedence. Default: `ssl`'s value, else `disable`.",
  },
  {
    key: 'sslrootcert',
    type: 'string',
    description: 'PEM file of the CA certificate(s) that signed the server certificate. Also read from `url`.',
  },
  {
    key: 'sslcert',
    type: 'string',
    description:
      'PEM file of the client certificate, for `hostssl … cert` or `clientcert=verify-full` in pg_hba.conf. Also read from `url`.',
  },
  {
    key: 'sslkey',
    type: 'string',
    description: 'PEM file of the private key of `sslcert` (unencrypted). Also read from `url`.',
  },
];

export const POSTGRES_TLS_NAMES: TlsOptionNames = {
  mode: 'sslmode',
  ca: 'sslrootcert',
  cert: 'sslcert',
  key: 'sslkey',
  block: 'sink',
  verifyFull: 'verify-full',
  prefer: 'prefer',
};

/** Checks a `sslmode` value (from the option, `url` or the older `ssl` option). */
export function postgresSslMode(value: string): PostgresSslMode {
  const found = POSTGRES_SSL_MODES.find((m) => m === value);
  if (found !== undefined) return found;
  throw new TributaryError('CONFIG_INVALID', `unknown sslmode ${JSON.stringify(value)} for the postgres sink`, {
    hint: `use one of ${POSTGRES_SSL_MODES.join(', ')}`,
  });
}

/**
 * The sink's TLS settings: the mode from `url`'s `sslmode`, else `sslmode`, else `ssl`; the files from `url`'s
 * `sslrootcert` / `sslcert` / `sslkey`, else the options of those names. The files are read now (CONFIG_INVALID
 * when one cannot be). libpq's rule holds: `require` with a root certificate verifies the CA.
 */
export function postgresTls(values: OptionValues, urlParams: URLSearchParams | undefined): TlsSettings {
  const text = (key: string): string | undefined => {
    const fromUrl = urlParams?.get(key);
    if (fromUrl !== null && fromUrl !== undefined) return fromUrl;
    return values[key] === undefined ? undefined : String(values[key]);
  };
  const written = text('sslmode') ?? (values['ssl'] === undefined ? undefined : String(values['ssl']));
  const files = { ca: text('sslrootcert'), cert: text('sslcert'), key: text('sslkey') };
  const sslmode = written === undefined ? undefined : postgresSslMode(written);
  let mode: TlsMode;
  switch (sslmode) {
    case undefined:
      mode = files.ca !== undefined ? 'verify-identity' : files.cert !== undefined ? 'required' : 'disabled';
      break;
    case 'disable':
      mode = 'disabled';
      break;
    case 'allow':
    case 'prefer':
      mode = 'preferred';
      break;
    case 'require':
      mode = files.ca !== undefined ? 'verify-ca' : 'required';
      break;
    case 'verify-ca':
      mode = 'verify-ca';
      break;
    case 'verify-full':
      mode = 'verify-identity';
      break;
  }
  return readTlsSettings(mode, files, POSTGRES_TLS_NAMES);
}

/** libpq's name of a mode, for messages. */
export function libpqMode(mode: TlsMode): PostgresSslMode {
  switch (mode) {
    case 'disabled':
      return 'disable';
    case 'preferred':
      return 'prefer';
    case 'required':
      return 'require';
    case 'verify-ca':
      return 'verify-ca';
    case 'verify-identity':
      return 'verify-full';
  }
}

/**
 * The `ssl` option of a `pg.Client`. For `preferred` the server is asked first whether it speaks TLS (the
 * protocol's SSLRequest), as libpq does: TLS without verification when it does, plain TCP when it does not.
 */
export async function pgSslOption(
  tls: TlsSettings,
  host: string,
  port: number,
  timeoutMs: number,
): Promise<false | TlsConnectionOptions> {
  if (tls.mode === 'disabled') return false;
  if (tls.mode === 'preferred' && (await serverOffersTls(host, port, timeoutMs)) === false) return false;
  return {
    rejectUnauthorized: verifiesCertificate(tls.mode),
    ...(tls.mode === 'verify-ca' ? { checkServerIdentity: () => undefined } : {}),
    ...(tls.ca ? { ca: tls.ca } : {}),
    ...(tls.cert ? { cert: tls.cert } : {}),
    ...(tls.key ? { key: tls.key } : {}),
  };
}

/**
 * Sends PostgreSQL's SSLRequest and reads the one-byte answer: true ('S'), false ('N'), undefined when the
 * server could not be asked (the connection attempt that follows reports why).
 */
export function serverOffersTls(host: string, port: number, timeoutMs: number): Promise<boolean | undefined> {
  return new Promise((resolve) => {
    const socket = netConnect({ host, port });
    const done = (answer: boolean | undefined) => {
      clearTimeout(timer);
      socket.destroy();
      resolve(answer);
    };
    const timer = setTimeout(() => done(undefined), timeoutMs);
    socket.once('error', () => done(undefined));
    socket.once('close', () => done(undefined));
    socket.once('connect', () => {
      const request = Buffer.alloc(8);
      request.writeInt32BE(8, 0);
      request.writeInt32BE(80877103, 4);
      socket.write(request);
    });
    socket.once('data', (data) => done(data[0] === 0x53 ? true : data[0] === 0x4e ? false : undefined));
  });
}

interface PgErrorLike {
  readonly code?: unknown;
  readonly routine?: unknown;
}

/**
 * A connection failure that is about TLS, with its own code; undefined for any other failure. The server
 * is asked (SSLRequest) where the driver's error cannot tell: TLS asked for and the connection closed before a
 * code (the server offers none: TLS_UNAVAILABLE), or a plain connection that pg_hba.conf refused
 * (SQLSTATE 28000 from the server's ClientAuthentication) while the server offers TLS (TLS_REQUIRED).
 */
export async function postgresTlsFailure(
  error: unknown,
  tls: TlsSettings,
  host: string,
  port: number,
  target: string,
  timeoutMs: number,
): Promise<TributaryError | undefined> {
  const classified = tlsFailure(error, target, POSTGRES_TLS_NAMES);
  if (classified !== undefined) return classified;
  const e = (typeof error === 'object' && error !== null ? error : {}) as PgErrorLike;
  const code = typeof e.code === 'string' ? e.code : undefined;
  const fromHba = code === '28000' && e.routine === 'ClientAuthentication';
  if (tls.mode === 'disabled' && fromHba && (await serverOffersTls(host, port, timeoutMs)) === true) {
    return new TributaryError(
      'TLS_REQUIRED',
      `PostgreSQL at ${target} refused a connection without TLS (pg_hba.conf has no \`host\` line for it)`,
      { cause: error, hint: tlsRequiredHint(POSTGRES_TLS_NAMES) },
    );
  }
  if (tls.mode !== 'disabled' && fromHba && tls.cert === undefined) {
    return new TributaryError(
      'TLS_CLIENT_CERT_REJECTED',
      `PostgreSQL at ${target} refused the connection: pg_hba.conf asks for a client certificate, or has no line for it (28000)`,
      {
        cause: error,
        hint: `set sink.sslcert and sink.sslkey to a client certificate whose CN is the role name, signed by the server's ssl_ca_file; or check pg_hba.conf`,
      },
    );
  }
  if (tls.mode !== 'disabled' && tls.mode !== 'preferred' && code === undefined) {
    if ((await serverOffersTls(host, port, timeoutMs)) === false) {
      return tlsFailure({ code: 'TLS_NOT_OFFERED' }, target, POSTGRES_TLS_NAMES);
    }
  }
  return undefined;
}
