import type { OptionSpec, OptionValues } from '../../core/option-spec.js';
import { TributaryError } from '../../core/errors.js';
import {
  checkpointTableOf,
  checkpointTableOptions,
  commitMaxTablesOf,
  commitOptions,
  optionText,
} from '../sink-kit/sink-options.js';
import type { TlsSettings } from '../tls-options.js';
import type { PostgresWriteMode } from './postgres-mode-writer.js';
import { postgresTls, postgresTlsOptionSpecs } from './postgres-tls.js';

/** The options of `type: postgres` sinks. Validation and the connector reference derive from these. */
export const postgresSinkOptions: readonly OptionSpec[] = [
  {
    key: 'url',
    type: 'secret',
    description:
      'postgres://user:password@host:port/database?sslmode=require — an alternative to the separate fields. ' +
      'Parts it names take precedence; parts it leaves out (often the password) come from the separate options.',
  },
  {
    key: 'hostname',
    type: 'string',
    default: '127.0.0.1',
    description: 'Host name or IP address of the PostgreSQL server.',
  },
  { key: 'port', type: 'integer', default: 5432, description: 'TCP port of the PostgreSQL server.' },
  { key: 'username', type: 'string', default: 'postgres', description: 'Role to connect as.' },
  { key: 'password', type: 'secret', default: '', description: 'Password of `username`.' },
  { key: 'database', type: 'string', description: 'Database to write into. Required unless `url` names one.' },
  {
    key: 'ssl',
    type: 'enum',
    values: ['disable', 'require', 'verify-full'],
    description:
      'The older form of `sslmode` (which takes precedence): `require` encrypts without checking the certificate; `verify-full` also checks it against `sslrootcert` (or the system CAs) and the host name. Default: `disable`.',
  },
  ...postgresTlsOptionSpecs,
  {
    key: 'schema',
    type: 'string',
    default: 'public',
    description:
      'PostgreSQL schema for sink tables whose name has no namespace (a route to `orders`). A table that keeps ' +
      'its source namespace (`shop.orders`) goes to the schema of that name, created if missing.',
  },
  ...checkpointTableOptions,
  ...commitOptions,
  {
    key: 'write-mode',
    type: 'enum',
    values: ['upsert', 'merge', 'append'],
    default: 'upsert',
    description:
      'How changes reach the sink tables. `upsert`: each batch is applied as it arrives (insert-or-update and ' +
      'delete by primary key), and the commit adds the checkpoint. `merge`: changes are streamed into a staging ' +
      'table and, at each commit, collapsed per key to their last state and applied at once. `append`: every ' +
      'change becomes a row of a changelog table. All three commit data and checkpoint in one transaction.',
  },
  {
    key: 'buffer.max-rows',
    type: 'integer',
    min: 0,
    default: 0,
    description:
      'With `write-mode: upsert`: changes wait in the pipeline, collapsed per key to their last state, until the ' +
      'commit or until this many rows are waiting, instead of being written batch by batch. For output where ' +
      "keys repeat within a checkpoint (a SQL job's GROUP BY result: its `tributary sql` default is 100000), " +
      'PostgreSQL then writes each key once per commit. 0: each batch is written as it arrives (the default: ' +
      'a replica writes each row once anyway, and PostgreSQL works while the next batch is read).',
  },
  {
    key: 'connect.timeout',
    type: 'duration',
    default: 10000,
    description:
      'Time to wait for a connection to the server (TCP, TLS, login); after it, SINK_UNREACHABLE and a retry.',
  },
  {
    key: 'read.timeout',
    type: 'duration',
    default: 120000,
    description:
      'The longest a statement or commit may go without a byte moving between the sink and PostgreSQL (SINK_TIMEOUT after it: reconnect, replay from the last checkpoint). It bounds the silence, not the statement; raise it if schema changes that rewrite large tables take longer.',
  },
  {
    key: 'append.table-suffix',
    type: 'string',
    default: '_changelog',
    description:
      'With `write-mode: append`: the changelog of sink table `shop.orders` is `shop.orders<suffix>`. May be ' +
      "empty (`''`): the changelog then has the sink table's own name.",
  },
];

export interface PostgresSinkConfig {
  readonly hostname: string;
  readonly port: number;
  readonly username: string;
  readonly password: string;
  readonly database: string;
  /** TLS (`sslmode`, `sslrootcert`, `sslcert`, `sslkey`, also from `url`; the older `ssl`). */
  readonly tls: TlsSettings;
  readonly schema: string;
  readonly checkpointSchema: string;
  readonly checkpointTable: string;
  /** Sink option `commit.max-tables`: distinct tables per transaction, at most. */
  readonly commitMaxTables: number;
  readonly writeMode: PostgresWriteMode;
  /** Sink option `buffer.max-rows`: rows an upsert sink holds, collapsed per key, before it writes (0: none). */
  readonly bufferMaxRows: number;
  readonly appendTableSuffix: string;
  readonly connectTimeoutMs: number;
  readonly readTimeoutMs: number;
}

/**
 * Turns validated option values into a typed config. Throws CONFIG_INVALID for a malformed `url` or a
 * missing database; the message never repeats the url, which may hold a password.
 */
export function postgresSinkConfig(values: OptionValues): PostgresSinkConfig {
  const text = optionText(values);
  let hostname = text('hostname', '127.0.0.1');
  let port = Number(values['port'] ?? 5432);
  let username = text('username', 'postgres');
  let password = values['password'] === undefined ? '' : String(values['password']);
  let database = text('database', '');
  let urlParams: URLSearchParams | undefined;

  const url = values['url'];
  if (typeof url === 'string' && url !== '') {
    let parsed: URL;
    try {
      parsed = new URL(url);
    } catch {
      throw new TributaryError('CONFIG_INVALID', 'sink option `url` is not a valid URL', {
        hint: 'write it as postgres://user:password@host:5432/database (percent-encode special characters in the password)',
      });
    }
    if (parsed.protocol !== 'postgres:' && parsed.protocol !== 'postgresql:') {
      throw new TributaryError(
        'CONFIG_INVALID',
        `sink option \`url\` has scheme ${parsed.protocol}, expected postgres:`,
        {
          hint: 'write it as postgres://user:password@host:5432/database',
        },
      );
    }
    if (parsed.hostname !== '') hostname = decodeURIComponent(parsed.hostname).replace(/^\[(.*)\]$/, '$1');
    if (parsed.port !== '') port = Number(parsed.port);
    if (parsed.username !== '') username = decodeURIComponent(parsed.username);
    if (parsed.password !== '') password = decodeURIComponent(parsed.password);
    const path = decodeURIComponent(parsed.pathname.replace(/^\//, ''));
    if (path !== '') database = path;
    urlParams = parsed.searchParams;
  }

  if (database === '') {
    throw new TributaryError('CONFIG_INVALID', 'the postgres sink needs a database', {
      hint: 'set sink option `database` (or name it in `url`: postgres://…/database)',
    });
  }
  if (!Number.isInteger(port) || port < 1 || port > 65535) {
    throw new TributaryError('CONFIG_INVALID', `sink option \`port\` must be 1..65535, got ${String(port)}`, {
      hint: 'set sink option `port` to the server port (PostgreSQL uses 5432 by default)',
    });
  }
  return {
    hostname,
    port,
    username,
    password,
    database,
    tls: postgresTls(values, urlParams),
    schema: text('schema', 'public'),
    ...checkpointTableOf(values),
    commitMaxTables: commitMaxTablesOf(values),
    writeMode: writeMode(text('write-mode', 'upsert')),
    bufferMaxRows: Number(values['buffer.max-rows'] ?? 0),
    appendTableSuffix:
      values['append.table-suffix'] === undefined ? '_changelog' : String(values['append.table-suffix']),
    connectTimeoutMs: Number(values['connect.timeout'] ?? 10000),
    readTimeoutMs: Number(values['read.timeout'] ?? 120000),
  };
}

/** `user@host:port/database`: how messages name the sink. Never contains the password. */
export function describePostgresTarget(config: PostgresSinkConfig): string {
  const host = config.hostname.includes(':') ? `[${config.hostname}]` : config.hostname;
  return `${config.username}@${host}:${config.port}/${config.database}`;
}

function writeMode(value: string): PostgresWriteMode {
  if (value === 'upsert' || value === 'merge' || value === 'append') return value;
  throw new TributaryError('CONFIG_INVALID', `unknown write-mode ${JSON.stringify(value)} for the postgres sink`, {
    hint: 'use upsert, merge or append',
  });
}
