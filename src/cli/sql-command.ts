import { readFile } from 'node:fs/promises';
import { buildSqlJob, sqlTypeText, SqlSession, type SqlJob } from '../composer/sql-job.js';
import { buildSyncJob } from '../composer/sql-sync-job.js';
import { TributaryError, plural } from '../core/index.js';
import type { Logger } from '../runtime/logger.js';
import type { DescribeStatement, ShowTablesStatement } from '../sql/sql-ast.js';
import { SqlError } from '../sql/sql-error.js';
import { planView } from '../sql/planner.js';
import { formatTable } from './format-table.js';
import { checkBeforeRun } from './startup-checks.js';

export interface SqlCommandOptions {
  readonly log: Logger;
  /** Forget the job's checkpoint and state: the result is computed anew. */
  readonly reset: boolean;
  /** Where SHOW, DESCRIBE and EXPLAIN print (stdout by default). */
  readonly write?: (text: string) => void;
}

/**
 * `tributary sql -f script.sql`: runs the statements in order. CREATE TABLE, CREATE VIEW and SET build the
 * session; SHOW TABLES, DESCRIBE and EXPLAIN print; each INSERT INTO … SELECT and each statement set becomes a
 * job (built with the session as it is at that statement, as Flink's SQL client submits each INSERT as its own
 * job). Once the whole script has been read without a mistake, the jobs run side by side in the foreground until
 * SIGINT/SIGTERM, like `run`.
 */
export async function sqlCommand(file: string, options: SqlCommandOptions): Promise<number> {
  const { log } = options;
  const write = options.write ?? ((text: string) => process.stdout.write(text));
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (error) {
    throw new TributaryError('CONFIG_FILE_NOT_FOUND', `SQL script ${file} cannot be read`, {
      hint: 'check the path (relative to the working directory)',
      cause: error,
    });
  }
  const { session, statements } = SqlSession.parse(text, file);
  const jobs: SqlJob[] = [];
  const addJob = (job: SqlJob, start: number) => {
    const name = job.def.pipeline.name;
    if (jobs.some((j) => j.def.pipeline.name === name)) {
      throw new SqlError(
        text,
        start,
        `two jobs of the script are named ${name}: they would share one checkpoint`,
        "SET 'pipeline.name' to another name before this INSERT, or put the INSERTs into one statement set",
      );
    }
    jobs.push(job);
  };
  for (const statement of statements) {
    switch (statement.kind) {
      case 'createTable':
      case 'createView':
      case 'createCatalog':
      case 'set':
        if (statement.kind === 'set' && statement.key === undefined) {
          write(formatTable([...session.settings].map(([key, value]) => ({ key, value }))) + '\n');
        }
        session.declare(statement);
        break;
      case 'showTables':
        write(showTablesOutput(session, statement));
        break;
      case 'describe':
        write(describeOutput(session, statement));
        break;
      case 'explain': {
        const inner = statement.statement;
        if (inner.kind === 'query') throw liveSelect(text, inner.start);
        const inserts = inner.kind === 'insert' ? [inner] : inner.inserts;
        write(inserts.map((insert) => session.plan(insert).explain).join('\n\n') + '\n');
        break;
      }
      case 'query':
        throw liveSelect(text, statement.start);
      case 'showJobs':
      case 'stopJob':
        throw new SqlError(
          text,
          statement.start,
          `${statement.kind === 'showJobs' ? 'SHOW JOBS' : 'STOP JOB'} is a statement of the interactive client`,
          "a script's jobs run in the foreground until Ctrl-C; run tributary sql without -f for background jobs",
        );
      case 'insert':
        // Built now, so that a mistake stops the script before anything runs.
        addJob(buildSqlJob(session, statement, { log }), statement.start);
        break;
      case 'statementSet':
        addJob(buildSqlJob(session, statement.inserts, { log }), statement.start);
        break;
      case 'createTableAs':
        addJob(buildSqlJob(session, session.createTableAs(statement), { log }), statement.start);
        break;
      case 'sync':
        addJob(buildSyncJob(session, statement, { log }), statement.start);
        break;
    }
  }
  if (jobs.length === 0) return 0;
  for (const job of jobs) log.info(`job ${job.def.pipeline.name}:\n${job.explain}`);
  return runInForeground(jobs, options);
}

/** SHOW TABLES (tables and views) or SHOW VIEWS, as a table. */
export function showTablesOutput(session: SqlSession, statement: ShowTablesStatement): string {
  const views = [...session.views.values()].map((v) => v.name);
  const names = statement.views ? views : [...[...session.tables.values()].map((t) => t.name), ...views];
  const header = statement.views ? 'view name' : 'table name';
  return formatTable(names.sort().map((name) => ({ [header]: name }))) + '\n';
}

/** DESCRIBE a table or a view: its columns, types, nullability and key. */
export function describeOutput(session: SqlSession, statement: DescribeStatement): string {
  const { text } = session;
  const view = session.views.get(statement.table.toLowerCase());
  if (view !== undefined) {
    const fields = planView(view, session.tables, session.planOptions());
    return (
      formatTable(
        fields.map((f) => ({
          name: f.name,
          type: sqlTypeText(f.type),
          null: f.nullable ? 'TRUE' : 'FALSE',
          key: '',
        })),
      ) + '\n'
    );
  }
  const table = session.tables.get(statement.table.toLowerCase());
  if (table === undefined) throw new SqlError(text, statement.start, `unknown table ${statement.table}`);
  return (
    formatTable(
      table.columns.map((c) => ({
        name: c.name,
        type: c.typeText,
        null: c.nullable ? 'TRUE' : 'FALSE',
        key: table.primaryKey.some((k) => k.toLowerCase() === c.name.toLowerCase()) ? 'PRI' : '',
      })),
    ) + '\n'
  );
}

function liveSelect(text: string, start: number): SqlError {
  return new SqlError(
    text,
    start,
    'a SELECT on its own shows a live result in the interactive client, which is not built yet',
    'INSERT INTO a sink table instead (CREATE TABLE … WITH (connector = jdbc | postgres | duckdb))',
  );
}

/** Runs the jobs side by side until a signal; the first that fails stops the others (each takes a final checkpoint). */
async function runInForeground(jobs: readonly SqlJob[], options: SqlCommandOptions): Promise<number> {
  const { log } = options;
  const controller = new AbortController();
  const onSignal = (signal: NodeJS.Signals) => {
    if (controller.signal.aborted) process.exit(130);
    log.info(`${signal}: taking a final checkpoint and stopping`);
    controller.abort();
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  try {
    for (const { pipeline, def } of jobs) {
      const report = await checkBeforeRun(pipeline, {
        ignoreSavedState: options.reset,
        signal: controller.signal,
        log,
      });
      if (report === undefined) return 0;
      const { source, checks } = report;
      for (const check of checks) {
        if (check.status === 'warning') log.warn(`${check.message}${check.fix ? `\n  fix: ${check.fix}` : ''}`);
      }
      log.info(`job ${def.pipeline.name}: reading ${plural(source.tables.length, 'source table')}`);
    }
    const runs = jobs.map(async ({ pipeline, def }) => {
      let events = 0;
      try {
        const result = await pipeline.run({
          signal: controller.signal,
          reset: options.reset,
          onCheckpoint: (_checkpoint, stats) => {
            events += stats.events;
          },
        });
        log.info(`job ${def.pipeline.name} ${result.outcome}; ${plural(events, 'result change')} committed`);
      } catch (error) {
        controller.abort();
        throw error;
      }
    });
    const results = await Promise.allSettled(runs);
    const failed = results.find((r): r is PromiseRejectedResult => r.status === 'rejected');
    if (failed !== undefined) throw failed.reason;
    return 0;
  } finally {
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
  }
}
