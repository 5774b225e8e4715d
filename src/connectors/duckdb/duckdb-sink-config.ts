import { resolve } from 'node:path';
import type { OptionSpec, OptionValues } from '../../core/option-spec.js';
import { TributaryError } from '../../core/errors.js';
import { parseMemorySize } from '../../core/memory-size.js';
import {
  checkpointTableOf,
  checkpointTableOptions,
  commitMaxTablesOf,
  commitOptions,
  optionText,
} from '../sink-kit/sink-options.js';

/** The path that keeps the database in memory only: for tests and throw-away runs. */
export const DUCKDB_IN_MEMORY = ':memory:';

/** The options of `type: duckdb` sinks. Validation and the connector reference derive from these. */
export const duckdbSinkOptions: readonly OptionSpec[] = [
  {
    key: 'path',
    type: 'string',
    required: true,
    description:
      'The DuckDB database file, e.g. `./warehouse.duckdb`, created with its directory if missing; relative to the ' +
      'working directory. `:memory:` keeps everything in memory (lost when the sink closes; for tests).',
  },
  {
    key: 'schema',
    type: 'string',
    default: 'main',
    description:
      'DuckDB schema for sink tables whose name has no namespace (a route to `orders`). A table that keeps its ' +
      'source namespace (`shop.orders`) goes to the schema of that name, created if missing.',
  },
  {
    key: 'memory-limit',
    type: 'string',
    description:
      "DuckDB's `memory_limit` for the database the sink writes, in Flink's memory-size format (`512 mb`, `2 gb`; " +
      'at least `32 mb`): DuckDB keeps its cache and the work of a commit within it and spills the rest to ' +
      "temporary files. Unset: DuckDB's default, 80 % of the machine's memory, which DuckDB may fill with cached " +
      "pages inside the pipeline's process. A limit applies to the database file, for every user of it in the process.",
  },
  ...checkpointTableOptions,
  ...commitOptions,
];

/** The smallest `memory-limit` taken: below it a commit of ordinary batches runs out of memory. */
const MIN_MEMORY_LIMIT = 32 * 1024 * 1024;

export interface DuckdbSinkConfig {
  /** An absolute file path, or {@link DUCKDB_IN_MEMORY}. */
  readonly path: string;
  readonly schema: string;
  readonly checkpointSchema: string;
  readonly checkpointTable: string;
  /** Sink option `commit.max-tables`: distinct tables per transaction, at most. */
  readonly commitMaxTables: number;
  /** Sink option `memory-limit` in bytes; undefined leaves DuckDB's default. */
  readonly memoryLimitBytes: number | undefined;
}

/** Turns validated option values into a typed config; throws CONFIG_INVALID for an empty `path`. */
export function duckdbSinkConfig(values: OptionValues): DuckdbSinkConfig {
  const text = optionText(values);
  const path = text('path', '');
  if (path === '') {
    throw new TributaryError('CONFIG_INVALID', 'the duckdb sink needs a database file', {
      hint: 'set sink option `path` (for example ./warehouse.duckdb, or :memory: for a throw-away database)',
    });
  }
  return {
    path: path === DUCKDB_IN_MEMORY ? path : resolve(path),
    schema: text('schema', 'main'),
    ...checkpointTableOf(values),
    commitMaxTables: commitMaxTablesOf(values),
    memoryLimitBytes: memoryLimitOf(text('memory-limit', '')),
  };
}

function memoryLimitOf(text: string): number | undefined {
  if (text === '') return undefined;
  const bytes = parseMemorySize(text);
  if (bytes === undefined || bytes < MIN_MEMORY_LIMIT) {
    throw new TributaryError(
      'CONFIG_INVALID',
      `sink option memory-limit: ${JSON.stringify(text)} is not a memory size of at least 32 mb`,
      {
        hint: "write it as Flink writes memory sizes, for example '512 mb' or '2 gb', or leave it out for DuckDB's default",
      },
    );
  }
  return bytes;
}
