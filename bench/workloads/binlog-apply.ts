/**
 * Binlog apply: one `initial` pipeline on an empty narrow table, then, in transactions of 10,000 row changes,
 * each phase timed from its first source statement until the target shows its last change:
 *   binlog-insert  N rows inserted (copied from bench.t);
 *   binlog-update  every row updated once (four columns change);
 *   binlog-delete  every odd id deleted (N/2 rows);
 *   binlog-mixed   OLTP-like transactions over the remaining rows: 50 % updates, 25 % deletes, 25 % inserts of
 *                  new rows, about N/2 changes in all.
 * After each phase the target's checksum must equal the source's.
 *
 * With `--sink duckdb` the target is a DuckDB file, which the pipeline's process holds while it runs: a phase's
 * last change counts as visible when the pipeline's checkpoints have committed as many changes as the phase made
 * (the sink counts every change it is handed), and the table is checked against the source once, after the last
 * phase, with the pipeline stopped.
 */
import type { ResultSetHeader } from 'mysql2/promise';
import type { Bench } from '../context.js';
import type { WorkloadResult } from '../report.js';
import { measureCatchUp, measureChanges, oneTable, withStreamingPipeline, type Streaming } from '../streaming.js';
import { insertGenerated, mysqlChecksum, NARROW, pgRowHolds, verifyTarget } from '../tables.js';
import { verifyDuckdbTarget } from '../duckdb-target.js';

const TABLE = 'bench.t_apply';

interface Phase {
  readonly workload: WorkloadResult;
  /** Measured as a catch-up: the pipeline is stopped while the source writes, then timed from its start. */
  readonly catchUp?: boolean;
  /** Runs the phase's statements; returns the rows they changed. */
  readonly apply: () => Promise<number>;
  readonly visible: (streaming: Streaming) => Promise<boolean>;
}

export async function binlogApply(bench: Bench, repetition: number): Promise<void> {
  const n = bench.config.rows;
  const tx = bench.config.transactionRows;
  const mysql = bench.mysql;
  const changed = async (sql: string): Promise<number> => ((await mysql.query(sql))[0] as ResultSetHeader).affectedRows;
  const workload = (id: string, label: string, rows: number, description: string): WorkloadResult =>
    bench.workload({ id, group: 'binlog-apply', label, rows, ours: true, description });
  const lastOdd = n % 2 === 1 ? n : n - 1;
  let nextId = n + 1;
  let lastInserted = n;

  // OLTP-like transactions over windows of 2 × tx ids: updates of id % 4 = 0, deletes of id % 8 = 2, new rows.
  const mixed = async (): Promise<number> => {
    let rows = 0;
    for (let lo = 1; lo <= n; lo += 2 * tx) {
      const hi = lo + 2 * tx - 1;
      await mysql.query('BEGIN');
      rows += await changed(
        `UPDATE ${TABLE} SET a = a - 1, c = c + 2, e = CONCAT('m-', LEFT(e, 62)) ` +
          `WHERE id BETWEEN ${lo} AND ${hi} AND id % 4 = 0`,
      );
      rows += await changed(`DELETE FROM ${TABLE} WHERE id BETWEEN ${lo} AND ${hi} AND id % 8 = 2`);
      const inserts = Math.max(1, Math.round(tx / 4));
      await insertGenerated(mysql, TABLE, NARROW, nextId, nextId + inserts - 1);
      rows += inserts;
      lastInserted = nextId + inserts - 1;
      nextId += inserts;
      await mysql.query('COMMIT');
    }
    return rows;
  };

  const phases: Phase[] = [
    {
      workload: workload(
        'binlog-insert',
        'Tributary binlog apply: inserts',
        n,
        `an 'initial' pipeline on an empty narrow table; ${n} rows inserted in ${tx}-row transactions; from the ` +
          'first insert until the last row is in the target',
      ),
      apply: async () => {
        let rows = 0;
        for (let lo = 1; lo <= n; lo += tx) {
          rows += await changed(`INSERT INTO ${TABLE} SELECT * FROM bench.t WHERE id BETWEEN ${lo} AND ${lo + tx - 1}`);
        }
        return rows;
      },
      visible: ({ sink }) => pgRowHolds(sink, TABLE, n),
    },
    {
      workload: workload(
        'binlog-update',
        'Tributary binlog apply: updates',
        n,
        `then every row updated once (four columns), ${tx} rows per transaction; until the last update is visible`,
      ),
      apply: async () => {
        let rows = 0;
        for (let lo = 1; lo <= n; lo += tx) {
          rows += await changed(
            `UPDATE ${TABLE} SET a = a + 1, b = b - 1, c = c + 1, d = CONCAT('u-', LEFT(d, 62)), ` +
              `f = f + INTERVAL 1 SECOND WHERE id BETWEEN ${lo} AND ${lo + tx - 1}`,
          );
        }
        return rows;
      },
      visible: ({ sink }) => pgRowHolds(sink, TABLE, n, "d LIKE 'u-%'"),
    },
    {
      workload: workload(
        'binlog-delete',
        'Tributary binlog apply: deletes',
        Math.ceil(n / 2),
        `then every odd id deleted, ${tx} rows per transaction; until the last delete is visible`,
      ),
      apply: async () => {
        let rows = 0;
        for (let lo = 1; lo <= n; lo += 2 * tx) {
          rows += await changed(`DELETE FROM ${TABLE} WHERE id BETWEEN ${lo} AND ${lo + 2 * tx - 1} AND id % 2 = 1`);
        }
        return rows;
      },
      visible: async ({ sink }) => !(await pgRowHolds(sink, TABLE, lastOdd)),
    },
    {
      workload: workload(
        'binlog-mixed',
        'Tributary binlog apply: mixed OLTP',
        Math.floor(n / 2),
        `then transactions of ~${tx} changes over windows of ${2 * tx} ids: updates of id % 4 = 0 (50 %), deletes ` +
          `of id % 8 = 2 (25 %), inserts of new rows (25 %); until the last insert is visible`,
      ),
      apply: mixed,
      visible: ({ sink }) => pgRowHolds(sink, TABLE, lastInserted),
    },
    {
      workload: workload(
        'binlog-catchup-insert',
        'Tributary binlog catch-up: inserts',
        n,
        `then, with the pipeline stopped, ${n} new rows inserted in ${tx}-row transactions; timed from the ` +
          "pipeline's restart until the last row is in the target (apply alone, the source idle)",
      ),
      catchUp: true,
      apply: async () => {
        const first = nextId;
        for (let lo = first; lo < first + n; lo += tx) {
          const hi = Math.min(first + n - 1, lo + tx - 1);
          await insertGenerated(mysql, TABLE, NARROW, lo, hi);
        }
        nextId = first + n;
        lastInserted = first + n - 1;
        return n;
      },
      visible: ({ sink }) => pgRowHolds(sink, TABLE, lastInserted),
    },
    {
      workload: workload(
        'binlog-catchup-mixed',
        'Tributary binlog catch-up: mixed OLTP',
        Math.floor(n / 2),
        'then, with the pipeline stopped, the mixed OLTP transactions again; timed from the restart until the last ' +
          'insert is visible',
      ),
      catchUp: true,
      apply: mixed,
      visible: ({ sink }) => pgRowHolds(sink, TABLE, lastInserted),
    },
  ];

  const database = `bench_apply_r${repetition}`;
  await mysql.query(`DROP TABLE IF EXISTS ${TABLE}; CREATE TABLE ${TABLE} ${NARROW.mysqlDdl}`);
  let remaining = phases;
  const duckdb = bench.config.sink === 'duckdb';
  const spec = oneTable(TABLE, `bench-apply-r${repetition}`, database);
  try {
    await withStreamingPipeline(
      bench,
      // DuckDB: the empty table is created and committed with the first checkpoint.
      duckdb ? { ...spec, ready: (_sink, pipeline) => Promise.resolve(pipeline.checkpoints > 0) } : spec,
      async (streaming, stateDir) => {
        for (const phase of phases) {
          remaining = remaining.slice(1);
          // The changes the pipeline's checkpoints must have committed once the phase's last one is in (DuckDB).
          let committedAtEnd = Infinity;
          const ok = await bench.record(phase.workload, repetition, () =>
            (phase.catchUp ? measureCatchUp : measureChanges)(bench, streaming, repetition, {
              apply: async () => {
                // A catch-up runs while the pipeline is stopped; the process started after it counts from 0.
                const before = phase.catchUp ? 0 : streaming.pipeline.changesCommitted;
                phase.workload.rows = await phase.apply();
                committedAtEnd = before + phase.workload.rows;
              },
              visible: duckdb
                ? () => Promise.resolve(streaming.pipeline.changesCommitted >= committedAtEnd)
                : () => phase.visible(streaming),
              what: `${phase.workload.label} to be visible`,
              rows: phase.workload.rows,
              verify: duckdb
                ? () => Promise.resolve()
                : async () =>
                    await verifyTarget(streaming.sink, TABLE, NARROW, await mysqlChecksum(mysql, TABLE, NARROW)),
            }),
          );
          if (!ok) {
            bench.fail(
              remaining.map((p) => p.workload),
              repetition,
              `not run: ${phase.workload.label} failed before it`,
            );
            remaining = [];
            return;
          }
        }
        if (duckdb) {
          // Every phase's changes, checked in the file once the pipeline has stopped (its last checkpoint made).
          await streaming.stop();
          try {
            await verifyDuckdbTarget(stateDir, TABLE, NARROW, await mysqlChecksum(mysql, TABLE, NARROW));
          } catch (error) {
            bench.fail(
              phases.map((p) => p.workload),
              repetition,
              error,
            );
          }
        }
      },
    );
  } catch (error) {
    bench.fail(
      remaining.map((p) => p.workload),
      repetition,
      error,
    );
  } finally {
    await mysql.query(`DROP TABLE IF EXISTS ${TABLE}`);
  }
}
