import { TributaryError, type TableLayout, type TableSchema } from '../../core/index.js';
import { checkIdentifier, qualifiedName, quoteIdent, quoteLiteral, type PostgresTableName } from './postgres-ddl.js';

/** PostgreSQL's table storage parameters (CREATE TABLE … WITH), as `table-options` may set them. */
const STORAGE_PARAMETERS: ReadonlySet<string> = new Set([
  'fillfactor',
  'toast_tuple_target',
  'parallel_workers',
  'autovacuum_enabled',
  'autovacuum_vacuum_threshold',
  'autovacuum_vacuum_scale_factor',
  'autovacuum_vacuum_insert_threshold',
  'autovacuum_vacuum_insert_scale_factor',
  'autovacuum_analyze_threshold',
  'autovacuum_analyze_scale_factor',
  'autovacuum_vacuum_cost_delay',
  'autovacuum_vacuum_cost_limit',
  'autovacuum_freeze_min_age',
  'autovacuum_freeze_max_age',
  'autovacuum_freeze_table_age',
  'autovacuum_multixact_freeze_min_age',
  'autovacuum_multixact_freeze_max_age',
  'autovacuum_multixact_freeze_table_age',
  'log_autovacuum_min_duration',
  'user_catalog_table',
  'vacuum_index_cleanup',
  'vacuum_truncate',
]);

/** A storage parameter value that needs no quoting: a number, a word, `on`/`off`. */
const PLAIN_VALUE = /^[A-Za-z0-9_.+-]+$/;

function isStorageParameter(key: string): boolean {
  const lower = key.toLowerCase();
  if (STORAGE_PARAMETERS.has(lower)) return true;
  return (
    lower.startsWith('toast.') &&
    (lower.slice(6).startsWith('autovacuum_') ||
      lower === 'toast.vacuum_index_cleanup' ||
      lower === 'toast.vacuum_truncate')
  );
}

/**
 * Why the PostgreSQL sink does not use the `table-options` key `key` (with `value`), or undefined when it does:
 * storage parameters go to `WITH (…)`, `comment` to COMMENT ON TABLE.
 */
export function postgresIgnoredTableOption(key: string, value: string): string | undefined {
  if (key.toLowerCase() === 'comment') return undefined;
  if (!isStorageParameter(key)) {
    return 'not a PostgreSQL storage parameter (fillfactor, autovacuum_*, toast_tuple_target, parallel_workers, …) nor comment';
  }
  if (!PLAIN_VALUE.test(value)) return `"${value}" is not a plain storage parameter value (a number, a word, on/off)`;
  return undefined;
}

/**
 * The statements that create a sink table for `schema` laid out by `layout`: CREATE TABLE with
 * `PARTITION BY LIST (key)` (one partition key) or `PARTITION BY RANGE (keys…)` (several) and a DEFAULT
 * partition `<table>_default` that receives every row until the user attaches partitions of their own; the
 * storage parameters of `table-options` as `WITH (…)` — on the default partition when the table is
 * partitioned, since PostgreSQL keeps no storage on a partitioned table; `comment` as COMMENT ON TABLE.
 * Throws CONFIG_INVALID when a partition key is not a column of the key (PostgreSQL requires the primary key of
 * a partitioned table to include every partition column).
 */
export function postgresCreateTableStatements(
  name: PostgresTableName,
  createSql: string,
  schema: TableSchema,
  layout: TableLayout | undefined,
): string[] {
  const partitionKeys = layout?.partitionKeys ?? [];
  const storage = Object.entries(layout?.options ?? {}).filter(
    ([key, value]) => key.toLowerCase() !== 'comment' && postgresIgnoredTableOption(key, value) === undefined,
  );
  const withClause =
    storage.length === 0 ? '' : ` WITH (${storage.map(([k, v]) => `${k.toLowerCase()} = ${v}`).join(', ')})`;
  const statements: string[] = [];
  if (partitionKeys.length === 0) {
    statements.push(`${createSql}${withClause}`);
  } else {
    const columns = partitionKeys.map((key) => {
      const column =
        schema.columns.find((c) => c.name === key) ??
        schema.columns.find((c) => c.name.toLowerCase() === key.toLowerCase());
      if (column === undefined) {
        throw new TributaryError(
          'CONFIG_INVALID',
          `partition-keys names "${key}", which is not a column of ${qualifiedName(name)}`,
          {
            hint: `partition by columns of the transform's output: ${schema.columns.map((c) => c.name).join(', ')}`,
          },
        );
      }
      if (!schema.primaryKey.includes(column.name)) {
        throw new TributaryError(
          'CONFIG_INVALID',
          `partition-keys column "${column.name}" of ${qualifiedName(name)} is not in its primary key (${schema.primaryKey.join(', ')}): PostgreSQL requires the key of a partitioned table to include every partition column`,
          {
            hint: `add ${column.name} to the transform's primary-keys (e.g. primary-keys: ${[...schema.primaryKey, column.name].join(', ')})`,
          },
        );
      }
      return quoteIdent(column.name);
    });
    const method = columns.length === 1 ? 'LIST' : 'RANGE';
    statements.push(`${createSql} PARTITION BY ${method} (${columns.join(', ')})`);
    const fallback = { schema: name.schema, table: `${name.table}_default` };
    checkIdentifier(fallback.table, 'default partition');
    statements.push(
      `CREATE TABLE IF NOT EXISTS ${qualifiedName(fallback)} PARTITION OF ${qualifiedName(name)} DEFAULT${withClause}`,
    );
  }
  const comment = Object.entries(layout?.options ?? {}).find(([key]) => key.toLowerCase() === 'comment');
  if (comment !== undefined) statements.push(`COMMENT ON TABLE ${qualifiedName(name)} IS ${quoteLiteral(comment[1])}`);
  return statements;
}
