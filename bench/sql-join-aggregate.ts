/**
 * What the streaming SQL stage costs on seed 004's shape (issue 12): the 3-way join + GROUP BY of
 * fixtures/scenarios/salesdb/customer-orders.sql, in this process, without servers — the SQL operator alone,
 * fed as the runner feeds it (batches of source change events):
 *
 * 1. the initial load: N source rows (customers, two sites each, the rest orders) as snapshot reads;
 * 2. then N changes: new orders, cancelled orders, orders moved to another site, sites moved to another
 *    customer, customers changing segment.
 *
 * It reports changes/s of each phase, the result changes the stage emits, the JSON size of its state and the
 * time `snapshotState` takes (what each checkpoint serialises), and the peak RSS. End to end (binlog → sink) the
 * source and sink cost comes on top. Usage:
 *   npx tsc -p bench/tsconfig.json && node dist/bench/bench/sql-join-aggregate.js [--rows N] [--batch B]
 */
import { performance } from 'node:perf_hooks';
import { readFileSync } from 'node:fs';
import type { ChangeEvent, DataChangeEvent } from '../src/core/change-event.js';
import type { Row } from '../src/core/data-type.js';
import { tableId, type TableSchema } from '../src/core/table-schema.js';
import { SqlSession, buildSqlJob } from '../src/composer/sql-job.js';
import { createLogger } from '../src/runtime/logger.js';
import { planInsert } from '../src/sql/planner.js';
import { SqlOperator } from '../src/sql/sql-operator.js';
import type { InsertStatement } from '../src/sql/sql-ast.js';

const args = process.argv.slice(2);
const arg = (name: string, fallback: number) => {
  const i = args.indexOf(name);
  return i >= 0 ? Number(args[i + 1]) : fallback;
};
const ROWS = arg('--rows', 1_000_000);
const BATCH = arg('--batch', 2_000);

const script = readFileSync(
  new URL('../../../fixtures/scenarios/salesdb/customer-orders.sql', import.meta.url),
  'utf8',
);
const { session, statements } = SqlSession.parse(script, 'customer-orders.sql', { SALESDB: 'salesdb' });
statements.forEach((s) => session.declare(s));
const insert = statements.filter((s): s is InsertStatement => s.kind === 'insert')[0]!;
const plan = planInsert(script, insert, session.tables, { timeZone: 'UTC' });
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
);

const SEGMENTS = ['AUTOMOBILE', 'BUILDING', 'FURNITURE', 'HOUSEHOLD', 'MACHINERY'];
const customers = Math.max(1, Math.floor(ROWS / 100));
const sites = customers * 2;
const orders = ROWS - customers - sites;
const customerRow = (id: number, segment = SEGMENTS[id % 5]!): Row => [BigInt(id), `Customer#${id}`, segment];
const siteRow = (id: number, customer: number): Row => [BigInt(id), BigInt(customer), 'WA', `City-${id}`];
const orderRow = (id: number, site: number): Row => [BigInt(id), BigInt(site), '2024-01-01 00:00:00', 'STANDARD'];
const data = (
  table: TableSchema,
  op: DataChangeEvent['op'],
  before: Row | null,
  after: Row | null,
): DataChangeEvent => ({
  kind: 'data',
  table: table.id,
  op,
  before,
  after,
  source: { tsMs: 0 },
});

let emitted = 0;
const run = (events: ChangeEvent[]) => {
  for (let i = 0; i < events.length; i += BATCH) emitted += operator.process(events.slice(i, i + BATCH)).length;
};

let peakRss = 0;
const sample = setInterval(() => (peakRss = Math.max(peakRss, process.memoryUsage().rss)), 50);

// Phase 1: the initial load.
const load: ChangeEvent[] = [CUSTOMER, SITE, ORDER].map((s) => ({
  kind: 'schema',
  table: s.id,
  change: 'createTable',
  schema: s,
  source: { tsMs: 0 },
}));
for (let c = 1; c <= customers; c++) load.push(data(CUSTOMER, 'read', null, customerRow(c)));
const siteOwner = new Map<number, number>();
for (let s = 1; s <= sites; s++) {
  siteOwner.set(s, 1 + ((s - 1) % customers));
  load.push(data(SITE, 'read', null, siteRow(s, siteOwner.get(s)!)));
}
const orderSite = new Map<number, number>();
for (let o = 1; o <= orders; o++) {
  orderSite.set(o, 1 + ((o - 1) % sites));
  load.push(data(ORDER, 'read', null, orderRow(o, orderSite.get(o)!)));
}
let started = performance.now();
run(load);
const loadMs = performance.now() - started;

// Phase 2: N changes.
let seed = 42;
const random = () => (seed = (seed * 1103515245 + 12345) % 2147483648) / 2147483648;
const segmentOf = new Map<number, string>();
let nextOrder = orders + 1;
const changes: ChangeEvent[] = [];
for (let i = 0; i < ROWS; i++) {
  const roll = random();
  if (roll < 0.4) {
    const id = nextOrder++;
    const site = 1 + Math.floor(random() * sites);
    orderSite.set(id, site);
    changes.push(data(ORDER, 'insert', null, orderRow(id, site)));
  } else if (roll < 0.6) {
    const id = 1 + Math.floor(random() * (nextOrder - 1));
    const site = orderSite.get(id);
    if (site === undefined) continue;
    orderSite.delete(id);
    changes.push(data(ORDER, 'delete', orderRow(id, site), null));
  } else if (roll < 0.9) {
    const id = 1 + Math.floor(random() * (nextOrder - 1));
    const site = orderSite.get(id);
    if (site === undefined) continue;
    const to = 1 + Math.floor(random() * sites);
    orderSite.set(id, to);
    changes.push(data(ORDER, 'update', orderRow(id, site), orderRow(id, to)));
  } else if (roll < 0.95) {
    const site = 1 + Math.floor(random() * sites);
    const to = 1 + Math.floor(random() * customers);
    changes.push(data(SITE, 'update', siteRow(site, siteOwner.get(site)!), siteRow(site, to)));
    siteOwner.set(site, to);
  } else {
    const c = 1 + Math.floor(random() * customers);
    const from = segmentOf.get(c) ?? SEGMENTS[c % 5]!;
    const to = SEGMENTS[Math.floor(random() * 5)]!;
    segmentOf.set(c, to);
    changes.push(data(CUSTOMER, 'update', customerRow(c, from), customerRow(c, to)));
  }
}
const emittedAfterLoad = emitted;
started = performance.now();
run(changes);
const changeMs = performance.now() - started;

started = performance.now();
const state = JSON.stringify(operator.snapshotState());
const snapshotMs = performance.now() - started;
clearInterval(sample);
peakRss = Math.max(peakRss, process.memoryUsage().rss);

const perSecond = (n: number, ms: number) => Math.round(n / (ms / 1000)).toLocaleString('en');
console.log(`SQL stage, seed 004's 3-way join + GROUP BY, batches of ${BATCH}:`);
console.log(
  `  initial load: ${load.length.toLocaleString('en')} rows (${customers} customers, ${sites} sites, ${orders} orders) in ${Math.round(loadMs)} ms: ${perSecond(load.length, loadMs)} rows/s; ${emittedAfterLoad} result changes`,
);
console.log(
  `  changes: ${changes.length.toLocaleString('en')} in ${Math.round(changeMs)} ms: ${perSecond(changes.length, changeMs)} changes/s; ${emitted - emittedAfterLoad} result changes`,
);
console.log(
  `  state: ${(state.length / 1e6).toFixed(1)} MB of JSON, snapshotState + stringify ${Math.round(snapshotMs)} ms`,
);
console.log(`  peak RSS: ${Math.round(peakRss / 1e6)} MB`);
