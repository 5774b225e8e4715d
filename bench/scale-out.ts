/**
 * Scale-out apply throughput: one JetStream stream filled once (ROWS inserts of a 5-column table in PARTITIONS
 * key-hash partitions, written by the `nats` sink as a capture writes them), then applied into a fresh
 * PostgreSQL database by 1, 2 and 3 apply workers (`tributary run --role apply`, separate processes). Per row:
 * wall time from the workers' start until PostgreSQL holds every row, and CPU seconds of the workers and of
 * the PostgreSQL server, so the scaling on machines with more cores can be projected.
 * Run: `npm run build && npm run bench:scale-out -- [--rows N] [--partitions N] [--workers 1,2,3]`.
 */
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { natsSink } from '../src/connectors/nats/nats-sink.js';
import { startEmbeddedPostgres } from '../src/embedded/embedded-postgres.js';
import { silentLogger } from '../src/runtime/logger.js';
import { embeddedServerPid } from './measure.js';
import {
  CREATE_ORDERS,
  createPostgresDatabase,
  runUntilRows,
  stringArg,
  withNatsServer,
  writeOrderInserts,
} from './standalone.js';

const ROWS = Number(stringArg('rows', '60000'));
const PARTITIONS = Number(stringArg('partitions', '6'));
const WORKERS = stringArg('workers', '1,2,3').split(',').map(Number);
const BATCH = 5_000;
const BIN = new URL('../../../bin/tributary.js', import.meta.url).pathname;

/** The stream as a capture would leave it: ROWS inserts, BATCH per checkpoint message. */
async function fill(url: string): Promise<void> {
  const sink = natsSink(
    { servers: url, stream: 'bench', partitions: PARTITIONS },
    { log: silentLogger, pipelineName: 'bench-capture' },
  );
  await sink.open('bench-capture');
  await sink.write([CREATE_ORDERS]);
  await writeOrderInserts(sink, 'bench-capture', ROWS, BATCH);
  await sink.close();
}

async function main(): Promise<void> {
  const dir = await mkdtemp(join(tmpdir(), 'tributary-bench-scale-out-'));
  const postgres = await startEmbeddedPostgres();
  const postgresPid = embeddedServerPid('postgres', postgres.dataDir);
  try {
    await withNatsServer(join(dir, 'nats'), async (url) => {
      await fill(url);
      console.log(
        `${ROWS.toLocaleString('en-US')} inserts of shop.orders (5 columns) in ${PARTITIONS} partitions, debezium-json with schema; load average before: ${loadavg()[0]!.toFixed(1)}`,
      );
      console.log(
        '| workers | seconds | rows/s | worker CPU-s | worker CPU µs/row | PostgreSQL CPU-s | load avg (1 min) |',
      );
      console.log(
        '| ------: | ------: | -----: | -----------: | ----------------: | ---------------: | ---------------: |',
      );
      for (const workers of WORKERS) {
        const database = `bench_scale_${workers}`;
        await createPostgresDatabase(postgres, database);
        const file = join(dir, `apply-${workers}.yaml`);
        await writeFile(
          file,
          `source:
  type: mysql
  hostname: 127.0.0.1
  username: unused
  tables: shop.orders
sink:
  type: postgres
  url: postgres://${postgres.user}@${postgres.host}:${postgres.port}/${database}
scale-out:
  servers: ${url}
  stream: bench
  partitions: ${PARTITIONS}
  lease.ttl: 3s
pipeline:
  name: bench-${workers}
  checkpoint.interval: 1s
  state.dir: ${join(dir, `state-${workers}`)}
`,
        );
        const { seconds, cpu, pgCpu } = await runUntilRows({
          processes: Array.from({ length: workers }, () => [
            BIN,
            'run',
            file,
            '--role',
            'apply',
            '--no-http',
            '--log-level',
            'warn',
          ]),
          postgres,
          postgresPid,
          database,
          table: 'shop.orders',
          rows: ROWS,
        });
        const load = loadavg()[0]!;
        console.log(
          `| ${workers} | ${seconds.toFixed(1)} | ${Math.round(ROWS / seconds).toLocaleString('en-US')} | ${cpu.toFixed(1)} | ${Math.round((cpu * 1e6) / ROWS)} | ${pgCpu.toFixed(1)} | ${load.toFixed(1)} |`,
        );
      }
    });
  } finally {
    await postgres.stop();
    await rm(dir, { recursive: true, force: true });
  }
}

await main();
