import { readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { asTributaryError, type TributaryError } from '../core/index.js';
import { createLogger, type LogLevel, type Logger } from '../runtime/logger.js';
import { runCommand } from './run-command.js';
import { validateCommand } from './validate-command.js';
import { DEMO_SINKS, demoCommand, type DemoSink } from './demo-command.js';
import { stateCommand } from './state-command.js';

const USAGE = `Usage: tributary <command> [options]

Commands:
  run <pipeline.yaml>        run a pipeline until Ctrl-C / SIGTERM (resumes from its last checkpoint)
      --reset                forget the saved position and start over with a new snapshot
      --from-savepoint <id>  resume from a savepoint (id or file; see \`tributary state\`)
  validate <pipeline.yaml>   check the file, the connections, server settings and privileges; move nothing
  state <pipeline.yaml>      show the pipeline's last checkpoint and its savepoints
  demo                       start private MariaDB + PostgreSQL, run the sharded-users pipeline, show it live
      --sink <type>          postgres (default) | duckdb: write into a temporary DuckDB file, no PostgreSQL
      --keep                 keep running after the demo until Ctrl-C

Options:
  --log-level <level>        debug | info | warn | error (default info)
  -h, --help                 this help
  -v, --version              the version
`;

/** The CLI entry point; returns the process exit code. */
export async function main(argv: string[]): Promise<number> {
  let parsed;
  try {
    parsed = parseArgs({
      args: argv,
      allowPositionals: true,
      options: {
        help: { type: 'boolean', short: 'h' },
        version: { type: 'boolean', short: 'v' },
        reset: { type: 'boolean' },
        'from-savepoint': { type: 'string' },
        keep: { type: 'boolean' },
        sink: { type: 'string' },
        'log-level': { type: 'string' },
      },
    });
  } catch (error) {
    process.stderr.write(`${(error as Error).message}\n\n${USAGE}`);
    return 2;
  }
  const { values, positionals } = parsed;
  if (values.version) {
    process.stdout.write(`${readVersion()}\n`);
    return 0;
  }
  const [command, file] = positionals;
  if (values.help || !command) {
    process.stdout.write(USAGE);
    return command || values.help ? 0 : 2;
  }
  const level = (values['log-level'] ?? 'info') as LogLevel;
  if (!['debug', 'info', 'warn', 'error'].includes(level)) {
    process.stderr.write(`unknown --log-level ${level}: use debug, info, warn or error\n`);
    return 2;
  }
  const log = createLogger({ level });
  const needsFile = command === 'run' || command === 'validate' || command === 'state';
  if (needsFile && !file) {
    process.stderr.write(`tributary ${command} needs a pipeline file: tributary ${command} pipeline.yaml\n`);
    return 2;
  }
  try {
    switch (command) {
      case 'run':
        return await runCommand(file!, {
          log,
          reset: values.reset === true,
          ...(values['from-savepoint'] ? { fromSavepoint: values['from-savepoint'] } : {}),
        });
      case 'validate':
        return await validateCommand(file!, { log });
      case 'state':
        return await stateCommand(file!, { log });
      case 'demo': {
        const sink = (values.sink ?? 'postgres') as DemoSink;
        if (!DEMO_SINKS.includes(sink)) {
          process.stderr.write(`unknown --sink ${sink}: use ${DEMO_SINKS.join(' or ')}\n`);
          return 2;
        }
        return await demoCommand({ log, keep: values.keep === true, sink });
      }
      default:
        process.stderr.write(`unknown command ${command}\n\n${USAGE}`);
        return 2;
    }
  } catch (error) {
    return reportFatal(asTributaryError(error), log);
  }
}

export function reportFatal(error: TributaryError, log: Logger): number {
  log.error(error.format());
  if (error.code === 'INTERNAL' && error.stack) log.debug(error.stack);
  return 1;
}

function readVersion(): string {
  const pkg = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version: string };
  return pkg.version;
}
