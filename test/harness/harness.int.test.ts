import { existsSync } from 'node:fs';
import { createConnection } from 'mysql2/promise';
import pg from 'pg';
import { describe, expect, inject, it } from 'vitest';
import { startEmbeddedMariadb } from '../../src/embedded/embedded-mariadb.js';
import { startEmbeddedPostgres } from '../../src/embedded/embedded-postgres.js';
import {
  freshPostgresDatabase,
  mysqlAdmin,
  mysqlUrl,
  postgresUrl,
  runMysqlScript,
  tolerateDisconnects,
  uniqueName,
  waitFor,
} from './databases.js';
import { faultPipelineYaml, mysqlConnect } from './faults.js';
import { testPipelineYaml } from './pipelines.js';

describe('test servers', () => {
  it('MariaDB writes a self-describing row binlog', async () => {
    const connection = await mysqlAdmin();
    try {
      const [rows] = await connection.query(
        `SHOW GLOBAL VARIABLES WHERE Variable_name IN ('log_bin', 'binlog_format', 'binlog_row_image', 'binlog_row_metadata')`,
      );
      const settings = Object.fromEntries(
        (rows as { Variable_name: string; Value: string }[]).map((r) => [r.Variable_name, r.Value]),
      );
      expect(settings).toEqual({
        log_bin: 'ON',
        binlog_format: 'ROW',
        binlog_row_image: 'FULL',
        binlog_row_metadata: 'FULL',
      });
    } finally {
      await connection.end();
    }
  });

  it('PostgreSQL has wal_level=logical', async () => {
    const client = tolerateDisconnects(new pg.Client({ connectionString: postgresUrl() }));
    await client.connect();
    try {
      const result = await client.query<{ wal_level: string }>('SHOW wal_level');
      expect(result.rows[0]?.wal_level).toBe('logical');
    } finally {
      await client.end();
    }
  });

  it('freshPostgresDatabase gives an empty database of its own, and drops it', async () => {
    const db = await freshPostgresDatabase('harness');
    try {
      expect(db.name).toMatch(/^harness_/);
      const [current] = await db.query<{ name: string }>('SELECT current_database() AS name');
      expect(current?.name).toBe(db.name);
      const tables = await db.query(`SELECT 1 FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
        WHERE n.nspname NOT IN ('pg_catalog', 'information_schema') AND n.nspname NOT LIKE 'pg_toast%'`);
      expect(tables).toEqual([]);
    } finally {
      await db.drop();
    }
    const admin = tolerateDisconnects(new pg.Client({ connectionString: postgresUrl() }));
    await admin.connect();
    try {
      const result = await admin.query('SELECT 1 FROM pg_database WHERE datname = $1', [db.name]);
      expect(result.rowCount).toBe(0);
    } finally {
      await admin.end();
    }
  });

  it('MariaDB enforces grants: a limited user gets only what was granted', async () => {
    const database = uniqueName('grants');
    const user = uniqueName('u').slice(0, 32);
    await runMysqlScript(`CREATE DATABASE ${database}; CREATE TABLE ${database}.t (id INT PRIMARY KEY);
      INSERT INTO ${database}.t VALUES (1), (2);
      CREATE USER '${user}'@'%' IDENTIFIED BY 'limited-pw'; GRANT SELECT ON ${database}.* TO '${user}'@'%';`);
    const url = new URL(mysqlUrl());
    const limited = tolerateDisconnects(
      await createConnection({
        host: url.hostname,
        port: Number(url.port),
        user,
        password: 'limited-pw',
      }),
    );
    try {
      const [rows] = await limited.query(`SELECT COUNT(*) AS n FROM ${database}.t`);
      expect(rows).toEqual([{ n: 2 }]);
      await expect(limited.query(`INSERT INTO ${database}.t VALUES (3)`)).rejects.toMatchObject({ errno: 1142 });
      await expect(limited.query('CREATE DATABASE test_should_fail')).rejects.toMatchObject({ errno: 1044 });
      await expect(limited.query('SHOW MASTER STATUS')).rejects.toMatchObject({ errno: 1227 });
    } finally {
      await limited.end();
      await runMysqlScript(`DROP USER '${user}'@'%'; DROP DATABASE ${database};`);
    }
  });

  // A server restarted on purpose, or DROP DATABASE … WITH (FORCE), ends the harness's idle connections: the
  // clients emit 'error' (57P01 on PostgreSQL), which without a listener fails the whole run (issue 10).
  it("connections the server ends while idle do not fail the run, and the harness's pool reconnects", async () => {
    const db = await freshPostgresDatabase('harness_terminated');
    const admin = await mysqlAdmin();
    const faultConnection = await mysqlConnect(mysqlUrl());
    try {
      const [{ pid } = { pid: 0 }] = await db.query<{ pid: number }>('SELECT pg_backend_pid() AS pid');
      const mysqlIds = [admin, faultConnection].map((c) => c.threadId);
      const killer = await mysqlAdmin();
      const mysqlEnded = [admin, faultConnection].map((c) => new Promise((resolve) => c.once('end', resolve)));
      try {
        for (const id of mysqlIds) await killer.query(`KILL CONNECTION ${id}`);
        await Promise.all(mysqlEnded);
      } finally {
        await killer.end();
      }
      const other = await freshPostgresDatabase('harness_terminator');
      try {
        await other.query('SELECT pg_terminate_backend($1)', [pid]);
        await waitFor(
          async () => (await other.query('SELECT 1 FROM pg_stat_activity WHERE pid = $1', [pid])).length === 0,
          {
            timeoutMs: 60_000,
            message: `backend ${pid} to end`,
          },
        );
      } finally {
        await other.drop();
      }
      // The idle pool client got its 57P01 while the backend went away; the pool opens a new one.
      const [after] = await db.query<{ pid: number }>('SELECT pg_backend_pid() AS pid');
      expect(after?.pid).not.toBe(pid);
      await expect(admin.query('SELECT 1')).rejects.toBeDefined();
    } finally {
      await db.drop();
      admin.destroy();
      faultConnection.destroy();
    }
  });

  it("keeps test pipelines' state directories inside the run's temporary root, which teardown removes", async () => {
    const root = inject('tempRoot');
    const sinkUrl = postgresUrl();
    expect((await testPipelineYaml({ name: 'p', tables: 'a.b', sinkUrl })).stateDir.startsWith(`${root}/`)).toBe(true);
    expect((await faultPipelineYaml({ name: 'p', tables: 'a.b', sinkUrl })).stateDir.startsWith(`${root}/`)).toBe(true);
  });

  it('waitFor polls until true and names what it waited for', async () => {
    let calls = 0;
    await waitFor(() => ++calls >= 3, { intervalMs: 1 });
    expect(calls).toBe(3);
    await expect(waitFor(() => false, { timeoutMs: 20, intervalMs: 5, message: 'the impossible' })).rejects.toThrow(
      /the impossible/,
    );
  });
});

describe.skipIf(process.env['TRIBUTARY_TEST_MYSQL_URL'] !== undefined)('embedded MariaDB', () => {
  it('keeps its data across restart() and removes it on stop()', async () => {
    const server = await startEmbeddedMariadb();
    try {
      expect(server.url).toBe(`mysql://root:${server.password}@127.0.0.1:${server.port}`);
      const before = tolerateDisconnects(await createConnection({ uri: server.url, multipleStatements: true }));
      await before.query(
        'CREATE DATABASE kept; CREATE TABLE kept.t (id INT PRIMARY KEY); INSERT INTO kept.t VALUES (42)',
      );
      await before.end();

      await server.restart();
      const after = tolerateDisconnects(await createConnection({ uri: server.url }));
      const [rows] = await after.query('SELECT id FROM kept.t');
      await after.end();
      expect(rows).toEqual([{ id: 42 }]);

      await server.pause();
      await expect(createConnection({ uri: server.url, connectTimeout: 1_000 })).rejects.toBeDefined();
      await server.resume();
    } finally {
      await server.stop();
    }
    expect(existsSync(server.dataDir)).toBe(false);
  });
});

describe.skipIf(process.env['TRIBUTARY_TEST_POSTGRES_URL'] !== undefined)('embedded PostgreSQL', () => {
  it('keeps its data across pause()/resume() and removes it on stop()', async () => {
    const server = await startEmbeddedPostgres();
    const query = async (sql: string): Promise<unknown[]> => {
      const client = tolerateDisconnects(new pg.Client({ connectionString: server.url }));
      await client.connect();
      try {
        return (await client.query<Record<string, unknown>>(sql)).rows;
      } finally {
        await client.end();
      }
    };
    try {
      // A client that never disconnects must not hold up the shutdown.
      const lingering = new pg.Client({ connectionString: server.url });
      lingering.on('error', () => undefined);
      await lingering.connect();
      await query('CREATE TABLE kept (id int PRIMARY KEY); INSERT INTO kept VALUES (7)');
      await server.pause();
      await server.resume();
      expect(await query('SELECT id FROM kept')).toEqual([{ id: 7 }]);
    } finally {
      await server.stop();
    }
    expect(existsSync(server.dataDir)).toBe(false);
  });
});
