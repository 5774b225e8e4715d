import { TributaryError, type ErrorCode } from '../core/errors.js';

/** One thing wrong in a pipeline file, where it is, and (in `message`) what to write instead. */
export interface ConfigProblem {
  readonly file: string;
  /** 1-based. */
  readonly line: number;
  /** 1-based. */
  readonly column: number;
  /** The key, as a path: `source.port`, `transform[0].projection`, `pipeline.checkpoint.interval`. */
  readonly path: string;
  /** Never contains the value of a secret option nor of an environment variable. May span lines (a caret picture). */
  readonly message: string;
  /** CONFIG_INVALID, or CONFIG_ENV_MISSING / CONNECTOR_UNKNOWN for those kinds of problem. */
  readonly code: ErrorCode;
}

/** `pipeline.yaml:7:3 source.scan.startup.mod: unknown option — did you mean "scan.startup.mode"?` */
export function formatProblem(problem: ConfigProblem): string {
  const where = `${problem.file}:${problem.line}:${problem.column}`;
  return `${where} ${problem.path === '' ? '' : `${problem.path}: `}${problem.message}`;
}

/**
 * Everything wrong with a pipeline file at once. Its code is the problems' common code when they all share
 * one (CONFIG_ENV_MISSING when only environment variables are missing), else CONFIG_INVALID. The message
 * lists one problem per line (continuation lines of a caret picture are indented).
 */
export class ConfigError extends TributaryError {
  readonly problems: readonly ConfigProblem[];

  constructor(problems: readonly ConfigProblem[]) {
    const codes = new Set(problems.map((p) => p.code));
    const [only] = codes;
    const code: ErrorCode = codes.size === 1 && only !== undefined ? only : 'CONFIG_INVALID';
    const file = problems[0]?.file ?? 'the pipeline';
    const count = problems.length === 1 ? '1 problem' : `${problems.length} problems`;
    super(
      code,
      `${file}: ${count}\n${problems.map((p) => `  ${formatProblem(p).replace(/\n/g, '\n  ')}`).join('\n')}`,
      {
        hint: 'fix each line above; nothing was started',
      },
    );
    this.name = 'ConfigError';
    this.problems = problems;
  }
}
