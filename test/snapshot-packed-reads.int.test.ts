import { createHash } from 'node:crypto';
import type { Connection } from 'mysql2/promise';
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import { TextRowPacker } from '../src/connectors/mysql/protocol/text-row-packer.js';
import { CopyTextWriter } from '../src/connectors/postgres/postgres-copy-writer.js';
import type { PackedRows } from '../src/core/packed-rows.js';
import { freshPostgresDatabase, mysqlAdmin, uniqueName, type FreshPostgresDatabase } from './harness/databases.js';
import { startTestPipeline } from './harness/pipelines.js';

/**
 * Packed reads (docs/02-snapshots.md) against the general path, end to end: the same MariaDB snapshot is run
 * into two PostgreSQL databases, once with the defaults (chunk rows stay in the text-protocol bytes up to the
 * COPY) and once with `pipeline.snapshot.packed-reads: false` (every row decoded, then written). Both runs must
 * send the same COPY bytes (SHA-256 of everything `CopyTextWriter` hands out), the two targets must be equal
 * row by row as PostgreSQL text, and the target must equal the source: every column compared with what MariaDB
 * returns for it, and literal values for the tricky fields, so that both paths being equally wrong fails too.
 * That the packed path ran is observed on the packer itself: every row packed, none decoded whole.
 *
 * PostgreSQL reads `007` and `0.30000000000000004` as the values it reads from `7` and the shortest digits, so a
 * packer that let a ZEROFILL integer or a long double through as sent would leave the target tables equal: the
 * COPY hash is what catches it.
 */

const PACKED_LOG = /snapshot reads stay packed/;
const GENERATED_ROWS = 3000;
const CHUNK_SIZE = 500;

/** Every column kind the packer checks differently (integer, raw, date, double, text, bytes, decode). */
const COLUMNS = `
  id INT NOT NULL PRIMARY KEY,
  ti TINYINT, tiu TINYINT UNSIGNED, si SMALLINT, siu SMALLINT UNSIGNED, mi MEDIUMINT, miu MEDIUMINT UNSIGNED,
  i INT, iu INT UNSIGNED, bi BIGINT, biu BIGINT UNSIGNED,
  zf INT(6) UNSIGNED ZEROFILL, zfb BIGINT(20) UNSIGNED ZEROFILL, zft TINYINT(3) UNSIGNED ZEROFILL,
  yr YEAR,
  d65 DECIMAL(65,30), dz DECIMAL(10,2) UNSIGNED ZEROFILL,
  fl FLOAT, db DOUBLE, dbz DOUBLE UNSIGNED ZEROFILL,
  bo BOOLEAN, t1 TINYINT(1),
  d DATE, dt DATETIME(6), ts TIMESTAMP(6) NULL DEFAULT NULL, tm TIME(6),
  ch CHAR(12), vc VARCHAR(100), tx MEDIUMTEXT, js JSON,
  en ENUM('a', 'b', 'c d', ''), st SET('x', 'y', 'z'),
  bn BINARY(4), vb VARBINARY(16), bl MEDIUMBLOB, bt BIT(10)`;

const NAMES = COLUMNS.split(',')
  .map((c) => c.trim().split(/\s+/)[0]!)
  .filter((c) => /^[a-z0-9]+$/.test(c));

/** The sink table's columns (without treat-tinyint1-as-boolean). */
const TARGET_TYPES = [
  'id integer',
  'ti smallint',
  'tiu smallint',
  'si smallint',
  'siu integer',
  'mi integer',
  'miu integer',
  'i integer',
  'iu bigint',
  'bi bigint',
  'biu numeric(20,0)',
  'zf bigint',
  'zfb numeric(20,0)',
  'zft smallint',
  'yr smallint',
  'd65 numeric(65,30)',
  'dz numeric(10,2)',
  'fl real',
  'db double precision',
  'dbz double precision',
  'bo smallint',
  't1 smallint',
  'd date',
  'dt timestamp(6) without time zone',
  'ts timestamp(6) with time zone',
  'tm interval',
  'ch character(12)',
  'vc character varying(100)',
  'tx text',
  'js jsonb',
  'en text',
  'st text',
  'bn bytea',
  'vb bytea',
  'bl bytea',
  'bt bit(10)',
];

/** Hand-written rows: extremes and edge cases, one per line, in the column order above. */
const EDGE_ROWS = [
  // 1: minima, zero dates, the smallest doubles, bytes 00 5c 09 ff
  `1, -128, 0, -32768, 0, -8388608, 0, -2147483648, 0, -9223372036854775808, 0,
   0, 0, 0, 0000,
   -12345678901234567890123456789012345.123456789012345678901234567890, 0,
   -3.4028235e38, 5e-324, 0,
   FALSE, -128,
   '0000-00-00', '0000-00-00 00:00:00.000000', '0000-00-00 00:00:00', '-838:59:59.000000',
   '', '', '', '{}',
   'a', '',
   0x005c09ff, 0x005c09ff, 0x005c09ff00, b'0'`,
  // 2: maxima, 17 significant digits
  `2, 127, 255, 32767, 65535, 8388607, 16777215, 2147483647, 4294967295, 9223372036854775807, 18446744073709551615,
   42, 18446744073709551615, 7, 2155,
   99999999999999999999999999999999999.999999999999999999999999999999, 12345678.90,
   3.4028235e38, 1.7976931348623157e308, 0.30000000000000004,
   TRUE, 127,
   '9999-12-31', '9999-12-31 23:59:59.999999', '2038-01-19 03:14:07.999999', '838:59:59.000000',
   'tab\\there', 'a\\tb\\nc\\rd\\\\e 😀 é', 'line1\\nline2\\r\\n\\\\N', '{"k": "tab\\\\there \\\\\\\\ \\\\"q\\\\"", "n": 1.50, "u": "😀"}',
   'c d', 'x,y,z',
   0xffffffff, 0xff, 0x5c5c, b'1111111111'`,
  // 3: short doubles, negative zero, tiny and huge, partial zero dates
  `3, -1, 1, -1, 1, -1, 1, -1, 1, -1, 1,
   1, 1, 1, 1901,
   -0.000000000000000000000000000001, 0.01,
   12.5, 12.5, 12.5,
   NULL, 0,
   '2024-00-10', '2024-02-00 10:00:00.5', '1970-01-01 00:00:01', '-00:00:00.000001',
   ' x ', ' ', 'tail space ', '[1, 2.0, "\\\\u00e9x", null]',
   '', 'y',
   0x00, X'', X'', b'1010101010'`,
  `4, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
   0, 0, 0, 1999,
   0, 0,
   -0, -0e0, 1e-7,
   NULL, 1,
   '1000-01-01', '1000-01-01 00:00:00', '2000-02-29 12:34:56.000001', '00:00:00',
   'ä', '\\\\', '\\\\\\\\', '"s"',
   NULL, NULL,
   0x5c, 0x09, 0xff, b'1'`,
  `5, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10,
   999999, 1, 255, 2000,
   1.5, 99999999.99,
   0.1, 1.2345678901234567, 123456789012345,
   TRUE, 2,
   '2024-02-29', '2024-02-29 23:59:59.000000', '2024-02-29 23:59:59.000000', '12:00:00.123456',
   'x', 'x', 'x', '1',
   'b', 'x,z',
   0x01, 0x5c00, 0x0d0a, b'11'`,
  `6, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL,
   NULL, NULL, NULL, NULL,
   NULL, NULL,
   NULL, 1234567890123456, 1e15,
   NULL, NULL,
   NULL, NULL, NULL, NULL,
   NULL, REPEAT('😀', 100), REPEAT('é\\t\\\\', 30000), NULL,
   NULL, NULL,
   NULL, NULL, REPEAT(X'5C00FF09', 30000), NULL`,
  `7, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL,
   NULL, NULL, NULL, NULL,
   NULL, NULL,
   1.17549435e-38, 1e21, 0.00001,
   NULL, NULL,
   NULL, NULL, NULL, NULL,
   NULL, REPEAT('\\\\', 100), REPEAT('a', 300), NULL,
   NULL, NULL,
   NULL, NULL, REPEAT(X'00', 251), NULL`,
  `8, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL,
   NULL, NULL, NULL, NULL,
   NULL, NULL,
   16777217, 0.000001, 1e-5,
   NULL, NULL,
   NULL, NULL, NULL, NULL,
   NULL, NULL, NULL, NULL,
   NULL, NULL,
   NULL, NULL, NULL, NULL`,
  `9, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL,
   NULL, NULL, NULL, NULL,
   NULL, NULL,
   NULL, 9007199254740993, 100000000000000000000,
   NULL, NULL,
   NULL, NULL, NULL, NULL,
   NULL, NULL, NULL, NULL,
   NULL, NULL,
   NULL, NULL, NULL, NULL`,
];

/** Generated rows `id = 1000 + n`: values of every kind that vary with n (NULLs included), several chunks. */
function generatedRows(from: number, count: number): string {
  const n = 'seq';
  const nul = (m: number, expr: string) => `IF(${n} % ${m} = 0, NULL, ${expr})`;
  const values = [
    `1000 + ${n}`,
    nul(11, `${n} % 256 - 128`),
    `${n} % 256`,
    `(${n} * 7) % 65536 - 32768`,
    nul(13, `(${n} * 7) % 65536`),
    `(${n} * 4099) % 16777216 - 8388608`,
    `(${n} * 4099) % 16777216`,
    `(${n} * 1000003) % 4294967296 - 2147483648`,
    nul(17, `(${n} * 1000003) % 4294967296`),
    `${n} * 3037000493 * IF(${n} % 2 = 0, -1, 1)`,
    `18446744073709551615 - ${n} * 1000000007`,
    nul(7, `${n}`),
    `${n} * ${n}`,
    `${n} % 100`,
    `IF(${n} % 50 = 0, 0, 1901 + ${n} % 254)`,
    nul(19, `CAST(${n} AS DECIMAL(65,30)) / 7 * IF(${n} % 2 = 0, -1, 1)`),
    `${n} / 3`,
    nul(23, `${n} / 3`),
    `CASE ${n} % 6 WHEN 0 THEN ${n} / 7 WHEN 1 THEN ${n} * 1.5 WHEN 2 THEN ${n} * 1e-7 WHEN 3 THEN ${n} * 1e300 ` +
      `WHEN 4 THEN -${n} / 3 ELSE ${n} END`,
    `${n} / 9`,
    nul(3, `${n} % 2`),
    `${n} % 3 - 1`,
    `IF(${n} % 97 = 0, '0000-00-00', '2000-01-01' + INTERVAL ${n} DAY)`,
    `IF(${n} % 89 = 0, '0000-00-00 00:00:00', '2000-01-01' + INTERVAL ${n} * 1234567 MICROSECOND)`,
    nul(5, `TIMESTAMP('2001-01-01') + INTERVAL ${n} HOUR + INTERVAL ${n} MICROSECOND`),
    `SEC_TO_TIME(${n} * 97 - 150000 + CAST(${n} AS DECIMAL(12,6)) / 1000000)`,
    `LEFT(CONCAT('c', ${n}, CHAR(9)), 12)`,
    nul(29, `CONCAT('v\\t', ${n}, '\\\\', '\\n', '😀', IF(${n} % 2 = 0, '\\r', ''))`),
    `REPEAT(CONCAT('t', ${n}, '\\r\\n\\\\'), ${n} % 40)`,
    nul(31, `JSON_OBJECT('n', ${n}, 's', CONCAT('x\\t', ${n}), 'f', ${n} / 8)`),
    `ELT(${n} % 4 + 1, 'a', 'b', 'c d', '')`,
    `${n} % 8`,
    `UNHEX(LPAD(HEX(${n}), 8, '0'))`,
    nul(37, `UNHEX(CONCAT('005C09FF', HEX(${n})))`),
    `UNHEX(REPEAT(CONCAT(LPAD(HEX(${n} % 256), 2, '0'), '5C00'), ${n} % 10))`,
    `${n} % 1024`,
  ];
  return `INSERT INTO t (${NAMES.join(', ')})
    SELECT ${values.join(',\n      ')}
      FROM (WITH RECURSIVE s(seq) AS (SELECT ${from} UNION ALL SELECT seq + 1 FROM s WHERE seq < ${from + count - 1})
            SELECT seq FROM s) AS q`;
}

async function createSourceTable(
  conn: Connection,
  database: string,
  rows: { edge: boolean; from: number },
): Promise<void> {
  await conn.query(`CREATE DATABASE ${database}`);
  await conn.query(`CREATE TABLE ${database}.t (${COLUMNS}) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4`);
  await conn.query(`USE ${database}`);
  if (rows.edge) {
    await conn.query(`INSERT INTO t (${NAMES.join(', ')}) VALUES ${EDGE_ROWS.map((r) => `(${r})`).join(',\n')}`);
  }
  await conn.query(generatedRows(rows.from, GENERATED_ROWS));
}

interface RunOutcome {
  readonly logs: string[];
  /** Rows the packer packed, and rows decoded whole from packed chunks (an unpacking stage). */
  readonly packedRows: number;
  readonly unpackedRows: number;
  /** Chunks the packer packed. */
  readonly chunks: number;
  /** SHA-256 and length of every COPY text byte the sink sent (in order). */
  readonly copySha256: string;
  readonly copyBytes: number;
}

/** Runs a snapshot-only pipeline to its end, counting what the packer did. */
async function runSnapshot(options: {
  name: string;
  tables: string;
  sink: FreshPostgresDatabase;
  packed: boolean;
  extraYaml?: string;
  sourceYaml?: string;
  parallelism?: number;
}): Promise<RunOutcome> {
  let packedRows = 0;
  let unpackedRows = 0;
  let chunks = 0;
  const copyHash = createHash('sha256');
  let copyBytes = 0;
  // The original methods, called on the instance the spies get.
  const takeCopy = Reflect.get<CopyTextWriter, 'take'>(CopyTextWriter.prototype, 'take');
  const copySpy = vi.spyOn(CopyTextWriter.prototype, 'take').mockImplementation(function (this: CopyTextWriter) {
    const pieces = takeCopy.call(this);
    for (const piece of pieces) {
      copyHash.update(piece);
      copyBytes += piece.length;
    }
    return pieces;
  });
  const take = Reflect.get<TextRowPacker, 'take'>(TextRowPacker.prototype, 'take');
  const spy = vi.spyOn(TextRowPacker.prototype, 'take').mockImplementation(function (this: TextRowPacker) {
    const rows = take.call(this);
    packedRows += rows.length;
    chunks++;
    const row = rows.row.bind(rows);
    (rows as { row: PackedRows['row'] }).row = (index) => {
      unpackedRows++;
      return row(index);
    };
    return rows;
  });
  try {
    const running = await startTestPipeline({
      name: options.name,
      tables: options.tables,
      sinkUrl: options.sink.url,
      mode: 'snapshot',
      chunkSize: CHUNK_SIZE,
      ...(options.extraYaml === undefined ? {} : { extraYaml: options.extraYaml }),
      ...(options.sourceYaml === undefined ? {} : { sourceYaml: options.sourceYaml }),
      ...(options.parallelism === undefined ? {} : { parallelism: options.parallelism }),
      ...(options.packed ? {} : { pipelineYaml: '  snapshot.packed-reads: false' }),
    });
    const result = await running.done;
    expect(result.outcome).toBe('finished');
    return { logs: running.logs, packedRows, unpackedRows, chunks, copySha256: copyHash.digest('hex'), copyBytes };
  } finally {
    spy.mockRestore();
    copySpy.mockRestore();
  }
}

/** Every row of `table` as PostgreSQL's text of the whole row, in key order. */
async function rowTexts(db: FreshPostgresDatabase, table: string): Promise<string[]> {
  const rows = await db.query<{ r: string }>(`SELECT x::text AS r FROM ${table} x ORDER BY id`);
  return rows.map((row) => row.r);
}

/** The columns of `table` and their PostgreSQL types. */
async function columnTypes(db: FreshPostgresDatabase, table: string): Promise<string[]> {
  const rows = await db.query<{ c: string }>(
    `SELECT a.attname || ' ' || format_type(a.atttypid, a.atttypmod) AS c FROM pg_attribute a
      WHERE a.attrelid = '${table}'::regclass AND a.attnum > 0 AND NOT a.attisdropped ORDER BY a.attnum`,
  );
  return rows.map((row) => row.c);
}

async function checksum(db: FreshPostgresDatabase, table: string): Promise<string> {
  const [row] = await db.query<{ h: string }>(
    `SELECT md5(string_agg(x::text, E'\\n' ORDER BY id)) AS h FROM ${table} x`,
  );
  return row!.h;
}

/**
 * Each column of each row as the source holds it and as the sink table holds it, side by side: the same
 * text on both sides (integers, decimals, dates, enums, sets, bits), MD5 of the bytes (strings, binary), or
 * numerically equal (FLOAT, DOUBLE). TIME and JSON are left to the row-by-row comparison and the literals.
 * Returns the differences, `id column: source ≠ sink`.
 */
async function differencesFromSource(
  conn: Connection,
  source: string,
  sink: FreshPostgresDatabase,
  target: string,
): Promise<string[]> {
  const same = (c: string): [string, string] => [`CAST(${c} AS CHAR)`, `${c}::text`];
  const unpadded = (c: string): [string, string] => [`CAST(${c} + 0 AS CHAR)`, `${c}::text`];
  const hashed = (c: string): [string, string] => [`MD5(${c})`, `md5(${c})`];
  const date = (c: string, format: string): [string, string] => [
    `IF(CAST(${c} AS CHAR) REGEXP '^0000|-00', NULL, CAST(${c} AS CHAR))`,
    `to_char(${c}, '${format}')`,
  ];
  const exact: [string, [string, string]][] = [
    ...['id', 'ti', 'tiu', 'si', 'siu', 'mi', 'miu', 'i', 'iu', 'bi', 'biu', 'd65', 'en', 'st'].map(
      (c): [string, [string, string]] => [c, same(c)],
    ),
    ...['zf', 'zfb', 'zft', 'yr', 'dz'].map((c): [string, [string, string]] => [c, unpadded(c)]),
    ...['vc', 'tx', 'bn', 'vb', 'bl'].map((c): [string, [string, string]] => [c, hashed(c)]),
    ['d', date('d', 'YYYY-MM-DD')],
    ['dt', date('dt', 'YYYY-MM-DD HH24:MI:SS.US')],
    ['bt', [`LPAD(BIN(bt), 10, '0')`, 'bt::text']],
  ];
  const floats = ['fl', 'db', 'dbz'];
  const [sourceRows] = await conn.query(
    `SELECT ${[...exact.map(([c, [m]]) => `${m} AS c_${c}`), ...floats.map((c) => `CAST(${c} + 0e0 AS CHAR) AS c_${c}`)].join(', ')}
       FROM ${source} ORDER BY id`,
  );
  const sinkRows = await sink.query<Record<string, string | null>>(
    `SELECT ${[...exact.map(([c, [, p]]) => `${p} AS c_${c}`), ...floats.map((c) => `${c}::text AS c_${c}`)].join(', ')}
       FROM ${target} ORDER BY id`,
  );
  const rows = sourceRows as Record<string, string | null>[];
  const differences: string[] = [];
  if (rows.length !== sinkRows.length) differences.push(`rows: ${rows.length} ≠ ${sinkRows.length}`);
  rows.forEach((row, i) => {
    const other = sinkRows[i] ?? {};
    for (const [c] of exact) {
      if (row[`c_${c}`] !== other[`c_${c}`]) {
        differences.push(`${row['c_id']} ${c}: ${row[`c_${c}`]} ≠ ${other[`c_${c}`]}`);
      }
    }
    for (const c of floats) {
      const round = c === 'fl' ? Math.fround : (x: number) => x;
      const [x, y] = [row[`c_${c}`], other[`c_${c}`]];
      const a = x === null || x === undefined ? null : round(Number(x));
      const b = y === null || y === undefined ? null : round(Number(y));
      if (!Object.is(a, b)) differences.push(`${row['c_id']} ${c}: ${x} ≠ ${y}`);
    }
  });
  return differences;
}

/** One column of one row as PostgreSQL text (bytea as hex, as `\x…`). */
async function field(db: FreshPostgresDatabase, table: string, id: number, column: string): Promise<string | null> {
  const [row] = await db.query<{ v: string | null }>(`SELECT ${column}::text AS v FROM ${table} WHERE id = $1`, [id]);
  return row!.v;
}

describe('packed snapshot reads write the same target data as the general path (MariaDB → PostgreSQL)', () => {
  const base = uniqueName('packed');
  const sinks: FreshPostgresDatabase[] = [];
  let conn: Connection;

  beforeAll(async () => {
    conn = await mysqlAdmin();
    // Zero and partial-zero dates are only accepted without the strict and NO_ZERO_* modes; the row generator
    // recurses more than the default 1000 times.
    await conn.query(
      "SET SESSION sql_mode = 'NO_ENGINE_SUBSTITUTION', SESSION time_zone = '+00:00', SESSION max_recursive_iterations = 100000",
    );
    await createSourceTable(conn, `${base}_one`, { edge: true, from: 1 });
    await createSourceTable(conn, `${base}_s1`, { edge: true, from: 1 });
    await createSourceTable(conn, `${base}_s2`, { edge: false, from: 5001 });
  });

  afterEach(async () => {
    await Promise.all(sinks.splice(0).map((sink) => sink.drop()));
  });

  afterAll(async () => {
    for (const suffix of ['one', 's1', 's2', 'w1', 'w2'])
      await conn?.query(`DROP DATABASE IF EXISTS ${base}_${suffix}`);
    await conn?.end();
  });

  it('one table over several chunks (one and two readers): the targets equal row by row, and equal to the source', async () => {
    const packedSink = await freshPostgresDatabase('packed_on');
    const generalSink = await freshPostgresDatabase('packed_off');
    sinks.push(packedSink, generalSink);
    const tables = `${base}_one.t`;
    const packed = await runSnapshot({ name: `${base}-one`, tables, sink: packedSink, packed: true });
    const general = await runSnapshot({ name: `${base}-one`, tables, sink: generalSink, packed: false });
    const total = EDGE_ROWS.length + GENERATED_ROWS;

    // The packed path ran: the runner asked for it, every row was packed and none decoded whole on the way.
    expect(packed.logs.join('\n')).toMatch(PACKED_LOG);
    expect(packed.packedRows).toBe(total);
    expect(packed.unpackedRows).toBe(0);
    expect(packed.chunks).toBeGreaterThanOrEqual(5); // several chunks per table
    expect(general.logs.join('\n')).not.toMatch(PACKED_LOG);
    expect(general.packedRows).toBe(0);
    // The COPY text both runs sent is the same, byte for byte.
    expect(packed.copyBytes).toBeGreaterThan(0);
    expect([packed.copyBytes, packed.copySha256]).toEqual([general.copyBytes, general.copySha256]);

    const table = `${base}_one.t`;
    // Every column kind the packer treats differently reached the sink as its own PostgreSQL type.
    expect(await columnTypes(packedSink, table)).toEqual(TARGET_TYPES);
    expect(await columnTypes(packedSink, table)).toEqual(await columnTypes(generalSink, table));
    const packedRows = await rowTexts(packedSink, table);
    const generalRows = await rowTexts(generalSink, table);
    expect(packedRows).toHaveLength(total);
    for (let i = 0; i < total; i++) expect(packedRows[i], `row ${i}`).toBe(generalRows[i]);
    expect(await checksum(packedSink, table)).toBe(await checksum(generalSink, table));

    // Two chunk readers: the chunks reach the sink in another order, the table is the same.
    const parallelSink = await freshPostgresDatabase('packed_par');
    sinks.push(parallelSink);
    const parallel = await runSnapshot({
      name: `${base}-one`,
      tables,
      sink: parallelSink,
      packed: true,
      parallelism: 2,
    });
    expect(parallel.packedRows).toBe(total);
    expect(parallel.unpackedRows).toBe(0);
    expect(await checksum(parallelSink, table)).toBe(await checksum(generalSink, table));

    const [source] = await conn.query(`SELECT COUNT(*) AS n FROM ${table}`);
    expect(Number((source as { n: number }[])[0]!.n)).toBe(total);
    expect(await differencesFromSource(conn, table, packedSink, table)).toEqual([]);

    // What the source holds, as literals: both paths equally wrong fails here.
    const expected: [number, string, string | null][] = [
      [1, 'bi', '-9223372036854775808'],
      [1, 'yr', '0'],
      [1, 'd65', '-12345678901234567890123456789012345.123456789012345678901234567890'],
      [1, 'db', '5e-324'],
      [1, 'd', null],
      [1, 'dt', null],
      [1, 'ts', null],
      [1, 'tm', '-838:59:59'],
      [1, 'vb', '\\x005c09ff'],
      [1, 'bn', '\\x005c09ff'],
      [1, 'bl', '\\x005c09ff00'],
      [1, 'bt', '0000000000'],
      [1, 'vc', ''],
      [2, 'biu', '18446744073709551615'],
      [2, 'zf', '42'],
      [2, 'zfb', '18446744073709551615'],
      [2, 'zft', '7'],
      [2, 'db', '1.7976931348623157e+308'],
      [2, 'dbz', '0.30000000000000004'],
      [2, 'dz', '12345678.90'],
      [2, "(ts AT TIME ZONE 'UTC')", '2038-01-19 03:14:07.999999'],
      [2, 'vc', 'a\tb\nc\rd\\e 😀 é'],
      [2, 'tx', 'line1\nline2\r\n\\N'],
      [2, 'ch', 'tab\there'],
      [2, 'st', 'x,y,z'],
      [2, 'bt', '1111111111'],
      [3, 'fl', '12.5'],
      [3, 'db', '12.5'],
      [3, 'd', null],
      [3, 'dt', null],
      [3, 'bo', null],
      [3, 'tm', '-00:00:00.000001'],
      [1, 'bo', '0'],
      [2, 'bo', '1'],
      [4, 'bo', null],
      [4, 'dbz', '1e-07'],
      [4, 'vc', '\\'],
      [4, 'vb', '\\x09'],
      [5, 'db', '1.2345678901234567'],
      [5, 'dbz', '123456789012345'],
      [5, 'zf', '999999'],
      [5, 'fl', '0.1'],
      [5, 't1', '2'],
      [6, 'db', '1.234567890123456e+15'],
      [6, 'dbz', '1e+15'],
      [7, 'db', '1e+21'],
      [7, 'dbz', '1e-05'],
      [8, 'db', '1e-06'],
      [8, 'fl', '1.6777216e+07'],
      [9, 'db', '9.007199254740992e+15'],
      [1050, 'yr', '0'],
      [1007, 'db', '10.5'],
      [1007, 'zf', null],
      [1097, 'd', null],
    ];
    const actual: [number, string, string | null][] = [];
    for (const [id, column] of expected) actual.push([id, column, await field(packedSink, table, id, column)]);
    expect(actual).toEqual(expected);
  });

  it('two shards routed into one sink table (TINYINT(1) as boolean): the packed run under the routed name equals the general run', async () => {
    const packedSink = await freshPostgresDatabase('packed_on');
    const generalSink = await freshPostgresDatabase('packed_off');
    sinks.push(packedSink, generalSink);
    const tables = `${base}_s[0-9]+.t`;
    const extraYaml = `route:\n  - source-table: ${base}_s[0-9]+.t\n    sink-table: public.merged\n`;
    // BOOLEAN columns (decoded field by field in the packed path) only exist with this option.
    const sourceYaml = '  treat-tinyint1-as-boolean.enabled: true';
    const run = { tables, extraYaml, sourceYaml };
    const packed = await runSnapshot({ ...run, name: `${base}-merged`, sink: packedSink, packed: true });
    const general = await runSnapshot({ ...run, name: `${base}-merged`, sink: generalSink, packed: false });
    const total = EDGE_ROWS.length + 2 * GENERATED_ROWS;

    expect(packed.logs.join('\n')).toMatch(PACKED_LOG);
    expect(packed.packedRows).toBe(total);
    expect(packed.unpackedRows).toBe(0);
    expect(packed.chunks).toBeGreaterThanOrEqual(5); // several chunks per table
    expect(general.logs.join('\n')).not.toMatch(PACKED_LOG);
    expect(general.packedRows).toBe(0);
    // The COPY text both runs sent is the same, byte for byte.
    expect(packed.copyBytes).toBeGreaterThan(0);
    expect([packed.copyBytes, packed.copySha256]).toEqual([general.copyBytes, general.copySha256]);

    const table = 'public.merged';
    expect(await columnTypes(packedSink, table)).toEqual(await columnTypes(generalSink, table));
    const packedRows = await rowTexts(packedSink, table);
    const generalRows = await rowTexts(generalSink, table);
    expect(packedRows).toHaveLength(total);
    for (let i = 0; i < total; i++) expect(packedRows[i], `row ${i}`).toBe(generalRows[i]);
    expect(await checksum(packedSink, table)).toBe(await checksum(generalSink, table));
    expect(
      await differencesFromSource(conn, `${base}_s1.t`, packedSink, `(SELECT * FROM ${table} WHERE id < 5000) m`),
    ).toEqual([]);
    expect(
      await differencesFromSource(conn, `${base}_s2.t`, packedSink, `(SELECT * FROM ${table} WHERE id > 5000) m`),
    ).toEqual([]);
    expect(await field(packedSink, table, 2, 'dbz')).toBe('0.30000000000000004');
    expect(await field(packedSink, table, 1, 'vb')).toBe('\\x005c09ff');
    expect(await columnTypes(packedSink, table)).toContain('bo boolean');
    expect(await field(packedSink, table, 1, 'bo')).toBe('false');
    expect(await field(packedSink, table, 2, 't1')).toBe('true');
    expect(await field(packedSink, table, 1, 't1')).toBe('true');
    expect(await field(packedSink, table, 4, 't1')).toBe('true');
    expect(await field(packedSink, table, 3, 't1')).toBe('false');
    expect(await field(packedSink, table, 6001, 'biu')).toBe((18446744073709551615n - 5001n * 1000000007n).toString());
  });

  it('two shards of different column order and widths merged into one sink table: packed equals general', async () => {
    await conn.query(`CREATE DATABASE ${base}_w1`);
    await conn.query(`CREATE DATABASE ${base}_w2`);
    await conn.query(
      `CREATE TABLE ${base}_w1.t (id INT PRIMARY KEY, a TINYINT, b VARCHAR(10), c FLOAT, d DATETIME, z INT(4) ZEROFILL, y YEAR, bl TINYBLOB, tx VARCHAR(20))`,
    );
    await conn.query(
      `CREATE TABLE ${base}_w2.t (id BIGINT PRIMARY KEY, b VARCHAR(30), a BIGINT, c DOUBLE, d DATETIME(6), e TEXT, z BIGINT, y YEAR, bl BLOB, tx TEXT)`,
    );
    await conn.query(
      `INSERT INTO ${base}_w1.t VALUES (1, -5, 'x\\ty', 0.1, '2024-01-02 10:11:12', 7, 0000, 0x005c09ff, 'a\\\\b'), (2, NULL, '', 3.4e38, '0000-00-00 00:00:00', 0, 1999, NULL, '😀'), (3, 127, 'q', -0, '9999-12-31 23:59:59', 1234, 2155, X'', '')`,
    );
    await conn.query(
      `INSERT INTO ${base}_w2.t VALUES (101, 'x\\ty', -5, 0.1, '2024-01-02 03:04:05.000006', 'e\\n', 7, 0, 0x005c09ff, 'a\\\\b'), (102, NULL, 9223372036854775807, 0.30000000000000004, '0000-00-00 00:00:00', NULL, 0, 1999, NULL, '😀')`,
    );
    const packedSink = await freshPostgresDatabase('packed_on');
    const generalSink = await freshPostgresDatabase('packed_off');
    sinks.push(packedSink, generalSink);
    const run = {
      tables: `${base}_w[0-9]+.t`,
      extraYaml: `route:\n  - source-table: ${base}_w[0-9]+.t\n    sink-table: public.wide\n`,
    };
    const packed = await runSnapshot({ ...run, name: `${base}-wide`, sink: packedSink, packed: true });
    const general = await runSnapshot({ ...run, name: `${base}-wide`, sink: generalSink, packed: false });
    // Each shard's rows are mapped onto the merged table (other column order, wider types): packed reads then
    // reach the mapping unpacked, and the COPY is the general path's.
    expect(packed.logs.join('\n')).toMatch(PACKED_LOG);
    expect(packed.packedRows).toBe(5);
    expect([packed.copyBytes, packed.copySha256]).toEqual([general.copyBytes, general.copySha256]);
    const rows = await rowTexts(packedSink, 'public.wide');
    expect(rows).toEqual(await rowTexts(generalSink, 'public.wide'));
    expect(rows).toEqual([
      '(1,-5,"x\ty",0.10000000149011612,"2024-01-02 10:11:12",7,0,"\\\\x005c09ff","a\\\\b",)',
      '(2,,"",3.3999999521443642e+38,,0,1999,,😀,)',
      '(3,127,q,0,"9999-12-31 23:59:59",1234,2155,"\\\\x","",)',
      '(101,-5,"x\ty",0.1,"2024-01-02 03:04:05.000006",7,0,"\\\\x005c09ff","a\\\\b","e\n")',
      '(102,9223372036854775807,,0.30000000000000004,,0,1999,,😀,)',
    ]);
  });
});
