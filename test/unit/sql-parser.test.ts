import { describe, expect, it } from 'vitest';
import { parseSqlScript } from '../../src/sql/sql-parser.js';
import { SqlError } from '../../src/sql/sql-error.js';
import { SqlSession } from '../../src/composer/sql-job.js';
import { planInsert } from '../../src/sql/planner.js';
import type { InsertStatement } from '../../src/sql/sql-ast.js';

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
  try {
    const { session, statements } = SqlSession.parse(text);
    for (const s of statements) {
      session.declare(s);
      if (s.kind === 'insert') planInsert(text, s, session.tables, { timeZone: 'UTC' });
    }
  } catch (error) {
    expect(error).toBeInstanceOf(SqlError);
    return error as SqlError;
  }
  throw new Error('no error');
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
    expect(insert.query.groupBy).toHaveLength(3);
    expect(insert.query.from.kind).toBe('join');
  });

  it('plans the seed query into a graph keyed by the customer, and EXPLAIN shows it', () => {
    const { session, statements } = SqlSession.parse(SALES);
    statements.forEach((s) => session.declare(s));
    const plan = planInsert(SALES, statements[5] as InsertStatement, session.tables, { timeZone: 'UTC' });
    expect(plan.explain).toContain('GroupAggregate BY C.CUST_ID, C.NAME, C.MKTSEGMENT: COUNT(O.ORDER_ID)');
    expect(plan.explain).toContain('Join ON O.SITE_ID = CS.SITE_ID');
    expect(plan.explain).toContain('Scan CUSTOMER AS C');
    expect(plan.root.uniqueKeys).toEqual([[1]]);
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
});
