/**
 * What the standalone benches (`bench:nats`, `bench:scale-out`, `bench:kafka`, `bench:iceberg`; not the suite)
 * share: their command-line options, the table they write — shop.orders, 5 columns, made in memory — with its
 * createTable event and generated inserts, and a private nats-server.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { createServer } from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';
import { connect } from 'nats';
import pg from 'pg';
import { dataChange, type ChangeEvent } from '../src/core/change-event.js';
import type { Sink } from '../src/core/sink.js';
import { tableId, type TableSchema } from '../src/core/table-schema.js';
import { serverCpuSeconds } from './measure.js';

/** The value after `--name` on the command line, else `fallback`. */
export const numberArg = (name: string, fallback: number): number => {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 ? Number(process.argv[i + 1]) : fallback;
};

export const stringArg = (name: string, fallback: string): string => {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 ? (process.argv[i + 1] ?? fallback) : fallback;
};

export const ORDERS_TABLE: TableSchema = {
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

export const CREATE_ORDERS: ChangeEvent = {
  kind: 'schema',
  table: ORDERS_TABLE.id,
  change: 'createTable',
  schema: ORDERS_TABLE,
  source: { tsMs: 0 },
};

/**
 * Writes `rows` inserts of shop.orders (ids 0 …, as a MySQL capture positions them) to an open sink that has
 * had {@link CREATE_ORDERS}, committing a checkpoint of `pipeline` after every `batch` of them.
 */
export async function writeOrderInserts(sink: Sink, pipeline: string, rows: number, batch: number): Promise<void> {
  for (let from = 0; from < rows; from += batch) {
    const events: ChangeEvent[] = [];
    for (let i = from; i < Math.min(rows, from + batch); i++) {
      events.push(
        dataChange(
          ORDERS_TABLE.id,
          'insert',
          null,
          [
            BigInt(i),
            `customer-${i % 997}`,
            `${i}.${String(i % 10000).padStart(4, '0')}`,
            '2024-01-01 10:00:00.123456',
            'ünïcödé note',
          ],
          { tsMs: Date.now(), position: `mysql-bin.000001:${String(i).padStart(12, '0')}:0000000000` },
        ),
      );
    }
    await sink.write(events);
    await sink.commit({
      pipeline,
      id: from / batch + 1,
      position: { at: from },
      committedAt: new Date().toISOString(),
    });
  }
}

async function freePort(): Promise<number> {
  return await new Promise((resolve) => {
    const s = createServer();
    s.listen(0, '127.0.0.1', () => {
      const a = s.address();
      s.close(() => resolve(typeof a === 'object' && a ? a.port : 0));
    });
  });
}

/**
 * Runs `work` with a private nats-server (JetStream, its store in `storeDir`) on a free port of 127.0.0.1,
 * given its URL; the server is stopped afterwards, and `storeDir` is left for the caller to remove.
 */
export async function withNatsServer<T>(storeDir: string, work: (url: string) => Promise<T>): Promise<T> {
  const port = await freePort();
  const url = `nats://127.0.0.1:${port}`;
  const server = spawn('/usr/sbin/nats-server', ['-js', '-a', '127.0.0.1', '-p', String(port), '-sd', storeDir], {
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
    return await work(url);
  } finally {
    server.kill('SIGTERM');
    await sleep(200);
  }
}

/** Where a bench's `tributary` processes write: a PostgreSQL server of the bench's own. */
export interface BenchPostgres {
  readonly host: string;
  readonly port: number;
  readonly user: string;
}

/** Creates database `name` on `postgres` (it must not exist yet). */
export async function createPostgresDatabase(postgres: BenchPostgres, name: string): Promise<void> {
  const admin = new pg.Client({ host: postgres.host, port: postgres.port, user: postgres.user, database: 'postgres' });
  admin.on('error', () => undefined);
  await admin.connect();
  try {
    await admin.query(`CREATE DATABASE ${name}`);
  } finally {
    await admin.end();
  }
}

/** Wall seconds and CPU seconds of {@link runUntilRows}. */
export interface RowsRun {
  readonly seconds: number;
  /** CPU seconds of the processes started. */
  readonly cpu: number;
  /** CPU seconds of the PostgreSQL server meanwhile. */
  readonly pgCpu: number;
}

/**
 * Starts one `node <args>` process per entry of `processes` together, waits until `table` of `database` holds
 * `rows` rows, reads the processes' CPU (before they stop) and the PostgreSQL server's, then stops them with
 * SIGTERM. A process that exits before is an error.
 */
export async function runUntilRows(options: {
  readonly processes: readonly (readonly string[])[];
  readonly postgres: BenchPostgres;
  readonly postgresPid: number | undefined;
  readonly database: string;
  readonly table: string;
  readonly rows: number;
}): Promise<RowsRun> {
  const { postgres, database } = options;
  const client = new pg.Client({ host: postgres.host, port: postgres.port, user: postgres.user, database });
  client.on('error', () => undefined);
  await client.connect();
  const pgBefore = (await serverCpuSeconds(options.postgresPid)) ?? 0;
  const started = performance.now();
  const children: ChildProcess[] = options.processes.map((args) =>
    spawn(process.execPath, [...args], { stdio: ['ignore', 'ignore', 'inherit'] }),
  );
  try {
    for (;;) {
      const count = await client
        .query<{ n: string }>(`SELECT count(*)::text AS n FROM ${options.table}`)
        .then((r) => Number(r.rows[0]?.n ?? 0))
        .catch(() => 0);
      if (count >= options.rows) break;
      if (children.some((c) => c.exitCode !== null)) throw new Error('a pipeline process exited');
      await sleep(50);
    }
    const seconds = (performance.now() - started) / 1000;
    let cpu = 0;
    for (const child of children) cpu += (await serverCpuSeconds(child.pid)) ?? 0;
    const pgCpu = ((await serverCpuSeconds(options.postgresPid)) ?? 0) - pgBefore;
    return { seconds, cpu, pgCpu };
  } finally {
    await Promise.all(
      children.map(
        (child) =>
          new Promise<void>((resolve) => {
            if (child.exitCode !== null) return resolve();
            child.once('exit', () => resolve());
            child.kill('SIGTERM');
          }),
      ),
    );
    await client.end();
  }
}
