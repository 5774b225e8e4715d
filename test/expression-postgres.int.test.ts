import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Value } from '../src/core/data-type.js';
import { compileExpression } from '../src/transform/expression/compiler.js';
import { evalContext } from '../src/transform/expression/eval-context.js';
import { parseExpression } from '../src/transform/expression/parser.js';
import { postgresUrl, tolerateDisconnects } from './harness/databases.js';

const ZONE = 'America/New_York';

/**
 * The same expression evaluated by the engine and by PostgreSQL (session time zone America/New_York):
 * [engine expression, PostgreSQL expression when spelled differently]. Only cases where Flink SQL and
 * PostgreSQL agree on the semantics are here (not decimal division scale, CONCAT with NULL, or ambiguous
 * fall-back wall clocks, where they differ).
 */
const CASES: [string, string?][] = [
  ['12.50 + 0.005'],
  ['12.50 - 100'],
  ['12.50 * 3'],
  ['-12.345 * -0.1'],
  ['9223372036854775807 - 1'],
  ['CAST(9223372036854775807 AS DECIMAL(20, 0)) + 1'],
  ['7 / 2'],
  ['-7 / 2'],
  ['-7 % 3'],
  ['ROUND(2.5, 0)'],
  ['ROUND(-2.5, 0)'],
  ['ROUND(12.345, 2)'],
  ['CEIL(12.01)'],
  ['FLOOR(-12.01)'],
  ['ABS(-3.50)'],
  ['CAST(2.55 AS DECIMAL(3, 1))'],
  ['CAST(-2.55 AS DECIMAL(3, 1))'],
  ["CAST('42' AS INT)"],
  ["CAST(' 42 ' AS BIGINT)"],
  ['CAST(42 AS STRING)', 'CAST(42 AS TEXT)'],
  // ASCII only: the test server's C locale upper-cases nothing else (Java and the engine do, alike).
  ["UPPER('abc Def')"],
  ["LOWER('ABC')"],
  ["TRIM('  a b  ')"],
  ["CHAR_LENGTH('zoë😀')"],
  ["SUBSTRING('hello' FROM 2 FOR 3)"],
  ["SUBSTRING('hello' FROM 0 FOR 2)"],
  ["SUBSTRING('hello' FROM 3)"],
  ["SUBSTR('zoë😀x', 3, 2)", "SUBSTR('zoë😀x', 3, 2)"],
  ["REPLACE('banana', 'an', 'AN')"],
  ["LPAD('ab', 5, 'xy')"],
  ["RPAD('abcdef', 3, 'x')"],
  ["LEFT('hello', 2)"],
  ["RIGHT('hello', 2)"],
  ["'a' || 'b' || 'c'"],
  ["'a' || NULL", "'a' || NULL::text"],
  [
    "REGEXP_REPLACE('2024-01-02', '(\\d+)-(\\d+)-(\\d+)', '$3.$2.$1')",
    "REGEXP_REPLACE('2024-01-02', '(\\d+)-(\\d+)-(\\d+)', '\\3.\\2.\\1', 'g')",
  ],
  ["'abc' LIKE 'a_c'"],
  ["'abc' LIKE 'A%'"],
  ["'a%c' LIKE 'a\\%c'"],
  ['1 IN (1, NULL)'],
  ['2 IN (1, NULL)'],
  ['2 NOT IN (1, 3)'],
  ['5 BETWEEN 1 AND 5'],
  ['NULL = 1', 'NULL::int = 1'],
  ['NULL AND FALSE', 'NULL::boolean AND FALSE'],
  ['NULL OR TRUE', 'NULL::boolean OR TRUE'],
  ['NOT (NULL = 1)', 'NOT (NULL::int = 1)'],
  ['(1 = NULL) IS NOT TRUE', '(1 = NULL::int) IS NOT TRUE'],
  ['COALESCE(NULL, 2, 3)'],
  ['NULLIF(3, 3)'],
  ["CASE WHEN 1 > 2 THEN 'x' WHEN 2 > 1 THEN 'y' END"],
  ["CASE 2 WHEN 1 THEN 'one' WHEN 2 THEN 'two' ELSE 'many' END"],
  ["CAST('2024-02-29 23:59:59.999999' AS TIMESTAMP(3))", "CAST('2024-02-29 23:59:59.999' AS TIMESTAMP(3))"],
  [
    "CAST(CAST('2024-03-10 02:30:00' AS TIMESTAMP) AS TIMESTAMP_LTZ(0))",
    "TO_CHAR((CAST(TIMESTAMP '2024-03-10 02:30:00' AS TIMESTAMPTZ)) AT TIME ZONE 'UTC', 'YYYY-MM-DD HH24:MI:SS') || 'Z'",
  ],
  [
    "CAST(CAST('2024-07-01 12:00:00' AS TIMESTAMP) AS TIMESTAMP_LTZ(0))",
    "TO_CHAR((CAST(TIMESTAMP '2024-07-01 12:00:00' AS TIMESTAMPTZ)) AT TIME ZONE 'UTC', 'YYYY-MM-DD HH24:MI:SS') || 'Z'",
  ],
  [
    "CAST(CAST('2024-03-10 09:30:00Z' AS TIMESTAMP_LTZ(0)) AS TIMESTAMP(0))",
    "CAST(TIMESTAMPTZ '2024-03-10 09:30:00Z' AS TIMESTAMP(0))",
  ],
  [
    "CAST(CAST('2024-03-10 09:30:00Z' AS TIMESTAMP_LTZ(0)) AS DATE)",
    "CAST(TIMESTAMPTZ '2024-03-10 09:30:00Z' AS DATE)",
  ],
  ["TIMESTAMPADD(MONTH, 1, CAST('2024-01-31' AS DATE))", "CAST(DATE '2024-01-31' + INTERVAL '1 month' AS DATE)"],
  [
    "TIMESTAMPADD(DAY, 1, CAST('2024-03-09 12:00:00' AS TIMESTAMP))",
    "TIMESTAMP '2024-03-09 12:00:00' + INTERVAL '1 day'",
  ],
  [
    "DATE_FORMAT(CAST('2024-03-10 01:02:03' AS TIMESTAMP), 'yyyy-MM-dd HH:mm:ss')",
    "TO_CHAR(TIMESTAMP '2024-03-10 01:02:03', 'YYYY-MM-DD HH24:MI:SS')",
  ],
  [
    "UNIX_TIMESTAMP('2024-03-10 06:00:00')",
    "EXTRACT(EPOCH FROM TIMESTAMP '2024-03-10 06:00:00' AT TIME ZONE 'America/New_York')::bigint",
  ],
];

/** Both sides as PostgreSQL writes them as text. */
function engineText(value: Value): string | null {
  if (value === null) return null;
  if (typeof value === 'boolean') return value ? 'true' : 'false';
  if (typeof value === 'string' && /^\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}(\.\d+)?Z?$/.test(value)) {
    return normalizeTimestamp(value);
  }
  return String(value);
}

function normalizeTimestamp(text: string): string {
  return text
    .replace(/(\.\d*?)0+(?=Z|\+00|$)/, '$1')
    .replace(/\.(?=Z|\+00|$)/, '')
    .replace(/(Z|\+00)$/, 'Z');
}

describe('the engine agrees with PostgreSQL on the same expressions', () => {
  let client: pg.Client;

  beforeAll(async () => {
    client = tolerateDisconnects(new pg.Client({ connectionString: postgresUrl() }));
    await client.connect();
    await client.query(`SET TIME ZONE '${ZONE}'`);
  });

  afterAll(async () => {
    await client?.end();
  });

  it.each(CASES)('%s', async (expression, postgres) => {
    const compiled = compileExpression(parseExpression(expression), expression, { columns: [], timeZone: ZONE });
    const ours = engineText(compiled.evaluate(evalContext()));
    const { rows } = await client.query<{ v: string | null }>(`SELECT (${postgres ?? expression})::text AS v`);
    const theirs = rows[0]?.v ?? null;
    const normalized =
      theirs === null
        ? null
        : /^\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}(\.\d+)?Z?$/.test(theirs)
          ? normalizeTimestamp(theirs)
          : theirs;
    expect(ours).toBe(normalized === 't' ? 'true' : normalized === 'f' ? 'false' : normalized);
  });
});
