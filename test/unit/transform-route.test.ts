import { describe, expect, it } from 'vitest';
import { parseTableSelector } from '../../src/core/table-selector.js';
import { tableId } from '../../src/core/table-schema.js';
import {
  describeRouting,
  resolveRoute,
  routeTarget,
  sinkTableProblem,
  unmatchedRoutes,
  unmatchedSelectors,
} from '../../src/transform/route.js';

const routes = [
  { sourceTable: parseTableSelector('user_db[0-9]+.user[0-9]+'), sinkTable: 'public.users' },
  { sourceTable: parseTableSelector('tpc_ds.\\.*'), sinkTable: 'tpc_ds.<>', replaceSymbol: '<>' },
  { sourceTable: parseTableSelector('tpc_ds.item'), sinkTable: 'never.reached' },
  { sourceTable: parseTableSelector('legacy.\\.*'), sinkTable: 'archive.legacy_<>', replaceSymbol: '<>' },
];

describe('resolveRoute', () => {
  it('sends every shard to the merged table', () => {
    expect(resolveRoute(routes, tableId('user_db1', 'user01'))).toEqual(tableId('public', 'users'));
    expect(resolveRoute(routes, tableId('user_db3', 'user03'))).toEqual(tableId('public', 'users'));
  });

  it('replaces the replace-symbol with the source table name; the first matching route wins', () => {
    expect(resolveRoute(routes, tableId('tpc_ds', 'item'))).toEqual(tableId('tpc_ds', 'item'));
    expect(resolveRoute(routes, tableId('tpc_ds', 'store_sales'))).toEqual(tableId('tpc_ds', 'store_sales'));
    expect(resolveRoute(routes, tableId('legacy', 'orders'))).toEqual(tableId('archive', 'legacy_orders'));
  });

  it('keeps a source table that no route selects', () => {
    expect(resolveRoute(routes, tableId('crm', 'contacts'))).toEqual(tableId('crm', 'contacts'));
    expect(resolveRoute([], tableId('user_db1', 'user01'))).toEqual(tableId('user_db1', 'user01'));
  });

  it('keeps a dotted source table name in one piece', () => {
    expect(routeTarget(routes[1]!, tableId('tpc_ds', 'a.b'))).toEqual(tableId('tpc_ds', 'a.b'));
  });
});

describe('validation helpers', () => {
  const captured = [tableId('user_db1', 'user01'), tableId('tpc_ds', 'item')];

  it('reports routes and selectors that select no captured table', () => {
    expect(unmatchedRoutes(routes, captured).map((r) => r.sourceTable.source)).toEqual(['legacy.\\.*']);
    const selectors = [parseTableSelector('user_db[0-9]+.user[0-9]+'), parseTableSelector('user_db1.users')];
    expect(unmatchedSelectors(selectors, captured).map((s) => s.source)).toEqual(['user_db1.users']);
  });

  it('describes where each table goes', () => {
    expect(describeRouting(routes, captured)).toEqual(['user_db1.user01 → public.users', 'tpc_ds.item → tpc_ds.item']);
  });

  it('explains a sink-table that is not schema.table', () => {
    expect(sinkTableProblem('public.users')).toBeUndefined();
    expect(sinkTableProblem('users')).toBe('"users" is not of the form schema.table — write e.g. public.users');
    expect(sinkTableProblem('.users')).toContain('not of the form schema.table');
    expect(sinkTableProblem('tpc_ds.x', '<>')).toContain('replace-symbol "<>" does not occur');
  });
});
