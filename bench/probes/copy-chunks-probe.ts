/**
 * What PostgreSQL's backend spends on a snapshot's COPYs (issue 16): the same 1M narrow rows (the bench's
 * `narrow` shape, as COPY text) loaded three ways, alternated, each into a fresh table:
 *
 * - `one`: a single COPY in one transaction — what the floor pipe (`psql \copy`) does;
 * - `chunked`: one COPY per chunk of 8,130 rows with a commit every 6 chunks — the snapshot's shape (a chunk
 *   of the narrow table, a checkpoint every 50,000 events);
 * - `savepoint`: as `chunked`, each COPY between `SAVEPOINT` and `RELEASE` — what the sink sends.
 *
 * Rows go out in CopyData messages of ~64 KB, as the sink sends them. It prints the backend's CPU seconds and
 * minor page faults (both from /proc) and the wall time of each run. With `--fresh-backend` every run gets a
 * new connection, hence a new backend process, as a snapshot's sink does: such a process maps the shared
 * buffers page by page as it first touches them. No Tributary code runs; only a private PostgreSQL.
 *
 *   tsc -p bench/probes/tsconfig.json
 *   node dist/probes/bench/probes/copy-chunks-probe.js [--rows 1000000] [--pairs 4] [--chunk 8130]
 *     [--modes one,chunked,savepoint] [--fresh-backend]
 */
import { readFileSync } from 'node:fs';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { parseArgs } from 'node:util';
import pg from 'pg';
import { from as copyFrom } from 'pg-copy-streams';
import { startEmbeddedPostgres } from '../../src/embedded/embedded-postgres.js';

const { values } = parseArgs({
  options: {
    rows: { type: 'string', default: '1000000' },
    pairs: { type: 'string', default: '4' },
    chunk: { type: 'string', default: '8130' },
    modes: { type: 'string', default: 'one,chunked,savepoint' },
    'fresh-backend': { type: 'boolean', default: false },
  },
});
const ROWS = Number(values.rows);
const PAIRS = Number(values.pairs);
const CHUNK = Number(values.chunk);
const CHUNKS_PER_COMMIT = 6;
const MESSAGE_BYTES = 64 * 1024;
const DDL =
  '(id bigint NOT NULL, a integer NOT NULL, b bigint NOT NULL, c numeric(12,2) NOT NULL, d varchar(64) NOT NULL, ' +
  'e varchar(64) NOT NULL, f timestamp(6) NOT NULL, PRIMARY KEY (id))';

type Mode = 'one' | 'chunked' | 'savepoint';
const modes = values.modes.split(',') as Mode[];

/** The narrow shape's row `i` as a COPY line (the values bench/tables.ts generates in MariaDB). */
function line(i: number): string {
  const us = i * 1_000_003;
  const at = new Date(Date.UTC(2024, 0, 1) + Math.floor(us / 1000)).toISOString().slice(0, 19).replace('T', ' ');
  const name = `name-${String(i).padStart(10, '0')}-0123456789abcdef0123456789abcdef`;
  const decimal = (((i * 37) % 10_000_000) / 100).toFixed(2);
  const fraction = String(us % 1_000_000).padStart(6, '0');
  return `${i}\t${((i * 7919) % 2_000_003) - 1_000_000}\t${i * 1_000_003}\t${decimal}\t${name}\t${'0123456789abcdef'.repeat(2)}01234567@example.org\t${at}.${fraction}\n`;
}

/** Each chunk's COPY text, cut into messages of ~64 KB. */
const chunks: Buffer[][] = [];
for (let start = 1; start <= ROWS; start += CHUNK) {
  const messages: Buffer[] = [];
  let text = '';
  for (let i = start; i < Math.min(ROWS + 1, start + CHUNK); i++) {
    text += line(i);
    if (text.length >= MESSAGE_BYTES) {
      messages.push(Buffer.from(text));
      text = '';
    }
  }
  if (text !== '') messages.push(Buffer.from(text));
  chunks.push(messages);
}

const server = await startEmbeddedPostgres({});
let client: pg.Client | undefined;
/** The backend's CPU seconds and minor page faults so far. */
let backendUsage: () => { cpu: number; faults: number } = () => ({ cpu: 0, faults: 0 });

async function connect(): Promise<pg.Client> {
  await client?.end();
  const next = new pg.Client({ connectionString: server.url });
  next.on('error', () => undefined); // a dropped connection: the next query reports it
  await next.connect();
  const pid = (await next.query<{ p: number }>('SELECT pg_backend_pid() AS p')).rows[0]!.p;
  backendUsage = () => {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return { cpu: (Number(fields[11]) + Number(fields[12])) / 100, faults: Number(fields[7]) };
  };
  client = next;
  return next;
}

async function copy(db: pg.Client, table: string, messages: readonly Buffer[]): Promise<void> {
  await pipeline(Readable.from(messages), db.query(copyFrom(`COPY ${table} FROM STDIN`)));
}

async function load(db: pg.Client, mode: Mode, table: string): Promise<void> {
  await db.query('BEGIN');
  if (mode === 'one') await copy(db, table, chunks.flat());
  else {
    for (const [k, chunk] of chunks.entries()) {
      if (mode === 'savepoint') await db.query('SAVEPOINT chunk');
      await copy(db, table, chunk);
      if (mode === 'savepoint') await db.query('RELEASE SAVEPOINT chunk');
      if (k % CHUNKS_PER_COMMIT === CHUNKS_PER_COMMIT - 1) await db.query('COMMIT; BEGIN');
    }
  }
  await db.query('COMMIT');
}

try {
  let db = await connect();
  const runs = new Map<Mode, { cpu: number; faults: number; wall: number }[]>(modes.map((m) => [m, []]));
  for (let pair = 0; pair < PAIRS; pair++) {
    for (const mode of modes) {
      if (values['fresh-backend']) db = await connect();
      const table = `t_${mode}_${pair}`;
      await db.query(`CREATE TABLE ${table} ${DDL}`);
      const before = backendUsage();
      const started = Date.now();
      await load(db, mode, table);
      const after = backendUsage();
      runs.get(mode)!.push({
        cpu: after.cpu - before.cpu,
        faults: after.faults - before.faults,
        wall: (Date.now() - started) / 1000,
      });
      await db.query(`DROP TABLE ${table}`);
      await db.query('CHECKPOINT');
    }
  }
  const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[xs.length >> 1]!;
  for (const [mode, list] of runs) {
    console.log(
      `${mode.padEnd(9)} backend CPU s: ${list.map((r) => r.cpu.toFixed(2)).join(' ')} (median ` +
        `${median(list.map((r) => r.cpu)).toFixed(2)}); minor faults median ${median(list.map((r) => r.faults))}; ` +
        `wall median ${median(list.map((r) => r.wall)).toFixed(2)} s`,
    );
  }
} finally {
  await client?.end().catch(() => undefined);
  await server.stop();
}
