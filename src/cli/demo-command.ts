import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { DuckDBConnection } from '@duckdb/node-api';
import { createConnection } from 'mysql2/promise';
import pg from 'pg';
import { composePipeline } from '../composer/pipeline-composer.js';
import { DEFAULT_HTTP_PORT, HTTP_PORT_ATTEMPTS } from '../config/pipeline-options.js';
import { startDashboardServer, type DashboardServer } from '../ui/dashboard-server.js';
import { maskPipelineFile } from '../ui/masked-pipeline-file.js';
import { parsePipelineYaml } from '../config/load-pipeline.js';
import { knownTypes, optionSpecsFor } from '../connectors/registry.js';
import type { EmbeddedServer } from '../embedded/embedded-server.js';
import type { Logger } from '../runtime/logger.js';
import { formatTable } from './format-table.js';

const FIXTURES = new URL('../../fixtures/', import.meta.url);
const USERS_QUERY =
  'SELECT _db_name, _table_name, id, name, address, phone_number, email FROM public.users ORDER BY _db_name, _table_name, id';

/** Where the demo pipeline writes: a private PostgreSQL (the default) or a DuckDB file, no server needed. */
export type DemoSink = 'postgres' | 'duckdb';

export const DEMO_SINKS: readonly DemoSink[] = ['postgres', 'duckdb'];

/** What the demo pipeline reads: a private MariaDB (the default; binlog) or PostgreSQL (logical replication). */
export type DemoSource = 'mysql' | 'postgres';

export const DEMO_SOURCES: readonly DemoSource[] = ['mysql', 'postgres'];

/** The demo's view of the sink: a query returning row objects with display values. */
interface DemoTarget {
  query(sql: string): Promise<Record<string, unknown>[]>;
  close(): Promise<void>;
}

/** The demo's view of the source: its server, how to run the scenario's scripts on it and how a user reaches it. */
interface DemoOrigin {
  readonly label: 'MariaDB' | 'PostgreSQL';
  /** The scenario's script that creates and fills the shards, and the pipeline file that reads them. */
  readonly scriptFile: string;
  readonly pipelineFile: string;
  /** The log the pipeline follows after the snapshot, for the progress line. */
  readonly log: string;
  /** `${VAR}`s of the pipeline file that name the source. */
  readonly env: Record<string, string>;
  runScript(sql: string): Promise<void>;
  /** A command line that logs in to the source as printed (`--keep`). */
  readonly command: string;
}

/**
 * `tributary demo`: the main job on an embedded default. Starts a private MariaDB — or, with `--source postgres`,
 * a private PostgreSQL with `wal_level=logical` — and, with the postgres sink, a private PostgreSQL (the source's
 * own server when the source is PostgreSQL: the target is another database of it), or, with `--sink duckdb`, a
 * DuckDB file in a temporary directory; loads the sharded-users scenario, runs its pipeline, shows the merged
 * `users` table, applies the scenario's changes and shows the target change live. Everything it started is
 * stopped on exit. The embedded servers are test and demo tooling: they are loaded here only, on demand.
 */
export async function demoCommand(options: {
  log: Logger;
  keep: boolean;
  sink?: DemoSink;
  source?: DemoSource;
}): Promise<number> {
  const { log } = options;
  const sinkType = options.sink ?? 'postgres';
  const sourceType = options.source ?? 'mysql';
  const out = (line = '') => process.stdout.write(line + '\n');
  const servers: EmbeddedServer[] = [];
  const stateDir = await mkdtemp(join(tmpdir(), 'tributary-demo-state-'));
  const controller = new AbortController();
  const onSignal = () => controller.abort();
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  let target: DemoTarget | undefined;
  let running: Promise<unknown> | undefined;
  let dashboard: DashboardServer | undefined;
  try {
    const { startEmbeddedMariadb } = await import('../embedded/embedded-mariadb.js');
    const { startEmbeddedPostgres } = await import('../embedded/embedded-postgres.js');
    const serverLog = (line: string) => log.debug(line);
    const sourceLabel = sourceType === 'postgres' ? 'PostgreSQL' : 'MariaDB';
    // One PostgreSQL serves as source and target when both are PostgreSQL: the target is a database of its own.
    const needsTargetPostgres = sinkType === 'postgres' && sourceType !== 'postgres';
    out(
      needsTargetPostgres
        ? `Starting a private ${sourceLabel} and PostgreSQL …`
        : `Starting a private ${sourceLabel}${sinkType === 'postgres' ? ' (source and target databases)' : ''} …`,
    );
    const [sourceServer, targetServer] = await Promise.all([
      sourceType === 'postgres' ? startEmbeddedPostgres({ log: serverLog }) : startEmbeddedMariadb({ log: serverLog }),
      needsTargetPostgres ? startEmbeddedPostgres({ log: serverLog }) : Promise.resolve(undefined),
    ]);
    servers.push(sourceServer);
    if (targetServer) servers.push(targetServer);
    const origin = sourceType === 'postgres' ? await postgresOrigin(sourceServer) : mysqlOrigin(sourceServer);
    out(`  ${origin.label.padEnd(10)} ${sourceServer.host}:${sourceServer.port}`);

    let env: Record<string, string>;
    let yaml = await readFile(new URL(origin.pipelineFile, FIXTURES), 'utf8');
    let connectTarget: () => Promise<DemoTarget>;
    /** How to look at the target while the demo runs (`--keep`). */
    let readTarget: string;
    if (sinkType === 'duckdb') {
      const path = join(stateDir, 'warehouse.duckdb');
      out(`  DuckDB     ${path}`);
      yaml = yaml.replace(/^sink:\n(?: {2}.*\n)+/m, 'sink:\n  type: duckdb\n  path: ${DEMO_DUCKDB_PATH}\n');
      env = { DEMO_DUCKDB_PATH: path };
      connectTarget = () => duckdbTarget(path);
      readTarget = `The DuckDB file is ${path} (this process holds it open; read it after Ctrl-C stops the demo, which removes it: copy it first).`;
    } else {
      const postgres = targetServer ?? sourceServer;
      if (targetServer) out(`  PostgreSQL ${postgres.host}:${postgres.port}`);
      await runPostgresScript(postgres.url, 'CREATE DATABASE warehouse');
      env = { DEMO_POSTGRES_PORT: String(postgres.port) };
      connectTarget = () => postgresTarget(databaseUrl(postgres, 'warehouse'));
      readTarget = `Read the target with:\n  ${psqlCommand(postgres, 'warehouse')}`;
    }
    const label = sinkType === 'duckdb' ? 'DuckDB' : 'PostgreSQL';

    const scenario = new URL('scenarios/sharded-users/', FIXTURES);
    await origin.runScript(await readFile(new URL(origin.scriptFile, scenario), 'utf8'));
    out(
      sourceType === 'postgres'
        ? 'Loaded the sharded-users scenario: 9 shard tables in the schemas user_db1..3 and the tpc_ds schema.'
        : 'Loaded the sharded-users scenario: 9 shard tables in user_db1..3 and the tpc_ds database.',
    );

    const def = parsePipelineYaml(yaml, {
      file: `fixtures/${origin.pipelineFile}`,
      env: { ...env, ...origin.env, DEMO_STATE_DIR: stateDir },
      optionSpecsFor,
      knownTypes,
    });
    const pipeline = composePipeline(def, { log });
    await pipeline.validate();
    dashboard = await startDashboardServer({
      metrics: pipeline.metrics,
      host: '127.0.0.1',
      port: DEFAULT_HTTP_PORT,
      portAttempts: HTTP_PORT_ATTEMPTS,
      pipelineFile: maskPipelineFile(yaml, log),
      log,
    }).catch(() => undefined); // a demo without its page is still a demo
    if (dashboard) out(`\nDashboard: ${dashboard.url} (Prometheus metrics: ${dashboard.url}metrics)`);
    out(`\nRunning the pipeline (snapshot, then ${origin.log}) …`);
    running = pipeline.run({ signal: controller.signal });
    running.catch(() => {});

    target = await connectTarget();
    const t = target;
    await waitUntil(async () => (await countRows(t, 'public.users')) === 17, running, 60_000);
    out(`\nAfter the initial load, public.users in ${label}:`);
    out(formatTable(await target.query(USERS_QUERY)));

    out(`\nApplying changes.sql on ${origin.label}:`);
    const changes = await readFile(new URL('changes.sql', scenario), 'utf8');
    for (const line of changes.split('\n').filter((l) => l.trim() && !l.startsWith('--'))) out(`  ${line}`);
    await origin.runScript(changes);
    const started = Date.now();
    await waitUntil(
      async () => {
        const r = await t.query(
          "SELECT CAST(count(*) AS INTEGER) AS n FROM public.users WHERE (_db_name = 'user_db1' AND id = 111) OR (_db_name = 'user_db3' AND _table_name = 'user03' AND id = 1)",
        );
        const price = await t.query('SELECT CAST(i_current_price AS TEXT) AS p FROM tpc_ds.item WHERE i_item_sk = 1');
        return r[0]?.['n'] === 1 && price[0]?.['p'] === '29.99';
      },
      running,
      60_000,
    );
    out(`\nThe changes arrived in ${Date.now() - started} ms. public.users now:`);
    out(formatTable(await target.query(USERS_QUERY)));
    out('\ntpc_ds.item:');
    out(formatTable(await target.query('SELECT * FROM tpc_ds.item ORDER BY i_item_sk')));
    if (options.keep) {
      out(`\nStill running. Change the source with:\n  ${origin.command}\n${readTarget}\nCtrl-C stops.`);
      await running;
    }
    return 0;
  } finally {
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
    controller.abort();
    await running?.catch(() => {});
    await dashboard?.close();
    await target?.close().catch(() => {});
    await Promise.allSettled(servers.map((s) => s.stop()));
    await rm(stateDir, { recursive: true, force: true });
    out(`\nStopped the pipeline and the private ${servers.length === 1 ? 'server' : 'servers'}.`);
  }
}

function mysqlOrigin(server: EmbeddedServer): DemoOrigin {
  return {
    label: 'MariaDB',
    scriptFile: 'source.sql',
    pipelineFile: 'demo/pipeline.yaml',
    log: 'binlog',
    env: {
      DEMO_MYSQL_PORT: String(server.port),
      DEMO_MYSQL_USER: server.user,
      DEMO_MYSQL_PASSWORD: server.password,
    },
    runScript: (sql) => runMysqlScript(server, sql),
    command: mariadbCommand(server),
  };
}

/** The source database `shop` on the private PostgreSQL (started with `wal_level=logical`, as logical replication needs). */
async function postgresOrigin(server: EmbeddedServer): Promise<DemoOrigin> {
  await runPostgresScript(server.url, 'CREATE DATABASE shop');
  const url = databaseUrl(server, 'shop');
  return {
    label: 'PostgreSQL',
    scriptFile: 'source.postgres.sql',
    pipelineFile: 'demo/pipeline-postgres.yaml',
    log: 'logical replication',
    env: { DEMO_SOURCE_POSTGRES_PORT: String(server.port) },
    runScript: (sql) => runPostgresScript(url, sql),
    command: psqlCommand(server, 'shop'),
  };
}

/**
 * A `mariadb` command line that logs in to the demo's private server as it is: with the generated password (hex,
 * no quoting needed; the server lives only as long as the demo and listens on 127.0.0.1 only).
 */
export function mariadbCommand(server: Pick<EmbeddedServer, 'host' | 'port' | 'user' | 'password'>): string {
  return `mariadb -h ${server.host} -P ${server.port} -u ${server.user} -p${server.password}`;
}

/** A `psql` command line for the demo's private PostgreSQL (trust authentication on 127.0.0.1: no password). */
export function psqlCommand(server: Pick<EmbeddedServer, 'host' | 'port' | 'user'>, database: string): string {
  return `psql -h ${server.host} -p ${server.port} -U ${server.user} -d ${database}`;
}

async function postgresTarget(url: string): Promise<DemoTarget> {
  const client = new pg.Client({ connectionString: url });
  // The demo's server stops under it at the end (or dies): the next query reports that; the event must not crash.
  client.on('error', () => undefined);
  await client.connect();
  return {
    query: async (sql) => (await client.query<Record<string, unknown>>(sql)).rows,
    close: () => client.end(),
  };
}

/**
 * Reads the demo's DuckDB file on a connection of its own. DuckDB is loaded only for this demo, and through the
 * API's instance cache: the pipeline's sink holds the same file in this process, and both share one instance.
 */
async function duckdbTarget(path: string): Promise<DemoTarget> {
  const { DuckDBInstance } = await import('@duckdb/node-api');
  const instance = await DuckDBInstance.fromCache(path);
  const connection: DuckDBConnection = await instance.connect();
  return {
    query: async (sql) => (await connection.runAndReadAll(sql)).getRowObjectsJson(),
    close: () => {
      connection.closeSync();
      instance.closeSync();
      return Promise.resolve();
    },
  };
}

function databaseUrl(server: EmbeddedServer, database: string): string {
  return server.url.replace(/\/[^/]*$/, `/${database}`);
}

/** Runs a multi-statement script (simple query protocol) on a connection of its own. */
async function runPostgresScript(url: string, sql: string): Promise<void> {
  const client = new pg.Client({ connectionString: url });
  client.on('error', () => undefined); // the query reports a failure; the event alone must not crash the demo
  await client.connect();
  try {
    await client.query(sql);
  } finally {
    await client.end();
  }
}

async function runMysqlScript(server: EmbeddedServer, sql: string): Promise<void> {
  const conn = await createConnection({
    host: server.host,
    port: server.port,
    user: server.user,
    password: server.password,
    multipleStatements: true,
  });
  conn.on('error', () => undefined); // the query reports a failure; the event alone must not crash the demo
  try {
    await conn.query(sql);
  } finally {
    await conn.end();
  }
}

async function countRows(target: DemoTarget, table: string): Promise<number> {
  try {
    const r = await target.query(`SELECT CAST(count(*) AS INTEGER) AS n FROM ${table}`);
    return Number(r[0]?.['n'] ?? 0);
  } catch {
    return -1; // not created yet
  }
}

/** Polls `condition` until it holds; fails early if the pipeline itself fails. */
async function waitUntil(
  condition: () => Promise<boolean>,
  running: Promise<unknown>,
  timeoutMs: number,
): Promise<void> {
  let failure: Error | undefined;
  running.catch((error: unknown) => (failure = error instanceof Error ? error : new Error(String(error))));
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (failure) throw failure;
    if (await condition()) return;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`the demo pipeline did not deliver within ${timeoutMs / 1000} s`);
}
