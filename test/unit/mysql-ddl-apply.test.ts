import { describe, expect, it } from 'vitest';
import { TributaryError, type TableId } from '../../src/core/index.js';
import { applyDdl, type DdlApplyContext, type DdlApplyResult } from '../../src/connectors/mysql/ddl/ddl-apply.js';
import { parseDdl } from '../../src/connectors/mysql/ddl/ddl-parser.js';
import type { MysqlTable } from '../../src/connectors/mysql/mysql-schema-reader.js';

const CONTEXT: DdlApplyContext = {
  isCaptured: (id) => id.namespace === 'db' && !id.name.startsWith('x_'),
  charsets: { server: 'utf8mb4', databases: new Map([['db', 'utf8mb4']]), tables: new Map() },
};

/** Applies statements in order from `tables`, as the source would; returns the last result. */
function follow(
  statements: readonly string[],
  context: Partial<DdlApplyContext> = {},
  tables: ReadonlyMap<string, MysqlTable> = new Map(),
): DdlApplyResult {
  let charsets = context.charsets ?? CONTEXT.charsets;
  let result: DdlApplyResult | undefined;
  for (const sql of statements) {
    result = applyDdl(result?.tables ?? tables, 'db', parseDdl(sql), { ...CONTEXT, ...context, charsets });
    charsets = result.charsets;
  }
  return result!;
}

function table(result: DdlApplyResult, name: string): MysqlTable {
  const found = result.tables.get(`db.${name}`);
  if (!found) throw new Error(`no table db.${name}`);
  return found;
}

function columns(result: DdlApplyResult, name: string): string[] {
  return table(result, name).schema.columns.map((c) => `${c.name} ${c.sourceType}${c.nullable ? '' : ' not null'}`);
}

describe('applyDdl', () => {
  it('builds columns as information_schema shows them on MariaDB: display widths, JSON as LONGTEXT', () => {
    const result = follow([
      "CREATE TABLE t (id INT PRIMARY KEY, b TINYINT(1), z INT ZEROFILL, y YEAR, j JSON, d DATETIME NOT NULL, e ENUM('a','b''c'))",
    ]);
    expect(columns(result, 't')).toEqual([
      'id int(11) not null',
      'b tinyint(1)',
      'z int(10) unsigned zerofill',
      'y year(4)',
      'j longtext',
      'd datetime',
      "e enum('a','b''c')",
    ]);
    expect(table(result, 't').schema.columns[4]?.type).toEqual({ kind: 'json' });
    expect(table(result, 't').charsets).toEqual([null, null, null, null, 'utf8mb4', null, 'utf8mb4']);
  });

  it('builds columns as MySQL 8 shows them: no display widths, native JSON, YEAR', () => {
    const result = follow(['CREATE TABLE t (a INT, b TINYINT(1), c INT(5) ZEROFILL, y YEAR, j JSON)'], {
      flavor: 'mysql',
    });
    expect(columns(result, 't')).toEqual(['a int', 'b tinyint(1)', 'c int(5) unsigned zerofill', 'y year', 'j json']);
    expect(table(result, 't').charsets).toEqual([null, null, null, null, null]);
  });

  it('reports renamed columns, and renames inside the primary key', () => {
    const result = follow([
      'CREATE TABLE t (id INT PRIMARY KEY, a INT, b INT)',
      'ALTER TABLE t CHANGE id key_id INT, RENAME COLUMN a TO b, RENAME COLUMN b TO a',
    ]);
    expect(result.changes).toHaveLength(1);
    expect(result.changes[0]).toMatchObject({
      table: { namespace: 'db', name: 't' },
      change: 'renameColumn',
      renamedColumns: [
        { from: 'id', to: 'key_id' },
        { from: 'a', to: 'b' },
        { from: 'b', to: 'a' },
      ],
    });
    expect(table(result, 't').schema).toMatchObject({
      primaryKey: ['key_id'],
      columns: [{ name: 'key_id', nullable: false }, { name: 'b' }, { name: 'a' }],
    });
    expect(result.changes[0]?.previous?.schema.columns.map((c) => c.name)).toEqual(['id', 'a', 'b']);
  });

  it('uses the key override for tables without a primary key, as readTableSchemas does', () => {
    const context = { keyOverride: 'k' };
    const result = follow(['CREATE TABLE t (k INT NOT NULL, v INT)'], context);
    expect(table(result, 't').schema.primaryKey).toEqual(['k']);
    const keyed = follow(['CREATE TABLE t (k INT NOT NULL, v INT)', 'ALTER TABLE t ADD PRIMARY KEY (v)'], context);
    expect(table(keyed, 't').schema.primaryKey).toEqual(['v']);
  });

  it('does not change its inputs', () => {
    const created = follow(['CREATE TABLE t (id INT PRIMARY KEY)']);
    const before = JSON.stringify([...created.tables]);
    const result = applyDdl(created.tables, 'db', parseDdl('DROP TABLE t'), CONTEXT);
    expect(result.tables.size).toBe(0);
    expect(JSON.stringify([...created.tables])).toBe(before);
  });

  it('keeps only captured tables, and swaps through an uncaptured temporary name', () => {
    const result = follow([
      'CREATE TABLE a (id INT PRIMARY KEY)',
      'CREATE TABLE b (id INT PRIMARY KEY, v INT)',
      'CREATE TABLE x_c (id INT PRIMARY KEY)',
      'RENAME TABLE a TO x_tmp, b TO a, x_tmp TO b',
    ]);
    expect([...result.tables.keys()].sort()).toEqual(['db.a', 'db.b']);
    expect(result.changes.map((c) => `${c.change} ${c.table.name}→${c.current?.schema.id.name}`)).toEqual([
      'renameTable b→a',
      'renameTable a→b',
    ]);
    expect(table(result, 'a').schema.columns.map((c) => c.name)).toEqual(['id', 'v']);
  });

  it('reports a table renamed out of the selection as dropped, and one renamed into it for a re-read', () => {
    const out = follow(['CREATE TABLE a (id INT PRIMARY KEY)', 'RENAME TABLE a TO x_a']);
    expect(out.changes.map((c) => c.change)).toEqual(['dropTable']);
    const into = follow(['CREATE TABLE x_a (id INT PRIMARY KEY)', 'RENAME TABLE x_a TO a']);
    expect(into.changes).toEqual([]);
    expect(into.reread).toEqual<TableId[]>([{ namespace: 'db', name: 'a' }]);
  });

  it('asks for a re-read when a default character set is not known or a column is missing', () => {
    const noCharset = follow(['CREATE TABLE t (a VARCHAR(3))'], {
      charsets: { databases: new Map(), tables: new Map() },
    });
    expect(noCharset.reread).toEqual([{ namespace: 'db', name: 't' }]);
    expect(noCharset.tables.size).toBe(0);
    const missing = follow(['CREATE TABLE t (a INT)', 'ALTER TABLE t MODIFY nope INT']);
    expect(missing.reread).toEqual([{ namespace: 'db', name: 't' }]);
    expect(missing.changes).toEqual([]);
  });

  it('passes an unknown statement on with its reason, changing nothing', () => {
    const created = follow(['CREATE TABLE t (id INT PRIMARY KEY)']);
    const result = applyDdl(created.tables, 'db', parseDdl('LOCK TABLES t WRITE'), CONTEXT);
    expect(result.unknown).toBe('LOCK statements are not followed');
    expect(result.tables).toEqual(created.tables);
    expect(result.changes).toEqual([]);
  });

  it('drops the captured tables of a dropped database, and follows database character sets', () => {
    const result = follow([
      'CREATE TABLE a (id INT PRIMARY KEY)',
      'CREATE TABLE b (id INT PRIMARY KEY)',
      'DROP DATABASE db',
      'CREATE DATABASE db CHARACTER SET latin1',
      'CREATE TABLE c (v VARCHAR(3))',
    ]);
    expect([...result.tables.keys()]).toEqual(['db.c']);
    expect(table(result, 'c').charsets).toEqual(['latin1']);
    expect(result.charsets.tables.get('db.c')).toBe('latin1');
  });

  it('folds names to lower case with lower_case_table_names', () => {
    const result = follow(['CREATE TABLE MixedCase (id INT PRIMARY KEY)', 'ALTER TABLE MIXEDCASE ADD v INT'], {
      lowerCaseTableNames: true,
    });
    expect(columns(result, 'mixedcase')).toEqual(['id int(11) not null', 'v int(11)']);
  });

  it('fails like information_schema does for a type Tributary cannot capture', () => {
    expect(() => follow(['CREATE TABLE t (id INT PRIMARY KEY, u UUID)'])).toThrow(TributaryError);
  });
});
