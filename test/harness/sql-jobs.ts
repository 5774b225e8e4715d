import { buildSqlJob, SqlSession, type SqlJob } from '../../src/composer/sql-job.js';
import { buildSyncJob } from '../../src/composer/sql-sync-job.js';
import { createLogger } from '../../src/runtime/logger.js';
import type { RunResult } from '../../src/runtime/pipeline-runner.js';
import type { InsertStatement } from '../../src/sql/sql-ast.js';
import { mysqlUrl } from './databases.js';

/** `CREATE TABLE … WITH` options of a mysql-cdc table on the test MariaDB. */
export function mysqlCdcOptions(database: string, table: string): string {
  const url = new URL(mysqlUrl());
  return (
    `'connector' = 'mysql-cdc', 'hostname' = '${url.hostname}', 'port' = '${url.port}', ` +
    `'username' = '${decodeURIComponent(url.username)}', 'password' = '${decodeURIComponent(url.password)}', ` +
    `'database-name' = '${database}', 'table-name' = '${table}', 'scan.incremental.snapshot.chunk.size' = '50'`
  );
}

/** `CREATE TABLE … WITH` options of a jdbc sink table in the PostgreSQL database of `sinkUrl`. */
export function jdbcOptions(sinkUrl: string, table: string): string {
  const url = new URL(sinkUrl);
  return (
    `'connector' = 'jdbc', 'url' = 'jdbc:postgresql://${url.hostname}:${url.port}${url.pathname}', ` +
    `'username' = '${decodeURIComponent(url.username)}', 'password' = '${decodeURIComponent(url.password)}', ` +
    `'table-name' = '${table}'`
  );
}

export interface RunningSqlJob {
  readonly logs: string[];
  readonly done: Promise<RunResult>;
  stop(): Promise<RunResult>;
}

/** Runs the INSERT (or the statement set, the CREATE TABLE … AS, the CREATE DATABASE … AS DATABASE) of a SQL script in this process, as `tributary sql -f` does. */
export function startSqlJob(script: string): RunningSqlJob {
  const { session, statements } = SqlSession.parse(script);
  let insert: InsertStatement | readonly InsertStatement[] | undefined;
  const logs: string[] = [];
  const log = createLogger({ level: 'info', write: (line) => logs.push(line) });
  let job: SqlJob | undefined;
  for (const statement of statements) {
    if (statement.kind === 'sync') job = buildSyncJob(session, statement, { log, maxRetries: 0 });
    session.declare(statement);
    if (statement.kind === 'insert') insert = statement;
    if (statement.kind === 'statementSet') insert = statement.inserts;
    if (statement.kind === 'createTableAs') insert = session.createTableAs(statement);
  }
  if (insert !== undefined) job = buildSqlJob(session, insert, { log, maxRetries: 0 });
  if (job === undefined) throw new Error('the script has no INSERT');
  const controller = new AbortController();
  const done = job.pipeline.run({ signal: controller.signal });
  done.catch(() => {});
  return {
    logs,
    done,
    stop: async () => {
      controller.abort();
      return done;
    },
  };
}
