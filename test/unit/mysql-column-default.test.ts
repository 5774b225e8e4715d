import { describe, expect, it } from 'vitest';
import type { DataType } from '../../src/core/data-type.js';
import { columnDefaultFromCatalog, columnDefaultFromDdl } from '../../src/connectors/mysql/mysql-column-default.js';

const INT: DataType = { kind: 'int32' };
const DEC: DataType = { kind: 'decimal', precision: 10, scale: 2 };
const VARCHAR: DataType = { kind: 'varchar', length: 20 };
const DATETIME: DataType = { kind: 'timestamp', precision: 0 };
const SET: DataType = { kind: 'set', values: ['a', 'b', 'c'] };

/**
 * [type, DEFAULT as written in DDL, COLUMN_DEFAULT as MariaDB 10.11 reports it (checked against the server in
 * test/mysql-column-default.int.test.ts), canonical default]. Both inputs must give the canonical default.
 */
const CASES: readonly [DataType, string, string | null, string | undefined][] = [
  [INT, '42', '42', '42'],
  [INT, '-1', '-1', '-1'],
  [INT, '- 5', '-5', '-5'],
  [INT, '+5', '5', '5'],
  [INT, "'7'", '7', '7'],
  [INT, "'  5'", '5', '5'],
  [INT, '1.5', '2', '2'],
  [INT, '-2.5', '-3', '-3'],
  [INT, '0x10', '16', '16'],
  [INT, 'TRUE', '1', '1'],
  [INT, '(42)', '42', '42'],
  [INT, '(-1)', '-1', '-1'],
  [INT, 'NULL', 'NULL', undefined],
  [INT, '(1+2)', '(1 + 2)', undefined],
  [{ kind: 'int8' }, '200', null, undefined],
  [{ kind: 'uint64' }, '18446744073709551615', '18446744073709551615', '18446744073709551615'],
  [{ kind: 'int64' }, '-9223372036854775808', '-9223372036854775808', '-9223372036854775808'],
  [{ kind: 'boolean' }, 'FALSE', '0', 'false'],
  [{ kind: 'boolean' }, '1', '1', 'true'],
  [DEC, '1.5', '1.50', '1.50'],
  [DEC, "'-1.5'", '-1.50', '-1.50'],
  [DEC, '1.555', '1.56', '1.56'],
  [DEC, '-1.555', '-1.56', '-1.56'],
  [DEC, '1e2', '100.00', '100.00'],
  [DEC, '-0.001', '0.00', '0.00'],
  [{ kind: 'decimal', precision: 5, scale: 1 }, '3', '3.0', '3.0'],
  [{ kind: 'decimal', precision: 10, scale: 0 }, '-0', '0', '0'],
  [{ kind: 'float' }, '1.5', '1.5', '1.5'],
  [{ kind: 'float' }, '1.1', '1.1', String(Math.fround(1.1))],
  [{ kind: 'double' }, '1.1', '1.1', '1.1'],
  [{ kind: 'double' }, '1e20', '1e20', '100000000000000000000'],
  [{ kind: 'double' }, '-0.5e-3', '-0.0005', '-0.0005'],
  [VARCHAR, "'abc'", "'abc'", 'abc'],
  [VARCHAR, "'it''s \\\\ x'", "'it''s \\\\ x'", "it's \\ x"],
  [VARCHAR, "'x\\'y'", "'x''y'", "x'y"],
  [VARCHAR, "'a\\nb'", "'a\\nb'", 'a\nb'],
  [VARCHAR, "'a\\tb'", "'a\tb'", 'a\tb'],
  [VARCHAR, "'z\\0'", "'z\\0'", 'z\0'],
  [VARCHAR, "'\\%_'", "'\\\\%_'", '\\%_'],
  [VARCHAR, '"dq"', "'dq'", 'dq'],
  [VARCHAR, "_utf8mb4'cs'", "'cs'", 'cs'],
  [VARCHAR, "_latin1 'ab' COLLATE latin1_bin", "'ab'", 'ab'],
  [VARCHAR, "N'nat'", "'nat'", 'nat'],
  [VARCHAR, "'a' 'b'", "'ab'", 'ab'],
  [VARCHAR, "('x')", "'x'", 'x'],
  [VARCHAR, "''", "''", ''],
  [VARCHAR, "'NULL'", "'NULL'", 'NULL'],
  [VARCHAR, '0x41', "'A'", 'A'],
  [VARCHAR, "X'4243'", "'BC'", 'BC'],
  [VARCHAR, '12', "'12'", '12'],
  [VARCHAR, '-5', "'-5'", '-5'],
  [VARCHAR, '1.50', "'1.50'", '1.50'],
  [VARCHAR, '1e2', "'100'", '100'],
  [VARCHAR, 'uuid()', 'uuid()', undefined],
  [{ kind: 'char', length: 3 }, "'ab '", "'ab'", 'ab'],
  [{ kind: 'string' }, "'txt'", "'txt'", 'txt'],
  [{ kind: 'enum', values: ['x', 'y'] }, "'Y'", "'y'", 'y'],
  [SET, "'b,a'", "'a,b'", 'a,b'],
  [SET, "'B'", "'b'", 'b'],
  [SET, "''", "''", ''],
  [SET, "'d'", null, undefined],
  [{ kind: 'bit', length: 5 }, "b'101'", "b'101'", '00101'],
  [{ kind: 'bit', length: 8 }, '5', "b'101'", '00000101'],
  [{ kind: 'bit', length: 8 }, '0x05', "b'101'", '00000101'],
  [{ kind: 'bit', length: 3 }, "B'11'", "b'11'", '011'],
  [{ kind: 'bit', length: 3 }, "b'1111'", null, undefined],
  [{ kind: 'date' }, "'2024-01-01'", "'2024-01-01'", '2024-01-01'],
  [{ kind: 'date' }, "'2024-1-2'", "'2024-01-02'", '2024-01-02'],
  [{ kind: 'date' }, '20240102', "'2024-01-02'", '2024-01-02'],
  [{ kind: 'date' }, "'24-01-02'", "'2024-01-02'", '2024-01-02'],
  [{ kind: 'date' }, "'2024/03/04'", "'2024-03-04'", '2024-03-04'],
  [{ kind: 'date' }, "DATE '2020-01-01'", "'2020-01-01'", '2020-01-01'],
  [{ kind: 'date' }, "'0000-00-00'", "'0000-00-00'", undefined],
  [{ kind: 'date' }, "'2024-02-30'", null, undefined],
  [DATETIME, "'2024-01-01'", "'2024-01-01 00:00:00'", '2024-01-01 00:00:00'],
  [DATETIME, "'2024-01-01T10:00:00'", "'2024-01-01 10:00:00'", '2024-01-01 10:00:00'],
  [DATETIME, '20240102030405', "'2024-01-02 03:04:05'", '2024-01-02 03:04:05'],
  [DATETIME, "TIMESTAMP '2020-01-01 01:02:03'", "'2020-01-01 01:02:03'", '2020-01-01 01:02:03'],
  [DATETIME, 'CURRENT_TIMESTAMP', 'current_timestamp()', undefined],
  [DATETIME, 'NOW()', 'current_timestamp()', undefined],
  [
    { kind: 'timestamp', precision: 3 },
    "'2024-01-01 10:00:00.5'",
    "'2024-01-01 10:00:00.500'",
    '2024-01-01 10:00:00.500',
  ],
  [
    { kind: 'timestamp', precision: 2 },
    "'2024-01-01 10:00:00.126'",
    "'2024-01-01 10:00:00.12'",
    '2024-01-01 10:00:00.12',
  ],
  [{ kind: 'timestamp', precision: 6 }, 'NOW(6)', 'current_timestamp(6)', undefined],
  [{ kind: 'time', precision: 0 }, "'-01:02:03'", "'-01:02:03'", '-01:02:03'],
  [{ kind: 'time', precision: 2 }, "'838:59:59'", "'838:59:59.00'", '838:59:59.00'],
  [{ kind: 'time', precision: 0 }, '10203', "'01:02:03'", '01:02:03'],
  [{ kind: 'time', precision: 0 }, "'1 02:03:04'", "'26:03:04'", '26:03:04'],
  [{ kind: 'time', precision: 0 }, "'10:20'", "'10:20:00'", '10:20:00'],
  [{ kind: 'year' }, '24', '2024', '2024'],
  [{ kind: 'year' }, '70', '1970', '1970'],
  [{ kind: 'year' }, "'0'", '2000', '2000'],
  [{ kind: 'year' }, '0', '0000', '0'],
  // Left out: an instant in the DDL session's time zone, bytes, JSON.
  [{ kind: 'timestamptz', precision: 0 }, "'2024-01-01 00:00:00'", "'2024-01-01 00:00:00'", undefined],
  [{ kind: 'binary', length: 2 }, '0x4142', "'AB'", undefined],
  [{ kind: 'bytes' }, "'x'", "'x'", undefined],
  [{ kind: 'json' }, "'{}'", "'{}'", undefined],
];

describe('MySQL column defaults as canonical literals', () => {
  it.each(CASES)('%j DEFAULT %s (COLUMN_DEFAULT %s) → %j', (type, ddl, catalog, expected) => {
    expect(columnDefaultFromDdl(ddl, type)).toBe(expected);
    if (catalog !== null) expect(columnDefaultFromCatalog(catalog, type)).toBe(expected);
  });

  it('has no default for a NOT NULL column without one (SQL NULL) or a DDL without DEFAULT', () => {
    expect(columnDefaultFromCatalog(null, INT)).toBeUndefined();
    expect(columnDefaultFromDdl(undefined, INT)).toBeUndefined();
  });

  it('reads strings with the lex options of the statement (NO_BACKSLASH_ESCAPES)', () => {
    expect(columnDefaultFromDdl("'a\\nb'", VARCHAR, { noBackslashEscapes: true })).toBe('a\\nb');
    expect(columnDefaultFromDdl("'a\\nb'", VARCHAR)).toBe('a\nb');
  });

  it("reads MySQL's unquoted COLUMN_DEFAULT, and EXTRA's DEFAULT_GENERATED as an expression", () => {
    expect(columnDefaultFromCatalog('abc', VARCHAR, 'mysql')).toBe('abc');
    expect(columnDefaultFromCatalog("it's", VARCHAR, 'mysql')).toBe("it's");
    expect(columnDefaultFromCatalog('1.50', DEC, 'mysql')).toBe('1.50');
    expect(columnDefaultFromCatalog("b'101'", { kind: 'bit', length: 4 }, 'mysql')).toBe('0101');
    expect(columnDefaultFromCatalog('CURRENT_TIMESTAMP', DATETIME, 'mysql')).toBeUndefined();
    expect(columnDefaultFromCatalog('(1 + 2)', INT, 'mysql', 'DEFAULT_GENERATED')).toBeUndefined();
  });
});
