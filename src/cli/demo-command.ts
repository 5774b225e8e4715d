import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createConnection } from 'mysql2/promise';
import pg from 'pg';
import { composePipeline } from '../composer/pipeline-composer.js';
import { parsePipelineYaml } from '../config/load-pipeline.js';
import { knownTypes, optionSpecsFor } from '../connectors/registry.js';
import { startEmbeddedMariadb } from '../embedded/embedded-mariadb.js';
import { startEmbeddedPostgres } from '../embedded/embedded-postgres.js';
import type { EmbeddedServer } from '../embedded/embedded-server.js';
import type { Logger } from '../runtime/logger.js';
import { formatTable } from './format-table.js';

const FIXTURES = new URL('../../fixtures/', import.meta.url);
const USERS_QUERY =
  'SELECT _db_name, _table_name, id, name, address, phone_number, email FROM public.users ORDER BY _db_name, _table_name, id';

/**
 * `tributary demo`: the main job on an embedded default. Starts a private MariaDB and PostgreSQL, loads the
 * sharded-users scenario, runs its pipeline, shows the merged `users` table, applies the scenario's changes
 * and shows the target change live. Everything it started is stopped on exit.
 */
export async function demoCommand(options: { log: Logger; keep: boolean }): Promise<number> {
  const { log } = options;
  const out = (line = '') => process.stdout.write(line + '\n');
  const servers: EmbeddedServer[] = [];
  const stateDir = await mkdtemp(join(tmpdir(), 'tributary-demo-state-'));
  const controller = new AbortController();
  const onSignal = () => controller.abort();
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  let target: pg.Client | undefined;
  let running: Promise<unknown> | undefined;
  try {
    out('Starting a private MariaDB and PostgreSQL …');
    const [mysql, postgres] = await Promise.all([
      startEmbeddedMariadb({ log: (l) => log.debug(l) }),
      startEmbeddedPostgres({ log: (l) => log.debug(l) }),
    ]);
    servers.push(mysql, postgres);
    out(`  MariaDB    ${mysql.host}:${mysql.port}\n  PostgreSQL ${postgres.host}:${postgres.port}`);

    const scenario = new URL('scenarios/sharded-users/', FIXTURES);
    await runMysqlScript(mysql, await readFile(new URL('source.sql', scenario), 'utf8'));
    const admin = new pg.Client({ connectionString: postgres.url });
    await admin.connect();
    await admin.query('CREATE DATABASE warehouse');
    await admin.end();
    out('Loaded the sharded-users scenario: 9 shard tables in user_db1..3 and the tpc_ds database.');

    const yamlFile = new URL('demo/pipeline.yaml', FIXTURES);
    const env = {
      DEMO_MYSQL_PORT: String(mysql.port),
      DEMO_MYSQL_USER: mysql.user,
      DEMO_MYSQL_PASSWORD: mysql.password,
      DEMO_POSTGRES_PORT: String(postgres.port),
      DEMO_STATE_DIR: stateDir,
    };
    const def = parsePipelineYaml(await readFile(yamlFile, 'utf8'), {
      file: 'fixtures/demo/pipeline.yaml',
      env,
      optionSpecsFor,
      knownTypes,
    });
    const pipeline = composePipeline(def, { log });
    await pipeline.validate();
    out('\nRunning the pipeline (snapshot, then binlog) …');
    running = pipeline.run({ signal: controller.signal });
    running.catch(() => {});

    target = new pg.Client({ connectionString: postgres.url.replace(/\/[^/]*$/, '/warehouse') });
    await target.connect();
    const t = target;
    await waitUntil(async () => (await countRows(t, 'public.users')) === 17, running, 60_000);
    out('\nAfter the initial load, public.users in PostgreSQL:');
    out(formatTable((await target.query(USERS_QUERY)).rows));

    out('\nApplying changes.sql on MariaDB:');
    const changes = await readFile(new URL('changes.sql', scenario), 'utf8');
    for (const line of changes.split('\n').filter((l) => l.trim() && !l.startsWith('--'))) out(`  ${line}`);
    await runMysqlScript(mysql, changes);
    const started = Date.now();
    await waitUntil(
      async () => {
        const r = await t.query<{ n: number }>(
          "SELECT count(*)::int AS n FROM public.users WHERE (_db_name = 'user_db1' AND id = 111) OR (_db_name = 'user_db3' AND _table_name = 'user03' AND id = 1)",
        );
        const price = await t.query<{ p: string }>(
          'SELECT i_current_price::text AS p FROM tpc_ds.item WHERE i_item_sk = 1',
        );
        return r.rows[0]?.n === 1 && price.rows[0]?.p === '29.99';
      },
      running,
      60_000,
    );
    out(`\nThe changes arrived in ${Date.now() - started} ms. public.users now:`);
    out(formatTable((await target.query(USERS_QUERY)).rows));
    const item = await target.query('SELECT * FROM tpc_ds.item ORDER BY i_item_sk');
    out('\ntpc_ds.item:');
    out(formatTable(item.rows));
    if (options.keep) {
      out(
        `\nStill running. Change the source with: mariadb -h ${mysql.host} -P ${mysql.port} -u ${mysql.user} ; Ctrl-C stops.`,
      );
      await running;
    }
    return 0;
  } finally {
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
    controller.abort();
    await running?.catch(() => {});
    await target?.end().catch(() => {});
    await Promise.allSettled(servers.map((s) => s.stop()));
    await rm(stateDir, { recursive: true, force: true });
    out('\nStopped the pipeline and the private servers.');
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
  try {
    await conn.query(sql);
  } finally {
    await conn.end();
  }
}

async function countRows(client: pg.Client, table: string): Promise<number> {
  try {
    const r = await client.query<{ n: number }>(`SELECT count(*)::int AS n FROM ${table}`);
    return r.rows[0]?.n ?? 0;
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
