/**
 * The PostgreSQL source (issue 13), against references measured in the same run on the same data:
 *
 * 1. snapshot PostgreSQL → PostgreSQL (`scan.startup.mode: snapshot`, 1 and 2 readers; and `initial`, 2 readers:
 *    the snapshot beside the replication stream, between WAL watermarks) against the floor
 *    `psql -c "\copy (SELECT …) TO STDOUT" | psql -c "\copy … FROM STDIN"`;
 * 2. decoding: N inserted rows read from a slot by the source alone (pgoutput → change events), against
 *    `pg_recvlogical` receiving the same pgoutput stream into /dev/null: in one transaction, and as N one-row
 *    transactions (an OLTP writer's shape: a Begin and a Commit per row);
 * 3. streaming apply: the same N-row transaction, N rows in 1,000-row transactions and N one-row transactions, from
 *    the commit at the source until the sink holds every row.
 *
 * Usage: npx tsc -p bench/tsconfig.json && node dist/bench/bench/postgres-source.js [--rows N] [--reps R]
 *   [--only snapshot,decode,streaming]
 */
import { spawn } from 'node:child_process';
import { performance } from 'node:perf_hooks';
import { mkdtemp, rm } from 'node:fs/promises';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import {
  composePipeline,
  createLogger,
  knownTypes,
  optionSpecsFor,
  parsePipelineYaml,
  parseTableSelectors,
  silentLogger,
} from '../src/index.js';
import type { ChangeBatch } from '../src/core/source.js';
import { postgresSource } from '../src/connectors/postgres-source/postgres-source.js';
import { startEmbeddedPostgres } from '../src/embedded/embedded-postgres.js';
import { findPostgresBinDir } from '../src/embedded/embedded-server.js';
import { numberOption } from './number-option.js';

const ROWS = numberOption('--rows', 200_000);
const REPS = numberOption('--reps', 3);
const onlyAt = process.argv.indexOf('--only');
const ONLY = new Set(onlyAt >= 0 ? process.argv[onlyAt + 1]!.split(',') : ['snapshot', 'decode', 'streaming']);
const rate = (seconds: number) => `${Math.round(ROWS / seconds).toLocaleString('en')} rows/s`;
const median = (values: number[]) => [...values].sort((x, y) => x - y)[Math.floor(values.length / 2)]!;
const say = (line: string) => console.log(line);
const STATE_ROOT = await mkdtemp(join(tmpdir(), 'tributary-bench-pgsrc-'));

const TABLE = `(id bigint PRIMARY KEY, a integer NOT NULL, b bigint, c numeric(12,2), d varchar(64), e text, f timestamptz(6))`;
const FILL_COLUMNS = `g, (g * 7) % 100000, g::bigint * 1000003, (g % 100000) / 100.0, 'name-' || g, repeat(md5(g::text), 2),
     timestamptz '2024-01-01 00:00:00+00' + g * interval '1 second'`;
const FILL = (from: number, to: number) => `SELECT ${FILL_COLUMNS} FROM generate_series(${from}, ${to}) g`;
/** Rows `from`..`to`, each inserted and committed alone (a procedure's COMMIT: no round trip per transaction). */
const ONE_ROW_TRANSACTIONS = (from: number, to: number) =>
  `DO $$ BEGIN FOR g IN ${from}..${to} LOOP INSERT INTO bench.t SELECT ${FILL_COLUMNS}; COMMIT; END LOOP; END $$`;

async function main(): Promise<void> {
  const server = await startEmbeddedPostgres();
  const bin = findPostgresBinDir();
  const admin = new pg.Client({ host: server.host, port: server.port, user: server.user, database: 'postgres' });
  admin.on('error', () => undefined);
  await admin.connect();
  const url = (db: string) => `postgres://${server.user}@${server.host}:${server.port}/${db}`;
  const client = async (db: string) => {
    const c = new pg.Client({ connectionString: url(db) });
    c.on('error', () => undefined);
    await c.connect();
    return c;
  };
  let n = 0;
  const fresh = async (prefix: string) => {
    const name = `${prefix}_${n++}`;
    await admin.query(`CREATE DATABASE ${name}`);
    return name;
  };
  const drop = async (name: string) => admin.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
  const run = (command: string) =>
    new Promise<void>((resolve, reject) => {
      const child = spawn('bash', ['-c', command], { stdio: ['ignore', 'ignore', 'inherit'] });
      child.on('exit', (code) => (code === 0 ? resolve() : reject(new Error(`${command}: exit ${code}`))));
    });
  const psql = join(bin ?? '/usr/bin', 'psql');

  say(
    `PostgreSQL source bench: ${ROWS} rows, ${REPS} repetitions, load ${loadavg()
      .map((l) => l.toFixed(2))
      .join(' ')}`,
  );
  const source = await fresh('bench_src');
  {
    const c = await client(source);
    await c.query(`CREATE SCHEMA bench; CREATE TABLE bench.t ${TABLE}`);
    await c.query(`INSERT INTO bench.t ${FILL(1, ROWS)}`);
    await c.query('VACUUM ANALYZE bench.t');
    await c.end();
  }

  if (ONLY.has('snapshot')) await snapshots();
  if (ONLY.has('decode')) await decoding();
  if (ONLY.has('streaming')) await streaming();
  await admin.end();
  await server.stop();
  await rm(STATE_ROOT, { recursive: true, force: true });

  async function snapshots(): Promise<void> {
    // 1. snapshot
    const results: Record<string, number[]> = { floor: [], snapshot1: [], snapshot2: [], initial2: [] };
    for (let rep = 0; rep < REPS; rep++) {
      const target = await fresh('bench_floor');
      const t = await client(target);
      await t.query(`CREATE SCHEMA bench; CREATE TABLE bench.t ${TABLE}`);
      await t.end();
      let started = performance.now();
      await run(
        `${psql} -X -q "${url(source)}" -c "\\copy (SELECT * FROM bench.t) TO STDOUT" | ${psql} -X -q "${url(target)}" -c "\\copy bench.t FROM STDIN"`,
      );
      results['floor']!.push((performance.now() - started) / 1000);
      await drop(target);
      for (const readers of [1, 2]) {
        const sink = await fresh('bench_sink');
        started = performance.now();
        await runPipeline(source, sink, 'snapshot', readers, url);
        results[`snapshot${readers}`]!.push((performance.now() - started) / 1000);
        await drop(sink);
      }
      // `initial`: slot, stream and the snapshot beside it (watermarks, the source kit's merge), until the sink
      // holds every row.
      const sink = await fresh('bench_init');
      started = performance.now();
      const running = startPipeline(source, sink, 'initial', 2, url);
      const s = await client(sink);
      for (;;) {
        const rows = await s
          .query<{ n: string }>('SELECT count(*)::text AS n FROM bench.t')
          .then((r) => Number(r.rows[0]!.n))
          .catch(() => 0);
        if (rows >= ROWS) break;
        await new Promise((resolve) => setTimeout(resolve, 20));
      }
      results['initial2']!.push((performance.now() - started) / 1000);
      await s.end();
      await running.stop();
      // The walsender may take a moment to let the slot go.
      for (let attempt = 0; ; attempt++) {
        const dropped = await admin
          .query(`SELECT pg_drop_replication_slot('tributary_bench_${sink}')`)
          .then(() => true)
          .catch((error: Error) => {
            if (attempt < 100) return false;
            throw error;
          });
        if (dropped) break;
        await new Promise((resolve) => setTimeout(resolve, 100));
      }
      await drop(sink);
    }
    const floor = median(results['floor']!);
    say(`snapshot floor (psql \\copy | psql \\copy): ${floor.toFixed(2)} s (${rate(floor)})`);
    for (const readers of [1, 2]) {
      const s = median(results[`snapshot${readers}`]!);
      say(
        `snapshot tributary, ${readers} reader(s): ${s.toFixed(2)} s (${rate(s)}), ${(s / floor).toFixed(2)}× the floor`,
      );
    }

    const initial = median(results['initial2']!);
    say(
      `snapshot tributary, initial mode beside the stream, 2 readers: ${initial.toFixed(2)} s (${rate(initial)}), ${(initial / floor).toFixed(2)}× the floor`,
    );
  }

  async function decoding(): Promise<void> {
    // 2. decoding: the source alone against pg_recvlogical
    for (const oneRow of [false, true]) {
      const decode: number[] = [];
      const recv: number[] = [];
      for (let rep = 0; rep < REPS; rep++) {
        const db = await fresh('bench_dec');
        const c = await client(db);
        await c.query(`CREATE SCHEMA bench; CREATE TABLE bench.t ${TABLE}`);
        await c.query(`CREATE PUBLICATION recv_pub FOR TABLE bench.t`);
        await c.query(`SELECT pg_create_logical_replication_slot('recv_slot', 'pgoutput')`);
        const src = postgresSource(
          {
            hostname: server.host,
            port: server.port,
            username: server.user,
            'database-name': db,
            'slot.name': 'bench_slot',
            'publication.name': 'bench_pub',
            'scan.startup.mode': 'latest-offset',
          },
          {
            log: silentLogger,
            pipelineName: 'bench',
            parallelism: 1,
            include: parseTableSelectors('bench.t'),
            exclude: [],
          },
        );
        await src.open(null);
        await c.query(oneRow ? ONE_ROW_TRANSACTIONS(1, ROWS) : `INSERT INTO bench.t ${FILL(1, ROWS)}`);
        const end = (await c.query<{ lsn: string }>('SELECT pg_current_wal_lsn()::text AS lsn')).rows[0]!.lsn;
        let started = performance.now();
        let seen = 0;
        const iterator = src.batches()[Symbol.asyncIterator]();
        while (seen < ROWS) {
          const next: IteratorResult<ChangeBatch> = await iterator.next();
          if (next.done) break;
          seen += next.value.events.filter((e) => e.kind === 'data').length;
          if (process.env['BENCH_TRACE']) say(`  ${((performance.now() - started) / 1000).toFixed(3)} s: ${seen} rows`);
        }
        decode.push((performance.now() - started) / 1000);
        await src.close();
        started = performance.now();
        await run(
          `${join(bin ?? '/usr/bin', 'pg_recvlogical')} -d "${url(db)}" --slot recv_slot --start --endpos ${end} ` +
            `-o proto_version=1 -o publication_names=recv_pub -f /dev/null --no-loop`,
        );
        recv.push((performance.now() - started) / 1000);
        await c.query(`SELECT pg_drop_replication_slot('recv_slot')`);
        await c.query(`SELECT pg_drop_replication_slot('bench_slot')`).catch(() => undefined);
        await c.end();
        await drop(db);
      }
      const shape = oneRow ? 'one-row transactions' : 'one transaction';
      say(`decode, ${shape}, source alone: ${median(decode).toFixed(2)} s (${rate(median(decode))})`);
      say(`decode, ${shape}, pg_recvlogical to /dev/null: ${median(recv).toFixed(2)} s (${rate(median(recv))})`);
    }
  }

  async function streaming(): Promise<void> {
    // 3. streaming apply into PostgreSQL
    for (const txRows of [ROWS, 1000, 1]) {
      const times: number[] = [];
      for (let rep = 0; rep < REPS; rep++) {
        const db = await fresh('bench_st');
        const sink = await fresh('bench_stsink');
        const c = await client(db);
        await c.query(`CREATE SCHEMA bench; CREATE TABLE bench.t ${TABLE}`);
        const pipeline = startPipeline(db, sink, 'initial', 1, url);
        const s = await client(sink);
        await waitUntil(async () => (await s.query(`SELECT to_regclass('bench.t') AS r`)).rows[0]!.r !== null);
        const started = performance.now();
        if (txRows === 1) await c.query(ONE_ROW_TRANSACTIONS(1, ROWS));
        else
          for (let from = 1; from <= ROWS; from += txRows)
            await c.query(`INSERT INTO bench.t ${FILL(from, Math.min(ROWS, from + txRows - 1))}`);
        await waitUntil(async () => Number((await s.query('SELECT count(*) AS n FROM bench.t')).rows[0]!.n) === ROWS);
        times.push((performance.now() - started) / 1000);
        await pipeline.stop();
        await s.end();
        await c.query(
          `SELECT pg_drop_replication_slot(slot_name) FROM pg_replication_slots WHERE database = current_database()`,
        );
        await c.end();
        await drop(db);
        await drop(sink);
      }
      say(
        `streaming apply, ${txRows === ROWS ? 'one transaction' : `${txRows}-row transactions`}: ${median(times).toFixed(2)} s (${rate(median(times))})`,
      );
    }
  }
}

async function waitUntil(condition: () => Promise<boolean>): Promise<void> {
  for (;;) {
    if (await condition().catch(() => false)) return;
    await new Promise((r) => setTimeout(r, 50));
  }
}

function pipelineYaml(
  source: string,
  sink: string,
  mode: string,
  readers: number,
  url: (db: string) => string,
): string {
  const u = new URL(url(source));
  return `source:
  type: postgres
  hostname: ${u.hostname}
  port: ${u.port}
  username: ${u.username}
  database-name: ${source}
  tables: bench.t
  scan.startup.mode: ${mode}
sink:
  type: postgres
  url: ${url(sink)}
pipeline:
  name: bench_${sink}
  parallelism: ${readers}
  state.dir: ${STATE_ROOT}/${sink}
`;
}

function startPipeline(source: string, sink: string, mode: string, readers: number, url: (db: string) => string) {
  const def = parsePipelineYaml(pipelineYaml(source, sink, mode, readers, url), {
    file: 'bench.yaml',
    env: {},
    optionSpecsFor,
    knownTypes,
  });
  const pipeline = composePipeline(def, {
    log: createLogger({
      level: process.env['BENCH_LOG'] === 'debug' ? 'debug' : 'warn',
      write: (line) => console.error(line),
    }),
    maxRetries: 0,
  });
  const controller = new AbortController();
  const done = pipeline.run({ signal: controller.signal });
  return {
    done,
    stop: async () => {
      controller.abort();
      await done;
    },
  };
}

async function runPipeline(
  source: string,
  sink: string,
  mode: string,
  readers: number,
  url: (db: string) => string,
): Promise<void> {
  await startPipeline(source, sink, mode, readers, url).done;
}

await main();
