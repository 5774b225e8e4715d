import { readFileSync } from 'node:fs';
import { isMap, isScalar, type Node } from 'yaml';
import { optionKeyMatches, type IgnoredOption, type OptionSpec, type OptionValues } from '../core/option-spec.js';
import type { ConfigReader, Entry, ScalarText } from './config-reader.js';
import { didYouMean } from './did-you-mean.js';
import { parseDuration } from '../core/duration.js';
import { checkTableSelector } from '../core/table-selector.js';

/** The block that options belong to, for messages. */
export interface OptionBlock {
  /** `source`, `sink`, `pipeline`. */
  readonly path: string;
  /** The block's key node: where "missing required option" is reported. */
  readonly at: Node | null;
  /** `the mysql source`, `the pipeline`. */
  readonly owner: string;
}

/**
 * Validates a block's entries against its OptionSpecs, reporting every unknown key (with a suggestion),
 * wrong value and missing required option. Returns the typed values with defaults filled in; an option with
 * a problem is left out. Secret values never appear in a message.
 */
export function readOptions(
  reader: ConfigReader,
  entries: readonly Entry[],
  specs: readonly OptionSpec[],
  block: OptionBlock,
): Record<string, string | number | boolean> {
  const values: Record<string, string | number | boolean> = {};
  const byKey = new Map(specs.map((s) => [s.key, s]));
  const written = new Set<string>();
  const ignored = new Map<string, IgnoredOption & { written: string[] }>();
  for (const entry of entries) {
    const secretOfFile = secretFileSpec(entry.key, byKey);
    if (secretOfFile !== undefined) {
      if (written.has(secretOfFile.key) || entries.some((e) => e.key === secretOfFile.key)) {
        reader.report(entry.keyNode, entry.path, `give either \`${secretOfFile.key}\` or \`${entry.key}\`, not both`);
        continue;
      }
      written.add(secretOfFile.key);
      const scalar = reader.scalar(entry);
      if (scalar === undefined || scalar === null) continue;
      const secret = readSecretFile(scalar.text.trim());
      if ('problem' in secret) reader.report(scalar.node, entry.path, secret.problem);
      else values[secretOfFile.key] = secret.value;
      continue;
    }
    const spec = byKey.get(entry.key) ?? specs.find((s) => optionKeyMatches(s, entry.key));
    if (spec === undefined) {
      reader.report(entry.keyNode, entry.path, unknownOption(entry, specs, block.owner));
      continue;
    }
    written.add(spec.key);
    if (spec.ignored !== undefined) {
      const seen = ignored.get(spec.key);
      if (seen === undefined) {
        ignored.set(spec.key, { block: block.path, key: spec.key, written: [entry.key], reason: spec.ignored });
      } else seen.written.push(entry.key);
    }
    const scalar = reader.scalar(entry);
    if (scalar === undefined) continue;
    if (scalar === null) {
      if (spec.required)
        reader.report(entry.keyNode, entry.path, `needs a value — write \`${entry.key}: ${example(spec)}\``);
      continue;
    }
    const result = coerceOption(spec, scalar.text, describeValue(spec, scalar));
    if ('problem' in result) reader.report(scalar.node, entry.path, result.problem);
    else if (spec.ignored === undefined) values[entry.key] = result.value;
  }
  reader.ignored.push(...ignored.values());
  for (const spec of specs) {
    if (written.has(spec.key) || spec.ignored !== undefined) continue;
    if (spec.required) {
      const path = `${block.path}.${spec.key}`;
      reader.report(
        block.at,
        path,
        `missing required option — add \`${spec.key}: ${example(spec)}\` under ${block.path}:`,
      );
    } else if (spec.default !== undefined) {
      const result = coerceOption(spec, String(spec.default), `"${String(spec.default)}"`);
      if ('value' in result) values[spec.key] = result.value;
    }
  }
  return values;
}

/**
 * `password-file` for the secret option `password` (any secret option `x` takes `x-file`): the spec of the
 * secret, or undefined when `key` is not such a key.
 */
function secretFileSpec(key: string, byKey: ReadonlyMap<string, OptionSpec>): OptionSpec | undefined {
  if (!key.endsWith('-file') || byKey.has(key)) return undefined;
  const spec = byKey.get(key.slice(0, -'-file'.length));
  return spec?.type === 'secret' ? spec : undefined;
}

/**
 * Reads a secret from a file, as Docker and Kubernetes mount them (`/run/secrets/…`): its text, without one
 * trailing newline (`echo pw > file` writes one). The message names the path, never the content.
 */
export function readSecretFile(path: string): { value: string } | { problem: string } {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (error) {
    const code = (error as { code?: string }).code ?? 'unreadable';
    return {
      problem: `cannot read the secret file ${JSON.stringify(path)} (${code}) — write the path of a file this process may read`,
    };
  }
  return { value: text.replace(/\r?\n$/, '') };
}

/**
 * Converts the text of one option to its type. `shown` is how the value may be quoted in a message (never
 * the value itself for a secret or for text from the environment).
 */
export function coerceOption(
  spec: OptionSpec,
  text: string,
  shown: string,
): { value: string | number | boolean } | { problem: string } {
  const value = text.trim();
  switch (spec.type) {
    case 'string':
      if (spec.pattern && !spec.pattern.regex.test(text)) {
        return { problem: `expected ${spec.pattern.description}, got ${shown}` };
      }
      {
        const problem = spec.check?.(text);
        if (problem !== undefined) return { problem };
      }
      return { value: text };
    case 'secret':
      return { value: text };
    case 'integer': {
      if (!/^[+-]?\d+$/.test(value) || !Number.isSafeInteger(Number(value))) {
        return {
          problem: `expected an integer, got ${shown} — write a whole number, e.g. \`${spec.key}: ${example(spec)}\``,
        };
      }
      const number = Number(value);
      if (spec.min !== undefined && number < spec.min) {
        return {
          problem: `must be at least ${spec.min}, got ${shown} — e.g. \`${spec.key}: ${Math.max(spec.min, Number(example(spec)))}\``,
        };
      }
      return { value: number };
    }
    case 'boolean': {
      const lower = value.toLowerCase();
      if (lower !== 'true' && lower !== 'false') {
        return {
          problem: `expected true or false, got ${shown} — write \`${spec.key}: true\` or \`${spec.key}: false\``,
        };
      }
      return { value: lower === 'true' };
    }
    case 'duration': {
      const ms = parseDuration(value);
      if (ms === undefined) {
        return {
          problem: `expected a duration, got ${shown} — write e.g. 500ms, 3s, 1min or 1h (a bare number is milliseconds)`,
        };
      }
      return { value: ms };
    }
    case 'enum': {
      const allowed = spec.values ?? [];
      const found = allowed.find((v) => v.toLowerCase() === value.toLowerCase());
      if (found !== undefined) return { value: found };
      const near = didYouMean(value, allowed);
      const suggestion = near === undefined ? '' : ` — did you mean "${near}"?`;
      return { problem: `${shown} is not one of ${allowed.join(', ')}${suggestion}` };
    }
    case 'table-patterns': {
      const result = checkTableSelector(value);
      if ('selector' in result) return { value };
      return { problem: result.problems.join('; ') };
    }
  }
}

/** A copy of `values` in which every secret option reads `***`, for printing a configuration. */
export function redactOptions(values: OptionValues, specs: readonly OptionSpec[]): OptionValues {
  const secret = new Set(specs.filter((s) => s.type === 'secret').map((s) => s.key));
  return Object.fromEntries(Object.entries(values).map(([k, v]) => [k, secret.has(k) && v !== undefined ? '***' : v]));
}

function unknownOption(entry: Entry, specs: readonly OptionSpec[], owner: string): string {
  const key = entry.key;
  const keys = specs.map((s) => s.key);
  const nested = isMap(entry.value) ? entry.value.items[0]?.key : undefined;
  if (isScalar(nested) && keys.some((k) => k.startsWith(`${key}.`))) {
    return `unknown option — options are flat dotted keys: write \`${key}.${String(nested.value)}: …\` instead of nesting under \`${key}:\``;
  }
  const near = didYouMean(key, keys);
  if (near !== undefined) return `unknown option — did you mean "${near}"?`;
  // The list names what the block does; the options accepted only for Flink CDC compatibility are left out.
  const listed = specs.filter((s) => s.ignored === undefined).map((s) => s.key);
  return listed.length === 0
    ? `unknown option — ${owner} takes no options`
    : `unknown option of ${owner} — its options are ${listed.join(', ')}`;
}

function describeValue(spec: OptionSpec, value: ScalarText): string {
  if (spec.type === 'secret') return 'a value';
  if (value.fromEnv) return 'a value from the environment';
  return `"${value.text}"`;
}

function example(spec: OptionSpec): string {
  if (spec.default !== undefined) return String(spec.default);
  switch (spec.type) {
    case 'integer':
      return '1';
    case 'boolean':
      return 'true';
    case 'duration':
      return '3s';
    case 'enum':
      return spec.values?.[0] ?? '…';
    case 'table-patterns':
      return 'mydb.\\.*';
    case 'secret':
      return '${PASSWORD}';
    default:
      return '…';
  }
}
