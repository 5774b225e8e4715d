/**
 * A single large transaction: N rows (1M in the full suite) inserted by one statement, streamed by an
 * `initial` pipeline that was idle before it. Timed from the statement until the last row is visible; the
 * figure that matters is the pipeline process's peak RSS (target: < 512 MB), since the whole transaction
 * arrives as one unit between two commits of the source.
 */
import type { Bench } from '../context.js';
import { measureChanges, oneTable, withStreamingPipeline } from '../streaming.js';
import { mysqlChecksum, NARROW, pgRowHolds, verifyTarget } from '../tables.js';

const TABLE = 'bench.t_bigtx';

export async function bigTransaction(bench: Bench, repetition: number): Promise<void> {
  const n = bench.config.rows;
  const workload = bench.workload({
    id: 'big-transaction',
    group: 'big-transaction',
    label: `Tributary binlog: one ${n.toLocaleString('en-US')}-row transaction`,
    rows: n,
    ours: true,
    description:
      `an idle 'initial' pipeline; one INSERT … SELECT of ${n} rows (a single transaction); from the statement ` +
      'until its last row is visible; peak RSS of the pipeline process',
  });
  await bench.mysql.query(`DROP TABLE IF EXISTS ${TABLE}; CREATE TABLE ${TABLE} ${NARROW.mysqlDdl}`);
  try {
    await withStreamingPipeline(
      bench,
      oneTable(TABLE, `bench-bigtx-r${repetition}`, `bench_bigtx_r${repetition}`),
      async (streaming) => {
        await bench.record(workload, repetition, () =>
          measureChanges(bench, streaming, repetition, {
            apply: async () => void (await bench.mysql.query(`INSERT INTO ${TABLE} SELECT * FROM bench.t`)),
            visible: () => pgRowHolds(streaming.sink, TABLE, n),
            what: `the ${n}-row transaction to be visible`,
            rows: n,
            verify: async () =>
              await verifyTarget(streaming.sink, TABLE, NARROW, await mysqlChecksum(bench.mysql, TABLE, NARROW)),
          }),
        );
      },
    );
  } catch (error) {
    if (workload.runs.length + workload.failures.length < repetition) bench.fail([workload], repetition, error);
  } finally {
    await bench.mysql.query(`DROP TABLE IF EXISTS ${TABLE}`);
  }
}
