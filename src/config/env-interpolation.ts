/** The environment that `${VAR}` reads (process.env by default). */
export type Env = { readonly [name: string]: string | undefined };

export interface Interpolated {
  /** The text with every reference replaced. */
  readonly value: string;
  /** Names of the variables read, set or not: a value that came from the environment is not echoed in messages. */
  readonly variables: readonly string[];
  /** Referenced without a default and not set. */
  readonly missing: readonly string[];
  /** A `${` that is not a well-formed reference, as written (e.g. `${MY-VAR}` or a missing `}`). */
  readonly malformed: readonly string[];
}

const REFERENCE = /^([A-Za-z_][A-Za-z0-9_]*)(?::-(.*))?$/s;

/**
 * Replaces `${NAME}` by the variable's value and `${NAME:-default}` by its value or, when it is unset or
 * empty, by `default`. `$${` writes a literal `${`. Any other `$` stays as it is.
 */
export function interpolateEnv(text: string, env: Env): Interpolated {
  if (!text.includes('${')) return { value: text, variables: [], missing: [], malformed: [] };
  let value = '';
  const variables: string[] = [];
  const missing: string[] = [];
  const malformed: string[] = [];
  let i = 0;
  while (i < text.length) {
    const dollar = text.indexOf('$', i);
    if (dollar < 0) {
      value += text.slice(i);
      break;
    }
    value += text.slice(i, dollar);
    if (text.startsWith('$${', dollar)) {
      value += '${';
      i = dollar + 3;
      continue;
    }
    if (text.charAt(dollar + 1) !== '{') {
      value += '$';
      i = dollar + 1;
      continue;
    }
    const close = text.indexOf('}', dollar + 2);
    const match = close < 0 ? null : REFERENCE.exec(text.slice(dollar + 2, close));
    if (match === null) {
      malformed.push(close < 0 ? text.slice(dollar) : text.slice(dollar, close + 1));
      value += close < 0 ? text.slice(dollar) : text.slice(dollar, close + 1);
      i = close < 0 ? text.length : close + 1;
      continue;
    }
    const [, name = '', fallback] = match;
    variables.push(name);
    const set = env[name];
    if (fallback !== undefined) value += set === undefined || set === '' ? fallback : set;
    else if (set !== undefined) value += set;
    else missing.push(name);
    i = close + 1;
  }
  return { value, variables, missing, malformed };
}
