import { mkdtempSync, rmSync } from 'node:fs';
import Database from 'better-sqlite3';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import type { ChangeEvent, DataChangeEvent } from '../../src/core/change-event.js';
import type { Row } from '../../src/core/data-type.js';
import { tableId, type TableSchema } from '../../src/core/table-schema.js';
import { SqlSession } from '../../src/composer/sql-job.js';
import { seededRandom } from '../harness/faults.js';
import { planInsert, type QueryPlan } from '../../src/sql/planner.js';
import { SqlOperator } from '../../src/sql/sql-operator.js';
import { AggregateNode } from '../../src/sql/exec/nodes.js';
import type { InsertStatement } from '../../src/sql/sql-ast.js';
import type { OperatorState } from '../../src/core/operator.js';
import { committedArrays, STATE_FILE, type CommittedState } from '../../src/sql/exec/disk-state.js';

const dirs: string[] = [];
/** A sink table on a log (Kafka): the changelog as it is, every retraction included. */
const LOG_SINK = "'connector' = 'kafka', 'topic' = 'r', 'properties.bootstrap.servers' = '127.0.0.1:9092'";
afterAll(() => dirs.forEach((dir) => rmSync(dir, { recursive: true, force: true })));

const SOURCE = (table: string) =>
  `'connector' = 'mysql-cdc', 'hostname' = 'h', 'username' = 'u', 'database-name' = 'db', 'table-name' = '${table}'`;

const A: TableSchema = {
  id: tableId('db', 'a'),
  columns: [
    { name: 'id', type: { kind: 'int64' }, nullable: false },
    { name: 'k', type: { kind: 'int32' }, nullable: true },
    { name: 'v', type: { kind: 'decimal', precision: 10, scale: 2 }, nullable: true },
  ],
  primaryKey: ['id'],
};
/** Table a's columns under another name (a source table declared with computed columns besides them). */
const AC: TableSchema = { ...A, id: tableId('db', 'ac') };
const B: TableSchema = {
  id: tableId('db', 'b'),
  columns: [
    { name: 'id', type: { kind: 'int64' }, nullable: false },
    { name: 'k', type: { kind: 'int32' }, nullable: true },
  ],
  primaryKey: ['id'],
};
const E: TableSchema = {
  id: tableId('db', 'e'),
  columns: [
    { name: 'id', type: { kind: 'int64' }, nullable: false },
    { name: 'ts', type: { kind: 'timestamp', precision: 3 }, nullable: true },
    { name: 'tz', type: { kind: 'timestamptz', precision: 3 }, nullable: true },
    { name: 'amount', type: { kind: 'int32' }, nullable: true },
  ],
  primaryKey: ['id'],
};

/**
 * An operator for `select` with its state in a new state directory, and a function that feeds it events and
 * returns the sink table as it would be. `cacheBytes`: the state's memory budget (1: every batch reads it back).
 */
/** A job's prelude that plans its query as written, without pre-aggregating a table below a join. */
const NO_EAGER_AGGREGATION = "SET 'tributary.optimizer.eager-aggregation' = 'false';";
const NO_AGGREGATING_JOINS = "SET 'tributary.optimizer.aggregating-joins' = 'false';";

function job(
  sinkColumns: string,
  select: string,
  cacheBytes?: number,
  prelude = '',
  sinkWith = "'connector' = 'jdbc'",
) {
  const dir = mkdtempSync(join(tmpdir(), 'sql-operator-state-'));
  dirs.push(dir);
  const text = `CREATE TABLE a (id BIGINT, k INT, v DECIMAL(10, 2), PRIMARY KEY (id) NOT ENFORCED) WITH (${SOURCE('a')});
CREATE TABLE b (id BIGINT, k INT, PRIMARY KEY (id) NOT ENFORCED) WITH (${SOURCE('b')});
CREATE TABLE e (id BIGINT, ts TIMESTAMP(3), tz TIMESTAMP_LTZ(3), amount INT, PRIMARY KEY (id) NOT ENFORCED) WITH (${SOURCE('e')});
CREATE TABLE r (${sinkColumns}) WITH (${sinkWith}, 'table-name' = 'r');
${prelude}
INSERT INTO r ${select};`;
  const { session, statements } = SqlSession.parse(text);
  statements.forEach((s) => session.declare(s));
  const insert = statements.find((s): s is InsertStatement => s.kind === 'insert')!;
  let sinkKey: readonly number[] = [];
  const warnings: string[] = [];
  let explain = '';
  /** Whether the next operator is made as a version before aggregates keyed their groups by a unique key. */
  let keyedByAll = false;
  /** Whether the next operator is made as a version before eager aggregation. */
  let withoutEager = false;
  const re = (s: string) => new RegExp(`^${s}$`);
  const queryOf = (plan: QueryPlan) => ({
    plan,
    sources: plan.scans.map((scan) => ({ scan, database: re('db'), table: re(scan.table) })),
    sinkSchema: {
      id: tableId('', 'r'),
      columns: plan.sink.columns.map((c) => ({ name: c.name, type: c.type, nullable: c.nullable })),
      primaryKey: [...plan.sink.primaryKey],
    },
  });
  const make = () => {
    let plan = session.plan(insert, !withoutEager);
    if (keyedByAll) {
      plan = { ...plan, explain: plan.explainKeyedByAll };
      for (const node of plan.nodes) if (node instanceof AggregateNode) node.keyByAllValues(true);
    }
    sinkKey = plan.sinkKey;
    explain = plan.explain;
    // As the SQL job makes it: with the plan without eager aggregation, for a state an earlier release wrote.
    return new SqlOperator(
      [queryOf(plan)],
      'UTC',
      { dir, ...(cacheBytes === undefined ? {} : { cacheBytes }) },
      (message) => warnings.push(message),
      () => [queryOf(session.plan(insert, false))],
    );
  };
  let operator = make();
  const table = new Map<string, Row>();
  /** The data events the last batch emitted, as `op before → after` with the values as text. */
  let emitted: string[] = [];
  const feed = (events: ChangeEvent[]) => {
    emitted = [];
    for (const event of operator.process(events)) {
      if (event.kind !== 'data') continue;
      const text = (r: Row | null) => (r === null ? '-' : r.map((v) => (v === null ? 'null' : String(v))).join(','));
      emitted.push(`${event.op} ${text(event.before)} → ${text(event.after)}`);
      const row = event.after ?? event.before!;
      const key = JSON.stringify(
        sinkKey.map((i) => row[i]),
        (_k, v: unknown) => (typeof v === 'bigint' ? v.toString() : v),
      );
      if (event.op === 'delete') table.delete(key);
      else table.set(key, event.after!);
    }
    return [...table.values()].map((r) => r.map((v) => (v === null ? null : String(v))));
  };
  const creates = (): ChangeEvent[] =>
    [A, AC, B, E].map((schema) => ({
      kind: 'schema',
      table: schema.id,
      change: 'createTable',
      schema,
      source: { tsMs: 0 },
    }));
  /** A checkpoint's state as the sink commits it (through JSON); `committed`: the runner tells the operator. */
  const checkpoint = async (committed = true): Promise<OperatorState> => {
    const state = JSON.parse(JSON.stringify(await operator.snapshotState())) as OperatorState;
    if (committed) await operator.checkpointCommitted();
    return state;
  };
  /**
   * A new attempt: a new operator resuming from a checkpoint (by default one taken now), then the source's
   * createTables. `crash`: the process died after the sink committed the checkpoint, before the state file took it.
   */
  const restart = async (options: { crash?: boolean; from?: OperatorState } = {}) => {
    const state = options.from ?? (await checkpoint(options.crash !== true));
    await operator.close();
    operator = make();
    operator.restoreState(state);
    feed(creates());
  };
  /** A new attempt with no checkpoint (the sink holds none: the job starts over). */
  const startOver = async () => {
    await operator.close();
    operator = make();
    table.clear();
    feed(creates());
  };
  feed(creates());
  const asVersionKeyedByAll = (on: boolean) => (keyedByAll = on);
  const asVersionWithoutEager = (on: boolean) => (withoutEager = on);
  return {
    feed,
    restart,
    checkpoint,
    startOver,
    explain: () => explain,
    emitted: () => emitted,
    warnings,
    asVersionKeyedByAll,
    asVersionWithoutEager,
    /** The state file's entries as the last write left them: namespace, key, value (parsed). */
    entries: () => {
      const db = new Database(join(dir, STATE_FILE), { readonly: true });
      try {
        const rows = db.prepare('SELECT ns, key, value FROM entries').all() as {
          ns: string;
          key: string;
          value: string;
        }[];
        return rows.map((r) => ({ ns: r.ns, key: r.key, value: JSON.parse(r.value) as unknown }));
      } finally {
        db.close();
      }
    },
  };
}

const ev = (
  schema: TableSchema,
  op: DataChangeEvent['op'],
  before: Row | null,
  after: Row | null,
): DataChangeEvent => ({
  kind: 'data',
  table: schema.id,
  op,
  before,
  after,
  source: { tsMs: 0 },
});

describe('SQL operator', () => {
  it('a left join pads a row without match, and swaps the padded row for matches as they come and go', () => {
    const { feed } = job(
      'id BIGINT, bk INT, PRIMARY KEY (id) NOT ENFORCED',
      'SELECT a.id, b.k FROM a LEFT JOIN b ON a.id = b.id',
    );
    expect(feed([ev(A, 'insert', null, [1n, 5, '1.00'])])).toEqual([['1', null]]);
    expect(feed([ev(B, 'insert', null, [1n, 7])])).toEqual([['1', '7']]);
    expect(feed([ev(B, 'update', [1n, 7], [2n, 7])])).toEqual([['1', null]]);
    expect(feed([ev(A, 'update', [1n, 5, '1.00'], [2n, 5, '1.00'])])).toEqual([['2', '7']]);
    expect(feed([ev(A, 'delete', [2n, 5, '1.00'], null)])).toEqual([]);
  });

  it.each([
    ['in memory', undefined],
    ['read back from disk at every batch', 1],
  ])(
    'MIN, MAX, COUNT(DISTINCT) and SUM(DISTINCT) take back values exactly, and a group that empties is deleted (state %s)',
    async (_, cache) => {
      const { feed, restart } = job(
        'k INT, mn DECIMAL(10, 2), mx DECIMAL(10, 2), d BIGINT, av DECIMAL(38, 6), sd DECIMAL(38, 2), PRIMARY KEY (k) NOT ENFORCED',
        'SELECT k, MIN(v), MAX(v), COUNT(DISTINCT v), AVG(v), SUM(DISTINCT v) FROM a GROUP BY k',
        cache,
      );
      feed([
        ev(A, 'insert', null, [1n, 1, '1.00']),
        ev(A, 'insert', null, [2n, 1, '3.00']),
        ev(A, 'insert', null, [3n, 1, '3.00']),
        ev(A, 'insert', null, [4n, 1, '-2.50']),
      ]);
      expect(feed([])).toEqual([['1', '-2.50', '3.00', '3', '1.125000', '1.50']]);
      await restart(); // the state goes through a checkpoint's JSON
      expect(feed([ev(A, 'delete', [4n, 1, '-2.50'], null)])).toEqual([['1', '1.00', '3.00', '2', '2.333333', '4.00']]);
      expect(feed([ev(A, 'delete', [2n, 1, '3.00'], null)])).toEqual([['1', '1.00', '3.00', '2', '2.000000', '4.00']]);
      expect(feed([ev(A, 'update', [3n, 1, '3.00'], [3n, 2, '3.00'])])).toEqual([
        ['1', '1.00', '1.00', '1', '1.000000', '1.00'],
        ['2', '3.00', '3.00', '1', '3.000000', '3.00'],
      ]);
      expect(feed([ev(A, 'delete', [1n, 1, '1.00'], null)])).toEqual([['2', '3.00', '3.00', '1', '3.000000', '3.00']]);
    },
  );

  it.each([
    ['in memory', undefined],
    ['read back from disk at every batch', 1],
  ])(
    'a join + GROUP BY: rows moving between groups in one batch, BIGINT values beyond 2^53 through a checkpoint, a row taken back that never came (state %s)',
    async (_, cache) => {
      const big = 9007199254740993n; // 2^53 + 1: not a number
      // The join keeps a's rows one by one (eager aggregation would keep a count per a.k: see its own test).
      const { feed, restart, checkpoint } = job(
        'id BIGINT, n BIGINT, PRIMARY KEY (id) NOT ENFORCED',
        'SELECT b.id, COUNT(a.id) FROM a JOIN b ON a.k = b.k GROUP BY b.id',
        cache,
        NO_EAGER_AGGREGATION,
      );
      feed([ev(B, 'insert', null, [1n, 10]), ev(B, 'insert', null, [big, 20])]);
      expect(
        feed([
          ev(A, 'insert', null, [1n, 10, '1.00']),
          ev(A, 'insert', null, [2n, 10, '1.00']),
          ev(A, 'insert', null, [big + 2n, 20, '1.00']),
          ev(A, 'update', [2n, 10, '1.00'], [2n, 20, '1.00']),
        ]),
      ).toEqual([
        ['1', '1'],
        [String(big), '2'],
      ]);
      await restart(); // the state goes through a checkpoint's JSON
      expect(feed([ev(B, 'update', [1n, 10], [1n, 20])])).toEqual([
        ['1', '2'],
        [String(big), '2'],
      ]);
      expect(feed([ev(A, 'delete', [big + 2n, 20, '1.00'], null)])).toEqual([
        ['1', '1'],
        [String(big), '1'],
      ]);
      const retractUnknown = () => feed([ev(A, 'delete', [5n, 20, '1.00'], null)]);
      if (cache === undefined) {
        // Memory holds the join key's rows (read whole for the update of b above): refused at once.
        expect(retractUnknown).toThrow(/never saw/);
      } else {
        // Only the file knows the join key's rows: the checkpoint's write checks it, and the next checkpoint fails.
        retractUnknown();
        await checkpoint();
        await expect(checkpoint()).rejects.toMatchObject({ code: 'STATE_CORRUPT', message: /never held/ });
      }
    },
  );

  it.each([
    ['in memory', undefined],
    ['read back from disk at every batch', 1],
  ])(
    'a group read back from a checkpoint retracts the row it emitted last; one stored with that row (the form before) retracts the stored row (state %s)',
    async (_, cache) => {
      // Into a log, which gets every retraction (a table sink gets a group's new row alone: see the next test).
      const { feed, restart, checkpoint, emitted } = job(
        'k INT, n BIGINT, s DECIMAL(12, 2), PRIMARY KEY (k) NOT ENFORCED',
        'SELECT k, COUNT(*), SUM(v) FROM a GROUP BY k',
        cache,
        '',
        LOG_SINK,
      );
      feed([ev(A, 'insert', null, [1n, 5, '1.50']), ev(A, 'insert', null, [2n, 5, '2.25'])]);
      await restart();
      feed([ev(A, 'insert', null, [3n, 5, '1.00'])]);
      expect(emitted()).toEqual(['delete 5,2,3.75 → -', 'insert - → 5,3,4.75']);

      // A checkpoint whose group holds the row emitted last, as groups were stored before: that row is what the
      // next change takes back (here one made up, to tell it from the row the group's values make).
      const state = await checkpoint(false);
      const saved = state['state'] as CommittedState;
      const { delta } = committedArrays(saved);
      const groups = Object.keys(delta).find((name) => name.endsWith('.groups'))!;
      delta[groups] = delta[groups]!.map(([key, sub, value]) => {
        const group = JSON.parse(value!) as unknown[];
        expect(group).toHaveLength(3);
        return [key, sub, JSON.stringify([...group, [5, { b: '99' }, '9.99']])];
      });
      await restart({ from: { ...state, version: 3, state: { version: saved.version, delta } } });
      feed([ev(A, 'delete', [1n, 5, '1.50'], null)]);
      expect(emitted()).toEqual(['delete 5,99,9.99 → -', 'insert - → 5,2,3.25']);
    },
  );

  it('a group changed goes to a table sink as an update of its key, without the retraction a log or a HAVING needs', () => {
    const batch = (events: ChangeEvent[]) => [ev(A, 'insert', null, [1n, 5, '1.50']), ...events];
    const later = [ev(A, 'insert', null, [2n, 5, '2.25']), ev(A, 'insert', null, [3n, 7, '1.00'])];
    const emittedBy = (sinkColumns: string, select: string, sinkWith?: string) => {
      const { feed, emitted } = job(sinkColumns, select, undefined, '', sinkWith);
      feed(batch([]));
      feed(later);
      const changed = emitted();
      feed([ev(A, 'delete', [3n, 7, '1.00'], null)]);
      return [...changed, ...emitted()];
    };
    // Keyed by the group's key (here in another column of the sink): the new row replaces the old one by it.
    expect(emittedBy('n BIGINT, k INT, PRIMARY KEY (k) NOT ENFORCED', 'SELECT COUNT(*), k FROM a GROUP BY k')).toEqual([
      'update - → 2,5',
      'insert - → 1,7',
      'delete 1,7 → -',
    ]);
    // Keyed by the count too: the new row has another key, so the old row must go.
    expect(
      emittedBy('k INT, n BIGINT, PRIMARY KEY (k, n) NOT ENFORCED', 'SELECT k, COUNT(*) FROM a GROUP BY k'),
    ).toEqual(['delete 5,1 → -', 'insert - → 5,2', 'insert - → 7,1', 'delete 7,1 → -']);
    // HAVING may drop a group's new row (here none passes at first): the sink gets the retraction, not the row.
    expect(
      emittedBy(
        'k INT, n BIGINT, PRIMARY KEY (k) NOT ENFORCED',
        'SELECT k, COUNT(*) FROM a GROUP BY k HAVING COUNT(*) < 2',
      ),
    ).toEqual(['delete 5,1 → -', 'insert - → 7,1', 'delete 7,1 → -']);
    // A log's readers get the changelog as it is.
    expect(
      emittedBy('k INT, n BIGINT, PRIMARY KEY (k) NOT ENFORCED', 'SELECT k, COUNT(*) FROM a GROUP BY k', LOG_SINK),
    ).toEqual(['delete 5,1 → -', 'insert - → 5,2', 'insert - → 7,1', 'delete 7,1 → -']);
  });

  it.each([
    ['in memory', undefined],
    ['read back from disk at every batch', 1],
  ])('a DOUBLE sum that overflowed to Infinity stays Infinity through a checkpoint (state %s)', async (_, cache) => {
    const { feed, restart } = job(
      'k INT, s DOUBLE, PRIMARY KEY (k) NOT ENFORCED',
      'SELECT k, SUM(CAST(v AS DOUBLE) * 1e306) FROM a GROUP BY k',
      cache,
    );
    expect(feed([ev(A, 'insert', null, [1n, 5, '100.00']), ev(A, 'insert', null, [2n, 5, '100.00'])])).toEqual([
      ['5', 'Infinity'],
    ]);
    await restart();
    expect(feed([ev(A, 'insert', null, [3n, 5, '1.00'])])).toEqual([['5', 'Infinity']]);
  });

  it('UNION ALL of branches tagged by a constant is unique on key + tag, and passes every change on', async () => {
    const { feed, restart } = job(
      'src STRING, id BIGINT, k INT, PRIMARY KEY (src, id) NOT ENFORCED',
      "SELECT 'a' AS src, id, k FROM a UNION ALL SELECT 'b', id, k FROM b",
    );
    feed([ev(A, 'insert', null, [1n, 5, '1.00']), ev(B, 'insert', null, [1n, 7])]);
    expect(feed([])).toEqual([
      ['a', '1', '5'],
      ['b', '1', '7'],
    ]);
    await restart();
    expect(feed([ev(B, 'update', [1n, 7], [1n, 8]), ev(A, 'delete', [1n, 5, '1.00'], null)])).toEqual([
      ['b', '1', '8'],
    ]);
  });

  it('refuses a sink key that a UNION ALL does not make unique', () => {
    expect(() =>
      job('id BIGINT, k INT, PRIMARY KEY (id) NOT ENFORCED', 'SELECT id, k FROM a UNION ALL SELECT id, k FROM b'),
    ).toThrow(/not unique on the PRIMARY KEY \(id\)/);
    // Tags that may be equal (a column, not a constant) prove nothing either.
    expect(() =>
      job(
        'src INT, id BIGINT, PRIMARY KEY (src, id) NOT ENFORCED',
        'SELECT k, id FROM a UNION ALL SELECT 2, id FROM b',
      ),
    ).toThrow(/not unique on the PRIMARY KEY/);
  });

  it('SELECT DISTINCT keeps a row while any copy of it exists, and takes it back with the last one', async () => {
    const { feed, restart } = job(
      'k INT, PRIMARY KEY (k) NOT ENFORCED',
      'SELECT DISTINCT k FROM a WHERE k IS NOT NULL',
    );
    feed([ev(A, 'insert', null, [1n, 5, '1.00']), ev(A, 'insert', null, [2n, 5, '2.00'])]);
    expect(feed([ev(A, 'insert', null, [3n, 6, '2.00'])])).toEqual([['5'], ['6']]);
    await restart();
    expect(feed([ev(A, 'delete', [1n, 5, '1.00'], null)])).toEqual([['5'], ['6']]);
    expect(feed([ev(A, 'update', [2n, 5, '2.00'], [2n, 6, '2.00'])])).toEqual([['6']]);
    expect(feed([ev(A, 'delete', [3n, 6, '2.00'], null), ev(A, 'delete', [2n, 6, '2.00'], null)])).toEqual([]);
    // A row the state never counted, taken back: the state does not match the source.
    expect(() => feed([ev(A, 'delete', [9n, 9, '1.00'], null)])).toThrow(/distinct state .* never saw/);
  });

  it('ROW_NUMBER() Top-N keeps the first N rows per partition, ranks them, and pulls the next one up', async () => {
    const { feed, restart, explain, emitted } = job(
      'k INT, rn BIGINT, id BIGINT, v DECIMAL(10, 2), PRIMARY KEY (k, rn) NOT ENFORCED',
      `SELECT k, rn, id, v FROM (SELECT id, k, v, ROW_NUMBER() OVER (PARTITION BY k ORDER BY v DESC, id) AS rn FROM a)
       WHERE rn <= 2`,
    );
    expect(explain()).toContain('TopN ROW_NUMBER() OVER (PARTITION BY k ORDER BY v DESC, id) <= 2');
    const sorted = (rows: (string | null)[][]) =>
      rows.sort((x, y) => `${x[0]}/${x[1]}`.localeCompare(`${y[0]}/${y[1]}`));
    feed([
      ev(A, 'insert', null, [1n, 1, '5.00']),
      ev(A, 'insert', null, [2n, 1, '7.00']),
      ev(A, 'insert', null, [3n, 1, '6.00']),
      ev(A, 'insert', null, [4n, 2, '1.00']),
    ]);
    expect(sorted(feed([]))).toEqual([
      ['1', '1', '2', '7.00'],
      ['1', '2', '3', '6.00'],
      ['2', '1', '4', '1.00'],
    ]);
    // A partition not full takes a row that sorts last.
    expect(sorted(feed([ev(A, 'insert', null, [5n, 2, '0.50'])]))).toEqual([
      ['1', '1', '2', '7.00'],
      ['1', '2', '3', '6.00'],
      ['2', '1', '4', '1.00'],
      ['2', '2', '5', '0.50'],
    ]);
    // A row below the top changes nothing downstream.
    feed([ev(A, 'update', [1n, 1, '5.00'], [1n, 1, '5.50'])]);
    expect(emitted()).toEqual([]);
    await restart();
    // The first row leaves: the others move up, the third comes in.
    expect(sorted(feed([ev(A, 'delete', [2n, 1, '7.00'], null)]))).toEqual([
      ['1', '1', '3', '6.00'],
      ['1', '2', '1', '5.50'],
      ['2', '1', '4', '1.00'],
      ['2', '2', '5', '0.50'],
    ]);
    // Ties on v are ranked by the rest of the ORDER BY; a row moves to the other partition.
    expect(
      sorted(feed([ev(A, 'insert', null, [9n, 1, '6.00']), ev(A, 'update', [4n, 2, '1.00'], [4n, 1, '9.00'])])),
    ).toEqual([
      ['1', '1', '4', '9.00'],
      ['1', '2', '3', '6.00'],
      ['2', '1', '5', '0.50'],
    ]);
  });

  it('RANK() and DENSE_RANK() give ties one rank, keep every row at the edge, and move ranks as rows come and go', () => {
    const query = (fn: string) =>
      `SELECT id, r FROM (SELECT id, ${fn}() OVER (ORDER BY v DESC) AS r FROM a) WHERE r <= 2`;
    const rank = job('id BIGINT, r BIGINT, PRIMARY KEY (id) NOT ENFORCED', query('RANK'));
    const dense = job('id BIGINT, r BIGINT, PRIMARY KEY (id) NOT ENFORCED', query('DENSE_RANK'));
    const rows = [
      ev(A, 'insert', null, [1n, 1, '9.00']),
      ev(A, 'insert', null, [2n, 1, '9.00']),
      ev(A, 'insert', null, [3n, 1, '8.00']),
      ev(A, 'insert', null, [4n, 1, '7.00']),
    ];
    const sorted = (r: (string | null)[][]) => r.sort((x, y) => Number(x[0]) - Number(y[0]));
    expect(sorted(rank.feed(rows))).toEqual([
      ['1', '1'],
      ['2', '1'],
    ]);
    expect(sorted(dense.feed(rows))).toEqual([
      ['1', '1'],
      ['2', '1'],
      ['3', '2'],
    ]);
    const change = [ev(A, 'delete', [1n, 1, '9.00'], null), ev(A, 'insert', null, [5n, 1, '8.00'])];
    expect(sorted(rank.feed(change))).toEqual([
      ['2', '1'],
      ['3', '2'],
      ['5', '2'],
    ]);
    expect(sorted(dense.feed(change))).toEqual([
      ['2', '1'],
      ['3', '2'],
      ['5', '2'],
    ]);
  });

  it('ORDER BY … LIMIT keeps the first rows of the whole result, without a rank', () => {
    const { feed } = job(
      'k INT, n BIGINT, PRIMARY KEY (k) NOT ENFORCED',
      'SELECT k, COUNT(*) AS n FROM a GROUP BY k ORDER BY n DESC, k LIMIT 2',
    );
    const rows = [1, 1, 1, 2, 2, 3].map((k, i) => ev(A, 'insert', null, [BigInt(i + 1), k, '1.00']));
    expect(feed(rows)).toEqual([
      ['1', '3'],
      ['2', '2'],
    ]);
    expect(feed([ev(A, 'insert', null, [7n, 3, '1.00']), ev(A, 'insert', null, [8n, 3, '1.00'])])).toEqual([
      ['1', '3'],
      ['3', '3'],
    ]);
    expect(feed([ev(A, 'delete', [1n, 1, '1.00'], null), ev(A, 'delete', [2n, 1, '1.00'], null)])).toEqual([
      ['3', '3'],
      ['2', '2'],
    ]);
  });

  it('refuses ROW_NUMBER() without a bound on it, and ORDER BY without LIMIT', () => {
    expect(() =>
      job(
        'id BIGINT, rn BIGINT, PRIMARY KEY (id) NOT ENFORCED',
        'SELECT id, ROW_NUMBER() OVER (ORDER BY v) AS rn FROM a',
      ),
    ).toThrow(/needs a bound on it in the query around/);
    expect(() => job('id BIGINT, PRIMARY KEY (id) NOT ENFORCED', 'SELECT id FROM a ORDER BY v')).toThrow(
      /ORDER BY without LIMIT/,
    );
    expect(() =>
      job('id BIGINT, r BIGINT, PRIMARY KEY (id) NOT ENFORCED', 'SELECT id, RANK() OVER (ORDER BY v) AS r FROM a'),
    ).toThrow(/RANK\(\) OVER \(…\) needs a bound/);
  });

  it('x IN (SELECT …) keeps a row while the subquery gives its value, however many times', async () => {
    const { feed, restart, explain } = job(
      'id BIGINT, k INT, PRIMARY KEY (id) NOT ENFORCED',
      'SELECT * FROM (SELECT id, k FROM a WHERE k IN (SELECT k FROM b WHERE id > 1) AND id < 100)',
    );
    expect(explain()).toMatch(/Join ON k IN \(SELECT k FROM b WHERE id > 1\)/);
    expect(explain()).toMatch(/Distinct/);
    feed([
      ev(A, 'insert', null, [1n, 5, '1.00']),
      ev(A, 'insert', null, [2n, 6, '1.00']),
      ev(A, 'insert', null, [3n, null, '1.00']),
      ev(A, 'insert', null, [200n, 5, '1.00']),
    ]);
    // b's id 1 is filtered out of the subquery; a NULL value meets nothing.
    expect(
      feed([ev(B, 'insert', null, [1n, 6]), ev(B, 'insert', null, [2n, 5]), ev(B, 'insert', null, [3n, null])]),
    ).toEqual([['1', '5']]);
    expect(feed([ev(B, 'insert', null, [4n, 5]), ev(B, 'insert', null, [5n, 6])])).toEqual([
      ['1', '5'],
      ['2', '6'],
    ]);
    await restart();
    // One of the two 5s goes: 5 is still there.
    expect(feed([ev(B, 'delete', [2n, 5], null)])).toEqual([
      ['1', '5'],
      ['2', '6'],
    ]);
    expect(feed([ev(B, 'delete', [4n, 5], null), ev(A, 'update', [2n, 6, '1.00'], [2n, 5, '1.00'])])).toEqual([]);
    expect(feed([ev(A, 'update', [2n, 5, '1.00'], [2n, 6, '1.00'])])).toEqual([['2', '6']]);
  });

  it('EXISTS and NOT EXISTS keep a row while the subquery has (or has no) row tied to it', async () => {
    const exists = job(
      'id BIGINT, PRIMARY KEY (id) NOT ENFORCED',
      'SELECT a.id FROM a WHERE EXISTS (SELECT 1 FROM b WHERE b.k = a.k AND b.id > 1) AND a.id < 100',
    );
    const missing = job(
      'id BIGINT, PRIMARY KEY (id) NOT ENFORCED',
      'SELECT a.id FROM a WHERE NOT EXISTS (SELECT * FROM b WHERE a.k = b.k AND b.id > 1)',
    );
    expect(missing.explain()).toMatch(/LeftJoin|left/i);
    const rows = [
      ev(A, 'insert', null, [1n, 5, '1.00']),
      ev(A, 'insert', null, [2n, 6, '1.00']),
      ev(A, 'insert', null, [3n, null, '1.00']),
    ];
    for (const j of [exists, missing]) j.feed(rows);
    const b = [ev(B, 'insert', null, [1n, 6]), ev(B, 'insert', null, [2n, 5]), ev(B, 'insert', null, [4n, 5])];
    expect(exists.feed(b)).toEqual([['1']]);
    expect(missing.feed(b).sort()).toEqual([['2'], ['3']]);
    await exists.restart();
    await missing.restart();
    const gone = [ev(B, 'delete', [2n, 5], null)];
    expect(exists.feed(gone)).toEqual([['1']]);
    expect(missing.feed(gone).sort()).toEqual([['2'], ['3']]);
    const last = [ev(B, 'delete', [4n, 5], null), ev(B, 'update', [1n, 6], [5n, 6])];
    expect(exists.feed(last)).toEqual([['2']]);
    expect(missing.feed(last).sort()).toEqual([['1'], ['3']]);
  });

  it('a scalar subquery: one value for every row, or one per row it is tied to; none reads as NULL, COUNT as 0', async () => {
    // Uncorrelated, in WHERE: the rows above b's average k.
    const above = job(
      'id BIGINT, PRIMARY KEY (id) NOT ENFORCED',
      'SELECT a.id FROM a WHERE a.k > (SELECT AVG(b.k) FROM b WHERE b.id < 100)',
    );
    // Correlated, in the select list: each row with how many b rows share its k, and their largest id.
    const counted = job(
      'id BIGINT, n BIGINT, top BIGINT, PRIMARY KEY (id) NOT ENFORCED',
      'SELECT a.id, (SELECT COUNT(*) FROM b WHERE b.k = a.k) AS n, (SELECT MAX(b.id) FROM b WHERE a.k = b.k) AS top FROM a',
    );
    expect(counted.explain()).toMatch(/LeftJoin|left/i);
    const rows = [
      ev(A, 'insert', null, [1n, 5, '1.00']),
      ev(A, 'insert', null, [2n, 6, '1.00']),
      ev(A, 'insert', null, [3n, null, '1.00']),
    ];
    // No b rows: no average (NULL: no row is above it); COUNT 0 and MAX NULL.
    expect(above.feed(rows)).toEqual([]);
    expect(counted.feed(rows).sort()).toEqual([
      ['1', '0', null],
      ['2', '0', null],
      ['3', '0', null],
    ]);
    const b = [ev(B, 'insert', null, [1n, 5]), ev(B, 'insert', null, [2n, 5]), ev(B, 'insert', null, [4n, 6])];
    // AVG 5.33: only a.k 6 is above it.
    expect(above.feed(b)).toEqual([['2']]);
    expect(counted.feed(b).sort()).toEqual([
      ['1', '2', '2'],
      ['2', '1', '4'],
      ['3', '0', null],
    ]);
    await above.restart();
    await counted.restart();
    // b's 6 leaves and a 4 comes: AVG 4.67, both 5 and 6 are above; k 6 has no b row again.
    const next = [ev(B, 'update', [4n, 6], [4n, 4]), ev(B, 'insert', null, [500n, 1])];
    expect(above.feed(next).sort()).toEqual([['1'], ['2']]);
    expect(counted.feed(next).sort()).toEqual([
      ['1', '2', '2'],
      ['2', '0', null],
      ['3', '0', null],
    ]);
    // Every b row within the filter gone: no average again.
    expect(
      above.feed([ev(B, 'delete', [1n, 5], null), ev(B, 'delete', [2n, 5], null), ev(B, 'delete', [4n, 4], null)]),
    ).toEqual([]);
  });

  it('refuses a scalar subquery that is not one aggregate, or computes on a COUNT', () => {
    const sink = 'id BIGINT, PRIMARY KEY (id) NOT ENFORCED';
    expect(() => job(sink, 'SELECT a.id FROM a WHERE a.k = (SELECT b.k FROM b WHERE b.id = a.id)')).toThrow(
      /a scalar subquery is built as one aggregate without GROUP BY/,
    );
    expect(() => job(sink, 'SELECT a.id FROM a WHERE a.k = (SELECT MAX(b.k) FROM b GROUP BY b.id)')).toThrow(
      /one aggregate without GROUP BY/,
    );
    expect(() => job(sink, 'SELECT a.id FROM a WHERE a.k < (SELECT COUNT(*) + 1 FROM b)')).toThrow(
      /selects the COUNT alone/,
    );
    expect(() => job(sink, 'SELECT a.id FROM a WHERE a.k < (SELECT MAX(b.k) FROM b WHERE b.k > a.k)')).toThrow(
      /a scalar subquery ties its rows to the outer row with equalities only/,
    );
    expect(() => job(sink, 'SELECT a.id FROM a JOIN b ON a.k = b.k AND a.id > (SELECT MAX(c.k) FROM b AS c)')).toThrow(
      /a scalar subquery \(SELECT …\) is built in WHERE, HAVING and the select list/,
    );
    const grouped = 'k INT, n BIGINT, PRIMARY KEY (k) NOT ENFORCED';
    // In a grouped query it does not read the grouped row: the error shows the query that does.
    expect(() =>
      job(
        grouped,
        'SELECT a.k, COUNT(*) FROM a GROUP BY a.k HAVING COUNT(*) > (SELECT COUNT(*) FROM b WHERE b.k = a.k)',
      ),
    ).toThrow(/does not read the grouped row \(a\.k\)/);
    expect(() =>
      job(grouped, 'SELECT DISTINCT k, COUNT(*) FROM a GROUP BY k HAVING COUNT(*) > (SELECT COUNT(*) FROM b)'),
    ).toThrow(/built without DISTINCT, ORDER BY … LIMIT and ranking functions/);
  });

  it('a scalar subquery in HAVING and in a grouped select list: groups come and go as its value moves', async () => {
    const { feed, restart } = job(
      'k INT, n BIGINT, d BIGINT, PRIMARY KEY (k) NOT ENFORCED',
      'SELECT k, COUNT(*), COUNT(*) - (SELECT MAX(b.k) FROM b) FROM a GROUP BY k HAVING COUNT(*) >= (SELECT COUNT(*) FROM b)',
    );
    // k 5 three times, k 6 once; b empty: the bar is 0 (a COUNT of nothing), the difference NULL (a MAX of nothing).
    const rows = [1n, 2n, 3n].map((id) => ev(A, 'insert', null, [id, 5, '1.00']));
    expect(feed([...rows, ev(A, 'insert', null, [4n, 6, '1.00'])]).sort()).toEqual([
      ['5', '3', null],
      ['6', '1', null],
    ]);
    // Two b rows: k 6 falls below the bar; the difference follows b's MAX.
    expect(feed([ev(B, 'insert', null, [1n, 1]), ev(B, 'insert', null, [2n, 2])])).toEqual([['5', '3', '1']]);
    await restart();
    // b's MAX rises, a's k 6 catches up with the bar.
    expect(feed([ev(B, 'update', [2n, 2], [2n, 3]), ev(A, 'insert', null, [5n, 6, '1.00'])]).sort()).toEqual([
      ['5', '3', '0'],
      ['6', '2', '-1'],
    ]);
  });

  it('refuses an EXISTS not tied to the outer row by equalities', () => {
    const sink = 'id BIGINT, PRIMARY KEY (id) NOT ENFORCED';
    expect(() => job(sink, 'SELECT a.id FROM a WHERE EXISTS (SELECT 1 FROM b WHERE b.id > 1)')).toThrow(
      /an EXISTS that no equality ties to the outer row is not built/,
    );
    expect(() => job(sink, 'SELECT a.id FROM a WHERE EXISTS (SELECT 1 FROM b WHERE b.k > a.k)')).toThrow(
      /with equalities only/,
    );
    expect(() => job(sink, 'SELECT a.id FROM a WHERE EXISTS (SELECT 1 FROM b WHERE b.k = a.k) OR a.id = 1')).toThrow(
      /EXISTS \(SELECT …\) is built only as a condition of WHERE/,
    );
  });

  it("NOT IN (SELECT …) keeps SQL's NULLs: no row when x or any value is NULL, every row while the subquery is empty", async () => {
    const { feed, restart } = job(
      'id BIGINT, PRIMARY KEY (id) NOT ENFORCED',
      'SELECT a.id FROM a WHERE a.k NOT IN (SELECT b.k FROM b WHERE b.id < 100) AND a.id < 100',
    );
    // The subquery has no row: every row, a NULL k too.
    expect(
      feed([
        ev(A, 'insert', null, [1n, 5, '1.00']),
        ev(A, 'insert', null, [2n, 6, '1.00']),
        ev(A, 'insert', null, [3n, null, '1.00']),
        ev(A, 'insert', null, [200n, 7, '1.00']),
        ev(B, 'insert', null, [500n, 5]),
      ]),
    ).toEqual([['1'], ['2'], ['3']]);
    // 5 in it: 1 goes; the NULL k is unknown once the subquery has a row.
    expect(feed([ev(B, 'insert', null, [1n, 5])])).toEqual([['2']]);
    await restart();
    // A NULL among the values: nothing is surely not in it.
    expect(feed([ev(B, 'insert', null, [2n, null])])).toEqual([]);
    expect(feed([ev(B, 'update', [2n, null], [2n, 9])])).toEqual([['2']]);
    // Emptied again: every row.
    expect(feed([ev(B, 'delete', [1n, 5], null), ev(B, 'delete', [2n, 9], null)]).sort()).toEqual([
      ['1'],
      ['2'],
      ['3'],
    ]);
  });

  it('INTERSECT and EXCEPT keep a row of the first side while the second holds it (or does not), NULL equal to NULL', async () => {
    // Rows of the first side, each once: unique on its key (id).
    const both = job(
      'id BIGINT, k INT, PRIMARY KEY (id) NOT ENFORCED',
      'SELECT id, k FROM a INTERSECT SELECT id, k FROM b',
    );
    const only = job(
      'id BIGINT, k INT, PRIMARY KEY (id) NOT ENFORCED',
      'SELECT id, k FROM a EXCEPT SELECT id, k FROM b WHERE id < 100',
    );
    expect(both.explain()).toMatch(/Intersect/);
    expect(only.explain()).toMatch(/Except/);
    const rows = [
      ev(A, 'insert', null, [1n, 5, '1.00']),
      ev(A, 'insert', null, [2n, 6, '1.00']),
      ev(A, 'insert', null, [3n, null, '1.00']),
      ev(A, 'insert', null, [4n, 7, '1.00']),
      ev(A, 'insert', null, [200n, 8, '1.00']),
      ev(B, 'insert', null, [1n, 5]),
      ev(B, 'insert', null, [3n, null]),
      ev(B, 'insert', null, [5n, 7]),
      ev(B, 'insert', null, [200n, 8]),
    ];
    expect(both.feed(rows).sort()).toEqual([
      ['1', '5'],
      ['200', '8'],
      ['3', null],
    ]);
    // b's 200 is filtered out of EXCEPT's second side: a's stays.
    expect(only.feed(rows).sort()).toEqual([
      ['2', '6'],
      ['200', '8'],
      ['4', '7'],
    ]);
    await both.restart();
    await only.restart();
    const next = [ev(A, 'delete', [1n, 5, '1.00'], null), ev(B, 'delete', [3n, null], null)];
    expect(both.feed(next)).toEqual([['200', '8']]);
    expect(only.feed(next).sort()).toEqual([
      ['2', '6'],
      ['200', '8'],
      ['3', null],
      ['4', '7'],
    ]);
    const last = [ev(B, 'update', [5n, 7], [4n, 7])];
    expect(both.feed(last).sort()).toEqual([
      ['200', '8'],
      ['4', '7'],
    ]);
    expect(only.feed(last).sort()).toEqual([
      ['2', '6'],
      ['200', '8'],
      ['3', null],
    ]);
    // A copy the second side never held, taken back (its row is counted on the first side), and a row neither saw.
    expect(() => both.feed([ev(B, 'delete', [2n, 6], null)])).toThrow(/intersect state .* never saw/);
    expect(() => only.feed([ev(A, 'delete', [9n, 9, '1.00'], null)])).toThrow(/except state .* never saw/);
  });

  it("INTERSECT ALL and EXCEPT ALL keep as many copies as the two sides' counts leave, through a checkpoint", async () => {
    const counted = (op: string) =>
      job(
        'k INT, n BIGINT, PRIMARY KEY (k) NOT ENFORCED',
        `SELECT k, COUNT(*) FROM (SELECT k FROM a WHERE k IS NOT NULL ${op} SELECT k FROM b WHERE k IS NOT NULL) AS t GROUP BY k`,
      );
    const both = counted('INTERSECT ALL');
    const only = counted('EXCEPT ALL');
    expect(both.explain()).toMatch(/Intersect All/);
    expect(only.explain()).toMatch(/Except All/);
    // a: 5 three times, 6 once, 7 twice; b: 5 twice, 6 twice, 8 once.
    const rows = [
      ...[1n, 2n, 3n].map((id) => ev(A, 'insert', null, [id, 5, '1.00'])),
      ev(A, 'insert', null, [4n, 6, '1.00']),
      ev(A, 'insert', null, [5n, 7, '1.00']),
      ev(A, 'insert', null, [6n, 7, '1.00']),
      ev(B, 'insert', null, [1n, 5]),
      ev(B, 'insert', null, [2n, 5]),
      ev(B, 'insert', null, [3n, 6]),
      ev(B, 'insert', null, [4n, 6]),
      ev(B, 'insert', null, [5n, 8]),
    ];
    expect(both.feed(rows).sort()).toEqual([
      ['5', '2'],
      ['6', '1'],
    ]);
    expect(only.feed(rows).sort()).toEqual([
      ['5', '1'],
      ['7', '2'],
    ]);
    await both.restart();
    await only.restart();
    // b loses a 5, a gains a 6, and one of a's 7s becomes an 8.
    const next = [
      ev(B, 'delete', [1n, 5], null),
      ev(A, 'insert', null, [7n, 6, '1.00']),
      ev(A, 'update', [5n, 7, '1.00'], [5n, 8, '1.00']),
    ];
    expect(both.feed(next).sort()).toEqual([
      ['5', '1'],
      ['6', '2'],
      ['8', '1'],
    ]);
    expect(only.feed(next).sort()).toEqual([
      ['5', '2'],
      ['7', '1'],
    ]);
    expect(() => both.feed([ev(B, 'delete', [9n, 9], null)])).toThrow(/intersect state .* never saw/);
  });

  it('refuses INTERSECT ALL into a key its copies share, and set operations mixed in one query', () => {
    const sink = 'k INT, PRIMARY KEY (k) NOT ENFORCED';
    expect(() => job(sink, 'SELECT k FROM a INTERSECT ALL SELECT k FROM b')).toThrow(/not unique on the PRIMARY KEY/);
    // The first side's key stays a key: its rows are there once at most.
    expect(() =>
      job('id BIGINT, k INT, PRIMARY KEY (id) NOT ENFORCED', 'SELECT id, k FROM a EXCEPT ALL SELECT id, k FROM b'),
    ).not.toThrow();
    expect(() => job(sink, 'SELECT k FROM a EXCEPT SELECT k FROM b EXCEPT ALL SELECT k FROM a')).toThrow(
      /EXCEPT and EXCEPT ALL are mixed in one query/,
    );
    expect(() => job(sink, 'SELECT k FROM a UNION SELECT k FROM b EXCEPT SELECT k FROM a')).toThrow(
      /UNION and EXCEPT are mixed in one query/,
    );
  });

  it('refuses IN (SELECT …) outside WHERE, and a subquery of two columns', () => {
    const sink = 'id BIGINT, PRIMARY KEY (id) NOT ENFORCED';
    expect(() => job(sink, 'SELECT id FROM a WHERE k NOT IN (SELECT k FROM b GROUP BY k)')).toThrow(
      /NOT IN takes a plain SELECT/,
    );
    expect(() => job(sink, 'SELECT id FROM a WHERE k IN (SELECT k FROM b) OR id = 1')).toThrow(
      /only as a condition of WHERE, joined to the others with AND/,
    );
    expect(() => job(sink, 'SELECT id FROM a WHERE k IN (SELECT k, id FROM b)')).toThrow(/a SELECT of one column/);
  });

  it('computed columns of a source table are computed from its row, usable as any column (and not read from the source)', async () => {
    const { feed, restart, explain } = job(
      'id BIGINT, total DECIMAL(12, 2), band STRING, PRIMARY KEY (id) NOT ENFORCED',
      'SELECT id, total, band FROM ac WHERE total > 1',
      undefined,
      `CREATE TABLE ac (id BIGINT, k INT, v DECIMAL(10, 2), total AS v * 2, band AS CASE WHEN k > 5 THEN 'high' ELSE 'low' END,
         PRIMARY KEY (id) NOT ENFORCED) WITH (${SOURCE('a')});`,
    );
    expect(explain()).toMatch(/Project id AS id, k AS k, v AS v, v \* 2 AS total, CASE .* AS band/);
    expect(feed([ev(AC, 'insert', null, [1n, 7, '3.50']), ev(AC, 'insert', null, [2n, 1, '0.25'])])).toEqual([
      ['1', '7.00', 'high'],
    ]);
    await restart();
    expect(
      feed([ev(AC, 'update', [1n, 7, '3.50'], [1n, 2, '4.00']), ev(AC, 'update', [2n, 1, '0.25'], [2n, 1, '1.00'])]),
    ).toEqual([
      ['1', '8.00', 'low'],
      ['2', '2.00', 'low'],
    ]);
  });

  it('refuses PROCTIME(), a computed primary key and a computed column of a sink table', () => {
    const sink = 'id BIGINT, PRIMARY KEY (id) NOT ENFORCED';
    const source = (columns: string) => `CREATE TABLE ac (${columns}) WITH (${SOURCE('a')});`;
    expect(() =>
      job(sink, 'SELECT id FROM ac', undefined, source('id BIGINT, pt AS PROCTIME(), PRIMARY KEY (id) NOT ENFORCED')),
    ).toThrow(/PROCTIME\(\) is not built/);
    expect(() =>
      job(sink, 'SELECT id FROM ac', undefined, source('id BIGINT, k AS id + 1, PRIMARY KEY (k) NOT ENFORCED')),
    ).toThrow(/the primary key names k, a computed column/);
    expect(() => job('id BIGINT, d AS id * 2, PRIMARY KEY (id) NOT ENFORCED', 'SELECT id FROM a')).toThrow(
      /is a computed column/,
    );
  });

  it('a subquery in FROM and a view plan like the query written out', () => {
    const sub = job(
      'k INT, n BIGINT, PRIMARY KEY (k) NOT ENFORCED',
      'SELECT s.k, COUNT(*) FROM (SELECT id, k FROM a WHERE v > 0) AS s GROUP BY s.k',
    );
    const view = job(
      'k INT, n BIGINT, PRIMARY KEY (k) NOT ENFORCED',
      'SELECT p.k, COUNT(*) FROM pos p GROUP BY p.k',
      undefined,
      'CREATE TEMPORARY VIEW pos AS SELECT id, k FROM a WHERE v > 0;',
    );
    // A common table that names one before it, and a body that names both.
    const common = job(
      'k INT, n BIGINT, PRIMARY KEY (k) NOT ENFORCED',
      'WITH rows_a AS (SELECT id, k, v FROM a), pos AS (SELECT id, k FROM rows_a WHERE v > 0) ' +
        'SELECT p.k, COUNT(*) FROM pos p JOIN rows_a r ON p.id = r.id GROUP BY p.k',
    );
    for (const { feed } of [sub, view, common]) {
      feed([ev(A, 'insert', null, [1n, 5, '1.00']), ev(A, 'insert', null, [2n, 5, '-2.00'])]);
      expect(feed([ev(A, 'insert', null, [3n, 5, '2.00'])])).toEqual([['5', '2']]);
      expect(feed([ev(A, 'update', [2n, 5, '-2.00'], [2n, 5, '3.00'])])).toEqual([['5', '3']]);
    }
  });

  it('TUMBLE windows count rows per window, and a row moved, deleted or late changes its windows in place', async () => {
    const { feed, restart, explain } = job(
      'ws TIMESTAMP(3), we TIMESTAMP(3), n BIGINT, total INT, PRIMARY KEY (ws, we) NOT ENFORCED',
      'SELECT window_start, window_end, COUNT(*), SUM(amount) ' +
        "FROM TABLE(TUMBLE(TABLE e, DESCRIPTOR(ts), INTERVAL '10' MINUTES)) GROUP BY window_start, window_end",
    );
    expect(explain()).toContain('Window TUMBLE(ts, 10 min)');
    const row = (id: bigint, ts: string | null, amount: number) => [id, ts, null, amount];
    feed([
      ev(E, 'insert', null, row(1n, '2026-12-06 10:00:00.000', 1)),
      ev(E, 'insert', null, row(2n, '2026-12-06 10:09:59.999', 2)),
      ev(E, 'insert', null, row(3n, '2026-12-06 10:10:00.000', 4)),
      ev(E, 'insert', null, row(4n, null, 8)),
    ]);
    expect(feed([])).toEqual([
      ['2026-12-06 10:00:00.000', '2026-12-06 10:10:00.000', '2', '3'],
      ['2026-12-06 10:10:00.000', '2026-12-06 10:20:00.000', '1', '4'],
    ]);
    await restart();
    // Row 2 moves to the second window; a late row joins the first; row 3 leaves (its window empties).
    expect(
      feed([
        ev(E, 'update', row(2n, '2026-12-06 10:09:59.999', 2), row(2n, '2026-12-06 10:15:00.000', 2)),
        ev(E, 'insert', null, row(5n, '2026-12-06 10:01:00.000', 16)),
        ev(E, 'delete', row(3n, '2026-12-06 10:10:00.000', 4), null),
      ]),
    ).toEqual([
      ['2026-12-06 10:00:00.000', '2026-12-06 10:10:00.000', '2', '17'],
      ['2026-12-06 10:10:00.000', '2026-12-06 10:20:00.000', '1', '2'],
    ]);
  });

  it('the legacy GROUP BY TUMBLE(…) / HOP(…) with TUMBLE_START, _END and _ROWTIME groups as the window TVFs do', async () => {
    const { feed, restart, explain } = job(
      'ws TIMESTAMP(3), we TIMESTAMP(3), wt TIMESTAMP(3), k INT, n BIGINT, PRIMARY KEY (ws, k) NOT ENFORCED',
      "SELECT TUMBLE_START(ts, INTERVAL '10' MINUTES), TUMBLE_END(ts, INTERVAL '10' MINUTE), " +
        "TUMBLE_ROWTIME(ts, INTERVAL '600' SECONDS), amount % 2 AS k, COUNT(*) FROM e WHERE id > 0 " +
        "GROUP BY TUMBLE(ts, INTERVAL '10' MINUTES), amount % 2 HAVING COUNT(*) > 0",
    );
    expect(explain()).toContain('Window TUMBLE(ts, 10 min) of GROUP BY');
    const row = (id: bigint, ts: string | null, amount: number) => [id, ts, null, amount];
    feed([
      ev(E, 'insert', null, row(1n, '2026-12-06 10:00:00.000', 1)),
      ev(E, 'insert', null, row(2n, '2026-12-06 10:09:59.999', 3)),
      ev(E, 'insert', null, row(3n, '2026-12-06 10:10:00.000', 4)),
      ev(E, 'insert', null, row(4n, null, 8)),
    ]);
    expect(feed([])).toEqual([
      ['2026-12-06 10:00:00.000', '2026-12-06 10:10:00.000', '2026-12-06 10:09:59.999', '1', '2'],
      ['2026-12-06 10:10:00.000', '2026-12-06 10:20:00.000', '2026-12-06 10:19:59.999', '0', '1'],
    ]);
    await restart();
    expect(
      feed([ev(E, 'update', row(2n, '2026-12-06 10:09:59.999', 3), row(2n, '2026-12-06 10:15:00.000', 3))]).sort(
        (x, y) => `${x[0]}/${x[3]}`.localeCompare(`${y[0]}/${y[3]}`),
      ),
    ).toEqual([
      ['2026-12-06 10:00:00.000', '2026-12-06 10:10:00.000', '2026-12-06 10:09:59.999', '1', '1'],
      ['2026-12-06 10:10:00.000', '2026-12-06 10:20:00.000', '2026-12-06 10:19:59.999', '0', '1'],
      ['2026-12-06 10:10:00.000', '2026-12-06 10:20:00.000', '2026-12-06 10:19:59.999', '1', '1'],
    ]);
    const hop = job(
      'ws TIMESTAMP(3), n BIGINT, PRIMARY KEY (ws) NOT ENFORCED',
      "SELECT HOP_START(ts, INTERVAL '5' MINUTES, INTERVAL '10' MINUTES), COUNT(*) FROM e " +
        "GROUP BY HOP(ts, INTERVAL '5' MINUTES, INTERVAL '10' MINUTES)",
    );
    expect(hop.feed([ev(E, 'insert', null, row(1n, '2026-12-06 10:07:00.000', 1))])).toEqual([
      ['2026-12-06 10:00:00.000', '1'],
      ['2026-12-06 10:05:00.000', '1'],
    ]);
  });

  it('GROUP BY SESSION(ts, gap), k: rows of k less than the gap apart are one session; one between joins two, one leaving splits one', async () => {
    const { feed, restart, explain } = job(
      'k INT, ws TIMESTAMP(3), we TIMESTAMP(3), wt TIMESTAMP(3), n BIGINT, PRIMARY KEY (k, ws) NOT ENFORCED',
      "SELECT amount, SESSION_START(ts, INTERVAL '10' MINUTES), SESSION_END(ts, INTERVAL '10' MINUTES), " +
        "SESSION_ROWTIME(ts, INTERVAL '10' MINUTES), COUNT(*) FROM e GROUP BY amount, SESSION(ts, INTERVAL '10' MINUTES)",
    );
    expect(explain()).toContain('SessionWindow SESSION(ts, 10 min) PARTITION BY amount of GROUP BY');
    const row = (id: bigint, ts: string | null, amount: number) => [id, ts, null, amount];
    const t = (hm: string) => `2026-12-06 ${hm}:00.000`;
    const byStart = (rows: (string | null)[][]) =>
      rows.sort((x, y) => `${x[0]}/${x[1]}`.localeCompare(`${y[0]}/${y[1]}`));
    // amount 1: 10:00 and 10:09 one session, 10:25 another; amount 2 apart; a NULL time in none.
    feed([
      ev(E, 'insert', null, row(1n, t('10:00'), 1)),
      ev(E, 'insert', null, row(2n, t('10:09'), 1)),
      ev(E, 'insert', null, row(3n, t('10:25'), 1)),
      ev(E, 'insert', null, row(4n, t('10:05'), 2)),
      ev(E, 'insert', null, row(5n, null, 1)),
    ]);
    expect(byStart(feed([]))).toEqual([
      ['1', t('10:00'), t('10:19'), '2026-12-06 10:18:59.999', '2'],
      ['1', t('10:25'), t('10:35'), '2026-12-06 10:34:59.999', '1'],
      ['2', t('10:05'), t('10:15'), '2026-12-06 10:14:59.999', '1'],
    ]);
    await restart();
    // 10:17 is less than 10 minutes from 10:09 and from 10:25: the two sessions are one.
    expect(byStart(feed([ev(E, 'insert', null, row(6n, t('10:17'), 1))]))).toEqual([
      ['1', t('10:00'), t('10:35'), '2026-12-06 10:34:59.999', '4'],
      ['2', t('10:05'), t('10:15'), '2026-12-06 10:14:59.999', '1'],
    ]);
    // 10:09 leaves (to amount 2): 10:00 alone, 10:17 and 10:25 together; amount 2's session grows to 10:19.
    expect(byStart(feed([ev(E, 'update', row(2n, t('10:09'), 1), row(2n, t('10:09'), 2))]))).toEqual([
      ['1', t('10:00'), t('10:10'), '2026-12-06 10:09:59.999', '1'],
      ['1', t('10:17'), t('10:35'), '2026-12-06 10:34:59.999', '2'],
      ['2', t('10:05'), t('10:19'), '2026-12-06 10:18:59.999', '2'],
    ]);
  });

  it('the SESSION window TVF, TABLE t PARTITION BY k, gives each row its session as the GROUP BY form does', () => {
    const { feed, explain } = job(
      'k INT, ws TIMESTAMP(3), we TIMESTAMP(3), n BIGINT, PRIMARY KEY (k, ws, we) NOT ENFORCED',
      'SELECT amount, window_start, window_end, COUNT(*) FROM TABLE(SESSION(TABLE e PARTITION BY amount, ' +
        "DESCRIPTOR(ts), INTERVAL '10' MINUTES)) GROUP BY amount, window_start, window_end",
    );
    expect(explain()).toContain('SessionWindow SESSION(ts, 10 min) PARTITION BY amount');
    const row = (id: bigint, ts: string, amount: number) => [id, ts, null, amount];
    const t = (hm: string) => `2026-12-06 ${hm}:00.000`;
    feed([
      ev(E, 'insert', null, row(1n, t('10:00'), 1)),
      ev(E, 'insert', null, row(2n, t('10:18'), 1)),
      ev(E, 'insert', null, row(3n, t('10:05'), 2)),
    ]);
    expect(feed([ev(E, 'insert', null, row(4n, t('10:09'), 1))]).sort()).toEqual([
      ['1', t('10:00'), t('10:28'), '3'],
      ['2', t('10:05'), t('10:15'), '1'],
    ]);
    expect(() =>
      job(
        'n BIGINT, PRIMARY KEY (n) NOT ENFORCED',
        "SELECT COUNT(*) FROM TABLE(TUMBLE(TABLE e PARTITION BY amount, DESCRIPTOR(ts), INTERVAL '10' MINUTES))",
      ),
    ).toThrow(/TUMBLE takes no PARTITION BY/);
  });

  it('window joins, window Top-N and window deduplication run as a join and a Top-N on the window columns', async () => {
    const row = (id: bigint, ts: string, amount: number) => [id, ts, null, amount];
    const t = (hm: string) => `2026-12-06 ${hm}:00.000`;
    // Window join: the rows of one amount in the same 10-minute window, paired (Flink's window join).
    const joined = job(
      'l BIGINT, r BIGINT, ws TIMESTAMP(3), PRIMARY KEY (l, r) NOT ENFORCED',
      'SELECT L.id, R.id, L.window_start FROM ' +
        "(SELECT * FROM TABLE(TUMBLE(TABLE e, DESCRIPTOR(ts), INTERVAL '10' MINUTES))) L JOIN " +
        "(SELECT * FROM TABLE(TUMBLE(TABLE e, DESCRIPTOR(ts), INTERVAL '10' MINUTES))) R " +
        'ON L.amount = R.amount AND L.window_start = R.window_start AND L.window_end = R.window_end AND L.id < R.id',
    );
    // Window Top-N: per window, the largest amount (window deduplication is the same with ORDER BY the time).
    const top = job(
      'ws TIMESTAMP(3), we TIMESTAMP(3), id BIGINT, amount INT, PRIMARY KEY (ws, we) NOT ENFORCED',
      'SELECT window_start, window_end, id, amount FROM (SELECT window_start, window_end, id, amount, ROW_NUMBER() OVER ' +
        '(PARTITION BY window_start, window_end ORDER BY amount DESC) AS rn FROM ' +
        "TABLE(TUMBLE(TABLE e, DESCRIPTOR(ts), INTERVAL '10' MINUTES))) WHERE rn = 1",
    );
    const rows = [
      ev(E, 'insert', null, row(1n, t('10:01'), 5)),
      ev(E, 'insert', null, row(2n, t('10:08'), 5)),
      ev(E, 'insert', null, row(3n, t('10:12'), 5)),
      ev(E, 'insert', null, row(4n, t('10:03'), 7)),
    ];
    expect(joined.feed(rows)).toEqual([['1', '2', t('10:00')]]);
    expect(top.feed(rows).sort()).toEqual([
      [t('10:00'), t('10:10'), '4', '7'],
      [t('10:10'), t('10:20'), '3', '5'],
    ]);
    await joined.restart();
    await top.restart();
    // 3 moves into the first window: it pairs with 1 and 2; 4 leaves it.
    const next = [
      ev(E, 'update', row(3n, t('10:12'), 5), row(3n, t('10:09'), 5)),
      ev(E, 'delete', row(4n, t('10:03'), 7), null),
    ];
    expect(joined.feed(next).sort()).toEqual([
      ['1', '2', t('10:00')],
      ['1', '3', t('10:00')],
      ['2', '3', t('10:00')],
    ]);
    // The first window's top is a 5 now (1 and 2 tie: the row's values order them); the second is empty.
    expect(top.feed(next)).toEqual([[t('10:00'), t('10:10'), '1', '5']]);
  });

  it('refuses a group window function whose arguments are not the GROUP BY window, and a SESSION partitioned by an expression', () => {
    const sink = 'ws TIMESTAMP(3), n BIGINT, PRIMARY KEY (ws) NOT ENFORCED';
    expect(() =>
      job(
        sink,
        "SELECT TUMBLE_START(ts, INTERVAL '5' MINUTES), COUNT(*) FROM e GROUP BY TUMBLE(ts, INTERVAL '10' MINUTES)",
      ),
    ).toThrow(/TUMBLE_START's arguments are not those of the GROUP BY's TUMBLE/);
    expect(() =>
      job(
        sink,
        "SELECT SESSION_START(ts, INTERVAL '5' MINUTES), COUNT(*) FROM e GROUP BY SESSION(ts, INTERVAL '5' MINUTES), amount % 2",
      ),
    ).toThrow(/partitioned by the other GROUP BY items, which must be columns/);
    expect(() => job(sink, "SELECT ts + INTERVAL '5' MINUTES, COUNT(*) FROM e GROUP BY ts")).toThrow(
      /an INTERVAL is read only by a group window/,
    );
  });

  it('HOP puts a row in size / slide windows and CUMULATE in the growing windows of its period', () => {
    const hop = job(
      'ws TIMESTAMP(3), we TIMESTAMP(3), n BIGINT, PRIMARY KEY (ws, we) NOT ENFORCED',
      'SELECT window_start, window_end, COUNT(*) FROM TABLE(HOP(DATA => TABLE e, TIMECOL => DESCRIPTOR(ts), ' +
        "SLIDE => INTERVAL '5' MINUTES, SIZE => INTERVAL '15' MINUTES)) GROUP BY window_start, window_end",
    );
    expect(hop.feed([ev(E, 'insert', null, [1n, '2026-12-06 10:07:00.000', null, 1])])).toEqual([
      ['2026-12-06 09:55:00.000', '2026-12-06 10:10:00.000', '1'],
      ['2026-12-06 10:00:00.000', '2026-12-06 10:15:00.000', '1'],
      ['2026-12-06 10:05:00.000', '2026-12-06 10:20:00.000', '1'],
    ]);
    const cumulate = job(
      'ws TIMESTAMP(3), we TIMESTAMP(3), n BIGINT, PRIMARY KEY (ws, we) NOT ENFORCED',
      "SELECT window_start, window_end, COUNT(*) FROM TABLE(CUMULATE(TABLE e, DESCRIPTOR(ts), INTERVAL '1' HOUR, " +
        "INTERVAL '4' HOURS)) GROUP BY window_start, window_end",
    );
    expect(cumulate.feed([ev(E, 'insert', null, [1n, '2026-12-06 09:30:00.000', null, 1])])).toEqual([
      ['2026-12-06 08:00:00.000', '2026-12-06 10:00:00.000', '1'],
      ['2026-12-06 08:00:00.000', '2026-12-06 11:00:00.000', '1'],
      ['2026-12-06 08:00:00.000', '2026-12-06 12:00:00.000', '1'],
    ]);
  });

  it("a TIMESTAMP_LTZ time is windowed by the session's wall clock; window_time is the instant before the end", () => {
    const { feed } = job(
      'ws TIMESTAMP(3), wt TIMESTAMP_LTZ(3), n BIGINT, PRIMARY KEY (ws, wt) NOT ENFORCED',
      'SELECT window_start, window_time, COUNT(*) ' +
        "FROM TABLE(TUMBLE(TABLE e, DESCRIPTOR(tz), INTERVAL '1' DAY)) GROUP BY window_start, window_time",
      undefined,
      "SET 'table.local-time-zone' = 'Asia/Shanghai';",
    );
    // 2026-12-05 17:00Z is 2026-12-06 01:00 in Shanghai (UTC+8): the day window of the 6th there.
    expect(feed([ev(E, 'insert', null, [1n, null, '2026-12-05 17:00:00.000Z', 1])])).toEqual([
      ['2026-12-06 00:00:00.000', '2026-12-06 15:59:59.999Z', '1'],
    ]);
  });

  it('refuses a window over a column that is not a timestamp, and HOP with a slide that does not divide the size', () => {
    expect(() =>
      job(
        'ws TIMESTAMP(3), n BIGINT, PRIMARY KEY (ws) NOT ENFORCED',
        "SELECT window_start, COUNT(*) FROM TABLE(TUMBLE(TABLE e, DESCRIPTOR(amount), INTERVAL '1' HOUR)) GROUP BY window_start",
      ),
    ).toThrow(/the window's time column amount is int32/);
    expect(() =>
      job(
        'ws TIMESTAMP(3), n BIGINT, PRIMARY KEY (ws) NOT ENFORCED',
        "SELECT window_start, COUNT(*) FROM TABLE(HOP(TABLE e, DESCRIPTOR(ts), INTERVAL '7' MINUTES, INTERVAL '15' MINUTES)) GROUP BY window_start",
      ),
    ).toThrow(/slide of a HOP window must divide its size/);
  });

  it('warns once per table when the source marks a change snapshotPending (its merge could not make it exact)', () => {
    const { feed, warnings } = job(
      'k INT, n BIGINT, PRIMARY KEY (k) NOT ENFORCED',
      'SELECT k, COUNT(*) FROM a GROUP BY k',
    );
    feed([ev(A, 'read', null, [1n, 5, '1.00']), ev(A, 'insert', null, [2n, 5, '1.00'])]);
    expect(warnings).toEqual([]);
    const pending = (event: DataChangeEvent): DataChangeEvent => ({
      ...event,
      source: { tsMs: 0, snapshotPending: true },
    });
    feed([pending(ev(A, 'insert', null, [3n, 5, '1.00'])), pending(ev(A, 'insert', null, [4n, 5, '1.00']))]);
    expect(warnings).toHaveLength(1);
    expect(warnings[0]).toMatch(/^db\.a was written to while its snapshot was read: .* --reset/);
  });

  it('UNION (without ALL) of different types: the common type, each value once', () => {
    const { feed } = job(
      'k BIGINT, PRIMARY KEY (k) NOT ENFORCED',
      'SELECT u.k FROM (SELECT k FROM a UNION SELECT id FROM b) AS u WHERE u.k IS NOT NULL',
    );
    feed([ev(A, 'insert', null, [1n, 5, '1.00']), ev(B, 'insert', null, [5n, 1])]);
    expect(feed([ev(B, 'insert', null, [6n, 1])])).toEqual([['5'], ['6']]);
    expect(feed([ev(B, 'delete', [5n, 1], null)])).toEqual([['5'], ['6']]);
    expect(feed([ev(A, 'delete', [1n, 5, '1.00'], null)])).toEqual([['6']]);
  });

  it('refuses state saved by another query', () => {
    const one = job('k INT, n BIGINT, PRIMARY KEY (k) NOT ENFORCED', 'SELECT k, COUNT(*) FROM a GROUP BY k');
    one.feed([ev(A, 'insert', null, [1n, 1, '1.00'])]);
    const text = `CREATE TABLE a (id BIGINT, k INT, v DECIMAL(10, 2), PRIMARY KEY (id) NOT ENFORCED) WITH (${SOURCE('a')});
CREATE TABLE r (k INT, n BIGINT, PRIMARY KEY (k) NOT ENFORCED) WITH ('connector' = 'jdbc', 'table-name' = 'r');
INSERT INTO r SELECT k, COUNT(v) FROM a GROUP BY k;`;
    const { session, statements } = SqlSession.parse(text);
    statements.forEach((s) => session.declare(s));
    const plan = planInsert(text, statements[2] as InsertStatement, session.tables, { timeZone: 'UTC' });
    const other = new SqlOperator(
      [{ plan, sources: [], sinkSchema: { id: tableId('', 'r'), columns: [], primaryKey: [] } }],
      'UTC',
    );
    expect(() => other.restoreState({ stage: 'sql', version: 2, plan: 'another', state: {} })).toThrow(
      /changed since the job last committed/,
    );
  });

  const joinCount = () =>
    job(
      'k INT, n BIGINT, s DECIMAL(38, 2), PRIMARY KEY (k) NOT ENFORCED',
      'SELECT b.k, COUNT(*), SUM(a.v) FROM a JOIN b ON a.k = b.k GROUP BY b.k',
      1,
    );

  it('after a crash between the sink commit and the state file commit, the restart catches up from the checkpoint', async () => {
    const { feed, restart } = joinCount();
    feed([
      ev(B, 'insert', null, [1n, 1]),
      ev(A, 'insert', null, [1n, 1, '1.00']),
      ev(A, 'insert', null, [2n, 1, '2.00']),
    ]);
    await restart();
    feed([
      ev(A, 'insert', null, [3n, 1, '4.00']),
      ev(B, 'insert', null, [2n, 2]),
      ev(A, 'insert', null, [4n, 2, '8.00']),
    ]);
    await restart({ crash: true });
    expect(feed([ev(A, 'delete', [1n, 1, '1.00'], null)]).sort()).toEqual([
      ['1', '2', '6.00'],
      ['2', '1', '8.00'],
    ]);
    await restart({ crash: true });
    expect(feed([ev(A, 'update', [4n, 2, '8.00'], [4n, 1, '8.00'])])).toEqual([['1', '3', '14.00']]);
  });

  it('refuses a state file that is not at the checkpoint it resumes from (SQL_STATE_MISMATCH, naming --reset)', async () => {
    const { feed, restart, checkpoint } = joinCount();
    feed([ev(B, 'insert', null, [1n, 1]), ev(A, 'insert', null, [1n, 1, '1.00'])]);
    const first = await checkpoint();
    feed([ev(A, 'insert', null, [2n, 1, '2.00'])]);
    await checkpoint();
    // The sink went back to an older checkpoint than the file holds (a restored backup, another sink).
    const refused = expect.objectContaining({ code: 'SQL_STATE_MISMATCH', hint: expect.stringContaining('--reset') });
    await expect(restart({ from: first })).rejects.toThrow(refused);
    const lost = joinCount();
    lost.feed([ev(B, 'insert', null, [1n, 1])]);
    const ahead = await lost.checkpoint(false);
    // The state file is two checkpoints behind (deleted, or copied from elsewhere): no delta bridges that.
    await expect(lost.restart({ from: { ...ahead, state: { version: 2, parts: [] } } })).rejects.toThrow(refused);
  });

  it("refuses a checkpoint in the state format of an earlier version (a join key's rows as one entry)", async () => {
    const { feed, restart, checkpoint } = joinCount();
    feed([ev(B, 'insert', null, [1n, 1]), ev(A, 'insert', null, [1n, 1, '1.00'])]);
    const old = { ...(await checkpoint()), version: 2 };
    await expect(restart({ from: old })).rejects.toThrow(
      expect.objectContaining({ code: 'SQL_STATE_MISMATCH', hint: expect.stringContaining('--reset') }),
    );
  });

  it('with no checkpoint to resume from, empties a state file left from before and starts from nothing', async () => {
    const { feed, checkpoint, startOver } = joinCount();
    feed([ev(B, 'insert', null, [1n, 1]), ev(A, 'insert', null, [1n, 1, '1.00'])]);
    await checkpoint();
    await startOver();
    expect(feed([ev(A, 'insert', null, [2n, 1, '2.00'])])).toEqual([]);
    expect(feed([ev(B, 'insert', null, [1n, 1])])).toEqual([['1', '1', '2.00']]);
  });

  it("a join's sides keep only the columns read (the join keys, the columns read above, the tables' keys): its stored rows hold no others", async () => {
    const { feed, checkpoint, explain } = job(
      'k INT, n BIGINT, PRIMARY KEY (k) NOT ENFORCED',
      'SELECT b.k, COUNT(*) FROM a JOIN b ON a.k = b.k GROUP BY b.k',
      undefined,
      NO_EAGER_AGGREGATION,
    );
    expect(explain()).toContain('Scan a [id, k] (2 of 3 columns)');
    expect(explain()).toContain('Join ON a.k = b.k → [b.k]');
    feed([ev(B, 'insert', null, [1n, 5]), ev(A, 'insert', null, [1n, 5, '1.00'])]);
    expect(feed([ev(A, 'insert', null, [2n, 5, '2.00'])])).toEqual([['5', '2']]);
    // An update of a column nobody reads changes nothing.
    expect(feed([ev(A, 'update', [2n, 5, '2.00'], [2n, 5, '9.00'])])).toEqual([['5', '2']]);
    const { delta } = committedArrays((await checkpoint()).state as CommittedState);
    // Each side is unique on its key and inner: an entry is its row alone (see joinEntryCodec).
    const stored = (name: string) => delta[name]!.map(([, , value]) => JSON.parse(value!) as unknown[]);
    expect(stored('2.left')).toEqual([
      [1, 5],
      [2, 5],
    ]);
    expect(stored('2.right')).toEqual([[1, 5]]);
    expect(feed([ev(A, 'delete', [1n, 5, '1.00'], null)])).toEqual([['5', '1']]);
  });

  it('a query that reads every column narrows nothing, and joins as before', () => {
    const { feed, explain } = job(
      'id BIGINT, k INT, v DECIMAL(10, 2), bid BIGINT, bk INT, PRIMARY KEY (id, bid) NOT ENFORCED',
      'SELECT * FROM a JOIN b ON a.k = b.k',
    );
    expect(explain()).not.toMatch(/→|columns\)/);
    feed([ev(B, 'insert', null, [1n, 5]), ev(A, 'insert', null, [1n, 5, '1.00'])]);
    expect(feed([ev(A, 'update', [1n, 5, '1.00'], [1n, 5, '2.00'])])).toEqual([['1', '5', '2.00', '1', '5']]);
  });

  it('a column read only by WHERE above a join is kept through the join, and filters rows in and out', () => {
    const { feed, explain } = job(
      'aid BIGINT, bid BIGINT, PRIMARY KEY (aid, bid) NOT ENFORCED',
      'SELECT a.id, b.id FROM a JOIN b ON a.k = b.k WHERE a.v > 1',
    );
    expect(explain()).toContain('→ [a.id, a.v, b.id]');
    expect(feed([ev(B, 'insert', null, [1n, 5]), ev(A, 'insert', null, [1n, 5, '0.50'])])).toEqual([]);
    expect(feed([ev(A, 'update', [1n, 5, '0.50'], [1n, 5, '2.00'])])).toEqual([['1', '1']]);
    expect(feed([ev(A, 'update', [1n, 5, '2.00'], [1n, 5, '0.75'])])).toEqual([]);
  });

  it('a 3-way join keeps the key of the inner join for the outer one, pads and unpads narrowed rows', async () => {
    const { feed, restart, explain } = job(
      'id BIGINT, n BIGINT, PRIMARY KEY (id) NOT ENFORCED',
      'SELECT a.id, COUNT(c.id) FROM a LEFT JOIN b ON a.k = b.k LEFT JOIN a c ON c.id = b.id GROUP BY a.id',
      1,
    );
    expect(explain()).toContain('LeftOuterJoin ON a.k = b.k → [a.id, b.id]');
    expect(feed([ev(A, 'insert', null, [1n, 5, '1.00'])])).toEqual([['1', '0']]);
    expect(feed([ev(B, 'insert', null, [1n, 5])])).toEqual([['1', '1']]);
    await restart();
    expect(feed([ev(B, 'update', [1n, 5], [1n, 6])])).toEqual([['1', '0']]);
    expect(feed([ev(A, 'update', [1n, 5, '1.00'], [1n, 6, '1.00'])])).toEqual([['1', '1']]);
  });

  it('a postgres-cdc update whose old row is the key alone is applied, though the columns read look unchanged', () => {
    const C: TableSchema = {
      id: tableId('db', 'c'),
      columns: [
        { name: 'id', type: { kind: 'int64' }, nullable: false },
        { name: 'a', type: { kind: 'string' }, nullable: true },
        { name: 'b', type: { kind: 'string' }, nullable: true },
      ],
      primaryKey: ['id'],
    };
    const { feed, explain } = job(
      'id BIGINT, a STRING, PRIMARY KEY (id) NOT ENFORCED',
      'SELECT id, a FROM c',
      undefined,
      `CREATE TABLE c (id BIGINT, a STRING, b STRING, PRIMARY KEY (id) NOT ENFORCED) WITH ('connector' = 'postgres-cdc', 'hostname' = 'h', 'username' = 'u', 'database-name' = 'db', 'schema-name' = 'db', 'table-name' = 'c');`,
    );
    expect(explain()).toContain('Scan c [id, a] (2 of 3 columns)');
    feed([{ kind: 'schema', table: C.id, change: 'createTable', schema: C, source: { tsMs: 0 } }]);
    expect(feed([ev(C, 'insert', null, [1n, 'x', 'q'])])).toEqual([['1', 'x']]);
    // Without REPLICA IDENTITY FULL the old row is the key, its other columns NULL: `a` went from 'x' to NULL.
    expect(feed([ev(C, 'update', [1n, null, null], [1n, null, 'q'])])).toEqual([['1', null]]);
  });

  describe('a group keyed by the unique key among its GROUP BY columns (a.id of a.id, a.k)', () => {
    const grouped = 'SELECT a.id, a.k, COUNT(b.id) FROM a JOIN b ON a.k = b.k GROUP BY a.id, a.k';
    const bs = [ev(B, 'insert', null, [1n, 5]), ev(B, 'insert', null, [2n, 5]), ev(B, 'insert', null, [3n, 7])];

    it.each([
      ['in memory', undefined],
      ['read back from disk at every batch', 1],
    ])(
      'takes the new values of the key row, in a sink keyed by the key or by all the columns (state %s)',
      async (_, cache) => {
        const byId = job('id BIGINT, k INT, n BIGINT, PRIMARY KEY (id) NOT ENFORCED', grouped, cache);
        const byAll = job('id BIGINT, k INT, n BIGINT, PRIMARY KEY (id, k) NOT ENFORCED', grouped, cache);
        expect(byId.explain()).toContain('(state: accumulators per group by a.id)');
        for (const { feed, restart } of [byId, byAll]) {
          feed(bs);
          expect(feed([ev(A, 'insert', null, [1n, 5, '1.00']), ev(A, 'insert', null, [2n, 7, '1.00'])])).toEqual([
            ['1', '5', '2'],
            ['2', '7', '1'],
          ]);
          await restart();
          // a.k of row 1 moves from 5 to 7: its group is the same (a.id), its k and count new — in the sink keyed by
          // (id, k) the old row is taken back, not left beside the new one.
          expect(feed([ev(A, 'update', [1n, 5, '1.00'], [1n, 7, '1.00'])])).toEqual([
            ['2', '7', '1'],
            ['1', '7', '1'],
          ]);
          // Back and forth in one batch, and a group that empties and comes back.
          expect(
            feed([
              ev(A, 'update', [1n, 7, '1.00'], [1n, 5, '1.00']),
              ev(A, 'delete', [2n, 7, '1.00'], null),
              ev(A, 'insert', null, [2n, 5, '1.00']),
            ]),
          ).toEqual([
            ['1', '5', '2'],
            ['2', '5', '2'],
          ]);
        }
        expect(byAll.emitted()).toEqual([
          'delete 1,7,1 → -',
          'delete 2,7,1 → -',
          'insert - → 1,5,2',
          'insert - → 2,5,2',
        ]);
        // A count that changes under the same GROUP BY values is an update by the sink's key (id), no retraction.
        expect(byId.feed([ev(A, 'insert', null, [4n, 5, '1.00'])])).toContainEqual(['4', '5', '2']);
        expect(byId.feed([ev(B, 'insert', null, [5n, 5])])).toContainEqual(['4', '5', '3']);
        expect(byId.emitted()).toEqual(['update - → 1,5,3', 'update - → 2,5,3', 'update - → 4,5,3']);
      },
    );

    it('a job whose state a version before wrote (groups keyed by all their values) goes on with it', async () => {
      const { feed, restart, startOver, asVersionKeyedByAll, explain } = job(
        'id BIGINT, k INT, n BIGINT, PRIMARY KEY (id) NOT ENFORCED',
        grouped,
        1,
      );
      asVersionKeyedByAll(true);
      await startOver();
      expect(explain()).toContain('(state: accumulators per group)');
      feed(bs);
      feed([ev(A, 'insert', null, [1n, 5, '1.00']), ev(A, 'insert', null, [2n, 7, '1.00'])]);
      asVersionKeyedByAll(false);
      await restart();
      // Its groups are read back from the file at every batch: under a key of another form they would not be found.
      expect(feed([ev(A, 'update', [1n, 5, '1.00'], [1n, 7, '1.00'])])).toEqual([
        ['2', '7', '1'],
        ['1', '7', '1'],
      ]);
      expect(feed([ev(A, 'delete', [2n, 7, '1.00'], null), ev(B, 'insert', null, [4n, 7])])).toEqual([['1', '7', '2']]);
      // The state goes on under the plan it was written with, through a checkpoint and a restart again.
      await restart();
      expect(feed([ev(A, 'insert', null, [3n, 5, '1.00'])])).toEqual([
        ['1', '7', '2'],
        ['3', '5', '2'],
      ]);
    });
  });

  it('a checkpoint taken under the plan before projection pushdown is refused, naming --reset', async () => {
    const { feed, restart, checkpoint } = joinCount();
    feed([ev(B, 'insert', null, [1n, 1]), ev(A, 'insert', null, [1n, 1, '1.00'])]);
    // The plan fingerprint the previous version committed for this query (its EXPLAIN with the scans and the join
    // passing on every column): its join state holds whole rows, which this plan must not read as narrowed ones.
    const old = { ...(await checkpoint()), plan: 'P1b72j30mAXoGvni' };
    await expect(restart({ from: old })).rejects.toThrow(
      expect.objectContaining({ code: 'SQL_INVALID', hint: expect.stringContaining('--reset') }),
    );
  });
});

describe('eager aggregation', () => {
  const SINK =
    'id BIGINT, n BIGINT, c BIGINT, s DECIMAL(38, 2), lo DECIMAL(10, 2), hi DECIMAL(10, 2), PRIMARY KEY (id) NOT ENFORCED';
  // Every function it pre-aggregates, a WHERE term on a alone (filtered before the count), a HAVING.
  const QUERY =
    'SELECT b.id, COUNT(a.v), COUNT(*), SUM(a.v), MIN(a.v), MAX(a.v) FROM a JOIN b ON a.k = b.k ' +
    "WHERE a.v IS NULL OR a.v < CAST('90' AS DECIMAL(10, 2)) GROUP BY b.id HAVING COUNT(*) > 1";

  /** Random changes of a and b (a fixed seed): rows added, deleted, moved to another key, NULLs among a's values. */
  function changes(seed: number) {
    const draw = seededRandom(seed);
    const random = (n: number) => draw.int(0, n - 1);
    const as = new Map<bigint, Row>();
    const bs = new Map<bigint, Row>();
    let nextA = 1n;
    const value = () => (random(6) === 0 ? null : `${random(100)}.${String(random(100)).padStart(2, '0')}`);
    return (): ChangeEvent[] => {
      const batch: ChangeEvent[] = [];
      for (let i = 1 + random(6); i > 0; i--) {
        const r = random(10);
        if (r < 3 || as.size < 3) {
          const row = [nextA++, random(5), value()];
          as.set(row[0] as bigint, row);
          batch.push(ev(A, 'insert', null, row));
        } else if (r < 7) {
          const old = [...as.values()][random(as.size)]!;
          const row = random(2) === 0 ? [old[0]!, random(5), old[2]!] : [old[0]!, old[1]!, value()];
          as.set(old[0] as bigint, row);
          batch.push(ev(A, 'update', old, row));
        } else if (r < 8) {
          const old = [...as.values()][random(as.size)]!;
          as.delete(old[0] as bigint);
          batch.push(ev(A, 'delete', old, null));
        } else {
          const id = BigInt(1 + random(6));
          const old = bs.get(id);
          const row = [id, random(5)];
          if (old === undefined) {
            bs.set(id, row);
            batch.push(ev(B, 'insert', null, row));
          } else if (random(3) === 0) {
            bs.delete(id);
            batch.push(ev(B, 'delete', old, null));
          } else {
            bs.set(id, row);
            batch.push(ev(B, 'update', old, row));
          }
        }
      }
      return batch;
    };
  }

  const sorted = (rows: (string | null)[][]) => rows.map((r) => JSON.stringify(r)).sort();

  /**
   * Feeds 120 batches of `changes(seed)` to `reference` and each of `plans`, expecting every plan's sink to equal the
   * reference's after each batch, all restarted from a checkpoint every 15 batches. Returns how many batches left a
   * non-empty result (a stream that empties everything would prove little).
   */
  async function sameAfterEveryBatch(
    seed: number,
    reference: ReturnType<typeof job>,
    plans: readonly ReturnType<typeof job>[],
  ): Promise<number> {
    const next = changes(seed);
    let nonEmpty = 0;
    for (let batch = 1; batch <= 120; batch++) {
      const events = next();
      const expected = sorted(reference.feed(events));
      for (const plan of plans) expect(sorted(plan.feed(events)), `batch ${batch}`).toEqual(expected);
      if (expected.length > 0) nonEmpty++;
      if (batch % 15 === 0) await Promise.all([reference, ...plans].map((p) => p.restart()));
    }
    return nonEmpty;
  }

  it.each([
    ['in memory', undefined],
    ['read back from disk at every batch', 1],
  ])(
    'a table whose rows only the aggregates read is aggregated per join key below the join, in the join or before it: the same result as the plan without it, batch after batch, through restarts (state %s)',
    async (_, cache) => {
      const eager = job(SINK, QUERY, cache);
      const apart = job(SINK, QUERY, cache, NO_AGGREGATING_JOINS);
      const plain = job(SINK, QUERY, cache, NO_EAGER_AGGREGATION);
      const aggregates = 'COUNT(a.v), COUNT(*), SUM(a.v), MIN(a.v), MAX(a.v)';
      expect(eager.explain()).toContain(`left: ${aggregates} BY a.k aggregated here`);
      expect(apart.explain()).toContain(`GroupAggregate BY a.k: ${aggregates}`);
      for (const plan of [eager, apart]) {
        expect(plan.explain()).toContain(
          'SUM0(COUNT(a.v)), SUM0(COUNT(*)), SUM(SUM(a.v)), MIN(MIN(a.v)), MAX(MAX(a.v))',
        );
      }
      expect(plain.explain()).not.toContain('BY a.k');
      expect(await sameAfterEveryBatch(7, plain, [eager, apart])).toBeGreaterThan(60);
    },
  );

  it.each([
    [
      'a sink',
      'SELECT b.id, s.n, s.lo FROM b JOIN (SELECT k, COUNT(*) AS n, MIN(v) AS lo FROM a GROUP BY k) s ON b.k = s.k',
    ],
    [
      'an aggregate',
      'SELECT b.k, SUM(s.n), MIN(s.lo) FROM b JOIN (SELECT k, COUNT(*) AS n, MIN(v) AS lo FROM a GROUP BY k) s ON b.k = s.k GROUP BY b.k',
    ],
  ])(
    "a subquery's aggregate by its join key, computed by the join, its rows going on to %s: the same result as the aggregate apart, batch after batch, through restarts",
    async (_, query) => {
      const sink = 'id BIGINT, n BIGINT, lo DECIMAL(10, 2), PRIMARY KEY (id) NOT ENFORCED';
      const joined = job(sink, query, 1);
      const apart = job(sink, query, 1, NO_AGGREGATING_JOINS);
      expect(joined.explain()).toContain('right: COUNT(*), MIN(v) BY k aggregated here');
      expect(apart.explain()).toContain('GroupAggregate BY k: COUNT(*), MIN(v)');
      expect(await sameAfterEveryBatch(23, apart, [joined])).toBeGreaterThan(60);
    },
  );

  it('is not applied where it would change the result or save nothing', () => {
    const plan = (select: string, sink = 'id BIGINT, n BIGINT, PRIMARY KEY (id) NOT ENFORCED', prelude = '') =>
      job(sink, select, undefined, prelude).explain();
    const eagerly = 'BY a.k';
    expect(plan('SELECT b.id, COUNT(a.id) FROM a JOIN b ON a.k = b.k GROUP BY b.id')).toContain(eagerly);
    // Unqualified, a name only a declares; one both declare is ambiguous as written, and stays so.
    const decimalSink = 'id BIGINT, n DECIMAL(38, 2), PRIMARY KEY (id) NOT ENFORCED';
    expect(plan('SELECT b.id, SUM(v) FROM a JOIN b ON a.k = b.k GROUP BY b.id', decimalSink)).toContain(eagerly);
    expect(() => plan('SELECT b.id, COUNT(id) FROM a JOIN b ON a.k = b.k GROUP BY b.id')).toThrow(/ambiguous/);
    const decimal = 'id BIGINT, n DECIMAL(38, 6), PRIMARY KEY (id) NOT ENFORCED';
    for (const [select, sink] of [
      ['SELECT b.id, AVG(a.v) FROM a JOIN b ON a.k = b.k GROUP BY b.id', decimal],
      ['SELECT b.id, COUNT(DISTINCT a.v) FROM a JOIN b ON a.k = b.k GROUP BY b.id'],
      // An outer join pads b's rows that have no match: they are not the rows of a count per key.
      ['SELECT b.id, COUNT(a.id) FROM b LEFT JOIN a ON a.k = b.k GROUP BY b.id'],
      // a joined by its primary key: one row per key, nothing to pre-aggregate.
      ['SELECT b.id, COUNT(a.v) FROM a JOIN b ON a.id = b.id GROUP BY b.id'],
      // a's value read outside an aggregate: it is not a function of a.k.
      ['SELECT b.id, COUNT(a.id) FROM a JOIN b ON a.k = b.k WHERE a.v > b.k GROUP BY b.id'],
      ['SELECT b.id, COUNT(a.id) FROM a JOIN b ON a.k = b.k AND a.v > 1 GROUP BY b.id'],
      // An aggregate over both tables.
      ['SELECT b.id, SUM(a.k + b.k) FROM a JOIN b ON a.k = b.k GROUP BY b.id'],
    ] as [string, string?][]) {
      expect(plan(select, sink), select).not.toContain(eagerly);
    }
    // A sum of doubles in another order can differ in its last digits.
    const doubles = `CREATE TABLE f (id BIGINT, k INT, x DOUBLE, PRIMARY KEY (id) NOT ENFORCED) WITH (${SOURCE('f')});`;
    const sumX = 'SELECT b.id, SUM(f.x) FROM f JOIN b ON f.k = b.k GROUP BY b.id';
    expect(plan(sumX, 'id BIGINT, n DOUBLE, PRIMARY KEY (id) NOT ENFORCED', doubles)).not.toContain('BY f.k');
    expect(plan(sumX.replace('SUM', 'MAX'), 'id BIGINT, n DOUBLE, PRIMARY KEY (id) NOT ENFORCED', doubles)).toContain(
      'MAX(f.x) BY f.k aggregated here',
    );
    // Turned off by the session.
    expect(
      plan('SELECT b.id, COUNT(a.id) FROM a JOIN b ON a.k = b.k GROUP BY b.id', undefined, NO_EAGER_AGGREGATION),
    ).not.toContain(eagerly);
  });

  it.each([
    ['in the join', '', 'COUNT(a.v) BY a.k aggregated here'],
    ['before the join', NO_AGGREGATING_JOINS, 'GroupAggregate BY a.k: COUNT(a.v)'],
  ])('a pre-aggregated row (%s) taken back that was never counted stops the job', (_, prelude, shown) => {
    const counting = () => {
      const { feed, explain } = job(
        'id BIGINT, n BIGINT, PRIMARY KEY (id) NOT ENFORCED',
        'SELECT b.id, COUNT(a.v) FROM a JOIN b ON a.k = b.k GROUP BY b.id',
        undefined,
        prelude,
      );
      expect(explain()).toContain(shown);
      feed([ev(B, 'insert', null, [1n, 1]), ev(A, 'insert', null, [1n, 1, '1.00'])]);
      return feed;
    };
    // Of a key never seen.
    expect(() => counting()([ev(A, 'delete', [9n, 3, '1.00'], null)])).toThrow(/never saw/);
    // Two taken back where one was counted: the key's count would go below zero.
    const twice = [ev(A, 'delete', [7n, 1, '1.00'], null), ev(A, 'delete', [8n, 1, '1.00'], null)];
    expect(() => counting()(twice)).toThrow(/never saw/);
  });

  it.each([
    ['in the join', ''],
    ['before the join', NO_AGGREGATING_JOINS],
  ])(
    'a pre-aggregated group (%s) left without rows is forgotten: the state file keeps no empty group',
    async (_, prelude) => {
      const { feed, restart, entries } = job(
        'id BIGINT, n BIGINT, PRIMARY KEY (id) NOT ENFORCED',
        'SELECT b.id, COUNT(a.v) FROM a JOIN b ON a.k = b.k GROUP BY b.id',
        undefined,
        prelude,
      );
      feed([
        ev(B, 'insert', null, [1n, 1]),
        ev(A, 'insert', null, [1n, 1, '1.00']),
        ev(A, 'insert', null, [2n, 2, '2.00']),
      ]);
      expect(feed([ev(A, 'delete', [1n, 1, '1.00'], null)])).toEqual([]);
      await restart();
      // Groups are [key, rows, accumulators] (a join's rows: the row, or [row, count, matches]): a's count of key 2 is
      // there, nothing of key 1 (nor b.id 1's total).
      const groups = entries().filter(
        (e) => Array.isArray(e.value) && Array.isArray(e.value[0]) && Array.isArray(e.value[2]),
      );
      expect(groups.map((g) => (g.value as unknown[])[1])).toEqual([1]);
      expect(groups[0]!.key).toBe('n2|');
    },
  );

  it.each([
    ['eager aggregation', SINK, QUERY, NO_EAGER_AGGREGATION],
    [
      'aggregating joins',
      'id BIGINT, n BIGINT, PRIMARY KEY (id) NOT ENFORCED',
      'SELECT b.id, s.n FROM b JOIN (SELECT k, COUNT(*) AS n FROM a GROUP BY k) s ON b.k = s.k',
      NO_AGGREGATING_JOINS,
    ],
  ])(
    'a job whose state a release before %s wrote goes on with that plan until --reset',
    async (_, sink, query, off) => {
      const eager = job(sink, query);
      const plain = job(sink, query, undefined, off);
      expect(eager.explain()).toContain('aggregated here');
      expect(plain.explain()).not.toContain('aggregated here');
      eager.asVersionWithoutEager(true);
      await eager.startOver(); // the earlier release's operator
      const next = changes(11);
      const step = (n: number) => {
        for (let i = 0; i < n; i++) {
          const events = next();
          expect(sorted(eager.feed(events))).toEqual(sorted(plain.feed(events)));
        }
      };
      step(20);
      eager.asVersionWithoutEager(false);
      await eager.restart(); // this release: it resumes from that state
      expect(eager.warnings).toEqual([expect.stringContaining('goes on with the plan it had')]);
      step(20);
      await eager.restart();
      step(20);
    },
  );
});
