/**
 * Binlog reading throughput: fills a table with N rows in one transaction, then times
 *   1. framing  — the raw dump through mysql2 (events received, nothing decoded),
 *   2. decode   — decodeEvent over the captured events (best of 3),
 *   3. stream   — openBinlogStream end to end (fetch + decode + batching),
 *   4. the server's own client: `mariadb-binlog` / `mysqlbinlog --read-from-remote-server --verbose > /dev/null`.
 *
 * Node 20 does not run TypeScript: `npm run bench` compiles bench/*.ts with what they import into dist/bench/, so
 *   npx tsc -p bench/tsconfig.json && node dist/bench/bench/binlog-decode.js mysql://root:secret@127.0.0.1:3306 [rows]
 * The server needs log_bin, binlog_format=ROW and a user with REPLICATION SLAVE; the bench writes to a
 * database named tributary_bench and drops it afterwards.
 */
import { spawnSync } from 'node:child_process';
import { createConnection, type Connection } from 'mysql2';
import { openBinlogStream } from '../src/connectors/mysql/protocol/binlog-client.js';
import { createDecoderContext, decodeEvent } from '../src/connectors/mysql/protocol/binlog-event-decoder.js';
import { startBinlogDump } from '../src/connectors/mysql/protocol/mysql2-binlog-command.js';

const url = new URL(process.argv[2] ?? process.env['TRIBUTARY_BENCH_MYSQL_URL'] ?? 'mysql://root@127.0.0.1:3306');
const rowCount = Number(process.argv[3] ?? 1_000_000);
const server = {
  host: url.hostname,
  port: Number(url.port || 3306),
  user: decodeURIComponent(url.username),
  password: decodeURIComponent(url.password),
};

function connect(): Promise<Connection> {
  return new Promise((resolve, reject) => {
    const connection = createConnection({ ...server, multipleStatements: true });
    connection.connect((error) => (error ? reject(error) : resolve(connection)));
  });
}

function query<T = Record<string, unknown>[]>(connection: Connection, sql: string): Promise<T> {
  return new Promise((resolve, reject) =>
    connection.query(sql, (error, rows) => (error ? reject(error) : resolve(rows as T))),
  );
}

async function binlogEnd(connection: Connection): Promise<{ file: string; pos: number }> {
  const [row] = await query(connection, 'SHOW MASTER STATUS');
  return { file: String(row?.['File']), pos: Number(row?.['Position']) };
}

const admin = await connect();
const [versionRow] = await query(admin, 'SELECT VERSION() AS v');
const version = String(versionRow?.['v']);
const mariadb = /mariadb/i.test(version);
await query(admin, 'DROP DATABASE IF EXISTS tributary_bench; CREATE DATABASE tributary_bench; USE tributary_bench');
await query(
  admin,
  'CREATE TABLE tributary_bench.t (id INT PRIMARY KEY, b BIGINT, s VARCHAR(50), d DECIMAL(12,2), ' +
    'dt DATETIME(6), i INT, f DOUBLE, t TEXT)',
);
await query(admin, 'FLUSH BINARY LOGS');
const start = await binlogEnd(admin);
const source = mariadb
  ? `SELECT seq AS n FROM seq_1_to_${rowCount}`
  : `WITH RECURSIVE s(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM s WHERE n < ${rowCount}) SELECT n FROM s`;
if (!mariadb) await query(admin, `SET SESSION cte_max_recursion_depth = ${rowCount + 1}`);
const filled = performance.now();
await query(
  admin,
  `INSERT INTO tributary_bench.t SELECT n, n * 1000003, CONCAT('name-', n, '-abcdefgh'), n / 7, ` +
    `'2024-01-01 00:00:00' + INTERVAL n SECOND, n % 1000, n / 3, 'short text value' FROM (${source}) AS src`,
);
const fillMs = performance.now() - filled;
const end = await binlogEnd(admin);
await query(admin, 'FLUSH BINARY LOGS');

// 1. framing only
const dump = await connect();
await query(
  dump,
  'SET @master_binlog_checksum = @@GLOBAL.binlog_checksum, @source_binlog_checksum = @@GLOBAL.binlog_checksum, @mariadb_slave_capability = 4',
);
const [checksumRow] = await query(dump, 'SELECT @@GLOBAL.binlog_checksum AS c');
const raw: Buffer[] = [];
let bytes = 0;
const framingStart = performance.now();
await new Promise<void>((resolve, reject) =>
  startBinlogDump(
    dump,
    { serverId: 4_000_001, file: start.file, position: start.pos, flags: 1, register: false, hostname: 'bench' },
    {
      onEvent: (event) => {
        raw.push(Buffer.from(event));
        bytes += event.length;
      },
      onEnd: resolve,
      onError: reject,
    },
  ),
);
const framingMs = performance.now() - framingStart;
dump.destroy();

// 2. decode only
let decodeMs = Infinity;
let decodedRows = 0;
for (let round = 0; round < 3; round++) {
  const ctx = createDecoderContext({
    checksum: String(checksumRow?.['c']).toUpperCase() === 'CRC32' ? 'crc32' : 'none',
  });
  const began = performance.now();
  let rows = 0;
  for (const event of raw) {
    const decoded = decodeEvent(event, ctx);
    if (decoded.kind === 'rows') rows += decoded.rows.length;
  }
  decodeMs = Math.min(decodeMs, performance.now() - began);
  decodedRows = rows;
}

// 3. end to end
const streamStart = performance.now();
const stream = await openBinlogStream({
  ...server,
  serverId: 4_000_002,
  file: start.file,
  position: start.pos,
  stopAtEnd: true,
});
let streamedRows = 0;
for await (const batch of stream) {
  for (const event of batch) if (event.kind === 'rows') streamedRows += event.rows.length;
  if (stream.position.file !== start.file || stream.position.pos >= end.pos) await stream.close();
}
const streamMs = performance.now() - streamStart;

// 4. the server's own client
let toolMs: number | undefined;
for (const tool of mariadb ? ['mariadb-binlog', 'mysqlbinlog'] : ['mysqlbinlog']) {
  const args = ['--read-from-remote-server', `--host=${server.host}`, `--port=${server.port}`, `--user=${server.user}`];
  args.push('--verbose', `--start-position=${start.pos}`, `--stop-position=${end.pos}`, start.file);
  const began = performance.now();
  const result = spawnSync(tool, args, {
    env: { ...process.env, MYSQL_PWD: server.password },
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  if (result.error === undefined && result.status === 0) {
    toolMs = performance.now() - began;
    break;
  }
}

await query(admin, 'DROP DATABASE tributary_bench');
admin.destroy();

const perSecond = (rows: number, ms: number): string => `${Math.round(rows / (ms / 1000)).toLocaleString('en')} rows/s`;
console.log(
  `server ${version}; ${rowCount.toLocaleString('en')} rows of 8 columns (insert took ${Math.round(fillMs)} ms)`,
);
console.log(`binlog: ${raw.length} events, ${(bytes / 1048576).toFixed(1)} MiB`);
console.log(`framing only (mysql2 dump)      ${Math.round(framingMs)} ms  ${perSecond(rowCount, framingMs)}`);
console.log(`decode only (best of 3)         ${Math.round(decodeMs)} ms  ${perSecond(decodedRows, decodeMs)}`);
console.log(`openBinlogStream, end to end    ${Math.round(streamMs)} ms  ${perSecond(streamedRows, streamMs)}`);
if (toolMs !== undefined)
  console.log(`server's binlog client --verbose ${Math.round(toolMs)} ms  ${perSecond(rowCount, toolMs)}`);
