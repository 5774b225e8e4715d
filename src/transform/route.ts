import { TributaryError } from '../core/errors.js';
import { tableIdToString, type TableId } from '../core/table-schema.js';
import type { RouteRule, TableMatcher } from './rules.js';

/** The first route whose source-table selects `table`, if any. */
export function findRoute<R extends RouteRule>(routes: readonly R[], table: TableId): R | undefined {
  return routes.find((route) => route.sourceTable.matches(table.namespace, table.name));
}

/**
 * Where a source table's rows go: the sink table of the first matching route, or, without one, a table of
 * the same namespace and name as the source.
 */
export function resolveRoute(routes: readonly RouteRule[], table: TableId): TableId {
  const route = findRoute(routes, table);
  return route === undefined ? table : routeTarget(route, table);
}

/**
 * The sink table of `route` for `source`. The template is split at its first `.` into namespace and name
 * before the replace-symbol is substituted, so a source table name that contains a dot stays one name.
 */
export function routeTarget(route: RouteRule, source: TableId): TableId {
  const parsed = parseSinkTable(route.sinkTable);
  if (parsed === undefined) {
    throw new TributaryError(
      'CONFIG_INVALID',
      `route sink-table "${route.sinkTable}" is not of the form schema.table`,
      {
        hint: 'write the sink table as schema.table, e.g. public.users',
      },
    );
  }
  const symbol = route.replaceSymbol;
  if (symbol === undefined || symbol === '') {
    if (!CAPTURE_REFERENCE.test(route.sinkTable)) return parsed;
    // Flink CDC's capture-group routing: `db_(\d+).tbl_(\d+)` → `sink_db_$1.sink_table_$2`.
    const groups = route.sourceTable.captures?.(source.namespace, source.name) ?? [];
    const fill = (text: string) => text.replace(/\$(\d+)/g, (ref, n: string) => groups[Number(n) - 1] ?? ref);
    return { namespace: fill(parsed.namespace), name: fill(parsed.name) };
  }
  return {
    namespace: parsed.namespace.split(symbol).join(source.name),
    name: parsed.name.split(symbol).join(source.name),
  };
}

/** A `$1` … `$9` reference to a capturing group of source-table. */
const CAPTURE_REFERENCE = /\$\d/;

/** The highest `$N` in a sink-table template (0 when there is none). */
export function highestCaptureReference(sinkTable: string): number {
  return Math.max(0, ...[...sinkTable.matchAll(/\$(\d+)/g)].map((m) => Number(m[1])));
}

/** `schema.table` split at its first dot; undefined unless both parts are non-empty. */
export function parseSinkTable(text: string): TableId | undefined {
  const dot = text.indexOf('.');
  if (dot <= 0 || dot === text.length - 1) return undefined;
  return { namespace: text.slice(0, dot).trim(), name: text.slice(dot + 1).trim() };
}

/** What is wrong with a route's sink-table and replace-symbol as written, or undefined when they are fine. */
export function sinkTableProblem(sinkTable: string, replaceSymbol?: string): string | undefined {
  const parsed = parseSinkTable(sinkTable);
  if (parsed === undefined || parsed.namespace === '' || parsed.name === '') {
    return `"${sinkTable}" is not of the form schema.table — write e.g. public.users`;
  }
  if (replaceSymbol !== undefined) {
    if (CAPTURE_REFERENCE.test(sinkTable) && !sinkTable.includes(replaceSymbol)) {
      return `"${sinkTable}" refers to capturing groups ($1, …), which cannot be combined with replace-symbol (as in Flink CDC) — remove replace-symbol`;
    }
    if (replaceSymbol === '') return 'replace-symbol is empty — write the symbol used in sink-table, e.g. <>';
    if (!sinkTable.includes(replaceSymbol)) {
      return `replace-symbol "${replaceSymbol}" does not occur in "${sinkTable}" — write e.g. ${parsed.namespace}.${replaceSymbol}`;
    }
  }
  return undefined;
}

/** Routes that select none of `sourceTables` — usually a typo in source-table; `validate` reports them. */
export function unmatchedRoutes<R extends RouteRule>(routes: readonly R[], sourceTables: readonly TableId[]): R[] {
  return routes.filter((route) => !selectsAny(route.sourceTable, sourceTables));
}

/** Selectors (of transforms, routes, or the source's tables) that select none of `sourceTables`. */
export function unmatchedSelectors<S extends TableMatcher>(
  selectors: readonly S[],
  sourceTables: readonly TableId[],
): S[] {
  return selectors.filter((selector) => !selectsAny(selector, sourceTables));
}

function selectsAny(selector: TableMatcher, tables: readonly TableId[]): boolean {
  return tables.some((t) => selector.matches(t.namespace, t.name));
}

/** `db.table → schema.table` lines for `validate` output. */
export function describeRouting(routes: readonly RouteRule[], sourceTables: readonly TableId[]): string[] {
  return sourceTables.map((t) => `${tableIdToString(t)} → ${tableIdToString(resolveRoute(routes, t))}`);
}
