/**
 * Flink CDC 3's `pipeline.schema.change.behavior` values: what reaches a sink table when a source table's
 * schema changes. docs/04-schema-evolution.md describes each.
 */
export const SCHEMA_CHANGE_BEHAVIORS = ['evolve', 'try_evolve', 'lenient', 'ignore', 'exception'] as const;
export type SchemaChangeBehavior = (typeof SCHEMA_CHANGE_BEHAVIORS)[number];

/** As in Flink CDC 3: columns are added and widened, never dropped, and no table is truncated or dropped. */
export const DEFAULT_SCHEMA_CHANGE_BEHAVIOR: SchemaChangeBehavior = 'lenient';
