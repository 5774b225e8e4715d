import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { createConnection } from 'mysql2/promise';
import pg from 'pg';
import { startEmbeddedMariadb } from '../src/embedded/embedded-mariadb.js';
import { startEmbeddedPostgres } from '../src/embedded/embedded-postgres.js';
import { embeddedServerPid, serverCpuSeconds } from './measure.js';
import { stringArg, withNatsServer } from './standalone.js';

/**
 * The cost of the log hop (issue 17): the same snapshot of ROWS narrow rows, MariaDB → PostgreSQL, once by one
 * `tributary run` process and once split at a JetStream stream — `run --role capture` (MariaDB → stream) plus
 * one `run --role apply` worker (stream → PostgreSQL), started together. Each is timed from the processes'
 * start until PostgreSQL holds every row; CPU seconds of the Tributary processes and of the PostgreSQL server.
 * The two alternate, REPS times each.
 * Run: `npm run build && npx tsc -p bench/tsconfig.json && node dist/bench/bench/log-hop.js [--rows N] [--reps R]`.
 */

const ROWS = Number(stringArg('rows', '200000'));
const REPS = Number(stringArg('reps', '2'));
const PARTITIONS = 4;
const BIN = new URL('../../../bin/tributary.js', import.meta.url).pathname;

interface Outcome {
  readonly seconds: number;
  readonly cpu: number;
  readonly pgCpu: number;
}

async function main(): Promise<void> {
  const dir = await mkdtemp(join(tmpdir(), 'tributary-bench-log-hop-'));
  const mariadb = await startEmbeddedMariadb({});
  const postgres = await startEmbeddedPostgres();
  const postgresPid = embeddedServerPid('postgres', postgres.dataDir);
  try {
    const source = await createConnection({ uri: mariadb.url, multipleStatements: true });
    await source.query(
      'CREATE DATABASE shop; USE shop; ' +
        'CREATE TABLE items (id BIGINT PRIMARY KEY, k INT NOT NULL, c VARCHAR(60), pad VARCHAR(40), amount DECIMAL(12,2))',
    );
    await source.query(
      `INSERT INTO items SELECT seq, seq % 1000, CONCAT('customer-', seq), REPEAT('x', 30), seq / 100 FROM seq_1_to_${ROWS}`,
    );
    await source.end();
    await withNatsServer(join(dir, 'nats'), async (natsUrl) => {
      console.log(
        `${ROWS.toLocaleString('en-US')} rows of shop.items (5 columns), MariaDB → PostgreSQL; load average before: ${loadavg()[0]!.toFixed(1)}`,
      );
      console.log(
        '| path | run | seconds | rows/s | Tributary CPU-s | CPU µs/row | PostgreSQL CPU-s | load avg (1 min) |',
      );
      console.log(
        '| ---- | --: | ------: | -----: | --------------: | ---------: | ---------------: | ---------------: |',
      );
      for (let rep = 1; rep <= REPS; rep++) {
        for (const path of ['one process', 'capture + 1 apply worker'] as const) {
          const split = path !== 'one process';
          const name = `hop_${split ? 's' : 'p'}${rep}`;
          const database = name;
          const admin = new pg.Client({
            host: postgres.host,
            port: postgres.port,
            user: postgres.user,
            database: 'postgres',
          });
          admin.on('error', () => undefined);
          await admin.connect();
          await admin.query(`CREATE DATABASE ${database}`);
          await admin.end();
          const file = join(dir, `${name}.yaml`);
          await writeFile(
            file,
            `source:
  type: mysql
  hostname: ${mariadb.host}
  port: ${mariadb.port}
  username: ${mariadb.user}
  password: ${mariadb.password}
  tables: shop.items
sink:
  type: postgres
  url: postgres://${postgres.user}@${postgres.host}:${postgres.port}/${database}
${split ? `scale-out:\n  servers: ${natsUrl}\n  stream: ${name}\n  partitions: ${PARTITIONS}\n  lease.ttl: 3s\n` : ''}pipeline:
  name: ${name}
  state.dir: ${join(dir, `state-${name}`)}
`,
          );
          const roles = split
            ? [
                ['--role', 'capture'],
                ['--role', 'apply'],
              ]
            : [[]];
          const outcome = await timed(roles, file, postgres, database, postgresPid);
          console.log(
            `| ${path} | ${rep} | ${outcome.seconds.toFixed(1)} | ${Math.round(ROWS / outcome.seconds).toLocaleString('en-US')} | ${outcome.cpu.toFixed(1)} | ${Math.round((outcome.cpu * 1e6) / ROWS)} | ${outcome.pgCpu.toFixed(1)} | ${loadavg()[0]!.toFixed(1)} |`,
          );
        }
      }
    });
  } finally {
    await postgres.stop();
    await mariadb.stop();
    await rm(dir, { recursive: true, force: true });
  }
}

/** Starts one process per role, waits until PostgreSQL holds every row, reads their CPU, stops them. */
async function timed(
  roles: readonly (readonly string[])[],
  file: string,
  postgres: { host: string; port: number; user: string },
  database: string,
  postgresPid: number | undefined,
): Promise<Outcome> {
  const client = new pg.Client({ host: postgres.host, port: postgres.port, user: postgres.user, database });
  client.on('error', () => undefined);
  await client.connect();
  const pgBefore = (await serverCpuSeconds(postgresPid)) ?? 0;
  const started = performance.now();
  const children: ChildProcess[] = roles.map((role) =>
    spawn(process.execPath, [BIN, 'run', file, ...role, '--no-http', '--log-level', 'warn'], {
      stdio: ['ignore', 'ignore', 'inherit'],
    }),
  );
  try {
    for (;;) {
      const count = await client
        .query<{ n: string }>('SELECT count(*)::text AS n FROM shop.items')
        .then((r) => Number(r.rows[0]?.n ?? 0))
        .catch(() => 0);
      if (count >= ROWS) break;
      if (children.some((c) => c.exitCode !== null)) throw new Error('a pipeline process exited');
      await sleep(50);
    }
    const seconds = (performance.now() - started) / 1000;
    let cpu = 0;
    for (const child of children) cpu += (await serverCpuSeconds(child.pid)) ?? 0;
    const pgCpu = ((await serverCpuSeconds(postgresPid)) ?? 0) - pgBefore;
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

await main();
