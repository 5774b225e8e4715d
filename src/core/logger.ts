/** Log levels in increasing severity. */
export type LogLevel = 'debug' | 'info' | 'warn' | 'error';

/**
 * What a connector, an operator and the runtime log through: a small structured logger. Every line passes
 * through `redact`, which replaces each registered secret (passwords, URLs with credentials) by `***`, so
 * secrets never reach a log even when an error message from a driver quotes them. The runtime's `createLogger`
 * (`src/runtime/logger.ts`) is the implementation the CLI uses; a library user may pass any object of this shape.
 */
export interface Logger {
  debug(message: string): void;
  info(message: string): void;
  warn(message: string): void;
  error(message: string): void;
  /** Registers a value that must never be printed. */
  addSecret(secret: string | undefined): void;
  /** `text` with every registered secret replaced by `***` (for what is shown elsewhere than the log). */
  redact(text: string): string;
  child(scope: string): Logger;
}

/** A logger that drops everything, for library use and tests that do not look at logs. */
export const silentLogger: Logger = {
  debug: () => {},
  info: () => {},
  warn: () => {},
  error: () => {},
  addSecret: () => {},
  redact: (text) => text,
  child: () => silentLogger,
};
