/**
 * How many entries of PostgreSQL's lock table one sink transaction holds per table it touches: a private server,
 * N tables written the way the upsert writer does (CREATE TABLE in the transaction or not; a TEMP staging table;
 * COPY-like inserts and INSERT … ON CONFLICT), then `pg_locks` of the session counted before COMMIT. Prints one
 * line per case; the default of sink option `commit.max-tables` rests on it.
 *   tsc -p bench/probes/tsconfig.json && node dist/probes/bench/probes/locks-per-table-probe.js
 */
import pg from 'pg';
import { startEmbeddedPostgres } from '../../src/embedded/embedded-postgres.js';

const N = 200;

async function main(): Promise<void> {
  const server = await startEmbeddedPostgres();
  const client = new pg.Client({ connectionString: server.url });
  client.on('error', () => undefined);
  await client.connect();
  try {
    const count = async () =>
      Number(
        (
          await client.query<{ n: string }>(
            'SELECT count(*) FILTER (WHERE NOT fastpath) AS n FROM pg_locks WHERE pid = pg_backend_pid()',
          )
        ).rows[0]?.n,
      );
    for (const created of [true, false]) {
      if (!created) {
        for (let i = 0; i < N; i++)
          await client.query(`CREATE TABLE IF NOT EXISTS t${i} (id bigint PRIMARY KEY, v text)`);
      } else {
        for (let i = 0; i < N; i++) await client.query(`DROP TABLE IF EXISTS t${i}`);
      }
      for (const staged of [false, true]) {
        await client.query('BEGIN');
        for (let i = 0; i < N; i++) {
          if (created) await client.query(`CREATE TABLE IF NOT EXISTS t${i} (id bigint PRIMARY KEY, v text)`);
          if (staged) {
            await client.query(`CREATE TEMP TABLE IF NOT EXISTS s${i} (id bigint, v text) ON COMMIT DELETE ROWS`);
            await client.query(`INSERT INTO s${i} VALUES (1, 'a'), (2, 'b')`);
            await client.query(`INSERT INTO t${i} SELECT * FROM s${i} ON CONFLICT (id) DO UPDATE SET v = EXCLUDED.v`);
          } else {
            await client.query(`INSERT INTO t${i} VALUES (1, 'a'), (2, 'b') ON CONFLICT DO NOTHING`);
          }
        }
        const locks = await count();
        console.log(
          `${N} tables, ${created ? 'created in the transaction' : 'existing'}, ${staged ? 'via staging' : 'direct'}: ` +
            `${locks} lock table entries, ${(locks / N).toFixed(1)} per table`,
        );
        await client.query(created ? 'ROLLBACK' : 'COMMIT');
      }
    }
  } finally {
    await client.end();
    await server.stop();
  }
}

await main();
