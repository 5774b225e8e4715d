/**
 * Which embedded store holds a SQL job's keyed state (issue 12)? The operators' access pattern: random get / set /
 * delete of small JSON values by string key, in batches (one batch of source changes, then a checkpoint). Each
 * candidate gets the same work:
 *
 * 1. load: N keys written in batches of B (one transaction each);
 * 2. mixed: N random operations — 60 % get, 30 % set (new value), 10 % delete-and-reinsert — batches of B.
 *
 * Reports operations/s of each phase, peak RSS and bytes on disk. The operators call the store synchronously
 * (a batch of changes is processed without awaiting), so a store with only an async API (classic-level, DuckDB's
 * node-api) would need the whole batch's keys prefetched first; it is measured too, awaiting each batch.
 *
 * better-sqlite3 is a dependency; lmdb and classic-level are not: install them in a scratch directory and pass
 * it (`npm install lmdb@3 classic-level@3` there). Usage:
 *   npx tsc -p bench/tsconfig.json && node dist/bench/bench/state-stores.js [--keys N] [--batch B]
 *     [--modules /tmp/storebench/node_modules] [--only sqlite,lmdb,level,duckdb]
 */
import { mkdtempSync, readdirSync, rmSync, statSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import type BetterSqlite3 from 'better-sqlite3';
import { seededRandom } from './seeded-random.js';

const args = process.argv.slice(2);
const option = (name: string): string | undefined => {
  const i = args.indexOf(name);
  return i >= 0 ? args[i + 1] : undefined;
};
const KEYS = Number(option('--keys') ?? 1_000_000);
const BATCH = Number(option('--batch') ?? 2_000);
const modules = option('--modules');
const only = option('--only')?.split(',');
const requireFrom = createRequire(modules === undefined ? import.meta.url : join(modules, 'x.js'));

/** The key and value of entry `i` (a group key and a small accumulator row, as the aggregate stores them). */
const keyOf = (i: number) => `n${i}|s12:Customer#${i % 100_000}|`;
const valueOf = (i: number, round: number) =>
  JSON.stringify([[{ b: String(i) }, `Customer#${i}`, 'BUILDING'], 3 + round, [{ b: String(round) }], null]);

interface Store {
  /** One batch of operations, inside one transaction where the store has them. */
  batch(ops: readonly Op[]): void | Promise<void>;
  close(): void | Promise<void>;
}
type Op = { kind: 'get' | 'set' | 'delete'; key: string; value?: string };

let sink = 0;
const use = (value: unknown) => {
  if (value !== undefined && value !== null) sink++;
};

function sqlite(dir: string): Store {
  const Database = requireFrom('better-sqlite3') as typeof BetterSqlite3;
  const db = new Database(join(dir, 'state.sqlite'));
  db.pragma('journal_mode = WAL');
  db.pragma('synchronous = NORMAL');
  db.pragma('cache_size = -65536');
  db.exec('CREATE TABLE state (key TEXT PRIMARY KEY, value TEXT NOT NULL) WITHOUT ROWID');
  const get = db.prepare<[string], { value: string }>('SELECT value FROM state WHERE key = ?');
  const set = db.prepare('INSERT OR REPLACE INTO state (key, value) VALUES (?, ?)');
  const del = db.prepare('DELETE FROM state WHERE key = ?');
  const run = db.transaction((ops: readonly Op[]) => {
    for (const op of ops) {
      if (op.kind === 'get') use(get.get(op.key)?.value);
      else if (op.kind === 'set') set.run(op.key, op.value);
      else del.run(op.key);
    }
  });
  return { batch: (ops) => run(ops), close: () => void db.close() };
}

function lmdb(dir: string): Store {
  const { open } = requireFrom('lmdb') as {
    open: (o: object) => {
      get(k: string): unknown;
      putSync(k: string, v: string): void;
      removeSync(k: string): void;
      transactionSync(f: () => void): void;
      close(): Promise<void>;
    };
  };
  const db = open({ path: join(dir, 'state.lmdb'), encoding: 'string', noSync: true });
  return {
    batch: (ops) =>
      db.transactionSync(() => {
        for (const op of ops) {
          if (op.kind === 'get') use(db.get(op.key));
          else if (op.kind === 'set') db.putSync(op.key, op.value!);
          else db.removeSync(op.key);
        }
      }),
    close: () => db.close(),
  };
}

async function level(dir: string): Promise<Store> {
  const { ClassicLevel } = requireFrom('classic-level') as {
    ClassicLevel: new (path: string) => {
      open(): Promise<void>;
      getMany(keys: string[]): Promise<unknown[]>;
      batch(ops: object[]): Promise<void>;
      close(): Promise<void>;
    };
  };
  const db = new ClassicLevel(join(dir, 'state.level'));
  await db.open();
  return {
    // Async only: the batch's reads are fetched at once, its writes go in one atomic batch.
    batch: async (ops) => {
      (await db.getMany(ops.filter((o) => o.kind === 'get').map((o) => o.key))).forEach(use);
      await db.batch(
        ops
          .filter((o) => o.kind !== 'get')
          .map((o) => (o.kind === 'set' ? { type: 'put', key: o.key, value: o.value } : { type: 'del', key: o.key })),
      );
    },
    close: () => db.close(),
  };
}

async function duckdb(dir: string): Promise<Store> {
  const { DuckDBInstance } = await import('@duckdb/node-api');
  const instance = await DuckDBInstance.create(join(dir, 'state.duckdb'));
  const connection = await instance.connect();
  await connection.run('CREATE TABLE state (key VARCHAR PRIMARY KEY, value VARCHAR)');
  const get = await connection.prepare('SELECT value FROM state WHERE key = $1');
  const set = await connection.prepare('INSERT OR REPLACE INTO state VALUES ($1, $2)');
  const del = await connection.prepare('DELETE FROM state WHERE key = $1');
  return {
    batch: async (ops) => {
      await connection.run('BEGIN');
      for (const op of ops) {
        if (op.kind === 'get') {
          get.bindVarchar(1, op.key);
          use((await get.runAndReadAll()).getRows()[0]);
        } else if (op.kind === 'set') {
          set.bindVarchar(1, op.key);
          set.bindVarchar(2, op.value!);
          await set.run();
        } else {
          del.bindVarchar(1, op.key);
          await del.run();
        }
      }
      await connection.run('COMMIT');
    },
    close: () => connection.closeSync(),
  };
}

const CANDIDATES: Record<string, (dir: string) => Store | Promise<Store>> = { sqlite, lmdb, level, duckdb };

function diskBytes(path: string): number {
  const stat = statSync(path);
  if (!stat.isDirectory()) return stat.size;
  return readdirSync(path).reduce((sum, name) => sum + diskBytes(join(path, name)), 0);
}

const random = seededRandom(7);

async function measure(name: string, open: (dir: string) => Store | Promise<Store>, keys: number): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), `state-bench-${name}-`));
  let peak = 0;
  const sample = setInterval(() => (peak = Math.max(peak, process.memoryUsage().rss)), 50);
  try {
    const store = await open(dir);
    let started = performance.now();
    for (let i = 0; i < keys; i += BATCH) {
      const ops: Op[] = [];
      for (let j = i; j < Math.min(keys, i + BATCH); j++)
        ops.push({ kind: 'set', key: keyOf(j), value: valueOf(j, 0) });
      await store.batch(ops);
    }
    const loadMs = performance.now() - started;
    started = performance.now();
    for (let i = 0; i < keys; i += BATCH) {
      const ops: Op[] = [];
      for (let j = 0; j < BATCH; j++) {
        const roll = random();
        const k = Math.floor(random() * keys);
        if (roll < 0.6) ops.push({ kind: 'get', key: keyOf(k) });
        else if (roll < 0.9) ops.push({ kind: 'set', key: keyOf(k), value: valueOf(k, i) });
        else ops.push({ kind: 'delete', key: keyOf(k) }, { kind: 'set', key: keyOf(k), value: valueOf(k, i) });
      }
      await store.batch(ops);
    }
    const mixedMs = performance.now() - started;
    await store.close();
    peak = Math.max(peak, process.memoryUsage().rss);
    const rate = (ms: number) => Math.round(keys / (ms / 1000)).toLocaleString('en');
    console.log(
      `${name.padEnd(7)} ${keys.toLocaleString('en')} keys: load ${rate(loadMs)} sets/s, mixed ${rate(mixedMs)} ops/s, ` +
        `peak RSS ${Math.round(peak / 1e6)} MB, ${Math.round(diskBytes(dir) / 1e6)} MB on disk`,
    );
  } catch (error) {
    console.log(`${name.padEnd(7)} not measured: ${(error as Error).message.split('\n')[0]}`);
  } finally {
    clearInterval(sample);
    rmSync(dir, { recursive: true, force: true });
  }
}

console.log(`keyed state stores, batches of ${BATCH} operations (node ${process.version}):`);
for (const [name, open] of Object.entries(CANDIDATES)) {
  if (only !== undefined && !only.includes(name)) continue;
  // DuckDB's point lookups cost milliseconds each: a tenth of the keys is enough to see it.
  await measure(name, open, name === 'duckdb' ? Math.min(KEYS, 100_000) : KEYS);
}
if (sink < 0) console.log(sink);
