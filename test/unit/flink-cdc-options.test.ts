import { describe, expect, it } from 'vitest';
import { routeModeCheck } from '../../src/composer/pipeline-validation.js';
import { ConfigError } from '../../src/config/config-error.js';
import { parsePipelineYaml } from '../../src/config/load-pipeline.js';
import { pipelineIdentifier } from '../../src/config/pipeline-options.js';
import { parseTableSelector } from '../../src/core/table-selector.js';
import { knownTypes, optionSpecsFor } from '../../src/connectors/registry.js';
import { jdbcProperties } from '../../src/connectors/mysql/mysql-jdbc-properties.js';
import { mysqlSourceConfig } from '../../src/connectors/mysql/mysql-source-config.js';
import { checkStartupOptions, sourceOptionWarnings } from '../../src/connectors/mysql/mysql-startup-offset.js';
import { postgresCreateTableStatements } from '../../src/connectors/postgres/postgres-table-layout.js';
import { parseTableOptions } from '../../src/core/table-layout.js';
import { tableId, type TableSchema } from '../../src/core/table-schema.js';
import { formatOffset, parseTimeZone } from '../../src/core/time-zone.js';
import { resolveRoute } from '../../src/transform/route.js';

/** The real registry: these tests are about the options the connectors declare. */
const lookup = { optionSpecsFor, knownTypes };

const BASE = `source:
  type: mysql
  hostname: 127.0.0.1
  username: cdc
  password: pw
  tables: app_db.\\.*
sink:
  type: postgres
  hostname: 127.0.0.1
`;

function parse(text: string) {
  return parsePipelineYaml(text, { ...lookup, env: {}, file: 'flink.yaml' });
}

function problems(text: string): string[] {
  try {
    parse(text);
  } catch (error) {
    if (error instanceof ConfigError) return error.problems.map((p) => `${p.path}: ${p.message}`);
    throw error;
  }
  return [];
}

describe('Flink CDC options in a pipeline file', () => {
  it('accepts the MySQL connector options that have no meaning here, one notice per option (a family once)', () => {
    const def = parse(
      BASE.replace(
        '  tables: app_db.\\.*\n',
        `  tables: app_db.\\.*
  debezium.snapshot.mode: never
  debezium.skipped.operations: t
  connection.pool.size: 20
  scan.incremental.close-idle-reader.enabled: true
  server-time-zone: Asia/Shanghai
  jdbc.properties.useSSL: false
`,
      ) + 'pipeline:\n  name: Sync MySQL Database to Doris\n  operator.uid.prefix: cdc-\n  parallelism: 2\n',
    );
    expect(def.ignoredOptions?.map((o) => `${o.block}.${o.key} ${o.written.join(',')}`)).toEqual([
      'source.debezium.* debezium.snapshot.mode,debezium.skipped.operations',
      'source.connection.pool.size connection.pool.size',
      'source.scan.incremental.close-idle-reader.enabled scan.incremental.close-idle-reader.enabled',
      'pipeline.operator.uid.prefix operator.uid.prefix',
    ]);
    // Implemented options reach the source; ignored ones do not.
    expect(def.source.options['server-time-zone']).toBe('Asia/Shanghai');
    expect(def.source.options['jdbc.properties.useSSL']).toBe('false');
    expect(def.source.options['connection.pool.size']).toBeUndefined();
    expect(def.pipeline.displayName).toBe('Sync MySQL Database to Doris');
    expect(def.pipeline.name).toBe(pipelineIdentifier('Sync MySQL Database to Doris'));
  });

  it('still type-checks ignored options and rejects keys that are in no Flink CDC version, with a suggestion', () => {
    // A source option written under sink: is unknown there.
    expect(problems(BASE + '  connection.pool.size: 20\n')).toEqual([
      expect.stringContaining('sink.connection.pool.size: unknown option of the postgres sink'),
    ]);
    const found = problems(
      BASE.replace(
        '  tables: app_db.\\.*\n',
        '  tables: app_db.\\.*\n  connection.pool.size: many\n  server-time-zon: UTC\n',
      ),
    );
    expect(found).toEqual([
      expect.stringContaining('source.connection.pool.size: expected an integer'),
      expect.stringContaining('source.server-time-zon: unknown option — did you mean "server-time-zone"?'),
    ]);
  });

  it('rejects a time zone that does not parse, and BATCH mode with the fix', () => {
    expect(
      problems(BASE.replace('  tables: app_db.\\.*\n', '  tables: app_db.\\.*\n  server-time-zone: Mars/Olympus\n')),
    ).toEqual([expect.stringContaining('"Mars/Olympus" is not a time zone')]);
    expect(problems(BASE + 'pipeline:\n  local-time-zone: GMT+25\n')).toEqual([
      expect.stringContaining('pipeline.local-time-zone: "GMT+25" is not a time zone'),
    ]);
    expect(problems(BASE + 'pipeline:\n  execution.runtime-mode: BATCH\n')).toEqual([
      expect.stringContaining('scan.startup.mode: snapshot'),
    ]);
    expect(parse(BASE + 'pipeline:\n  local-time-zone: America/Los_Angeles\n').pipeline.localTimeZone).toBe(
      'America/Los_Angeles',
    );
  });

  it('accepts partition-keys and table-options, checking the keys against primary-keys', () => {
    const def = parse(
      BASE +
        `transform:
  - source-table: app_db.orders
    projection: id, region, amount
    primary-keys: id, region
    partition-keys: region
    table-options: fillfactor=70;comment=orders, by region
    table-options.delimiter: ";"
`,
    );
    expect(def.transforms[0]?.partitionKeys).toEqual(['region']);
    expect(def.transforms[0]?.tableOptions).toEqual({ fillfactor: '70', comment: 'orders, by region' });
    expect(
      problems(
        BASE + 'transform:\n  - source-table: app_db.orders\n    primary-keys: id\n    partition-keys: region\n',
      ),
    ).toEqual([expect.stringContaining('"region" is not in primary-keys (id)')]);
    expect(parseTableOptions('a=1,,b = x=y')).toEqual({ options: { a: '1', b: 'x=y' } });
    expect(parseTableOptions('a=1,oops')).toHaveProperty('problem');
  });
});

describe('pipeline names are free text with a stable identifier', () => {
  it('keeps identifier-like names as they are, so their checkpoints resume', () => {
    for (const name of ['users-to-warehouse', 'shop.orders_v2', 'A1']) expect(pipelineIdentifier(name)).toBe(name);
  });

  it('derives a safe, distinct identifier from any other text', () => {
    const sync = pipelineIdentifier('Sync MySQL Database to Doris');
    expect(sync).toMatch(/^Sync-MySQL-Database-to-Doris-[0-9a-f]{8}$/);
    expect(pipelineIdentifier('Sync MySQL Database to Doris')).toBe(sync);
    expect(pipelineIdentifier('a b')).not.toBe(pipelineIdentifier('a/b'));
    expect(pipelineIdentifier('同步任务')).toMatch(/^pipeline-[0-9a-f]{8}$/);
    expect(pipelineIdentifier('x y'.repeat(100)).length).toBeLessThanOrEqual(57);
  });
});

describe('route capture groups', () => {
  const route = { sourceTable: parseTableSelector('db_(\\d+).tbl_(\\d+)'), sinkTable: 'sink_db_$1.sink_table_$2' };

  it('substitutes $1, $2 by the groups of source-table, database part first', () => {
    expect(resolveRoute([route], tableId('db_7', 'tbl_42'))).toEqual(tableId('sink_db_7', 'sink_table_42'));
    expect(resolveRoute([route], tableId('db_x', 'tbl_1'))).toEqual(tableId('db_x', 'tbl_1'));
  });

  it('the docs example: db_(\\.*).(\\.*)_tbl → sink_db_$1.sink_table_$2', () => {
    const docs = { sourceTable: parseTableSelector('db_(\\.*).(\\.*)_tbl'), sinkTable: 'sink_db_$1.sink_table_$2' };
    expect(resolveRoute([docs], tableId('db_foo', 'bar_tbl'))).toEqual(tableId('sink_db_foo', 'sink_table_bar'));
  });

  it('reports a reference to a group the pattern lacks, and groups mixed with replace-symbol', () => {
    expect(
      problems(BASE + 'route:\n  - source-table: db_(\\d+).orders\n    sink-table: sink_db_$1.orders_$2\n'),
    ).toEqual([expect.stringContaining('refers to $2, but source-table "db_(\\d+).orders" has 1 capturing group')]);
    expect(
      problems(
        BASE + 'route:\n  - source-table: db_(\\d+).\\.*\n    sink-table: sink_db_$1.<>\n    replace-symbol: "#"\n',
      ),
    ).toEqual([expect.stringContaining('cannot be combined with replace-symbol')]);
  });
});

describe('time zones as Flink CDC takes them (ZoneId.of)', () => {
  const winter = new Date('2024-01-15T12:00:00Z');
  const summer = new Date('2024-07-15T12:00:00Z');
  it.each([
    ['UTC', 0, 0],
    ['Z', 0, 0],
    ['+08:00', 480, 480],
    ['-0530', -330, -330],
    ['GMT+8', 480, 480],
    ['UTC-08:00', -480, -480],
    ['Asia/Shanghai', 480, 480],
    ['Europe/Berlin', 60, 120],
    ['America/Los_Angeles', -480, -420],
  ])('%s', (id, january, july) => {
    const zone = parseTimeZone(id);
    expect(zone?.offsetMinutesAt(winter)).toBe(january);
    expect(zone?.offsetMinutesAt(summer)).toBe(july);
  });

  it('refuses what is not a zone', () => {
    for (const id of ['', 'Mars/Olympus', '+25:00', 'GMT+8:99', 'systemDefault'])
      expect(parseTimeZone(id)).toBeUndefined();
    expect(formatOffset(-330)).toBe('-05:30');
  });
});

describe('jdbc.properties.* for mysql2', () => {
  it('maps TLS, timeouts and zeroDateTimeBehavior; names the rest with why', () => {
    const settings = jdbcProperties({
      'jdbc.properties.useSSL': 'true',
      'jdbc.properties.verifyServerCertificate': 'true',
      'jdbc.properties.connectTimeout': '2500',
      'jdbc.properties.socketTimeout': '90000',
      'jdbc.properties.zeroDateTimeBehavior': 'CONVERT_TO_NULL',
      'jdbc.properties.characterEncoding': 'UTF-8',
      'jdbc.properties.rewriteBatchedStatements': 'true',
    });
    expect(settings.tlsMode).toBe('verify-ca');
    expect(settings.connectTimeoutMs).toBe(2500);
    expect(settings.readTimeoutMs).toBe(90000);
    expect(settings.zeroDateHandling).toBe('null');
    expect(settings.ignored.map((i) => i.key)).toEqual([
      'jdbc.properties.characterEncoding',
      'jdbc.properties.rewriteBatchedStatements',
    ]);
    expect(jdbcProperties({ 'jdbc.properties.sslMode': 'REQUIRED' }).tlsMode).toBe('required');
    expect(jdbcProperties({ 'jdbc.properties.useSSL': 'false' }).tlsMode).toBe('disabled');
    expect(jdbcProperties({ 'jdbc.properties.sslMode': 'PREFERRED' }).tlsMode).toBe('preferred');
    expect(jdbcProperties({ 'jdbc.properties.sslMode': 'VERIFY_IDENTITY' }).tlsMode).toBe('verify-identity');
    expect(jdbcProperties({}).tlsMode).toBeUndefined();
  });

  it('they override the options of the same meaning', () => {
    const config = mysqlSourceConfig({
      username: 'cdc',
      tables: 'a.b',
      'connect.timeout': 10_000,
      'zero-date.handling': 'null',
      'jdbc.properties.connectTimeout': '3000',
      'jdbc.properties.zeroDateTimeBehavior': 'exception',
    });
    expect(config.connectTimeoutMs).toBe(3000);
    expect(config.zeroDateHandling).toBe('error');
  });
});

describe('PostgreSQL table layout from partition-keys and table-options', () => {
  const schema: TableSchema = {
    id: tableId('public', 'orders'),
    columns: [
      { name: 'id', type: { kind: 'int64' }, nullable: false },
      { name: 'region', type: { kind: 'varchar', length: 8 }, nullable: false },
    ],
    primaryKey: ['id', 'region'],
  };
  const name = { schema: 'public', table: 'orders' };
  const create = 'CREATE TABLE IF NOT EXISTS "public"."orders" (…)';

  it('partitions by LIST with a default partition that takes the storage parameters; comment on the table', () => {
    expect(
      postgresCreateTableStatements(name, create, schema, {
        partitionKeys: ['region'],
        options: { fillfactor: '70', comment: "it's orders", replication_num: '1' },
      }),
    ).toEqual([
      `${create} PARTITION BY LIST ("region")`,
      'CREATE TABLE IF NOT EXISTS "public"."orders_default" PARTITION OF "public"."orders" DEFAULT WITH (fillfactor = 70)',
      `COMMENT ON TABLE "public"."orders" IS 'it''s orders'`,
    ]);
    expect(postgresCreateTableStatements(name, create, schema, { options: { FillFactor: '80' } })).toEqual([
      `${create} WITH (fillfactor = 80)`,
    ]);
    expect(postgresCreateTableStatements(name, create, schema, { partitionKeys: ['id', 'region'] })[0]).toBe(
      `${create} PARTITION BY RANGE ("id", "region")`,
    );
  });

  it('refuses a partition key outside the primary key, naming the fix', () => {
    expect(() =>
      postgresCreateTableStatements(name, create, { ...schema, primaryKey: ['id'] }, { partitionKeys: ['region'] }),
    ).toThrow(
      expect.objectContaining({ code: 'CONFIG_INVALID', hint: expect.stringContaining('add region to the transform') }),
    );
  });
});

describe('route-mode against the captured tables', () => {
  const def = (routeMode?: 'ALL_MATCH' | 'FIRST_MATCH') =>
    parse(
      BASE +
        `route:
  - source-table: app_db.orders
    sink-table: ods.orders
  - source-table: app_db.\\.*
    sink-table: ods.all_<>
    replace-symbol: <>
` +
        (routeMode === undefined ? '' : `pipeline:\n  route-mode: ${routeMode}\n`),
    );
  const captured = [tableId('app_db', 'orders'), tableId('app_db', 'products')];

  it('unset: the first route wins, with a warning naming the table and its routes', () => {
    const found = routeModeCheck(def(), captured);
    expect(found).not.toBeInstanceOf(Error);
    expect(found).toMatchObject({
      message: expect.stringContaining('app_db.orders by app_db.orders → ods.orders and app_db.\\.* → ods.all_<>'),
    });
    expect(resolveRoute(def().routes, tableId('app_db', 'orders'))).toEqual(tableId('ods', 'orders'));
  });

  it('ALL_MATCH written: an error with the fix; FIRST_MATCH: nothing to say; one route per table: fine', () => {
    expect(routeModeCheck(def('ALL_MATCH'), captured)).toMatchObject({
      code: 'CONFIG_INVALID',
      hint: expect.stringContaining('route-mode: FIRST_MATCH'),
    });
    expect(routeModeCheck(def('FIRST_MATCH'), captured)).toBeUndefined();
    expect(routeModeCheck(def('ALL_MATCH'), [tableId('app_db', 'products')])).toBeUndefined();
  });
});

describe('startup options that cannot work', () => {
  const config = (extra: Record<string, string | number>) =>
    mysqlSourceConfig({ username: 'cdc', tables: 'a.b', 'scan.startup.mode': 'specific-offset', ...extra });

  it('a GTID set alone is a start position; beside file/pos it is a warning', () => {
    expect(() => checkStartupOptions(config({ 'scan.startup.specific-offset.gtid-set': '0-1-100' }))).not.toThrow();
    expect(sourceOptionWarnings(config({ 'scan.startup.specific-offset.gtid-set': '0-1-100' }))).toEqual([]);
    const both = config({
      'scan.startup.specific-offset.gtid-set': '0-1-100',
      'scan.startup.specific-offset.file': 'mysql-bin.000003',
      'scan.startup.specific-offset.pos': 4,
    });
    expect(() => checkStartupOptions(both)).not.toThrow();
    expect(sourceOptionWarnings(both).map((w) => w.message)).toEqual([
      expect.stringContaining('gtid-set is not used: the pipeline starts from .file/.pos'),
    ]);
    expect(() => checkStartupOptions(config({}))).toThrow(/neither a binlog file nor a GTID set is given/);
  });
});
