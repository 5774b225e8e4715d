import { readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { asTributaryError, type TributaryError } from '../core/index.js';
import { createLogger, LOG_FORMATS, type LogFormat, type LogLevel, type Logger } from '../runtime/logger.js';
import { SCALE_OUT_ROLES } from '../scale-out/scale-out-roles.js';
import type { DemoSink, DemoSource } from './demo-command.js';
import { boundHeapGrowth, HEAP_GROWING_PERCENT, SQL_HEAP_GROWING_PERCENT } from './heap-growth.js';
import { LiveRegion } from './live-region.js';
import { parseDuration } from '../core/duration.js';
import { commandUsage, globalUsage, isCommand, type CommandName } from './usage.js';

// Each command's module is imported when that command runs, not here: statically they would load every driver,
// the SQL engine and the dashboard at every start, ~0.3 CPU-s a process (issue 16, bench/README.md "Start-up").

/** The options each command takes, besides --log-level and --help. */
const COMMAND_OPTIONS: Record<CommandName, readonly string[]> = {
  run: ['reset', 'truncate-targets', 'yes', 'from-savepoint', 'http', 'no-http', 'role'],
  validate: [],
  state: [],
  status: ['http', 'json'],
  verify: ['chunk-size', 'recheck-wait', 'repair'],
  demo: ['keep', 'sink', 'source'],
  sql: ['file', 'reset'],
  compact: ['table', 'retain-snapshots'],
};

/**
 * The CLI entry point; returns the process exit code. `tuneHeap`: bound V8's heap growth for the command
 * (`bin/tributary.js`; not in a process that embeds the CLI, such as the tests', whose V8 flags are its own).
 */
export async function main(argv: string[], { tuneHeap = false }: { tuneHeap?: boolean } = {}): Promise<number> {
  let parsed;
  try {
    parsed = parseArgs({
      args: argv,
      allowPositionals: true,
      options: {
        help: { type: 'boolean', short: 'h' },
        file: { type: 'string', short: 'f' },
        version: { type: 'boolean', short: 'v' },
        reset: { type: 'boolean' },
        'truncate-targets': { type: 'boolean' },
        yes: { type: 'boolean' },
        'from-savepoint': { type: 'string' },
        http: { type: 'string' },
        'no-http': { type: 'boolean' },
        role: { type: 'string' },
        json: { type: 'boolean' },
        'chunk-size': { type: 'string' },
        'recheck-wait': { type: 'string' },
        repair: { type: 'boolean' },
        keep: { type: 'boolean' },
        sink: { type: 'string' },
        source: { type: 'string' },
        table: { type: 'string' },
        'retain-snapshots': { type: 'string' },
        'log-level': { type: 'string' },
        'log-format': { type: 'string' },
      },
    });
  } catch (error) {
    const command = argv.find((a) => !a.startsWith('-'));
    const usage = command !== undefined && isCommand(command) ? commandUsage(command) : globalUsage();
    process.stderr.write(`${(error as Error).message}\n\n${usage}`);
    return 2;
  }
  const { values, positionals } = parsed;
  if (values.version) {
    process.stdout.write(`${readVersion()}\n`);
    return 0;
  }
  const [command, positionalFile] = positionals;
  const file = positionalFile ?? values.file;
  if (command === undefined) {
    process.stdout.write(globalUsage());
    return values.help ? 0 : 2;
  }
  if (!isCommand(command)) {
    process.stderr.write(`unknown command ${command}\n\n${globalUsage()}`);
    return 2;
  }
  if (values.help) {
    process.stdout.write(commandUsage(command));
    return 0;
  }
  const foreign = Object.keys(values).filter(
    (key) => key !== 'log-level' && key !== 'log-format' && !COMMAND_OPTIONS[command].includes(key),
  );
  if (foreign.length > 0) {
    process.stderr.write(
      `tributary ${command} takes no ${foreign.map((k) => `--${k}`).join(', ')}\n\n${commandUsage(command)}`,
    );
    return 2;
  }
  if (values['truncate-targets'] && !values.reset) {
    process.stderr.write(
      '--truncate-targets goes with --reset: tributary run pipeline.yaml --reset --truncate-targets --yes\n',
    );
    return 2;
  }
  if (values['truncate-targets'] && !values.yes) {
    process.stderr.write(
      '--truncate-targets empties every sink table this pipeline writes to, rows of other writers included, ' +
        'before the new snapshot. Nothing was changed; add --yes to confirm.\n',
    );
    return 2;
  }
  let http: { host: string; port: number } | false | undefined;
  if (values['no-http']) http = false;
  else if (values.http !== undefined) {
    http = parseHostPort(values.http);
    if (!http) {
      process.stderr.write(
        `--http ${values.http}: write host:port, e.g. --http 127.0.0.1:8470 (port 0: any free port)\n`,
      );
      return 2;
    }
  }
  const role = values.role;
  if (role !== undefined && !(SCALE_OUT_ROLES as readonly string[]).includes(role)) {
    process.stderr.write(`unknown --role ${role}: use ${SCALE_OUT_ROLES.join(' or ')}\n`);
    return 2;
  }
  if ((role === 'apply' || role === 'snapshot-reader') && (values.reset || values['from-savepoint'])) {
    process.stderr.write(
      `--role ${role} takes no --reset or --from-savepoint: reset the capture (see docs/scale-out.md)\n`,
    );
    return 2;
  }
  const level = (values['log-level'] ?? 'info') as LogLevel;
  if (!['debug', 'info', 'warn', 'error'].includes(level)) {
    process.stderr.write(`unknown --log-level ${level}: use debug, info, warn or error\n`);
    return 2;
  }
  const format = (values['log-format'] ?? 'text') as LogFormat;
  if (!LOG_FORMATS.includes(format)) {
    process.stderr.write(`unknown --log-format ${format}: use text or json\n`);
    return 2;
  }
  // `run` on a terminal: a live display at the bottom, log lines above it (not for JSON logs, nor a pipe).
  const live =
    command === 'run' && format === 'text' && process.stderr.isTTY ? new LiveRegion(process.stderr) : undefined;
  const log = createLogger({ level, format, ...(live ? { write: (line: string) => live.log(line) } : {}) });
  if (tuneHeap) boundHeapGrowth(process.execArgv, command === 'sql' ? SQL_HEAP_GROWING_PERCENT : HEAP_GROWING_PERCENT);
  const needsFile = command !== 'demo' && command !== 'sql';
  if (needsFile && !file) {
    process.stderr.write(`tributary ${command} needs a pipeline file\n\n${commandUsage(command)}`);
    return 2;
  }
  try {
    switch (command) {
      case 'run':
        if (role === 'apply')
          return await (
            await import('./apply-command.js')
          ).applyCommand(file!, { log, ...(http === undefined ? {} : { http }) });
        if (role === 'snapshot-reader')
          return await (await import('./snapshot-reader-command.js')).snapshotReaderCommand(file!, { log });
        return await (
          await import('./run-command.js')
        ).runCommand(file!, {
          ...(role === 'capture' ? { role } : {}),
          log,
          reset: values.reset === true,
          truncateTargets: values['truncate-targets'] === true,
          ...(values['from-savepoint'] ? { fromSavepoint: values['from-savepoint'] } : {}),
          ...(http === undefined ? {} : { http }),
          ...(live ? { live } : {}),
        });
      case 'validate':
        return await (await import('./validate-command.js')).validateCommand(file!, { log });
      case 'state':
        return await (await import('./state-command.js')).stateCommand(file!, { log });
      case 'status':
        return await (
          await import('./status-command.js')
        ).statusCommand(file!, {
          log,
          json: values.json === true,
          ...(http ? { http } : {}),
        });
      case 'verify': {
        const chunkSize = values['chunk-size'] === undefined ? undefined : Number(values['chunk-size']);
        if (chunkSize !== undefined && !(Number.isInteger(chunkSize) && chunkSize > 0)) {
          process.stderr.write(`--chunk-size ${values['chunk-size']}: write a whole number of rows, e.g. 10000\n`);
          return 2;
        }
        const wait = values['recheck-wait'] === undefined ? undefined : parseDuration(values['recheck-wait']);
        if (values['recheck-wait'] !== undefined && wait === undefined) {
          process.stderr.write(`--recheck-wait ${values['recheck-wait']}: write a duration, e.g. 5s\n`);
          return 2;
        }
        return await (
          await import('./verify-command.js')
        ).verifyCommand(file!, {
          log,
          ...(chunkSize === undefined ? {} : { chunkSize }),
          ...(wait === undefined ? {} : { recheckWaitMs: wait }),
          repair: values.repair === true,
        });
      }
      case 'sql':
        // Without -f: the interactive client.
        if (file === undefined) return await (await import('./sql-client.js')).sqlClient({ logLevel: level });
        return await (await import('./sql-command.js')).sqlCommand(file, { log, reset: values.reset === true });
      case 'compact': {
        const retain = values['retain-snapshots'] === undefined ? undefined : Number(values['retain-snapshots']);
        if (retain !== undefined && !(Number.isInteger(retain) && retain >= 1)) {
          process.stderr.write(`--retain-snapshots ${values['retain-snapshots']}: write a whole number, at least 1\n`);
          return 2;
        }
        return await (
          await import('./compact-command.js')
        ).compactCommand(file!, {
          log,
          ...(values.table === undefined ? {} : { table: values.table }),
          ...(retain === undefined ? {} : { retainSnapshots: retain }),
        });
      }
      case 'demo': {
        const { DEMO_SINKS, DEMO_SOURCES, demoCommand } = await import('./demo-command.js');
        const sink = (values.sink ?? 'postgres') as DemoSink;
        if (!DEMO_SINKS.includes(sink)) {
          process.stderr.write(`unknown --sink ${sink}: use ${DEMO_SINKS.join(' or ')}\n`);
          return 2;
        }
        const source = (values.source ?? 'mysql') as DemoSource;
        if (!DEMO_SOURCES.includes(source)) {
          process.stderr.write(`unknown --source ${source}: use ${DEMO_SOURCES.join(' or ')}\n`);
          return 2;
        }
        return await demoCommand({ log, keep: values.keep === true, sink, source });
      }
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

/** `host:port`, `[::1]:port` or `:port` (localhost); undefined when malformed. */
export function parseHostPort(text: string): { host: string; port: number } | undefined {
  const match = /^(?:\[([^\]]+)\]|([^:]*)):(\d{1,5})$/.exec(text.trim());
  if (!match) return undefined;
  const port = Number(match[3]);
  if (port > 65535) return undefined;
  return { host: match[1] ?? (match[2] || '127.0.0.1'), port };
}

function readVersion(): string {
  const pkg = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version: string };
  return pkg.version;
}
