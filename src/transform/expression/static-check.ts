import { BUILTIN_FUNCTIONS } from './builtin-functions.js';
import type { ExpressionNode } from './expression-node.js';
import { parseSqlType } from './sql-type.js';

/** A problem found without knowing the row's columns, at `offset` into the expression text. */
export interface StaticProblem {
  readonly offset: number;
  readonly message: string;
  readonly hint?: string;
}

/**
 * What can be checked before the tables are known: every function exists (built in, or among
 * `userFunctions`, upper-case) and gets a number of arguments it takes; every CAST names a type. Column
 * names and types are checked when the expression is compiled against a table (validate, and each schema
 * change while running).
 */
export function staticProblems(node: ExpressionNode, userFunctions: ReadonlySet<string> = new Set()): StaticProblem[] {
  const problems: StaticProblem[] = [];
  const visit = (n: ExpressionNode): void => {
    switch (n.kind) {
      case 'call': {
        const name = n.name.toUpperCase();
        const def = BUILTIN_FUNCTIONS.get(name);
        if (def === undefined && !userFunctions.has(name)) {
          const near = nearest(name, [...BUILTIN_FUNCTIONS.keys(), ...userFunctions]);
          problems.push({
            offset: n.start,
            message: `unknown function ${n.name}`,
            hint:
              near !== undefined
                ? `did you mean ${near}?`
                : 'see the functions in docs/pipeline-file.md#functions, or declare it under pipeline.user-defined-function',
          });
        } else if (def !== undefined && (n.args.length < def.min || n.args.length > def.max)) {
          problems.push({
            offset: n.start,
            message: `${name} does not take ${n.args.length} argument${n.args.length === 1 ? '' : 's'}`,
            hint: `write ${def.signature}`,
          });
        }
        const words = def?.words ?? [];
        n.args.forEach((a, i) => {
          if (!words.includes(i)) visit(a);
        });
        return;
      }
      case 'cast': {
        const type = parseSqlType(n.type);
        if (typeof type === 'string')
          problems.push({
            offset: n.start,
            message: type,
            hint: 'write a type such as INT, BIGINT, DECIMAL(10, 2), STRING, TIMESTAMP(3)',
          });
        visit(n.operand);
        return;
      }
      case 'unary':
      case 'isNull':
      case 'isTruth':
        visit(n.operand);
        return;
      case 'binary':
        visit(n.left);
        visit(n.right);
        return;
      case 'between':
        visit(n.operand);
        visit(n.low);
        visit(n.high);
        return;
      case 'in':
        visit(n.operand);
        n.list.forEach(visit);
        return;
      case 'inQuery':
        visit(n.operand);
        return;
      case 'interval':
      case 'exists':
      case 'scalarQuery':
        return;
      case 'case':
        if (n.operand !== undefined) visit(n.operand);
        for (const w of n.whens) {
          visit(w.when);
          visit(w.then);
        }
        if (n.else !== undefined) visit(n.else);
        return;
      case 'star':
      case 'column':
      case 'literal':
        return;
    }
  };
  visit(node);
  return problems;
}

/** The candidate nearest to `name` by edit distance (ignoring case), when it is close enough. */
export function nearest(name: string, candidates: readonly string[]): string | undefined {
  const word = name.toLowerCase();
  let best: string | undefined;
  let bestDistance = word.length <= 4 ? 1 : 2;
  for (const candidate of candidates) {
    const d = distance(word, candidate.toLowerCase());
    if (d <= bestDistance && (best === undefined || d < bestDistance)) {
      best = candidate;
      bestDistance = d;
    }
  }
  return best;
}

function distance(a: string, b: string): number {
  const row = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    let prev = row[0]!;
    row[0] = i;
    for (let j = 1; j <= b.length; j++) {
      const tmp = row[j]!;
      row[j] = Math.min(row[j]! + 1, row[j - 1]! + 1, prev + (a.charAt(i - 1) === b.charAt(j - 1) ? 0 : 1));
      prev = tmp;
    }
  }
  return row[b.length]!;
}
