import type { Logger } from '../runtime/logger.js';

/** Keys whose values are masked even when the option is not declared a secret. */
const SECRET_KEY = /^(\s*[\w.-]*(?:password|secret|token|credential)[\w.-]*\s*:\s*)(\S.*)$/i;

/**
 * The pipeline file as the dashboard shows it: every secret the logger knows (passwords, URLs with
 * credentials, as read from the file or the environment) replaced by `***`, and the value of any key named
 * like a password masked too, unless it is a `${VAR}` reference (which shows a name, not a secret).
 */
export function maskPipelineFile(text: string, log: Logger): string {
  return log
    .redact(text)
    .split('\n')
    .map((line) => {
      const match = SECRET_KEY.exec(line);
      if (!match || /^\$\{[^}]*\}\s*(#.*)?$/.test(match[2]!)) return line;
      return `${match[1]}***`;
    })
    .join('\n');
}
