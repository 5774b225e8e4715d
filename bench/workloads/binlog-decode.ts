/**
 * Binlog decoding: one range of the source's binlog holding N inserts, N updates and N deletes of the narrow
 * table (3N row changes, 4N row images, written once before the repetitions), read from the server
 *   - by Tributary's binlog client (openBinlogStream: fetch + decode into typed values; bench/decode-child.ts,
 *     timed inside its process from connect to the end of the range), and
 *   - by `mariadb-binlog --read-from-remote-server --verbose > /dev/null` over the same positions (start to exit).
 * Target: Tributary faster than mariadb-binlog --verbose (ratio < 1).
 */
import { fork } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import type { ResultSetHeader } from 'mysql2/promise';
import type { Bench } from '../context.js';
import type { DecodeRequest, DecodeResult } from '../decode-child.js';
import { runExternalPipe, shellQuote } from '../measure.js';
import type { RunRecord } from '../report.js';

const TABLE = 'bench.t_decode';

export interface BinlogRange {
  readonly file: string;
  readonly start: number;
  readonly end: number;
  /** Row changes in the range (an update is one). */
  readonly rows: number;
  readonly megabytes: number;
}

async function masterStatus(bench: Bench): Promise<{ file: string; pos: number }> {
  const [rows] = await bench.mysql.query('SHOW MASTER STATUS');
  const row = (rows as Record<string, unknown>[])[0];
  return { file: String(row?.['File']), pos: Number(row?.['Position']) };
}

/** Writes the range: inserts, updates and deletes of every row, in transactions of 10,000 rows. */
export async function writeBinlogRange(bench: Bench): Promise<BinlogRange> {
  const { mysql } = bench;
  const n = bench.config.rows;
  const tx = bench.config.transactionRows;
  await mysql.query(`DROP TABLE IF EXISTS ${TABLE}; CREATE TABLE ${TABLE} LIKE bench.t; FLUSH BINARY LOGS`);
  const start = await masterStatus(bench);
  let rows = 0;
  const run = async (sql: (lo: number, hi: number) => string): Promise<void> => {
    for (let lo = 1; lo <= n; lo += tx)
      rows += ((await mysql.query(sql(lo, lo + tx - 1)))[0] as ResultSetHeader).affectedRows;
  };
  await run((lo, hi) => `INSERT INTO ${TABLE} SELECT * FROM bench.t WHERE id BETWEEN ${lo} AND ${hi}`);
  await run(
    (lo, hi) => `UPDATE ${TABLE} SET a = a + 1, d = CONCAT('u-', LEFT(d, 62)) WHERE id BETWEEN ${lo} AND ${hi}`,
  );
  await run((lo, hi) => `DELETE FROM ${TABLE} WHERE id BETWEEN ${lo} AND ${hi}`);
  const end = await masterStatus(bench);
  await mysql.query(`DROP TABLE ${TABLE}; FLUSH BINARY LOGS`);
  if (end.file !== start.file) throw new Error(`the range spans two binlog files (${start.file}, ${end.file})`);
  return { file: start.file, start: start.pos, end: end.pos, rows, megabytes: (end.pos - start.pos) / 2 ** 20 };
}

function decodeInChild(request: DecodeRequest): Promise<DecodeResult> {
  const child = fork(fileURLToPath(new URL('../decode-child.js', import.meta.url)), [], {
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
  });
  return new Promise((resolve, reject) => {
    child.once('message', (result: DecodeResult) => resolve(result));
    child.once('error', reject);
    child.once('exit', (code) => reject(new Error(`the decode process exited (code ${code}) without a result`)));
    child.send(request);
  });
}

export async function binlogDecode(bench: Bench, range: BinlogRange, repetition: number): Promise<void> {
  const { mariadb } = bench.servers;
  const what = `${range.rows.toLocaleString('en-US')} row changes (${range.megabytes.toFixed(0)} MiB of binlog)`;
  const reference = bench.workload({
    id: 'mariadb-binlog',
    group: 'binlog-decode',
    label: 'mariadb-binlog --verbose > /dev/null',
    rows: range.rows,
    ours: false,
    description: `${what}: mariadb-binlog --read-from-remote-server --verbose over the range, start to exit`,
  });
  const ours = bench.workload({
    id: 'binlog-decode',
    group: 'binlog-decode',
    label: 'Tributary binlog decode',
    rows: range.rows,
    ours: true,
    references: [reference.id],
    description: `${what}: openBinlogStream over the range in a process of its own, connect to end of range`,
  });
  await bench.record(reference, repetition, async (): Promise<RunRecord> => {
    const args = ['mariadb-binlog', '--read-from-remote-server', `--host=${mariadb.host}`, `--port=${mariadb.port}`];
    args.push(`--user=${mariadb.user}`, '--verbose', `--start-position=${range.start}`);
    args.push(`--stop-position=${range.end}`, range.file);
    const serverCpu = await bench.serverCpuMeter();
    const run = await runExternalPipe(`${args.map(shellQuote).join(' ')} > /dev/null`, {
      ...process.env,
      MYSQL_PWD: mariadb.password,
    });
    return {
      repetition,
      seconds: run.seconds,
      cpuSeconds: run.cpuSeconds,
      maxRssMb: run.maxRssMb,
      serverCpuSeconds: await serverCpu(),
    };
  });
  await bench.record(ours, repetition, async (): Promise<RunRecord> => {
    const serverCpu = await bench.serverCpuMeter();
    const result = await decodeInChild({
      host: mariadb.host,
      port: mariadb.port,
      user: mariadb.user,
      password: mariadb.password,
      serverId: 7000 + repetition,
      file: range.file,
      start: range.start,
      end: range.end,
    });
    if (result.type === 'failed') throw new Error(result.message);
    if (result.rows !== range.rows) throw new Error(`decoded ${result.rows} row changes, not ${range.rows}`);
    const { seconds, cpuSeconds, maxRssMb } = result;
    return { repetition, seconds, cpuSeconds, maxRssMb, serverCpuSeconds: await serverCpu() };
  });
}
