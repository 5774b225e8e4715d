import { readFileSync } from 'node:fs';
import { TributaryError, type ErrorCode } from '../core/errors.js';

/**
 * TLS of a client connection, shared by the connectors: the mode, as MySQL's `--ssl-mode` names them (the
 * PostgreSQL sink maps its `sslmode` values onto these), and the PEM files of the CA and the client certificate.
 *
 * - `disabled`: plain TCP.
 * - `preferred`: TLS without checking the certificate when the server offers TLS, plain TCP when it does not.
 * - `required`: TLS, certificate not checked (encrypts, but does not prove who the server is).
 * - `verify-ca`: TLS, the certificate must chain to `ca` (or the system CAs); the host name is not checked.
 * - `verify-identity`: as `verify-ca`, and the certificate must name the host connected to.
 */
export type TlsMode = 'disabled' | 'preferred' | 'required' | 'verify-ca' | 'verify-identity';

export interface TlsSettings {
  readonly mode: TlsMode;
  /** PEM contents, read when the configuration is built (so `validate` reports a missing file). */
  readonly ca?: Buffer;
  readonly cert?: Buffer;
  readonly key?: Buffer;
}

/** The option keys a connector uses for its TLS settings, for messages and hints. */
export interface TlsOptionNames {
  readonly mode: string;
  readonly ca: string;
  readonly cert: string;
  readonly key: string;
  /** `source` or `sink`, the block the options are written in. */
  readonly block: string;
  /** How the connector spells the strictest mode and the TLS-when-offered mode. */
  readonly verifyFull: string;
  readonly prefer: string;
}

/** Whether the mode checks the server's certificate. */
export function verifiesCertificate(mode: TlsMode): boolean {
  return mode === 'verify-ca' || mode === 'verify-identity';
}

/**
 * Reads the PEM files named by the options (paths as written; relative paths are relative to the working
 * directory). A file that cannot be read, or that holds no PEM block, is CONFIG_INVALID naming the option.
 * A certificate without its key (or a key without its certificate) is CONFIG_INVALID as well.
 */
export function readTlsSettings(
  mode: TlsMode,
  files: { readonly ca?: string; readonly cert?: string; readonly key?: string },
  names: TlsOptionNames,
): TlsSettings {
  const read = (path: string | undefined, key: string, what: string): Buffer | undefined => {
    if (path === undefined || path.trim() === '') return undefined;
    let content: Buffer;
    try {
      content = readFileSync(path.trim());
    } catch (error) {
      const code = (error as { code?: string }).code ?? 'unreadable';
      throw new TributaryError('CONFIG_INVALID', `${names.block}.${key}: cannot read ${path.trim()} (${code})`, {
        hint: `write the path of the ${what} (a PEM file) the pipeline's user can read`,
      });
    }
    if (!content.includes('-----BEGIN ')) {
      throw new TributaryError('CONFIG_INVALID', `${names.block}.${key}: ${path.trim()} is not a PEM file`, {
        hint: `convert the ${what} to PEM (openssl x509 -inform der -in … -out ….pem; for a key: openssl pkey)`,
      });
    }
    return content;
  };
  const ca = read(files.ca, names.ca, 'CA certificate(s)');
  const cert = read(files.cert, names.cert, 'client certificate');
  const key = read(files.key, names.key, 'client private key');
  if ((cert === undefined) !== (key === undefined)) {
    throw new TributaryError(
      'CONFIG_INVALID',
      `${names.block}.${cert === undefined ? names.key : names.cert} is set without ${names.block}.${cert === undefined ? names.cert : names.key}`,
      { hint: `a client certificate needs its key: set both ${names.cert} and ${names.key}` },
    );
  }
  if (mode === 'disabled' && (ca !== undefined || cert !== undefined)) {
    throw new TributaryError('CONFIG_INVALID', `${names.block}: TLS files are given but ${names.mode} disables TLS`, {
      hint: `set ${names.mode} (verify-identity checks the server against ${names.ca}), or remove the files`,
    });
  }
  return { mode, ...(ca ? { ca } : {}), ...(cert ? { cert } : {}), ...(key ? { key } : {}) };
}

/** Node's TLS verification codes (`tls.TLSSocket` errors), by what they mean for the user. */
const UNTRUSTED_CODES = new Set([
  'UNABLE_TO_VERIFY_LEAF_SIGNATURE',
  'UNABLE_TO_GET_ISSUER_CERT',
  'UNABLE_TO_GET_ISSUER_CERT_LOCALLY',
  'SELF_SIGNED_CERT_IN_CHAIN',
  'DEPTH_ZERO_SELF_SIGNED_CERT',
  'CERT_SIGNATURE_FAILURE',
  'CERT_UNTRUSTED',
  'CERT_REJECTED',
  'INVALID_CA',
]);
const EXPIRED_CODES = new Set(['CERT_HAS_EXPIRED', 'CERT_NOT_YET_VALID']);

/**
 * OpenSSL's verification texts (X509_verify_cert_error_string, unchanged for decades) → Node's code. Used only
 * where a driver replaces Node's code with its own: mysql2 sets `HANDSHAKE_SSL_ERROR` on every failed upgrade.
 */
const VERIFY_TEXTS: readonly (readonly [RegExp, string])[] = [
  [/^self[- ]signed certificate in certificate chain/, 'SELF_SIGNED_CERT_IN_CHAIN'],
  [/^self[- ]signed certificate/, 'DEPTH_ZERO_SELF_SIGNED_CERT'],
  [/^unable to verify the first certificate/, 'UNABLE_TO_VERIFY_LEAF_SIGNATURE'],
  [/^unable to get local issuer certificate/, 'UNABLE_TO_GET_ISSUER_CERT_LOCALLY'],
  [/^unable to get issuer certificate/, 'UNABLE_TO_GET_ISSUER_CERT'],
  [/^certificate signature failure/, 'CERT_SIGNATURE_FAILURE'],
  [/^certificate has expired/, 'CERT_HAS_EXPIRED'],
  [/^certificate is not yet valid/, 'CERT_NOT_YET_VALID'],
];

/** OpenSSL alerts by which a server rejects the client's certificate (or its absence). */
const CLIENT_CERT_ALERTS =
  /alert (bad certificate|unknown ca|certificate required|certificate unknown|certificate expired|handshake failure|access denied)/i;

interface TlsErrorLike {
  readonly code?: unknown;
  readonly message?: unknown;
  readonly reason?: unknown;
  readonly host?: unknown;
  readonly cert?: unknown;
}

/** Node's TLS code of `error`, recovering it where a driver overwrote it (see {@link VERIFY_TEXTS}). */
export function tlsErrorCode(error: unknown): string | undefined {
  if (typeof error !== 'object' || error === null) return undefined;
  const e = error as TlsErrorLike;
  const code = typeof e.code === 'string' ? e.code : undefined;
  // tls.checkServerIdentity's error carries the host and the certificate it compared.
  if (code === 'ERR_TLS_CERT_ALTNAME_INVALID' || (typeof e.host === 'string' && e.cert !== undefined)) {
    return 'ERR_TLS_CERT_ALTNAME_INVALID';
  }
  if (code !== undefined && code !== 'HANDSHAKE_SSL_ERROR') return code;
  const message = typeof e.message === 'string' ? e.message : '';
  for (const [text, node] of VERIFY_TEXTS) if (text.test(message)) return node;
  const reason = typeof e.reason === 'string' ? e.reason : '';
  if (CLIENT_CERT_ALERTS.test(reason)) return 'ERR_SSL_CLIENT_CERT_REJECTED';
  return code;
}

/**
 * Classifies a failed TLS handshake into its own error code with the fix, or undefined when `error` is not a
 * TLS failure. `where` names the server (`host:port`), `names` the options to change.
 */
export function tlsFailure(error: unknown, where: string, names: TlsOptionNames): TributaryError | undefined {
  const code = tlsErrorCode(error);
  if (code === undefined) return undefined;
  const make = (tributaryCode: ErrorCode, message: string, hint: string) =>
    new TributaryError(tributaryCode, message, { cause: error, hint });
  const b = names.block;
  if (UNTRUSTED_CODES.has(code)) {
    return make(
      'TLS_CERT_UNTRUSTED',
      `the TLS certificate of ${where} is not signed by a trusted CA (${code})`,
      `set ${b}.${names.ca} to the PEM file of the CA that signed the server's certificate (or install it as a system CA)`,
    );
  }
  if (code === 'ERR_TLS_CERT_ALTNAME_INVALID') {
    const reason =
      typeof (error as TlsErrorLike).reason === 'string' ? `: ${String((error as TlsErrorLike).reason)}` : '';
    return make(
      'TLS_HOSTNAME_MISMATCH',
      `the TLS certificate of ${where} does not name the host connected to${reason}`,
      `connect by a name the certificate lists (its subjectAltName), or reissue the certificate with this name; ${b}.${names.mode}: verify-ca checks the CA but not the name`,
    );
  }
  if (EXPIRED_CODES.has(code)) {
    return make(
      'TLS_CERT_EXPIRED',
      `the TLS certificate of ${where} is ${code === 'CERT_HAS_EXPIRED' ? 'expired' : 'not valid yet'} (${code})`,
      "renew the server's certificate (and check this machine's clock)",
    );
  }
  if (code === 'HANDSHAKE_NO_SSL_SUPPORT' || code === 'TLS_NOT_OFFERED') {
    return make(
      'TLS_UNAVAILABLE',
      `the server at ${where} does not offer TLS, which ${b}.${names.mode} requires`,
      `enable TLS on the server, or set ${b}.${names.mode}: ${names.prefer} (TLS when offered)`,
    );
  }
  if (
    code === 'ERR_SSL_CLIENT_CERT_REJECTED' ||
    /^ERR_SSL_(TLSV13_ALERT_CERTIFICATE_REQUIRED|SSLV3_ALERT_BAD_CERTIFICATE|TLSV1_ALERT_UNKNOWN_CA|SSLV3_ALERT_CERTIFICATE_UNKNOWN|SSLV3_ALERT_CERTIFICATE_EXPIRED|TLSV1_ALERT_ACCESS_DENIED)$/.test(
      code,
    )
  ) {
    return make(
      'TLS_CLIENT_CERT_REJECTED',
      `the server at ${where} rejected this client's TLS certificate (${code})`,
      `set ${b}.${names.cert} and ${b}.${names.key} to a client certificate signed by a CA the server trusts (ssl_ca / ssl_ca_file)`,
    );
  }
  if (/^ERR_OSSL_|^ERR_SSL_/.test(code)) {
    return make(
      'CONFIG_INVALID',
      `TLS with ${where} failed (${code})`,
      `check ${b}.${names.ca}, ${b}.${names.cert} and ${b}.${names.key}: PEM files, the key belonging to the certificate`,
    );
  }
  return undefined;
}

/** Hint text for a server that refused a plain connection because it requires TLS. */
export function tlsRequiredHint(names: TlsOptionNames): string {
  return `set ${names.block}.${names.mode} (${names.verifyFull}, with ${names.ca}: the CA's PEM file), and ${names.cert} / ${names.key} when the account needs a client certificate`;
}
