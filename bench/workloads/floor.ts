/**
 * The floor pipe: `mariadb --batch --quick | psql \copy` into a pre-created table with the same types and
 * primary key as the one Tributary creates — the servers' own clients, no per-row work in JavaScript.
 */
import type { Bench } from '../context.js';
import { runExternalPipe, shellQuote } from '../measure.js';
import type { RunRecord } from '../report.js';
import { verifyTarget } from '../tables.js';
import type { SnapshotData } from './snapshot.js';

export async function floorRun(bench: Bench, data: SnapshotData, repetition: number): Promise<RunRecord> {
  const database = `bench_floor_${data.tag}_r${repetition}`;
  return await bench.withTarget(database, async () => {
    const client = await bench.pgConnect(database);
    try {
      await client.query(`CREATE TABLE public.t ${data.shape.pgDdl}`);
      const { mariadb, postgres } = bench.servers;
      const dump = ['mariadb', '--batch', '--quick', '--skip-column-names', '--default-character-set=utf8mb4'];
      dump.push('-h', mariadb.host, '-P', String(mariadb.port), '-u', mariadb.user);
      dump.push('-e', `SELECT ${data.shape.columns} FROM ${data.table}`);
      const load = ['psql', '-X', '-q', '-v', 'ON_ERROR_STOP=1', '-h', postgres.host, '-p', String(postgres.port)];
      load.push('-U', postgres.user, '-d', database);
      load.push('-c', `\\copy public.t (${data.shape.columns}) from pstdin with (null 'NULL')`);
      const script = `${dump.map(shellQuote).join(' ')} | ${load.map(shellQuote).join(' ')}`;
      await bench.settle();
      const serverCpu = await bench.serverCpuMeter();
      const run = await runExternalPipe(script, { ...process.env, MYSQL_PWD: mariadb.password });
      const serverCpuSeconds = await serverCpu();
      await verifyTarget(client, 'public.t', data.shape, data.checksum);
      return { repetition, seconds: run.seconds, cpuSeconds: run.cpuSeconds, maxRssMb: run.maxRssMb, serverCpuSeconds };
    } finally {
      await client.end();
    }
  });
}
