import { describe, expect, it } from 'vitest';
import { parseSqlScript } from '../../src/sql/sql-parser.js';
import { SqlError } from '../../src/sql/sql-error.js';
import { SqlSession } from '../../src/composer/sql-job.js';
import { buildSqlJob } from '../../src/composer/sql-job.js';
import { planInsert } from '../../src/sql/planner.js';
import { createLogger } from '../../src/runtime/logger.js';
import type { InsertStatement } from '../../src/sql/sql-ast.js';
import { thrown } from '../harness/thrown.js';

const SALES = `
-- the seed 004 flow
CREATE TABLE CUSTOMER (
  CUST_ID BIGINT, NAME STRING NOT NULL, MKTSEGMENT VARCHAR(32),
  PRIMARY KEY (CUST_ID) NOT ENFORCED
) WITH ('connector' = 'mysql-cdc', 'hostname' = 'h', 'username' = 'u', 'database-name' = 'salesdb', 'table-name' = 'CUSTOMER');
CREATE TABLE CUSTOMER_SITE (SITE_ID BIGINT PRIMARY KEY NOT ENFORCED, CUST_ID BIGINT, CITY STRING)
  WITH ('connector' = 'mysql-cdc', 'hostname' = 'h', 'username' = 'u', 'database-name' = 'salesdb', 'table-name' = 'CUSTOMER_SITE');
CREATE TABLE SALES_ORDER_ALL (ORDER_ID BIGINT, SITE_ID BIGINT, AMOUNT DECIMAL(10, 2), PRIMARY KEY (ORDER_ID) NOT ENFORCED)
  WITH ('connector' = 'mysql-cdc', 'hostname' = 'h', 'username' = 'u', 'database-name' = 'salesdb', 'table-name' = 'SALES_ORDER_ALL');
CREATE TABLE customer_orders (order_count BIGINT, customer_id BIGINT, name STRING, mktsegment STRING,
  PRIMARY KEY (customer_id) NOT ENFORCED) WITH ('connector' = 'jdbc', 'url' = 'jdbc:postgresql://localhost:5432/db', 'table-name' = 'customer_orders');
SET 'execution.checkpointing.interval' = '3s';
INSERT INTO customer_orders
SELECT COUNT(O.ORDER_ID) AS order_count, C.CUST_ID AS customer_id, C.NAME AS name, C.MKTSEGMENT AS mktsegment
FROM CUSTOMER C
JOIN CUSTOMER_SITE CS ON C.CUST_ID = CS.CUST_ID
JOIN SALES_ORDER_ALL O ON O.SITE_ID = CS.SITE_ID
GROUP BY C.CUST_ID, C.NAME, C.MKTSEGMENT;
`;

function errorOf(text: string): SqlError {
  return thrown(() => {
    const { session, statements } = SqlSession.parse(text);
    for (const s of statements) {
      if (s.kind !== 'createTableAs') session.declare(s);
      if (s.kind === 'insert') session.plan(s);
      if (s.kind === 'createTableAs') session.createTableAs(s);
    }
  }, SqlError);
}

describe('SQL parser', () => {
  it('reads the seed 004 script: tables, options, keys, SET, and the join + aggregate', () => {
    const statements = parseSqlScript(SALES);
    expect(statements.map((s) => s.kind)).toEqual([
      'createTable',
      'createTable',
      'createTable',
      'createTable',
      'set',
      'insert',
    ]);
    const customer = statements[0]!;
    if (customer.kind !== 'createTable') throw new Error();
    expect(customer.columns.map((c) => [c.name, c.type.kind, c.nullable])).toEqual([
      ['CUST_ID', 'int64', true],
      ['NAME', 'string', false],
      ['MKTSEGMENT', 'varchar', true],
    ]);
    expect(customer.primaryKey).toEqual(['CUST_ID']);
    expect(customer.options.get('table-name')?.value).toBe('CUSTOMER');
    const site = statements[1]!;
    if (site.kind !== 'createTable') throw new Error();
    expect(site.primaryKey).toEqual(['SITE_ID']);
    const insert = statements[5] as InsertStatement;
    if (insert.query.kind !== 'select') throw new Error();
    expect(insert.query.groupBy).toHaveLength(3);
    expect(insert.query.from.kind).toBe('join');
  });

  it('plans the seed query into a graph keyed by the customer, and EXPLAIN shows it', () => {
    const { session, statements } = SqlSession.parse(SALES);
    statements.forEach((s) => session.declare(s));
    const plan = planInsert(SALES, statements[5] as InsertStatement, session.tables, { timeZone: 'UTC' });
    // Eager aggregation: the orders counted per site below the join, the counts summed per customer above it.
    expect(plan.explain).toContain('GroupAggregate BY C.CUST_ID, C.NAME, C.MKTSEGMENT: SUM0(COUNT(O.ORDER_ID))');
    // … in the join with the sites: one state of counts by site, no node of its own.
    expect(plan.explain).toContain(
      'Join ON O.SITE_ID = CS.SITE_ID → [C.CUST_ID, C.NAME, C.MKTSEGMENT, O.\u0001COUNT(O.ORDER_ID)] (state: left rows by join key; right: COUNT(O.ORDER_ID) BY O.SITE_ID aggregated here, accumulators by join key)',
    );
    expect(plan.explain).not.toContain('GroupAggregate BY O.SITE_ID');
    expect(plan.explain).toContain('Scan CUSTOMER AS C [CUST_ID, NAME, MKTSEGMENT]  unique');
    // Projection pushdown: the orders' and sites' columns no node reads are not read, nor passed through the joins.
    expect(plan.explain).toContain('Scan SALES_ORDER_ALL AS O [ORDER_ID, SITE_ID] (2 of 3 columns)');
    expect(plan.explain).toContain('Scan CUSTOMER_SITE AS CS [SITE_ID, CUST_ID] (2 of 3 columns)');
    expect(plan.root.uniqueKeys).toEqual([[1]]);
    // Without aggregating joins, the count per site is an aggregate of its own.
    const apart = planInsert(SALES, statements[5] as InsertStatement, session.tables, {
      timeZone: 'UTC',
      aggregatingJoins: false,
    });
    expect(apart.explain).toContain('GroupAggregate BY O.SITE_ID: COUNT(O.ORDER_ID)');
    expect(apart.explain).toContain(
      'Join ON O.SITE_ID = CS.SITE_ID → [C.CUST_ID, C.NAME, C.MKTSEGMENT, O.\u0001COUNT(O.ORDER_ID)] (state: rows by join key, per side)',
    );
    // As planned before eager aggregation (a job whose state an earlier release wrote goes on with this plan).
    const asWritten = planInsert(SALES, statements[5] as InsertStatement, session.tables, {
      timeZone: 'UTC',
      eagerAggregation: false,
    });
    expect(asWritten.explain).toContain('GroupAggregate BY C.CUST_ID, C.NAME, C.MKTSEGMENT: COUNT(O.ORDER_ID)');
    expect(asWritten.explain).toContain(
      'Join ON O.SITE_ID = CS.SITE_ID → [C.CUST_ID, C.NAME, C.MKTSEGMENT, O.ORDER_ID] (state: rows by join key, per side)',
    );
  });

  it('points at syntax errors by line and column, with a fix', () => {
    const e = errorOf("CREATE TABLE t (id BIGINT, PRIMARY KEY (id)) WITH ('connector' = 'jdbc');");
    expect(e.code).toBe('SQL_INVALID');
    expect(e.line).toBe(1);
    expect(e.column).toBe(44); // the ")" where NOT ENFORCED belongs
    expect(e.reason).toBe('a primary key must be declared NOT ENFORCED');
    expect(e.hint).toContain('NOT ENFORCED');

    const e2 = errorOf('SELECT a,\n  b c d FROM t;');
    expect([e2.line, e2.column]).toEqual([2, 7]);
    expect(e2.message).toContain('line 2, column 7');
    expect(e2.message).toContain('      ^');

    const e3 = errorOf("SET 'a' = ;");
    expect(e3.reason).toContain("expected a 'quoted string'");
    expect(e3.column).toBe(11);

    const e4 = errorOf('SELECT "x" FROM t;');
    expect(e4.column).toBe(8);
    expect(e4.hint).toContain('backquotes');
  });

  it('names unknown, ambiguous and ungrouped columns where they are written', () => {
    const base = SALES.slice(0, SALES.indexOf('SET '));
    const unknown = errorOf(
      `${base}INSERT INTO customer_orders SELECT COUNT(*), C.CUST_ID, C.NAM, C.MKTSEGMENT FROM CUSTOMER C GROUP BY C.CUST_ID, C.NAME, C.MKTSEGMENT;`,
    );
    expect(unknown.reason).toBe('unknown column C.NAM');
    expect(unknown.hint).toBe('did you mean C.NAME?');
    const ambiguous = errorOf(
      `${base}INSERT INTO customer_orders SELECT COUNT(*), CUST_ID, MAX(C.NAME), MAX(C.MKTSEGMENT) FROM CUSTOMER C JOIN CUSTOMER_SITE CS ON C.CUST_ID = CS.CUST_ID GROUP BY CUST_ID;`,
    );
    expect(ambiguous.reason).toBe('column CUST_ID is ambiguous');
    const ungrouped = errorOf(
      `${base}INSERT INTO customer_orders SELECT COUNT(*), C.CUST_ID, C.NAME, C.MKTSEGMENT FROM CUSTOMER C GROUP BY C.CUST_ID, C.NAME;`,
    );
    expect(ungrouped.reason).toBe('C.MKTSEGMENT is neither in GROUP BY nor inside an aggregate');
    const notUnique = errorOf(
      `${base}INSERT INTO customer_orders SELECT COUNT(*), CS.CUST_ID, MAX(CS.CITY), MAX(CS.CITY) FROM CUSTOMER_SITE CS GROUP BY CS.CUST_ID, CS.SITE_ID;`,
    );
    expect(notUnique.reason).toContain('not unique on the PRIMARY KEY (customer_id)');
    expect(notUnique.hint).toContain('declare them as the sink key');
  });

  it('WITH: common tables in INSERT, SELECT and subqueries; EXPLAIN shows the tables they read', () => {
    const base = SALES.slice(0, SALES.indexOf('SET '));
    const statements = parseSqlScript(
      `${base}INSERT INTO customer_orders WITH s AS (SELECT CUST_ID, SITE_ID FROM CUSTOMER_SITE), ` +
        'o AS (SELECT s.CUST_ID, O.ORDER_ID FROM SALES_ORDER_ALL O JOIN s ON O.SITE_ID = s.SITE_ID) ' +
        'SELECT COUNT(o.ORDER_ID), C.CUST_ID, C.NAME, C.MKTSEGMENT FROM CUSTOMER C JOIN o ON C.CUST_ID = o.CUST_ID ' +
        'GROUP BY C.CUST_ID, C.NAME, C.MKTSEGMENT;',
    );
    const insert = statements.find((s): s is InsertStatement => s.kind === 'insert')!;
    expect(insert.query.kind).toBe('with');
    const { session } = SqlSession.parse(base);
    for (const s of parseSqlScript(base)) session.declare(s);
    const explain = session.plan(insert).explain;
    for (const table of ['CUSTOMER', 'CUSTOMER_SITE', 'SALES_ORDER_ALL']) expect(explain).toContain(`Scan ${table} `);

    expect(errorOf('WITH RECURSIVE t AS (SELECT 1 FROM x) SELECT * FROM t;').reason).toBe(
      'WITH RECURSIVE is not built yet',
    );
    expect(errorOf('WITH t (a) AS (SELECT 1 FROM x) SELECT * FROM t;').reason).toContain(
      'column list after a common table',
    );
    expect(errorOf('WITH t AS (SELECT 1 FROM x), t AS (SELECT 2 FROM x) SELECT * FROM t;').reason).toContain(
      'named twice',
    );
  });

  it('WATERMARK in a Flink DDL is read, checked and said to have no effect; the window query runs as written', () => {
    const script =
      "CREATE TABLE bids (id BIGINT, price DECIMAL(10, 2), bidtime TIMESTAMP(3), WATERMARK FOR bidtime AS bidtime - INTERVAL '5' SECOND, " +
      "PRIMARY KEY (id) NOT ENFORCED) WITH ('connector' = 'mysql-cdc', 'hostname' = 'h', 'username' = 'u', 'database-name' = 'd', 'table-name' = 'bids');" +
      "CREATE TABLE r (ws TIMESTAMP(3), we TIMESTAMP(3), total DECIMAL(38, 2), PRIMARY KEY (ws, we) NOT ENFORCED) WITH ('connector' = 'jdbc', 'url' = 'jdbc:postgresql://h/d', 'table-name' = 'r');" +
      "INSERT INTO r SELECT window_start, window_end, SUM(price) FROM TABLE(TUMBLE(TABLE bids, DESCRIPTOR(bidtime), INTERVAL '10' MINUTES)) GROUP BY window_start, window_end;";
    const { session, statements } = SqlSession.parse(script);
    statements.forEach((s) => session.declare(s));
    expect(statements[0]).toMatchObject({ kind: 'createTable', watermark: { column: 'bidtime' } });
    const warnings: string[] = [];
    const log = createLogger({ level: 'warn', write: (line) => warnings.push(line) });
    buildSqlJob(
      session,
      statements.find((s): s is InsertStatement => s.kind === 'insert')!,
      { log },
    );
    expect(warnings.join('\n')).toContain('table bids: WATERMARK FOR bidtime has no effect here');
    expect(
      errorOf(
        "CREATE TABLE t (id BIGINT, WATERMARK FOR ts AS ts, PRIMARY KEY (id) NOT ENFORCED) WITH ('connector' = 'jdbc');",
      ).reason,
    ).toBe('the watermark names ts, which is not a column of t');
  });

  it('window TVFs: durations in one unit, arguments by position or name, mistakes named where written', () => {
    const tvf = (args: string) => `SELECT window_start FROM TABLE(TUMBLE(${args}));`;
    expect(parseSqlScript(tvf("TABLE t, DESCRIPTOR(ts), INTERVAL '90' SECONDS, INTERVAL '-1' HOUR"))[0]).toMatchObject({
      query: { from: { kind: 'window', fn: 'tumble', sizeMs: 90_000, stepMs: 90_000, offsetMs: -3_600_000 } },
    });
    expect(
      parseSqlScript(tvf("SIZE => INTERVAL '1' DAY, TIMECOL => DESCRIPTOR(ts), DATA => TABLE t"))[0],
    ).toMatchObject({
      query: { from: { kind: 'window', input: { name: 't' }, timeColumn: { name: 'ts' }, sizeMs: 86_400_000 } },
    });
    const month = errorOf(tvf("TABLE t, DESCRIPTOR(ts), INTERVAL '1' MONTH"));
    expect(month.reason).toContain('expected SECOND, MINUTE, HOUR or DAY');
    expect(month.hint).toContain('no fixed length');
    expect(errorOf(tvf("TABLE t, DESCRIPTOR(ts), INTERVAL '0' HOUR")).reason).toContain('not a positive');
    expect(errorOf(tvf("TABLE t, DESCRIPTOR(ts), SLIDE => INTERVAL '1' HOUR")).reason).toBe(
      'TUMBLE has no argument SLIDE',
    );
    expect(errorOf(tvf('TABLE t, DESCRIPTOR(ts)')).reason).toBe('TUMBLE needs its SIZE argument');
    expect(errorOf("SELECT 1 FROM TABLE(SESSION(TABLE t, DESCRIPTOR(ts), INTERVAL '1' HOUR, 1));").reason).toBe(
      'too many arguments to SESSION',
    );
    expect(errorOf("SELECT 1 FROM TABLE(WINDOW(TABLE t, DESCRIPTOR(ts), INTERVAL '1' HOUR));").hint).toContain(
      'TABLE(SESSION(…))',
    );
  });

  it('METADATA columns: which shard a row came from, in EXPLAIN; unknown keys, non-strings and sinks refused', () => {
    const source = (columns: string, connector = 'mysql-cdc') =>
      `CREATE TABLE o (${columns}, id BIGINT, PRIMARY KEY (db, id) NOT ENFORCED) WITH ('connector' = '${connector}', ` +
      "'hostname' = 'h', 'username' = 'u', 'database-name' = 'shop_[0-9]+', 'table-name' = 'orders');" +
      "CREATE TABLE r (db STRING, n BIGINT, PRIMARY KEY (db) NOT ENFORCED) WITH ('connector' = 'jdbc', 'url' = 'jdbc:postgresql://h/d', 'table-name' = 'r');";
    const script = `${source("db STRING METADATA FROM 'database_name' VIRTUAL")}INSERT INTO r SELECT db, COUNT(*) FROM o GROUP BY db;`;
    const { session, statements } = SqlSession.parse(script);
    statements.forEach((s) => session.declare(s));
    const create = statements[0] as Extract<(typeof statements)[number], { kind: 'createTable' }>;
    expect(create.columns[0]).toMatchObject({ name: 'db', metadata: { key: 'database_name' } });
    const insert = statements.find((s): s is InsertStatement => s.kind === 'insert')!;
    expect(session.plan(insert).explain).toContain('Scan o [db, id] (db = METADATA database_name)');

    const opTs = errorOf(
      `${source("db STRING METADATA FROM 'op_ts'")}INSERT INTO r SELECT db, COUNT(*) FROM o GROUP BY db;`,
    );
    expect(opTs.reason).toBe("'op_ts' is not a metadata key of a mysql-cdc table here");
    expect(opTs.hint).toContain('op_ts is not built');
    const typed = errorOf(
      `${source("db INT METADATA FROM 'table_name'")}INSERT INTO r SELECT CAST(db AS STRING), COUNT(*) FROM o GROUP BY db;`,
    );
    expect(typed.reason).toBe('the metadata column db is int32');
    // postgres-cdc knows the schema too; the key defaults to the column's name.
    expect(() => {
      const pg = SqlSession.parse(
        `${source("schema_name STRING METADATA, db STRING METADATA FROM 'database_name'", 'postgres-cdc')}INSERT INTO r SELECT schema_name, COUNT(*) FROM o GROUP BY schema_name;`,
      );
      pg.statements.forEach((s) => pg.session.declare(s));
      pg.session.plan(pg.statements.find((s): s is InsertStatement => s.kind === 'insert')!);
    }).not.toThrow();
    const sink = errorOf(
      "CREATE TABLE r (db STRING METADATA, PRIMARY KEY (db) NOT ENFORCED) WITH ('connector' = 'jdbc', 'url' = 'jdbc:postgresql://h/d', 'table-name' = 'r');" +
        `CREATE TABLE s (db STRING, PRIMARY KEY (db) NOT ENFORCED) WITH ('connector' = 'mysql-cdc', 'hostname' = 'h', 'username' = 'u', 'database-name' = 'd', 'table-name' = 's');` +
        'INSERT INTO r SELECT db FROM s;',
    );
    expect(sink.reason).toBe('column db of the sink table r is a METADATA column');
  });

  it('reads statement sets in both forms, and refuses anything but INSERT inside', () => {
    const base = SALES.slice(0, SALES.indexOf('SET '));
    const insert =
      'INSERT INTO customer_orders SELECT COUNT(*), C.CUST_ID, C.NAME, C.MKTSEGMENT FROM CUSTOMER C GROUP BY C.CUST_ID, C.NAME, C.MKTSEGMENT';
    for (const text of [
      `${base}BEGIN STATEMENT SET;\n${insert};\n${insert};\nEND;`,
      `${base}EXECUTE STATEMENT SET BEGIN ${insert}; ${insert}; END;`,
      `${base}EXPLAIN STATEMENT SET BEGIN ${insert}; ${insert}; END;`,
    ]) {
      const last = parseSqlScript(text).pop()!;
      const set = last.kind === 'explain' ? last.statement : last;
      expect(set.kind).toBe('statementSet');
      if (set.kind !== 'statementSet') throw new Error();
      expect(set.inserts.map((i) => i.table)).toEqual(['customer_orders', 'customer_orders']);
    }
    expect(errorOf(`${base}BEGIN STATEMENT SET;\nSET 'a' = 'b';\nEND;`).reason).toBe(
      'a statement set holds only INSERT INTO statements',
    );
    expect(errorOf(`${base}BEGIN STATEMENT SET;\n${insert};`).reason).toBe('the statement set is not closed');
  });

  it('a statement set writes each sink table once, all through one sink', () => {
    const base = SALES.slice(0, SALES.indexOf('SET '));
    const insert =
      'INSERT INTO customer_orders SELECT COUNT(*), C.CUST_ID, C.NAME, C.MKTSEGMENT FROM CUSTOMER C GROUP BY C.CUST_ID, C.NAME, C.MKTSEGMENT';
    const text = `${base}CREATE TABLE elsewhere (id BIGINT, PRIMARY KEY (id) NOT ENFORCED) WITH ('connector' = 'duckdb', 'path' = 'x.db', 'table-name' = 'e');
BEGIN STATEMENT SET; ${insert}; ${insert}; END;
BEGIN STATEMENT SET; ${insert}; INSERT INTO elsewhere SELECT CUST_ID FROM CUSTOMER; END;`;
    const { session, statements } = SqlSession.parse(text);
    const log = createLogger({ level: 'error', write: () => {} });
    const sets = statements.filter((s) => s.kind === 'statementSet');
    statements.forEach((s) => s.kind !== 'statementSet' && session.declare(s));
    const failure = (i: number) => {
      try {
        buildSqlJob(session, sets[i]!.kind === 'statementSet' ? sets[i]!.inserts : [], { log });
      } catch (error) {
        return (error as SqlError).reason;
      }
      return 'no error';
    };
    expect(failure(0)).toBe('two INSERTs of the statement set write into customer_orders');
    expect(failure(1)).toContain('are written by one job, so they need the same connector and options');
  });

  it('views: checked when declared, one namespace with tables, usable in FROM', () => {
    const base = SALES.slice(0, SALES.indexOf('SET '));
    expect(errorOf(`${base}CREATE TEMPORARY VIEW v AS SELECT C.NAM FROM CUSTOMER C;`).reason).toBe(
      'unknown column C.NAM',
    );
    expect(errorOf(`${base}CREATE VIEW CUSTOMER AS SELECT 1 AS x FROM CUSTOMER_SITE;`).reason).toBe(
      'a table named CUSTOMER exists already',
    );
    const view = `${base}CREATE TEMPORARY VIEW big AS SELECT C.CUST_ID AS id, C.NAME AS name, C.MKTSEGMENT AS seg FROM CUSTOMER C WHERE C.MKTSEGMENT <> 'X';
INSERT INTO customer_orders SELECT COUNT(*), b.id, b.name, b.seg FROM big b GROUP BY b.id, b.name, b.seg;`;
    const { session, statements } = SqlSession.parse(view);
    statements.forEach((s) => s.kind !== 'insert' && session.declare(s));
    const plan = session.plan(statements.pop() as InsertStatement);
    expect(plan.explain).toContain("Filter C.MKTSEGMENT <> 'X'");
    expect(plan.root.uniqueKeys).toEqual([[1]]); // the view passes CUSTOMER's key through: GROUP BY reduces to it
  });

  it('refuses UNION mixed with UNION ALL, and branches of different widths', () => {
    const base = SALES.slice(0, SALES.indexOf('SET '));
    expect(
      errorOf(
        `${base}SELECT CUST_ID FROM CUSTOMER UNION SELECT CUST_ID FROM CUSTOMER UNION ALL SELECT SITE_ID FROM CUSTOMER_SITE;`,
      ).reason,
    ).toBe('UNION and UNION ALL are mixed in one query');
    const wide = errorOf(
      `${base}INSERT INTO customer_orders SELECT COUNT(*), u.id, 'n', 's' FROM (SELECT CUST_ID AS id FROM CUSTOMER UNION ALL SELECT SITE_ID, CUST_ID FROM CUSTOMER_SITE) AS u GROUP BY u.id;`,
    );
    expect(wide.reason).toBe('this branch of the UNION selects 2 columns, the first selects 1');
  });

  it('CREATE TABLE … AS SELECT: the columns and types of the query, its key (or the declared one), and the INSERT', () => {
    const base = SALES.slice(0, SALES.indexOf('SET '));
    const sink = "WITH ('connector' = 'jdbc', 'url' = 'jdbc:postgresql://localhost:5432/db', 'table-name' = 'x')";
    const ctas = (sql: string) => {
      const text = `${base}${sql}`;
      const { session, statements } = SqlSession.parse(text);
      for (const s of statements) {
        if (s.kind !== 'createTableAs') session.declare(s);
        else {
          const insert = session.createTableAs(s);
          const table = session.tables.get(s.name.toLowerCase())!;
          return { table, plan: session.plan(insert) };
        }
      }
      throw new Error('no CTAS');
    };
    const { table, plan } = ctas(
      `CREATE TABLE per_customer ${sink} AS SELECT C.CUST_ID, C.NAME, COUNT(O.ORDER_ID) AS orders, SUM(O.AMOUNT) AS amount ` +
        'FROM CUSTOMER C JOIN CUSTOMER_SITE CS ON C.CUST_ID = CS.CUST_ID JOIN SALES_ORDER_ALL O ON O.SITE_ID = CS.SITE_ID ' +
        'GROUP BY C.CUST_ID, C.NAME;',
    );
    expect(table.columns.map((c) => [c.name, c.typeText, c.nullable])).toEqual([
      ['CUST_ID', 'BIGINT', false],
      ['NAME', 'STRING', false],
      ['orders', 'BIGINT', false],
      ['amount', 'DECIMAL(38, 2)', true],
    ]);
    expect(table.primaryKey).toEqual(['CUST_ID']);
    expect(plan.sinkKey).toEqual([0]);
    const declared = ctas(
      `CREATE TABLE sites (PRIMARY KEY (SITE_ID) NOT ENFORCED) ${sink} AS SELECT SITE_ID, CITY FROM CUSTOMER_SITE;`,
    );
    expect(declared.table.primaryKey).toEqual(['SITE_ID']);
    expect(
      errorOf(
        `${base}CREATE TABLE c ${sink} AS SELECT CUST_ID, CITY FROM CUSTOMER_SITE UNION ALL SELECT CUST_ID, NAME FROM CUSTOMER;`,
      ).reason,
    ).toContain('unique on no set of columns');
    expect(errorOf(`${base}CREATE TABLE c (x INT) ${sink} AS SELECT CUST_ID FROM CUSTOMER;`).reason).toBe(
      'CREATE TABLE … AS takes its columns from the query',
    );
  });
});
