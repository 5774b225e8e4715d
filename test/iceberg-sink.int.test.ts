import { readFile, readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { DuckDBInstance } from '@duckdb/node-api';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mysqlRows } from './harness/compare.js';
import { mysqlAdmin, runMysqlScript, waitFor } from './harness/databases.js';
import { icebergDataFiles, icebergRowsText, readIcebergTable } from './harness/iceberg-reader.js';
import { startTestPipeline, type RunningPipeline } from './harness/pipelines.js';
import {
  SHARDED_USERS_SCENARIO,
  SHARDED_USERS_TABLES,
  SHARDED_USERS_TRANSFORM_AND_ROUTES,
  sourceUsers,
} from './harness/sharded-users.js';
import { testTempDir } from './harness/temp-dirs.js';

/**
 * MySQL → Iceberg (type: iceberg), read back by an engine that is not ours: icebird, which opens the table
 * through the Hadoop catalog's version hint, reads the Avro manifests and applies the equality deletes. After
 * the snapshot, after binlog inserts/updates/deletes and after a restart, the table must read exactly as the
 * source. Values that icebird turns into JavaScript numbers or millisecond Dates (wide decimals, µs timestamps,
 * binary) are checked exactly by reading the live data files with DuckDB's Parquet reader.
 */
const USER_COLUMNS = ['_db_name', '_table_name', 'id', 'name', 'address', 'phone_number', 'email'];

/** Reads Parquet files with DuckDB's reader (not the writer's code path): each query's rows as text. */
async function duckdbRows(sql: string): Promise<(string | null)[][]> {
  const instance = await DuckDBInstance.create(':memory:');
  const connection = await instance.connect();
  try {
    return (await connection.runAndReadAll(sql))
      .getRowsJson()
      .map((row) => row.map((v) => (v === null ? null : typeof v === 'string' ? v : JSON.stringify(v))));
  } finally {
    connection.closeSync();
    instance.closeSync();
  }
}

const fileList = (files: readonly string[]): string => `[${files.map((f) => `'${f}'`).join(', ')}]`;

describe('sharded-users scenario into an Iceberg table (type: iceberg)', () => {
  let warehouse: string;
  let running: RunningPipeline;
  const start = () =>
    startTestPipeline({
      name: 'sharded-users-iceberg',
      tables: SHARDED_USERS_TABLES,
      sinkYaml: `  type: iceberg\n  warehouse: ${warehouse}`,
      extraYaml: SHARDED_USERS_TRANSFORM_AND_ROUTES,
    });
  const users = () => icebergRowsText(join(warehouse, 'public', 'users'), USER_COLUMNS);
  const sameAsSource = async () => JSON.stringify(await users()) === JSON.stringify(await sourceUsers());

  beforeAll(async () => {
    await runMysqlScript(await readFile(new URL('source.sql', SHARDED_USERS_SCENARIO), 'utf8'));
    warehouse = await testTempDir('tributary-iceberg-');
    running = await start();
  });

  afterAll(async () => {
    if (process.env['TRIBUTARY_TEST_DEBUG']) console.log(running?.logs.join('\n'));
    await running?.stop().catch(() => {});
  });

  it('merges the 9 shard tables into public.users, as an independent reader reads it', async () => {
    await waitFor(async () => (await users().catch(() => [])).length === 17, { message: 'users never had 17 rows' });
    expect(await users()).toEqual(await sourceUsers());
    const metadata = JSON.parse(
      await readFile(join(warehouse, 'public', 'users', 'metadata', 'version-hint.text'), 'utf8').then((v) =>
        readFile(join(warehouse, 'public', 'users', 'metadata', `v${v.trim()}.metadata.json`), 'utf8'),
      ),
    ) as {
      'format-version': number;
      schemas: { 'identifier-field-ids': number[]; fields: { id: number; name: string }[] }[];
    };
    expect(metadata['format-version']).toBe(2);
    const schema = metadata.schemas.at(-1)!;
    // The transform's primary key is the table's identifier fields: what equality deletes match on.
    expect(schema['identifier-field-ids'].map((id) => schema.fields.find((f) => f.id === id)?.name)).toEqual([
      '_db_name',
      '_table_name',
      'id',
    ]);
  });

  it('keeps exact decimals and microseconds in the Parquet files (tpc_ds.store_sales)', async () => {
    const table = join(warehouse, 'tpc_ds', 'store_sales');
    await waitFor(async () => (await readIcebergTable(table).catch(() => [])).length === 3);
    const files = await icebergDataFiles(table);
    expect(
      await duckdbRows(
        `SELECT ss_item_sk, ss_ticket_number, CAST(ss_sales_price AS VARCHAR), CAST(ss_sold_at AS VARCHAR) ` +
          `FROM read_parquet(${fileList(files)}) ORDER BY 1, 2`,
      ),
    ).toEqual([
      ['1', '1001', '81.06', '2024-03-01 10:00:00.123456'],
      ['2', '1001', '1.12', '2024-03-01 10:00:00.123456'],
      ['3', '1002', '71.10', '2024-03-02 18:30:05.000001'],
    ]);
  });

  it('applies changes.sql from the binlog as equality deletes plus new rows: the reader sees exactly the source', async () => {
    await runMysqlScript(await readFile(new URL('changes.sql', SHARDED_USERS_SCENARIO), 'utf8'));
    await waitFor(sameAsSource, { message: 'users never matched the source' });
    const rows = await users();
    expect(rows).toHaveLength(17);
    expect(rows.find((u) => u[0] === 'user_db2' && u[1] === 'user02' && u[2] === '2')?.[3]).toBe('Jovita');
    expect(rows.find((u) => u[0] === 'user_db3' && u[1] === 'user03' && u[2] === '1')).toBeUndefined();
    await waitFor(async () => (await readIcebergTable(join(warehouse, 'tpc_ds', 'customer'))).length === 2, {
      message: 'the customer delete never arrived',
    });
    const deletes = (await readdir(join(warehouse, 'public', 'users', 'data'))).filter((f) =>
      f.endsWith('-deletes.parquet'),
    );
    expect(deletes.length).toBeGreaterThan(0);
  });

  it('stores its checkpoint in the snapshot summary and resumes from it without repeating', async () => {
    const result = await running.stop();
    expect(result.outcome).toBe('stopped');
    const location = join(warehouse, 'public', 'users');
    const version = (await readFile(join(location, 'metadata', 'version-hint.text'), 'utf8')).trim();
    const metadata = JSON.parse(await readFile(join(location, 'metadata', `v${version}.metadata.json`), 'utf8')) as {
      'current-snapshot-id': number;
      snapshots: { 'snapshot-id': number; summary: Record<string, string> }[];
    };
    const summary = metadata.snapshots.find((s) => s['snapshot-id'] === metadata['current-snapshot-id'])!.summary;
    expect(summary['tributary.pipeline']).toBe('sharded-users-iceberg');
    expect(Number(summary['tributary.checkpoint-id'])).toBeGreaterThan(0);
    // Every snapshot of the table carries a different checkpoint: none was committed twice.
    const ids = metadata.snapshots.map((s) => s.summary['tributary.checkpoint-id']);
    expect(new Set(ids).size).toBe(ids.length);

    await runMysqlScript("UPDATE user_db1.user01 SET name = 'Resumed' WHERE id = 1;");
    running = await start();
    await waitFor(sameAsSource, { message: 'users never matched the source after the restart' });
    expect((await users()).find((u) => u[0] === 'user_db1' && u[1] === 'user01' && u[2] === '1')?.[3]).toBe('Resumed');
    expect(running.logs.some((l) => /resuming after checkpoint \d+/.test(l))).toBe(true);
  });
});

describe('every type survives into Iceberg (decimals, 64-bit, µs timestamps, binary, unicode)', () => {
  let warehouse: string;
  let running: RunningPipeline;
  const location = () => join(warehouse, 'icetypes', 'probe');

  beforeAll(async () => {
    await runMysqlScript(`DROP DATABASE IF EXISTS icetypes; CREATE DATABASE icetypes;
      CREATE TABLE icetypes.probe (
        id BIGINT PRIMARY KEY, i8 TINYINT, u64 BIGINT UNSIGNED, big BIGINT, d DECIMAL(38,10), dw DECIMAL(65,30),
        f FLOAT, dbl DOUBLE, s VARCHAR(100), c CHAR(3), b VARBINARY(20), bl BLOB, dt DATE, tm TIME(6),
        ts DATETIME(6), tstz TIMESTAMP(6) NULL, j JSON, e ENUM('red','green'), bt BIT(5), y YEAR);
      INSERT INTO icetypes.probe VALUES
        (1, -128, 18446744073709551615, -9223372036854775808, 1234567890123456789012345678.0123456789,
         12345678901234567890123456789012345.123456789012345678901234567891, 1.5, 2.718281828459045,
         'ü€😀 漢字', 'ab', X'00FF10', X'DEADBEEF00', '2024-02-29', '-838:59:59.000001',
         '1970-01-01 00:00:00.000001', '2038-01-19 03:14:07.999999', '{"k": [1, 2.50]}', 'green', b'10101', 2155),
        (2, NULL, 0, 9223372036854775807, -0.0000000001, 0, NULL, NULL, '', NULL, X'', NULL, '0001-01-01',
         '00:00:00', '9999-12-31 23:59:59.999999', NULL, NULL, NULL, NULL, NULL);`);
    warehouse = await testTempDir('tributary-iceberg-types-');
    running = await startTestPipeline({
      name: 'iceberg-types',
      tables: 'icetypes.probe',
      sinkYaml: `  type: iceberg\n  warehouse: ${warehouse}`,
    });
  });

  afterAll(async () => {
    await running?.stop().catch(() => {});
    await runMysqlScript('DROP DATABASE IF EXISTS icetypes;');
  });

  it('keeps every value exactly in the Parquet files, with Iceberg types in the metadata', async () => {
    await waitFor(async () => (await readIcebergTable(location()).catch(() => [])).length === 2, {
      message: 'the probe rows never arrived',
    });
    const files = await icebergDataFiles(location());
    const exact = await duckdbRows(
      `SELECT id, i8, CAST(u64 AS VARCHAR), CAST(big AS VARCHAR), CAST(d AS VARCHAR), dw, s, c, hex(b), hex(bl), ` +
        `CAST(dt AS VARCHAR), tm, CAST(ts AS VARCHAR), CAST(epoch_us(tstz) AS VARCHAR), j, e, bt, y ` +
        `FROM read_parquet(${fileList(files)}) ORDER BY id`,
    );
    const conn = await mysqlAdmin();
    try {
      const source = await mysqlRows(
        conn,
        `SELECT id, i8, CAST(u64 AS CHAR), CAST(big AS CHAR), CAST(d AS CHAR), CAST(dw AS CHAR), s, c, hex(b), ` +
          `hex(bl), CAST(dt AS CHAR), CAST(tm AS CHAR), DATE_FORMAT(ts, '%Y-%m-%d %H:%i:%s.%f'), ` +
          `REPLACE(CAST(UNIX_TIMESTAMP(tstz) AS CHAR), '.', ''), j, e, BIN(bt), CAST(y AS CHAR) FROM icetypes.probe ORDER BY id`,
      );
      // The MySQL text of a few types differs in spelling only; said here, per column.
      const expected = source.map((row) =>
        row.map((value, i) => {
          if (value === null) return null;
          if (i === 1 && value !== null) return value; // i8
          if (i === 10 && value.startsWith('0001')) return value; // date
          if (i === 16) return value.padStart(5, '0'); // bit(5) as its five digits
          return value;
        }),
      );
      expect(exact).toEqual(expected);
    } finally {
      await conn.end();
    }
    const metadata = JSON.parse(await readFile(join(location(), 'metadata', 'v1.metadata.json'), 'utf8')) as {
      schemas: { fields: { name: string; type: string }[] }[];
    };
    const types = Object.fromEntries(metadata.schemas[0]!.fields.map((f) => [f.name, f.type]));
    expect(types).toMatchObject({
      id: 'long',
      i8: 'int',
      u64: 'decimal(20, 0)',
      d: 'decimal(38, 10)',
      dw: 'string',
      b: 'binary',
      dt: 'date',
      ts: 'timestamp',
      tstz: 'timestamptz',
      tm: 'string',
    });
  });

  it('reads updates and deletes of those rows back through the independent reader', async () => {
    await runMysqlScript(
      "UPDATE icetypes.probe SET s = 'zweite Fassung ✓', big = 42 WHERE id = 1; DELETE FROM icetypes.probe WHERE id = 2; " +
        "INSERT INTO icetypes.probe (id, s) VALUES (3, 'drei');",
    );
    const read = () => icebergRowsText(location(), ['id', 'big', 's']);
    await waitFor(async () => (await read()).length === 2 && (await read())[0]?.[2] === 'zweite Fassung ✓', {
      message: 'the changes never arrived',
    });
    expect(await read()).toEqual([
      ['1', '42', 'zweite Fassung ✓'],
      ['3', null, 'drei'],
    ]);
  });
});
