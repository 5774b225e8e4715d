/**
 * `tributary verify` on one large table versus reading the whole table on both sides (issue 14).
 *
 *   npx tsc -p bench/tsconfig.json && node dist/bench/bench/verify-bench.js [--rows 1000000] [--reps 3]
 *
 * Starts a private MariaDB and PostgreSQL, fills the same table on both (MariaDB's sequence engine,
 * PostgreSQL's generate_series, equal values), then times, each `--reps` times: (1) the pipeline's `verify`
 * (checksums per 10,000-row chunk pushed down to both servers), and (2) the floor of any row-pulling comparison —
 * `SELECT * … ORDER BY id` of both sides at once by the servers' own clients into /dev/null, comparing nothing.
 * Prints a Markdown table and writes it to bench/results/<date>-verify-<rows>rows.md.
 */
import { execFile } from 'node:child_process';
import { mkdir, writeFile } from 'node:fs/promises';
import { hostname } from 'node:os';
import { performance } from 'node:perf_hooks';
import { promisify } from 'node:util';
import { createConnection } from 'mysql2/promise';
import { composePipeline } from '../src/composer/pipeline-composer.js';
import { parsePipelineYaml } from '../src/config/load-pipeline.js';
import { knownTypes, optionSpecsFor } from '../src/connectors/registry.js';
import { silentLogger } from '../src/runtime/logger.js';
import { median, shellQuote } from './measure.js';
import { pgConnect, say, startServers } from './context.js';
import { numberOption } from './number-option.js';

const run = promisify(execFile);
const ROWS = numberOption('--rows', 1_000_000);
const REPS = numberOption('--reps', 3);

const servers = await startServers();
try {
  const { mariadb, postgres } = servers;
  say(`servers up; filling ${ROWS.toLocaleString('en-US')} rows on both sides`);
  const my = await createConnection({ uri: mariadb.url, multipleStatements: true });
  my.on('error', () => undefined);
  await my.query(`CREATE DATABASE vb;
    CREATE TABLE vb.t (id BIGINT PRIMARY KEY, amount DECIMAL(14,2), name VARCHAR(40), ts DATETIME(6));
    INSERT INTO vb.t SELECT seq, seq * 1.25, CONCAT('name-', seq), TIMESTAMP('2024-01-01') + INTERVAL seq SECOND FROM vb.seq_1_to_${ROWS};`);
  await my.end();
  const admin = await pgConnect(servers, 'postgres');
  await admin.query('CREATE DATABASE vb');
  await admin.end();
  const pgc = await pgConnect(servers, 'vb');
  await pgc.query(`CREATE SCHEMA vb;
    CREATE TABLE vb.t (id bigint PRIMARY KEY, amount numeric(14,2), name varchar(40), ts timestamp(6));
    INSERT INTO vb.t SELECT s, s * 1.25, 'name-' || s, timestamp '2024-01-01' + s * interval '1 second' FROM generate_series(1, ${ROWS}) s;
    ANALYZE vb.t;`);
  await pgc.end();

  const yaml = `source:
  type: mysql
  hostname: ${mariadb.host}
  port: ${mariadb.port}
  username: ${mariadb.user}
  password: \${P}
  tables: vb.t
sink:
  type: postgres
  hostname: ${postgres.host}
  port: ${postgres.port}
  username: ${postgres.user}
  database: vb
pipeline:
  name: verify-bench
`;
  const def = parsePipelineYaml(yaml, {
    file: 'verify-bench.yaml',
    env: { P: mariadb.password },
    optionSpecsFor,
    knownTypes,
  });
  const pipeline = composePipeline(def, { log: silentLogger });

  const verifyMs: number[] = [];
  const selectMs: number[] = [];
  for (let rep = 0; rep < REPS; rep++) {
    let started = performance.now();
    const [result] = await pipeline.verify({ chunkSize: 10_000 });
    verifyMs.push(performance.now() - started);
    if (!result || result.differingChunks > 0 || result.sourceRows !== ROWS)
      throw new Error(`verify found a difference: ${JSON.stringify(result)}`);
    say(`verify: ${Math.round(verifyMs[rep]!)} ms (${result.chunks} chunks, equal)`);

    started = performance.now();
    await Promise.all([
      run('sh', [
        '-c',
        `mariadb -h ${mariadb.host} -P ${mariadb.port} -u ${mariadb.user} -p${shellQuote(mariadb.password)} --quick -N -e 'SELECT * FROM vb.t ORDER BY id' > /dev/null`,
      ]),
      run('sh', [
        '-c',
        `psql -h ${postgres.host} -p ${postgres.port} -U ${postgres.user} -d vb -c '\\copy (SELECT * FROM vb.t ORDER BY id) TO STDOUT' > /dev/null`,
      ]),
    ]);
    selectMs.push(performance.now() - started);
    say(`SELECT * of both sides: ${Math.round(selectMs[rep]!)} ms`);
  }
  const v = median(verifyMs);
  const s = median(selectMs);
  const md = `# verify versus a full SELECT of both sides

${new Date().toISOString()} on ${hostname()}, ${ROWS.toLocaleString('en-US')} rows (BIGINT key, DECIMAL, VARCHAR, DATETIME(6)), median of ${REPS}.
Command: \`npx tsc -p bench/tsconfig.json && node dist/bench/bench/verify-bench.js --rows ${ROWS} --reps ${REPS}\`.

| what | ms | rows/s |
| --- | ---: | ---: |
| \`tributary verify\` (10,000-row chunks, checksums on both servers, compared) | ${Math.round(v)} | ${Math.round(ROWS / (v / 1000)).toLocaleString('en-US')} |
| \`SELECT * ORDER BY id\` of both sides at once, by \`mariadb\` and \`psql\`, into /dev/null (no comparison) | ${Math.round(s)} | ${Math.round(ROWS / (s / 1000)).toLocaleString('en-US')} |

verify / SELECT: ${(v / s).toFixed(2)}×. Runs (ms): verify ${verifyMs.map(Math.round).join(', ')}; SELECT ${selectMs.map(Math.round).join(', ')}.
`;
  console.log(md);
  await mkdir('bench/results', { recursive: true });
  await writeFile(`bench/results/${new Date().toISOString().slice(0, 10)}-verify-${ROWS}rows.md`, md);
} finally {
  await servers.mariadb.stop();
  await servers.postgres.stop();
}
