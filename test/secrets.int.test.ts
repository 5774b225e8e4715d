import { readdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { Connection } from 'mysql2/promise';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startCli, writePipelineFile, type CliProcess } from './harness/cli-process.js';
import {
  freshPostgresDatabase,
  mysqlAdmin,
  mysqlUrl,
  uniqueName,
  waitFor,
  type FreshPostgresDatabase,
} from './harness/databases.js';
import { testTempDir } from './harness/temp-dirs.js';

/**
 * Issue 18: secrets are never written out. A pipeline runs with a distinctive source password (read from a file,
 * as a Docker secret), a distinctive password in the sink `url` (from a file too) and an HTTP token; then every
 * artifact of the run is searched for them: the debug log of `run`, every file of the state directory, every row
 * of the sink's `tributary` schema (checkpoints), the dashboard's pages, /api/status and /metrics, and the output
 * of `tributary status`, `state`, `validate` and `verify`.
 */
describe('secrets never leave the configuration', () => {
  const db = uniqueName('secrets');
  const user = uniqueName('sec').slice(0, 30);
  const sourcePassword = 'Src-Pw-9d1e7c44-do-not-leak';
  const sinkPassword = 'Sink-Pw-5b2a8f13-do-not-leak';
  const token = 'Http-Token-71c0e95a-do-not-leak';
  const secrets = [sourcePassword, sinkPassword, token];
  let admin: Connection;
  let sink: FreshPostgresDatabase;
  let dir: string;
  let stateDir: string;
  let file: string;
  let run: CliProcess | undefined;
  const env = { TRIBUTARY_HTTP_TOKEN: token };

  beforeAll(async () => {
    admin = await mysqlAdmin();
    await admin.query(
      `CREATE DATABASE ${db};
       CREATE TABLE ${db}.accounts (id INT PRIMARY KEY, owner VARCHAR(40));
       INSERT INTO ${db}.accounts VALUES (1, 'ann'), (2, 'bob');
       CREATE USER '${user}'@'%' IDENTIFIED BY '${sourcePassword}';
       GRANT SELECT, REPLICATION SLAVE, REPLICATION CLIENT ON *.* TO '${user}'@'%';`,
    );
    sink = await freshPostgresDatabase('secrets');
    dir = await testTempDir('secrets');
    stateDir = join(dir, 'state');
    // Docker and Kubernetes secrets end with a newline when written by `echo`.
    await writeFile(join(dir, 'mysql-password'), `${sourcePassword}\n`, { mode: 0o600 });
    const sinkUrl = new URL(sink.url);
    sinkUrl.password = sinkPassword; // the test server trusts local connections: the password is carried, not checked
    await writeFile(join(dir, 'sink-url'), `${sinkUrl.toString()}\n`, { mode: 0o600 });
    const mysql = new URL(mysqlUrl());
    file = await writePipelineFile(
      dir,
      `source:
  type: mysql
  hostname: ${mysql.hostname}
  port: ${mysql.port}
  username: ${user}
  password-file: ${join(dir, 'mysql-password')}
  tables: ${db}.accounts
sink:
  type: postgres
  url-file: ${join(dir, 'sink-url')}
pipeline:
  name: ${uniqueName('secrets')}
  checkpoint.interval: 300ms
  state.dir: ${stateDir}
  http.port: 0
`,
    );
  });

  afterAll(async () => {
    if (run !== undefined && run.child.exitCode === null) {
      run.child.kill('SIGKILL');
      await run.exited;
    }
    await admin?.query(`DROP DATABASE IF EXISTS ${db}; DROP USER IF EXISTS '${user}'@'%'`);
    await admin?.end();
    await sink?.drop();
  });

  async function cli(args: string[]): Promise<string> {
    const process = startCli(args, env);
    await process.exited;
    return process.output();
  }

  async function filesUnder(path: string): Promise<string[]> {
    const entries = await readdir(path, { withFileTypes: true, recursive: true });
    return entries.filter((e) => e.isFile()).map((e) => join(e.parentPath, e.name));
  }

  it('run refuses to serve HTTP beyond this machine without a token, before connecting anything', async () => {
    const refused = startCli(['run', file, '--http', '0.0.0.0:0'], {});
    expect(await refused.exited).toBe(1);
    expect(refused.output()).toContain(
      '[CONFIG_INVALID] the HTTP server would listen on 0.0.0.0, beyond this machine, without a token',
    );
    expect(refused.output()).toContain('TRIBUTARY_HTTP_TOKEN');
  });

  it('no log line, file, row, page, metric or command output holds a password or the token', async () => {
    const artifacts = new Map<string, string>();
    artifacts.set('validate', await cli(['validate', file, '--log-level', 'debug']));
    run = startCli(['run', file, '--log-level', 'debug'], env);
    await waitFor(async () => (await sink.query(`SELECT 1 FROM ${db}.accounts`).catch(() => [])).length === 2, {
      message: 'the snapshot in the sink',
    });
    await admin.query(
      `UPDATE ${db}.accounts SET owner = 'eve' WHERE id = 2; INSERT INTO ${db}.accounts VALUES (3, 'cy')`,
    );
    await waitFor(async () => (await sink.query(`SELECT 1 FROM ${db}.accounts`)).length === 3, {
      message: 'the binlog changes in the sink',
    });

    // The running pipeline's HTTP server, with the token (what an operator and Prometheus see).
    const url = (await readFile(join(stateDir, 'http-address'), 'utf8')).trim();
    const headers = { authorization: `Bearer ${token}` };
    for (const path of ['', 'api/status', 'metrics', 'dashboard.js', 'healthz']) {
      const response = await fetch(new URL(path, url), { headers });
      expect(response.status, path).toBe(200);
      artifacts.set(`GET /${path}`, await response.text());
    }
    artifacts.set('status', await cli(['status', file]));
    artifacts.set('verify', await cli(['verify', file, '--log-level', 'debug']));
    expect(artifacts.get('status')).toContain('rows read');
    expect(artifacts.get('verify')).toMatch(/accounts/);

    run.child.kill('SIGTERM');
    expect(await run.exited).toBe(0);
    artifacts.set('run (debug log)', run.output());
    artifacts.set('state', await cli(['state', file]));
    expect(artifacts.get('run (debug log)')).toMatch(/DEBUG/);
    expect(artifacts.get('run (debug log)')).toContain('a token is required');

    for (const path of await filesUnder(stateDir)) artifacts.set(path, (await readFile(path)).toString('latin1'));
    expect([...artifacts.keys()].some((k) => k.startsWith(stateDir))).toBe(true);
    const tables = await sink.query<{ t: string }>(
      "SELECT format('%I.%I', table_schema, table_name) AS t FROM information_schema.tables WHERE table_schema = 'tributary'",
    );
    expect(tables.length).toBeGreaterThan(0);
    for (const { t } of tables) {
      const rows = await sink.query<{ row: string }>(`SELECT row_to_json(x)::text AS row FROM ${t} x`);
      artifacts.set(`sink ${t}`, rows.map((r) => r.row).join('\n'));
    }
    expect(artifacts.get('sink tributary.checkpoints')).toContain(db);

    const leaks = [...artifacts].flatMap(([where, text]) =>
      secrets.filter((secret) => text.includes(secret)).map((secret) => `${where}: ${secret}`),
    );
    expect(leaks).toEqual([]);
  });
});
