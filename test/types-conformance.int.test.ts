import type { Connection } from 'mysql2/promise';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mysqlAdmin, uniqueName } from './harness/databases.js';
import type { RunningPipeline } from './harness/pipelines.js';
import {
  createProbeTable,
  insertProbeRows,
  probeTargets,
  sourceProbeRows,
  startProbePipelines,
  waitForProbeRows,
  type ProbeRows,
  type ProbeSink,
  type ProbeTargets,
  type TypeProbe,
} from './harness/type-probes.js';

const ROWS = 7; // the last row of every column is NULL

/** One probe per fractional-second precision 0…6: `dtm0` … `dtm6`. */
function fractional(
  prefix: string,
  definition: (n: number) => string,
  kind: TypeProbe['kind'],
  values: readonly string[],
): TypeProbe[] {
  return [0, 1, 2, 3, 4, 5, 6].map((n) => ({ name: `${prefix}${n}`, definition: definition(n), kind, values }));
}

/**
 * Every type of docs/type-mapping.md with its extremes and awkward values. The source's global time zone and
 * the writing session's time zone are not UTC (see beforeAll): TIMESTAMP literals are read in the writer's
 * zone, DATETIME literals are not read in any.
 */
const PROBES: readonly TypeProbe[] = [
  { name: 'ti', definition: 'TINYINT', kind: 'int8', values: ['-128', '127', '0'] },
  { name: 'tiu', definition: 'TINYINT UNSIGNED', kind: 'uint8', values: ['0', '255'] },
  { name: 't1', definition: 'TINYINT(1)', kind: 'int8', values: ['0', '1', '-128', '127', '2'] },
  { name: 'bo', definition: 'BOOL', kind: 'int8', values: ['FALSE', 'TRUE', '5'] },
  { name: 'si', definition: 'SMALLINT', kind: 'int16', values: ['-32768', '32767'] },
  { name: 'siu', definition: 'SMALLINT UNSIGNED', kind: 'uint16', values: ['0', '65535'] },
  { name: 'mi', definition: 'MEDIUMINT', kind: 'int32', values: ['-8388608', '8388607'] },
  { name: 'miu', definition: 'MEDIUMINT UNSIGNED', kind: 'int32', values: ['0', '16777215'] },
  { name: 'i', definition: 'INT', kind: 'int32', values: ['-2147483648', '2147483647'] },
  { name: 'iu', definition: 'INT UNSIGNED', kind: 'uint32', values: ['0', '4294967295'] },
  {
    name: 'bi',
    definition: 'BIGINT',
    kind: 'int64',
    values: ['-9223372036854775808', '9223372036854775807', '9007199254740993'],
  },
  {
    name: 'biu',
    definition: 'BIGINT UNSIGNED',
    kind: 'uint64',
    values: ['0', '18446744073709551615', '9223372036854775808'],
  },
  { name: 'b1', definition: 'BIT(1)', kind: 'bit', values: ["b'0'", "b'1'"] },
  { name: 'b10', definition: 'BIT(10)', kind: 'bit', values: ["b'1010101010'", "b'1'", "b'0'"] },
  { name: 'b64', definition: 'BIT(64)', kind: 'bit', values: ["x'FFFFFFFFFFFFFFFF'", "x'8000000000000001'", "b'0'"] },
  {
    name: 'd65',
    definition: 'DECIMAL(65,30)',
    kind: 'decimal',
    values: [
      "'-12345678901234567890123456789012345.123456789012345678901234567890'",
      "'99999999999999999999999999999999999.999999999999999999999999999999'",
      "'0.000000000000000000000000000001'",
      '0',
    ],
  },
  {
    name: 'd38',
    definition: 'DECIMAL(38,10)',
    kind: 'decimal',
    values: ["'-9999999999999999999999999999.9999999999'", "'0.0000000001'"],
  },
  { name: 'd10', definition: 'DECIMAL(10,0)', kind: 'decimal', values: ['9999999999', '-9999999999', '0'] },
  { name: 'd72', definition: 'DECIMAL(7,2)', kind: 'decimal', values: ['-0.05', '12345.60', '0'] },
  {
    name: 'f',
    definition: 'FLOAT',
    kind: 'float',
    // FLT_MAX, 0.1 (not a binary fraction), 2^24 + 1 (rounds to 2^24), the smallest subnormal, FLT_MIN
    values: ['3.4028234663852886e38', '0.1', '16777217', '1.401298464324817e-45', '-1.1754943508222875e-38', '0'],
  },
  {
    name: 'dbl',
    definition: 'DOUBLE',
    kind: 'double',
    values: [
      '0.1e0 + 0.2e0',
      '1e-310',
      '1.7976931348623157e308',
      '5e-324',
      '-2.2250738585072014e-308',
      '123456789.123456789',
    ],
  },
  { name: 'c', definition: 'CHAR(10)', kind: 'char', values: ["'abc'", "'😀你好'", "'a  '", "''"] },
  {
    name: 'vc',
    definition: 'VARCHAR(100)',
    kind: 'varchar',
    values: ["'héllo wörld 你好 😀'", "'trailing   '", "'tab\\there\\nnewline \\\\ backslash \\'q\\''", "''"],
  },
  { name: 'tx', definition: 'TEXT', kind: 'string', values: ["REPEAT('日本語😀', 500)", "'x'", "''"] },
  {
    name: 'l1',
    definition: 'VARCHAR(20) CHARACTER SET latin1',
    kind: 'varchar',
    values: ["'café'", "'Ærø ß ÿ €'", "''"],
  },
  { name: 'l1c', definition: 'CHAR(5) CHARACTER SET latin1', kind: 'char', values: ["'ñ'", "'‰ Š'"] },
  {
    name: 'bn',
    definition: 'BINARY(4)',
    kind: 'binary',
    values: ["x'00010200'", "x'61000000'", "'a '", "x''", "x'20202020'"],
  },
  { name: 'vb', definition: 'VARBINARY(16)', kind: 'varbinary', values: ["x'deadbeef00'", "x''", "x'2020'", "x'00'"] },
  { name: 'bl', definition: 'BLOB', kind: 'bytes', values: ["x'00ff00ff'", "x''", "REPEAT(x'00ff', 30000)"] },
  {
    name: 'dt',
    definition: 'DATE',
    kind: 'date',
    values: ["'2024-02-29'", "'1000-01-01'", "'9999-12-31'", "'0000-00-00'", "'2024-00-10'", "'2024-05-00'"],
  },
  {
    name: 'tm',
    definition: 'TIME',
    kind: 'time',
    values: ["'-838:59:59'", "'838:59:59'", "'00:00:00'", "'-00:00:01'", "'25:00:00'"],
  },
  {
    name: 'tm3',
    definition: 'TIME(3)',
    kind: 'time',
    values: ["'-01:02:03.004'", "'100:00:00.5'", "'-00:00:00.001'"],
  },
  {
    name: 'tm6',
    definition: 'TIME(6)',
    kind: 'time',
    values: ["'-838:59:59.000000'", "'-00:00:00.000001'", "'123:45:56.123456'", "'838:59:59.999999'"],
  },
  ...fractional('dtm', (n) => `DATETIME(${n})`, 'timestamp', [
    "'2024-03-01 10:00:00.123456'",
    "'1000-01-01 00:00:00'",
    "'9999-12-31 23:59:59'",
    "'0000-00-00 00:00:00'",
    "'2024-00-10 12:00:00'",
    "'2024-03-31 02:30:00.5'",
  ]),
  ...fractional('ts', (n) => `TIMESTAMP(${n}) NULL DEFAULT NULL`, 'timestamptz', [
    "'2024-03-01 10:00:00.123456'",
    "'1970-01-01 00:00:01'",
    "'2038-01-18 20:14:07.999999'",
    "'0000-00-00 00:00:00'",
    "'2024-10-27 02:30:00.5'",
  ]),
  { name: 'yr', definition: 'YEAR', kind: 'year', values: ['1901', '2155', '0'] },
  {
    name: 'js',
    definition: 'JSON',
    kind: 'json',
    values: [
      `'{"big": 12345678901234567890, "neg": -98765432109876543210, "f": 1.5, "s": "ü\\\\u00e9 😀 \\\\"q\\\\" \\\\\\\\ \\\\n", "n": [1.5, null, true, {"深": "層"}]}'`,
      "'[]'",
      `'"just a string"'`,
      "'123456789012345678901234567890'",
      "'{}'",
    ],
  },
  {
    name: 'en',
    definition: "ENUM('small','medium','large','it''s')",
    kind: 'enum',
    values: ["'medium'", "'it''s'", "'small'"],
  },
  { name: 'st', definition: "SET('a','b','c')", kind: 'set', values: ["'a,c'", "''", "'a,b,c'"] },
  {
    name: 'pt',
    definition: 'POINT',
    kind: 'bytes',
    values: ["ST_GeomFromText('POINT(1 2)')", "ST_GeomFromText('POINT(1.5 -2.25)', 4326)"],
  },
  {
    name: 'pg',
    definition: 'POLYGON',
    kind: 'bytes',
    values: ["ST_GeomFromText('POLYGON((0 0,10 0,10 10,0 10,0 0),(2 2,3 2,3 3,2 2))')"],
  },
  { name: 'gv', definition: 'BIGINT AS (si * 2) VIRTUAL', kind: 'int64', values: [] },
  { name: 'gs', definition: "VARCHAR(120) AS (CONCAT(vc, '!')) STORED", kind: 'varchar', values: [] },
  { name: 'inv', definition: 'INT INVISIBLE', kind: 'int32', values: ['42', '-1'] },
];

/**
 * The proof of type fidelity: each value is written twice — into `snap` before the pipelines start (so
 * the snapshot reads it) and into `live` while they stream (so the binlog reads it) — and both copies must
 * equal what the source returns for SELECT, in the PostgreSQL sink and in the DuckDB sink.
 */
describe('type conformance: snapshot and binlog deliver what SELECT returns, in every sink', () => {
  const db = uniqueName('types');
  let source: Connection;
  let targets: ProbeTargets;
  let sinks: readonly ProbeSink[] = [];
  let running: RunningPipeline[] = [];
  let expected: ProbeRows;
  let globalZone: string;

  beforeAll(async () => {
    source = await mysqlAdmin();
    const [[zone]] = (await source.query('SELECT @@global.time_zone AS z')) as unknown as [[{ z: string }]];
    globalZone = zone.z;
    // Neither the server's default zone nor the writer's is UTC: the pipeline's sessions start in +05:30.
    await source.query("SET GLOBAL time_zone = '+05:30'");
    await source.query("SET SESSION time_zone = '-07:00', SESSION sql_mode = 'NO_ENGINE_SUBSTITUTION'");
    await source.query(`CREATE DATABASE \`${db}\``);
    for (const table of ['snap', 'live']) await source.query(createProbeTable(db, table, PROBES));
    for (const insert of insertProbeRows(db, 'snap', PROBES, ROWS)) await source.query(insert);

    targets = await probeTargets('types');
    sinks = targets.sinks;
    running = await startProbePipelines(sinks, 'types', `${db}.\\.*`);
    await waitForProbeRows(sinks, running, db, 'snap', PROBES, ROWS);
    for (const insert of insertProbeRows(db, 'live', PROBES, ROWS)) await source.query(insert);
    await waitForProbeRows(sinks, running, db, 'live', PROBES, ROWS);
    expected = await sourceProbeRows(source, db, 'snap', PROBES);
  });

  afterAll(async () => {
    for (const pipeline of running) await pipeline.stop().catch(() => {});
    await source?.query('SET GLOBAL time_zone = ?', [globalZone ?? 'SYSTEM']).catch(() => {});
    await source?.query(`DROP DATABASE IF EXISTS \`${db}\``);
    await source?.end();
    await targets?.drop();
  });

  it('writes the same values into snap and live at the source', async () => {
    expect(await sourceProbeRows(source, db, 'live', PROBES)).toEqual(expected);
  });

  it('reads the documented canonical value for the awkward cases (UTC instants, exact floats, extremes)', () => {
    const at = (row: number, name: string): string | null =>
      expected[row]![1 + PROBES.findIndex((p) => p.name === name)] ?? null;
    // TIMESTAMP literals are instants in the writer's zone (-07:00); DATETIME literals are wall clocks.
    expect(at(0, 'ts6')).toBe('2024-03-01 17:00:00.123456Z');
    expect(at(0, 'ts0')).toBe('2024-03-01 17:00:00Z');
    expect(at(0, 'dtm6')).toBe('2024-03-01 10:00:00.123456');
    expect(at(1, 'ts3')).toBe('1970-01-01 07:00:01Z');
    // FLOAT keeps the stored single-precision value, not the 6 digits the text protocol prints.
    expect(at(0, 'f')).toBe(String(Math.fround(3.4028234663852886e38)));
    expect(at(2, 'f')).toBe('16777216');
    expect(at(0, 'dbl')).toBe('0.30000000000000004');
    expect(at(1, 'dbl')).toBe('1e-310');
    expect(at(1, 'biu')).toBe('18446744073709551615');
    expect(at(3, 'dt')).toBeNull(); // 0000-00-00
    expect(at(4, 'dt')).toBeNull(); // 2024-00-10
    expect(at(0, 'inv')).toBe('42');
    expect(at(0, 'gs')).toBe('héllo wörld 你好 😀!');
    expect(expected[ROWS - 1]!.slice(1).filter((v, i) => v !== null && PROBES[i]!.values.length > 0)).toEqual([]);
  });

  for (const label of ['postgres', 'duckdb']) {
    describe(label, () => {
      const sink = (): ProbeSink => sinks.find((s) => s.label === label)!;

      it('delivers through the snapshot exactly what SELECT returns', async () => {
        expectSameRows(await sink().read(db, 'snap', PROBES), expected);
      });

      it('delivers through the binlog exactly what SELECT returns', async () => {
        expectSameRows(await sink().read(db, 'live', PROBES), expected);
      });
    });
  }
});

/** Compares value by value, so that a failure names the column and the row rather than dumping 90 values. */
function expectSameRows(actual: ProbeRows | undefined, expected: ProbeRows): void {
  expect(actual?.map((row) => row[0])).toEqual(expected.map((row) => row[0]));
  const names = ['id', ...PROBES.map((p) => p.name)];
  const mismatches: string[] = [];
  expected.forEach((want, r) => {
    want.forEach((value, i) => {
      const got = actual![r]![i] ?? null;
      if (got !== value) {
        mismatches.push(`${names[i]} (id ${want[0]}): got ${JSON.stringify(got)}, want ${JSON.stringify(value)}`);
      }
    });
  });
  expect(mismatches).toEqual([]);
}
