import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Connection } from 'mysql2/promise';
import {
  freshPostgresDatabase,
  mysqlAdmin,
  uniqueName,
  waitFor,
  type FreshPostgresDatabase,
} from './harness/databases.js';
import { startTestPipeline, type RunningPipeline } from './harness/pipelines.js';
import { textRows } from './harness/compare.js';

/**
 * Values survive the trip exactly, and the snapshot path and the binlog path deliver the same value for the
 * same row: each row is written twice, once before the pipeline starts (read by the snapshot) and once
 * while it streams (read from the binlog), and the two copies must be equal at the target.
 */
describe('type fidelity: snapshot and binlog deliver identical, exact values', () => {
  const db = uniqueName('types');
  let source: Connection;
  let sink: FreshPostgresDatabase;
  let running: RunningPipeline;

  const columns = `
    ti TINYINT, tiu TINYINT UNSIGNED, si SMALLINT, mi MEDIUMINT UNSIGNED, i INT, iu INT UNSIGNED,
    bi BIGINT, biu BIGINT UNSIGNED, dec1 DECIMAL(65,30), dec2 DECIMAL(10,0), dec3 DECIMAL(7,2),
    f FLOAT, d DOUBLE, c CHAR(10), vc VARCHAR(100), t TEXT, l1 VARCHAR(20) CHARACTER SET latin1,
    bin BINARY(4), vb VARBINARY(16), bl BLOB, dt DATE, tm TIME(6), dtm0 DATETIME, dtm6 DATETIME(6),
    ts3 TIMESTAMP(3) NULL, yr YEAR, js JSON, en ENUM('small','medium','large'), st SET('a','b','c'), bt BIT(10)`;
  const values = [
    `(-128, 255, -32768, 16777215, -2147483648, 4294967295, -9223372036854775808, 18446744073709551615,
      '-12345678901234567890123456789012345.123456789012345678901234567890', 9999999999, -0.05,
      1.1, 0.1, 'abc', 'héllo wörld 你好 😀', 'tab\\there\\nnewline \\\\ backslash', 'café',
      x'00010200', x'deadbeef', x'00ff00ff', '2024-02-29', '-838:59:59.000000', '2024-01-01 00:00:00',
      '2024-03-01 10:00:00.123456', '2038-01-19 03:14:07.999', 2155,
      '{"big": 12345678901234567890, "s": "ü", "n": [1.5, null, true]}', 'medium', 'a,c', b'1010101010')`,
    `(0, 0, 0, 0, 0, 0, 0, 0, '0', 0, 0, 0, 0, '', '', '', '', x'', x'', x'', '1000-01-01', '00:00:00',
      '1000-01-01 00:00:00', '9999-12-31 23:59:59.999999', '1970-01-01 00:00:01', 1901, '[]', 'small', '', b'0')`,
    `(NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL,
      NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL)`,
  ];
  const targetQuery = `SELECT ti, tiu, si, mi, i, iu, bi::text, biu::text, dec1::text, dec2::text, dec3::text, f::text, d::text,
      c, vc, t, l1, encode(bin, 'hex') AS bin, encode(vb, 'hex') AS vb, encode(bl, 'hex') AS bl, dt::text, tm::text,
      to_char(dtm0, 'YYYY-MM-DD HH24:MI:SS.US') AS dtm0, to_char(dtm6, 'YYYY-MM-DD HH24:MI:SS.US') AS dtm6,
      to_char(ts3 AT TIME ZONE 'UTC', 'YYYY-MM-DD HH24:MI:SS.US') AS ts3, yr, js::text, en, st, bt::text
    FROM ${'${table}'} ORDER BY id`;

  beforeAll(async () => {
    source = await mysqlAdmin();
    await source.query(`CREATE DATABASE ${db}`);
    for (const table of ['snap', 'live']) {
      await source.query(`CREATE TABLE ${db}.${table} (id INT AUTO_INCREMENT PRIMARY KEY, ${columns})`);
    }
    await source.query(`INSERT INTO ${db}.snap (${columnNames()}) VALUES ${values.join(', ')}`);
    sink = await freshPostgresDatabase('types');
    running = await startTestPipeline({ name: 'types', tables: `${db}.\\.*`, sinkUrl: sink.url });
    await waitFor(async () => (await sink.query(`SELECT 1 FROM ${db}.snap`).catch(() => [])).length === values.length);
    await source.query(`INSERT INTO ${db}.live (${columnNames()}) VALUES ${values.join(', ')}`);
    await waitFor(async () => (await sink.query(`SELECT 1 FROM ${db}.live`).catch(() => [])).length === values.length);
  });

  afterAll(async () => {
    await running?.stop().catch(() => {});
    await source?.query(`DROP DATABASE IF EXISTS ${db}`);
    await source?.end();
    await sink?.drop();
  });

  function columnNames(): string {
    return columns
      .split(',')
      .map((c) => c.trim().split(/\s+/)[0])
      .filter((c) => c && !/^'|^\d|^b'/.test(c) && !c.includes(')'))
      .join(', ');
  }

  it('delivers the same values through the snapshot and through the binlog', async () => {
    const snap = textRows(await sink.query(targetQuery.replace('${table}', `${db}.snap`)));
    const live = textRows(await sink.query(targetQuery.replace('${table}', `${db}.live`)));
    expect(live).toEqual(snap);
  });

  // jsonb (the PostgreSQL type JSON maps to) orders keys by length; values and numbers stay exact.
  it('keeps every value exact: extremes of integers, DECIMAL(65,30), micro-/milliseconds, bytes, unicode, JSON', async () => {
    const [row] = textRows(await sink.query(targetQuery.replace('${table}', `${db}.live`)));
    expect(row).toEqual([
      '-128',
      '255',
      '-32768',
      '16777215',
      '-2147483648',
      '4294967295',
      '-9223372036854775808',
      '18446744073709551615',
      '-12345678901234567890123456789012345.123456789012345678901234567890',
      '9999999999',
      '-0.05',
      '1.1',
      '0.1',
      'abc       ',
      'héllo wörld 你好 😀',
      'tab\there\nnewline \\ backslash',
      'café',
      '00010200',
      'deadbeef',
      '00ff00ff',
      '2024-02-29',
      '-838:59:59',
      '2024-01-01 00:00:00.000000',
      '2024-03-01 10:00:00.123456',
      '2038-01-19 03:14:07.999000',
      '2155',
      '{"n": [1.5, null, true], "s": "ü", "big": 12345678901234567890}',
      'medium',
      'a,c',
      '1010101010',
    ]);
    const [nulls] = textRows(await sink.query(targetQuery.replace('${table}', `${db}.live`) + ' OFFSET 2'));
    expect(nulls?.every((v) => v === null)).toBe(true);
  });
});
