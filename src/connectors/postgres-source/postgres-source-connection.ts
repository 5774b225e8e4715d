import pg from 'pg';
import { TributaryError, type ErrorCode } from '../../core/index.js';
import type { PostgresSourceConfig } from './postgres-source-config.js';
import { textSettingsOption } from './postgres-source-types.js';

const asText = (value: string): string => value;

/**
 * A connection of the source: every value arrives as the server's text (no type parsing in the driver), under
 * the session settings of postgres-source-types.ts. `replication` opens a walsender connection (logical
 * replication commands and SQL). Errors are classified by {@link classifySourceError}.
 */
export async function connectSource(
  config: PostgresSourceConfig,
  options: { replication?: boolean; applicationName?: string } = {},
): Promise<pg.Client> {
  const clientConfig: pg.ClientConfig & { replication?: string } = {
    host: config.host,
    port: config.port,
    user: config.user,
    password: config.password,
    database: config.database,
    connectionTimeoutMillis: config.connectTimeoutMs,
    options: textSettingsOption(),
    application_name: options.applicationName ?? 'tributary',
    types: { getTypeParser: () => asText },
    keepAlive: true,
    ...(options.replication ? { replication: 'database' } : {}),
  };
  const client = new pg.Client(clientConfig);
  // An idle client whose server goes away emits 'error'; the next query rejects, which is where it is handled.
  client.on('error', () => undefined);
  try {
    await client.connect();
  } catch (error) {
    await client.end().catch(() => undefined);
    throw classifySourceError(error, config, 'connect');
  }
  return client;
}

const NETWORK_ERRNOS = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'ENOTFOUND',
  'EAI_AGAIN',
  'EHOSTUNREACH',
  'ETIMEDOUT',
  'EPIPE',
]);

/** Classifies a `pg` error by SQLSTATE or errno; messages never carry the password. */
export function classifySourceError(
  error: unknown,
  config: PostgresSourceConfig,
  phase: 'connect' | 'query' | 'stream',
): TributaryError {
  if (error instanceof TributaryError) return error;
  const code = (error as { code?: unknown } | null)?.code;
  const text = (error instanceof Error ? error.message : String(error)).split(config.password || '\u0000').join('***');
  const target = `${config.user}@${config.host}:${config.port}/${config.database}`;
  const make = (c: ErrorCode, message: string, hint: string, retryable?: boolean) =>
    new TributaryError(c, message, { hint, cause: error, ...(retryable === undefined ? {} : { retryable }) });
  if (code === '28P01' || code === '28000') {
    return make(
      'SOURCE_AUTH_FAILED',
      `PostgreSQL at ${target} rejected the login (${code}): ${text}`,
      'check source options `username` and `password`, and that pg_hba.conf lets the role connect — for the replication connection, with a `replication` or `all` database entry',
    );
  }
  if (code === '42501') {
    return make(
      'SOURCE_PRIVILEGES_MISSING',
      `PostgreSQL at ${target}: permission denied (${text})`,
      `grant the role what docs/connectors/postgres.md#source-privileges lists: REPLICATION, SELECT on the captured tables, CREATE on the database for the publication`,
    );
  }
  if (code === '3D000') {
    return make(
      'CONFIG_INVALID',
      `database ${config.database} does not exist on ${target}`,
      'check source option `database-name`',
    );
  }
  if (typeof code === 'string' && (NETWORK_ERRNOS.has(code) || code.startsWith('08') || /^57P0[123]$/.test(code))) {
    return make(
      phase === 'connect' ? 'SOURCE_UNREACHABLE' : 'SOURCE_CONNECTION_LOST',
      `PostgreSQL at ${target}: ${text} (${code})`,
      'the pipeline retries; check that the server runs and is reachable',
    );
  }
  if (code === undefined && phase !== 'query' && /timeout|terminated|ended|closed/i.test(text)) {
    return make(
      phase === 'connect' ? 'SOURCE_UNREACHABLE' : 'SOURCE_CONNECTION_LOST',
      `PostgreSQL at ${target}: ${text}`,
      'the pipeline retries; check that the server runs and is reachable',
    );
  }
  return make(
    'SOURCE_QUERY_FAILED',
    `PostgreSQL at ${target}: ${text}${typeof code === 'string' ? ` (${code})` : ''}`,
    'see the server log',
  );
}
