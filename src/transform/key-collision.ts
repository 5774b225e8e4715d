import { tableIdToString, type TableId } from '../core/table-schema.js';
import type { KeyOrigin, TablePlan } from './table-plan.js';

/**
 * Source tables routed to one sink table whose key cannot tell their rows apart: a row of one with the same
 * key values as a row of another overwrites it in the sink (upsert and merge keep one row per key).
 *
 * Two tables are told apart when some key column holds a constant of each table (`__table_name__`,
 * `__schema_name__`, `__database_name__`, a literal) and the two constants differ; a key column copied from a
 * source column can hold anything, so it does not.
 */
export interface KeyCollision {
  readonly sinkTable: TableId;
  /** The sink table's key columns. */
  readonly key: readonly string[];
  /** Every source table that collides with at least one other, in plan order. */
  readonly tables: readonly TableId[];
  /** Pairs (indexes into `tables`) that collide. */
  readonly pairs: readonly (readonly [number, number])[];
  /**
   * Per table of `tables`, the source columns that feed the key positions that are source columns in every
   * one of them (empty when there are none): what a key overlap check compares.
   */
  readonly sourceKeys: readonly (readonly string[])[];
}

/** The sink tables fed by several of `plans` whose keys collide (see {@link KeyCollision}). */
export function keyCollisions(plans: Iterable<TablePlan>): KeyCollision[] {
  const bySink = new Map<string, TablePlan[]>();
  for (const plan of plans) {
    const key = `${plan.output.id.namespace}\u0000${plan.output.id.name}`;
    bySink.set(key, [...(bySink.get(key) ?? []), plan]);
  }
  const result: KeyCollision[] = [];
  for (const group of bySink.values()) {
    if (group.length < 2) continue;
    const pairs: [TablePlan, TablePlan][] = [];
    for (let i = 0; i < group.length; i++) {
      for (let j = i + 1; j < group.length; j++) {
        if (!toldApart(group[i]!.keyOrigins, group[j]!.keyOrigins)) pairs.push([group[i]!, group[j]!]);
      }
    }
    if (pairs.length === 0) continue;
    const involved = group.filter((plan) => pairs.some(([a, b]) => a === plan || b === plan));
    const positions = involved[0]!.keyOrigins
      .map((_, i) => i)
      .filter((i) => involved.every((plan) => plan.keyOrigins[i]?.kind === 'column'));
    result.push({
      sinkTable: group[0]!.output.id,
      key: group[0]!.output.primaryKey,
      tables: involved.map((plan) => plan.source),
      pairs: pairs.map(([a, b]) => [involved.indexOf(a), involved.indexOf(b)] as const),
      sourceKeys: involved.map((plan) =>
        positions.map((i) => (plan.keyOrigins[i] as Extract<KeyOrigin, { kind: 'column' }>).name),
      ),
    });
  }
  return result;
}

/** A one-line account of `collision`, for warnings and errors. */
export function describeKeyCollision(collision: KeyCollision): string {
  return describeMerge(collision.tables, collision.sinkTable, collision.key);
}

/** `N source tables (a, b …) are merged into s, whose key (k) does not tell them apart: …`. */
export function describeMerge(tables: readonly TableId[], sinkTable: TableId, key: readonly string[]): string {
  const names = tables.map(tableIdToString);
  const shown = names.length > 4 ? `${names.slice(0, 4).join(', ')} and ${names.length - 4} more` : names.join(', ');
  return (
    `${names.length} source tables (${shown}) are merged into ${tableIdToString(sinkTable)}, whose key ` +
    `(${key.join(', ')}) does not tell them apart: rows of different tables with the same key overwrite each other`
  );
}

/** The fix for colliding `tables`: a table-distinguishing metadata column in the projection and the key. */
export function keyCollisionFix(tables: readonly TableId[], sinkTable: TableId, key: readonly string[]): string {
  const sameNames = new Set(tables.map((t) => t.name)).size < tables.length;
  const metadata = sameNames
    ? '__schema_name__ AS _db_name, __table_name__ AS _table_name'
    : '__table_name__ AS _table_name';
  const keyText = `${sameNames ? '_db_name, ' : ''}_table_name, ${key.join(', ')}`;
  return (
    `add a transform for the merged tables with \`projection: \\*, ${metadata}\` and \`primary-keys: ${keyText}\`, ` +
    `so that the sink's key tells the tables apart (an existing sink table ${tableIdToString(sinkTable)} needs that key too); ` +
    'or set pipeline.route.key-collision: ignore when the keys are known to be unique across the tables'
  );
}

/**
 * The tables of `others` that go to the same sink table as `plan` and whose rows its key cannot tell apart
 * from `plan`'s: for a table that appears while the pipeline runs (a new shard), compared with those before it.
 */
export function collidingTables(plan: TablePlan, others: Iterable<TablePlan>): TableId[] {
  const result: TableId[] = [];
  if (plan.keyOrigins.length === 0) return result;
  for (const other of others) {
    if (other.keyOrigins.length === 0 || other === plan || other.output.id.namespace !== plan.output.id.namespace)
      continue;
    if (other.output.id.name !== plan.output.id.name || other.source === plan.source) continue;
    if (!toldApart(plan.keyOrigins, other.keyOrigins)) result.push(other.source);
  }
  return result;
}

function toldApart(a: readonly KeyOrigin[], b: readonly KeyOrigin[]): boolean {
  return a.some((origin, i) => {
    const other = b[i];
    return origin.kind === 'constant' && other?.kind === 'constant' && !sameValue(origin.value, other.value);
  });
}

function sameValue(a: unknown, b: unknown): boolean {
  return typeof a === 'bigint' || typeof b === 'bigint' ? String(a) === String(b) : a === b;
}
