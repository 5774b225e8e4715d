import { isAlias, isMap, isScalar, isSeq, type Document, type LineCounter, type Node, type Scalar } from 'yaml';
import type { ErrorCode } from '../core/errors.js';
import type { IgnoredOption } from '../core/option-spec.js';
import type { ConfigProblem } from './config-error.js';
import { interpolateEnv, type Env } from './env-interpolation.js';

/** A key of a YAML mapping with its value node and where it is. */
export interface Entry {
  readonly key: string;
  /** `source.port`, `transform[0].projection`. */
  readonly path: string;
  readonly keyNode: Scalar;
  /** Aliases resolved; null for a key without a value node. */
  readonly value: Node | null;
}

/** A scalar value after `${VAR}` substitution. */
export interface ScalarText {
  readonly text: string;
  /** Part of it came from the environment: it must not be echoed in messages. */
  readonly fromEnv: boolean;
  readonly node: Scalar;
}

/**
 * Walks one parsed pipeline file, collecting problems instead of stopping at the first, so that the user
 * sees every mistake in one run. Positions come from the YAML nodes.
 */
export class ConfigReader {
  readonly problems: ConfigProblem[] = [];
  /** Flink CDC options that were accepted and have no effect here, one per option (a family once). */
  readonly ignored: IgnoredOption[] = [];

  constructor(
    readonly file: string,
    private readonly text: string,
    private readonly doc: Document,
    private readonly lines: LineCounter,
    readonly env: Env,
  ) {}

  /** `file:line:column` of an offset into the file, for messages given after loading (validate). */
  place(offset: number): string {
    const { line, col } = this.lines.linePos(offset);
    return `${this.file}:${line}:${col}`;
  }

  /** Records a problem at a node (its start) or at an offset into the file. */
  report(
    at: Node | number | null | undefined,
    path: string,
    message: string,
    code: ErrorCode = 'CONFIG_INVALID',
  ): void {
    const offset = typeof at === 'number' ? at : (at?.range?.[0] ?? 0);
    const { line, col } = this.lines.linePos(offset);
    this.problems.push({ file: this.file, line, column: col, path, message, code });
  }

  /** The entries of a mapping, reporting duplicate and non-scalar keys; undefined (reported) if `node` is not one. */
  entries(node: Node | null, path: string, expected: string): Entry[] | undefined {
    const resolved = this.resolve(node);
    if (isEmpty(resolved)) return [];
    if (!isMap(resolved)) {
      this.report(node, path, `expected ${expected}, found ${describeNode(resolved)}`);
      return undefined;
    }
    const entries: Entry[] = [];
    const seen = new Map<string, Scalar>();
    for (const pair of resolved.items) {
      const keyNode = pair.key as Node | null;
      if (!isScalar(keyNode) || typeof keyNode.value !== 'string') {
        this.report(keyNode ?? resolved, path, 'expected a plain key (`name: value`)');
        continue;
      }
      const key = keyNode.value;
      const entryPath = path === '' ? key : `${path}.${key}`;
      const first = seen.get(key);
      if (first !== undefined) {
        const line = this.lines.linePos(first.range?.[0] ?? 0).line;
        this.report(keyNode, entryPath, `duplicate key — "${key}" is already set at line ${line}; keep one of them`);
        continue;
      }
      seen.set(key, keyNode);
      entries.push({ key, path: entryPath, keyNode, value: this.resolve(pair.value as Node | null) });
    }
    return entries;
  }

  /** The items of a sequence; undefined (reported) if `node` is not one. */
  items(node: Node | null, path: string, example: string): (Node | null)[] | undefined {
    const resolved = this.resolve(node);
    if (isEmpty(resolved)) return [];
    if (!isSeq(resolved)) {
      this.report(
        node,
        path,
        `expected a list, found ${describeNode(resolved)} — write each rule as a list item: ${example}`,
      );
      return undefined;
    }
    return resolved.items.map((item) => this.resolve(item as Node | null));
  }

  /**
   * The value of an entry as text with `${VAR}` substituted: null when it is empty (`key:` with nothing
   * after it), undefined when it is not a single value or a variable is missing (both reported).
   */
  scalar(entry: Entry): ScalarText | null | undefined {
    const node = entry.value;
    if (node === null) return null;
    if (!isScalar(node)) {
      const flat = isMap(node) ? ` — write options as flat dotted keys, e.g. \`${entry.key}.something: value\`` : '';
      this.report(node, entry.path, `expected a single value, found ${describeNode(node)}${flat}`);
      return undefined;
    }
    const raw = typeof node.value === 'string' ? node.value : String(node.value);
    if (raw === '' && node.type === 'PLAIN') return null;
    const result = interpolateEnv(raw, this.env);
    for (const name of result.missing) {
      this.report(
        node,
        entry.path,
        `environment variable ${name} is not set — set it, or write \${${name}:-default} to give a default`,
        'CONFIG_ENV_MISSING',
      );
    }
    for (const bad of result.malformed) {
      this.report(node, entry.path, `"${bad}" is not a variable reference — write \${NAME}, or $\${ for a literal \${`);
    }
    if (result.missing.length > 0 || result.malformed.length > 0) return undefined;
    return { text: result.value, fromEnv: result.variables.length > 0, node };
  }

  /**
   * The file offset of character `offset` of a scalar's value, when the value is written on one line
   * exactly as it reads (plain or single-quoted without escapes); else the scalar's start.
   */
  offsetIn(value: ScalarText, offset: number): number {
    const [start = 0, end = 0] = value.node.range ?? [];
    const source = this.text.slice(start, end);
    if (source.includes('\n') || value.fromEnv) return start;
    if (value.node.type === 'PLAIN' && source === value.text) return start + offset;
    if (value.node.type === 'QUOTE_SINGLE' && source === `'${value.text}'`) return start + 1 + offset;
    return start;
  }

  private resolve(node: Node | null | undefined): Node | null {
    if (node === null || node === undefined) return null;
    if (isAlias(node)) return (node.resolve(this.doc) as Node | undefined) ?? null;
    return node;
  }
}

/** `key:` with nothing after it. */
function isEmpty(node: Node | null): boolean {
  return node === null || (isScalar(node) && node.type === 'PLAIN' && node.value === '');
}

function describeNode(node: Node | null): string {
  if (node === null) return 'nothing';
  if (isMap(node)) return 'a mapping';
  if (isSeq(node)) return 'a list';
  return 'a single value';
}
