import { describe, expect, it } from 'vitest';
import { TributaryError } from '../../src/core/errors.js';
import {
  checkTableSelector,
  parseTableSelector,
  parseTableSelectors,
  splitTablePatterns,
} from '../../src/core/table-selector.js';

const selects = (selector: string, db: string, table: string): boolean =>
  parseTableSelector(selector).matches(db, table);

describe('table selectors (Flink CDC pattern semantics)', () => {
  it('reads `\\.` as any character: tpc_ds.\\.* selects every table of tpc_ds and nothing else', () => {
    expect(selects('tpc_ds.\\.*', 'tpc_ds', 'item')).toBe(true);
    expect(selects('tpc_ds.\\.*', 'tpc_ds', 'store_sales')).toBe(true);
    expect(selects('tpc_ds.\\.*', 'tpc_ds2', 'item')).toBe(false);
    expect(selects('tpc_ds.\\.*', 'xtpc_ds', 'item')).toBe(false);
  });

  it('needs a full match of the database and of the table expression', () => {
    const selector = 'user_db[0-9]+.user[0-9]+';
    expect(selects(selector, 'user_db1', 'user01')).toBe(true);
    expect(selects(selector, 'user_db12', 'user3')).toBe(true);
    expect(selects(selector, 'user_db1', 'user01x')).toBe(false);
    expect(selects(selector, 'user_dbX', 'user01')).toBe(false);
    expect(selects(selector, 'auser_db1', 'user01')).toBe(false);
  });

  it('splits at the first unescaped dot only; later dots are regular-expression dots', () => {
    expect(selects('db.a.c', 'db', 'abc')).toBe(true);
    expect(selects('db.a.c', 'db.a', 'c')).toBe(false);
    expect(selects('d\\.\\..t', 'db1', 't')).toBe(true);
  });

  it('matches case-sensitively, like MySQL table names on Linux', () => {
    expect(selects('shop.Orders', 'shop', 'orders')).toBe(false);
  });

  it('splits a list at commas, but not inside {m,n} quantifiers', () => {
    expect(splitTablePatterns('user_db[0-9]+.user[0-9]+, tpc_ds.\\.*')).toEqual([
      'user_db[0-9]+.user[0-9]+',
      'tpc_ds.\\.*',
    ]);
    expect(splitTablePatterns('db.t[0-9]{1,3},db.x')).toEqual(['db.t[0-9]{1,3}', 'db.x']);
    expect(selects('db.t[0-9]{1,3}, other.\\.*', 'db', 't123')).toBe(true);
    expect(selects('db.t[0-9]{1,3}, other.\\.*', 'db', 't1234')).toBe(false);
    expect(selects('db.t[0-9]{1,3}, other.\\.*', 'other', 'anything')).toBe(true);
    expect(selects('db.(a|b),c.d', 'db', 'b')).toBe(true);
    expect(selects('db.(a|b),c.d', 'c', 'd')).toBe(true);
  });

  it('keeps the text as written for messages', () => {
    const selector = parseTableSelector('user_db[0-9]+.user[0-9]+, tpc_ds.\\.*');
    expect(selector.source).toBe('user_db[0-9]+.user[0-9]+, tpc_ds.\\.*');
    expect(parseTableSelectors('a.b, c.d').map((s) => s.source)).toEqual(['a.b', 'c.d']);
    expect(parseTableSelectors('  ')).toEqual([]);
  });

  it('names the pattern, the part and the regular-expression error when a pattern does not compile', () => {
    const result = checkTableSelector('good.\\.*, user_db[0-9+.user, db.(x');
    expect('selector' in result).toBe(false);
    expect(result.problems).toHaveLength(2);
    expect(result.problems[0]).toContain('table pattern "user_db[0-9+.user"');
    expect(result.problems[0]).toContain('the database part "user_db[0-9+" is not a valid regular expression');
    expect(result.problems[0]).toMatch(/Unterminated character class/i);
    expect(result.problems[1]).toContain('the table part "(x"');
  });

  it('asks for database.table when a pattern has no database part, and rejects empty patterns', () => {
    expect(checkTableSelector('users').problems[0]).toContain('write database.table, e.g. mydb.users');
    expect(checkTableSelector('a.b,,c.d').problems[0]).toContain('empty table pattern');
    expect(() => parseTableSelector('users')).toThrow(TributaryError);
  });
});
