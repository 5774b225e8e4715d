import { TributaryError } from './errors.js';

/**
 * What selects tables: a connector's `tables`, a transform's or a route's `source-table`. The config loader's
 * `TableSelector` implements it; a library user can write one in code.
 */
export interface TableMatcher {
  /** The selector as written, for messages. */
  readonly source: string;
  /** Whether the table `namespace.name` (MySQL: `database.table`) is selected. */
  matches(namespace: string, name: string): boolean;
  /**
   * The capturing groups of the first pattern that selects the table, numbered as in the pattern as written
   * (the database part's first, then the table part's), for a route's `$1`, `$2`; undefined when none selects
   * it. A group that took part in no match is ''.
   */
  captures?(namespace: string, name: string): readonly string[] | undefined;
}

/** One compiled `database.table` pattern; both regular expressions are anchored (a full match is needed). */
export interface TablePattern {
  readonly source: string;
  readonly database: RegExp;
  readonly table: RegExp;
}

/**
 * Table selection as Flink CDC writes it: comma-separated regular expressions on `database.table`. Each
 * pattern is split at its first unescaped `.` into a database and a table expression; inside them `\.` is
 * the regular-expression `.` (any character), so `tpc_ds.\.*` selects every table of `tpc_ds`. A literal
 * dot in a name cannot be written (as in Flink CDC). Matching is case-sensitive.
 */
export interface TableSelector extends TableMatcher {
  /** The selector as written. */
  readonly source: string;
  readonly patterns: readonly TablePattern[];
}

/** Compiles a selector, or lists every pattern that does not compile, each with what to write instead. */
export function checkTableSelector(text: string): { selector: TableSelector; problems: [] } | { problems: string[] } {
  const patterns: TablePattern[] = [];
  const problems: string[] = [];
  const parts = splitTablePatterns(text);
  if (parts.every((p) => p === '')) return { problems: ['no table pattern — write database.table, e.g. mydb.orders'] };
  for (const part of parts) {
    const result = compileTablePattern(part);
    if (typeof result === 'string') problems.push(result);
    else patterns.push(result);
  }
  if (problems.length > 0) return { problems };
  return {
    selector: {
      source: text,
      patterns,
      matches: (database, table) => patterns.some((p) => p.database.test(database) && p.table.test(table)),
      captures: (database, table) => {
        for (const p of patterns) {
          const d = p.database.exec(database);
          const t = d === null ? null : p.table.exec(table);
          if (d !== null && t !== null) return [...d.slice(1), ...t.slice(1)].map((g) => g ?? '');
        }
        return undefined;
      },
    },
    problems: [],
  };
}

/** How many capturing groups the pattern with the most has (`db_(\d+).tbl_(\d+)`: 2). */
export function captureGroupCount(selector: TableSelector): number {
  return Math.max(
    0,
    ...selector.patterns.map(
      (p) =>
        (new RegExp(`${p.database.source}|`).exec('')?.length ?? 1) -
        1 +
        (new RegExp(`${p.table.source}|`).exec('')?.length ?? 1) -
        1,
    ),
  );
}

/** Compiles a selector; throws TributaryError CONFIG_INVALID naming each pattern that does not compile. */
export function parseTableSelector(text: string): TableSelector {
  const result = checkTableSelector(text);
  if ('selector' in result) return result.selector;
  throw new TributaryError('CONFIG_INVALID', `table selector "${text}": ${result.problems.join('; ')}`);
}

/**
 * One selector per comma-separated pattern (each with `source` = that pattern), for connectors that report
 * which pattern matched nothing. Empty text gives none. Throws TributaryError CONFIG_INVALID like
 * {@link parseTableSelector}.
 */
export function parseTableSelectors(text: string): TableSelector[] {
  if (text.trim() === '') return [];
  return splitTablePatterns(text).map((pattern) => parseTableSelector(pattern));
}

/**
 * Splits at commas that are not inside a `{m,n}` quantifier (so `user[0-9]{1,3}` stays whole), trimming
 * each pattern, as Flink CDC does. A backslash escapes the next character.
 */
export function splitTablePatterns(text: string): string[] {
  const parts: string[] = [];
  let depth = 0;
  let start = 0;
  for (let i = 0; i < text.length; i++) {
    const c = text.charAt(i);
    if (c === '\\') i++;
    else if (c === '{') depth++;
    else if (c === '}' && depth > 0) depth--;
    else if (c === ',' && depth === 0) {
      parts.push(text.slice(start, i).trim());
      start = i + 1;
    }
  }
  parts.push(text.slice(start).trim());
  return parts;
}

/** One pattern → anchored database and table expressions, or a message saying what is wrong and what to write. */
export function compileTablePattern(pattern: string): TablePattern | string {
  if (pattern === '') return 'an empty table pattern (two commas in a row, or a comma at the end) — remove it';
  const dot = firstUnescapedDot(pattern);
  if (dot < 0) {
    return `table pattern "${pattern}" has no database part — write database.table, e.g. mydb.${pattern} (\\. means any character)`;
  }
  const parts = [
    ['database', pattern.slice(0, dot)],
    ['table', pattern.slice(dot + 1)],
  ] as const;
  const compiled: RegExp[] = [];
  for (const [what, text] of parts) {
    if (text === '')
      return `table pattern "${pattern}" has an empty ${what} part — write database.table, e.g. mydb.\\.*`;
    try {
      compiled.push(new RegExp(`^(?:${unescapeDots(text)})$`));
    } catch (error) {
      const reason =
        error instanceof Error ? error.message.replace(/^Invalid regular expression: \/.*\/[a-z]*: /s, '') : '';
      return `table pattern "${pattern}": the ${what} part "${text}" is not a valid regular expression (${reason}) — fix the pattern`;
    }
  }
  const [database, table] = compiled as [RegExp, RegExp];
  return { source: pattern, database, table };
}

function firstUnescapedDot(pattern: string): number {
  for (let i = 0; i < pattern.length; i++) {
    const c = pattern.charAt(i);
    if (c === '\\') i++;
    else if (c === '.') return i;
  }
  return -1;
}

/** `\.` → `.`; other escapes (`\\`, `\d`, …) are kept for the regular expression. */
function unescapeDots(text: string): string {
  let out = '';
  for (let i = 0; i < text.length; i++) {
    const c = text.charAt(i);
    if (c === '\\' && text.charAt(i + 1) === '.') {
      out += '.';
      i++;
    } else if (c === '\\') {
      out += c + text.charAt(i + 1);
      i++;
    } else {
      out += c;
    }
  }
  return out;
}
