import { familyOf } from '../transform/expression/sql-type.js';
import type { ColumnNode, ExpressionNode } from '../transform/expression/expression-node.js';
import { AGGREGATE_FUNCTIONS } from './exec/aggregates.js';
import { andOf, childrenOf, columnsOf, conjuncts, mapChildren } from './expression-walk.js';
import type { CreateTableStatement, FromItem, SelectItem, SelectQuery } from './sql-ast.js';

/**
 * Eager aggregation ("group-by before join", Yan & Larson): a grouped query over inner joins whose aggregates read
 * one table only, and that table only by its join keys elsewhere, is computed as the same query over that table
 * pre-aggregated by its join keys —
 *
 *   SELECT c.id, COUNT(o.id) FROM c JOIN s ON … JOIN o ON o.site = s.id GROUP BY c.id
 *   → SELECT c.id, SUM0(o.n) FROM c JOIN s ON … JOIN (SELECT site, COUNT(o.id) AS n FROM o GROUP BY site) o ON
 *     o.site = s.id GROUP BY c.id
 *
 * Each joined row of the other tables then meets one pre-aggregated row per key instead of every row of the key: a
 * site that moves to another customer retracts and adds one row, not one per order, and the join keeps a count per
 * site instead of every order. The result is the same: COUNT becomes the sum of the partial counts (SUM0: 0, never
 * NULL, as COUNT), SUM the sum of partial sums, MIN and MAX those of the partial ones; a group of the query exists
 * exactly when a joined row does, and a partial row exists exactly when its key has rows. Not done (the query is
 * planned as written) for AVG, DISTINCT aggregates, SUM over approximate numbers (a different order of additions
 * would change the result's last digits), outer joins on the table's path, subqueries, GROUP BY expressions, or a
 * table joined by its primary key (one row per key: nothing to pre-aggregate).
 */

/** What the rewrite needs of the planner. */
export interface EagerContext {
  /** The catalog table a FROM item names (undefined: a view or a common table, planned as written). */
  table(item: Extract<FromItem, { kind: 'table' }>): CreateTableStatement | undefined;
  /** A node's text as written (to see an aggregate written twice as one). */
  source(node: ExpressionNode): string;
  /** The name of the column of a pre-aggregated value (`text`: its aggregate as written), which no user's column has. */
  internalName(text: string): string;
}

/** The aggregate that combines the partial results of each function. */
const COMBINE: Readonly<Record<string, string>> = { COUNT: '$SUM0', SUM: 'SUM', MIN: 'MIN', MAX: 'MAX' };

type Call = Extract<ExpressionNode, { kind: 'call' }>;
type TableItem = Extract<FromItem, { kind: 'table' }>;

/** The query with one table pre-aggregated by its join keys, or undefined where that does not apply (see above). */
export function eagerAggregation(query: SelectQuery, ctx: EagerContext): SelectQuery | undefined {
  if (query.groupBy.length === 0 || query.groupBy.some((g) => g.kind !== 'column')) return undefined;
  if (query.items.some((item) => item.kind !== 'expr')) return undefined;
  const expressions = [
    ...query.items.map((item) => (item as Extract<SelectItem, { kind: 'expr' }>).expr),
    ...(query.having === undefined ? [] : [query.having]),
  ];
  const calls = expressions.flatMap(aggregateCalls);
  if (calls.length === 0 || calls.some((c) => c.distinct === true || COMBINE[c.name.toUpperCase()] === undefined)) {
    return undefined;
  }
  const leaves: { item: TableItem; path: FromItem[] }[] = [];
  innerLeaves(query.from, [], leaves);
  const everything = [...expressions, ...(query.where === undefined ? [] : [query.where]), ...query.groupBy];
  if (everything.some(hasSubquery) || leaves.some((l) => l.path.some((j) => j.kind === 'join' && hasSubquery(j.on)))) {
    return undefined;
  }
  // The rightmost table that qualifies: the last joined, usually the largest (the orders of their customers).
  for (const leaf of [...leaves].reverse()) {
    const rewritten = preAggregate(
      query,
      leaf.item,
      leaf.path,
      calls,
      ctx,
      declaredElsewhere(query.from, leaf.item, ctx),
    );
    if (rewritten !== undefined) return rewritten;
  }
  return undefined;
}

function preAggregate(
  query: SelectQuery,
  leaf: TableItem,
  path: readonly FromItem[],
  calls: readonly Call[],
  ctx: EagerContext,
  /** Whether a column name is declared by another relation of FROM (undefined: some relation's columns are unknown). */
  elsewhere: ((name: string) => boolean) | undefined,
): SelectQuery | undefined {
  const table = ctx.table(leaf);
  if (table === undefined) return undefined;
  const alias = leaf.alias.toLowerCase();
  /** The table's column a reference names (its declared name), or undefined for another table's. */
  const own = (column: ColumnNode): string | undefined => {
    if (column.qualifier !== undefined && column.qualifier.toLowerCase() !== alias) return undefined;
    return table.columns.find((c) => c.name.toLowerCase() === column.name.toLowerCase())?.name;
  };
  const reads = (node: ExpressionNode) => columnsOf(node).map(own);
  // Every aggregate reads this table alone; SUM a plain column of an exact type.
  for (const call of calls) {
    if (reads(call).some((name) => name === undefined)) return undefined;
    if (call.name.toUpperCase() === 'SUM') {
      const arg = call.args[0];
      const name = arg?.kind === 'column' ? own(arg) : undefined;
      const type = table.columns.find((c) => c.name === name)?.type;
      if (type === undefined || !['integer', 'decimal'].includes(familyOf(type))) return undefined;
    }
  }
  // The join keys: the table's columns in ON equalities with the other tables' columns.
  /** Each key column by its declared name, as first written in an ON equality (for EXPLAIN's text). */
  const keys = new Map<string, ColumnNode>();
  for (const join of path) {
    if (join.kind !== 'join') continue;
    for (const term of conjuncts(join.on)) {
      const mine = reads(term).filter((name) => name !== undefined);
      if (mine.length === 0) continue;
      if (term.kind !== 'binary' || term.op !== '=') return undefined;
      const [side, other] = ownColumnOf(term.left) ? [term.left, term.right] : [term.right, term.left];
      if (!ownColumnOf(side) || reads(other).some((name) => name !== undefined)) return undefined;
      const name = own(side as ColumnNode)!;
      if (!keys.has(name)) keys.set(name, side as ColumnNode);
    }
  }
  function ownColumnOf(node: ExpressionNode): boolean {
    return node.kind === 'column' && own(node) !== undefined;
  }
  if (keys.size === 0) return undefined;
  if (
    table.primaryKey.length > 0 &&
    table.primaryKey.every((k) => [...keys.keys()].some((n) => n.toLowerCase() === k.toLowerCase()))
  ) {
    return undefined; // one row per key
  }
  // WHERE: the terms on this table alone filter its rows before they are aggregated; the others read only its keys.
  const pushed: ExpressionNode[] = [];
  const kept: ExpressionNode[] = [];
  for (const term of query.where === undefined ? [] : conjuncts(query.where)) {
    const names = reads(term);
    if (names.length > 0 && names.every((n) => n !== undefined)) pushed.push(term);
    else kept.push(term);
  }
  // What moves into the pre-aggregation is resolved there, where only this table is: a name it shares with another
  // table, unqualified, is ambiguous as written and must stay so.
  for (const column of [...calls, ...pushed].flatMap(columnsOf)) {
    if (column.qualifier === undefined && (elsewhere === undefined || elsewhere(column.name))) return undefined;
  }
  const outside = [
    ...query.items.map((item) => (item as Extract<SelectItem, { kind: 'expr' }>).expr),
    ...(query.having === undefined ? [] : [query.having]),
    ...query.groupBy,
    ...kept,
  ];
  for (const node of outside) {
    for (const column of columnsOutsideAggregates(node)) {
      const name = own(column);
      if (name !== undefined && !keys.has(name)) return undefined;
    }
  }

  // The pre-aggregation: one row per key, a column per aggregate (one for an aggregate written twice).
  const keyColumns = [...keys];
  const partial = new Map<string, { name: string; call: Call }>();
  for (const call of calls) {
    const text = ctx.source(call).toLowerCase();
    if (!partial.has(text)) partial.set(text, { name: ctx.internalName(ctx.source(call)), call });
  }
  const inner: SelectQuery = {
    kind: 'select',
    distinct: false,
    items: [
      ...keyColumns.map(([name, written]): SelectItem => ({
        kind: 'expr',
        expr: written,
        alias: name,
        start: written.start,
      })),
      ...[...partial.values()].map(({ name, call }): SelectItem => ({
        kind: 'expr',
        expr: call,
        alias: name,
        start: call.start,
      })),
    ],
    from: leaf,
    ...(pushed.length === 0 ? {} : { where: andOf(pushed) }),
    groupBy: keyColumns.map(([, written]) => written),
    start: leaf.start,
  };
  const combine = (node: ExpressionNode): ExpressionNode => {
    if (node.kind !== 'call' || !AGGREGATE_FUNCTIONS.has(node.name.toUpperCase())) return mapChildren(node, combine);
    const { name } = partial.get(ctx.source(node).toLowerCase())!;
    return {
      kind: 'call',
      name: COMBINE[node.name.toUpperCase()]!,
      args: [{ kind: 'column', name, quoted: true, start: node.start, end: node.end }],
      start: node.start,
      end: node.end,
    };
  };
  const replaced: FromItem = { kind: 'subquery', query: inner, alias: leaf.alias, start: leaf.start };
  const { where: _where, ...rest } = query;
  return {
    ...rest,
    items: query.items.map((item) => (item.kind === 'expr' ? { ...item, expr: combine(item.expr) } : item)),
    ...(query.having === undefined ? {} : { having: combine(query.having) }),
    from: replace(query.from, leaf, replaced),
    ...(kept.length === 0 ? {} : { where: andOf(kept) }),
  };
}

/** The tables reached from `item` through inner joins only, each with the joins above it. */
function innerLeaves(item: FromItem, path: FromItem[], out: { item: TableItem; path: FromItem[] }[]): void {
  if (item.kind === 'table') out.push({ item, path });
  if (item.kind !== 'join' || item.type !== 'inner') return;
  innerLeaves(item.left, [...path, item], out);
  innerLeaves(item.right, [...path, item], out);
}

/**
 * Whether a column name is declared by a relation of `from` other than `leaf` (case-insensitive); undefined when one
 * of them is not a table of the catalog (a subquery, a view, a window), whose columns are not known here.
 */
function declaredElsewhere(
  from: FromItem,
  leaf: TableItem,
  ctx: EagerContext,
): ((name: string) => boolean) | undefined {
  const names = new Set<string>();
  const visit = (item: FromItem): boolean => {
    if (item.kind === 'join') return visit(item.left) && visit(item.right);
    if (item === leaf) return true;
    const table = item.kind === 'table' ? ctx.table(item) : undefined;
    if (table === undefined) return false;
    for (const column of table.columns) names.add(column.name.toLowerCase());
    return true;
  };
  return visit(from) ? (name) => names.has(name.toLowerCase()) : undefined;
}

function replace(item: FromItem, leaf: TableItem, by: FromItem): FromItem {
  if (item === leaf) return by;
  if (item.kind !== 'join') return item;
  return { ...item, left: replace(item.left, leaf, by), right: replace(item.right, leaf, by) };
}

/** The aggregate calls in `node` (an aggregate holds none: the planner refuses that). */
function aggregateCalls(node: ExpressionNode): Call[] {
  if (node.kind === 'call' && AGGREGATE_FUNCTIONS.has(node.name.toUpperCase())) return [node];
  return childrenOf(node).flatMap(aggregateCalls);
}

/** The column references of `node` outside its aggregate calls. */
function columnsOutsideAggregates(node: ExpressionNode): ColumnNode[] {
  if (node.kind === 'call' && AGGREGATE_FUNCTIONS.has(node.name.toUpperCase())) return [];
  if (node.kind === 'column') return [node];
  return childrenOf(node).flatMap(columnsOutsideAggregates);
}

function hasSubquery(node: ExpressionNode): boolean {
  if (node.kind === 'scalarQuery' || node.kind === 'exists' || node.kind === 'inQuery') return true;
  return childrenOf(node).some(hasSubquery);
}
