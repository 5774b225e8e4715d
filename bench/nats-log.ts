/**
 * JetStream as a change log, measured: rows/s through the `nats` sink (publish, fenced and pipelined, plus the
 * checkpoint message per commit) and through the `nats` source (consume + decode of debezium-json with its schema
 * part), on a private nats-server with file storage. No database: the events are made in memory, so the figures
 * are the log's own cost. Run: `npm run bench:nats -- [--rows N] [--batch N] [--partitions N]`.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { natsSink } from '../src/connectors/nats/nats-sink.js';
import { natsSource } from '../src/connectors/nats/nats-source.js';
import { silentLogger } from '../src/runtime/logger.js';
import { CREATE_ORDERS, numberArg, withNatsServer, writeOrderInserts } from './standalone.js';

const ROWS = numberArg('rows', 200_000);
const BATCH = numberArg('batch', 10_000);
const PARTITIONS = numberArg('partitions', 1);

async function main(): Promise<void> {
  const dir = await mkdtemp(join(tmpdir(), 'tributary-bench-nats-'));
  try {
    await withNatsServer(dir, async (url) => {
      const sink = natsSink(
        { servers: url, stream: 'bench', partitions: PARTITIONS },
        { log: silentLogger, pipelineName: 'bench' },
      );
      await sink.open('bench');
      await sink.write([CREATE_ORDERS]);
      const started = process.hrtime.bigint();
      await writeOrderInserts(sink, 'bench', ROWS, BATCH);
      const publishS = Number(process.hrtime.bigint() - started) / 1e9;
      await sink.close();

      const source = natsSource(
        { servers: url, stream: 'bench' },
        { log: silentLogger, pipelineName: 'bench-read', parallelism: 1, include: [], exclude: [] },
      );
      await source.open(null);
      const readStart = process.hrtime.bigint();
      let rows = 0;
      for await (const batch of source.batches()) {
        rows += batch.events.filter((e) => e.kind === 'data').length;
        if (batch.caughtUp && rows >= ROWS) break;
      }
      const consumeS = Number(process.hrtime.bigint() - readStart) / 1e9;
      await source.close();
      const fmt = (n: number) => Math.round(n).toLocaleString('en-US');
      console.log(
        `nats-server ${url.split(':')[2]}, file storage; ${fmt(ROWS)} rows of shop.orders (5 columns), debezium-json with schema, ${fmt(BATCH)} rows per commit, partitions ${PARTITIONS}`,
      );
      console.log(`publish (nats sink):  ${publishS.toFixed(2)} s, ${fmt(ROWS / publishS)} rows/s`);
      console.log(
        `consume (nats source): ${consumeS.toFixed(2)} s, ${fmt(rows / consumeS)} rows/s (${fmt(rows)} rows decoded)`,
      );
      console.log(`end to end (publish then consume): ${fmt(ROWS / (publishS + consumeS))} rows/s`);
    });
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

await main();
