import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, renameSync, rmSync, statSync } from 'node:fs';
import { createRequire } from 'node:module';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { compareTextRows } from './iceberg-reader.js';

/**
 * A second independent reader of the iceberg sink's tables: embedded ClickHouse (`chdb` from npm, ClickHouse
 * 26.7 inside), whose `icebergLocal()` applies position and equality deletes. It is about 545 MB installed, so it
 * is not a dependency of the project: it lives in a cache directory outside the repository
 * (`~/.cache/tributary-test/chdb-<version>`, or under `$XDG_CACHE_HOME`), installed there by {@link chdbReader}
 * when `TRIBUTARY_TEST_CHDB=1` (about 40 s) and used whenever it is there. Without it the callers skip their
 * chdb checks and say so.
 *
 * What it cannot read (measured with chdb 3.4.0, see docs/connectors/iceberg.md "What verified it"): ClickHouse
 * applies an equality-delete file only to data files of the same partition spec and partition value, so the
 * global deletes (unpartitioned spec) the sink writes for a table whose partition is not a function of the key
 * are not applied to its partitioned data files. Callers use it on unpartitioned tables and on tables whose
 * deletes are partition-scoped.
 */
export const CHDB_VERSION = '3.4.0';

const cacheRoot = join(process.env['XDG_CACHE_HOME'] ?? join(homedir(), '.cache'), 'tributary-test');
export const chdbDir = join(cacheRoot, `chdb-${CHDB_VERSION}`);

interface ChdbSession {
  query(sql: string, format?: string): string;
  close(): void;
}
interface ChdbModule {
  Session: new (path?: string) => ChdbSession;
}

/** Reads Iceberg tables with chdb; one embedded ClickHouse per test process. */
export interface ChdbReader {
  /**
   * The rows of the table at `location` (its current snapshot, found through `version-hint.text`) as text:
   * `columns` of each row in that order, sorted like the icebird reader's. Values are exact where ClickHouse
   * keeps them: 64-bit integers and decimals (with their scale's trailing zeros) as ClickHouse prints them,
   * timestamps to the microsecond in UTC (`YYYY-MM-DD hh:mm:ss.ffffff`). `expressions` replaces a column by a
   * ClickHouse expression over it (e.g. `hex(b)` for binary columns).
   */
  rowsText(
    location: string,
    columns: readonly string[],
    expressions?: Readonly<Record<string, string>>,
  ): (string | null)[][];
}

let loaded: ChdbReader | string | undefined;

/**
 * The chdb reader, or why there is none (for a skip message). Installs chdb into the cache first when
 * `TRIBUTARY_TEST_CHDB=1` and the cache has none: one test process installs (into a directory renamed into place
 * when complete), the others wait for it.
 */
export function chdbReader(): ChdbReader | string {
  loaded ??= load();
  return loaded;
}

function load(): ChdbReader | string {
  const entry = join(chdbDir, 'node_modules', 'chdb', 'index.js');
  if (!existsSync(entry)) {
    if (process.env['TRIBUTARY_TEST_CHDB'] !== '1') {
      return `chdb ${CHDB_VERSION} is not installed in ${chdbDir}; set TRIBUTARY_TEST_CHDB=1 to install it (~545 MB)`;
    }
    install(entry);
  }
  // Loaded at the first read, and a ClickHouse session per read (about 0.1 s): no engine idles in the test
  // process between reads.
  let chdb: ChdbModule | undefined;
  return {
    rowsText(location, columns, expressions = {}) {
      chdb ??= createRequire(entry)(entry) as ChdbModule;
      const select = columns.map((c) => `${expressions[c] ?? quoteName(c)} AS ${quoteName(c)}`).join(', ');
      const sql =
        `SELECT ${select} FROM icebergLocal(${quoteString(location)}) SETTINGS session_timezone = 'UTC', ` +
        'output_format_json_quote_64bit_integers = 1, output_format_json_quote_decimals = 1, ' +
        'output_format_decimal_trailing_zeros = 1';
      const session = new chdb.Session();
      let text: string;
      try {
        text = inRoot(() => session.query(sql, 'JSONCompactEachRow'));
      } finally {
        session.close();
      }
      const rows = text
        .split('\n')
        .filter((line) => line !== '')
        .map((line) => (JSON.parse(line) as unknown[]).map(render));
      return rows.sort(compareTextRows);
    },
  };
}

/**
 * Installs chdb into the cache. One test process installs, the others (test files start in parallel) wait for
 * it: a lock directory beside the cache's, taken over when its holder left it more than 10 minutes ago.
 */
function install(entry: string): void {
  mkdirSync(cacheRoot, { recursive: true });
  const lock = `${chdbDir}.lock`;
  for (;;) {
    if (existsSync(entry)) return;
    try {
      mkdirSync(lock);
      break;
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
      const age = Date.now() - statSync(lock, { throwIfNoEntry: false })!.mtimeMs;
      if (age > 600_000) rmSync(lock, { recursive: true, force: true });
      else sleepSync(1000);
    }
  }
  try {
    if (existsSync(entry)) return;
    const staging = `${chdbDir}.installing`;
    rmSync(staging, { recursive: true, force: true });
    rmSync(chdbDir, { recursive: true, force: true });
    console.log(`[tributary] installing chdb ${CHDB_VERSION} into ${chdbDir} (TRIBUTARY_TEST_CHDB=1)`);
    execFileSync('npm', ['install', '--prefix', staging, `chdb@${CHDB_VERSION}`, '--no-audit', '--no-fund'], {
      stdio: ['ignore', 'inherit', 'inherit'],
    });
    renameSync(staging, chdbDir);
  } finally {
    rmSync(lock, { recursive: true, force: true });
  }
}

function sleepSync(ms: number): void {
  Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, ms);
}

/**
 * chdb (like `clickhouse local`) reads files only below the working directory (its `user_files_path` is `.`,
 * and no connection argument changes it), so each query runs with `/` as the working directory. The query is
 * synchronous: no other code of this process runs before the directory is restored.
 */
function inRoot<T>(run: () => T): T {
  const cwd = process.cwd();
  process.chdir('/');
  try {
    return run();
  } finally {
    process.chdir(cwd);
  }
}

/** A JSON value of a row as text: strings as they are, numbers and booleans as JavaScript prints them. */
function render(value: unknown): string | null {
  if (value === null) return null;
  if (typeof value === 'string') return value;
  if (typeof value === 'number' || typeof value === 'boolean') return String(value);
  return JSON.stringify(value);
}

const quoteName = (name: string) => `\`${name.replaceAll('\\', '\\\\').replaceAll('`', '\\`')}\``;
const quoteString = (text: string) => `'${text.replaceAll('\\', '\\\\').replaceAll("'", "\\'")}'`;
