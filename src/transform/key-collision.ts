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
  const names = collision.tables.map(tableIdToString);
  const shown = names.length > 4 ? `${names.slice(0, 4).join(', ')} and ${names.length - 4} more` : names.join(', ');
  return (
    `${names.length} source tables (${shown}) are merged into ${tableIdToString(collision.sinkTable)}, whose key ` +
    `(${collision.key.join(', ')}) does not tell them apart: rows of different tables with the same key overwrite each other`
  );
}

/** The fix for a collision: a table-distinguishing metadata column in the projection and the key. */
export function keyCollisionFix(collision: KeyCollision): string {
  const sameNames = new Set(collision.tables.map((t) => t.name)).size < collision.tables.length;
  const metadata = sameNames
    ? '__schema_name__ AS _db_name, __table_name__ AS _table_name'
    : '__table_name__ AS _table_name';
  const key = `${sameNames ? '_db_name, ' : ''}_table_name, ${collision.key.join(', ')}`;
  return (
    `add a transform for the merged tables with \`projection: \\*, ${metadata}\` and \`primary-keys: ${key}\`, ` +
    `so that the sink's key tells the tables apart (an existing sink table ${tableIdToString(collision.sinkTable)} needs that key too); ` +
    'or set pipeline.route.key-collision: ignore when the keys are known to be unique across the tables'
  );
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
