import type { Connection } from 'mysql2/promise';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { TributaryError } from '../src/core/errors.js';
import { freshPostgresDatabase, mysqlAdmin, uniqueName, type FreshPostgresDatabase } from './harness/databases.js';
import { startTestPipeline, type RunningPipeline } from './harness/pipelines.js';
import {
  createProbeTable,
  insertProbeRows,
  postgresProbeSink,
  probeTargets,
  sourceProbeRows,
  startProbePipelines,
  waitForProbeRows,
  type ProbeSink,
  type ProbeTargets,
  type TypeProbe,
} from './harness/type-probes.js';

/** TINYINT(1) and its spellings, and the TINYINTs that must stay integers whatever the option says. */
const FLAGS: readonly TypeProbe[] = [
  { name: 't1', definition: 'TINYINT(1)', kind: 'boolean', values: ['0', '1', '2', '-1', '127', '-128'] },
  { name: 'bo', definition: 'BOOL', kind: 'boolean', values: ['FALSE', 'TRUE', '5'] },
  {
    name: 'bn',
    definition: 'BOOLEAN NOT NULL DEFAULT 0',
    kind: 'boolean',
    values: ['0', '1', '0', '1', '0', '1', '0'],
  },
  { name: 'tu', definition: 'TINYINT(1) UNSIGNED', kind: 'uint8', values: ['0', '1', '255'] },
  { name: 't4', definition: 'TINYINT(4)', kind: 'int8', values: ['0', '1', '-128'] },
  { name: 'ti', definition: 'TINYINT', kind: 'int8', values: ['0', '1', '127'] },
];
const FLAG_ROWS = 7;

/**
 * `treat-tinyint1-as-boolean.enabled: true`: TINYINT(1) arrives as boolean through the snapshot, the binlog and
 * tables the DDL follower builds (a column added and a table created while the pipeline streams), in both sinks.
 */
describe('type conformance: treat-tinyint1-as-boolean.enabled', () => {
  const db = uniqueName('flags');
  let source: Connection;
  let targets: ProbeTargets;
  let sinks: readonly ProbeSink[] = [];
  let running: RunningPipeline[] = [];
  const late: TypeProbe = { name: 'late', definition: 'BOOL', kind: 'boolean', values: [] };

  beforeAll(async () => {
    source = await mysqlAdmin();
    await source.query(`CREATE DATABASE \`${db}\``);
    for (const table of ['snap', 'live']) await source.query(createProbeTable(db, table, FLAGS));
    for (const insert of insertProbeRows(db, 'snap', FLAGS, FLAG_ROWS)) await source.query(insert);
    targets = await probeTargets('flags');
    sinks = targets.sinks;
    running = await startProbePipelines(sinks, 'flags', `${db}.\\.*`, '  treat-tinyint1-as-boolean.enabled: true');
    await waitForProbeRows(sinks, running, db, 'snap', FLAGS, FLAG_ROWS);
    for (const insert of insertProbeRows(db, 'live', FLAGS, FLAG_ROWS)) await source.query(insert);
    await waitForProbeRows(sinks, running, db, 'live', FLAGS, FLAG_ROWS);
    // The DDL follower: a column added to a captured table, and a new table, both read from the binlog's DDL.
    await source.query(`ALTER TABLE \`${db}\`.live ADD COLUMN late BOOL`);
    await source.query(`UPDATE \`${db}\`.live SET late = id % 2`);
    await source.query(createProbeTable(db, 'created', FLAGS));
    for (const insert of insertProbeRows(db, 'created', FLAGS, FLAG_ROWS)) await source.query(insert);
    await waitForProbeRows(sinks, running, db, 'created', FLAGS, FLAG_ROWS);
    await waitForProbeRows(sinks, running, db, 'live', [...FLAGS, late], FLAG_ROWS, (rows) =>
      rows.every((row) => row[row.length - 1] !== null),
    );
  });

  afterAll(async () => {
    for (const pipeline of running) await pipeline.stop().catch(() => {});
    await source?.query(`DROP DATABASE IF EXISTS \`${db}\``);
    await source?.end();
    await targets?.drop();
  });

  it('reads TINYINT(1), BOOL and BOOLEAN as booleans (non-zero is true) and leaves other TINYINTs integers', async () => {
    const expected = await sourceProbeRows(source, db, 'snap', FLAGS);
    expect(expected.map((row) => row[1])).toEqual(['false', 'true', 'true', 'true', 'true', 'true', null]);
    expect(expected.map((row) => row[4])).toEqual(['0', '1', '255', null, null, null, null]);
  });

  for (const label of ['postgres', 'duckdb']) {
    it(`delivers booleans through the snapshot, the binlog and DDL-built tables: ${label}`, async () => {
      const sink = sinks.find((s) => s.label === label)!;
      const expected = await sourceProbeRows(source, db, 'snap', FLAGS);
      expect(await sink.read(db, 'snap', FLAGS)).toEqual(expected);
      expect(await sink.read(db, 'created', FLAGS)).toEqual(expected);
      const live = await sink.read(db, 'live', [...FLAGS, late]);
      expect(live).toEqual(await sourceProbeRows(source, db, 'live', [...FLAGS, late]));
      expect(live?.map((row) => row[row.length - 1])).toEqual([
        'true',
        'false',
        'true',
        'false',
        'true',
        'false',
        'true',
      ]);
    });
  }

  it('creates boolean columns in PostgreSQL, NOT NULL where the source is', async () => {
    const columns = await targets.postgres.query<{
      table_name: string;
      column_name: string;
      data_type: string;
      is_nullable: string;
    }>(
      `SELECT table_name, column_name, data_type, is_nullable FROM information_schema.columns
        WHERE table_schema = $1 AND column_name IN ('t1', 'bo', 'bn', 'tu', 'late') ORDER BY table_name, column_name`,
      [db],
    );
    const text = columns.map(
      (c) => `${c.table_name}.${c.column_name} ${c.data_type}${c.is_nullable === 'NO' ? ' not null' : ''}`,
    );
    expect(text).toEqual([
      'created.bn boolean not null',
      'created.bo boolean',
      'created.t1 boolean',
      'created.tu smallint',
      'live.bn boolean not null',
      'live.bo boolean',
      'live.late boolean',
      'live.t1 boolean',
      'live.tu smallint',
      'snap.bn boolean not null',
      'snap.bo boolean',
      'snap.t1 boolean',
      'snap.tu smallint',
    ]);
  });
});

/**
 * `zero-date.handling: error`: a zero date stops the pipeline with an error naming table, column and value —
 * whether the snapshot or the binlog reads it — and temporal columns keep the source's nullability.
 */
describe('type conformance: zero-date.handling', () => {
  const db = uniqueName('zerodates');
  let source: Connection;
  let postgres: FreshPostgresDatabase;
  const running: RunningPipeline[] = [];

  const start = async (tables: string): Promise<RunningPipeline> => {
    const pipeline = await startTestPipeline({
      name: uniqueName('zero-dates'),
      tables: `${db}.${tables}`,
      sinkUrl: postgres.url,
      sourceYaml: '  zero-date.handling: error',
    });
    running.push(pipeline);
    return pipeline;
  };
  const failure = async (pipeline: RunningPipeline): Promise<TributaryError> => {
    const outcome = await Promise.race([
      pipeline.done.then(
        () => new Error('the pipeline ended without an error'),
        (error: unknown) => error,
      ),
      new Promise((resolve) => setTimeout(() => resolve(new Error('the pipeline did not fail within 60 s')), 60_000)),
    ]);
    if (!(outcome instanceof TributaryError)) throw outcome;
    return outcome;
  };

  beforeAll(async () => {
    source = await mysqlAdmin();
    await source.query("SET SESSION sql_mode = 'NO_ENGINE_SUBSTITUTION'");
    await source.query(`CREATE DATABASE \`${db}\``);
    for (const table of ['snap', 'live', 'clean']) {
      await source.query(
        `CREATE TABLE \`${db}\`.${table} (id INT PRIMARY KEY, d DATE NOT NULL, dt DATETIME(3) NULL, ts TIMESTAMP NULL DEFAULT NULL)`,
      );
    }
    await source.query(
      `INSERT INTO \`${db}\`.snap VALUES (1, '2024-01-01', NULL, NULL), (2, '2024-05-00', NULL, NULL)`,
    );
    await source.query(`INSERT INTO \`${db}\`.clean VALUES (1, '2024-01-01', '2024-01-01 10:00:00.5', NULL)`);
    postgres = await freshPostgresDatabase('zerodates');
  });

  afterAll(async () => {
    for (const pipeline of running) await pipeline.stop().catch(() => {});
    await source?.query(`DROP DATABASE IF EXISTS \`${db}\``);
    await source?.end();
    await postgres?.drop();
  });

  it('stops on a zero date read by the snapshot, naming table, column and value; not retryable', async () => {
    const error = await failure(await start('snap'));
    expect(error.retryable).toBe(false);
    expect(error.message).toContain(`${db}.snap column d holds the date '2024-05-00'`);
    expect(error.hint).toContain('zero-date.handling: null');
  });

  it('stops on a zero date read from the binlog, naming table, column and value', async () => {
    const pipeline = await start('live');
    await waitForProbeRows([postgresProbeSink(postgres)], [pipeline], db, 'live', [], 0);
    await source.query(`INSERT INTO \`${db}\`.live VALUES (1, '2024-01-01', '0000-00-00 00:00:00.000', NULL)`);
    const error = await failure(pipeline);
    expect(error.retryable).toBe(false);
    expect(error.message).toContain(`${db}.live column dt holds the date '0000-00-00 00:00:00.000'`);
  });

  it('keeps NOT NULL on temporal columns, since no zero date can arrive as NULL', async () => {
    const pipeline = await start('clean');
    await waitForProbeRows([postgresProbeSink(postgres)], [pipeline], db, 'clean', [], 1);
    const columns = await postgres.query<{ column_name: string; is_nullable: string }>(
      `SELECT column_name, is_nullable FROM information_schema.columns WHERE table_schema = $1 AND table_name = 'clean'
        ORDER BY ordinal_position`,
      [db],
    );
    expect(columns.map((c) => `${c.column_name} ${c.is_nullable}`)).toEqual(['id NO', 'd NO', 'dt YES', 'ts YES']);
  });
});
