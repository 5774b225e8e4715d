/**
 * Seed 004's SQL stage as the benches drive it: the INSERT of `fixtures/scenarios/salesdb/customer-orders.sql`
 * planned, its SQL operator (state on disk in `dir`, or in plain Maps), and the source rows and changes of
 * `salesdb-changes.ts` as the change events the operator takes.
 */
import { readFileSync } from 'node:fs';
import type { ChangeEvent, DataChangeEvent } from '../src/core/change-event.js';
import type { Row } from '../src/core/data-type.js';
import { tableId, type TableSchema } from '../src/core/table-schema.js';
import { SqlSession, buildSqlJob } from '../src/composer/sql-job.js';
import { createLogger } from '../src/runtime/logger.js';
import { planInsert } from '../src/sql/planner.js';
import { SqlOperator } from '../src/sql/sql-operator.js';
import type { InsertStatement } from '../src/sql/sql-ast.js';
import { memoryBackend } from '../src/sql/exec/keyed-state.js';
import { loadedOwner, loadedSegment, loadedSite, type SalesdbChange, type SalesdbShape } from './salesdb-changes.js';

export interface SalesdbStage {
  readonly operator: SqlOperator;
  /** The source tables' schemas, as the operator must see them before their rows. */
  readonly schemas: readonly ChangeEvent[];
  /** The `i`-th source row of the load (customers, then sites, then orders) as a snapshot read. */
  readonly loadEvent: (i: number) => ChangeEvent;
  readonly changeEvent: (change: SalesdbChange) => ChangeEvent;
}

export interface SalesdbStageOptions {
  /** The state directory; with `inMemory`, unused but for the operator's empty file. */
  readonly dir: string;
  readonly cacheBytes: number;
  /**
   * The nodes' state in plain Maps (keyed-state.ts's memoryBackend) instead of on disk: no file, no cache, no
   * delta — what the operators themselves cost. Not a mode Tributary runs in (nothing survives a crash).
   */
  readonly inMemory?: boolean;
  /** False: the query planned without eager aggregation (as written: the orders kept in the join). */
  readonly eagerAggregation?: boolean;
  /** False: the orders' count per site an aggregate of its own below the join, not computed by the join. */
  readonly aggregatingJoins?: boolean;
}

export function salesdbStage(shape: SalesdbShape, options: SalesdbStageOptions): SalesdbStage {
  const script = readFileSync(
    new URL('../../../fixtures/scenarios/salesdb/customer-orders.sql', import.meta.url),
    'utf8',
  );
  const { session, statements } = SqlSession.parse(script, 'customer-orders.sql', { SALESDB: 'salesdb' });
  statements.forEach((s) => session.declare(s));
  const insert = statements.filter((s): s is InsertStatement => s.kind === 'insert')[0]!;
  const plan = planInsert(script, insert, session.tables, {
    timeZone: 'UTC',
    ...(options.eagerAggregation === false ? { eagerAggregation: false } : {}),
    ...(options.aggregatingJoins === false ? { aggregatingJoins: false } : {}),
  });
  // The job as `tributary sql` builds it proves the mapping; the operator is then driven directly.
  buildSqlJob(session, insert, { log: createLogger({ level: 'error' }) });

  const big = { kind: 'int64' } as const;
  const text = { kind: 'varchar', length: 64 } as const;
  const schema = (name: string, columns: [string, TableSchema['columns'][number]['type']][]): TableSchema => ({
    id: tableId('salesdb', name),
    columns: columns.map(([n, type]) => ({ name: n, type, nullable: true })),
    primaryKey: [columns[0]![0]],
  });
  const CUSTOMER = schema('CUSTOMER', [
    ['CUST_ID', big],
    ['NAME', text],
    ['MKTSEGMENT', text],
  ]);
  const SITE = schema('CUSTOMER_SITE', [
    ['SITE_ID', big],
    ['CUST_ID', big],
    ['STATE', text],
    ['CITY', text],
  ]);
  const ORDER = schema('SALES_ORDER_ALL', [
    ['ORDER_ID', big],
    ['SITE_ID', big],
    ['ORDER_DATE', { kind: 'timestamp', precision: 0 }],
    ['SHIP_MODE', text],
  ]);
  const sinkSchema: TableSchema = {
    id: tableId('', 'customer_orders'),
    columns: plan.sink.columns.map((c) => ({ name: c.name, type: c.type, nullable: c.nullable })),
    primaryKey: [...plan.sink.primaryKey],
  };
  const anchored = (s: string) => new RegExp(`^(?:${s})$`);
  const operator = new SqlOperator(
    [
      {
        plan,
        sources: plan.scans.map((scan) => ({ scan, database: anchored('salesdb'), table: anchored(scan.table) })),
        sinkSchema,
      },
    ],
    'UTC',
    { dir: options.dir, cacheBytes: options.cacheBytes },
  );
  if (options.inMemory === true) {
    // The operator opens its state (on disk) at the first change; opened here first, the nodes then take Maps.
    (operator as unknown as { opened(): void }).opened();
    for (const node of plan.nodes) node.openState(memoryBackend);
  }

  const customerRow = (id: number, segment = loadedSegment(id)): Row => [BigInt(id), `Customer#${id}`, segment];
  const siteRow = (id: number, customer: number): Row => [BigInt(id), BigInt(customer), 'WA', `City-${id}`];
  const orderRow = (id: number, site: number): Row => [BigInt(id), BigInt(site), '2024-01-01 00:00:00', 'STANDARD'];
  const data = (
    table: TableSchema,
    op: DataChangeEvent['op'],
    before: Row | null,
    after: Row | null,
  ): DataChangeEvent => ({ kind: 'data', table: table.id, op, before, after, source: { tsMs: 0 } });
  const { customers, sites } = shape;
  return {
    operator,
    schemas: [CUSTOMER, SITE, ORDER].map((s) => ({
      kind: 'schema',
      table: s.id,
      change: 'createTable',
      schema: s,
      source: { tsMs: 0 },
    })),
    loadEvent: (i) => {
      if (i < customers) return data(CUSTOMER, 'read', null, customerRow(i + 1));
      if (i < customers + sites) {
        const s = i - customers + 1;
        return data(SITE, 'read', null, siteRow(s, loadedOwner(shape, s)));
      }
      const o = i - customers - sites + 1;
      return data(ORDER, 'read', null, orderRow(o, loadedSite(shape, o)));
    },
    changeEvent: (change) => {
      switch (change.kind) {
        case 'order-insert':
          return data(ORDER, 'insert', null, orderRow(change.order, change.site));
        case 'order-delete':
          return data(ORDER, 'delete', orderRow(change.order, change.site), null);
        case 'order-move':
          return data(ORDER, 'update', orderRow(change.order, change.from), orderRow(change.order, change.to));
        case 'site-move':
          return data(SITE, 'update', siteRow(change.site, change.from), siteRow(change.site, change.to));
        case 'customer-segment': {
          const { customer, from, to } = change;
          return data(CUSTOMER, 'update', customerRow(customer, from), customerRow(customer, to));
        }
      }
    },
  };
}
