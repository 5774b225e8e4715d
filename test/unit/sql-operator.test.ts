import { describe, expect, it } from 'vitest';
import type { ChangeEvent, DataChangeEvent } from '../../src/core/change-event.js';
import type { Row } from '../../src/core/data-type.js';
import { tableId, type TableSchema } from '../../src/core/table-schema.js';
import { SqlSession } from '../../src/composer/sql-job.js';
import { planInsert } from '../../src/sql/planner.js';
import { SqlOperator } from '../../src/sql/sql-operator.js';
import type { InsertStatement } from '../../src/sql/sql-ast.js';

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
const B: TableSchema = {
  id: tableId('db', 'b'),
  columns: [
    { name: 'id', type: { kind: 'int64' }, nullable: false },
    { name: 'k', type: { kind: 'int32' }, nullable: true },
  ],
  primaryKey: ['id'],
};

/** An operator for `select`, and a function that feeds it events and returns the sink table as it would be. */
function job(sinkColumns: string, select: string, prelude = '') {
  const text = `CREATE TABLE a (id BIGINT, k INT, v DECIMAL(10, 2), PRIMARY KEY (id) NOT ENFORCED) WITH (${SOURCE('a')});
CREATE TABLE b (id BIGINT, k INT, PRIMARY KEY (id) NOT ENFORCED) WITH (${SOURCE('b')});
CREATE TABLE r (${sinkColumns}) WITH ('connector' = 'jdbc', 'table-name' = 'r');
${prelude}
INSERT INTO r ${select};`;
  const { session, statements } = SqlSession.parse(text);
  statements.forEach((s) => session.declare(s));
  const insert = statements.find((s): s is InsertStatement => s.kind === 'insert')!;
  let sinkKey: readonly number[] = [];
  const make = () => {
    const plan = session.plan(insert);
    sinkKey = plan.sinkKey;
    const sink: TableSchema = {
      id: tableId('', 'r'),
      columns: plan.sink.columns.map((c) => ({ name: c.name, type: c.type, nullable: c.nullable })),
      primaryKey: [...plan.sink.primaryKey],
    };
    const re = (s: string) => new RegExp(`^${s}$`);
    return new SqlOperator(
      [
        {
          plan,
          sources: plan.scans.map((scan) => ({ scan, database: re('db'), table: re(scan.table) })),
          sinkSchema: sink,
        },
      ],
      'UTC',
    );
  };
  let operator = make();
  const table = new Map<string, Row>();
  const feed = (events: ChangeEvent[]) => {
    for (const event of operator.process(events)) {
      if (event.kind !== 'data') continue;
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
    [A, B].map((schema) => ({ kind: 'schema', table: schema.id, change: 'createTable', schema, source: { tsMs: 0 } }));
  /** A new attempt: a new operator on the state of a checkpoint (through JSON), then the source's createTables. */
  const restart = () => {
    const state = JSON.parse(JSON.stringify(operator.snapshotState())) as Record<string, unknown>;
    operator = make();
    operator.restoreState(state);
    feed(creates());
  };
  feed(creates());
  return { feed, restart };
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

  it('MIN, MAX and COUNT(DISTINCT) take back values exactly, and a group that empties is deleted', () => {
    const { feed, restart } = job(
      'k INT, mn DECIMAL(10, 2), mx DECIMAL(10, 2), d BIGINT, av DECIMAL(38, 6), PRIMARY KEY (k) NOT ENFORCED',
      'SELECT k, MIN(v), MAX(v), COUNT(DISTINCT v), AVG(v) FROM a GROUP BY k',
    );
    feed([
      ev(A, 'insert', null, [1n, 1, '1.00']),
      ev(A, 'insert', null, [2n, 1, '3.00']),
      ev(A, 'insert', null, [3n, 1, '3.00']),
      ev(A, 'insert', null, [4n, 1, '-2.50']),
    ]);
    expect(feed([])).toEqual([['1', '-2.50', '3.00', '3', '1.125000']]);
    restart(); // the state goes through a checkpoint's JSON
    expect(feed([ev(A, 'delete', [4n, 1, '-2.50'], null)])).toEqual([['1', '1.00', '3.00', '2', '2.333333']]);
    expect(feed([ev(A, 'delete', [2n, 1, '3.00'], null)])).toEqual([['1', '1.00', '3.00', '2', '2.000000']]);
    expect(feed([ev(A, 'update', [3n, 1, '3.00'], [3n, 2, '3.00'])])).toEqual([
      ['1', '1.00', '1.00', '1', '1.000000'],
      ['2', '3.00', '3.00', '1', '3.000000'],
    ]);
    expect(feed([ev(A, 'delete', [1n, 1, '1.00'], null)])).toEqual([['2', '3.00', '3.00', '1', '3.000000']]);
  });

  it('UNION ALL of branches tagged by a constant is unique on key + tag, and passes every change on', () => {
    const { feed, restart } = job(
      'src STRING, id BIGINT, k INT, PRIMARY KEY (src, id) NOT ENFORCED',
      "SELECT 'a' AS src, id, k FROM a UNION ALL SELECT 'b', id, k FROM b",
    );
    feed([ev(A, 'insert', null, [1n, 5, '1.00']), ev(B, 'insert', null, [1n, 7])]);
    expect(feed([])).toEqual([
      ['a', '1', '5'],
      ['b', '1', '7'],
    ]);
    restart();
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

  it('SELECT DISTINCT keeps a row while any copy of it exists, and takes it back with the last one', () => {
    const { feed, restart } = job(
      'k INT, PRIMARY KEY (k) NOT ENFORCED',
      'SELECT DISTINCT k FROM a WHERE k IS NOT NULL',
    );
    feed([ev(A, 'insert', null, [1n, 5, '1.00']), ev(A, 'insert', null, [2n, 5, '2.00'])]);
    expect(feed([ev(A, 'insert', null, [3n, 6, '2.00'])])).toEqual([['5'], ['6']]);
    restart();
    expect(feed([ev(A, 'delete', [1n, 5, '1.00'], null)])).toEqual([['5'], ['6']]);
    expect(feed([ev(A, 'update', [2n, 5, '2.00'], [2n, 6, '2.00'])])).toEqual([['6']]);
    expect(feed([ev(A, 'delete', [3n, 6, '2.00'], null), ev(A, 'delete', [2n, 6, '2.00'], null)])).toEqual([]);
  });

  it('a subquery in FROM and a view plan like the query written out', () => {
    const sub = job(
      'k INT, n BIGINT, PRIMARY KEY (k) NOT ENFORCED',
      'SELECT s.k, COUNT(*) FROM (SELECT id, k FROM a WHERE v > 0) AS s GROUP BY s.k',
    );
    const view = job(
      'k INT, n BIGINT, PRIMARY KEY (k) NOT ENFORCED',
      'SELECT p.k, COUNT(*) FROM pos p GROUP BY p.k',
      'CREATE TEMPORARY VIEW pos AS SELECT id, k FROM a WHERE v > 0;',
    );
    for (const { feed } of [sub, view]) {
      feed([ev(A, 'insert', null, [1n, 5, '1.00']), ev(A, 'insert', null, [2n, 5, '-2.00'])]);
      expect(feed([ev(A, 'insert', null, [3n, 5, '2.00'])])).toEqual([['5', '2']]);
      expect(feed([ev(A, 'update', [2n, 5, '-2.00'], [2n, 5, '3.00'])])).toEqual([['5', '3']]);
    }
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
    expect(() => other.restoreState({ stage: 'sql', version: 1, plan: 'another', nodes: [] })).toThrow(
      /changed since the job last committed/,
    );
  });
});
