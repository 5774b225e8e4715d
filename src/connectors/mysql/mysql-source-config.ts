import { timeZoneProblem, type OptionSpec, type OptionValues } from '../../core/index.js';
import { jdbcProperties, type JdbcSettings } from './mysql-jdbc-properties.js';
import { mysqlTls, mysqlTlsOptionSpecs, type MysqlTls } from './mysql-tls.js';
import type { MysqlTypeOptions } from './mysql-types.js';
import { hostListProblem, parseHostList, type MysqlHost } from './mysql-hosts.js';

const RUNTIME_IGNORED = 'Tributary is one process: there are no messages between Flink tasks';

export const mysqlSourceOptionSpecs: readonly OptionSpec[] = [
  {
    key: 'hostname',
    type: 'string',
    default: '127.0.0.1',
    check: hostListProblem,
    description:
      'Host name or IP address of the MySQL/MariaDB server; several, comma-separated (`db1,db2,db3`, all on `port`), are servers of one replication topology tried in turn (see `hosts`).',
  },
  { key: 'port', type: 'integer', default: 3306, min: 1, description: 'TCP port of the server.' },
  {
    key: 'hosts',
    type: 'string',
    check: hostListProblem,
    description:
      'The servers of one replication topology as `host:port` entries, comma-separated (`db1:3306,db2:3307`; a host without a port uses `port`); replaces `hostname`. The source reads the first that answers; when it is lost, the next run attempt tries the others and resumes there by GTID (see connectors/mysql.md#failover-and-replicas).',
  },
  {
    key: 'failover.resume-by-gtid',
    type: 'boolean',
    description:
      'Whether a checkpoint that another server wrote (another identity or binlog: a failover) is resumed here by its GTID state, trusting that GTIDs name the same transactions on every server read. Default: true when `hosts` (or `hostname`) lists several servers, false for one — then such a checkpoint stops the run with PIPELINE_STATE_MISMATCH, as a replaced or unrelated server must.',
  },
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
  ...mysqlTlsOptionSpecs,
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
    key: 'scan.startup.specific-offset.gtid-set',
    type: 'string',
    description:
      'The GTID state to start after (`specific-offset` mode, without `.file`): MariaDB a GTID position (`0-1-120`, one `domain-server-sequence` per domain, as `@@gtid_binlog_pos` prints it), MySQL a GTID set (`uuid:1-120`, as `@@gtid_executed`). The first change delivered is that of the first transaction not in it. With `.file` given, `.file`/`.pos` win and this is not used (a warning says so).',
  },
  {
    key: 'scan.startup.specific-offset.skip-rows',
    type: 'integer',
    min: 0,
    description:
      'Row changes to skip at the start position (`specific-offset` mode): the first transaction from there delivers its changes from this one on.',
  },
  {
    key: 'scan.startup.specific-offset.skip-events',
    type: 'integer',
    min: 0,
    description:
      'Binlog events to skip after the start position. Not used: start at an event boundary with `.pos` (and `.skip-rows`) instead; a value above 0 draws a warning.',
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
    key: 'scan.snapshot.fetch.size',
    type: 'integer',
    min: 1,
    description: "Rows per fetch of a snapshot query (Connector/J's fetch size).",
    ignored:
      'a snapshot chunk is read with one query of at most scan.incremental.snapshot.chunk.size rows, which is what bounds its memory',
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
    key: 'server-time-zone',
    type: 'string',
    check: timeZoneProblem,
    description:
      "The server's session time zone, as in Flink CDC (a region such as `Asia/Shanghai`, or an offset `+08:00`). It does not change a value: a `TIMESTAMP` is read as an instant (snapshot sessions run with `time_zone = '+00:00'`, the binlog holds seconds since the epoch), a `DATETIME` as the wall-clock time written. `validate` compares it with the server's offset now, as Flink CDC does, and warns when they differ.",
  },
  {
    key: 'schema-change.enabled',
    type: 'boolean',
    default: true,
    description:
      '`false`: the source sends no schema changes downstream, so sink tables keep the schema they were created with (`pipeline.schema.change.behavior` is then `ignore`, whatever it says). DDL is still followed to decode rows.',
  },
  {
    key: 'scan.newly-added-table.enabled',
    type: 'boolean',
    description:
      'Tables that a widened `tables` pattern matches after a restart are snapshotted, then streamed: Tributary always does so, as Flink CDC with `true`. Written as `false`, `validate` warns that it has no effect.',
  },
  {
    key: 'metadata.list',
    type: 'string',
    pattern: {
      regex: /^\s*op_ts\s*$/,
      description: 'a list of readable metadata, of which MySQL has one: op_ts',
    },
    description:
      'Readable metadata for the transforms: `op_ts`, the time the change was committed at the source (milliseconds since the epoch; 0 for snapshot rows, as in Flink CDC). The source attaches it to every change event (`source.tsMs`); a projection reads it as `op_ts` where the transform expressions support it (see pipeline-file.md#transform).',
  },
  {
    key: 'connect.max-retries',
    type: 'integer',
    min: 0,
    description: 'How often Flink CDC retries a connection to the server.',
    ignored:
      'a connection that fails (SOURCE_UNREACHABLE) is retried by the runtime with backoff until the server answers; a server being unreachable never stops the pipeline',
  },
  {
    key: 'jdbc.properties.*',
    type: 'string',
    description:
      'Connector/J properties (`jdbc.properties.useSSL: true`). Those with a mysql2 equivalent are applied to every source connection: `useSSL`, `requireSSL`, `sslMode`, `verifyServerCertificate`, `connectTimeout`, `socketTimeout`, `zeroDateTimeBehavior`; the others (`characterEncoding`, `serverTimezone`, …) draw a warning naming them and why they are not needed.',
  },
  {
    key: 'connection.pool.size',
    type: 'integer',
    min: 1,
    description: "Size of Flink CDC's JDBC connection pool.",
    ignored: 'the source opens one connection per snapshot reader (pipeline.parallelism) and one for the binlog',
  },
  {
    key: 'debezium.*',
    type: 'string',
    description: "Properties passed to Flink CDC's embedded Debezium engine.",
    ignored:
      'Tributary does not run Debezium: its own binlog reader has no such settings (options with a meaning here have their own keys)',
  },
  {
    key: 'scan.incremental.close-idle-reader.enabled',
    type: 'boolean',
    description: 'Whether Flink closes idle snapshot readers.',
    ignored: 'snapshot readers are closed when their chunks are done',
  },
  {
    key: 'scan.incremental.snapshot.unbounded-chunk-first.enabled',
    type: 'boolean',
    description: 'Whether the unbounded last chunk of a table is read first.',
    ignored: 'chunks are split lazily and are all bounded by scan.incremental.snapshot.chunk.size',
  },
  {
    key: 'scan.incremental.snapshot.backfill.skip',
    type: 'boolean',
    description: 'Whether changes during a chunk are not merged into it (at-least-once).',
    ignored: 'every chunk is reconciled with the binlog between its watermarks: delivery stays exactly once',
  },
  {
    key: 'scan.binlog.newly-added-table.enabled',
    type: 'boolean',
    description: 'Binlog-only capture of tables created while running.',
    ignored: 'a table created while running is streamed from its CREATE (one renamed in: snapshotted, then streamed)',
  },
  {
    key: 'scan.parse.online.schema.changes.enabled',
    type: 'boolean',
    description: 'Whether gh-ost and pt-online-schema-change migrations are followed.',
    ignored: 'they are always followed: a migration becomes the schema change it means',
  },
  {
    key: 'include-comments.enabled',
    type: 'boolean',
    description: 'Whether table and column comments are sent downstream.',
    ignored: 'table and column comments are not carried to the sinks in this release',
  },
  {
    key: 'use.legacy.json.format',
    type: 'boolean',
    description: 'Whether binlog JSON text drops the spaces after `:` and `,`.',
    ignored:
      'JSON arrives in one format in the snapshot and the binlog (PostgreSQL jsonb and DuckDB JSON compare values, not spaces)',
  },
  {
    key: 'chunk-meta.group.size',
    type: 'integer',
    description: "Chunks per message between Flink's split enumerator and readers.",
    ignored: RUNTIME_IGNORED,
  },
  {
    key: 'chunk-key.even-distribution.factor.upper-bound',
    type: 'string',
    description: 'When Flink CDC splits a key range evenly instead of by queries.',
    ignored: 'chunks are always split by the keys that exist (one query per chunk), so no factor decides it',
  },
  {
    key: 'chunk-key.even-distribution.factor.lower-bound',
    type: 'string',
    description: 'When Flink CDC splits a key range evenly instead of by queries.',
    ignored: 'chunks are always split by the keys that exist (one query per chunk), so no factor decides it',
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
  /** The server read now: the first of `hosts` until the source switches. */
  readonly host: string;
  readonly port: number;
  /** Every server of the topology, in the order written (`hosts`, or `hostname` with commas). */
  readonly hosts: readonly MysqlHost[];
  /** `failover.resume-by-gtid`, its default applied. */
  readonly resumeByGtid: boolean;
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
  readonly specificOffsetGtidSet: string | undefined;
  readonly specificOffsetSkipRows: number;
  readonly specificOffsetSkipEvents: number;
  readonly serverTimeZone: string | undefined;
  readonly schemaChangeEnabled: boolean;
  readonly newlyAddedTableEnabled: boolean;
  /** Whether `scan.newly-added-table.enabled` was written (its warning is only for a written `false`). */
  readonly newlyAddedTableWritten: boolean;
  /** `metadata.list`, as names. */
  readonly metadata: readonly string[];
  /** What `jdbc.properties.*` mean for mysql2. */
  readonly jdbc: JdbcSettings;
  /** TLS of every source connection (`ssl-mode`, `ssl-ca`, … or the `jdbc.properties.*`). */
  readonly tls: MysqlTls;
}

/** Turns validated option values (see {@link mysqlSourceOptionSpecs}) into the typed configuration. */
export function mysqlSourceConfig(options: OptionValues): MysqlSourceConfig {
  const serverId = options['server-id'];
  const jdbc = jdbcProperties(options);
  const metadata = options['metadata.list'];
  const hosts = parseHostList(
    String(options['hosts'] ?? options['hostname'] ?? '127.0.0.1'),
    Number(options['port'] ?? 3306),
  );
  return {
    host: hosts[0]!.host,
    port: hosts[0]!.port,
    hosts,
    resumeByGtid:
      options['failover.resume-by-gtid'] === undefined ? hosts.length > 1 : options['failover.resume-by-gtid'] === true,
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
    zeroDateHandling: (jdbc.zeroDateHandling ?? options['zero-date.handling']) === 'error' ? 'error' : 'null',
    heartbeatMs: Number(options['heartbeat.interval'] ?? 5000),
    connectTimeoutMs: jdbc.connectTimeoutMs ?? Number(options['connect.timeout'] ?? 10000),
    readTimeoutMs: jdbc.readTimeoutMs ?? Number(options['read.timeout'] ?? 60000),
    specificOffsetGtidSet: optionalString(options['scan.startup.specific-offset.gtid-set']),
    specificOffsetSkipRows: Number(options['scan.startup.specific-offset.skip-rows'] ?? 0),
    specificOffsetSkipEvents: Number(options['scan.startup.specific-offset.skip-events'] ?? 0),
    serverTimeZone: optionalString(options['server-time-zone'])?.trim(),
    schemaChangeEnabled: options['schema-change.enabled'] !== false,
    newlyAddedTableEnabled: options['scan.newly-added-table.enabled'] === true,
    newlyAddedTableWritten: options['scan.newly-added-table.enabled'] !== undefined,
    metadata:
      typeof metadata === 'string'
        ? metadata
            .split(',')
            .map((m) => m.trim())
            .filter((m) => m !== '')
        : [],
    jdbc,
    tls: mysqlTls(options, jdbc),
  };
}

function optionalString(value: string | number | boolean | undefined): string | undefined {
  return value === undefined ? undefined : String(value);
}

function optionalNumber(value: string | number | boolean | undefined): number | undefined {
  return value === undefined ? undefined : Number(value);
}
