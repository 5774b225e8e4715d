import { randomBytes } from 'node:crypto';
import { createConnection, type Connection } from 'mysql2/promise';
import pg from 'pg';
import { inject } from 'vitest';

/** The test MariaDB/MySQL administrator's URL (from the global setup). */
export function mysqlUrl(): string {
  return inject('mysqlUrl');
}

/** The test PostgreSQL superuser's URL, on its `postgres` database (from the global setup). */
export function postgresUrl(): string {
  return inject('postgresUrl');
}

/**
 * A name no other test uses: `<prefix>_<time><random>`, lower case, a valid unquoted identifier in MySQL and
 * PostgreSQL, at most 48 characters (room for suffixes within PostgreSQL's 63).
 */
export function uniqueName(prefix: string): string {
  const clean = prefix
    .toLowerCase()
    .replace(/[^a-z0-9_]/g, '_')
    .slice(0, 30);
  const suffix = `${Date.now().toString(36)}${randomBytes(3).toString('hex')}`;
  return `${/^[a-z_]/.test(clean) ? clean : `t_${clean}`}_${suffix}`;
}

/**
 * Gives a harness client, pool or connection an 'error' listener that ignores the event. A server that a test
 * restarts or stops on purpose, or a `DROP DATABASE … WITH (FORCE)` (PostgreSQL's 57P01 "terminating connection
 * due to administrator command"), makes an idle client emit 'error'; without a listener Node throws it, and
 * Vitest fails the whole run though every test passed. A query on the dead client still rejects, so a test
 * that needed it still fails where it should.
 */
export function tolerateDisconnects<T extends { on(event: 'error', listener: (error: Error) => void): unknown }>(
  client: T,
): T {
  client.on('error', () => undefined);
  return client;
}

/** A connection to the test MariaDB as administrator, with `multipleStatements`; close it with `end()`. */
export async function mysqlAdmin(options: { database?: string } = {}): Promise<Connection> {
  const connection = await createConnection({
    uri: mysqlUrl(),
    multipleStatements: true,
    ...(options.database ? { database: options.database } : {}),
  });
  return tolerateDisconnects(connection);
}

/** Runs a multi-statement SQL script (such as fixtures/scenarios/sharded-users/source.sql) as administrator. */
export async function runMysqlScript(sql: string): Promise<void> {
  const connection = await mysqlAdmin();
  try {
    await connection.query(sql);
  } finally {
    await connection.end();
  }
}

export interface FreshPostgresDatabase {
  /** A superuser's URL of this database. */
  readonly url: string;
  readonly name: string;
  /** Runs one statement on this database and returns its rows. */
  query<R extends Record<string, unknown> = Record<string, unknown>>(sql: string, params?: unknown[]): Promise<R[]>;
  /** Closes this helper's own connections; the database stays. */
  close(): Promise<void>;
  /** Closes, then drops the database, disconnecting anyone still on it. */
  drop(): Promise<void>;
  /** `drop()`, for `await using`. */
  [Symbol.asyncDispose](): Promise<void>;
}

/** Creates a new, empty PostgreSQL database named `uniqueName(prefix)` on the test server. */
export async function freshPostgresDatabase(prefix: string): Promise<FreshPostgresDatabase> {
  const name = uniqueName(prefix);
  await postgresAdminQuery(`CREATE DATABASE "${name}" TEMPLATE template0 ENCODING 'UTF8'`);
  const url = new URL(postgresUrl());
  url.pathname = `/${name}`;
  let pool: pg.Pool | undefined;
  const close = async (): Promise<void> => {
    const open = pool;
    pool = undefined;
    await open?.end();
  };
  const drop = async (): Promise<void> => {
    await close();
    await postgresAdminQuery(`DROP DATABASE IF EXISTS "${name}" WITH (FORCE)`);
  };
  return {
    url: url.toString(),
    name,
    async query<R extends Record<string, unknown>>(sql: string, params?: unknown[]): Promise<R[]> {
      pool ??= tolerateDisconnects(new pg.Pool({ connectionString: url.toString(), max: 2 }));
      const result = await pool.query<R>(sql, params);
      return result.rows;
    },
    close,
    drop,
    [Symbol.asyncDispose]: drop,
  };
}

async function postgresAdminQuery(sql: string): Promise<void> {
  const client = tolerateDisconnects(new pg.Client({ connectionString: postgresUrl() }));
  await client.connect();
  try {
    await client.query(sql);
  } finally {
    await client.end();
  }
}

export interface WaitForOptions {
  timeoutMs?: number;
  intervalMs?: number;
  /** What was awaited, for the error: "the sink to hold 3 rows". */
  message?: string;
}

/**
 * Polls `condition` until it returns true, or throws after `timeoutMs` (default 90 s) naming `message` and the
 * last error the condition threw, if any (a throwing condition counts as not yet true). The deadline is only a
 * bound for giving up: the machine running the suite may be loaded (2 cores shared by several runs), so keep it
 * generous and never assert on how long something took.
 */
export async function waitFor(
  condition: () => Promise<boolean> | boolean,
  options: WaitForOptions = {},
): Promise<void> {
  const { timeoutMs = 90_000, intervalMs = 100, message = 'condition' } = options;
  const deadline = Date.now() + timeoutMs;
  let lastError: unknown;
  for (;;) {
    try {
      if (await condition()) return;
      lastError = undefined;
    } catch (error) {
      lastError = error;
    }
    if (Date.now() >= deadline) {
      const reason = lastError instanceof Error ? ` (last error: ${lastError.message})` : '';
      throw new Error(`timed out after ${timeoutMs} ms waiting for ${message}${reason}`, { cause: lastError });
    }
    await new Promise((resolve) => setTimeout(resolve, intervalMs));
  }
}
