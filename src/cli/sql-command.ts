import { readFile } from 'node:fs/promises';
import { buildSqlJob, SqlSession } from '../composer/sql-job.js';
import { TributaryError, plural } from '../core/index.js';
import type { Logger } from '../runtime/logger.js';
import type { InsertStatement } from '../sql/sql-ast.js';
import { SqlError } from '../sql/sql-error.js';
import { planInsert } from '../sql/planner.js';
import { formatTable } from './format-table.js';

export interface SqlCommandOptions {
  readonly log: Logger;
  /** Forget the job's checkpoint and state: the result is computed anew. */
  readonly reset: boolean;
  /** Where SHOW, DESCRIBE and EXPLAIN print (stdout by default). */
  readonly write?: (text: string) => void;
}

/**
 * `tributary sql -f script.sql`: runs the statements in order. CREATE TABLE and SET build the session; SHOW
 * TABLES, DESCRIBE and EXPLAIN print; the script's INSERT INTO … SELECT (one per script for now) then runs in
 * the foreground until SIGINT/SIGTERM, like `run`.
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
  let insert: InsertStatement | undefined;
  for (const statement of statements) {
    switch (statement.kind) {
      case 'createTable':
      case 'set':
        if (statement.kind === 'set' && statement.key === undefined) {
          write(formatTable([...session.settings].map(([key, value]) => ({ key, value }))) + '\n');
        }
        session.declare(statement);
        break;
      case 'showTables':
        write(formatTable([...session.tables.values()].map((t) => ({ 'table name': t.name }))) + '\n');
        break;
      case 'describe': {
        const table = session.tables.get(statement.table.toLowerCase());
        if (table === undefined) throw new SqlError(text, statement.start, `unknown table ${statement.table}`);
        write(
          formatTable(
            table.columns.map((c) => ({
              name: c.name,
              type: c.typeText,
              null: c.nullable ? 'TRUE' : 'FALSE',
              key: table.primaryKey.some((k) => k.toLowerCase() === c.name.toLowerCase()) ? 'PRI' : '',
            })),
          ) + '\n',
        );
        break;
      }
      case 'explain':
        if (statement.statement.kind !== 'insert') throw liveSelect(text, statement.statement.start);
        write(planInsert(text, statement.statement, session.tables, { timeZone: session.timeZone }).explain + '\n');
        break;
      case 'query':
        throw liveSelect(text, statement.start);
      case 'insert':
        if (insert !== undefined) {
          throw new SqlError(
            text,
            statement.start,
            'a script runs one INSERT INTO for now (STATEMENT SET is not built yet)',
            'put each INSERT INTO into a script of its own and run each with tributary sql -f',
          );
        }
        insert = statement;
        // Planned now, so that a mistake stops the script before anything runs.
        planInsert(text, statement, session.tables, { timeZone: session.timeZone });
        break;
    }
  }
  if (insert === undefined) return 0;
  const job = buildSqlJob(session, insert, { log });
  log.info(`job ${job.def.pipeline.name}:\n${job.explain}`);
  return runInForeground(job.pipeline, options, job.def.pipeline.name);
}

function liveSelect(text: string, start: number): SqlError {
  return new SqlError(
    text,
    start,
    'a SELECT on its own shows a live result in the interactive client, which is not built yet',
    'INSERT INTO a sink table instead (CREATE TABLE … WITH (connector = jdbc | postgres | duckdb))',
  );
}

async function runInForeground(
  pipeline: ReturnType<typeof buildSqlJob>['pipeline'],
  options: SqlCommandOptions,
  name: string,
): Promise<number> {
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
    const { source, checks } = await pipeline.validate({ ignoreSavedState: options.reset });
    for (const check of checks) {
      if (check.status === 'warning') log.warn(`${check.message}${check.fix ? `\n  fix: ${check.fix}` : ''}`);
    }
    log.info(`job ${name}: reading ${plural(source.tables.length, 'source table')}`);
    let events = 0;
    const result = await pipeline.run({
      signal: controller.signal,
      reset: options.reset,
      onCheckpoint: (_checkpoint, stats) => {
        events += stats.events;
      },
    });
    log.info(`job ${name} ${result.outcome}; ${plural(events, 'result change')} committed`);
    return 0;
  } finally {
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
  }
}
