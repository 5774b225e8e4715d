/** The bench suite's command line: modes, sizes and which workloads run (`--only`). */
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import type { LogLevel } from '../src/index.js';

export const QUICK_ROWS = 200_000;
export const FULL_ROWS = 1_000_000;
export const BIG_ROWS = 10_000_000;
export const TRANSACTION_ROWS = 10_000;
export const POLL_MS = 100;

/** The workload groups, in the order they run; `--only` takes these names (or the aliases below). */
export const GROUPS = [
  'snapshot-narrow',
  'snapshot-wide',
  'snapshot-orders',
  'snapshot-events',
  'snapshot-10m',
  'binlog-decode',
  'binlog-apply',
  'big-transaction',
  'many-tables',
  'latency',
] as const;
export type Group = (typeof GROUPS)[number];

const ALIASES: Record<string, readonly Group[]> = {
  snapshot: ['snapshot-narrow', 'snapshot-wide', 'snapshot-orders', 'snapshot-events'],
  binlog: ['binlog-decode', 'binlog-apply'],
};

export const REFERENCES = ['floor', 'pgloader'] as const;
export type Reference = (typeof REFERENCES)[number];

export const WRITE_MODES = ['upsert', 'merge'] as const;
export type WriteMode = (typeof WRITE_MODES)[number];

/** The sinks Tributary's pipelines can write to in the suite: DuckDB for the binlog-apply workloads only. */
export const SINKS = ['postgres', 'duckdb'] as const;
export type SinkKind = (typeof SINKS)[number];

export interface BenchConfig {
  readonly mode: 'quick' | 'full' | 'custom';
  /** Rows of the narrow and wide snapshot tables, of the binlog workloads and of the single transaction. */
  readonly rows: number;
  /** Rows of the big snapshot (`snapshot-10m`). */
  readonly bigRows: number;
  readonly repetitions: number;
  /** Snapshot chunk sizes tried on the narrow table; `null`: the connector's default, not written in the YAML. */
  readonly chunkSizes: readonly (number | null)[];
  /** Snapshot readers (pipeline.parallelism) tried on the narrow table. */
  readonly readers: readonly number[];
  readonly references: readonly Reference[];
  readonly transactionRows: number;
  readonly pollMs: number;
  readonly manyTables: { readonly tables: number; readonly rowsPerTable: number };
  readonly latency: {
    readonly ratesPerSecond: readonly number[];
    readonly checkpointIntervals: readonly string[];
    readonly seconds: number;
  };
  readonly groups: readonly Group[];
  /** The PostgreSQL sink's `write-mode` for every Tributary pipeline (`--write-mode`; default upsert). */
  readonly writeMode: WriteMode;
  /** The sink of Tributary's pipelines (`--sink`; default postgres). */
  readonly sink: SinkKind;
  /** More sink options for Tributary's pipelines (`--sink-option key=value`, repeatable). */
  readonly sinkOptions: readonly (readonly [string, string])[];
}

export interface Options {
  readonly config: BenchConfig;
  readonly profile: boolean;
  /** `--general-path`: pipelines run with `snapshot.packed-reads: false` (every snapshot row decoded). */
  readonly generalPath: boolean;
  readonly logLevel: LogLevel;
  readonly outDir: string;
  readonly root: string;
  /** Also under load: a note written into the results (`--note`). */
  readonly note: string | undefined;
}

const n = (value: number): string => value.toLocaleString('en-US');

export const USAGE = `npm run bench [-- options]
  --full               the full suite: ${n(FULL_ROWS)} rows, the ${n(BIG_ROWS)}-row snapshot, 30 s per latency run
  --rows N             rows of the snapshot tables and the binlog workloads (default ${n(QUICK_ROWS)}; --full: ${n(FULL_ROWS)})
  --big-rows N         rows of the snapshot-10m workload (default ${n(BIG_ROWS)}; runs with --full or --only snapshot-10m)
  --reps R             repetitions of every measurement (default 3); medians are reported
  --only LIST          some of ${GROUPS.join(', ')};
                       snapshot = snapshot-narrow,snapshot-wide,snapshot-orders,snapshot-events; binlog = binlog-decode,binlog-apply
  --references LIST    snapshot references: floor,pgloader (default both) or none
  --chunk-sizes LIST   snapshot chunk sizes tried on the narrow table (default: the connector's default)
  --readers LIST       snapshot readers (pipeline.parallelism) tried on the narrow table (default 1)
  --tables N           tables of the many-tables workload (default 1000); rows per table: rows / 1000
  --latency-seconds S  how long each latency run writes (default 10; --full: 30)
  --note TEXT          a note for the results (e.g. "taken under load")
  --profile            write a V8 CPU profile of every pipeline process to bench/profiles/
  --general-path       decode every snapshot row (snapshot.packed-reads: false), to compare with the packed path
  --write-mode MODE    the PostgreSQL sink's write-mode in Tributary's pipelines: upsert (default) or merge
  --sink SINK          postgres (default) or duckdb (a DuckDB file; binlog-apply only)
  --sink-option K=V    one more option of the sink block (repeatable), e.g. memory-limit=256mb
  --log-level LEVEL    the pipelines' log level (default warn)
  --out DIR            where results go (default bench/results)`;

/** The repository root: the first parent folder of this file holding Tributary's package.json. */
function findRoot(): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  for (;;) {
    const file = join(dir, 'package.json');
    if (existsSync(file) && (JSON.parse(readFileSync(file, 'utf8')) as { name?: string }).name === 'tributary') {
      return dir;
    }
    const parent = dirname(dir);
    if (parent === dir) return process.cwd();
    dir = parent;
  }
}

function list<T extends string>(text: string, allowed: readonly T[], what: string): T[] {
  const words = text
    .split(',')
    .map((s) => s.trim())
    .filter((s) => s !== '' && s !== 'none');
  for (const word of words) {
    if (!(allowed as readonly string[]).includes(word)) throw new Error(`${what}: unknown ${word}\n${USAGE}`);
  }
  return words as T[];
}

export function parseOptions(argv: string[] = process.argv.slice(2)): Options {
  const { values } = parseArgs({
    args: argv,
    options: {
      rows: { type: 'string' },
      'big-rows': { type: 'string' },
      full: { type: 'boolean', default: false },
      reps: { type: 'string', default: '3' },
      only: { type: 'string' },
      references: { type: 'string', default: REFERENCES.join(',') },
      'chunk-sizes': { type: 'string' },
      readers: { type: 'string', default: '1' },
      tables: { type: 'string', default: '1000' },
      'latency-seconds': { type: 'string' },
      note: { type: 'string' },
      profile: { type: 'boolean', default: false },
      'general-path': { type: 'boolean', default: false },
      'write-mode': { type: 'string', default: 'upsert' },
      sink: { type: 'string', default: 'postgres' },
      'sink-option': { type: 'string', multiple: true, default: [] },
      'log-level': { type: 'string', default: 'warn' },
      out: { type: 'string' },
      help: { type: 'boolean', short: 'h', default: false },
    },
    strict: true,
  });
  if (values.help) {
    console.log(USAGE);
    process.exit(0);
  }
  const positive = (text: string, what: string): number => {
    const value = Number(text.replace(/_/g, ''));
    if (!Number.isInteger(value) || value < 1)
      throw new Error(`${what} must be a positive integer, got ${text}\n${USAGE}`);
    return value;
  };
  const full = values.full;
  const rows = values.rows !== undefined ? positive(values.rows, '--rows') : full ? FULL_ROWS : QUICK_ROWS;
  const groups: Group[] =
    values.only === undefined
      ? GROUPS.filter((g) => full || g !== 'snapshot-10m')
      : values.only.split(',').flatMap((word) => {
          const name = word.trim();
          const alias = ALIASES[name];
          if (alias) return [...alias];
          return list(name, GROUPS, '--only');
        });
  const writeModes = list(values['write-mode'], WRITE_MODES, '--write-mode');
  const writeMode = writeModes[0];
  if (writeModes.length !== 1 || writeMode === undefined) {
    throw new Error(`--write-mode: one of ${WRITE_MODES.join(', ')}\n${USAGE}`);
  }
  const sinks = list(values.sink, SINKS, '--sink');
  const sink = sinks[0];
  if (sinks.length !== 1 || sink === undefined) throw new Error(`--sink: one of ${SINKS.join(', ')}\n${USAGE}`);
  if (sink === 'duckdb' && (writeMode !== 'upsert' || groups.some((g) => g !== 'binlog-apply'))) {
    throw new Error(`--sink duckdb runs with --only binlog-apply and no --write-mode\n${USAGE}`);
  }
  const sinkOptions = values['sink-option'].map((pair): readonly [string, string] => {
    const at = pair.indexOf('=');
    if (at < 1) throw new Error(`--sink-option: key=value, got ${pair}\n${USAGE}`);
    return [pair.slice(0, at), pair.slice(at + 1)];
  });
  const logLevel = values['log-level'];
  if (!['debug', 'info', 'warn', 'error'].includes(logLevel)) throw new Error(`--log-level: unknown ${logLevel}`);
  const root = findRoot();
  const tables = positive(values.tables, '--tables');
  return {
    config: {
      mode: full && values.rows === undefined ? 'full' : !full && values.rows === undefined ? 'quick' : 'custom',
      rows,
      bigRows: values['big-rows'] !== undefined ? positive(values['big-rows'], '--big-rows') : BIG_ROWS,
      repetitions: positive(values.reps, '--reps'),
      chunkSizes:
        values['chunk-sizes'] === undefined
          ? [null]
          : values['chunk-sizes'].split(',').map((s) => positive(s.trim(), '--chunk-sizes')),
      readers: values.readers.split(',').map((s) => positive(s.trim(), '--readers')),
      references: list(values.references, REFERENCES, '--references'),
      transactionRows: TRANSACTION_ROWS,
      pollMs: POLL_MS,
      manyTables: { tables, rowsPerTable: Math.max(1, Math.round(rows / 1000)) },
      latency: {
        ratesPerSecond: [1_000, 10_000],
        checkpointIntervals: ['3s', '1s'],
        seconds:
          values['latency-seconds'] !== undefined
            ? positive(values['latency-seconds'], '--latency-seconds')
            : full
              ? 30
              : 10,
      },
      groups: GROUPS.filter((g) => groups.includes(g)),
      writeMode,
      sink,
      sinkOptions,
    },
    profile: values.profile,
    generalPath: values['general-path'],
    logLevel: logLevel as LogLevel,
    outDir: values.out ?? join(root, 'bench', 'results'),
    root,
    note: values.note,
  };
}
