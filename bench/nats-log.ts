/**
 * JetStream as a change log, measured: rows/s through the `nats` sink (publish, fenced and pipelined, plus the
 * checkpoint message per commit) and through the `nats` source (consume + decode of debezium-json with its schema
 * part), on a private nats-server with file storage. No database: the events are made in memory, so the figures
 * are the log's own cost. Run: `npm run bench:nats -- [--rows N] [--batch N] [--partitions N]`.
 */
import { spawn } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { connect } from 'nats';
import { natsSink } from '../src/connectors/nats/nats-sink.js';
import { natsSource } from '../src/connectors/nats/nats-source.js';
import { dataChange, type ChangeEvent } from '../src/core/change-event.js';
import { tableId, type TableSchema } from '../src/core/table-schema.js';
import { silentLogger } from '../src/runtime/logger.js';

const arg = (name: string, fallback: number): number => {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 ? Number(process.argv[i + 1]) : fallback;
};
const ROWS = arg('rows', 200_000);
const BATCH = arg('batch', 10_000);
const PARTITIONS = arg('partitions', 1);

const table: TableSchema = {
  id: tableId('shop', 'orders'),
  columns: [
    { name: 'id', type: { kind: 'int64' }, nullable: false },
    { name: 'customer', type: { kind: 'varchar', length: 64 }, nullable: true },
    { name: 'amount', type: { kind: 'decimal', precision: 14, scale: 4 }, nullable: true },
    { name: 'updated', type: { kind: 'timestamp', precision: 6 }, nullable: true },
    { name: 'note', type: { kind: 'string' }, nullable: true },
  ],
  primaryKey: ['id'],
};

async function freePort(): Promise<number> {
  return await new Promise((resolve) => {
    const s = createServer();
    s.listen(0, '127.0.0.1', () => {
      const a = s.address();
      s.close(() => resolve(typeof a === 'object' && a ? a.port : 0));
    });
  });
}

async function main(): Promise<void> {
  const dir = await mkdtemp(join(tmpdir(), 'tributary-bench-nats-'));
  const port = await freePort();
  const url = `nats://127.0.0.1:${port}`;
  const server = spawn('/usr/sbin/nats-server', ['-js', '-a', '127.0.0.1', '-p', String(port), '-sd', dir], {
    stdio: 'ignore',
  });
  try {
    for (let i = 0; ; i++) {
      try {
        await (await connect({ servers: url, maxReconnectAttempts: 0 })).close();
        break;
      } catch {
        if (i > 100) throw new Error('nats-server did not start');
        await sleep(100);
      }
    }
    const sink = natsSink(
      { servers: url, stream: 'bench', partitions: PARTITIONS },
      { log: silentLogger, pipelineName: 'bench' },
    );
    await sink.open('bench');
    const schema: ChangeEvent = {
      kind: 'schema',
      table: table.id,
      change: 'createTable',
      schema: table,
      source: { tsMs: 0 },
    };
    await sink.write([schema]);
    const started = process.hrtime.bigint();
    for (let from = 0; from < ROWS; from += BATCH) {
      const events: ChangeEvent[] = [];
      for (let i = from; i < Math.min(ROWS, from + BATCH); i++) {
        events.push(
          dataChange(
            table.id,
            'insert',
            null,
            [
              BigInt(i),
              `customer-${i % 997}`,
              `${i}.${String(i % 10000).padStart(4, '0')}`,
              '2024-01-01 10:00:00.123456',
              'ünïcödé note',
            ],
            {
              tsMs: Date.now(),
              position: `mysql-bin.000001:${String(i).padStart(12, '0')}:0000000000`,
            },
          ),
        );
      }
      await sink.write(events);
      await sink.commit({
        pipeline: 'bench',
        id: from / BATCH + 1,
        position: { at: from },
        committedAt: new Date().toISOString(),
      });
    }
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
  } finally {
    server.kill('SIGTERM');
    await sleep(200);
    await rm(dir, { recursive: true, force: true });
  }
}

await main();
