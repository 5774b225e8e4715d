import { constants } from 'node:fs';
import { access, mkdir, open, stat } from 'node:fs/promises';
import { dirname } from 'node:path';
import { DuckDBInstance, version, type DuckDBConnection } from '@duckdb/node-api';
import { TributaryError } from '../../core/errors.js';
import { classifyDuckdbError, type DuckdbErrorPhase } from './duckdb-errors.js';
import { DUCKDB_IN_MEMORY } from './duckdb-sink-config.js';

/** An open DuckDB database and the sink's one connection to it. */
export interface DuckdbDatabase {
  readonly connection: DuckDBConnection;
  /** `v1.5.6`: the DuckDB library version. */
  readonly version: string;
  /** The catalog name of the database (`current_database()`: the file's base name, or `memory`). */
  readonly catalog: string;
  /** Drops the connection and this sink's reference to the database; the file is released with the last one. */
  close(): void;
}

/**
 * Opens the database at `path` (creating file and directory if missing). Files are opened through the DuckDB
 * Node API's instance cache, so that every user of one file in this process — the sink after a retry, the demo
 * reading what the sink wrote — shares one database instance: DuckDB must not open one file twice in a process.
 * Checks the file system first, so that a missing permission or a foreign file is reported by errno, not by
 * DuckDB's message.
 */
export async function openDuckdbDatabase(
  path: string,
  phase: DuckdbErrorPhase = 'open',
  /** DuckDB's `memory_limit` for the database, in bytes (sink option `memory-limit`); undefined: its default. */
  memoryLimitBytes?: number,
): Promise<DuckdbDatabase> {
  await checkDuckdbPath(path, { create: true });
  let instance: DuckDBInstance;
  try {
    instance =
      path === DUCKDB_IN_MEMORY ? await DuckDBInstance.create(DUCKDB_IN_MEMORY) : await DuckDBInstance.fromCache(path);
  } catch (error) {
    throw classifyDuckdbError(error, { phase, path });
  }
  let connection: DuckDBConnection;
  let catalog: string;
  try {
    connection = await instance.connect();
    catalog = String((await connection.runAndReadAll('SELECT current_database()')).getRows()[0]?.[0]);
    if (memoryLimitBytes !== undefined) {
      await connection.run(`SET memory_limit = '${Math.floor(memoryLimitBytes / 1024)}KiB'`);
    }
  } catch (error) {
    instance.closeSync();
    throw classifyDuckdbError(error, { phase, path });
  }
  return {
    connection,
    catalog,
    version: version(),
    close: () => {
      connection.closeSync();
      instance.closeSync();
    },
  };
}

/**
 * What DuckDB needs of the file system, checked by errno: `path` is a regular file we may read and write, and a
 * DuckDB database (its magic bytes `DUCK` at offset 8), or it is missing and its directory exists (or, with
 * `create`, can be created) and is writable. Returns whether the file exists.
 */
export async function checkDuckdbPath(path: string, options: { create: boolean }): Promise<boolean> {
  if (path === DUCKDB_IN_MEMORY) return false;
  const found = await stat(path).catch((error: unknown) => {
    if (errnoOf(error) === 'ENOENT') return undefined;
    throw fileSystemError(error, path);
  });
  if (found !== undefined) {
    if (!found.isFile()) {
      throw new TributaryError('SINK_UNREACHABLE', `the DuckDB database ${path} is not a file`, {
        hint: 'point sink option `path` at a file (for example ./warehouse.duckdb), not a directory',
        retryable: false,
      });
    }
    await access(path, constants.R_OK | constants.W_OK).catch((error: unknown) => {
      throw fileSystemError(error, path);
    });
    if (found.size > 0 && !(await hasDuckdbMagic(path))) {
      throw new TributaryError('SINK_UNREACHABLE', `${path} exists but is not a DuckDB database file`, {
        hint: 'point sink option `path` at a DuckDB database file, or at a file that does not exist yet',
        retryable: false,
      });
    }
    return true;
  }
  let dir = dirname(path);
  if (options.create) {
    await mkdir(dir, { recursive: true }).catch((error: unknown) => {
      throw fileSystemError(error, dir);
    });
  } else {
    // Without creating anything: the nearest existing ancestor must let us create the rest.
    while ((await stat(dir).catch(() => undefined)) === undefined && dirname(dir) !== dir) dir = dirname(dir);
  }
  await access(dir, constants.W_OK | constants.X_OK).catch((error: unknown) => {
    throw fileSystemError(error, dir);
  });
  return false;
}

async function hasDuckdbMagic(path: string): Promise<boolean> {
  const handle = await open(path, 'r');
  try {
    const bytes = Buffer.alloc(4);
    const { bytesRead } = await handle.read(bytes, 0, 4, 8);
    return bytesRead === 4 && bytes.toString('latin1') === 'DUCK';
  } finally {
    await handle.close();
  }
}

function errnoOf(error: unknown): string | undefined {
  const code = typeof error === 'object' && error !== null ? (error as { code?: unknown }).code : undefined;
  return typeof code === 'string' ? code : undefined;
}

function fileSystemError(error: unknown, path: string): TributaryError {
  const code = errnoOf(error);
  const detail = error instanceof Error ? error.message : String(error);
  if (code === 'EACCES' || code === 'EPERM' || code === 'EROFS') {
    return new TributaryError('SINK_PRIVILEGES_MISSING', `this process may not write ${path} (${code})`, {
      hint: 'give the user running Tributary read and write access to the DuckDB file and its directory, or point sink option `path` at a writable location',
      cause: error,
    });
  }
  return new TributaryError('SINK_UNREACHABLE', `cannot use ${path} for the DuckDB database: ${detail}`, {
    hint: 'check sink option `path`: its directory must exist (or be creatable) and be writable',
    cause: error,
    retryable: code === 'ENOSPC' || code === 'EIO' || code === 'EMFILE' || code === 'ENFILE',
  });
}
