/**
 * What the scale-out fence costs a PostgreSQL sink commit: a private server, one sink without a fencing token (one
 * process per pipeline) and one with a token (an apply worker's partition pipeline), each committing small
 * checkpoints (one row upserted into a table, then the checkpoint) in alternating rounds; prints the median and
 * 90th percentile per commit of each. The fence adds no statement (it is a WHERE of the checkpoint's own upsert):
 * this shows what the condition itself costs.
 *   tsc -p bench/probes/tsconfig.json && node dist/probes/bench/probes/fence-commit-probe.js
 */
import { postgresSink } from '../../src/connectors/postgres/postgres-sink.js';
import { dataChange } from '../../src/core/change-event.js';
import type { Sink } from '../../src/core/sink.js';
import { tableId, type TableSchema } from '../../src/core/table-schema.js';
import { startEmbeddedPostgres } from '../../src/embedded/embedded-postgres.js';
import { silentLogger } from '../../src/core/logger.js';

const ROUNDS = 10;
const COMMITS_PER_ROUND = 300;

const table: TableSchema = {
  id: tableId('', 'fence_probe'),
  columns: [
    { name: 'id', type: { kind: 'int64' }, nullable: false },
    { name: 'v', type: { kind: 'int64' }, nullable: true },
  ],
  primaryKey: ['id'],
};

async function main(): Promise<void> {
  const server = await startEmbeddedPostgres();
  const runs = { plain: [] as number[], fenced: [] as number[] };
  const sinks: Record<keyof typeof runs, Sink> = {
    plain: postgresSink({ url: server.url }, { log: silentLogger }),
    fenced: postgresSink({ url: server.url }, { log: silentLogger, fenceToken: 1_796_000_000_000n * 10n ** 20n + 7n }),
  };
  try {
    let id = 0;
    for (const [name, sink] of Object.entries(sinks)) {
      await sink.open(`probe-${name}`);
      await sink.write([
        { kind: 'schema', table: table.id, change: 'createTable', schema: table, source: { tsMs: 0 } },
      ]);
      await sink.commit({
        pipeline: `probe-${name}`,
        id: ++id,
        position: { n: 0 },
        committedAt: new Date().toISOString(),
      });
    }
    for (let round = 0; round < ROUNDS; round++) {
      for (const [name, sink] of Object.entries(sinks) as [keyof typeof runs, Sink][]) {
        for (let i = 0; i < COMMITS_PER_ROUND; i++) {
          const key = BigInt(i % 50);
          await sink.write([dataChange(table.id, 'insert', null, [key, BigInt(id)], { tsMs: 0 })]);
          const started = process.hrtime.bigint();
          await sink.commit({
            pipeline: `probe-${name}`,
            id: ++id,
            position: { n: id },
            committedAt: new Date().toISOString(),
          });
          runs[name].push(Number(process.hrtime.bigint() - started) / 1e6);
        }
      }
    }
    for (const [name, times] of Object.entries(runs)) {
      times.sort((a, b) => a - b);
      const at = (q: number) => times[Math.min(times.length - 1, Math.floor(q * times.length))]!.toFixed(3);
      console.log(`${name}: ${times.length} commits, median ${at(0.5)} ms, p90 ${at(0.9)} ms per commit`);
    }
  } finally {
    for (const sink of Object.values(sinks)) await sink.close();
    await server.stop();
  }
}

await main();
