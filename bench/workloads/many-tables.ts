/**
 * Many small tables: T tables (1,000 by default) of K narrow rows each in their own database, captured by one
 * `initial` pipeline:
 *   many-tables-snapshot  from run() until every row of every table is in the target (the pipeline process's
 *                         own clock, read just before the check of the target's checksum that finds it complete;
 *                         that check runs only once the checkpoints have committed as many changes as rows);
 *   many-tables-changes   then every row of every table updated, 10 tables per transaction, until the last
 *                         table's last row shows the update; then a checksum over all tables must match.
 */
import type pg from 'pg';
import type { Bench } from '../context.js';
import type { ChildUsage } from '../pipeline-child.js';
import { measureChanges, withStreamingPipeline } from '../streaming.js';
import { NARROW, pgRowHolds } from '../tables.js';

const DATABASE = 'bench_many';

const tableName = (i: number): string => `t${String(i).padStart(4, '0')}`;

/** Creates the tables and fills them (once, before the repetitions). */
export async function fillManyTables(bench: Bench): Promise<void> {
  const { tables, rowsPerTable } = bench.config.manyTables;
  await bench.mysql.query(`DROP DATABASE IF EXISTS ${DATABASE}; CREATE DATABASE ${DATABASE}`);
  for (let i = 1; i <= tables; i++) {
    const table = `${DATABASE}.${tableName(i)}`;
    await bench.mysql.query(
      `CREATE TABLE ${table} ${NARROW.mysqlDdl}; ` +
        `INSERT INTO ${table} SELECT ${NARROW.generator} FROM seq_1_to_${rowsPerTable}`,
    );
  }
}

export async function dropManyTables(bench: Bench): Promise<void> {
  await bench.mysql.query(`DROP DATABASE IF EXISTS ${DATABASE}`);
}

/** One query over every table: its rows and a checksum. */
function unionSql(tables: number, select: string): string {
  return Array.from({ length: tables }, (_, i) => `SELECT ${select} FROM ${DATABASE}.${tableName(i + 1)}`).join(
    ' UNION ALL ',
  );
}

const CHECK = (len: string) => `count(*) AS n, sum(a) AS a, sum(${len}(d)) AS d`;

async function sinkTotals(sink: pg.Client, tables: number): Promise<string | undefined> {
  const present = await sink.query<{ n: number }>(
    'SELECT count(*)::int AS n FROM information_schema.tables WHERE table_schema = $1',
    [DATABASE],
  );
  if (present.rows[0]?.n !== tables) return undefined;
  const result = await sink.query(
    `SELECT sum(n) AS n, sum(a) AS a, sum(d) AS d FROM (${unionSql(tables, CHECK('char_length'))}) x`,
  );
  return JSON.stringify(Object.values(result.rows[0] as object).map(String));
}

async function sourceTotals(bench: Bench, tables: number): Promise<string> {
  const [rows] = await bench.mysql.query(
    `SELECT SUM(n) AS n, SUM(a) AS a, SUM(d) AS d FROM (${unionSql(tables, CHECK('CHAR_LENGTH'))}) x`,
  );
  return JSON.stringify(Object.values((rows as object[])[0] as object).map(String));
}

/** Updates every row of every table, 10 tables per transaction. */
async function updateAll(bench: Bench, tables: number, set: string): Promise<void> {
  for (let first = 1; first <= tables; first += 10) {
    const statements = [];
    for (let i = first; i < first + 10 && i <= tables; i++)
      statements.push(`UPDATE ${DATABASE}.${tableName(i)} SET ${set}`);
    await bench.mysql.query(`BEGIN; ${statements.join('; ')}; COMMIT`);
  }
}

export async function manyTables(bench: Bench, repetition: number): Promise<void> {
  const { tables, rowsPerTable } = bench.config.manyTables;
  const total = tables * rowsPerTable;
  const size = `${tables} tables × ${rowsPerTable} narrow rows`;
  const snapshot = bench.workload({
    id: 'many-tables-snapshot',
    group: 'many-tables',
    label: `Tributary, ${tables} tables: snapshot`,
    rows: total,
    ours: true,
    description: `${size}: an 'initial' pipeline on all of them, from run() until every row is in the target`,
  });
  const changes = bench.workload({
    id: 'many-tables-changes',
    group: 'many-tables',
    label: `Tributary, ${tables} tables: then changes`,
    rows: total,
    ours: true,
    description: `${size}: then every row updated, 10 tables per transaction, until the last update is visible`,
  });
  const expected = await sourceTotals(bench, tables);
  let snapshotDone = false;
  let snapshotUsage: ChildUsage | undefined;
  try {
    await withStreamingPipeline(
      bench,
      {
        name: `bench-many-r${repetition}`,
        tables: `${DATABASE}.t[0-9]+`,
        database: `bench_many_r${repetition}`,
        // The checksum reads every row of the target: run it only once the checkpoints have committed as many
        // changes as there are rows, so that its polls do not take the CPU the snapshot runs on. The pipeline's
        // clock is read before the check: the check's snapshot sees only commits made before it began.
        ready: async (sink, pipeline) => {
          if (pipeline.changesCommitted < total) return false;
          const usage = await pipeline.usage();
          if ((await sinkTotals(sink, tables)) !== expected) return false;
          snapshotUsage = usage;
          return true;
        },
      },
      async (streaming) => {
        const usage = snapshotUsage ?? (await streaming.pipeline.usage());
        snapshotDone = true;
        await bench.record(snapshot, repetition, () =>
          Promise.resolve({
            repetition,
            seconds: usage.elapsedSeconds,
            cpuSeconds: usage.cpuSeconds,
            maxRssMb: usage.maxRssMb,
          }),
        );
        const last = `${DATABASE}.${tableName(tables)}`;
        await bench.record(changes, repetition, async () => {
          const record = await measureChanges(bench, streaming, repetition, {
            apply: () => updateAll(bench, tables, "a = a + 1, d = CONCAT('u-', LEFT(d, 62))"),
            visible: () => pgRowHolds(streaming.sink, last, rowsPerTable, "d LIKE 'u-%'"),
            what: 'the last table to show its update',
            rows: total,
            verify: async () => {
              const now = await sourceTotals(bench, tables);
              const seen = await sinkTotals(streaming.sink, tables);
              if (seen !== now) throw new Error(`the target's totals ${seen} differ from the source's ${now}`);
            },
          });
          return record;
        });
        // Back to the state the next repetition's snapshot expects.
        await updateAll(bench, tables, 'a = a - 1, d = SUBSTRING(d, 3)');
      },
    );
  } catch (error) {
    bench.fail(snapshotDone ? [] : [snapshot, changes], repetition, error);
  }
}
