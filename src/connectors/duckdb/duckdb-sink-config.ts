import { resolve } from 'node:path';
import type { OptionSpec, OptionValues } from '../../core/option-spec.js';
import { TributaryError } from '../../core/errors.js';
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
  ...checkpointTableOptions,
  ...commitOptions,
];

export interface DuckdbSinkConfig {
  /** An absolute file path, or {@link DUCKDB_IN_MEMORY}. */
  readonly path: string;
  readonly schema: string;
  readonly checkpointSchema: string;
  readonly checkpointTable: string;
  /** Sink option `commit.max-tables`: distinct tables per transaction, at most. */
  readonly commitMaxTables: number;
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
  };
}
