import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { DuckDBInstance } from '@duckdb/node-api';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { composePipeline, type Pipeline } from '../src/composer/pipeline-composer.js';
import type { ValidationReport } from '../src/composer/pipeline-validation.js';
import { parsePipelineYaml } from '../src/config/load-pipeline.js';
import { knownTypes, optionSpecsFor } from '../src/connectors/registry.js';
import { createLogger } from '../src/runtime/logger.js';
import type { RunResult } from '../src/runtime/pipeline-runner.js';
import { textRows } from './harness/compare.js';
import {
  freshPostgresDatabase,
  mysqlAdmin,
  mysqlUrl,
  runMysqlScript,
  waitFor,
  type FreshPostgresDatabase,
} from './harness/databases.js';
import { testTempDir } from './harness/temp-dirs.js';

/**
 * The Flink CDC compatibility suite against the test servers: pipeline files written as Flink CDC's documentation
 * writes them (fixtures/flink-cdc/, only the sink block and the connection details differ) are validated and
 * run as they are, and the sink must hold what Flink CDC's documentation says the pipeline produces.
 */
const DIR = new URL('../fixtures/flink-cdc/', import.meta.url);

interface Started {
  readonly pipeline: Pipeline;
  readonly report: ValidationReport;
  readonly logs: string[];
  stop(): Promise<RunResult>;
}

/** Loads a fixture with the test servers' addresses, validates it as `run` does, and runs it in this process. */
async function loadFixture(file: string, sink: FreshPostgresDatabase, edit: (text: string) => string = (t) => t) {
  const mysql = new URL(mysqlUrl());
  const env = {
    MYSQL_HOST: mysql.hostname,
    MYSQL_PORT: mysql.port,
    MYSQL_USER: decodeURIComponent(mysql.username),
    MYSQL_PASSWORD: decodeURIComponent(mysql.password),
    SINK_URL: sink.url,
  };
  const parsed = parsePipelineYaml(edit(await readFile(new URL(file, DIR), 'utf8')), {
    file,
    env,
    optionSpecsFor,
    knownTypes,
  });
  // The files have no state.dir (Flink CDC keeps state in Flink): keep the embedded state in a temp dir.
  return { ...parsed, pipeline: { ...parsed.pipeline, stateDir: await testTempDir('tributary-flink-cdc') } };
}

async function startFixture(file: string, sink: FreshPostgresDatabase): Promise<Started> {
  const def = await loadFixture(file, sink);
  const logs: string[] = [];
  const pipeline = composePipeline(def, {
    log: createLogger({ level: 'debug', write: (line) => logs.push(line) }),
    maxRetries: 0,
  });
  const report = await pipeline.validate();
  const controller = new AbortController();
  const done = pipeline.run({ signal: controller.signal });
  done.catch(() => {});
  return {
    pipeline,
    report,
    logs,
    stop: async () => {
      controller.abort();
      return await done;
    },
  };
}

async function rows(sink: FreshPostgresDatabase, sql: string): Promise<string[][]> {
  return textRows(await sink.query(sql));
}

async function mysqlExec(sql: string, session?: string): Promise<void> {
  const conn = await mysqlAdmin();
  try {
    if (session !== undefined) await conn.query(session);
    await conn.query(sql);
  } finally {
    await conn.end();
  }
}

describe('Flink CDC documentation-style pipeline files run unchanged (fixtures/flink-cdc)', () => {
  let sink: FreshPostgresDatabase | undefined;
  let running: Started | undefined;

  beforeAll(async () => {
    await runMysqlScript(await readFile(new URL('source.sql', DIR), 'utf8'));
  });

  afterAll(async () => {
    await running?.stop().catch(() => {});
    await sink?.drop();
  });

  /** Stops the previous fixture's pipeline and drops its database, so each fixture starts clean. */
  async function next(prefix: string): Promise<FreshPostgresDatabase> {
    await running?.stop().catch(() => {});
    running = undefined;
    await sink?.drop();
    sink = await freshPostgresDatabase(prefix);
    return sink;
  }

  it('quickstart with routes: app_db tables land in ods_db, then follow the binlog', async () => {
    const db = await next('flink_quickstart');
    running = await startFixture('quickstart-route.yaml', db);
    expect(running.pipeline.def.pipeline.displayName).toBe('Sync MySQL Database to Doris');
    await waitFor(async () => (await rows(db, 'SELECT id FROM ods_db.ods_products')).length === 3, {
      message: 'ods_db.ods_products to hold 3 rows',
    });
    expect(await rows(db, 'SELECT id, price::text FROM ods_db.ods_orders ORDER BY id')).toEqual([
      ['1', '4.00'],
      ['2', '100.00'],
    ]);
    expect(await rows(db, 'SELECT id, city FROM ods_db.ods_shipments ORDER BY id')).toEqual([
      ['1', 'beijing'],
      ['2', 'xian'],
    ]);
    await mysqlExec('INSERT INTO app_db.orders VALUES (3, 5.50)');
    await mysqlExec("UPDATE app_db.products SET product = 'Peanuts' WHERE id = 3");
    await waitFor(async () => (await rows(db, 'SELECT id FROM ods_db.ods_orders')).length === 3, {
      message: 'the binlog insert to reach ods_db.ods_orders',
    });
    await waitFor(
      async () => (await rows(db, 'SELECT product FROM ods_db.ods_products WHERE id = 3'))[0]?.[0] === 'Peanuts',
      { message: 'the binlog update to reach ods_db.ods_products' },
    );
    // The checkpoint row is keyed by the identifier derived from the free-text name.
    const name = running.pipeline.def.pipeline.name;
    expect(name).toMatch(/^Sync-MySQL-Database-to-Doris-[0-9a-f]{8}$/);
    await waitFor(async () => (await running!.pipeline.lastCheckpoint()).checkpoint?.pipeline === name, {
      message: 'a checkpoint under the derived identifier',
    });
  });

  it('route capture groups: db_(\\d+).tbl_(\\d+) → sink_db_$1.sink_table_$2', async () => {
    const db = await next('flink_capture');
    running = await startFixture('route-capture-groups.yaml', db);
    expect(running.report.checks.map((c) => c.message)).toContain(
      'transforms and routes fit the tables: 3 sink tables',
    );
    await waitFor(async () => (await rows(db, 'SELECT id FROM sink_db_2.sink_table_1')).length === 2, {
      message: 'sink_db_2.sink_table_1 to hold 2 rows',
    });
    expect(await rows(db, 'SELECT v FROM sink_db_1.sink_table_1')).toEqual([['one-one']]);
    expect(await rows(db, 'SELECT v FROM sink_db_1.sink_table_2')).toEqual([['one-two']]);
    const literal = await db.query("SELECT 1 FROM pg_namespace WHERE nspname LIKE '%$%'");
    expect(literal).toEqual([]); // no schema named literally sink_db_$1
  });

  it('replace-symbol and sharded tables merged into one, FIRST_MATCH', async () => {
    const db = await next('flink_replace');
    running = await startFixture('route-replace-symbol.yaml', db);
    await waitFor(async () => (await rows(db, 'SELECT id FROM mydb.ods_web_order')).length === 3, {
      message: 'mydb.ods_web_order to hold the 3 rows of both shards',
    });
    expect(await rows(db, 'SELECT id, name FROM sink_db.customers ORDER BY id')).toEqual([
      ['1', 'Ada'],
      ['2', 'Grace'],
    ]);
    expect(await rows(db, 'SELECT source_table, id, order_id FROM mydb.ods_web_order ORDER BY 1, 2')).toEqual([
      ['web_order01', '1', '101'],
      ['web_order01', '2', '102'],
      ['web_order02', '1', '201'],
    ]);
  });

  it('transform with metadata, partition-keys and table-options: a partitioned PostgreSQL table', async () => {
    const db = await next('flink_transform');
    running = await startFixture('transform-metadata.yaml', db);
    await waitFor(async () => (await rows(db, 'SELECT id FROM mydb.web_order01')).length === 2, {
      message: 'mydb.web_order01 to hold 2 rows',
    });
    expect(
      await rows(db, 'SELECT id, region, namespace_name, table_name, op_type FROM mydb.web_order01 ORDER BY id'),
    ).toEqual([
      ['1', 'eu', 'mydb', 'web_order01', '+I'],
      ['2', 'us', 'mydb', 'web_order01', '+I'],
    ]);
    const [layout] = await db.query<{ relkind: string; comment: string; strategy: string }>(
      `SELECT c.relkind, obj_description(c.oid, 'pg_class') AS comment, p.partstrat AS strategy
       FROM pg_class c JOIN pg_partitioned_table p ON p.partrelid = c.oid WHERE c.oid = 'mydb.web_order01'::regclass`,
    );
    expect(layout).toEqual({ relkind: 'p', comment: 'web order', strategy: 'l' });
    const [fallback] = await db.query<{ options: string[]; is_default: boolean }>(
      `SELECT reloptions AS options, pg_get_expr(relpartbound, oid) = 'DEFAULT' AS is_default
       FROM pg_class WHERE oid = 'mydb.web_order01_default'::regclass`,
    );
    expect(fallback).toEqual({ options: ['fillfactor=80'], is_default: true });
    await mysqlExec("UPDATE mydb.web_order01 SET product_name = 'Lager' WHERE id = 1");
    await waitFor(async () => (await rows(db, 'SELECT op_type FROM mydb.web_order01 WHERE id = 1'))[0]?.[0] === '+U', {
      message: 'the update to reach the partitioned table',
    });
  });

  it('every connector option: ignored ones warn once each; server-time-zone changes no value, snapshot and binlog agree', async () => {
    const db = await next('flink_options');
    running = await startFixture('connector-options.yaml', db);
    const warnings = running.report.checks.filter((c) => c.status === 'warning').map((c) => c.message);
    expect(warnings).toContain(
      'source.debezium.* (debezium.snapshot.mode, debezium.skipped.operations) is accepted for Flink CDC compatibility and ignored: Tributary does not run Debezium: its own binlog reader has no such settings (options with a meaning here have their own keys)',
    );
    expect(warnings.filter((w) => w.startsWith('source.connection.pool.size '))).toHaveLength(1);
    expect(warnings.some((w) => w.startsWith('source.jdbc.properties.characterEncoding is accepted'))).toBe(true);
    expect(running.report.checks.some((c) => c.message.includes('server-time-zone Asia/Shanghai'))).toBe(true);
    expect(running.report.checks.filter((c) => c.status === 'error')).toEqual([]);

    await waitFor(async () => (await rows(db, 'SELECT id FROM tz_db.events')).length === 1, {
      message: 'the snapshot row of tz_db.events',
    });
    // The same values written again from a +08:00 session, now through the binlog.
    await mysqlExec(
      "INSERT INTO tz_db.events VALUES (2, '2024-03-01 10:00:00.123456', '2024-03-01 10:00:00.123456')",
      "SET SESSION time_zone = '+08:00'",
    );
    await waitFor(async () => (await rows(db, 'SELECT id FROM tz_db.events')).length === 2, {
      message: 'the binlog row of tz_db.events',
    });
    // DATETIME is the wall clock written; TIMESTAMP the instant (10:00 at +08:00 = 02:00 UTC), in both paths.
    expect(
      await rows(
        db,
        `SELECT id, local_at::text, to_char(instant_at AT TIME ZONE 'UTC', 'YYYY-MM-DD HH24:MI:SS.US') FROM tz_db.events ORDER BY id`,
      ),
    ).toEqual([
      ['1', '2024-03-01 10:00:00.123456', '2024-03-01 02:00:00.123456'],
      ['2', '2024-03-01 10:00:00.123456', '2024-03-01 02:00:00.123456'],
    ]);
    expect(await rows(db, 'SELECT id, price::text FROM app_db.orders ORDER BY id')).toEqual([
      ['1', '4.00'],
      ['2', '100.00'],
      ['3', '5.50'],
    ]);
  });

  it('schema-change.enabled: false — the sink table keeps its schema, rows keep flowing', async () => {
    const db = await next('flink_no_schema_changes');
    running = await startFixture('schema-change-disabled.yaml', db);
    await waitFor(async () => (await rows(db, 'SELECT id FROM source_db.customers')).length === 2, {
      message: 'the snapshot of source_db.customers',
    });
    await mysqlExec('ALTER TABLE source_db.customers ADD COLUMN note VARCHAR(20)');
    await mysqlExec("INSERT INTO source_db.customers VALUES (3, 'Hedy', 'added after the DDL')");
    await waitFor(async () => (await rows(db, 'SELECT id FROM source_db.customers')).length === 3, {
      message: 'the row written after the DDL',
    });
    expect(await rows(db, 'SELECT id, name FROM source_db.customers ORDER BY id')).toEqual([
      ['1', 'Ada'],
      ['2', 'Grace'],
      ['3', 'Hedy'],
    ]);
    const columns = await db.query<{ column_name: string }>(
      "SELECT column_name FROM information_schema.columns WHERE table_schema = 'source_db' AND table_name = 'customers' ORDER BY ordinal_position",
    );
    expect(columns.map((c) => c.column_name)).toEqual(['id', 'name']);
  });

  it('jdbc.properties.useSSL: true reaches the driver: against a server without TLS, validate fails on it', async () => {
    const db = await next('flink_tls');
    const def = await loadFixture('quickstart-mysql-to-postgres.yaml', db, (text) =>
      text.replace('  server-time-zone: UTC\n', '  server-time-zone: UTC\n  jdbc.properties.useSSL: true\n'),
    );
    const pipeline = composePipeline(def, { log: createLogger({ level: 'error', write: () => {} }), maxRetries: 0 });
    const admin = await mysqlAdmin();
    const [found] = await admin.query('SELECT @@have_ssl AS have');
    await admin.end();
    const serverHasTls = (found as { have?: string }[])[0]?.have === 'YES';
    const error = await pipeline.validate().then(
      () => undefined,
      (e: unknown) => e,
    );
    if (serverHasTls) expect(error).toBeUndefined();
    else {
      expect(error).toMatchObject({
        code: 'TLS_UNAVAILABLE',
        message: expect.stringContaining('does not offer TLS'),
        retryable: false,
      });
    }
  });

  it('the same transform into DuckDB: the comment is kept, partition-keys and fillfactor warn once each', async () => {
    const db = await next('flink_duckdb_unused'); // the fixture's SINK_URL; the sink block below replaces it
    const path = join(await testTempDir('tributary-flink-duckdb'), 'warehouse.duckdb');
    const def = await loadFixture('transform-metadata.yaml', db, (text) =>
      text.replace('  type: postgres\n  url: ${SINK_URL}\n', `  type: duckdb\n  path: ${path}\n`),
    );
    const pipeline = composePipeline(def, { log: createLogger({ level: 'error', write: () => {} }), maxRetries: 0 });
    const report = await pipeline.validate();
    expect(report.warnings.filter((w) => w.startsWith('transform[0].'))).toEqual([
      'transform[0].partition-keys is ignored by the duckdb sink: DuckDB has no table partitions',
      'transform[0].table-options fillfactor is ignored by the duckdb sink: DuckDB tables take no options but a comment',
    ]);
    const controller = new AbortController();
    const done = pipeline.run({ signal: controller.signal });
    done.catch(() => {});
    const query = async (sql: string): Promise<unknown[][]> => {
      const instance = await DuckDBInstance.fromCache(path);
      const connection = await instance.connect();
      try {
        return (await connection.runAndReadAll(sql)).getRowsJson();
      } finally {
        connection.closeSync();
        instance.closeSync();
      }
    };
    try {
      await waitFor(async () => (await query('SELECT id FROM mydb.web_order01')).length === 2, {
        message: 'mydb.web_order01 in DuckDB to hold 2 rows',
      });
      expect(
        await query("SELECT comment FROM duckdb_tables() WHERE schema_name = 'mydb' AND table_name = 'web_order01'"),
      ).toEqual([['web order']]);
    } finally {
      controller.abort();
      await done.catch(() => {});
    }
  });
});
