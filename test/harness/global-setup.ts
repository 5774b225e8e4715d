import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { TestProject } from 'vitest/node';
import { startEmbeddedMariadb } from '../../src/embedded/embedded-mariadb.js';
import { startEmbeddedPostgres } from '../../src/embedded/embedded-postgres.js';
import type { EmbeddedServer } from '../../src/embedded/embedded-server.js';

declare module 'vitest' {
  export interface ProvidedContext {
    /** `mysql://…` of an administrator of the test MariaDB/MySQL (binlog ROW, FULL image and metadata). */
    mysqlUrl: string;
    /** `postgres://…` of a superuser of the test PostgreSQL (`wal_level=logical`). */
    postgresUrl: string;
    /** A directory of this run's own under the OS temp directory, removed at teardown (see temp-dirs.ts). */
    tempRoot: string;
  }
}

const started: EmbeddedServer[] = [];
let tempRoot: string | undefined;

/**
 * Vitest globalSetup of the integration project: starts a private MariaDB and PostgreSQL once per run (in
 * parallel), unless TRIBUTARY_TEST_MYSQL_URL / TRIBUTARY_TEST_POSTGRES_URL name existing servers, and hands
 * their URLs to the tests (`inject('mysqlUrl')`, see test/harness/databases.ts).
 * TRIBUTARY_TEST_SERVER_LOG=1 echoes the servers' own output.
 */
export async function setup(project: TestProject): Promise<void> {
  const log = process.env['TRIBUTARY_TEST_SERVER_LOG'] === '1' ? (line: string) => console.log(line) : undefined;
  const options = log ? { log } : {};
  const envMysql = process.env['TRIBUTARY_TEST_MYSQL_URL'];
  const envPostgres = process.env['TRIBUTARY_TEST_POSTGRES_URL'];
  const began = Date.now();
  tempRoot = await mkdtemp(join(tmpdir(), 'tributary-test-run-'));
  project.provide('tempRoot', tempRoot);

  const [mysql, postgres] = await Promise.allSettled([
    envMysql ? Promise.resolve(undefined) : startEmbeddedMariadb(options),
    envPostgres ? Promise.resolve(undefined) : startEmbeddedPostgres(options),
  ]);
  for (const result of [mysql, postgres]) {
    if (result.status === 'fulfilled' && result.value) started.push(result.value);
  }
  if (mysql.status === 'rejected' || postgres.status === 'rejected') {
    await teardown();
    throw mysql.status === 'rejected' ? mysql.reason : (postgres as PromiseRejectedResult).reason;
  }

  const mysqlUrl = envMysql ?? mysql.value!.url;
  const postgresUrl = envPostgres ?? postgres.value!.url;
  project.provide('mysqlUrl', mysqlUrl);
  project.provide('postgresUrl', postgresUrl);

  const describe = (server: EmbeddedServer | undefined, envName: string): string =>
    server ? `${server.kind} on 127.0.0.1:${server.port}` : `${envName} (existing server)`;
  console.log(
    `[tributary] test servers: ${describe(mysql.value, 'TRIBUTARY_TEST_MYSQL_URL')}, ` +
      `${describe(postgres.value, 'TRIBUTARY_TEST_POSTGRES_URL')} — ready in ${Date.now() - began} ms`,
  );
}

export async function teardown(): Promise<void> {
  const servers = started.splice(0);
  await Promise.all(servers.map((server) => server.stop()));
  if (tempRoot !== undefined) await rm(tempRoot, { recursive: true, force: true });
  tempRoot = undefined;
}
