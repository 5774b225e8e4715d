/**
 * The snapshot's client-side hot path alone (issue 16), for A/B comparisons of CPU per row without a PostgreSQL:
 * chunks of a MariaDB table read by `MysqlSnapshotReader` (text-protocol packets → rows), passed as `read` events
 * through the sink's `ChangeBuffer`, and encoded into the COPY text the upsert writer sends (bytes counted, then
 * dropped). The process prints its own CPU seconds for the loop, per 1M rows; the server's CPU is not in it.
 *
 *   tsc -p bench/probes/tsconfig.json
 *   node dist/probes/bench/probes/snapshot-path-probe.js serve --rows 300000        # prints the server's URL; ^C stops it
 *   node dist/probes/bench/probes/snapshot-path-probe.js run --url mysql://… --table narrow --reps 3 [--chunks N]
 *
 * Tables: narrow, wide, orders, events (bench/tables.ts). Run two builds of the probe (old and new sources) in
 * alternation against the same server, e.g. with a paired timer, and compare their CPU seconds; with `--hash` it
 * prints the SHA-256 of the COPY bytes, which must be the same for both (a fast path writes what the general
 * one wrote).
 *
 * `--packets-only`: the same queries with a decoder that does nothing — mysql2's packet framing and the
 * transactions alone, the floor under any decoding. (Until the packed path was built, `--direct` measured its
 * ceiling with a bench-only packet encoder: commit 28f59a9, bench/README.md "Ceiling of COPY text from the packet
 * bytes".)
 *
 * `--packed`: the pipeline's packed path as built (issue 16): the reader keeps each chunk's rows in the packets'
 * bytes (`TextRowPacker`), the chunk goes through the `ChangeBuffer` as one packed run, and the upsert writer's
 * `writePackedRows` writes the COPY text. Its `--hash` must equal the general path's.
 */
import { createHash } from 'node:crypto';
import { performance } from 'node:perf_hooks';
import { Writable } from 'node:stream';
import mysql from 'mysql2/promise';
import type pg from 'pg';
import type { ChangeEvent, Row, StreamEvent } from '../../src/core/index.js';
import { startEmbeddedMariadb } from '../../src/embedded/embedded-mariadb.js';
import { MysqlChunkSplitter } from '../../src/connectors/mysql/mysql-chunk-splitter.js';
import { readTableSchemas } from '../../src/connectors/mysql/mysql-schema-reader.js';
import { MysqlSnapshotReader } from '../../src/connectors/mysql/mysql-snapshot-reader.js';
import { ChangeBuffer, isRow } from '../../src/connectors/sink-kit/change-buffer.js';
import { isPacked } from '../../src/connectors/source-kit/index.js';
import { copyRows, writePackedRows, writeRowFields } from '../../src/connectors/postgres/postgres-copy-stream.js';
import { EVENTS, NARROW, ORDERS, WIDE, fillTable } from '../tables.js';
import type { Connection as CallbackConnection } from 'mysql2';
import { queryDecodedRows } from '../../src/connectors/mysql/protocol/mysql2-text-query.js';

const CHUNK_SIZE = 8096;

function arg(name: string, fallback: string): string {
  const i = process.argv.indexOf(`--${name}`);
  return i > 0 ? (process.argv[i + 1] ?? fallback) : fallback;
}

async function serve(): Promise<void> {
  const rows = Number(arg('rows', '300000'));
  const server = await startEmbeddedMariadb();
  const conn = await mysql.createConnection({ uri: server.url, multipleStatements: true });
  await conn.query('CREATE DATABASE IF NOT EXISTS bench');
  await conn.query('USE bench'); // the sequence engine's seq_1_to_N tables need a current database
  await fillTable(conn, 'bench.t', NARROW, rows);
  await fillTable(conn, 'bench.w', WIDE, Number(arg('wide-rows', String(rows / 3))));
  await fillTable(conn, 'bench.o', ORDERS, rows);
  await fillTable(conn, 'bench.e', EVENTS, rows);
  await conn.end();
  console.log(server.url);
  const stop = (): void => void server.stop().then(() => process.exit(0));
  process.on('SIGINT', stop);
  process.on('SIGTERM', stop);
}

/** The probe's tables by shape name. */
const TABLES: Record<string, string> = { narrow: 't', wide: 'w', orders: 'o', events: 'e' };

/** Stands in for pg.Client in copyRows: the COPY stream it gets is replaced by one that counts the bytes. */
function discardingClient(count: (bytes: number, chunk: Buffer) => void): pg.Client {
  return {
    query: () =>
      new Writable({
        write(chunk: Buffer, _encoding, callback) {
          count(chunk.length, chunk);
          callback();
        },
      }),
  } as unknown as pg.Client;
}

async function run(): Promise<void> {
  const url = arg('url', '');
  // A name not among the shapes is a table of `bench` made by hand (e.g. one row per edge case of a type).
  const table = TABLES[arg('table', 'narrow')] ?? arg('table', 'narrow');
  const reps = Number(arg('reps', '1'));
  const maxChunks = Number(arg('chunks', 'Infinity'));
  const conn = await mysql.createConnection({ uri: url });
  const schemas = await readTableSchemas(conn, [{ namespace: 'bench', name: table }]);
  const mysqlTable = [...schemas.values()][0]!;
  const packed = process.argv.includes('--packed');
  const reader = new MysqlSnapshotReader(await mysql.createConnection({ uri: url }), 'mariadb', packed);
  await reader.prepare();
  let bytes = 0;
  // --hash: the SHA-256 of the COPY bytes (its CPU is in the figure: compare builds with the same flag).
  const hashing = process.argv.includes('--hash');
  let hash = createHash('sha256');
  const client = discardingClient((n, chunk) => {
    bytes += n;
    if (hashing) hash.update(chunk);
  });
  const schema = mysqlTable.schema;
  // --packets-only: the same queries with a decoder that does nothing.
  const packetsOnly = process.argv.includes('--packets-only');
  if (packetsOnly) {
    const readerConn = (reader as unknown as { conn: { connection: CallbackConnection } }).conn.connection;
    (reader as unknown as { select: (sql: string, values: unknown[]) => Promise<unknown[]> }).select = (sql, values) =>
      queryDecodedRows(readerConn, sql, values, () => null);
  }
  for (let rep = 0; rep < reps; rep++) {
    const cpu = process.cpuUsage();
    const started = performance.now();
    let rows = 0;
    bytes = 0;
    hash = createHash('sha256');
    const buffer = new ChangeBuffer();
    buffer.add([{ kind: 'schema', change: 'createTable', table: schema.id, schema, source: { tsMs: 0 } }]);
    buffer.drain();
    const splitter = new MysqlChunkSplitter(conn, mysqlTable, CHUNK_SIZE, null);
    let chunks = 0;
    for (let range = await splitter.next(); range && chunks < maxChunks; range = await splitter.next(), chunks++) {
      const chunk = await reader.readChunk(range);
      rows += chunk.rows.length;
      if (packetsOnly) continue;
      const events: StreamEvent[] = isPacked(chunk.rows)
        ? [{ kind: 'packed', table: schema.id, rows: chunk.rows, source: { tsMs: 0 } }]
        : chunk.rows.map((after: Row): ChangeEvent => ({
            kind: 'data',
            table: schema.id,
            op: 'read',
            before: null,
            after,
            source: { tsMs: 0 },
          }));
      buffer.add(events);
      for (const step of buffer.drain()) {
        if (step.kind !== 'data') continue;
        await copyRows(client, 'COPY x FROM STDIN', [
          {
            rows: step.changes.uncollapsedReads ?? step.changes.upserts.values(), // as the upsert writer's direct COPY
            append: (out, read) => {
              if (!isRow(read)) return writePackedRows(out, read, schema, 'x');
              writeRowFields(out, read, schema, 'x');
              out.char(0x0a);
            },
          },
        ]);
      }
    }
    const used = process.cpuUsage(cpu);
    const cpuSeconds = (used.user + used.system) / 1e6;
    const seconds = (performance.now() - started) / 1000;
    console.log(
      `${table}: ${rows} rows, ${bytes} COPY bytes, CPU ${cpuSeconds.toFixed(3)} s ` +
        `(${((cpuSeconds * 1e6) / rows).toFixed(2)} CPU-s per 1M rows), wall ${seconds.toFixed(2)} s` +
        (packetsOnly ? ' [packets-only]' : packed ? ' [packed]' : '') +
        (hashing ? `, COPY sha256 ${hash.digest('hex').slice(0, 16)}` : ''),
    );
  }
  await reader.close();
  await conn.end();
}

const mode = process.argv[2];
(mode === 'serve' ? serve() : run()).catch((error: unknown) => {
  console.error(error);
  process.exit(1);
});
