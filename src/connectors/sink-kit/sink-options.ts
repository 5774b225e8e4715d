import type { OptionSpec, OptionValues } from '../../core/option-spec.js';

/** The options every sink that keeps its checkpoints in a table of its own has (see src/core/sink.ts). */
export const checkpointTableOptions: readonly OptionSpec[] = [
  {
    key: 'checkpoint.schema',
    type: 'string',
    default: 'tributary',
    description: 'Schema of the checkpoint table, created if missing.',
  },
  {
    key: 'checkpoint.table',
    type: 'string',
    default: 'checkpoints',
    description:
      'Table that holds one row per pipeline: the source position whose effects are in the sink. It is written ' +
      'in the same transaction as the data.',
  },
];

/**
 * The default of `commit.max-tables`. PostgreSQL's lock table holds max_locks_per_transaction (64) ×
 * max_connections (100) = 6,400 entries by default, shared by every session. Measured per table a transaction
 * touches (bench/probes/locks-per-table-probe.ts): about 1 for an existing table written directly, 9 for one
 * written through a staging table, 9 for one created in the transaction, 17 for one created and staged. 100
 * tables need 900 entries in the usual case (tables created in one commit, written in later ones) and 1,700 at
 * worst: well under the default lock table, leaving the rest to other sessions.
 */
export const DEFAULT_COMMIT_MAX_TABLES = 100;

/** The options every transactional sink has: how big one of its transactions may get. */
export const commitOptions: readonly OptionSpec[] = [
  {
    key: 'commit.max-tables',
    type: 'integer',
    min: 1,
    default: DEFAULT_COMMIT_MAX_TABLES,
    description:
      'The most distinct tables one sink transaction may touch: the pipeline commits a checkpoint before a ' +
      'transaction would touch more (during a snapshot of many small tables, every this many tables), so that a ' +
      "commit never needs more locks, staging tables or memory than the sink has. Lower it when the sink's " +
      'transactions fail for lack of a resource (SINK_OUT_OF_RESOURCES).',
  },
];

/** `commit.max-tables` from {@link commitOptions}. */
export function commitMaxTablesOf(values: OptionValues): number {
  const value = values['commit.max-tables'];
  return typeof value === 'number' && value >= 1 ? Math.floor(value) : DEFAULT_COMMIT_MAX_TABLES;
}

/** Reads text options: a missing or empty value is `fallback`. */
export function optionText(values: OptionValues): (key: string, fallback: string) => string {
  return (key, fallback) => {
    const value = values[key];
    return value === undefined || value === '' ? fallback : String(value);
  };
}

/** Where the checkpoint table lives, from {@link checkpointTableOptions}. */
export function checkpointTableOf(values: OptionValues): { checkpointSchema: string; checkpointTable: string } {
  const text = optionText(values);
  return {
    checkpointSchema: text('checkpoint.schema', 'tributary'),
    checkpointTable: text('checkpoint.table', 'checkpoints'),
  };
}
