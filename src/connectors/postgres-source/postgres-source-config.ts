import type { OptionSpec, OptionsOf } from '../../core/index.js';

/**
 * Options of the `postgres` source, with Flink CDC's `postgres-cdc` names where it has one (`hostname`,
 * `database-name`, `schema-name`, `table-name`, `slot.name`, `decoding.plugin.name`, …).
 */
export const postgresSourceOptionSpecs = [
  {
    key: 'hostname',
    type: 'string',
    default: '127.0.0.1',
    description: 'Host name or IP address of the PostgreSQL server.',
  },
  { key: 'port', type: 'integer', default: 5432, min: 1, description: 'TCP port of the server.' },
  {
    key: 'username',
    type: 'string',
    required: true,
    description:
      'Role with LOGIN and REPLICATION (or superuser), SELECT on the captured tables, and CREATE on the database when the publication must be created.',
  },
  {
    key: 'password',
    type: 'secret',
    default: '',
    description: 'Password of `username`. Use `${ENV_VAR}` to keep it out of the file.',
  },
  { key: 'database-name', type: 'string', required: true, description: 'The database to capture (one per source).' },
  {
    key: 'tables',
    type: 'table-patterns',
    description:
      "Comma-separated regular expressions on `schema.table` (as the `mysql` source's `tables`, with the schema in place of the database): `public.orders`, `shop_[0-9]+.\\.*`. Either this or `table-name`.",
  },
  { key: 'tables.exclude', type: 'table-patterns', description: 'Tables to leave out, in the same form as `tables`.' },
  {
    key: 'schema-name',
    type: 'string',
    default: 'public',
    description: "Flink CDC's schema pattern (a regular expression), used with `table-name` when `tables` is not set.",
  },
  {
    key: 'table-name',
    type: 'string',
    description:
      "Flink CDC's table pattern (a regular expression on the table name, comma-separated alternatives), used with `schema-name` when `tables` is not set.",
  },
  {
    key: 'slot.name',
    type: 'string',
    pattern: { regex: /^[a-z0-9_]{1,63}$/, description: 'lower-case letters, digits and _, at most 63' },
    description:
      'The logical replication slot. Created when missing (at the start of a pipeline that has no checkpoint). Default: `tributary_` + the pipeline name.',
  },
  {
    key: 'decoding.plugin.name',
    type: 'enum',
    values: ['pgoutput'],
    default: 'pgoutput',
    description:
      'The logical decoding plugin: `pgoutput`, built into PostgreSQL 10 and later (the only one supported).',
  },
  {
    key: 'publication.name',
    type: 'string',
    pattern: { regex: /^[a-z0-9_]{1,63}$/, description: 'lower-case letters, digits and _, at most 63' },
    description:
      'The publication that the slot streams. Created when missing. Default: `tributary_` + the pipeline name.',
  },
  {
    key: 'publication.autocreate.mode',
    type: 'enum',
    values: ['filtered', 'all_tables'],
    default: 'filtered',
    description:
      "How a missing publication is created (Debezium's names): `filtered` — `FOR TABLE` the captured tables (needs ownership of them; captured tables missing from an existing publication are added); `all_tables` — `FOR ALL TABLES` (needs superuser), so tables created later stream too.",
  },
  {
    key: 'scan.startup.mode',
    type: 'enum',
    values: ['initial', 'snapshot', 'latest-offset'],
    default: 'initial',
    description:
      "`initial`: snapshot every table by chunks beside the stream, which starts at the slot's creation point. `snapshot`: snapshot only, then stop (no slot). `latest-offset`: only changes from now on.",
  },
  {
    key: 'scan.incremental.snapshot.chunk.size',
    type: 'integer',
    default: 8096,
    min: 1,
    description:
      'Rows per snapshot chunk: the unit of resume after a restart (bounds memory per reader; chunks are read in parallel).',
  },
  {
    key: 'scan.snapshot.rows-per-second',
    type: 'integer',
    min: 1,
    description: 'Cap on snapshot rows read per second over all readers, to spare the source. Default: no cap.',
  },
  {
    key: 'heartbeat.interval',
    type: 'duration',
    default: 10000,
    description:
      'How often the source reports its committed position to the server and asks it for a keepalive, so that an idle slot advances (and releases WAL) through the next checkpoint; also how often it looks for new tables matching `tables`.',
  },
  {
    key: 'connect.timeout',
    type: 'duration',
    default: 10000,
    description: 'Time to wait for a connection to the server; after it, SOURCE_UNREACHABLE and a retry.',
  },
  {
    key: 'changelog-mode',
    type: 'enum',
    values: ['all', 'upsert'],
    description: "Flink CDC's changelog mode of the table source.",
    ignored: 'every change is delivered with its before image; sinks upsert by key',
  },
  {
    key: 'debezium.*',
    type: 'string',
    description: "Properties passed to Flink CDC's embedded Debezium engine.",
    ignored: 'Tributary does not run Debezium: options with a meaning here have their own keys',
  },
] as const satisfies readonly OptionSpec[];

/** The options as `open` receives them: typed from the specs, defaults filled in from them. */
export type PostgresSourceOptions = OptionsOf<typeof postgresSourceOptionSpecs>;

export interface PostgresSourceConfig {
  readonly host: string;
  readonly port: number;
  readonly user: string;
  readonly password: string;
  readonly database: string;
  /** `schema-name` / `table-name` as one `schema.table` pattern list, when `tables` is not set. */
  readonly flinkTables: string | undefined;
  readonly slotName: string;
  readonly publicationName: string;
  readonly publicationMode: 'filtered' | 'all_tables';
  readonly startupMode: 'initial' | 'snapshot' | 'latest-offset';
  readonly chunkSize: number;
  readonly heartbeatMs: number;
  /** `scan.snapshot.rows-per-second` (undefined: no cap). */
  readonly snapshotRowsPerSecond: number | undefined;
  readonly connectTimeoutMs: number;
}

/** `tributary_` + the pipeline name in the characters a slot name allows. */
export function defaultSlotName(pipelineName: string): string {
  return `tributary_${pipelineName.toLowerCase().replace(/[^a-z0-9_]/g, '_')}`.slice(0, 63);
}

export function postgresSourceConfig(options: PostgresSourceOptions, pipelineName: string): PostgresSourceConfig {
  const tableName = options['table-name'];
  const schemaName = options['schema-name'];
  return {
    host: options.hostname,
    port: options.port,
    user: options.username,
    password: options.password,
    database: options['database-name'],
    flinkTables:
      tableName === undefined
        ? undefined
        : tableName
            .split(',')
            .map((t) => `${selectorPart(schemaName.trim())}.${selectorPart(t.trim())}`)
            .join(','),
    slotName: options['slot.name'] ?? defaultSlotName(pipelineName),
    publicationName: options['publication.name'] ?? defaultSlotName(pipelineName),
    publicationMode: options['publication.autocreate.mode'],
    startupMode: options['scan.startup.mode'],
    chunkSize: options['scan.incremental.snapshot.chunk.size'],
    heartbeatMs: options['heartbeat.interval'],
    snapshotRowsPerSecond: options['scan.snapshot.rows-per-second'],
    connectTimeoutMs: options['connect.timeout'],
  };
}

/**
 * A Flink CDC regular expression (`schema-name`, `table-name`) as one side of a `tables` pattern, where the first
 * unescaped `.` separates schema from table and `\.` is the regular expression's `.`: every unescaped dot is
 * escaped. (A literal dot, `\.` in the Flink pattern, then matches any character, as `tables` cannot say more.)
 */
function selectorPart(regex: string): string {
  return regex.replace(/(?<!\\)\./g, '\\.');
}
