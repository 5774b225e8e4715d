import type { ExpressionNode, ProjectionItem } from './expression/expression-node.js';
import { parseProjectionItems } from './expression/parser.js';

/** A parsed `projection:` — the list of output columns of a transform rule, in output order. */
export interface Projection {
  /** The projection as written (after `${VAR}` substitution). */
  readonly text: string;
  readonly items: readonly ProjectionItem[];
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
 * What this release can evaluate: `*`, plain columns, metadata columns (each optionally `AS alias`), and
 * string / number / boolean constants that are named with `AS`. Anything else parses but is reported here,
 * as are two items that produce the same column name. `*` may produce duplicates only once the source
 * columns are known; the operator checks that.
 */
export function checkProjection(projection: Projection): ProjectionProblem[] {
  const problems: ProjectionProblem[] = [];
  const names = new Map<string, number>();
  for (const item of projection.items) {
    const expr = item.kind === 'alias' ? item.expr : item;
    const source = projection.text.slice(item.start, item.end);
    if (!isSupported(expr)) {
      problems.push({
        offset: item.start,
        message: `expressions beyond columns and metadata are not supported yet (projection \`${source}\`)`,
        hint: 'keep to *, column names, metadata columns (__schema_name__, __table_name__, …) and named constants',
      });
      continue;
    }
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
    const name = projectionItemName(item);
    if (name === undefined) {
      problems.push({
        offset: item.start,
        message: `the constant \`${source}\` needs a column name`,
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

/** The output column name of an item: its alias, else the column's name; undefined for `*` and constants. */
export function projectionItemName(item: ProjectionItem): string | undefined {
  if (item.kind === 'alias') return item.name;
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

function isSupported(expr: ExpressionNode): boolean {
  switch (expr.kind) {
    case 'star':
    case 'column':
      return true;
    case 'literal':
      return expr.type !== 'null';
    case 'unary':
      return expr.op === '-' && expr.operand.kind === 'literal' && expr.operand.type === 'number';
    default:
      return false;
  }
}
