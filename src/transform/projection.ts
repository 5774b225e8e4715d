import type { ExpressionNode, ProjectionItem } from './expression/expression-node.js';
import { parseProjectionItems } from './expression/parser.js';
import { staticProblems } from './expression/static-check.js';

/** A parsed `projection:` — the list of output columns of a transform rule, in output order. */
export interface Projection {
  /** The projection as written (after `${VAR}` substitution). */
  readonly text: string;
  readonly items: readonly ProjectionItem[];
  /** When set, turns an offset into `text` into a place in the pipeline file (`file:line:column`). */
  readonly locate?: (offset: number) => string;
}

/** Parses a projection (`\*` and `*` both mean all columns). Throws ExpressionError with a caret. */
export function parseProjection(text: string): Projection {
  return { text, items: parseProjectionItems(text) };
}

/** A problem in a parsed projection, at `offset` into its text. */
export interface ProjectionProblem {
  readonly offset: number;
  readonly message: string;
  readonly hint?: string;
}

/**
 * What can be checked before the tables are known: unknown functions and wrong argument counts (see
 * static-check.ts), a computed item without a name, two items that produce the same column name, qualified
 * names. `*` may produce duplicates only once the source columns are known; the operator checks that, and
 * compiles each item against the table's columns (types) then.
 */
export function checkProjection(projection: Projection, userFunctions?: ReadonlySet<string>): ProjectionProblem[] {
  const problems: ProjectionProblem[] = [];
  const names = new Map<string, number>();
  for (const item of projection.items) {
    const expr = item.kind === 'alias' ? item.expr : item;
    const source = projection.text.slice(item.start, item.end);
    if (expr.kind === 'star') {
      if (expr.qualifier !== undefined) {
        problems.push({
          offset: expr.start,
          message: `a qualified star is not supported (\`${source}\`)`,
          hint: 'write \\*',
        });
      } else if (item.kind === 'alias') {
        problems.push({
          offset: item.start,
          message: `* cannot be renamed (\`${source}\`)`,
          hint: 'remove the AS after *',
        });
      }
      continue;
    }
    if (expr.kind === 'column' && expr.qualifier !== undefined) {
      problems.push({
        offset: expr.start,
        message: `qualified column names are not supported (\`${source}\`)`,
        hint: `write \`${expr.name}\` without \`${expr.qualifier}.\``,
      });
      continue;
    }
    const found = staticProblems(expr, userFunctions);
    problems.push(...found);
    if (found.length > 0) continue;
    const name = projectionItemName(item);
    if (name === undefined) {
      problems.push({
        offset: item.start,
        message: `the ${isConstant(expr) ? 'constant' : 'expression'} \`${source}\` needs a column name`,
        hint: `write \`${source} AS some_name\``,
      });
      continue;
    }
    const first = names.get(name);
    if (first !== undefined) {
      problems.push({
        offset: item.start,
        message: `the column name "${name}" is produced twice (also at column ${first + 1})`,
        hint: 'rename one of them with AS',
      });
    } else {
      names.set(name, item.start);
    }
  }
  return problems;
}

/**
 * The output column name of an item: its alias, else the column's name (a niladic function written bare,
 * such as `LOCALTIMESTAMP`, is named after itself, as in Flink); undefined for `*` and unnamed expressions.
 */
export function projectionItemName(item: ProjectionItem): string | undefined {
  if (item.kind === 'alias') return item.name;
  if (item.kind === 'call' && item.args.length === 0 && item.end - item.start === item.name.length) return item.name;
  return item.kind === 'column' ? item.name : undefined;
}

/**
 * The output column names when they do not depend on the source (no `*`), else undefined. Lets the loader
 * check `primary-keys` before anything runs.
 */
export function staticOutputColumns(projection: Projection): string[] | undefined {
  const names: string[] = [];
  for (const item of projection.items) {
    if (item.kind === 'star') return undefined;
    const name = projectionItemName(item);
    if (name !== undefined) names.push(name);
  }
  return names;
}

function isConstant(expr: ExpressionNode): boolean {
  return expr.kind === 'literal' || (expr.kind === 'unary' && expr.operand.kind === 'literal');
}
