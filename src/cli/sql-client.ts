import { randomBytes } from 'node:crypto';
import { appendFileSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { dirname, join } from 'node:path';
import { createInterface } from 'node:readline';
import { buildSqlJob, SqlSession, type SqlJob } from '../composer/sql-job.js';
import { buildSyncJob } from '../composer/sql-sync-job.js';
import { prepareLiveQuery } from '../composer/sql-live.js';
import { asTributaryError, TributaryError } from '../core/index.js';
import { createLogger, type LogLevel } from '../runtime/logger.js';
import type { QueryStatement, Statement } from '../sql/sql-ast.js';
import { SqlError } from '../sql/sql-error.js';
import { tokenizeSql } from '../sql/sql-lexer.js';
import { parseSqlScript } from '../sql/sql-parser.js';
import { formatTable } from './format-table.js';
import { describeOutput, showTablesOutput } from './sql-command.js';
import { RESULT_MODES, ResultView, type ResultMode } from './sql-result-view.js';

/** A job the client started with INSERT INTO: it runs in this process until STOP JOB or the client quits. */
interface BackgroundJob {
  readonly id: string;
  readonly name: string;
  readonly started: Date;
  status: 'RUNNING' | 'FINISHED' | 'CANCELED' | 'FAILED';
  error?: string;
  readonly controller: AbortController;
  done: Promise<void>;
}

export interface SqlClientOptions {
  readonly logLevel: LogLevel;
  /** Where the jobs and live queries log (default ./.tributary/sql-client.log): not the terminal the client uses. */
  readonly logFile?: string;
  readonly input?: NodeJS.ReadableStream;
  readonly output?: NodeJS.WriteStream;
  /** The history file (default ~/.tributary/sql-history; TRIBUTARY_SQL_HISTORY overrides). */
  readonly historyFile?: string;
}

const PROMPT = 'tributary> ';
const MORE = '         > ';

/**
 * `tributary sql` without -f: the interactive client. Statements end with `;` and may span lines (a statement
 * set ends with `END;`); history is kept in a file; a mistake is shown and the client goes on. `INSERT INTO`
 * (or a statement set) starts a background job in this process — `SHOW JOBS` lists them, `STOP JOB '<id>'` stops
 * one after a final checkpoint; `SELECT …` shows its live result in the mode `sql-client.execution.result-mode`
 * sets (`table`, `changelog`, or `tableau` — the one used when the output is not a terminal) until Q or Ctrl-C.
 * `QUIT;` or Ctrl-D stops every job (a final checkpoint each) and leaves.
 */
export async function sqlClient(options: SqlClientOptions): Promise<number> {
  const input = options.input ?? process.stdin;
  const output = options.output ?? process.stdout;
  const terminal = output.isTTY === true && (input as NodeJS.ReadStream).isTTY === true;
  const historyFile =
    options.historyFile ?? process.env['TRIBUTARY_SQL_HISTORY'] ?? join(homedir(), '.tributary', 'sql-history');
  const session = new SqlSession('');
  const logFile = options.logFile ?? join('.tributary', 'sql-client.log');
  mkdirSync(dirname(logFile), { recursive: true });
  const log = createLogger({ level: options.logLevel, write: (line) => appendFileSync(logFile, `${line}\n`) });
  const jobs = new Map<string, BackgroundJob>();
  const write = (text: string) => output.write(text);
  const rl = createInterface({
    input,
    output,
    terminal,
    history: terminal ? readHistory(historyFile) : [],
    historySize: 1000,
    removeHistoryDuplicates: true,
    prompt: PROMPT,
  });
  if (terminal) rl.on('history', (history: string[]) => saveHistory(historyFile, history));
  // A prompt only on a terminal: a piped script's output is the results alone.
  // preserveCursor: what was typed ahead while a statement ran stays, with the cursor after it (a plain prompt()
  // would put the cursor at column 0, and the next keys would land before the typed-ahead text).
  const prompt = () => {
    if (terminal) rl.prompt(true);
  };
  let live: AbortController | undefined;
  rl.on('SIGINT', () => {
    if (live !== undefined) live.abort();
    else {
      buffer = '';
      write('^C\n');
      rl.setPrompt(PROMPT);
      prompt();
    }
  });
  // Ctrl-C when the input is not a terminal: stops the live query, or else leaves (stopping the jobs).
  const onSignal = () => (live === undefined ? rl.close() : live.abort());
  process.on('SIGINT', onSignal);
  if (terminal) write(`Tributary SQL client. Statements end with ;  QUIT; leaves. Jobs log to ${logFile}.\n\n`);

  let buffer = '';
  const execute = async (statement: Statement, text: string): Promise<void> => {
    session.text = text;
    switch (statement.kind) {
      case 'createTable':
      case 'createView':
      case 'createCatalog':
      case 'set':
        if (statement.kind === 'set' && statement.key === undefined) {
          write(formatTable([...session.settings].map(([key, value]) => ({ key, value }))) + '\n');
          return;
        }
        if (statement.kind === 'set' && statement.key === 'sql-client.execution.result-mode') {
          if (!RESULT_MODES.includes(statement.value!.toLowerCase() as ResultMode)) {
            throw new SqlError(
              text,
              statement.start,
              `unknown result mode '${statement.value}'`,
              `write one of '${RESULT_MODES.join("', '")}'`,
            );
          }
        }
        session.declare(statement);
        write('[INFO] Execute statement succeeded.\n');
        return;
      case 'showTables':
        write(showTablesOutput(session, statement));
        return;
      case 'describe':
        write(describeOutput(session, statement));
        return;
      case 'explain': {
        const inner = statement.statement;
        if (inner.kind === 'query') write(prepareLiveQuery(session, inner).explain + '\n');
        else
          write(
            (inner.kind === 'insert' ? [inner] : inner.inserts).map((i) => session.plan(i).explain).join('\n\n') + '\n',
          );
        return;
      }
      case 'insert':
      case 'statementSet':
      case 'createTableAs':
      case 'sync': {
        const job =
          statement.kind === 'sync'
            ? buildSyncJob(session, statement, { log })
            : buildSqlJob(
                session,
                statement.kind === 'insert'
                  ? statement
                  : statement.kind === 'statementSet'
                    ? statement.inserts
                    : session.createTableAs(statement),
                { log },
              );
        const started = startJob(job, jobs);
        write(`[INFO] Submitting SQL update statement to the cluster...\n`);
        await started.validated;
        write(`[INFO] SQL update statement has been successfully submitted to the cluster:\nJob ID: ${started.id}\n`);
        return;
      }
      case 'showJobs':
        write(
          formatTable(
            [...jobs.values()].map((j) => ({
              'job id': j.id,
              'job name': j.name,
              status: j.status,
              'start time': j.started.toISOString(),
              ...(j.error === undefined ? {} : { error: j.error }),
            })),
          ) + '\n',
        );
        return;
      case 'stopJob': {
        const job = jobs.get(statement.id);
        if (job === undefined) {
          throw new SqlError(text, statement.start, `no job has the id '${statement.id}'`, 'SHOW JOBS lists the jobs');
        }
        if (job.status === 'RUNNING') {
          job.controller.abort();
          await job.done;
        }
        write('[INFO] The specified job is stopped.\n');
        return;
      }
      case 'query':
        await runLive(statement);
        return;
    }
  };

  const runLive = async (statement: QueryStatement) => {
    const query = prepareLiveQuery(session, statement);
    const setting = (session.settings.get('sql-client.execution.result-mode') ?? 'table').toLowerCase() as ResultMode;
    const mode: ResultMode = terminal ? setting : 'tableau';
    const view = new ResultView(
      mode,
      query.fields.map((f) => f.name),
      query.uniqueKeys[0],
      {
        write,
        get rows() {
          return output.rows ?? 24;
        },
        get columns() {
          return output.columns ?? 120;
        },
      },
    );
    const controller = new AbortController();
    live = controller;
    const stdin = input as NodeJS.ReadStream;
    const onKey = (data: Buffer) => {
      const key = data.toString();
      if (key === 'q' || key === 'Q' || key === '\x03') controller.abort();
    };
    if (terminal) {
      rl.pause();
      stdin.setRawMode(true);
      stdin.on('data', onKey);
      stdin.resume();
    }
    view.open();
    try {
      await query.run({
        log,
        signal: controller.signal,
        onChanges: (changes) => view.apply(changes),
      });
    } finally {
      view.close();
      live = undefined;
      if (terminal) {
        stdin.off('data', onKey);
        stdin.setRawMode(true);
        rl.resume();
        // The keys pressed in the view (the Q) may have reached readline's line too: clear it (Ctrl-U).
        rl.write(null, { ctrl: true, name: 'u' });
      }
    }
  };

  const report = (error: unknown) => {
    const e = asTributaryError(error);
    write(`[ERROR] ${e.message}${e.hint === undefined ? '' : `\n  fix: ${e.hint}`}\n`);
  };

  prompt();
  for await (const line of rl) {
    buffer += (buffer === '' ? '' : '\n') + line;
    if (!complete(buffer)) {
      if (buffer.trim() !== '') rl.setPrompt(MORE);
      prompt();
      continue;
    }
    const text = buffer;
    buffer = '';
    rl.setPrompt(PROMPT);
    if (/^\s*(quit|exit)\s*;\s*$/i.test(text)) break;
    try {
      for (const statement of parseSqlScript(text)) await execute(statement, text);
    } catch (error) {
      report(error);
    }
    if (terminal) write('\n');
    prompt();
  }
  rl.close();
  process.off('SIGINT', onSignal);
  const running = [...jobs.values()].filter((j) => j.status === 'RUNNING');
  if (running.length > 0) write(`Stopping ${running.length} running job(s) (a final checkpoint each)…\n`);
  for (const job of running) job.controller.abort();
  await Promise.all(running.map((j) => j.done));
  write('Goodbye!\n');
  return 0;
}

/** Starts a job in the background; `validated` settles once it has connected and checked (or failed to). */
function startJob(job: SqlJob, jobs: Map<string, BackgroundJob>): { id: string; validated: Promise<void> } {
  const id = randomBytes(16).toString('hex');
  const controller = new AbortController();
  let validated!: () => void;
  let failedEarly!: (error: unknown) => void;
  const checked = new Promise<void>((resolve, reject) => {
    validated = resolve;
    failedEarly = reject;
  });
  const record: BackgroundJob = {
    id,
    name: job.def.pipeline.name,
    started: new Date(),
    status: 'RUNNING',
    controller,
    done: Promise.resolve(),
  };
  record.done = (async () => {
    try {
      await job.pipeline.validate();
      validated();
      const result = await job.pipeline.run({ signal: controller.signal });
      record.status = result.outcome === 'stopped' ? 'CANCELED' : 'FINISHED';
    } catch (error) {
      record.status = 'FAILED';
      record.error = asTributaryError(error).message.split('\n')[0]!;
      failedEarly(error);
    }
  })();
  jobs.set(id, record);
  return {
    id,
    validated: checked.catch((error: unknown) => {
      jobs.delete(id);
      throw error;
    }),
  };
}

/**
 * Whether `text` holds whole statements: it ends with `;` outside strings and comments, and a statement set
 * (`BEGIN STATEMENT SET` / `EXECUTE STATEMENT SET`) has reached its `END;`.
 */
export function complete(text: string): boolean {
  let tokens;
  try {
    tokens = tokenizeSql(text).filter((t) => t.type !== 'end');
  } catch (error) {
    // An open string or comment: more lines are coming. Another mistake: let the parser report it.
    return !(error instanceof TributaryError && /not closed|unterminated|unclosed/i.test(error.message));
  }
  const last = tokens[tokens.length - 1];
  if (last === undefined || last.type !== 'operator' || last.value !== ';') return false;
  const words = tokens.map((t) => (t.type === 'identifier' || t.type === 'keyword' ? t.value.toUpperCase() : t.value));
  let open = false;
  for (let i = 0; i < words.length; i++) {
    if (
      words[i] === 'STATEMENT' &&
      words[i + 1] === 'SET' &&
      (words[i - 1] === 'BEGIN' || words[i - 1] === 'EXECUTE')
    ) {
      open = true;
    }
    if (open && words[i] === 'END' && words[i + 1] === ';' && !inCase(words, i)) open = false;
  }
  return !open;
}

/** Whether the END at `i` closes a CASE (CASE … END) rather than a statement set. */
function inCase(words: readonly string[], i: number): boolean {
  let depth = 0;
  for (let j = i - 1; j >= 0 && words[j] !== ';'; j--) {
    if (words[j] === 'END') depth++;
    if (words[j] === 'CASE') {
      if (depth === 0) return true;
      depth--;
    }
  }
  return false;
}

function readHistory(file: string): string[] {
  try {
    return readFileSync(file, 'utf8').split('\n').filter(Boolean).reverse();
  } catch {
    return [];
  }
}

function saveHistory(file: string, history: readonly string[]): void {
  try {
    mkdirSync(dirname(file), { recursive: true });
    writeFileSync(file, [...history].reverse().join('\n') + '\n', { mode: 0o600 });
  } catch {
    // History is a convenience: a read-only home directory must not stop the client.
  }
}
