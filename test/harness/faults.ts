import { createHash, randomInt } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import { createConnection, type Connection } from 'mysql2/promise';
import { composePipeline, type Pipeline } from '../../src/composer/pipeline-composer.js';
import { parsePipelineYaml } from '../../src/config/load-pipeline.js';
import { knownTypes, optionSpecsFor } from '../../src/connectors/registry.js';
import { plural, TributaryError, type Checkpoint } from '../../src/core/index.js';
import { createLogger } from '../../src/runtime/logger.js';
import type { RunResult } from '../../src/runtime/pipeline-runner.js';
import { mysqlRows, textRows } from './compare.js';
import { mysqlUrl as sharedMysqlUrl, tolerateDisconnects } from './databases.js';
import { testTempDir } from './temp-dirs.js';

// ---------------------------------------------------------------------------------------------------------------
// Reproducible randomness and parameters from the environment
// ---------------------------------------------------------------------------------------------------------------

/** A small seeded PRNG (mulberry32): the same seed gives the same sequence of decisions. */
export interface Random {
  readonly seed: number;
  /** A float in [0, 1). */
  next(): number;
  /** An integer in [min, max] (both included). */
  int(min: number, max: number): number;
  /** True with probability `p`. */
  chance(p: number): boolean;
  pick<T>(items: readonly T[]): T;
  /** Picks a key by weight: `{ a: 3, b: 1 }` gives `a` three times as often as `b`. */
  weighted<K extends string>(weights: Readonly<Record<K, number>>): K;
}

export function seededRandom(seed: number): Random {
  let state = seed >>> 0;
  const next = (): number => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
  const int = (min: number, max: number): number => min + Math.floor(next() * (max - min + 1));
  return {
    seed,
    next,
    int,
    chance: (p) => next() < p,
    pick: <T>(items: readonly T[]): T => {
      if (items.length === 0) throw new Error('pick from an empty list');
      return items[int(0, items.length - 1)]!;
    },
    weighted: <K extends string>(weights: Readonly<Record<K, number>>): K => {
      const entries = (Object.entries(weights) as [K, number][]).filter(([, w]) => w > 0);
      const total = entries.reduce((sum, [, w]) => sum + w, 0);
      if (entries.length === 0) throw new Error('weighted: no positive weight');
      let r = next() * total;
      for (const [key, weight] of entries) {
        r -= weight;
        if (r < 0) return key;
      }
      return entries[entries.length - 1]![0];
    },
  };
}

/** The seed named by environment variable `name`, or a fresh random one; print it so a failure can be replayed. */
export function seedFromEnv(name: string): number {
  const text = process.env[name];
  if (text !== undefined && text !== '') {
    const seed = Number(text);
    if (!Number.isInteger(seed) || seed < 0) throw new Error(`${name} must be a non-negative integer, not ${text}`);
    return seed;
  }
  return randomInt(1, 2 ** 31);
}

/** A positive number from environment variable `name`, or `fallback`. */
export function envNumber(name: string, fallback: number): number {
  const text = process.env[name];
  if (text === undefined || text === '') return fallback;
  const value = Number(text);
  if (!Number.isFinite(value) || value < 0) throw new Error(`${name} must be a non-negative number, not ${text}`);
  return value;
}

/** Console output that tests print on purpose (figures, seeds); also written when the test passes. */
export function report(line: string): void {
  console.log(`[faults] ${line}`);
}

// ---------------------------------------------------------------------------------------------------------------
// Pipelines against any MariaDB (the shared one or a private one), with retries allowed
// ---------------------------------------------------------------------------------------------------------------

export interface FaultPipelineOptions {
  readonly name: string;
  /** The `source.tables` patterns. */
  readonly tables: string;
  /** PostgreSQL URL of the sink database (may carry a password: the logger must hide it). */
  readonly sinkUrl: string;
  /** `mysql://user:password@host:port` of the source; default the shared test MariaDB. */
  readonly mysqlUrl?: string;
  readonly chunkSize?: number;
  readonly stateDir?: string;
  readonly checkpointInterval?: string;
  /** Extra lines inside `source:`, each indented by two spaces. */
  readonly sourceYaml?: string;
  /** Consecutive failed attempts before giving up; default: retry forever, as the CLI does. */
  readonly maxRetries?: number;
  /** Extra lines inside `sink:`, each indented by two spaces. */
  readonly sinkYaml?: string;
  /** Extra lines inside `pipeline:`, each indented by two spaces. */
  readonly pipelineYaml?: string;
}

/** The pipeline file a user would write for this source and sink; credentials come from the environment. */
export async function faultPipelineYaml(
  options: FaultPipelineOptions,
): Promise<{ yaml: string; env: Record<string, string>; stateDir: string }> {
  const mysql = new URL(options.mysqlUrl ?? sharedMysqlUrl());
  const stateDir = options.stateDir ?? (await testTempDir('tributary-fault-state'));
  const yaml = `source:
  type: mysql
  hostname: ${mysql.hostname}
  port: ${mysql.port}
  username: ${decodeURIComponent(mysql.username)}
  password: \${FAULT_MYSQL_PASSWORD}
  tables: ${options.tables}
  scan.incremental.snapshot.chunk.size: ${options.chunkSize ?? 500}
${options.sourceYaml ?? ''}
sink:
  type: postgres
  url: \${FAULT_SINK_URL}
${options.sinkYaml ?? ''}
pipeline:
  name: ${options.name}
  checkpoint.interval: ${options.checkpointInterval ?? '300ms'}
  state.dir: ${stateDir}
${options.pipelineYaml ?? ''}
`;
  const env = { FAULT_MYSQL_PASSWORD: decodeURIComponent(mysql.password), FAULT_SINK_URL: options.sinkUrl };
  return { yaml, env, stateDir };
}

export interface FaultPipeline {
  readonly pipeline: Pipeline;
  /** Settles when the pipeline ends; a rejection is the error that stopped it (retries exhausted or not retryable). */
  readonly done: Promise<RunResult>;
  /** Every log line so far (level debug), secrets already replaced by `***`. */
  readonly logs: string[];
  /** Every checkpoint committed so far, in order (across retries). */
  readonly checkpoints: Checkpoint[];
  readonly stateDir: string;
  /** True once `done` has settled. */
  readonly ended: () => boolean;
  /** How it ended (`finished`, `stopped`, or the error's code and message), or undefined while it runs. */
  readonly endedWith: () => string | undefined;
  /** Aborts (final checkpoint) and waits for the end. */
  stop(): Promise<RunResult>;
}

/**
 * Builds the pipeline from YAML as the CLI does and runs it in this process — unlike `startTestPipeline`,
 * with the CLI's retry policy (retryable errors are retried with backoff, without limit, unless `maxRetries`).
 */
export async function startFaultPipeline(options: FaultPipelineOptions): Promise<FaultPipeline> {
  const { yaml, env, stateDir } = await faultPipelineYaml(options);
  const logs: string[] = [];
  const echo = process.env['TRIBUTARY_TEST_DEBUG'] === '1';
  const log = createLogger({
    level: 'debug',
    write: (line) => {
      logs.push(line);
      if (echo) console.log(line);
    },
  });
  const def = parsePipelineYaml(yaml, { file: `${options.name}.yaml`, env, optionSpecsFor, knownTypes });
  const pipeline = composePipeline(def, {
    log,
    ...(options.maxRetries === undefined ? {} : { maxRetries: options.maxRetries }),
  });
  const controller = new AbortController();
  let endedWith: string | undefined;
  const checkpoints: Checkpoint[] = [];
  const done = pipeline.run({ signal: controller.signal, onCheckpoint: (checkpoint) => checkpoints.push(checkpoint) });
  done.then(
    (result) => (endedWith = `${result.outcome} (last checkpoint ${result.lastCheckpoint?.id ?? 'none'})`),
    (error: unknown) => (endedWith = `failed: ${error instanceof TributaryError ? error.format() : String(error)}`),
  );
  return {
    pipeline,
    done,
    logs,
    checkpoints,
    stateDir,
    ended: () => endedWith !== undefined,
    endedWith: () => endedWith,
    stop: async () => {
      controller.abort();
      return await done;
    },
  };
}

// ---------------------------------------------------------------------------------------------------------------
// The `items` tables: rows a writer changes, with a revision that only grows
// ---------------------------------------------------------------------------------------------------------------

/**
 * Every fault test uses tables of this shape. `rev` is a global counter of the writer: each insert or update
 * sets it to a new, larger value, so in commit order the revisions of one key only grow. The sink must never
 * apply a smaller revision of a key after a larger one (see {@link installRevisionAudit}).
 */
export const ITEMS_DDL = `(
  id BIGINT PRIMARY KEY,
  grp INT NOT NULL,
  val VARCHAR(64),
  amount DECIMAL(14,4),
  rev BIGINT NOT NULL,
  updated DATETIME(6)
) ENGINE=InnoDB`;

/** Creates `db.table` (db must exist) and fills it with ids 1..rows at revision 0, using the seq engine. */
export async function createItemsTable(conn: Connection, table: string, rows: number): Promise<void> {
  const db = table.split('.')[0]!;
  await conn.query(`CREATE TABLE ${table} ${ITEMS_DDL}`);
  if (rows <= 0) return;
  await conn.query(
    `INSERT INTO ${table} SELECT seq, seq % 97, CONCAT('row-', seq, '-ü€😀'), seq * 1.0001, 0, ` +
      `TIMESTAMP('2024-01-01') + INTERVAL seq SECOND + INTERVAL seq MICROSECOND FROM ${db}.seq_1_to_${rows}`,
  );
}

/** A MariaDB connection by URL (`multipleStatements` on), for private servers. */
export async function mysqlConnect(url: string): Promise<Connection> {
  return tolerateDisconnects(await createConnection({ uri: url, multipleStatements: true }));
}

/** The rows of an items table on MariaDB as text, in id order (what the target must hold). */
export const SOURCE_ITEMS_SQL = (table: string) =>
  `SELECT CAST(id AS CHAR), CAST(grp AS CHAR), val, CAST(amount AS CHAR), CAST(rev AS CHAR), ` +
  `DATE_FORMAT(updated, '%Y-%m-%d %H:%i:%s.%f') FROM ${table} ORDER BY id`;
const TARGET_ITEMS_SQL = (table: string) =>
  `SELECT id::text AS c1, grp::text AS c2, val AS c3, amount::text AS c4, rev::text AS c5, ` +
  `to_char(updated, 'YYYY-MM-DD HH24:MI:SS.US') AS c6 FROM ${table} ORDER BY id`;

export type SinkQuery = <R extends Record<string, unknown> = Record<string, unknown>>(
  sql: string,
  params?: unknown[],
) => Promise<R[]>;

export interface TableComparison {
  readonly table: string;
  readonly sourceRows: number;
  readonly targetRows: number;
  /** Keys in the source but not in the target. */
  readonly missing: number;
  /** Keys in the target but not in the source. */
  readonly extra: number;
  /** Keys in both whose rows differ. */
  readonly different: number;
  readonly sourceChecksum: string;
  readonly targetChecksum: string;
  /** A few differing rows, for the failure message. */
  readonly samples: string[];
}

export interface Comparison {
  readonly equal: boolean;
  readonly tables: TableComparison[];
  readonly rows: number;
  /** One line per table: rows, checksums and differences. */
  summary(): string;
}

/**
 * Compares every row of each `db.table` (same name in MariaDB and in PostgreSQL) as text, and a sha256 over
 * the rows of each side. A missing target table counts as empty.
 */
export async function compareItems(
  source: Connection,
  sink: SinkQuery,
  tables: readonly string[],
): Promise<Comparison> {
  const results: TableComparison[] = [];
  for (const table of tables) {
    const src = await mysqlRows(source, SOURCE_ITEMS_SQL(table));
    const tgt = await sink(TARGET_ITEMS_SQL(table)).then(textRows, (error: { code?: string }) => {
      if (error.code === '42P01' || error.code === '3F000') return [] as string[][];
      throw error;
    });
    const srcMap = new Map(src.map((r) => [r[0]!, JSON.stringify(r)]));
    const tgtMap = new Map(tgt.map((r) => [r[0]!, JSON.stringify(r)]));
    let missing = 0;
    let different = 0;
    let extra = 0;
    const samples: string[] = [];
    for (const [key, row] of srcMap) {
      const other = tgtMap.get(key);
      if (other === undefined) {
        missing++;
        if (samples.length < 5) samples.push(`missing in target: ${row}`);
      } else if (other !== row) {
        different++;
        if (samples.length < 5) samples.push(`source ${row} ≠ target ${other}`);
      }
    }
    for (const [key, row] of tgtMap) {
      if (!srcMap.has(key)) {
        extra++;
        if (samples.length < 5) samples.push(`extra in target: ${row}`);
      }
    }
    results.push({
      table,
      sourceRows: src.length,
      targetRows: tgt.length,
      missing,
      extra,
      different,
      sourceChecksum: checksum(src),
      targetChecksum: checksum(tgt),
      samples,
    });
  }
  const equal = results.every((r) => r.missing === 0 && r.extra === 0 && r.different === 0);
  return {
    equal,
    tables: results,
    rows: results.reduce((sum, r) => sum + r.sourceRows, 0),
    summary: () =>
      results
        .map(
          (r) =>
            `${r.table}: source ${r.sourceRows} rows sha256 ${r.sourceChecksum.slice(0, 16)}, target ${r.targetRows} rows ` +
            `sha256 ${r.targetChecksum.slice(0, 16)}; missing ${r.missing}, extra ${r.extra}, different ${r.different}` +
            (r.samples.length > 0 ? `\n    ${r.samples.join('\n    ')}` : ''),
        )
        .join('\n'),
  };
}

function checksum(rows: readonly (readonly (string | null)[])[]): string {
  const hash = createHash('sha256');
  for (const row of rows) hash.update(JSON.stringify(row) + '\n');
  return hash.digest('hex');
}

/**
 * Polls until every table compares equal; throws with the last comparison's summary (the differing rows)
 * after `timeoutMs`.
 */
export async function waitForEqual(
  source: Connection,
  sink: SinkQuery,
  tables: readonly string[],
  options: {
    timeoutMs?: number;
    intervalMs?: number;
    message?: string;
    /** Gives up at once when this returns a reason (e.g. the pipeline ended): waiting longer cannot help. */
    stopIf?: () => string | undefined;
  } = {},
): Promise<Comparison> {
  const { timeoutMs = 120_000, intervalMs = 500, message = 'the target to equal the source' } = options;
  const deadline = Date.now() + timeoutMs;
  let last: Comparison | undefined;
  let lastError: unknown;
  for (;;) {
    try {
      last = await compareItems(source, sink, tables);
      if (last.equal) return last;
    } catch (error) {
      lastError = error;
    }
    const detail = last ? `\n${last.summary()}` : lastError instanceof Error ? ` (${lastError.message})` : '';
    const stop = options.stopIf?.();
    if (stop !== undefined) throw new Error(`gave up waiting for ${message}: ${stop}${detail}`);
    if (Date.now() >= deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${message}${detail}`);
    await sleep(intervalMs);
  }
}

// ---------------------------------------------------------------------------------------------------------------
// A writer: inserts, updates (also of the key), deletes, in small transactions, until stopped
// ---------------------------------------------------------------------------------------------------------------

export interface WriterStats {
  /** Committed transactions and the operations in them. */
  transactions: number;
  inserts: number;
  updates: number;
  keyChanges: number;
  deletes: number;
  rangeUpdates: number;
  /** Transactions that failed (connection lost, server restarting); the writer reconnects and goes on. */
  failed: number;
  lastError: string | undefined;
}

export interface Writer {
  readonly stats: WriterStats;
  /** Resolves once `count` more transactions have committed (after this call). */
  committed(count: number, timeoutMs?: number): Promise<void>;
  /** Stops after the transaction in progress; resolves with the final figures. */
  stop(): Promise<WriterStats>;
}

export interface WriterOptions {
  /** Opens a connection (again after a failure). */
  readonly connect: () => Promise<Connection>;
  /** Qualified `db.table` names of items tables. */
  readonly tables: readonly string[];
  readonly random: Random;
  /** The largest id any table holds now: fresh ids for inserts and key changes start above it. */
  readonly maxId: number;
  /** Pause between transactions (default 3 ms), so a 2-core machine keeps room for the pipeline. */
  readonly pauseMs?: number;
  /** Most operations per transaction (default 5). */
  readonly maxOpsPerTransaction?: number;
}

/** Starts a writer that runs until `stop()`; a failed transaction is counted, and the writer reconnects. */
export function startWriter(options: WriterOptions): Writer {
  const { random, tables } = options;
  const pauseMs = options.pauseMs ?? 3;
  const maxOps = options.maxOpsPerTransaction ?? 5;
  const stats: WriterStats = {
    transactions: 0,
    inserts: 0,
    updates: 0,
    keyChanges: 0,
    deletes: 0,
    rangeUpdates: 0,
    failed: 0,
    lastError: undefined,
  };
  let nextId = options.maxId + 1;
  let rev = 0;
  let stopped = false;
  const waiters: { target: number; resolve: () => void }[] = [];
  const existingId = () => random.int(1, nextId - 1);

  const loop = async (): Promise<void> => {
    let conn: Connection | undefined;
    while (!stopped) {
      const tally = { inserts: 0, updates: 0, keyChanges: 0, deletes: 0, rangeUpdates: 0 };
      try {
        conn ??= await options.connect();
        await conn.query('START TRANSACTION');
        const ops = random.int(1, maxOps);
        for (let i = 0; i < ops; i++) {
          const table = random.pick(tables);
          const kind = random.weighted({ insert: 3, update: 4, keyChange: 1, delete: 2, range: 1 });
          const r = ++rev;
          const amount = (random.int(0, 99_999_999) / 10_000).toFixed(4);
          switch (kind) {
            case 'insert':
              await conn.query(`INSERT INTO ${table} VALUES (?, ?, ?, ?, ?, NOW(6))`, [
                nextId++,
                random.int(0, 96),
                `ins-${r}-ü€😀`,
                amount,
                r,
              ]);
              tally.inserts++;
              break;
            case 'update':
              await conn.query(`UPDATE ${table} SET val = ?, amount = ?, rev = ?, updated = NOW(6) WHERE id = ?`, [
                `upd-${r}`,
                amount,
                r,
                existingId(),
              ]);
              tally.updates++;
              break;
            case 'keyChange':
              await conn.query(`UPDATE ${table} SET id = ?, rev = ?, val = ? WHERE id = ?`, [
                nextId++,
                r,
                `moved-${r}`,
                existingId(),
              ]);
              tally.keyChanges++;
              break;
            case 'delete':
              await conn.query(`DELETE FROM ${table} WHERE id = ?`, [existingId()]);
              tally.deletes++;
              break;
            case 'range': {
              const from = existingId();
              await conn.query(`UPDATE ${table} SET grp = grp + 1, rev = ? WHERE id BETWEEN ? AND ?`, [
                r,
                from,
                from + random.int(1, 20),
              ]);
              tally.rangeUpdates++;
              break;
            }
          }
        }
        await conn.query('COMMIT');
        stats.transactions++;
        stats.inserts += tally.inserts;
        stats.updates += tally.updates;
        stats.keyChanges += tally.keyChanges;
        stats.deletes += tally.deletes;
        stats.rangeUpdates += tally.rangeUpdates;
        for (let i = waiters.length - 1; i >= 0; i--) {
          if (stats.transactions >= waiters[i]!.target) waiters.splice(i, 1)[0]!.resolve();
        }
      } catch (error) {
        stats.failed++;
        stats.lastError = error instanceof Error ? error.message : String(error);
        conn?.destroy();
        conn = undefined;
        await sleep(200);
      }
      if (pauseMs > 0) await sleep(pauseMs);
    }
    await conn?.end().catch(() => undefined);
  };
  const running = loop();

  return {
    stats,
    committed: async (count, timeoutMs = 90_000) => {
      const target = stats.transactions + count;
      if (stats.transactions >= target) return;
      let timer: NodeJS.Timeout | undefined;
      await Promise.race([
        new Promise<void>((resolve) => waiters.push({ target, resolve })),
        new Promise<never>((_, reject) => {
          timer = setTimeout(
            () =>
              reject(
                new Error(
                  `the writer committed ${stats.transactions} of ${target} transactions in ${timeoutMs} ms (last error: ${stats.lastError ?? 'none'})`,
                ),
              ),
            timeoutMs,
          );
        }),
      ]).finally(() => clearTimeout(timer));
    },
    stop: async () => {
      stopped = true;
      await running;
      return stats;
    },
  };
}

export function describeWriter(stats: WriterStats): string {
  return (
    `${stats.transactions} transactions committed (${stats.inserts} inserts, ${stats.updates} updates, ` +
    `${stats.keyChanges} primary-key changes, ${stats.deletes} deletes, ${stats.rangeUpdates} range updates), ` +
    `${stats.failed} failed`
  );
}

// ---------------------------------------------------------------------------------------------------------------
// The revision audit: proof in the sink that no stale change was applied after a newer one
// ---------------------------------------------------------------------------------------------------------------

/**
 * Installs in the sink database an event trigger that gives every table the sink creates in schema `schema`
 * two statement-level triggers (after INSERT, after UPDATE, over their transition tables) recording, per
 * (table, id), how often a row image was applied and whether its `rev` ever went backwards. The audit rows
 * are written in the sink's own transaction, so they count committed applies only. One set-based statement
 * per sink statement keeps the cost near that of the sink's own upsert. Requires a superuser.
 */
export async function installRevisionAudit(sink: SinkQuery, schema: string): Promise<void> {
  await sink('CREATE SCHEMA IF NOT EXISTS tributary_audit');
  await sink(`CREATE TABLE IF NOT EXISTS tributary_audit.revs (
    tbl text NOT NULL, id bigint NOT NULL, rev bigint NOT NULL,
    applies bigint NOT NULL DEFAULT 1, same bigint NOT NULL DEFAULT 0, regressions bigint NOT NULL DEFAULT 0,
    last_regression text, PRIMARY KEY (tbl, id))`);
  await sink(`CREATE OR REPLACE FUNCTION tributary_audit.track() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
      INSERT INTO tributary_audit.revs AS r (tbl, id, rev) SELECT TG_TABLE_NAME, id, rev FROM new_rows
      ON CONFLICT (tbl, id) DO UPDATE SET
        applies = r.applies + 1,
        same = r.same + (EXCLUDED.rev = r.rev)::int,
        regressions = r.regressions + (EXCLUDED.rev < r.rev)::int,
        rev = GREATEST(r.rev, EXCLUDED.rev),
        last_regression = CASE WHEN EXCLUDED.rev < r.rev
          THEN format('rev %s applied after rev %s at %s', EXCLUDED.rev, r.rev, clock_timestamp())
          ELSE r.last_regression END;
      RETURN NULL;
    END $$`);
  await sink(`CREATE OR REPLACE FUNCTION tributary_audit.attach() RETURNS event_trigger LANGUAGE plpgsql AS $$
    DECLARE obj record;
    BEGIN
      FOR obj IN SELECT * FROM pg_event_trigger_ddl_commands()
                 WHERE command_tag = 'CREATE TABLE' AND schema_name = ${quoteLiteral(schema)} LOOP
        EXECUTE format('CREATE TRIGGER tributary_audit_insert AFTER INSERT ON %s REFERENCING NEW TABLE AS new_rows '
          'FOR EACH STATEMENT EXECUTE FUNCTION tributary_audit.track()', obj.object_identity);
        EXECUTE format('CREATE TRIGGER tributary_audit_update AFTER UPDATE ON %s REFERENCING NEW TABLE AS new_rows '
          'FOR EACH STATEMENT EXECUTE FUNCTION tributary_audit.track()', obj.object_identity);
      END LOOP;
    END $$`);
  await sink(
    `CREATE EVENT TRIGGER tributary_audit_attach ON ddl_command_end WHEN TAG IN ('CREATE TABLE') EXECUTE FUNCTION tributary_audit.attach()`,
  );
}

export interface RevisionAudit {
  /** Row images applied (inserts and updates that the sink committed). */
  readonly applies: number;
  /** Of those, images whose revision equalled the one already applied (a snapshot row re-read, a replay). */
  readonly sameRevision: number;
  /** Images older than one already applied: a stale change applied after a newer one. Must be 0. */
  readonly regressions: number;
  /** A few regressions, for the failure message. */
  readonly samples: string[];
}

export async function readRevisionAudit(sink: SinkQuery): Promise<RevisionAudit> {
  const [totals] = await sink<{ applies: string | null; same: string | null; regressions: string | null }>(
    'SELECT sum(applies)::text AS applies, sum(same)::text AS same, sum(regressions)::text AS regressions FROM tributary_audit.revs',
  );
  const samples = await sink<{ tbl: string; id: string; last_regression: string }>(
    'SELECT tbl, id::text, last_regression FROM tributary_audit.revs WHERE regressions > 0 ORDER BY tbl, id LIMIT 5',
  );
  return {
    applies: Number(totals?.applies ?? 0),
    sameRevision: Number(totals?.same ?? 0),
    regressions: Number(totals?.regressions ?? 0),
    samples: samples.map((s) => `${s.tbl} id ${s.id}: ${s.last_regression}`),
  };
}

/** `file:pos` (and `+N rows`, `+1 row`) as the source logs a resume position. */
export function formatResumePosition(position: unknown): string {
  const binlog = (position as { binlog?: { file: string; pos: number; skipRows?: number } }).binlog;
  if (binlog === undefined) return '(no binlog position)';
  return `${binlog.file}:${binlog.pos}${binlog.skipRows ? `+${plural(binlog.skipRows, 'row')}` : ''}`;
}

/** The retry lines of the runner: `[CODE] message … — retrying in N s (attempt M)`. */
export interface RetryLine {
  readonly code: string;
  readonly delayS: number;
  readonly attempt: number;
  readonly line: string;
}

export function retryLines(logs: readonly string[]): RetryLine[] {
  const found: RetryLine[] = [];
  for (const line of logs) {
    const match = /\[([A-Z_]+)\][\s\S]*retrying in (\d+) s \(attempt (\d+)\)/.exec(line);
    if (match) found.push({ code: match[1]!, delayS: Number(match[2]), attempt: Number(match[3]), line });
  }
  return found;
}

function quoteLiteral(text: string): string {
  return `'${text.replace(/'/g, "''")}'`;
}

// ---------------------------------------------------------------------------------------------------------------
// The sink's checkpoint row
// ---------------------------------------------------------------------------------------------------------------

export interface SinkCheckpoint {
  readonly id: number;
  readonly position: { snapshot?: unknown; binlog?: { file: string; pos: number; skipRows: number } } & Record<
    string,
    unknown
  >;
  readonly committedAt: string;
}

/** The pipeline's row of `tributary.checkpoints`, or null when there is none (or no table yet). */
export async function sinkCheckpoint(sink: SinkQuery, pipeline: string): Promise<SinkCheckpoint | null> {
  const rows = await sink<{ checkpoint_id: string; position: SinkCheckpoint['position']; committed_at: Date }>(
    'SELECT checkpoint_id::text AS checkpoint_id, position, committed_at FROM tributary.checkpoints WHERE pipeline = $1',
    [pipeline],
  ).catch((error: { code?: string }) => {
    if (error.code === '42P01' || error.code === '3F000') return [];
    throw error;
  });
  const row = rows[0];
  return row
    ? { id: Number(row.checkpoint_id), position: row.position, committedAt: row.committed_at.toISOString() }
    : null;
}
