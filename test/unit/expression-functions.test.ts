import { describe, expect, it } from 'vitest';
import type { DataType, Row, Value } from '../../src/core/data-type.js';
import { TributaryError } from '../../src/core/errors.js';
import { compileExpression, type ScopeColumn } from '../../src/transform/expression/compiler.js';
import { evalContext } from '../../src/transform/expression/eval-context.js';
import { ExpressionError } from '../../src/transform/expression/expression-error.js';
import { parseExpression } from '../../src/transform/expression/parser.js';
import { thrown } from '../harness/thrown.js';

/** The row every case reads: one column of each family, and NULLs. */
const COLUMNS: [ScopeColumn, Value][] = [
  [{ name: 'i', type: { kind: 'int32' }, nullable: false }, 7],
  [{ name: 'big', type: { kind: 'int64' }, nullable: false }, 9223372036854775807n],
  [{ name: 'neg', type: { kind: 'int64' }, nullable: false }, -9007199254740993n],
  [{ name: 'd', type: { kind: 'decimal', precision: 10, scale: 2 }, nullable: false }, '12.50'],
  [{ name: 'tiny', type: { kind: 'decimal', precision: 38, scale: 10 }, nullable: false }, '0.0000000001'],
  [{ name: 'f', type: { kind: 'double' }, nullable: false }, 0.1],
  [{ name: 's', type: { kind: 'varchar', length: 20 }, nullable: false }, '  Hello wörld😀 '],
  [{ name: 'name', type: { kind: 'string' }, nullable: false }, 'Alice'],
  [{ name: 'n', type: { kind: 'int32' }, nullable: true }, null],
  [{ name: 'ns', type: { kind: 'string' }, nullable: true }, null],
  [{ name: 'flag', type: { kind: 'boolean' }, nullable: true }, null],
  [{ name: 'ts', type: { kind: 'timestamp', precision: 6 }, nullable: false }, '2024-03-10 01:30:00.123456'],
  [{ name: 'tz', type: { kind: 'timestamptz', precision: 6 }, nullable: false }, '2024-03-10 09:30:00.5Z'],
  [{ name: 'dt', type: { kind: 'date' }, nullable: false }, '2024-02-29'],
  [{ name: 'u', type: { kind: 'uint64' }, nullable: false }, 18446744073709551615n],
];
const columns = COLUMNS.map(([c]) => c);
const row: Row = COLUMNS.map(([, v]) => v);
/** 2024-03-10 10:00:00 UTC: the "now" of every case. */
const NOW = Date.UTC(2024, 2, 10, 10, 0, 0);

function compile(text: string, timeZone = 'America/New_York') {
  return compileExpression(parseExpression(text), text, { columns, timeZone });
}

function evaluate(text: string, timeZone?: string): { value: Value; type: DataType } {
  const compiled = compile(text, timeZone);
  const ctx = evalContext();
  ctx.row = row;
  ctx.nowMs = NOW;
  ctx.tsMs = Date.UTC(2024, 0, 2, 3, 4, 5, 678);
  return { value: compiled.evaluate(ctx), type: compiled.type };
}

// [expression, expected value, expected type (optional)]
const CASES: [string, Value, DataType?][] = [
  // comparison and three-valued logic
  ['i = 7', true, { kind: 'boolean' }],
  ['i <> 7', false],
  ['i > 6.99', true],
  ["i = '7'", true],
  ['n = 1', null],
  ['n IS NULL', true],
  ['n IS NOT NULL', false],
  ['n = 1 AND FALSE', false],
  ['n = 1 AND TRUE', null],
  ['n = 1 OR TRUE', true],
  ['n = 1 OR FALSE', null],
  ['NOT (n = 1)', null],
  ['flag IS TRUE', false],
  ['flag IS NOT FALSE', true],
  ['i BETWEEN 1 AND 7', true],
  ['i NOT BETWEEN 1 AND 6', true],
  ['i BETWEEN n AND 10', null],
  ['i BETWEEN 8 AND n', false],
  ['i IN (1, 7)', true],
  ['i IN (1, n)', null],
  ['i NOT IN (1, 2)', true],
  ["name LIKE 'A%e'", true],
  ["name LIKE 'a%'", false],
  ["name NOT LIKE '_lic_'", false],
  ["name LIKE 'Al\\_%'", false],
  ['big > neg', true],
  ["ts > '2024-03-10 01:30:00.1'", true],
  ["ts = '2024-03-10 01:30:00.123456'", true],
  ["dt < '2024-03-01'", true],
  // arithmetic: exact integers, decimals, doubles
  ['i + 100', 107, { kind: 'int32' }],
  ['i * 3 - 1', 20],
  ['7 / 2', 3, { kind: 'int32' }],
  ['-7 / 2', -3],
  ['-7 % 3', -1],
  ['big - 1', 9223372036854775806n, { kind: 'int64' }],
  ['neg - 1', -9007199254740994n],
  ['CAST(big AS DECIMAL(20, 0)) + 1', '9223372036854775808', { kind: 'decimal', precision: 21, scale: 0 }],
  ['d + 0.005', '12.505', { kind: 'decimal', precision: 12, scale: 3 }],
  ['d * 3', '37.50', { kind: 'decimal', precision: 20, scale: 2 }],
  ['d / 3', '4.1666666666667', { kind: 'decimal', precision: 21, scale: 13 }],
  // past 38 digits the result type keeps the integer digits and rounds the scale (Flink's rule)
  ['tiny + 1', '1.000000000', { kind: 'decimal', precision: 38, scale: 9 }],
  ['CAST(tiny AS DECIMAL(20, 10)) + 1', '1.0000000001', { kind: 'decimal', precision: 21, scale: 10 }],
  ['tiny * 3', '0.000000', { kind: 'decimal', precision: 38, scale: 6 }],
  ['d - d', '0.00'],
  ['f + 0.2', 0.30000000000000004, { kind: 'double' }],
  ['n + 1', null],
  ['-i', -7],
  ['ABS(-d)', '12.50'],
  ['ABS(neg)', 9007199254740993n],
  ['CEIL(d)', '13'],
  ['FLOOR(-d)', '-13'],
  ['ROUND(d, 1)', '12.5'],
  ['ROUND(2.5, 0)', '3'],
  ['ROUND(-2.5, 0)', '-3'],
  ['ROUND(1234, -2)', 1200],
  ['ROUND(f * 100, 0)', 10],
  // strings
  ['UPPER(name)', 'ALICE', { kind: 'string' }],
  ['LOWER(name)', 'alice'],
  ['TRIM(s)', 'Hello wörld😀'],
  ['CHAR_LENGTH(s)', 15, { kind: 'int32' }],
  ["name || '-' || i", 'Alice-7'],
  ['name || ns', null],
  ["CONCAT(name, '#', d)", 'Alice#12.50'],
  ["CONCAT_WS('/', name, ns, 'x')", 'Alice/x'],
  ['SUBSTR(name, 2)', 'lice'],
  ['SUBSTR(name, 2, 3)', 'lic'],
  ['SUBSTRING(name FROM 0 FOR 2)', 'A'],
  ['SUBSTRING(TRIM(s) FROM 12 FOR 1)', '😀'],
  ["REGEXP_REPLACE(name, '[aeiou]', '*')", 'Al*c*'],
  ["REGEXP_REPLACE('2024-01-02', '(\\d+)-(\\d+)-(\\d+)', '$3.$2.$1')", '02.01.2024'],
  ["REPLACE(name, 'li', 'LI')", 'ALIce'],
  ["LPAD(name, 8, '.')", '...Alice'],
  ["RPAD(name, 3, '.')", 'Ali'],
  ['LEFT(name, 2)', 'Al'],
  ['RIGHT(name, 2)', 'ce'],
  // conditional
  ["CASE WHEN i > 5 THEN 'big' ELSE 'small' END", 'big'],
  ["CASE i WHEN 1 THEN 'one' WHEN 7 THEN 'seven' END", 'seven'],
  ["CASE n WHEN 1 THEN 'one' END", null],
  ['CASE WHEN i > 5 THEN 1 ELSE 2.5 END', '1.0', { kind: 'decimal', precision: 11, scale: 1 }],
  ['COALESCE(n, i, 0)', 7, { kind: 'int32' }],
  ['COALESCE(ns, name)', 'Alice'],
  ["IF(i > 5, 'y', 'n')", 'y'],
  ["IF(n > 5, 'y', 'n')", 'n'],
  ['NULLIF(i, 7)', null],
  // CAST between the canonical types
  ['CAST(i AS VARCHAR)', '7'],
  ['CAST(i AS BIGINT)', 7n, { kind: 'int64' }],
  ["CAST('42' AS INT)", 42],
  ["CAST(' 42 ' AS BIGINT)", 42n],
  ['CAST(d AS INT)', 12],
  ['CAST(d AS DECIMAL(4, 1))', '12.5'],
  ['CAST(2.55 AS DECIMAL(3, 1))', '2.6'],
  ['CAST(f AS DECIMAL(5, 3))', '0.100'],
  ['CAST(d AS DOUBLE)', 12.5],
  ["CAST('true' AS BOOLEAN)", true],
  ['CAST(i AS BOOLEAN)', true],
  ['CAST(TRUE AS STRING)', 'TRUE'],
  ['CAST(f AS STRING)', '0.1'],
  ['CAST(1.0E10 AS STRING)', '1.0E10'],
  ['CAST(ts AS DATE)', '2024-03-10'],
  ['CAST(ts AS TIMESTAMP(3))', '2024-03-10 01:30:00.123'],
  ['CAST(ts AS TIME(3))', '01:30:00.123'],
  ["CAST('2024-01-02 03:04:05' AS TIMESTAMP)", '2024-01-02 03:04:05.000000'],
  ['CAST(dt AS TIMESTAMP(0))', '2024-02-29 00:00:00'],
  ['CAST(dt AS STRING)', '2024-02-29'],
  ['CAST(name AS VARCHAR(3))', 'Ali'],
  ['CAST(n AS STRING)', null],
  ['CAST(NULL AS INT)', null, { kind: 'int32' }],
  ['CAST(u AS STRING)', '18446744073709551615'],
  ['u + 1', '18446744073709551616', { kind: 'decimal', precision: 21, scale: 0 }],
  // time zones: the session zone is America/New_York (UTC-5; UTC-4 from 2024-03-10 03:00 local)
  ['CAST(tz AS TIMESTAMP(3))', '2024-03-10 05:30:00.500'],
  ['CAST(tz AS STRING)', '2024-03-10 05:30:00.500000'],
  ['CAST(ts AS TIMESTAMP_LTZ(6))', '2024-03-10 06:30:00.123456Z'],
  // 02:30 does not exist on 2024-03-10 in New York (spring forward): read as 03:30 EDT, as java.time does
  ["CAST('2024-03-10 02:30:00' AS TIMESTAMP_LTZ(0))", '2024-03-10 07:30:00Z'],
  // 01:30 happens twice on 2024-11-03 (fall back): the earlier, EDT
  ["CAST('2024-11-03 01:30:00' AS TIMESTAMP_LTZ(0))", '2024-11-03 05:30:00Z'],
  ["CAST('2024-07-01 12:00:00' AS TIMESTAMP_LTZ(0))", '2024-07-01 16:00:00Z'],
  ["DATE_FORMAT(tz, 'yyyy-MM-dd HH:mm:ss.SSS')", '2024-03-10 05:30:00.500'],
  ["DATE_FORMAT(ts, 'yyyy/MM/dd HH:mm')", '2024/03/10 01:30'],
  ["DATE_FORMAT(ts, 'EEE, d MMM yy h:mm a')", 'Sun, 10 Mar 24 1:30 AM'],
  ['LOCALTIMESTAMP', '2024-03-10 06:00:00.000', { kind: 'timestamp', precision: 3 }],
  ['CURRENT_TIMESTAMP', '2024-03-10 10:00:00.000Z', { kind: 'timestamptz', precision: 3 }],
  ['NOW()', '2024-03-10 10:00:00.000Z'],
  ['CURRENT_DATE', '2024-03-10', { kind: 'date' }],
  ['LOCALTIME', '06:00:00', { kind: 'time', precision: 0 }],
  ['UNIX_TIMESTAMP()', 1710064800n],
  ["UNIX_TIMESTAMP('2024-03-10 06:00:00')", 1710064800n],
  ['FROM_UNIXTIME(0)', '1969-12-31 19:00:00'],
  ['TO_TIMESTAMP_LTZ(1710064800000, 3)', '2024-03-10 10:00:00.000Z'],
  ["TO_DATE('2024-02-29')", '2024-02-29'],
  ["TO_DATE('29/02/2024', 'dd/MM/yyyy')", '2024-02-29'],
  ["TO_DATE('2023-02-29')", null],
  ["TO_TIMESTAMP('2024-01-02 03:04:05')", '2024-01-02 03:04:05.000'],
  ["TO_TIMESTAMP('20240102', 'yyyyMMdd')", '2024-01-02 00:00:00.000'],
  ['TIMESTAMPADD(DAY, 1, dt)', '2024-03-01', { kind: 'date' }],
  ['TIMESTAMPADD(MONTH, 12, dt)', '2025-02-28'],
  ['TIMESTAMPADD(HOUR, 1, ts)', '2024-03-10 02:30:00.123456'],
  ['TIMESTAMPADD(HOUR, 1, tz)', '2024-03-10 10:30:00.500000Z'],
  ['TIMESTAMPDIFF(DAY, dt, ts)', 10, { kind: 'int32' }],
  ["TIMESTAMPDIFF(MONTH, dt, CAST('2024-03-28' AS DATE))", 0],
  ["TIMESTAMPDIFF(MONTH, dt, CAST('2024-03-29' AS DATE))", 1],
  ["TIMESTAMP_DIFF(SECOND, ts, CAST('2024-03-10 01:31:00.123456' AS TIMESTAMP))", 60],
  ['YEAR(dt)', 2024n],
  ['HOUR(tz)', 5n],
  // metadata-free constants and UUID
  ['CHAR_LENGTH(UUID())', 36],
];

describe('expression functions: input → expected, NULLs, overflow, time zones', () => {
  it.each(CASES)('%s → %s', (text, expected, type) => {
    const result = evaluate(text);
    expect(result.value).toEqual(expected);
    if (type !== undefined) expect(result.type).toEqual(type);
  });

  it('evaluates LOCALTIMESTAMP in the pipeline time zone', () => {
    expect(evaluate('LOCALTIMESTAMP', 'Asia/Shanghai').value).toBe('2024-03-10 18:00:00.000');
    expect(evaluate('LOCALTIMESTAMP', '+05:30').value).toBe('2024-03-10 15:30:00.000');
    expect(evaluate('CURRENT_TIMESTAMP', 'Asia/Shanghai').value).toBe('2024-03-10 10:00:00.000Z');
  });
});

function evalFailure(text: string): TributaryError {
  return thrown(() => evaluate(text), TributaryError);
}

describe('rows that cannot be computed stop the pipeline rather than write a wrong value', () => {
  it.each([
    ['i * 2147483647', 'int32 overflow (15032385529) in `i * 2147483647`', 'CAST an operand to BIGINT first'],
    ['big + 1', 'int64 overflow (9223372036854775808) in `big + 1`', 'CAST an operand to DECIMAL(20, 0) first'],
    ['i / 0', 'division by zero in `i / 0`', 'guard the divisor'],
    ['d / 0', 'division by zero in `d / 0`', 'guard the divisor'],
    ['CAST(name AS INT)', "cannot cast 'Alice' (string) to int32 in `CAST(name AS INT)`", 'fix the value'],
    ['CAST(d AS DECIMAL(2, 1))', "cannot cast '12.50' (decimal(10,2)) to decimal(2,1): more than 1 integer digits", ''],
  ])('%s', (text, message, hint) => {
    const error = evalFailure(text);
    expect(error.code).toBe('TRANSFORM_EVAL_FAILED');
    expect(error.message).toContain(message);
    expect(error.hint ?? '').toContain(hint);
  });
});

function compileFailure(text: string): ExpressionError {
  return thrown(() => compile(text), ExpressionError);
}

describe('ill-typed expressions are rejected when compiled, at their position, with a fix', () => {
  it.each([
    ['name + 1', 0, '+ needs numbers, not string and int32 (`name + 1`)', 'CAST the operands to numbers'],
    ['UPPER(i)', 6, 'argument 1 of UPPER must be a string, not int32', 'CAST(… AS STRING)'],
    ['i > ts', 0, 'cannot compare int32 with timestamp(6)', 'CAST one side'],
    ['i AND TRUE', 0, 'AND needs a condition, but `i` is int32', 'compare it'],
    ['nme = 1', 0, 'unknown column "nme"', 'did you mean "name"?'],
    ['LOWR(name)', 0, 'unknown function LOWR', 'did you mean LOWER?'],
    ['SUBSTR(name)', 0, 'SUBSTR takes 2 to 3 arguments, not 1', 'write SUBSTR(string, start[, length])'],
    ['CAST(i AS MONEY)', 0, '"MONEY" is not a type', 'DECIMAL(p, s)'],
    ['CAST(ts AS INT)', 0, 'timestamp(6) cannot be cast to int32', 'DATE_FORMAT'],
    ["CASE WHEN i > 1 THEN 'a' ELSE 1 END", 0, 'the branches of CASE string and int32 have no common type', 'CAST'],
    ['TIMESTAMPADD(FORTNIGHT, 1, ts)', 13, 'argument 1 of TIMESTAMPADD must be a time unit', 'SECOND, MINUTE'],
    ["DATE_FORMAT(ts, 'yyyy-QQ')", 16, 'the pattern letter "Q" is not supported', 'SimpleDateFormat'],
    ["CAST('abc' AS INT)", 0, "cannot cast 'abc' (string) to int32", 'fix the value'],
    ["i = 'seven'", 0, "cannot cast 'seven' (string) to int32", 'fix the value'],
    ['i IN (1, ts)', 0, 'the values of IN have no common type', 'CAST'],
  ])('%s', (text, offset, reason, hint) => {
    const error = compileFailure(text);
    expect(error.reason).toContain(reason);
    expect(error.offset).toBe(offset);
    expect(error.hint ?? '').toContain(hint);
  });

  it('takes LOCALTIME and CURRENT_DATE for functions, and a backquoted name for a column', () => {
    expect(compile('CURRENT_DATE').type).toEqual({ kind: 'date' });
    expect(compileFailure('`CURRENT_DATE` = 1').reason).toBe('unknown column "CURRENT_DATE"');
  });
});
