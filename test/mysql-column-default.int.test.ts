import type { Connection, RowDataPacket } from 'mysql2/promise';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { resolveColumn } from '../src/connectors/mysql/ddl/ddl-column-info.js';
import { ddlLexOptionsForServer } from '../src/connectors/mysql/ddl/ddl-lexer.js';
import { parseDdl } from '../src/connectors/mysql/ddl/ddl-parser.js';
import { columnDefaultFromCatalog, columnDefaultFromDdl } from '../src/connectors/mysql/mysql-column-default.js';
import { readTableSchemas } from '../src/connectors/mysql/mysql-schema-reader.js';
import { tableId } from '../src/core/table-schema.js';
import { mysqlAdmin, uniqueName } from './harness/databases.js';

/** [column type, DEFAULT clause as written, the canonical default (undefined: none to backfill)]. */
const COLUMNS: readonly [string, string, string | undefined][] = [
  ['INT NOT NULL', '42', '42'],
  ['INT', '-1', '-1'],
  ['INT', '- 5', '-5'],
  ['INT', "'7'", '7'],
  ['INT', '1.5', '2'],
  ['INT', '-2.5', '-3'],
  ['INT', '0x10', '16'],
  ['INT', 'TRUE', '1'],
  ['INT', '(42)', '42'],
  ['INT', 'NULL', undefined],
  ['INT', '(1+2)', undefined],
  ['BIGINT UNSIGNED', '18446744073709551615', '18446744073709551615'],
  ['BIGINT', '-9223372036854775808', '-9223372036854775808'],
  ['TINYINT(1)', 'FALSE', '0'],
  ['DECIMAL(10,2)', '1.5', '1.50'],
  ['DECIMAL(10,2)', "'-1.5'", '-1.50'],
  ['DECIMAL(10,2)', '1.555', '1.56'],
  ['DECIMAL(10,2)', '-1.555', '-1.56'],
  ['DECIMAL(10,2)', '1e2', '100.00'],
  ['DECIMAL(10,2)', '-0.001', '0.00'],
  ['DECIMAL(5,1)', '3', '3.0'],
  ['FLOAT', '1.5', '1.5'],
  ['DOUBLE', '1e20', '100000000000000000000'],
  ['DOUBLE', '-0.5e-3', '-0.0005'],
  ['VARCHAR(20)', "'abc'", 'abc'],
  ['VARCHAR(20)', "'it''s \\\\ x'", "it's \\ x"],
  ['VARCHAR(20)', "'x\\'y'", "x'y"],
  ['VARCHAR(20)', "'a\\nb\\tc'", 'a\nb\tc'],
  ['VARCHAR(20)', "'z\\0'", 'z\0'],
  ['VARCHAR(20)', "'\\%_'", '\\%_'],
  ['VARCHAR(20)', '"dq"', 'dq'],
  ['VARCHAR(20)', "_utf8mb4'cs'", 'cs'],
  ['VARCHAR(20)', "N'nat'", 'nat'],
  ['VARCHAR(20)', "'a' 'b'", 'ab'],
  ['VARCHAR(20)', "'NULL'", 'NULL'],
  ['VARCHAR(20)', "''", ''],
  ['VARCHAR(20)', '0x41', 'A'],
  ['VARCHAR(20)', '1.50', '1.50'],
  ['VARCHAR(20)', '1e2', '100'],
  ['VARCHAR(20)', "'é€ñ'", 'é€ñ'],
  ['VARCHAR(36)', '(uuid())', undefined],
  ['CHAR(3)', "'ab '", 'ab'],
  ['TEXT', "'txt'", 'txt'],
  ["ENUM('x','y')", "'Y'", 'y'],
  ["SET('a','b','c')", "'c,a'", 'a,c'],
  ["SET('a','b')", "''", ''],
  ['BIT(5)', "b'101'", '00101'],
  ['BIT(8)', '5', '00000101'],
  ['BIT(8)', '0x05', '00000101'],
  ['DATE', "'2024-1-2'", '2024-01-02'],
  ['DATE', '20240102', '2024-01-02'],
  ['DATE', "'24-01-02'", '2024-01-02'],
  // DATE '…' / TIMESTAMP '…' literals: the DDL parser does not take them yet (the statement is then re-read).
  ['DATETIME', "'2024-01-01'", '2024-01-01 00:00:00'],
  ['DATETIME', "'2024-01-01T10:00:00'", '2024-01-01 10:00:00'],
  ['DATETIME', '20240102030405', '2024-01-02 03:04:05'],
  ['DATETIME', 'CURRENT_TIMESTAMP', undefined],
  ['DATETIME(3)', "'2024-01-01 10:00:00.5'", '2024-01-01 10:00:00.500'],
  ['DATETIME(2)', "'2024-01-01 10:00:00.126'", '2024-01-01 10:00:00.12'],
  ['DATETIME(6)', 'NOW(6)', undefined],
  ['TIME', "'-01:02:03'", '-01:02:03'],
  ['TIME(2)', "'838:59:59'", '838:59:59.00'],
  ['TIME', '10203', '01:02:03'],
  ['TIME', "'1 02:03:04'", '26:03:04'],
  ['YEAR', '24', '2024'],
  ['YEAR', "'0'", '2000'],
  ['YEAR', '0', '0'],
  ['TIMESTAMP NULL', "'2024-01-01 00:00:00'", undefined],
  ['TIMESTAMP NULL', 'CURRENT_TIMESTAMP', undefined],
  ['BINARY(2)', '0x4142', undefined],
  ['JSON', "'{}'", undefined],
];

/**
 * Both ways a column's default reaches the canonical schema — information_schema.COLUMNS.COLUMN_DEFAULT and
 * the DEFAULT clause of the DDL the binlog carries — give the same literal, on the real server.
 */
describe('MySQL column defaults: information_schema and DDL agree', () => {
  let conn: Connection;
  const db = uniqueName('coldef');
  const columnSql = COLUMNS.map(([type, value], i) => `c${i} ${type} DEFAULT ${value}`);
  const create = `CREATE TABLE t (id INT PRIMARY KEY, ${columnSql.join(', ')})`;

  beforeAll(async () => {
    conn = await mysqlAdmin();
    await conn.query(`CREATE DATABASE ${db} CHARACTER SET utf8mb4`);
    await conn.query(`USE ${db}`);
    await conn.query(create);
  });
  afterAll(async () => {
    await conn?.query(`DROP DATABASE IF EXISTS ${db}`);
    await conn?.end();
  });

  it('gives each column the expected default both ways, from CREATE TABLE and from ALTER TABLE ADD COLUMN', async () => {
    const [versionRows] = await conn.query<RowDataPacket[]>('SELECT VERSION() AS v');
    const lexOptions = ddlLexOptionsForServer(String(versionRows[0]!['v']));
    const flavor = lexOptions.server?.mariadb === false ? 'mysql' : 'mariadb';
    const [rows] = await conn.query<RowDataPacket[]>(
      `SELECT COLUMN_NAME AS name, COLUMN_DEFAULT AS value, EXTRA AS extra FROM information_schema.COLUMNS
       WHERE TABLE_SCHEMA = ? AND TABLE_NAME = 't' ORDER BY ORDINAL_POSITION`,
      [db],
    );
    const schema = (await readTableSchemas(conn, [tableId(db, 't')])).get(`${db}.t`)!.schema;
    const statement = parseDdl(create, lexOptions);
    if (statement.kind !== 'createTable') throw new Error(`not parsed: ${JSON.stringify(statement)}`);

    // Added one by one to a table with a row: the path of the schema change that needs the backfill.
    await conn.query('CREATE TABLE t2 (id INT PRIMARY KEY)');
    await conn.query('INSERT INTO t2 VALUES (1)');
    for (const sql of columnSql) await conn.query(`ALTER TABLE t2 ADD COLUMN ${sql}`);
    const [rows2] = await conn.query<RowDataPacket[]>(
      `SELECT COLUMN_DEFAULT AS value, EXTRA AS extra FROM information_schema.COLUMNS
       WHERE TABLE_SCHEMA = ? AND TABLE_NAME = 't2' ORDER BY ORDINAL_POSITION`,
      [db],
    );

    const got = COLUMNS.map(([type, value], i) => {
      const row = rows[i + 1]!;
      const column = schema.columns[i + 1]!;
      const definition = statement.columns[i + 1]!;
      const added = parseDdl(`ALTER TABLE t2 ADD COLUMN ${columnSql[i]!}`, lexOptions);
      const addedDefinition =
        added.kind === 'alterTable' && added.specs[0]?.kind === 'addColumn' ? added.specs[0].column : undefined;
      const ddlType = resolveColumn(definition, 'utf8mb4', flavor, false).column.type;
      const text = (v: unknown): string | null => (typeof v === 'string' ? v : null);
      return {
        column: `${String(row['name'])} ${type} DEFAULT ${value}`,
        catalog: columnDefaultFromCatalog(text(row['value']), column.type, flavor, String(row['extra'])),
        ddl: columnDefaultFromDdl(definition.defaultSql, ddlType, lexOptions),
        alterCatalog: columnDefaultFromCatalog(text(rows2[i + 1]!['value']), column.type, flavor),
        alterDdl: columnDefaultFromDdl(addedDefinition?.defaultSql, ddlType, lexOptions),
      };
    });
    expect(got).toEqual(
      COLUMNS.map(([type, value, expected], i) => ({
        column: `c${i} ${type} DEFAULT ${value}`,
        catalog: expected,
        ddl: expected,
        alterCatalog: expected,
        alterDdl: expected,
      })),
    );
  });

  it('loses characters outside the BMP in COLUMN_DEFAULT (utf8mb3 on MariaDB), which the DDL keeps', async () => {
    await conn.query("CREATE TABLE t4 (id INT PRIMARY KEY, v VARCHAR(20) DEFAULT 'a😀')");
    const [rows] = await conn.query<RowDataPacket[]>(
      `SELECT COLUMN_DEFAULT AS value FROM information_schema.COLUMNS WHERE TABLE_SCHEMA = ? AND TABLE_NAME = 't4' AND COLUMN_NAME = 'v'`,
      [db],
    );
    const type = { kind: 'varchar', length: 20 } as const;
    // A known limit of the information_schema path (docs/04-schema-evolution.md): a server-side fix is to
    // read SHOW CREATE TABLE and take the DDL path.
    expect(columnDefaultFromCatalog(String(rows[0]!['value']), type)).toBe('a?');
    expect(columnDefaultFromDdl("'a😀'", type)).toBe('a😀');
  });

  it('backfills the rows that exist when a column is added with the value the canonical default names', async () => {
    await conn.query('CREATE TABLE t3 (id INT PRIMARY KEY)');
    await conn.query('INSERT INTO t3 VALUES (1)');
    await conn.query("ALTER TABLE t3 ADD COLUMN n INT NOT NULL DEFAULT 42, ADD COLUMN d DECIMAL(10,2) DEFAULT '-1.5'");
    const [rows] = await conn.query<RowDataPacket[]>('SELECT CAST(n AS CHAR) AS n, CAST(d AS CHAR) AS d FROM t3');
    expect(rows.map((r): unknown[] => [r['n'], r['d']])).toEqual([['42', '-1.50']]);
    expect(columnDefaultFromDdl('42', { kind: 'int32' })).toBe('42');
    expect(columnDefaultFromDdl("'-1.5'", { kind: 'decimal', precision: 10, scale: 2 })).toBe('-1.50');
  });
});
