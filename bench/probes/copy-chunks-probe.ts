/**
 * What the savepoint around each snapshot chunk's COPY costs PostgreSQL (issue 16): the sink writes a chunk as
 * `SAVEPOINT; COPY; RELEASE` so that a key already in the target can fall back to the upsert path. This probe
 * loads the same 1M narrow rows in chunks of 8,130 with a commit every 6 chunks (the snapshot's 50,000 events),
 * with and without the savepoint, alternated, into a fresh table each time, and prints the CPU seconds of the
 * backend doing it (from /proc) and the wall time. No Tributary code runs; only a private PostgreSQL.
 *
 *   tsc -p bench/probes/tsconfig.json
 *   node dist/probes/bench/probes/copy-savepoint-probe.js [--rows 1000000] [--pairs 8]
 */
import { readFileSync } from 'node:fs';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { parseArgs } from 'node:util';
import pg from 'pg';
import { from as copyFrom } from 'pg-copy-streams';
import { startEmbeddedPostgres } from '../../src/embedded/embedded-postgres.js';

const { values } = parseArgs({
  options: { rows: { type: 'string', default: '1000000' }, pairs: { type: 'string', default: '8' } },
});
const ROWS = Number(values.rows);
const PAIRS = Number(values.pairs);
const CHUNK = 8_130;
const CHUNKS_PER_COMMIT = 6;

const server = await startEmbeddedPostgres({});
const client = new pg.Client({ connectionString: server.url });
client.on('error', () => undefined); // a dropped connection: the next query reports it
try {
  await client.connect();
  const pid = (await client.query<{ p: number }>('SELECT pg_backend_pid() AS p')).rows[0]!.p;
  const backendCpu = (): number => {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return (Number(fields[11]) + Number(fields[12])) / 100;
  };
  const chunks: Buffer[] = [];
  for (let start = 0; start < ROWS; start += CHUNK) {
    let text = '';
    for (let i = start; i < Math.min(ROWS, start + CHUNK); i++)
      text += `${i}\t${i * 7}\tname-${i}\t${(i % 1000) / 100}\n`;
    chunks.push(Buffer.from(text));
  }
  const load = async (savepoint: boolean, table: string): Promise<{ cpu: number; wall: number }> => {
    await client.query(
      `DROP TABLE IF EXISTS ${table}; CREATE TABLE ${table} (id bigint PRIMARY KEY, a bigint, b varchar(64), c numeric(12,2))`,
    );
    const cpu = backendCpu();
    const started = Date.now();
    await client.query('BEGIN');
    for (const [k, chunk] of chunks.entries()) {
      if (savepoint) await client.query('SAVEPOINT chunk');
      await pipeline(Readable.from([chunk]), client.query(copyFrom(`COPY ${table} FROM STDIN`)));
      if (savepoint) await client.query('RELEASE SAVEPOINT chunk');
      if (k % CHUNKS_PER_COMMIT === CHUNKS_PER_COMMIT - 1) await client.query('COMMIT; BEGIN');
    }
    await client.query('COMMIT');
    const result = { cpu: backendCpu() - cpu, wall: (Date.now() - started) / 1000 };
    await client.query(`DROP TABLE ${table}`);
    return result;
  };
  const runs: Record<'savepoint' | 'plain', { cpu: number; wall: number }[]> = { savepoint: [], plain: [] };
  for (let pair = 0; pair < PAIRS; pair++) {
    runs.savepoint.push(await load(true, `t_sp_${pair}`));
    runs.plain.push(await load(false, `t_plain_${pair}`));
  }
  const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[xs.length >> 1]!;
  for (const [name, list] of Object.entries(runs)) {
    console.log(
      `${name.padEnd(9)} backend CPU s: ${list.map((r) => r.cpu.toFixed(2)).join(' ')} (median ` +
        `${median(list.map((r) => r.cpu)).toFixed(2)}); wall median ${median(list.map((r) => r.wall)).toFixed(2)} s`,
    );
  }
} finally {
  await client.end().catch(() => undefined);
  await server.stop();
}
