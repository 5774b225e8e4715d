import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { createConnection } from 'mysql2/promise';
import { startEmbeddedMariadb } from '../src/embedded/embedded-mariadb.js';
import { startEmbeddedPostgres } from '../src/embedded/embedded-postgres.js';
import { embeddedServerPid } from './measure.js';
import { createPostgresDatabase, runUntilRows, stringArg, withNatsServer } from './standalone.js';

/**
 * The cost of the log hop (issue 17): the same snapshot of ROWS narrow rows, MariaDB → PostgreSQL, once by one
 * `tributary run` process and once split at a JetStream stream — `run --role capture` (MariaDB → stream) plus
 * one `run --role apply` worker (stream → PostgreSQL), started together. Each is timed from the processes'
 * start until PostgreSQL holds every row; CPU seconds of the Tributary processes and of the PostgreSQL server.
 * The two alternate, REPS times each.
 * Run: `npm run build && npx tsc -p bench/tsconfig.json && node dist/bench/bench/log-hop.js [--rows N] [--reps R]
 * [--cpu-prof DIR]`.
 */

const ROWS = Number(stringArg('rows', '200000'));
const REPS = Number(stringArg('reps', '2'));
/** Run each Tributary process with `node --cpu-prof`, its profile written into this directory at its exit. */
const PROFILE_DIR = stringArg('cpu-prof', '');
const PARTITIONS = 4;
const BIN = new URL('../../../bin/tributary.js', import.meta.url).pathname;

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
          await createPostgresDatabase(postgres, database);
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
          const outcome = await runUntilRows({
            processes: roles.map((role) => [
              ...(PROFILE_DIR === '' ? [] : ['--cpu-prof', '--cpu-prof-dir', PROFILE_DIR]),
              BIN,
              'run',
              file,
              ...role,
              '--no-http',
              '--log-level',
              'warn',
            ]),
            postgres,
            postgresPid,
            database,
            table: 'shop.items',
            rows: ROWS,
          });
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

await main();
