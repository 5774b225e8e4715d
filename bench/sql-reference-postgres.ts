/**
 * The reference for the streaming SQL bench (issue 12): seed 004's query kept up to date by recomputing it in
 * PostgreSQL after each batch of changes, on the same rows and the same changes as `sql-join-aggregate.ts`
 * (`salesdb-changes.ts`). A private PostgreSQL (`startEmbeddedPostgres`: fsync off) holds the three tables with their
 * primary keys; for each batch of B changes it
 *
 * 1. applies the batch in one transaction, set-based: each key's last change in the batch (the result depends on the
 *    tables' contents after the batch, not on the order inside it) — orders upserted and deleted, sites moved,
 *    segments changed, each as one statement over arrays;
 * 2. runs the query whole (`fixtures/scenarios/salesdb/customer-orders.sql`'s SELECT) and reads its rows.
 *
 * It prints the load, the first query, and per batch the apply and the recompute time (median and max), and the
 * changes/s that result: what a job that recomputes the result after every batch of B changes could keep up with.
 * The streaming stage does the same work per change whatever the tables' size; a recompute reads them whole.
 *
 * `--check` also runs the streaming stage (`salesdb-stage.ts`, its state in memory) over the same load and batches,
 * and compares its result table (its changelog applied by key) with PostgreSQL's after the load and after the last
 * batch: row for row, or the bench fails. Usage:
 *   npx tsc -p bench/tsconfig.json && node dist/bench/bench/sql-reference-postgres.js [--rows N] [--batch B]
 *     [--batches K] [--check]
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import pg from 'pg';
import type { ChangeEvent } from '../src/core/change-event.js';
import { startEmbeddedPostgres } from '../src/embedded/embedded-postgres.js';
import { SalesdbChanges, salesdbShape, SEGMENTS, type SalesdbChange } from './salesdb-changes.js';
import { salesdbStage, type SalesdbStage } from './salesdb-stage.js';
import { median } from './measure.js';
import { numberOption } from './number-option.js';

const ROWS = numberOption('--rows', 1_000_000);
const BATCH = numberOption('--batch', 2_000);
const BATCHES = numberOption('--batches', 20);
const CHECK = process.argv.includes('--check');

// The SELECT of customer-orders.sql, in PostgreSQL's spelling (unquoted names fold to lower case on both sides).
const QUERY = `SELECT COUNT(O.ORDER_ID) AS order_count, C.CUST_ID AS customer_id, C.NAME AS name, C.MKTSEGMENT AS mktsegment
  FROM CUSTOMER C
  JOIN CUSTOMER_SITE CS ON C.CUST_ID = CS.CUST_ID
  JOIN SALES_ORDER_ALL O ON O.SITE_ID = CS.SITE_ID
  GROUP BY C.CUST_ID, C.NAME, C.MKTSEGMENT`;

const shape = salesdbShape(ROWS);
const ms = (value: number) => Math.round(value).toLocaleString('en');

/** The streaming stage over the same rows and batches, its result table kept by applying its changelog by key. */
class StreamingResult {
  private readonly dir = mkdtempSync(join(tmpdir(), 'sql-reference-check-'));
  private readonly stage: SalesdbStage = salesdbStage(shape, { dir: this.dir, cacheBytes: 1 << 26, inMemory: true });
  /** customer_id → the row's text (`order_count|customer_id|name|mktsegment`). */
  private readonly table = new Map<string, string>();

  load(): void {
    this.take(this.stage.operator.process(this.stage.schemas));
    const events: ChangeEvent[] = [];
    for (let i = 0; i < ROWS; i++) {
      events.push(this.stage.loadEvent(i));
      if (events.length === 2_000 || i === ROWS - 1) this.take(this.stage.operator.process(events.splice(0)));
    }
  }

  apply(batch: readonly SalesdbChange[]): void {
    this.take(this.stage.operator.process(batch.map((change) => this.stage.changeEvent(change))));
  }

  private take(events: readonly ChangeEvent[]): void {
    for (const event of events) {
      if (event.kind !== 'data') continue;
      if (event.before !== null) this.table.delete(String(event.before[1]));
      if (event.after !== null) this.table.set(String(event.after[1]), event.after.map(String).join('|'));
    }
  }

  /** Throws unless the result equals PostgreSQL's `rows`, row for row. */
  compare(rows: readonly Record<string, unknown>[], when: string): void {
    const expected = new Map(
      rows.map((r) => [
        String(r['customer_id']),
        [r['order_count'], r['customer_id'], r['name'], r['mktsegment']].join('|'),
      ]),
    );
    const differ = [...new Set([...expected.keys(), ...this.table.keys()])].filter(
      (key) => expected.get(key) !== this.table.get(key),
    );
    if (differ.length > 0) {
      const key = differ[0]!;
      throw new Error(
        `after ${when} the streaming result differs from PostgreSQL's in ${differ.length} rows, e.g. customer ${key}: ${this.table.get(key) ?? 'none'} against ${expected.get(key) ?? 'none'}`,
      );
    }
  }

  close(): void {
    rmSync(this.dir, { recursive: true, force: true });
  }
}

const server = await startEmbeddedPostgres();
const client = new pg.Client({ host: server.host, port: server.port, user: server.user, database: 'postgres' });
client.on('error', () => undefined);
try {
  await client.connect();
  // The same rows as sql-join-aggregate.ts loads (loadedOwner, loadedSite, loadedSegment in salesdb-changes.ts).
  let started = performance.now();
  await client.query(`
    CREATE TABLE CUSTOMER (CUST_ID bigint PRIMARY KEY, NAME varchar(64), MKTSEGMENT varchar(64));
    CREATE TABLE CUSTOMER_SITE (SITE_ID bigint PRIMARY KEY, CUST_ID bigint, STATE varchar(64), CITY varchar(64));
    CREATE TABLE SALES_ORDER_ALL (ORDER_ID bigint PRIMARY KEY, SITE_ID bigint, ORDER_DATE timestamp(0),
      SHIP_MODE varchar(64));
    INSERT INTO CUSTOMER SELECT g, 'Customer#' || g, (ARRAY['${SEGMENTS.join("','")}'])[g % 5 + 1]
      FROM generate_series(1, ${shape.customers}) g;
    INSERT INTO CUSTOMER_SITE SELECT g, 1 + (g - 1) % ${shape.customers}, 'WA', 'City-' || g
      FROM generate_series(1, ${shape.sites}) g;
    INSERT INTO SALES_ORDER_ALL SELECT g, 1 + (g - 1) % ${shape.sites}, '2024-01-01 00:00:00', 'STANDARD'
      FROM generate_series(1, ${shape.orders}) g;
    ANALYZE;`);
  const loadMs = performance.now() - started;
  const recompute = async () => {
    const at = performance.now();
    const { rows } = await client.query<Record<string, unknown>>(QUERY);
    return { ms: performance.now() - at, rows };
  };
  const first = await recompute();
  const streaming = CHECK ? new StreamingResult() : undefined;
  streaming?.load();
  streaming?.compare(first.rows, 'the load');

  const changes = new SalesdbChanges(shape, BATCH * BATCHES);
  const applyMs: number[] = [];
  const queryMs: number[] = [];
  let resultRows = first.rows;
  for (let b = 0; b < BATCHES; b++) {
    const batch: SalesdbChange[] = [];
    while (batch.length < BATCH) {
      const change = changes.next();
      if (change !== undefined) batch.push(change);
    }
    streaming?.apply(batch);
    started = performance.now();
    await apply(client, batch);
    applyMs.push(performance.now() - started);
    const result = await recompute();
    queryMs.push(result.ms);
    resultRows = result.rows;
  }
  streaming?.compare(resultRows, `${BATCHES} batches`);
  streaming?.close();
  const perBatch = median(applyMs) + median(queryMs);
  console.log(
    `PostgreSQL reference, seed 004's 3-way join + GROUP BY recomputed after each batch of ${BATCH} changes (${server.port}):`,
  );
  console.log(
    `  load: ${ROWS.toLocaleString('en')} rows (${shape.customers} customers, ${shape.sites} sites, ${shape.orders} orders) in ${ms(loadMs)} ms (INSERT … SELECT generate_series, ANALYZE); the query once: ${ms(first.ms)} ms, ${first.rows.length} rows`,
  );
  console.log(
    `  ${BATCHES} batches, ${(BATCH * BATCHES).toLocaleString('en')} changes: apply ${ms(median(applyMs))} ms (max ${ms(Math.max(...applyMs))}), recompute ${ms(median(queryMs))} ms (max ${ms(Math.max(...queryMs))}) per batch (medians); ${resultRows.length} result rows`,
  );
  console.log(
    `  → ${Math.round((BATCH / perBatch) * 1000).toLocaleString('en')} changes/s kept up with (the batch's median apply + recompute)`,
  );
  if (streaming !== undefined) {
    console.log(`  --check: the streaming stage's result equals PostgreSQL's after the load and after the last batch`);
  }
} finally {
  await client.end().catch(() => undefined);
  await server.stop();
}

/** Applies a batch as each key's last change in it, one statement per kind. */
async function apply(db: pg.Client, batch: readonly SalesdbChange[]): Promise<void> {
  const orderSite = new Map<number, number>(); // 0: deleted
  const siteOwner = new Map<number, number>();
  const segment = new Map<number, string>();
  for (const change of batch) {
    switch (change.kind) {
      case 'order-insert':
        orderSite.set(change.order, change.site);
        break;
      case 'order-delete':
        orderSite.set(change.order, 0);
        break;
      case 'order-move':
        orderSite.set(change.order, change.to);
        break;
      case 'site-move':
        siteOwner.set(change.site, change.to);
        break;
      case 'customer-segment':
        segment.set(change.customer, change.to);
        break;
    }
  }
  const live = [...orderSite].filter(([, site]) => site !== 0);
  const deleted = [...orderSite].filter(([, site]) => site === 0).map(([order]) => order);
  await db.query('BEGIN');
  await db.query(
    `INSERT INTO SALES_ORDER_ALL SELECT id, site, '2024-01-01 00:00:00', 'STANDARD'
       FROM unnest($1::bigint[], $2::bigint[]) AS v(id, site)
     ON CONFLICT (ORDER_ID) DO UPDATE SET SITE_ID = EXCLUDED.SITE_ID`,
    [live.map(([order]) => order), live.map(([, site]) => site)],
  );
  await db.query('DELETE FROM SALES_ORDER_ALL WHERE ORDER_ID = ANY($1::bigint[])', [deleted]);
  await db.query(
    `UPDATE CUSTOMER_SITE s SET CUST_ID = v.owner FROM unnest($1::bigint[], $2::bigint[]) AS v(id, owner)
     WHERE s.SITE_ID = v.id`,
    [[...siteOwner.keys()], [...siteOwner.values()]],
  );
  await db.query(
    `UPDATE CUSTOMER c SET MKTSEGMENT = v.segment FROM unnest($1::bigint[], $2::text[]) AS v(id, segment)
     WHERE c.CUST_ID = v.id`,
    [[...segment.keys()], [...segment.values()]],
  );
  await db.query('COMMIT');
}
