import type { ConnectionOptions } from 'mysql2';
import { TributaryError, type OptionSpec, type OptionValues } from '../../core/index.js';
import {
  readTlsSettings,
  tlsRequiredHint,
  verifiesCertificate,
  type TlsMode,
  type TlsOptionNames,
} from '../tls-options.js';
import type { JdbcSettings } from './mysql-jdbc-properties.js';

/** The `mysql` source's TLS options, named as the `mysql` client's `--ssl-mode`, `--ssl-ca`, … */
export const mysqlTlsOptionSpecs: readonly OptionSpec[] = [
  {
    key: 'ssl-mode',
    type: 'enum',
    values: ['disabled', 'preferred', 'required', 'verify-ca', 'verify-identity'],
    description:
      'TLS on every source connection (snapshot, catalog and binlog). `disabled`: plain TCP. `preferred`: TLS when the server offers it, certificate not checked. `required`: TLS, certificate not checked. `verify-ca`: TLS, the certificate must be signed by `ssl-ca` (or a system CA). `verify-identity`: as `verify-ca`, and it must name `hostname`. Default: what `jdbc.properties.sslMode` / `useSSL` say, else `disabled`.',
  },
  {
    key: 'ssl-ca',
    type: 'string',
    description:
      'PEM file of the CA certificate(s) that signed the server certificate (for `verify-ca` / `verify-identity`).',
  },
  {
    key: 'ssl-cert',
    type: 'string',
    description: 'PEM file of the client certificate, for accounts created with `REQUIRE X509` / `REQUIRE SUBJECT`.',
  },
  { key: 'ssl-key', type: 'string', description: 'PEM file of the private key of `ssl-cert` (unencrypted).' },
];

export const MYSQL_TLS_NAMES: TlsOptionNames = {
  mode: 'ssl-mode',
  ca: 'ssl-ca',
  cert: 'ssl-cert',
  key: 'ssl-key',
  block: 'source',
  verifyFull: 'verify-identity',
  prefer: 'preferred',
};

/** MySQL's and MariaDB's ER_SECURE_TRANSPORT_REQUIRED: `require_secure_transport=ON` refused a plain connection. */
export const SECURE_TRANSPORT_REQUIRED: ReadonlySet<number> = new Set([3159, 4188]);

/** TLS of the source's connections. */
export interface MysqlTls {
  readonly mode: TlsMode;
  /** mysql2's `ssl` option; undefined for `disabled`. */
  readonly ssl: NonNullable<ConnectionOptions['ssl']> | undefined;
  /** `preferred`: connect without TLS when the server offers none. */
  readonly fallBackToPlain: boolean;
}

/**
 * Reads `ssl-mode`, `ssl-ca`, `ssl-cert`, `ssl-key` (the PEM files are read now: CONFIG_INVALID when one cannot
 * be), falling back to the mode the `jdbc.properties.*` ask for. Files given without a mode mean `verify-identity`
 * with a CA, `required` with only a client certificate.
 */
export function mysqlTls(options: OptionValues, jdbc: JdbcSettings): MysqlTls {
  const text = (key: string) => (options[key] === undefined ? undefined : String(options[key]));
  const written = text('ssl-mode') as TlsMode | undefined;
  const files = { ca: text('ssl-ca'), cert: text('ssl-cert'), key: text('ssl-key') };
  const mode: TlsMode =
    written ??
    jdbc.tlsMode ??
    (files.ca !== undefined ? 'verify-identity' : files.cert !== undefined ? 'required' : 'disabled');
  const settings = readTlsSettings(mode, files, MYSQL_TLS_NAMES);
  if (mode === 'disabled') return { mode, ssl: undefined, fallBackToPlain: false };
  return {
    mode,
    ssl: {
      ...(settings.ca ? { ca: settings.ca.toString('utf8') } : {}),
      ...(settings.cert ? { cert: settings.cert.toString('utf8') } : {}),
      ...(settings.key ? { key: settings.key.toString('utf8') } : {}),
      rejectUnauthorized: verifiesCertificate(mode),
      verifyIdentity: mode === 'verify-identity',
    },
    fallBackToPlain: mode === 'preferred',
  };
}

/**
 * Opens a connection with the source's TLS: `open(ssl)` connects with mysql2's `ssl` option (undefined: plain).
 * With `preferred`, a server that offers no TLS (mysql2's HANDSHAKE_NO_SSL_SUPPORT) gets a second, plain attempt.
 *
 * A plain login that the server denies (1045) may be a wrong password or a server that accepts TLS only:
 * MariaDB's `require_secure_transport` answers 1045 too (MySQL has its own 3159). To tell them apart the same
 * login is tried once more over TLS; when that one succeeds, it is closed at once and the error is TLS_REQUIRED.
 * (With mysql_native_password and ed25519, MariaDB's usual plugins, no password crosses the wire either way.)
 */
export async function openWithTls<T>(
  tls: MysqlTls,
  open: (ssl: NonNullable<ConnectionOptions['ssl']> | undefined) => Promise<T>,
  close: (connection: T) => Promise<void>,
  where: string,
): Promise<T> {
  if (tls.ssl === undefined) {
    try {
      return await open(undefined);
    } catch (error) {
      if ((error as { errno?: unknown }).errno !== ER_ACCESS_DENIED) throw error;
      let overTls: T;
      try {
        overTls = await open({ rejectUnauthorized: false });
      } catch {
        throw error;
      }
      await close(overTls);
      throw new TributaryError(
        'TLS_REQUIRED',
        `the server at ${where} denied the login without TLS and accepted it with TLS (require_secure_transport, or an account created REQUIRE SSL)`,
        { cause: error, hint: tlsRequiredHint(MYSQL_TLS_NAMES) },
      );
    }
  }
  try {
    return await open(tls.ssl);
  } catch (error) {
    if (tls.fallBackToPlain && (error as { code?: unknown }).code === 'HANDSHAKE_NO_SSL_SUPPORT')
      return open(undefined);
    throw error;
  }
}

const ER_ACCESS_DENIED = 1045;

/** What `validate` says about the connection's encryption: the server's view (`Ssl_version`, `Ssl_cipher`). */
export async function describeTls(
  conn: { query(sql: string): Promise<[unknown, unknown]> },
  tls: MysqlTls,
): Promise<string> {
  const [rows] = await conn.query("SHOW SESSION STATUS WHERE Variable_name IN ('Ssl_version', 'Ssl_cipher')");
  const status = new Map(
    (rows as { Variable_name?: string; Value?: string }[]).map((r) => [r.Variable_name ?? '', r.Value ?? '']),
  );
  const cipher = status.get('Ssl_cipher') ?? '';
  return cipher === ''
    ? `connection not encrypted (ssl-mode ${tls.mode})`
    : `connection encrypted: ${status.get('Ssl_version') ?? 'TLS'} ${cipher} (ssl-mode ${tls.mode})`;
}
