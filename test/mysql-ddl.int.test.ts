import type { Connection, RowDataPacket } from 'mysql2/promise';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { SchemaChangeType, TableId } from '../src/core/index.js';
import { applyDdl, type DdlApplyContext } from '../src/connectors/mysql/ddl/ddl-apply.js';
import { readCharsetDefaults } from '../src/connectors/mysql/ddl/ddl-charset-reader.js';
import type { DdlCharsetDefaults } from '../src/connectors/mysql/ddl/ddl-charsets.js';
import { ddlLexOptionsForServer, type DdlLexOptions } from '../src/connectors/mysql/ddl/ddl-lexer.js';
import { parseDdl } from '../src/connectors/mysql/ddl/ddl-parser.js';
import { listTables, readTableSchemas, type MysqlTable } from '../src/connectors/mysql/mysql-schema-reader.js';
import { mysqlAdmin, uniqueName } from './harness/databases.js';

/**
 * The honest test of the DDL follower: each sequence runs on the real MariaDB, and parsing + applying it to
 * the schema read before must give exactly what information_schema says after (columns in order, canonical
 * types, nullability, COLUMN_TYPE, character sets, primary key).
 */
interface DdlCase {
  readonly name: string;
  /** Default character set of `$db` (and `$db2`); utf8mb4 when unset. */
  readonly dbCharset?: string;
  /** Statements that build the starting schema, run before it is read. `$db`/`$db2` name the case's databases. */
  readonly setup?: readonly string[];
  /** The statements followed, one at a time, with `$db` as the default database. */
  readonly ddl: readonly string[];
  /** The kinds of change expected from each statement (only checked where given). */
  readonly changes?: readonly (readonly SchemaChangeType[] | undefined)[];
  /** Tables (`name` or `db2:name`) expected in `reread`, over the whole sequence. */
  readonly reread?: readonly string[];
  /** Tables whose names start with `x_` are not captured. */
  readonly partialCapture?: boolean;
}

const CASES: readonly DdlCase[] = [
  {
    name: 'CREATE TABLE with every integer, decimal and float type, UNSIGNED and ZEROFILL',
    ddl: [
      `CREATE TABLE nums (id INT NOT NULL AUTO_INCREMENT PRIMARY KEY, ti TINYINT, tiu TINYINT UNSIGNED, t1 TINYINT(1),
        b BOOL, bo BOOLEAN, si SMALLINT, siu SMALLINT UNSIGNED, mi MEDIUMINT, miu MEDIUMINT UNSIGNED, mid MIDDLEINT,
        i INTEGER, iu INT UNSIGNED, i5 INT(5), iz INT ZEROFILL, i3z INT(3) UNSIGNED ZEROFILL, i0 INT(0), isg INT SIGNED,
        bi BIGINT, biu BIGINT UNSIGNED, i1 INT1, i2 INT2, i3 INT3, i4 INT4, i8 INT8,
        d DECIMAL, d1 DECIMAL(7), d2 DECIMAL(10,2), d3 DECIMAL(65,30) UNSIGNED ZEROFILL, n NUMERIC(5,2), de DEC(4),
        fx FIXED(3,1), f FLOAT, f2 FLOAT(7,3), f24 FLOAT(24), f25 FLOAT(25), fu FLOAT UNSIGNED, f4 FLOAT4, f8 FLOAT8,
        db DOUBLE, dp DOUBLE PRECISION, d22 DOUBLE(10,2), r REAL, bt BIT, b7 BIT(7), b64 BIT(64))`,
    ],
    changes: [['createTable']],
  },
  {
    name: 'CREATE TABLE with character types, column and table character sets and collations',
    ddl: [
      `CREATE TABLE strs (id INT PRIMARY KEY, c CHAR, c10 CHAR(10), v VARCHAR(20), vl VARCHAR(20) CHARACTER SET latin1,
        vc VARCHAR(5) CHARSET utf8, vcol VARCHAR(5) COLLATE latin1_german1_ci, vb VARCHAR(5) BINARY,
        vcc VARCHAR(5) CHARACTER SET utf8mb4 COLLATE utf8mb4_bin, va VARCHAR(5) ASCII, nc NCHAR(3), nv NVARCHAR(4),
        nat NATIONAL VARCHAR(6), natc NATIONAL CHARACTER(2), cv CHARACTER VARYING(9), chv CHAR VARYING(8),
        tt TINYTEXT, t TEXT, t50 TEXT(50), t100 TEXT(100), t1000 TEXT(1000), mt MEDIUMTEXT, lt LONGTEXT,
        lg LONG, lv LONG VARCHAR, tl TEXT CHARACTER SET latin1, tb TEXT CHARACTER SET binary, cb CHAR(4) BYTE,
        cbin CHAR(3) CHARACTER SET binary, vbin VARCHAR(3) CHARSET binary, bn BINARY, b8 BINARY(8), vb8 VARBINARY(8),
        tbl TINYBLOB, bl BLOB, b300 BLOB(300), mb MEDIUMBLOB, lb LONGBLOB, lvb LONG VARBINARY)
        DEFAULT CHARSET=latin1 COLLATE=latin1_swedish_ci`,
      `CREATE TABLE strs2 (a VARCHAR(3), b TEXT, c ENUM('x')) COLLATE utf8mb4_unicode_ci`,
      `CREATE TABLE strs3 (a VARCHAR(3), b VARCHAR(3) COLLATE utf8mb4_uca1400_ai_ci, c CHAR(2) COLLATE uca1400_ai_ci)`,
    ],
  },
  {
    name: 'a database with latin1 as default: tables and columns without a character set take it',
    dbCharset: 'latin1',
    ddl: [
      "CREATE TABLE t (id INT PRIMARY KEY, a VARCHAR(10), b TEXT, c ENUM('a','b'))",
      'CREATE TABLE u (id INT PRIMARY KEY, a VARCHAR(10)) CHARSET utf8mb4',
      'ALTER TABLE t ADD d VARCHAR(4), ADD e TEXT CHARACTER SET utf8mb4',
    ],
  },
  {
    name: 'temporal types: precision, zero dates forced nullable, ON UPDATE',
    ddl: [
      `CREATE TABLE tm (id INT PRIMARY KEY, d DATE NOT NULL, t TIME, t3 TIME(3), dt DATETIME NOT NULL DEFAULT '2020-01-01',
        dt6 DATETIME(6), dt0 DATETIME(0), ts TIMESTAMP NOT NULL DEFAULT CURRENT_TIMESTAMP ON UPDATE CURRENT_TIMESTAMP,
        ts6 TIMESTAMP(6) NULL DEFAULT CURRENT_TIMESTAMP(6) ON UPDATE CURRENT_TIMESTAMP(6), y YEAR, y4 YEAR(4))`,
      'ALTER TABLE tm MODIFY dt6 DATETIME(3) NOT NULL, ADD dt2 DATETIME(2) NULL AFTER d',
    ],
    changes: [['createTable'], ['alterColumnType', 'addColumn']],
  },
  {
    name: 'ENUM and SET labels with quotes, backslashes, spaces and unicode; JSON; geometry',
    ddl: [
      `CREATE TABLE es (id INT PRIMARY KEY, e ENUM('a','it''s','b\\\\c','Q"x', 'sp ace', 'ünï') NOT NULL DEFAULT 'a',
        s SET('x','y','z') CHARACTER SET latin1, eb ENUM('a') CHARACTER SET binary, j JSON, jc LONGTEXT CHECK (json_valid(jc)),
        jt LONGTEXT, lt LONGTEXT, g GEOMETRY, p POINT, CONSTRAINT jt_json CHECK (json_valid(jt)))`,
      "ALTER TABLE es ADD j2 JSON FIRST, ADD e2 ENUM('one','two') AFTER id",
    ],
  },
  {
    name: 'primary keys: inline, table-level composite in key order, SERIAL, prefix and DESC parts, none',
    ddl: [
      'CREATE TABLE k1 (a INT, b VARCHAR(20), c INT, PRIMARY KEY (b, a))',
      'CREATE TABLE k2 (id SERIAL, v INT)',
      'CREATE TABLE k3 (s VARCHAR(100), x INT, CONSTRAINT pk PRIMARY KEY USING BTREE (s(10) DESC))',
      'CREATE TABLE k4 (a INT, b INT UNIQUE KEY, c INT NOT NULL, UNIQUE INDEX u (c), KEY (a), INDEX ix USING HASH (a))',
      'CREATE TABLE k5 (a INT AUTO_INCREMENT, b INT, KEY (a))',
      'CREATE TABLE k6 (a DATETIME NOT NULL, b INT, PRIMARY KEY (a, b))',
    ],
  },
  {
    name: 'generated and invisible columns (MariaDB)',
    ddl: [
      `CREATE TABLE g (id INT PRIMARY KEY, a INT, b INT AS (a + 1) VIRTUAL, c INT GENERATED ALWAYS AS (a * 2) STORED,
        d VARCHAR(10) AS (CONCAT('x', a)) PERSISTENT, e INT INVISIBLE, f INT DEFAULT 3 INVISIBLE)`,
      'ALTER TABLE g ADD h INT INVISIBLE AFTER a, ADD i BIGINT AS (id * 10) VIRTUAL',
    ],
  },
  {
    name: 'executable comments and ordinary comments',
    ddl: [
      `/*!40101 CREATE TABLE ec (id INT PRIMARY KEY, a INT) */`,
      `CREATE TABLE ec2 (id INT NOT NULL, /* a comment */ v VARCHAR(3) -- trailing
        # hash comment
        , PRIMARY KEY (id)) ENGINE=InnoDB /*!50100 PARTITION BY HASH (id) PARTITIONS 2 */`,
      '/*!40000 ALTER TABLE ec DISABLE KEYS */',
      'ALTER TABLE ec /*!50000 ADD b INT */',
      'ALTER TABLE ec /*M!100301 ADD c INT */',
      'ALTER TABLE ec ADD d INT /*!99999 , ADD e INT */',
      'ALTER TABLE ec ADD f INT /*!50700 , ADD g INT */ /*M!999999 , ADD h INT */ /*!100000 , ADD i INT */',
    ],
    changes: [['createTable'], ['createTable'], [], ['addColumn'], ['addColumn'], ['addColumn'], ['addColumn']],
  },
  {
    name: 'back-quoted names with spaces, back-quotes and unicode',
    ddl: [
      'CREATE TABLE `my table` (`the id` INT PRIMARY KEY, `ünï` VARCHAR(5), `we``ird` INT, `select` INT)',
      'ALTER TABLE `my table` CHANGE `ünï` `ñame 2` VARCHAR(5), ADD `日本` INT AFTER `the id`, DROP `select`',
      'RENAME TABLE `my table` TO `tâble ✓`',
    ],
    changes: [['createTable'], ['renameColumn', 'addColumn', 'dropColumn'], ['renameTable']],
  },
  {
    name: 'CREATE TABLE IF NOT EXISTS of an existing table, CREATE TABLE LIKE, CREATE OR REPLACE',
    setup: ['CREATE TABLE base (id INT PRIMARY KEY, a VARCHAR(10) CHARACTER SET latin1, d DATETIME(6)) CHARSET latin1'],
    ddl: [
      'CREATE TABLE IF NOT EXISTS base (other INT)',
      'CREATE TABLE copy LIKE base',
      'CREATE TABLE copy2 (LIKE base)',
      'ALTER TABLE copy ADD b VARCHAR(3)',
      'CREATE OR REPLACE TABLE copy2 (z INT)',
    ],
    changes: [[], ['createTable'], ['createTable'], ['addColumn'], ['dropTable', 'createTable']],
  },
  {
    name: 'CREATE TABLE … SELECT asks for a re-read',
    setup: ['CREATE TABLE src (id INT PRIMARY KEY, a VARCHAR(10))', "INSERT INTO src VALUES (1, 'x')"],
    ddl: ['CREATE TABLE dst AS SELECT id, a FROM src', 'CREATE TABLE dst2 (extra INT) SELECT * FROM src'],
    reread: ['dst', 'dst2'],
  },
  {
    name: 'ADD COLUMN at the end, FIRST, AFTER, several in parentheses',
    setup: ['CREATE TABLE t (id INT PRIMARY KEY, a INT, b INT)'],
    ddl: [
      'ALTER TABLE t ADD COLUMN c INT',
      'ALTER TABLE t ADD d VARCHAR(5) NOT NULL FIRST',
      'ALTER TABLE t ADD COLUMN e DECIMAL(10,3) AFTER a',
      'ALTER TABLE t ADD (f INT, g TEXT)',
      'ALTER TABLE t ADD h INT AFTER a, ADD i INT AFTER h, ADD j INT FIRST',
    ],
    changes: [['addColumn'], ['addColumn'], ['addColumn'], ['addColumn'], ['addColumn']],
  },
  {
    name: 'DROP COLUMN, DROP COLUMN IF EXISTS',
    setup: ['CREATE TABLE t (id INT PRIMARY KEY, a INT, b INT, c INT)'],
    ddl: [
      'ALTER TABLE t DROP COLUMN a',
      'ALTER TABLE t DROP b, DROP COLUMN IF EXISTS nope',
      'ALTER TABLE t DROP IF EXISTS zz',
    ],
    changes: [['dropColumn'], ['dropColumn'], []],
  },
  {
    name: 'MODIFY: type, nullability, FIRST/AFTER, a primary-key column stays NOT NULL',
    setup: ['CREATE TABLE t (id INT PRIMARY KEY, a INT, b VARCHAR(10), c INT NOT NULL)'],
    ddl: [
      'ALTER TABLE t MODIFY a BIGINT UNSIGNED',
      'ALTER TABLE t MODIFY COLUMN c INT NULL',
      'ALTER TABLE t MODIFY b VARCHAR(10) FIRST',
      'ALTER TABLE t MODIFY b VARCHAR(10) AFTER c',
      'ALTER TABLE t MODIFY id BIGINT',
      'ALTER TABLE t MODIFY b VARCHAR(30) CHARACTER SET latin1 NOT NULL',
    ],
    changes: [
      ['alterColumnType'],
      ['alterColumnType'],
      ['refreshTable'],
      ['refreshTable'],
      ['alterColumnType'],
      ['alterColumnType'],
    ],
  },
  {
    name: 'CHANGE: rename only, rename + type, with FIRST/AFTER, case of the name; RENAME COLUMN and swaps',
    setup: ['CREATE TABLE t (id INT PRIMARY KEY, a INT, b VARCHAR(10), c INT, d INT)'],
    ddl: [
      'ALTER TABLE t CHANGE a a2 INT',
      'ALTER TABLE t CHANGE COLUMN b b2 VARCHAR(40) NOT NULL',
      'ALTER TABLE t CHANGE c c INT AFTER id',
      'ALTER TABLE t CHANGE d D INT',
      'ALTER TABLE t CHANGE id pk INT',
      'ALTER TABLE t RENAME COLUMN a2 TO a3',
      'ALTER TABLE t RENAME COLUMN a3 TO c, RENAME COLUMN c TO a3',
      'ALTER TABLE t CHANGE c x INT, CHANGE a3 c INT',
    ],
    changes: [
      ['renameColumn'],
      ['renameColumn', 'alterColumnType'],
      ['refreshTable'],
      ['renameColumn'],
      ['renameColumn'],
      ['renameColumn'],
      ['renameColumn'],
      ['renameColumn'],
    ],
  },
  {
    name: 'several clauses: positions refer to the list as built, drops and adds of one name',
    setup: ['CREATE TABLE t (a INT, b INT, c INT, d INT)'],
    ddl: [
      'ALTER TABLE t CHANGE a b2 INT, CHANGE b a INT',
      'ALTER TABLE t ADD e INT AFTER a, DROP c, MODIFY a INT FIRST, ADD f INT FIRST',
      'ALTER TABLE t DROP d, ADD d BIGINT FIRST',
      'ALTER TABLE t ADD g INT AFTER b2, ADD h INT AFTER g, MODIFY e INT AFTER h',
    ],
  },
  {
    name: 'ALTER COLUMN SET DEFAULT / DROP DEFAULT change the defaults only; indexes, foreign keys and checks change nothing',
    setup: ['CREATE TABLE p (id INT PRIMARY KEY)', 'CREATE TABLE t (id INT PRIMARY KEY, a INT, b VARCHAR(10), p INT)'],
    ddl: [
      "ALTER TABLE t ALTER COLUMN a SET DEFAULT 5, ALTER b SET DEFAULT 'x'",
      'ALTER TABLE t ALTER a DROP DEFAULT',
      'ALTER TABLE t ADD INDEX ia (a), ADD UNIQUE KEY ub (b), ADD CONSTRAINT fk FOREIGN KEY (p) REFERENCES p (id) ON DELETE CASCADE',
      'ALTER TABLE t ADD CONSTRAINT chk CHECK (a > 0), ADD FULLTEXT INDEX ft (b)',
      'ALTER TABLE t DROP INDEX ia, DROP FOREIGN KEY fk, DROP KEY ub',
      'ALTER TABLE t RENAME INDEX ft TO ft2',
      'ALTER TABLE t ALTER INDEX ft2 IGNORED',
      'CREATE INDEX ix ON t (a, b(3))',
      'CREATE UNIQUE INDEX IF NOT EXISTS uq USING BTREE ON t (b) ALGORITHM=INPLACE LOCK=NONE',
      'DROP INDEX ix ON t',
    ],
    changes: [['refreshTable'], ['refreshTable'], [], [], [], [], [], [], [], []],
  },
  {
    name: 'ADD/DROP PRIMARY KEY: key columns become NOT NULL, dropping the only key column drops the key',
    setup: ['CREATE TABLE t (a INT, b INT, c DATETIME NOT NULL, d INT)', 'CREATE TABLE u (id INT PRIMARY KEY, v INT)'],
    ddl: [
      'ALTER TABLE t ADD PRIMARY KEY (b, a)',
      'ALTER TABLE t DROP PRIMARY KEY',
      'ALTER TABLE t ADD CONSTRAINT PRIMARY KEY (c)',
      'ALTER TABLE t DROP PRIMARY KEY, ADD COLUMN e INT PRIMARY KEY FIRST',
      'ALTER TABLE t DROP PRIMARY KEY, ADD PRIMARY KEY (d)',
      'ALTER TABLE t CHANGE d dd INT',
      'ALTER TABLE u DROP COLUMN id',
    ],
    changes: [
      ['refreshTable'],
      ['refreshTable'],
      ['refreshTable'],
      ['addColumn'],
      ['refreshTable'],
      ['renameColumn'],
      ['dropColumn'],
    ],
  },
  {
    name: 'CONVERT TO CHARACTER SET: text columns change character set and grow, binary ones stay',
    dbCharset: 'latin1',
    setup: [
      `CREATE TABLE t (id INT PRIMARY KEY, a VARCHAR(10), b TEXT, c TINYTEXT, d MEDIUMTEXT, lt LONGTEXT, e ENUM('x'),
        f CHAR(3), g JSON, h VARCHAR(300), i VARBINARY(3), j BLOB, k SET('a') CHARACTER SET utf8mb4, n INT)`,
    ],
    ddl: [
      'ALTER TABLE t CONVERT TO CHARACTER SET utf8mb4',
      'ALTER TABLE t CONVERT TO CHARACTER SET latin1 COLLATE latin1_bin',
      'ALTER TABLE t CONVERT TO CHARSET utf8mb3, ADD x VARCHAR(3), ADD y TEXT CHARACTER SET latin1, ADD z JSON',
      'ALTER TABLE t CONVERT TO CHARACTER SET DEFAULT',
    ],
    changes: [['alterColumnType'], ['alterColumnType'], ['addColumn', 'alterColumnType'], ['alterColumnType']],
  },
  {
    name: 'table default character set changes apply to columns added later (also in the same statement)',
    setup: ['CREATE TABLE t (id INT PRIMARY KEY, a VARCHAR(5)) CHARSET utf8mb4'],
    ddl: [
      'ALTER TABLE t DEFAULT CHARSET=latin1',
      'ALTER TABLE t ADD b VARCHAR(5)',
      'ALTER TABLE t ADD c VARCHAR(5), CHARACTER SET utf8mb3',
      'ALTER TABLE t COLLATE utf8mb4_bin, ADD d TEXT',
      "ALTER TABLE t ENGINE=InnoDB ROW_FORMAT=DYNAMIC COMMENT='hello' AUTO_INCREMENT=10",
      'ALTER TABLE t ADD e INT, ALGORITHM=INPLACE, LOCK=NONE',
      'ALTER TABLE t FORCE',
      'ALTER TABLE t ENGINE InnoDB, ADD f VARCHAR(2) AFTER id',
    ],
    changes: [[], ['addColumn'], ['addColumn'], ['addColumn'], [], ['addColumn'], [], ['addColumn']],
  },
  {
    name: "MariaDB's IF [NOT] EXISTS forms",
    setup: ['CREATE TABLE t (id INT PRIMARY KEY, a INT, b INT)'],
    ddl: [
      'ALTER TABLE t ADD COLUMN IF NOT EXISTS a BIGINT',
      'ALTER TABLE t ADD COLUMN IF NOT EXISTS c BIGINT',
      'ALTER TABLE t DROP COLUMN IF EXISTS zz, DROP COLUMN IF EXISTS b',
      'ALTER TABLE t CHANGE COLUMN IF EXISTS zz yy INT, CHANGE COLUMN IF EXISTS a a2 SMALLINT',
      'ALTER TABLE t MODIFY COLUMN IF EXISTS ww INT, MODIFY IF EXISTS c INT',
      'ALTER TABLE t ADD INDEX IF NOT EXISTS i1 (c), DROP INDEX IF EXISTS i9, ADD IF NOT EXISTS d INT',
      'ALTER TABLE IF EXISTS nope ADD x INT',
      'DROP TABLE IF EXISTS nope, nope2',
      'CREATE TABLE IF NOT EXISTS t (x INT)',
      'CREATE DATABASE IF NOT EXISTS $db2',
      'RENAME TABLE IF EXISTS nope TO nope3',
    ],
    changes: [
      [],
      ['addColumn'],
      ['dropColumn'],
      ['renameColumn', 'alterColumnType'],
      ['alterColumnType'],
      ['addColumn'],
      [],
      [],
      [],
      [],
      [],
    ],
  },
  {
    name: 'RENAME TABLE: one, several, a swap through a temporary name, to another database; ALTER … RENAME',
    setup: [
      'CREATE TABLE a (id INT PRIMARY KEY, va INT)',
      'CREATE TABLE b (id INT PRIMARY KEY, vb VARCHAR(3) CHARACTER SET latin1)',
      'CREATE TABLE c (id INT PRIMARY KEY)',
      'CREATE TABLE $db2.z (id INT PRIMARY KEY)',
    ],
    ddl: [
      'RENAME TABLE a TO tmp, b TO a, tmp TO b',
      'RENAME TABLE c TO c2, $db2.z TO $db2.z2',
      'RENAME TABLE c2 TO $db2.c3',
      'ALTER TABLE b RENAME TO b2',
      'ALTER TABLE b2 RENAME AS b3, ADD w INT',
      'ALTER TABLE b3 RENAME $db2.b4',
      'ALTER TABLE $db2.b4 ADD x INT',
    ],
    changes: [
      ['renameTable', 'renameTable'],
      ['renameTable', 'renameTable'],
      ['renameTable'],
      ['renameTable'],
      ['addColumn', 'renameTable'],
      ['renameTable'],
      ['addColumn'],
    ],
  },
  {
    name: 'tables renamed out of and into the captured set',
    partialCapture: true,
    setup: ['CREATE TABLE a (id INT PRIMARY KEY)', 'CREATE TABLE x_hidden (id INT PRIMARY KEY, v INT)'],
    ddl: ['RENAME TABLE a TO x_a', 'RENAME TABLE x_hidden TO shown', 'ALTER TABLE x_a RENAME TO back, ADD v INT'],
    changes: [['dropTable'], [], []],
    reread: ['shown', 'back'],
  },
  {
    name: 'DROP TABLE one, several, IF EXISTS, with a comment; TRUNCATE',
    setup: [
      'CREATE TABLE a (id INT PRIMARY KEY)',
      'CREATE TABLE b (id INT PRIMARY KEY)',
      'CREATE TABLE c (id INT PRIMARY KEY)',
      'CREATE TABLE d (id INT PRIMARY KEY)',
    ],
    ddl: [
      'TRUNCATE TABLE a',
      'TRUNCATE b',
      'DROP TABLE a /* generated by server */',
      'DROP TABLE IF EXISTS b, nope, `c`',
      'DROP TABLES $db.d',
    ],
    changes: [['truncateTable'], ['truncateTable'], ['dropTable'], ['dropTable', 'dropTable'], ['dropTable']],
  },
  {
    name: 'CREATE/ALTER/DROP DATABASE: the default character set of new tables follows',
    ddl: [
      'DROP DATABASE $db2',
      'CREATE DATABASE $db2 CHARACTER SET latin1',
      'CREATE TABLE $db2.t (id INT PRIMARY KEY, a VARCHAR(3))',
      'ALTER DATABASE $db2 DEFAULT CHARACTER SET = utf8mb3 COLLATE utf8mb3_bin',
      'CREATE TABLE $db2.u (id INT PRIMARY KEY, a VARCHAR(3))',
      'CREATE SCHEMA IF NOT EXISTS $db2',
      'DROP SCHEMA $db2',
      'CREATE DATABASE $db2',
      'CREATE TABLE $db2.v (a VARCHAR(3))',
    ],
    changes: [[], [], ['createTable'], [], ['createTable'], [], ['dropTable', 'dropTable'], [], ['createTable']],
  },
  {
    name: 'temporary tables are not followed',
    setup: ['CREATE TABLE t (id INT PRIMARY KEY, a INT)'],
    ddl: [
      'CREATE TEMPORARY TABLE t (x VARCHAR(3))',
      'CREATE TEMPORARY TABLE tmp (x INT)',
      'DROP TEMPORARY TABLE IF EXISTS t',
      'DROP TEMPORARY TABLE tmp',
    ],
    changes: [[], [], [], []],
  },
  {
    name: 'MariaDB JSON: a redefined JSON column and dropped checks ask for a re-read',
    setup: ['CREATE TABLE t (id INT PRIMARY KEY, j JSON, k LONGTEXT, CONSTRAINT kk CHECK (json_valid(k)))'],
    ddl: ['ALTER TABLE t MODIFY j LONGTEXT', 'ALTER TABLE t DROP CONSTRAINT kk'],
    reread: ['t', 't'],
  },
  {
    name: 'system versioning and json_valid checks added later ask for a re-read',
    setup: ['CREATE TABLE t (id INT PRIMARY KEY, a LONGTEXT)', 'CREATE TABLE u (id INT PRIMARY KEY)'],
    ddl: [
      'ALTER TABLE t ADD CONSTRAINT a_json CHECK (json_valid(a))',
      'ALTER TABLE u ADD SYSTEM VERSIONING',
      'CREATE TABLE v (id INT PRIMARY KEY, x INT) WITH SYSTEM VERSIONING',
    ],
    reread: ['t', 'u', 'v'],
  },
  {
    name: 'ALTER ONLINE/IGNORE, WAIT/NOWAIT, SERIAL DEFAULT VALUE, ADD COLUMN list with a key, MODIFY of ENUM and DECIMAL',
    setup: ["CREATE TABLE t (id INT PRIMARY KEY, e ENUM('a','b'), d DECIMAL(5,2), s SET('x') NOT NULL)"],
    ddl: [
      "ALTER ONLINE TABLE t MODIFY e ENUM('a','b','c') NOT NULL DEFAULT 'a'",
      'ALTER IGNORE TABLE t WAIT 5 MODIFY d DECIMAL(12,4) UNSIGNED',
      'ALTER TABLE t NOWAIT ADD (n BIGINT SERIAL DEFAULT VALUE, m INT, INDEX (m))',
      "ALTER TABLE t CHANGE s s2 SET('x','y') CHARACTER SET latin1 COLLATE latin1_bin NULL COMMENT 'labels'",
      'TRUNCATE TABLE t WAIT 1',
    ],
    changes: [
      ['alterColumnType'],
      ['alterColumnType'],
      ['addColumn'],
      ['renameColumn', 'alterColumnType'],
      ['truncateTable'],
    ],
  },
  {
    name: 'CHANGE and MODIFY under CONVERT TO, text lengths, and binary character set columns',
    setup: ['CREATE TABLE t (id INT PRIMARY KEY, a TEXT, b VARCHAR(5), c TINYTEXT) CHARSET latin1'],
    ddl: [
      'ALTER TABLE t CONVERT TO CHARACTER SET utf8mb4, MODIFY a TEXT(100), CHANGE b b2 VARCHAR(7) CHARACTER SET latin1',
      'ALTER TABLE t ADD d TEXT(70) CHARACTER SET utf8mb4, ADD e TEXT(70) CHARACTER SET latin1, ADD f BLOB(70000)',
      'ALTER TABLE t MODIFY c TINYTEXT CHARACTER SET binary, ADD g VARCHAR(5) CHARACTER SET binary',
    ],
  },
  {
    name: 'statements that do not change tables',
    setup: ['CREATE TABLE t (id INT PRIMARY KEY, a INT)'],
    ddl: [
      'CREATE VIEW v AS SELECT * FROM t',
      'CREATE DEFINER=`root`@`localhost` TRIGGER trg BEFORE INSERT ON t FOR EACH ROW SET NEW.a = 1',
      'ANALYZE TABLE t',
      'OPTIMIZE TABLE t',
      'DROP VIEW v',
      'DROP TRIGGER trg',
    ],
    changes: [[], [], [], [], [], []],
  },
];

describe('DDL parsed from statements and applied = information_schema after the statements', () => {
  let conn: Connection;
  let lexOptions: DdlLexOptions;

  beforeAll(async () => {
    conn = await mysqlAdmin();
    const [rows] = await conn.query<RowDataPacket[]>('SELECT VERSION() AS v');
    lexOptions = ddlLexOptionsForServer(String(rows[0]?.['v']));
  });

  afterAll(async () => {
    await conn?.end();
  });

  for (const testCase of CASES) {
    it(testCase.name, async () => {
      const db = uniqueName('ddl');
      const db2 = `${db}_2`;
      const sub = (sql: string): string => sql.replaceAll('$db2', `\`${db2}\``).replaceAll('$db', `\`${db}\``);
      const charset = testCase.dbCharset ?? 'utf8mb4';
      await conn.query(`CREATE DATABASE \`${db}\` CHARACTER SET ${charset}`);
      await conn.query(`CREATE DATABASE \`${db2}\` CHARACTER SET ${charset}`);
      try {
        await conn.query(`USE \`${db}\``);
        for (const sql of testCase.setup ?? []) await conn.query(sub(sql));
        const isCaptured = (id: TableId): boolean =>
          (id.namespace === db || id.namespace === db2) && !(testCase.partialCapture && id.name.startsWith('x_'));
        let tables: ReadonlyMap<string, MysqlTable> = await readCaptured(conn, [db, db2], isCaptured);
        let charsets: DdlCharsetDefaults = await readCharsetDefaults(conn, [db, db2]);
        const reread: string[] = [];
        for (const [i, raw] of testCase.ddl.entries()) {
          const sql = sub(raw);
          await conn.query(sql);
          const statement = parseDdl(sql, lexOptions);
          expect(statement.kind, `${sql} → ${JSON.stringify(statement)}`).not.toBe('unknown');
          const context: DdlApplyContext = { isCaptured, charsets };
          const result = applyDdl(tables, db, statement, context);
          const expected = testCase.changes?.[i];
          if (expected)
            expect(
              result.changes.map((c) => c.change),
              sql,
            ).toEqual(expected);
          tables = result.tables;
          charsets = result.charsets;
          if (result.reread.length > 0) {
            // What the source does: read the tables again, now (base tables only, as listTables lists them).
            const fresh = await readCaptured(conn, [db, db2], isCaptured);
            const next = new Map(tables);
            for (const id of result.reread) {
              const key = `${id.namespace}.${id.name}`;
              const table = fresh.get(key);
              if (table) next.set(key, table);
              else next.delete(key);
              reread.push(id.namespace === db2 ? `db2:${id.name}` : id.name);
            }
            tables = next;
            charsets = await readCharsetDefaults(conn, [db, db2]);
          }
        }
        expect(reread).toEqual(testCase.reread ?? []);
        const actual = await readCaptured(conn, [db, db2], isCaptured);
        expect(sorted(tables)).toEqual(sorted(actual));
        // The character set defaults followed match the server's too.
        const serverCharsets = await readCharsetDefaults(conn, [db, db2]);
        for (const key of actual.keys()) expect(charsets.tables.get(key), key).toBe(serverCharsets.tables.get(key));
        for (const name of [db, db2]) expect(charsets.databases.get(name)).toBe(serverCharsets.databases.get(name));
        // The server's own spelling of each table (SHOW CREATE TABLE, as in CREATE … SELECT events) rebuilds it too.
        for (const [key, table] of actual) {
          const [rows] = await conn.query<RowDataPacket[]>(
            `SHOW CREATE TABLE \`${table.schema.id.namespace}\`.\`${table.schema.id.name}\``,
          );
          const sql = String(rows[0]?.['Create Table']);
          const statement = parseDdl(sql, lexOptions);
          const rebuilt = applyDdl(new Map(), table.schema.id.namespace, statement, { isCaptured, charsets });
          expect(rebuilt.tables.get(key), sql).toEqual(table);
        }
      } finally {
        await conn.query(`DROP DATABASE IF EXISTS \`${db}\``);
        await conn.query(`DROP DATABASE IF EXISTS \`${db2}\``);
      }
    });
  }
});

async function readCaptured(
  conn: Connection,
  databases: readonly string[],
  isCaptured: (id: TableId) => boolean,
): Promise<Map<string, MysqlTable>> {
  const ids = (await listTables(conn)).filter((id) => databases.includes(id.namespace) && isCaptured(id));
  return await readTableSchemas(conn, ids);
}

function sorted(tables: ReadonlyMap<string, MysqlTable>): Record<string, MysqlTable> {
  return Object.fromEntries([...tables.entries()].sort(([a], [b]) => a.localeCompare(b)));
}
