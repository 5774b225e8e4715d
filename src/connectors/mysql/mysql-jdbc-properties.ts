import type { OptionValues } from '../../core/index.js';
import type { TlsMode } from '../tls-options.js';

const PREFIX = 'jdbc.properties.';

/** What the `jdbc.properties.*` options of a Flink CDC file mean for the mysql2 connections of the source. */
export interface JdbcSettings {
  /**
   * The TLS mode the properties ask for (`sslMode`, or the older `useSSL` / `requireSSL` /
   * `verifyServerCertificate`); undefined when they name none. `ssl-mode` takes precedence (mysql-tls.ts).
   */
  readonly tlsMode?: TlsMode;
  /** `connectTimeout` (ms): overrides `connect.timeout`. */
  readonly connectTimeoutMs?: number;
  /** `socketTimeout` (ms, > 0): overrides `read.timeout`. */
  readonly readTimeoutMs?: number;
  /** `zeroDateTimeBehavior`: overrides `zero-date.handling`. */
  readonly zeroDateHandling?: 'null' | 'error';
  /** Properties that have no effect, each with why: `validate` warns about each. */
  readonly ignored: readonly { readonly key: string; readonly reason: string }[];
}

/** Properties that need nothing here, and why. */
const NOT_NEEDED: Readonly<Record<string, string>> = {
  characterencoding: 'connections always use utf8mb4, and column values are decoded by their own charset',
  useunicode: 'connections always use utf8mb4',
  servertimezone: 'TIMESTAMP values are read as UTC instants whatever the session zone (see server-time-zone)',
  connectiontimezone: 'TIMESTAMP values are read as UTC instants whatever the session zone (see server-time-zone)',
  allowpublickeyretrieval: 'mysql2 negotiates caching_sha2_password itself',
  tinyint1isbit: 'use treat-tinyint1-as-boolean.enabled',
  usecursorfetch: 'a snapshot chunk is read with one query, bounded by scan.incremental.snapshot.chunk.size',
  defaultfetchsize: 'a snapshot chunk is read with one query, bounded by scan.incremental.snapshot.chunk.size',
  autoreconnect: 'the runtime reconnects and resumes from the last checkpoint',
  trustcertificatekeystoreurl: 'Java key stores are not read: set ssl-ca to the PEM file of the CA',
  trustcertificatekeystorepassword: 'Java key stores are not read: set ssl-ca to the PEM file of the CA',
  trustcertificatekeystoretype: 'Java key stores are not read: set ssl-ca to the PEM file of the CA',
  clientcertificatekeystoreurl: 'Java key stores are not read: set ssl-cert and ssl-key to PEM files',
  clientcertificatekeystorepassword: 'Java key stores are not read: set ssl-cert and ssl-key to PEM files',
  clientcertificatekeystoretype: 'Java key stores are not read: set ssl-cert and ssl-key to PEM files',
};

/**
 * Maps Connector/J properties to mysql2 settings where mysql2 has an equivalent: TLS (`useSSL`, `requireSSL`,
 * `sslMode`, `verifyServerCertificate`), `connectTimeout`, `socketTimeout`, `zeroDateTimeBehavior`. Property
 * names are matched case-insensitively, as Connector/J does. Values that do not parse are listed as ignored.
 */
export function jdbcProperties(options: OptionValues): JdbcSettings {
  const props = new Map<string, { key: string; value: string }>();
  for (const [key, value] of Object.entries(options)) {
    if (!key.startsWith(PREFIX) || value === undefined) continue;
    const name = key.slice(PREFIX.length);
    props.set(name.toLowerCase(), { key, value: String(value).trim() });
  }
  const ignored: { key: string; reason: string }[] = [];
  const take = (name: string) => {
    const found = props.get(name);
    props.delete(name);
    return found;
  };
  const bool = (prop: { key: string; value: string } | undefined): boolean | undefined => {
    if (prop === undefined) return undefined;
    const lower = prop.value.toLowerCase();
    if (lower === 'true' || lower === 'yes') return true;
    if (lower === 'false' || lower === 'no') return false;
    ignored.push({ key: prop.key, reason: `"${prop.value}" is not true or false` });
    return undefined;
  };
  const millis = (prop: { key: string; value: string } | undefined): number | undefined => {
    if (prop === undefined) return undefined;
    if (/^\d+$/.test(prop.value)) return Number(prop.value);
    ignored.push({ key: prop.key, reason: `"${prop.value}" is not a number of milliseconds` });
    return undefined;
  };

  // TLS: sslMode wins over the older useSSL/requireSSL/verifyServerCertificate, as in Connector/J 8.
  let tlsMode: TlsMode | undefined;
  const sslMode = take('sslmode');
  const useSsl = bool(take('usessl'));
  const requireSsl = bool(take('requiressl'));
  const verify = bool(take('verifyservercertificate'));
  if (sslMode !== undefined) {
    const mode = sslMode.value.toUpperCase();
    if (mode === 'DISABLED') tlsMode = 'disabled';
    else if (mode === 'PREFERRED') tlsMode = 'preferred';
    else if (mode === 'REQUIRED') tlsMode = 'required';
    else if (mode === 'VERIFY_CA') tlsMode = 'verify-ca';
    else if (mode === 'VERIFY_IDENTITY') tlsMode = 'verify-identity';
    else ignored.push({ key: sslMode.key, reason: `"${sslMode.value}" is not an sslMode of Connector/J` });
  } else if (useSsl === false) {
    tlsMode = 'disabled';
  } else if (useSsl === true || requireSsl === true) {
    // As Connector/J 8 reads the older properties: verifyServerCertificate checks the chain, not the host name.
    tlsMode = verify === true ? 'verify-ca' : 'required';
  }
  const connectTimeoutMs = millis(take('connecttimeout'));
  const socketTimeout = millis(take('sockettimeout'));
  let zeroDateHandling: 'null' | 'error' | undefined;
  const zero = take('zerodatetimebehavior');
  if (zero !== undefined) {
    const value = zero.value.toUpperCase().replace(/_/g, '');
    if (value === 'CONVERTTONULL') zeroDateHandling = 'null';
    else if (value === 'EXCEPTION') zeroDateHandling = 'error';
    else
      ignored.push({ key: zero.key, reason: `"${zero.value}" has no equivalent: zero-date.handling is null or error` });
  }
  for (const [name, prop] of props) {
    ignored.push({
      key: prop.key,
      reason: NOT_NEEDED[name] ?? 'mysql2 has no equivalent of this Connector/J property',
    });
  }
  return {
    ...(tlsMode === undefined ? {} : { tlsMode }),
    ...(connectTimeoutMs !== undefined && connectTimeoutMs > 0 ? { connectTimeoutMs } : {}),
    ...(socketTimeout !== undefined && socketTimeout > 0 ? { readTimeoutMs: socketTimeout } : {}),
    ...(zeroDateHandling === undefined ? {} : { zeroDateHandling }),
    ignored,
  };
}
