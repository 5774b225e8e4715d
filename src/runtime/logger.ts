import type { Logger, LogLevel } from '../core/logger.js';

export { silentLogger, type Logger, type LogLevel } from '../core/logger.js';

/** Log levels in increasing severity (`LogLevel` is core's). */
const LEVEL_ORDER: Record<LogLevel, number> = { debug: 10, info: 20, warn: 30, error: 40 };

export interface LoggerOptions {
  readonly level?: LogLevel;
  readonly write?: (line: string) => void;
  readonly scope?: string;
  readonly timestamps?: boolean;
  /**
   * `text` (default): `2026-12-03T10:00:00.000Z INFO  [scope] message`. `json`: one JSON object per line —
   * `{"time","level","scope"?,"message"}` — for log shippers; a message of several lines stays one record.
   */
  readonly format?: LogFormat;
}

export type LogFormat = 'text' | 'json';
export const LOG_FORMATS: readonly LogFormat[] = ['text', 'json'];

export function createLogger(options: LoggerOptions = {}): Logger {
  const secrets = new Set<string>();
  return makeLogger(options, secrets, options.scope);
}

function makeLogger(options: LoggerOptions, secrets: Set<string>, scope: string | undefined): Logger {
  const min = LEVEL_ORDER[options.level ?? 'info'];
  const write = options.write ?? ((line: string) => process.stderr.write(line + '\n'));
  const emit = (level: LogLevel, message: string) => {
    if (LEVEL_ORDER[level] < min) return;
    if (options.format === 'json') {
      // Redacted before encoding: JSON escaping could otherwise hide a secret holding quotes or backslashes.
      const record = {
        ...(options.timestamps === false ? {} : { time: new Date().toISOString() }),
        level,
        ...(scope ? { scope } : {}),
        message: redact(message, secrets),
      };
      write(JSON.stringify(record));
      return;
    }
    const time = options.timestamps === false ? '' : new Date().toISOString() + ' ';
    const prefix = scope ? `[${scope}] ` : '';
    write(redact(`${time}${level.toUpperCase().padEnd(5)} ${prefix}${message}`, secrets));
  };
  return {
    debug: (m) => emit('debug', m),
    info: (m) => emit('info', m),
    warn: (m) => emit('warn', m),
    error: (m) => emit('error', m),
    addSecret: (secret) => {
      if (secret && secret.length >= 3) secrets.add(secret);
    },
    redact: (text) => redact(text, secrets),
    child: (child) => makeLogger(options, secrets, scope ? `${scope}/${child}` : child),
  };
}

/** Replaces every occurrence of every secret by `***`. */
export function redact(text: string, secrets: Iterable<string>): string {
  let out = text;
  for (const secret of secrets) out = out.split(secret).join('***');
  return out;
}
