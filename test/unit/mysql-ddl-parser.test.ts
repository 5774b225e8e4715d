import { describe, expect, it } from 'vitest';
import type { DdlAlterSpec, DdlStatement } from '../../src/connectors/mysql/ddl/ddl-ast.js';
import { parseDdl } from '../../src/connectors/mysql/ddl/ddl-parser.js';

function parse<K extends DdlStatement['kind']>(sql: string, kind: K): Extract<DdlStatement, { kind: K }> {
  const statement = parseDdl(sql);
  expect(statement.kind, JSON.stringify(statement)).toBe(kind);
  return statement as Extract<DdlStatement, { kind: K }>;
}

function specs(sql: string): readonly DdlAlterSpec[] {
  return parse(sql, 'alterTable').specs;
}

describe('DDL parser: CREATE TABLE', () => {
  it('reads columns with types, modifiers and attributes', () => {
    const statement = parse(
      `CREATE TABLE IF NOT EXISTS db.t (
         id BIGINT UNSIGNED NOT NULL AUTO_INCREMENT,
         n VARCHAR(10) CHARACTER SET latin1 COLLATE latin1_bin DEFAULT 'x' COMMENT 'the ''name''',
         d DECIMAL(10,2) ZEROFILL NULL,
         t DATETIME(6) DEFAULT CURRENT_TIMESTAMP(6) ON UPDATE CURRENT_TIMESTAMP(6),
         g INT GENERATED ALWAYS AS (id + 1) STORED,
         v INT AS ((id * 2)) VIRTUAL INVISIBLE,
         e ENUM('a','it''s') NOT NULL DEFAULT _utf8mb4'a',
         b BOOL DEFAULT -1,
         j LONGTEXT CHECK (json_valid(j)),
         PRIMARY KEY (id)
       ) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci COMMENT='c'`,
      'createTable',
    );
    expect(statement.table).toEqual({ database: 'db', name: 't' });
    expect(statement.ifNotExists).toBe(true);
    const [id, n, d, t, g, v, e, b, j] = statement.columns;
    expect(id).toMatchObject({
      name: 'id',
      nullable: false,
      autoIncrement: true,
      type: { name: 'bigint', unsigned: true },
    });
    expect(n).toMatchObject({
      type: { name: 'varchar', args: [10], charset: 'latin1', collation: 'latin1_bin' },
      defaultSql: "'x'",
      comment: "the 'name'",
    });
    expect(d).toMatchObject({
      nullable: true,
      type: { name: 'decimal', args: [10, 2], zerofill: true, unsigned: true },
    });
    expect(t).toMatchObject({ defaultSql: 'CURRENT_TIMESTAMP(6)', onUpdateSql: 'CURRENT_TIMESTAMP(6)' });
    expect(g?.generated).toEqual({ expressionSql: 'id + 1', stored: true });
    expect(v).toMatchObject({ invisible: true, generated: { expressionSql: '(id * 2)', stored: false } });
    expect(e).toMatchObject({ type: { name: 'enum', values: ['a', "it's"] }, defaultSql: "_utf8mb4'a'" });
    expect(b).toMatchObject({ type: { name: 'tinyint', args: [1] }, defaultSql: '-1' });
    expect(j?.jsonCheck).toBe(true);
    expect(statement.constraints).toEqual([{ kind: 'primaryKey', parts: [{ column: 'id' }] }]);
    expect(statement.options).toEqual({
      charset: 'utf8mb4',
      collation: 'utf8mb4_unicode_ci',
      other: ['ENGINE', 'COMMENT'],
      systemVersioning: false,
    });
    expect(statement.asSelect).toBe(false);
  });

  it('resolves type aliases to the stored type', () => {
    const statement = parse(
      `CREATE TABLE t (a INTEGER, b INT8, c MIDDLEINT, d DEC(4), e FIXED(3,1), f REAL, g DOUBLE PRECISION, h FLOAT8,
         i NATIONAL VARCHAR(5), j NCHAR(2), k CHARACTER VARYING(9), l LONG VARCHAR, m LONG, n LONG VARBINARY,
         o CHAR(4) BYTE, p SERIAL, q BOOLEAN, r NVARCHAR(3), s GEOMCOLLECTION, u VARCHAR(5) ASCII, w CHAR(1) UNICODE)`,
      'createTable',
    );
    expect(statement.columns.map((c) => `${c.type.name}${c.type.charset ? `/${c.type.charset}` : ''}`)).toEqual([
      'int',
      'bigint',
      'mediumint',
      'decimal',
      'decimal',
      'double',
      'double',
      'double',
      'varchar/utf8mb3',
      'char/utf8mb3',
      'varchar',
      'mediumtext',
      'mediumtext',
      'mediumblob',
      'binary',
      'bigint',
      'tinyint',
      'varchar/utf8mb3',
      'geometrycollection',
      'varchar/latin1',
      'char/ucs2',
    ]);
    expect(statement.columns[15]).toMatchObject({ nullable: false, autoIncrement: true, unique: true });
  });

  it('reads keys, foreign keys and checks; composite keys keep their order; prefixes and DESC', () => {
    const statement = parse(
      `CREATE TABLE t (a INT, b VARCHAR(20), c INT,
         CONSTRAINT pk PRIMARY KEY USING BTREE (b(5) DESC, a) COMMENT 'k',
         UNIQUE KEY u (c), KEY (a), INDEX ix USING HASH (a, c), FULLTEXT (b), FOREIGN KEY fk (c) REFERENCES o (id)
           ON DELETE SET NULL ON UPDATE NO ACTION, CONSTRAINT ch CHECK (a > 0 AND c < 10), CHECK (json_valid(b)),
         KEY ((a + c)))`,
      'createTable',
    );
    expect(statement.constraints).toEqual([
      { kind: 'primaryKey', parts: [{ column: 'b', length: 5 }, { column: 'a' }] },
      { kind: 'index', unique: true, name: 'u', parts: [{ column: 'c' }] },
      { kind: 'index', unique: false, parts: [{ column: 'a' }] },
      { kind: 'index', unique: false, name: 'ix', parts: [{ column: 'a' }, { column: 'c' }] },
      { kind: 'index', unique: false, parts: [{ column: 'b' }] },
      { kind: 'foreignKey', name: 'fk' },
      { kind: 'check', name: 'ch' },
      { kind: 'check', jsonValidColumn: 'b' },
      { kind: 'index', unique: false, parts: [{}] },
    ]);
  });

  it('skips partitioning, in executable comments too', () => {
    const statement = parse(
      `CREATE TABLE t (id INT) ENGINE=InnoDB
       /*!50100 PARTITION BY RANGE (id) (PARTITION p0 VALUES LESS THAN (10), PARTITION p1 VALUES LESS THAN MAXVALUE) */`,
      'createTable',
    );
    expect(statement.asSelect).toBe(false);
    expect(statement.columns.map((c) => c.name)).toEqual(['id']);
  });

  it('marks CREATE TABLE … SELECT, with and without columns', () => {
    for (const sql of [
      'CREATE TABLE t SELECT * FROM s',
      'CREATE TABLE t AS SELECT 1',
      'CREATE TABLE t (a INT) IGNORE SELECT a FROM s',
      'CREATE TABLE t (a INT) ENGINE=InnoDB REPLACE AS SELECT a FROM s',
      'CREATE TABLE t (SELECT 1 AS a)',
      'CREATE TABLE t WITH x AS (SELECT 1) SELECT * FROM x',
    ]) {
      expect(parse(sql, 'createTable').asSelect, sql).toBe(true);
    }
  });

  it('reads CREATE TABLE LIKE, CREATE OR REPLACE, CREATE TEMPORARY', () => {
    expect(parse('CREATE TABLE a LIKE db.b', 'createTableLike')).toMatchObject({
      table: { name: 'a' },
      like: { database: 'db', name: 'b' },
    });
    expect(parse('CREATE TABLE IF NOT EXISTS a (LIKE b)', 'createTableLike')).toMatchObject({ ifNotExists: true });
    expect(parse('CREATE OR REPLACE TABLE a (x INT)', 'createTable').orReplace).toBe(true);
    expect(parse('CREATE TEMPORARY TABLE a (x INT)', 'createTable').temporary).toBe(true);
    expect(parse('CREATE TABLE a (x INT) WITH SYSTEM VERSIONING', 'createTable').options.systemVersioning).toBe(true);
  });
});

describe('DDL parser: ALTER TABLE', () => {
  it('reads ADD COLUMN with positions, and ADD (a, b)', () => {
    expect(
      specs('ALTER TABLE t ADD c INT FIRST, ADD COLUMN d TEXT AFTER `c`, ADD (e INT, f INT), ADD g INT'),
    ).toMatchObject([
      { kind: 'addColumn', column: { name: 'c' }, position: { kind: 'first' }, ifNotExists: false },
      { kind: 'addColumn', column: { name: 'd' }, position: { kind: 'after', column: 'c' } },
      { kind: 'addColumn', column: { name: 'e' } },
      { kind: 'addColumn', column: { name: 'f' } },
      { kind: 'addColumn', column: { name: 'g' } },
    ]);
  });

  it('reads DROP, MODIFY, CHANGE, RENAME COLUMN, ALTER COLUMN, with IF [NOT] EXISTS', () => {
    expect(
      specs(
        `ALTER TABLE IF EXISTS t ADD COLUMN IF NOT EXISTS a INT, DROP COLUMN IF EXISTS b, DROP c CASCADE,
         MODIFY COLUMN IF EXISTS d BIGINT NOT NULL AFTER a, CHANGE e e2 VARCHAR(3) FIRST, CHANGE COLUMN IF EXISTS f f INT,
         RENAME COLUMN g TO h, ALTER COLUMN i SET DEFAULT (1 + 2), ALTER j DROP DEFAULT, ALTER k SET INVISIBLE`,
      ),
    ).toMatchObject([
      { kind: 'addColumn', ifNotExists: true },
      { kind: 'dropColumn', name: 'b', ifExists: true },
      { kind: 'dropColumn', name: 'c', ifExists: false },
      {
        kind: 'modifyColumn',
        column: { name: 'd', nullable: false },
        ifExists: true,
        position: { kind: 'after', column: 'a' },
      },
      { kind: 'changeColumn', oldName: 'e', column: { name: 'e2' }, position: { kind: 'first' } },
      { kind: 'changeColumn', oldName: 'f', ifExists: true },
      { kind: 'renameColumn', from: 'g', to: 'h' },
      { kind: 'alterColumn', name: 'i' },
      { kind: 'alterColumn', name: 'j' },
      { kind: 'alterColumn', name: 'k' },
    ]);
    expect(parse('ALTER TABLE IF EXISTS t FORCE', 'alterTable').ifExists).toBe(true);
  });

  it('reads keys and constraints, and drops of them', () => {
    expect(
      specs(
        `ALTER TABLE t ADD PRIMARY KEY (a, b), ADD CONSTRAINT PRIMARY KEY (c), DROP PRIMARY KEY, ADD INDEX IF NOT EXISTS i (a),
         ADD UNIQUE u (b), ADD CONSTRAINT f FOREIGN KEY (a) REFERENCES o (id), ADD CHECK (a > 1),
         DROP INDEX IF EXISTS i, DROP KEY u, DROP FOREIGN KEY f, DROP CONSTRAINT IF EXISTS c1, DROP CHECK c2`,
      ),
    ).toMatchObject([
      { kind: 'addConstraint', constraint: { kind: 'primaryKey', parts: [{ column: 'a' }, { column: 'b' }] } },
      { kind: 'addConstraint', constraint: { kind: 'primaryKey', parts: [{ column: 'c' }] } },
      { kind: 'dropPrimaryKey' },
      { kind: 'addConstraint', constraint: { kind: 'index', name: 'i' } },
      { kind: 'addConstraint', constraint: { kind: 'index', unique: true, name: 'u' } },
      { kind: 'addConstraint', constraint: { kind: 'foreignKey' } },
      { kind: 'addConstraint', constraint: { kind: 'check' } },
      { kind: 'dropConstraint', what: 'index', name: 'i', ifExists: true },
      { kind: 'dropConstraint', what: 'index', name: 'u' },
      { kind: 'dropConstraint', what: 'foreignKey', name: 'f' },
      { kind: 'dropConstraint', what: 'constraint', name: 'c1', ifExists: true },
      { kind: 'dropConstraint', what: 'check', name: 'c2' },
    ]);
  });

  it('reads CONVERT TO, table options with and without commas, and clauses without effect', () => {
    expect(
      specs(
        `ALTER TABLE t CONVERT TO CHARACTER SET utf8mb4 COLLATE utf8mb4_bin, ENGINE=InnoDB DEFAULT CHARSET latin1,
         ALGORITHM=INPLACE, LOCK = NONE, FORCE, DISABLE KEYS, RENAME INDEX a TO b, ORDER BY a, b DESC`,
      ),
    ).toEqual([
      { kind: 'convertCharset', charset: 'utf8mb4', collation: 'utf8mb4_bin' },
      { kind: 'tableOptions', options: { other: ['ENGINE'], systemVersioning: false, charset: 'latin1' } },
      { kind: 'noEffect', what: 'ALGORITHM/LOCK' },
      { kind: 'noEffect', what: 'ALGORITHM/LOCK' },
      { kind: 'noEffect', what: 'FORCE' },
      { kind: 'noEffect', what: 'DISABLE KEYS' },
      { kind: 'noEffect', what: 'RENAME INDEX' },
      { kind: 'noEffect', what: 'ORDER BY' },
    ]);
    expect(specs('ALTER TABLE t ORDER BY a, ADD b INT')).toMatchObject([{ kind: 'noEffect' }, { kind: 'addColumn' }]);
    expect(specs("ALTER TABLE t ADD c INT, ENGINE=InnoDB COMMENT 'x'")).toMatchObject([
      { kind: 'addColumn' },
      { kind: 'tableOptions', options: { other: ['ENGINE', 'COMMENT'] } },
    ]);
    expect(specs('ALTER TABLE t ADD g INT PARTITION BY HASH(a) PARTITIONS 2')).toMatchObject([
      { kind: 'addColumn' },
      { kind: 'noEffect', what: 'PARTITION BY' },
    ]);
    expect(specs('ALTER TABLE t CONVERT TO CHARSET DEFAULT')).toEqual([{ kind: 'convertCharset', charset: 'default' }]);
  });

  it('reads table renames and partition clauses', () => {
    expect(specs('ALTER TABLE t RENAME TO db.u')).toEqual([{ kind: 'renameTable', to: { database: 'db', name: 'u' } }]);
    expect(specs('ALTER TABLE t RENAME AS u')).toEqual([{ kind: 'renameTable', to: { name: 'u' } }]);
    expect(specs('ALTER TABLE t ADD c INT, RENAME u')).toMatchObject([{ kind: 'addColumn' }, { kind: 'renameTable' }]);
    expect(specs('ALTER TABLE t ADD PARTITION (PARTITION p3 VALUES LESS THAN (40))')).toEqual([
      { kind: 'noEffect', what: 'ADD PARTITION' },
    ]);
    expect(specs('ALTER TABLE t PARTITION BY HASH(id) PARTITIONS 4')).toEqual([
      { kind: 'noEffect', what: 'PARTITION BY' },
    ]);
    expect(specs('ALTER TABLE t TRUNCATE PARTITION p0')).toEqual([{ kind: 'noEffect', what: 'TRUNCATE PARTITION' }]);
    expect(specs('ALTER TABLE t ADD SYSTEM VERSIONING')).toEqual([
      { kind: 'unsupported', what: 'ADD SYSTEM VERSIONING' },
    ]);
  });

  it('accepts columns named like non-reserved keywords', () => {
    expect(specs('ALTER TABLE t ADD period INT, ADD `key` INT, DROP system, ADD status TEXT')).toMatchObject([
      { kind: 'addColumn', column: { name: 'period' } },
      { kind: 'addColumn', column: { name: 'key' } },
      { kind: 'dropColumn', name: 'system' },
      { kind: 'addColumn', column: { name: 'status' } },
    ]);
  });
});

describe('DDL parser: other statements', () => {
  it('reads RENAME TABLE, DROP TABLE, TRUNCATE', () => {
    expect(parse('RENAME TABLE a TO b, db.c TO db2.d', 'renameTable').renames).toEqual([
      { from: { name: 'a' }, to: { name: 'b' } },
      { from: { database: 'db', name: 'c' }, to: { database: 'db2', name: 'd' } },
    ]);
    expect(parse('RENAME TABLE IF EXISTS a WAIT 3 TO b', 'renameTable').ifExists).toBe(true);
    expect(parse('DROP TABLE IF EXISTS `a`, b /* generated by server */', 'dropTable')).toEqual({
      kind: 'dropTable',
      tables: [{ name: 'a' }, { name: 'b' }],
      temporary: false,
      ifExists: true,
    });
    expect(parse('DROP TEMPORARY TABLE IF EXISTS t', 'dropTable').temporary).toBe(true);
    expect(parse('TRUNCATE t', 'truncateTable').table).toEqual({ name: 't' });
    expect(parse('TRUNCATE TABLE db.t;', 'truncateTable').table).toEqual({ database: 'db', name: 't' });
  });

  it('reads database and index statements', () => {
    expect(parse('CREATE DATABASE IF NOT EXISTS d DEFAULT CHARACTER SET = latin1', 'createDatabase')).toMatchObject({
      name: 'd',
      ifNotExists: true,
      charset: 'latin1',
    });
    expect(parse('CREATE SCHEMA d COLLATE utf8mb4_bin', 'createDatabase')).toMatchObject({ collation: 'utf8mb4_bin' });
    expect(parse('ALTER DATABASE CHARACTER SET utf8mb4', 'alterDatabase')).toEqual({
      kind: 'alterDatabase',
      charset: 'utf8mb4',
    });
    expect(parse('ALTER SCHEMA d CHARSET latin1', 'alterDatabase')).toMatchObject({ name: 'd', charset: 'latin1' });
    expect(parse('DROP DATABASE IF EXISTS d', 'dropDatabase')).toEqual({
      kind: 'dropDatabase',
      name: 'd',
      ifExists: true,
    });
    expect(parse('CREATE UNIQUE INDEX i ON t (a(3), b DESC) USING BTREE ALGORITHM=INPLACE', 'createIndex')).toEqual({
      kind: 'createIndex',
      table: { name: 't' },
      name: 'i',
      unique: true,
    });
    expect(parse('DROP INDEX IF EXISTS i ON db.t', 'dropIndex')).toEqual({
      kind: 'dropIndex',
      table: { database: 'db', name: 't' },
      name: 'i',
    });
  });

  it('recognizes statements that never change columns', () => {
    for (const [sql, what] of [
      ['BEGIN', 'BEGIN'],
      ['GRANT SELECT ON *.* TO u', 'GRANT'],
      ['CREATE DEFINER=`root`@`localhost` TRIGGER x BEFORE INSERT ON t FOR EACH ROW SET NEW.a = 1', 'CREATE TRIGGER'],
      ['CREATE OR REPLACE ALGORITHM=MERGE SQL SECURITY DEFINER VIEW v AS SELECT 1', 'CREATE VIEW'],
      ['DROP VIEW IF EXISTS v', 'DROP VIEW'],
      ['ALTER DEFINER=`a`@`%` EVENT e DISABLE', 'ALTER EVENT'],
      ['CREATE USER u IDENTIFIED BY "x"', 'CREATE USER'],
      ['RENAME USER a TO b', 'RENAME USER'],
      ['ANALYZE TABLE t', 'ANALYZE'],
      ['OPTIMIZE TABLE t', 'OPTIMIZE'],
      ['FLUSH PRIVILEGES', 'FLUSH'],
      ['INSERT INTO t VALUES (1)', 'INSERT'],
    ] as const) {
      expect(parseDdl(sql), sql).toEqual({ kind: 'ignored', statement: what });
    }
  });

  it('returns unknown, with a reason, for statements it does not follow or cannot parse', () => {
    for (const sql of [
      'LOCK TABLES t WRITE',
      'IMPORT TABLE FROM s',
      'CREATE TABLESPACE ts ADD DATAFILE "x"',
      'ALTER TABLE t CONVERT PARTITION p TO TABLE u',
      'ALTER TABLE t CONVERT TABLE u TO PARTITION p VALUES LESS THAN (10)',
      'ALTER TABLE t ADD c INT BOGUS',
      'ALTER TABLE t ADD c INT d INT',
      'CREATE TABLE t (a INT',
      "CREATE TABLE t (a ENUM('x)",
      'DROP TABLE',
      '',
      '(SELECT 1)',
    ]) {
      const statement = parseDdl(sql);
      expect(statement.kind, `${sql} → ${JSON.stringify(statement)}`).toBe('unknown');
      expect(statement.kind === 'unknown' && statement.reason.length > 0).toBe(true);
    }
    expect(parseDdl('ALTER TABLE t ADD c INT BOGUS')).toEqual({
      kind: 'unknown',
      reason: 'cannot parse: unexpected attribute of column c, found "BOGUS" at offset 24',
    });
  });
});
