import type { OptionSpec, OptionValues } from '../../core/index.js';
import type { MysqlTypeOptions } from './mysql-types.js';

export const mysqlSourceOptionSpecs: readonly OptionSpec[] = [
  {
    key: 'hostname',
    type: 'string',
    default: '127.0.0.1',
    description: 'Host name or IP address of the MySQL/MariaDB server.',
  },
  { key: 'port', type: 'integer', default: 3306, min: 1, description: 'TCP port of the server.' },
  {
    key: 'username',
    type: 'string',
    required: true,
    description: 'User with SELECT, REPLICATION SLAVE and REPLICATION CLIENT privileges.',
  },
  {
    key: 'password',
    type: 'secret',
    default: '',
    description: 'Password of `username`. Use `${ENV_VAR}` to keep it out of the file.',
  },
  {
    key: 'tables',
    type: 'table-patterns',
    required: true,
    description:
      'Comma-separated regular expressions on `db.table`; the first unescaped `.` separates the database and table patterns (`user_db[0-9]+.user[0-9]+`, `tpc_ds.\\.*`).',
  },
  { key: 'tables.exclude', type: 'table-patterns', description: 'Tables to leave out, in the same form as `tables`.' },
  {
    key: 'server-id',
    type: 'string',
    pattern: { regex: /^\d+(-\d+)?$/, description: 'a number or a range like 5400-5404' },
    description:
      'Replication server id of this client, unique among the replicas of the server (a number, or a range `5400-5404` of which the first is used). Default: derived from the pipeline name.',
  },
  {
    key: 'scan.startup.mode',
    type: 'enum',
    values: ['initial', 'snapshot', 'latest-offset', 'earliest-offset', 'specific-offset', 'timestamp'],
    default: 'initial',
    description:
      '`initial`: snapshot, then follow the binlog. `snapshot`: snapshot only, then stop. `latest-offset`: only changes from now on. `earliest-offset`: the binlog from its oldest file, no snapshot. `specific-offset`: from `scan.startup.specific-offset.file`/`.pos`, no snapshot. `timestamp`: changes committed at or after `scan.startup.timestamp-millis`, no snapshot.',
  },
  {
    key: 'scan.startup.specific-offset.file',
    type: 'string',
    description: 'Binlog file to start from (`specific-offset` mode), e.g. `mysql-bin.000003`.',
  },
  {
    key: 'scan.startup.specific-offset.pos',
    type: 'integer',
    min: 4,
    description: 'Position in that file, an event boundary (`specific-offset` mode).',
  },
  {
    key: 'scan.startup.timestamp-millis',
    type: 'integer',
    min: 0,
    description:
      'Milliseconds since the epoch (`timestamp` mode): the first change delivered is the first committed at or after it.',
  },
  {
    key: 'scan.snapshot.rows-per-second',
    type: 'integer',
    min: 1,
    description: 'Cap on snapshot rows read per second over all readers, to spare the source. Default: no cap.',
  },
  {
    key: 'scan.incremental.snapshot.chunk.size',
    type: 'integer',
    default: 8096,
    min: 1,
    description: 'Rows per snapshot chunk (bounds memory per reader).',
  },
  {
    key: 'scan.incremental.snapshot.chunk.key-column',
    type: 'string',
    description:
      'For tables without a primary key: the column to chunk by and to identify rows with. It must be unique and not null for exact results.',
  },
  {
    key: 'treat-tinyint1-as-boolean.enabled',
    type: 'boolean',
    default: false,
    description:
      'Map `TINYINT(1)` (and `BOOL`, `BOOLEAN`) to `boolean` in snapshot, binlog and DDL alike. Off by default, unlike Flink CDC: `TINYINT(1)` holds −128…127, and as a boolean every value but 0 arrives as `true`. `TINYINT(1) UNSIGNED` stays an integer.',
  },
  {
    key: 'zero-date.handling',
    type: 'enum',
    values: ['null', 'error'],
    default: 'null',
    description:
      "Zero and partial-zero dates (`0000-00-00`, `2024-00-10`) in `DATE`, `DATETIME`, `TIMESTAMP`: `null` delivers them as NULL (so these columns are nullable in the sink); `error` stops the pipeline with an error naming table, column and value (not retried), and keeps the columns' own nullability.",
  },
  {
    key: 'heartbeat.interval',
    type: 'duration',
    default: 5000,
    description:
      'How often the server sends a heartbeat on an idle binlog connection. A binlog connection that brings neither an event nor a heartbeat for 3 intervals counts as dead (SOURCE_TIMEOUT): the pipeline reconnects and resumes from its last checkpoint.',
  },
  {
    key: 'connect.timeout',
    type: 'duration',
    default: 10000,
    description:
      'Time to wait for a connection to the server (TCP, TLS, login); after it, SOURCE_UNREACHABLE and a retry.',
  },
  {
    key: 'read.timeout',
    type: 'duration',
    default: 60000,
    description:
      'The longest a snapshot or catalog statement may go without a byte from the server (SOURCE_TIMEOUT after it: reconnect, resume). It bounds the silence, not the statement: a chunk whose rows keep arriving may take longer.',
  },
];

/** The typed configuration; it is also the {@link MysqlTypeOptions} of the type mapping. */
export interface MysqlSourceConfig extends MysqlTypeOptions {
  readonly host: string;
  readonly port: number;
  readonly user: string;
  readonly password: string;
  readonly tables: string;
  readonly tablesExclude: string | undefined;
  readonly serverId: number | undefined;
  readonly startupMode: 'initial' | 'snapshot' | 'latest-offset' | 'earliest-offset' | 'specific-offset' | 'timestamp';
  readonly specificOffsetFile: string | undefined;
  readonly specificOffsetPos: number | undefined;
  readonly startupTimestampMs: number | undefined;
  readonly snapshotRowsPerSecond: number | undefined;
  readonly chunkSize: number;
  readonly chunkKeyColumn: string | undefined;
  readonly heartbeatMs: number;
  readonly connectTimeoutMs: number;
  readonly readTimeoutMs: number;
}

/** Turns validated option values (see {@link mysqlSourceOptionSpecs}) into the typed configuration. */
export function mysqlSourceConfig(options: OptionValues): MysqlSourceConfig {
  const serverId = options['server-id'];
  return {
    host: String(options['hostname'] ?? '127.0.0.1'),
    port: Number(options['port'] ?? 3306),
    user: String(options['username'] ?? ''),
    password: String(options['password'] ?? ''),
    tables: String(options['tables'] ?? ''),
    tablesExclude: options['tables.exclude'] === undefined ? undefined : String(options['tables.exclude']),
    serverId: serverId === undefined ? undefined : Number(String(serverId).split('-')[0]),
    startupMode: (options['scan.startup.mode'] ?? 'initial') as MysqlSourceConfig['startupMode'],
    specificOffsetFile: optionalString(options['scan.startup.specific-offset.file']),
    specificOffsetPos: optionalNumber(options['scan.startup.specific-offset.pos']),
    startupTimestampMs: optionalNumber(options['scan.startup.timestamp-millis']),
    snapshotRowsPerSecond: optionalNumber(options['scan.snapshot.rows-per-second']),
    chunkSize: Number(options['scan.incremental.snapshot.chunk.size'] ?? 8096),
    chunkKeyColumn: options['scan.incremental.snapshot.chunk.key-column'] as string | undefined,
    tinyint1AsBoolean: options['treat-tinyint1-as-boolean.enabled'] === true,
    zeroDateHandling: options['zero-date.handling'] === 'error' ? 'error' : 'null',
    heartbeatMs: Number(options['heartbeat.interval'] ?? 5000),
    connectTimeoutMs: Number(options['connect.timeout'] ?? 10000),
    readTimeoutMs: Number(options['read.timeout'] ?? 60000),
  };
}

function optionalString(value: string | number | boolean | undefined): string | undefined {
  return value === undefined ? undefined : String(value);
}

function optionalNumber(value: string | number | boolean | undefined): number | undefined {
  return value === undefined ? undefined : Number(value);
}
