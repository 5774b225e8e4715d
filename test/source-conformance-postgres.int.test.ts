import { parseTableSelectors } from '../src/core/table-selector.js';
import { postgresSource } from '../src/connectors/postgres-source/postgres-source.js';
import { createLogger } from '../src/runtime/logger.js';
import { freshPostgresDatabase } from './harness/databases.js';
import { sourceConformance, type TypeColumn } from './harness/source-conformance.js';

/** Every family of PostgreSQL type the source maps, with extremes and NULL; the same literals go through the snapshot and the WAL. */
const TYPE_COLUMNS: readonly TypeColumn[] = [
  { name: 'i2', sql: 'smallint', literals: ['-32768', '32767', 'NULL'] },
  { name: 'i4', sql: 'integer', literals: ['-2147483648', '2147483647', 'NULL'] },
  { name: 'i8', sql: 'bigint', literals: ['-9223372036854775808', '9223372036854775807', 'NULL'] },
  { name: 'n', sql: 'numeric(20,5)', literals: ['123456789012345.12345', '-0.00001', 'NULL'] },
  { name: 'nu', sql: 'numeric', literals: ['-98765432109876543210.0123456789', '1.000000000000000000001', 'NULL'] },
  { name: 'f4', sql: 'real', literals: ["'Infinity'", '3.4028235e38', '0.1'] },
  { name: 'f8', sql: 'double precision', literals: ["'-Infinity'", '5e-324', "'NaN'"] },
  { name: 'm', sql: 'money', literals: ['-92233720368547758.08', '0', 'NULL'] },
  { name: 'b', sql: 'boolean', literals: ['true', 'false', 'NULL'] },
  { name: 't', sql: 'text', literals: ["E'tab\\t newline\\n quote'' back\\\\ é 😀'", "repeat('x', 5000)", 'NULL'] },
  { name: 'vc', sql: 'varchar(10)', literals: ["''", "'abc  '", 'NULL'] },
  { name: 'c', sql: 'char(5)', literals: ["'ab'", "'ü€😀'", 'NULL'] },
  {
    name: 'u',
    sql: 'uuid',
    literals: ["'a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11'", "'00000000-0000-0000-0000-000000000000'", 'NULL'],
  },
  { name: 'j', sql: 'json', literals: [`'{"a": [1, 2.5, "x"], "b": null}'`, "'[]'", 'NULL'] },
  { name: 'jb', sql: 'jsonb', literals: [`'{"b":12345678901234567890,"a":1.50}'`, "'null'", 'NULL'] },
  { name: 'by', sql: 'bytea', literals: ["'\\x00ff10'", "'\\x'", 'NULL'] },
  { name: 'bi', sql: 'bit(4)', literals: ["B'1010'", "B'0000'", 'NULL'] },
  { name: 'vb', sql: 'varbit', literals: ["B'101'", "B''", 'NULL'] },
  { name: 'd', sql: 'date', literals: ["'0001-01-01'", "'9999-12-31'", 'NULL'] },
  { name: 'tm', sql: 'time(6)', literals: ["'23:59:59.999999'", "'24:00:00'", 'NULL'] },
  { name: 'tz', sql: 'timetz', literals: ["'10:00:00.5+02'", "'00:00:00-12:30'", 'NULL'] },
  {
    name: 'ts',
    sql: 'timestamp(6)',
    literals: ["'9999-12-31 23:59:59.999999'", "'1970-01-01 00:00:00.000001'", 'NULL'],
  },
  {
    name: 'tstz',
    sql: 'timestamptz(6)',
    literals: ["'2024-03-01 10:00:00.123456-07'", "'1969-12-31 23:59:59.999+00'", 'NULL'],
  },
  {
    name: 'iv',
    sql: 'interval',
    literals: ["'1 year 2 mons 3 days 04:05:06.5'", "'-1 days +00:00:00.000001'", 'NULL'],
  },
  { name: 'ip', sql: 'inet', literals: ["'192.168.0.1/24'", "'::1'", 'NULL'] },
  { name: 'ci', sql: 'cidr', literals: ["'10.0.0.0/8'", "'::/0'", 'NULL'] },
  { name: 'mac', sql: 'macaddr', literals: ["'08:00:2b:01:02:03'", "'ff:ff:ff:ff:ff:ff'", 'NULL'] },
  { name: 'e', sql: 'sc_mood', literals: ["'happy'", "'sad'", 'NULL'] },
  { name: 'dom', sql: 'sc_posint', literals: ['5', '2147483647', 'NULL'] },
  { name: 'ai', sql: 'int[]', literals: ["'{1,NULL,3}'", "'{{1,2},{3,4}}'", "'{}'"] },
  { name: 'at', sql: 'text[]', literals: [`'{"a b","c\\"d",NULL,"NULL",""}'`, '\'{"é"}\'', 'NULL'] },
  { name: 'r', sql: 'int4range', literals: ["'[1,5)'", "'empty'", "'(,)'"] },
];

sourceConformance('PostgreSQL', async () => {
  const db = await freshPostgresDatabase('sc_pg');
  await db.query(`CREATE TYPE sc_mood AS ENUM ('sad', 'happy')`);
  await db.query(`CREATE DOMAIN sc_posint AS integer CHECK (VALUE > 0)`);
  const url = new URL(db.url);
  const log = createLogger({ level: 'warn', write: (line) => console.log(line) });
  return {
    createNamespace: async (name) => void (await db.query(`CREATE SCHEMA ${name}`)),
    dropNamespace: async (name) => void (await db.query(`DROP SCHEMA IF EXISTS ${name} CASCADE`)),
    execute: async (sql) => void (await db.query(sql)),
    tablePattern: (namespace, name) => `${namespace}.${name}`,
    source: (spec) =>
      postgresSource(
        {
          hostname: url.hostname,
          port: Number(url.port),
          username: decodeURIComponent(url.username),
          password: decodeURIComponent(url.password),
          'database-name': db.name,
          tables: spec.tables,
          'scan.incremental.snapshot.chunk.size': spec.chunkSize,
          'heartbeat.interval': 500,
          ...(spec.rowsPerSecond === undefined ? {} : { 'scan.snapshot.rows-per-second': spec.rowsPerSecond }),
        },
        {
          log,
          pipelineName: spec.pipelineName,
          parallelism: spec.parallelism,
          include: parseTableSelectors(spec.tables),
          exclude: [],
        },
      ),
    sourceYaml: (spec) => ({
      yaml: [
        '  type: postgres',
        `  hostname: ${url.hostname}`,
        `  port: ${url.port}`,
        `  username: ${decodeURIComponent(url.username)}`,
        '  password: ${SC_PG_PASSWORD}',
        `  database-name: ${db.name}`,
        `  tables: ${spec.tables}`,
        `  scan.incremental.snapshot.chunk.size: ${spec.chunkSize}`,
        '  heartbeat.interval: 500ms',
        ...(spec.rowsPerSecond === undefined ? [] : [`  scan.snapshot.rows-per-second: ${spec.rowsPerSecond}`]),
      ].join('\n'),
      env: { SC_PG_PASSWORD: decodeURIComponent(url.password) },
    }),
    typeColumns: TYPE_COLUMNS,
    close: async () => {
      await db.query(
        'SELECT pg_drop_replication_slot(slot_name) FROM pg_replication_slots WHERE database = current_database()',
      );
      await db.drop();
    },
  };
});
