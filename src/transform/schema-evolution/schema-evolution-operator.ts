import type { ChangeEvent, ColumnRename, DataChangeEvent, SchemaChangeEvent } from '../../core/change-event.js';
import type { Row } from '../../core/data-type.js';
import { TributaryError } from '../../core/errors.js';
import type { Operator } from '../../core/operator.js';
import { tableIdToString, type TableId, type TableSchema } from '../../core/table-schema.js';
import { DEFAULT_SCHEMA_CHANGE_BEHAVIOR, type SchemaChangeBehavior } from './schema-change-behavior.js';
import { SCHEMA_CHANGE_TYPE_NAMES, type SchemaChangeTypeName } from './schema-change-types.js';
import { acceptedSchema, changeKindOf, diffSchemas } from './schema-diff.js';
import { rowMapper } from './row-mapper.js';
import { commonPrimaryKey, mergeTargetSchema, type ShardSchema } from './target-schema.js';

export interface SchemaEvolutionOptions {
  /** Default: `lenient`, as in Flink CDC 3. */
  readonly behavior?: SchemaChangeBehavior;
  /** The change types the sink accepts (`include.schema.changes` less `exclude.schema.changes`); default all. */
  readonly accepted?: ReadonlySet<SchemaChangeTypeName>;
}

interface Shard {
  readonly source: TableId;
  schema: TableSchema;
  /** Source rows → target rows; null when they pass unchanged. */
  map: ((row: Row) => Row) | null;
}

interface Target {
  id: TableId;
  /** What the sink table is (or is about to be made): the schema of the last schema event emitted for it. */
  schema: TableSchema;
  /** By source table key, in the order they appeared (which fixes the order of columns they add). */
  readonly shards: Map<string, Shard>;
}

/**
 * The schema-evolution stage: between the route/transform stage and the sink, it decides what each sink
 * table becomes when the source tables routed to it change, under `pipeline.schema.change.behavior` and the
 * sink's accepted change types. Its output keeps the stream's order and is what the sink applies as is:
 * each schema event's `schema` is exactly what the sink table must become (columns it had keep their
 * order; new ones come last), and each data event's rows are in the column order of the last schema event
 * emitted for its table — rows of a shard that lacks a column carry null there, values of a narrower type
 * are widened.
 *
 * It works from schema diffs, so an unclassified `refreshTable` is handled like a classified change; the
 * change kind matters only where a diff cannot tell: `renamedColumns`, truncate, drop and rename of a table.
 * Several source tables routed to one sink table (shards) make it hold their union schema
 * (docs/04-schema-evolution.md). State lives for one pipeline attempt: a new attempt starts again from the
 * source's `createTable` events.
 */
export class SchemaEvolutionOperator implements Operator {
  readonly behavior: SchemaChangeBehavior;
  private readonly accepted: ReadonlySet<SchemaChangeTypeName>;
  private readonly targets = new Map<string, Target>();
  /** Source table key → key of the target it feeds. */
  private readonly targetOf = new Map<string, string>();
  /** For `try_evolve`: the target's schema before each emitted schema event, to go back to when refused. */
  private readonly before = new WeakMap<SchemaChangeEvent, TableSchema>();

  constructor(options: SchemaEvolutionOptions = {}) {
    this.behavior = options.behavior ?? DEFAULT_SCHEMA_CHANGE_BEHAVIOR;
    this.accepted = options.accepted ?? new Set(SCHEMA_CHANGE_TYPE_NAMES);
  }

  /**
   * Events in, events out, in order. `origins[i]`, when given, is the source event that `events[i]` was
   * made from (before routing): it tells which source table a routed event comes from. Without it each
   * event's own table is its source table. Throws TributaryError SINK_SCHEMA_MISMATCH when a change cannot
   * be applied under the behaviour (any change under `exception`; incompatible shard types; differing keys).
   */
  process(events: readonly ChangeEvent[], origins?: readonly ChangeEvent[]): ChangeEvent[] {
    const out: ChangeEvent[] = [];
    events.forEach((event, i) => {
      const origin = origins?.[i] ?? event;
      if (event.kind === 'data') {
        out.push(this.data(event, origin.table));
      } else {
        const emitted = this.schema(event, origin.kind === 'schema' ? origin : event);
        if (emitted !== undefined) out.push(emitted);
      }
    });
    return out;
  }

  /**
   * For `try_evolve`: the sink could not apply `event` (one this stage emitted). The sink table keeps the
   * schema it had before, and rows that follow are projected onto it. Returns false for an event this stage
   * does not know (it changes nothing then).
   */
  schemaChangeFailed(event: SchemaChangeEvent): boolean {
    const previous = this.before.get(event);
    const target = this.targets.get(keyOf(event.schema.id));
    if (previous === undefined || target === undefined) return false;
    target.schema = previous;
    this.remap(target);
    return true;
  }

  /** The schema the sink table `id` has now, per this stage's output; undefined for a table it has not seen. */
  targetSchema(id: TableId): TableSchema | undefined {
    return this.targets.get(keyOf(id))?.schema;
  }

  private data(event: DataChangeEvent, source: TableId): DataChangeEvent {
    const map = this.shardOf(source)?.shard.map;
    if (map === undefined || map === null) return event;
    return {
      ...event,
      before: event.before === null ? null : map(event.before),
      after: event.after === null ? null : map(event.after),
    };
  }

  private schema(event: SchemaChangeEvent, origin: SchemaChangeEvent): SchemaChangeEvent | undefined {
    const source = origin.table;
    const known = this.shardOf(source);
    if (this.behavior === 'exception' && event.change !== 'createTable' && known !== undefined) {
      throw this.exceptionError(event, source, known.target.id);
    }
    if (known === undefined) return this.create({ ...event, change: 'createTable' }, origin.schema.id);
    switch (event.change) {
      case 'createTable':
        return this.create(event, source);
      case 'dropTable':
      case 'truncateTable':
        return this.tableLevel(event, source, known.target);
      case 'renameTable':
        return this.renameTable(event, source, origin.schema.id, known.target);
      default:
        known.shard.schema = event.schema;
        return this.evolve(known.target, event, source, event.renamedColumns ?? []);
    }
  }

  /** A source table appears (or reappears) with `event.schema`, routed to `event.table`. */
  private create(event: SchemaChangeEvent, source: TableId): SchemaChangeEvent | undefined {
    this.leave(source);
    const targetKey = keyOf(event.table);
    const shard: Shard = { source, schema: event.schema, map: null };
    this.targetOf.set(keyOf(source), targetKey);
    const target = this.targets.get(targetKey);
    if (target === undefined) {
      const created: Target = { id: event.table, schema: event.schema, shards: new Map([[keyOf(source), shard]]) };
      this.targets.set(targetKey, created);
      this.remap(created);
      return event;
    }
    target.shards.set(keyOf(source), shard);
    return this.evolve(target, event, source, []);
  }

  /**
   * Truncate or drop of a source table: passed on only under evolve, when the sink accepts it and the table
   * is the sink table's only source (other shards' rows must not go with it). A dropped shard stops feeding.
   */
  private tableLevel(event: SchemaChangeEvent, source: TableId, target: Target): SchemaChangeEvent | undefined {
    const type = event.change === 'dropTable' ? 'drop.table' : 'truncate.table';
    const passes = this.evolves() && target.shards.size === 1 && this.accepted.has(type);
    if (event.change === 'dropTable') {
      this.leave(source);
      if (passes) this.targets.delete(keyOf(target.id));
    }
    return passes ? { ...event, table: target.id, schema: target.schema } : undefined;
  }

  private renameTable(
    event: SchemaChangeEvent,
    source: TableId,
    renamed: TableId,
    target: Target,
  ): SchemaChangeEvent | undefined {
    const newId = event.schema.id;
    const moves =
      this.evolves() &&
      this.accepted.has('rename.table') &&
      target.shards.size === 1 &&
      keyOf(newId) !== keyOf(target.id) &&
      !this.targets.has(keyOf(newId));
    if (!moves) {
      // The old sink table stays as it is; the renamed source table feeds the table its new name routes to.
      this.leave(source);
      return this.create({ ...event, change: 'createTable' }, renamed);
    }
    const oldId = target.id;
    this.leave(source);
    this.targets.delete(keyOf(oldId));
    const shard: Shard = { source: renamed, schema: event.schema, map: null };
    const moved: Target = { id: newId, schema: { ...target.schema, id: newId }, shards: new Map() };
    moved.shards.set(keyOf(renamed), shard);
    this.targets.set(keyOf(newId), moved);
    this.targetOf.set(keyOf(renamed), keyOf(newId));
    this.remap(moved);
    return { ...event, table: oldId, schema: moved.schema };
  }

  /** Recomputes `target` from its shards under the behaviour; emits the difference, if any. */
  private evolve(
    target: Target,
    event: SchemaChangeEvent,
    source: TableId,
    renames: readonly ColumnRename[],
  ): SchemaChangeEvent | undefined {
    const shards: ShardSchema[] = [...target.shards.values()].map((s) => ({ source: s.source, schema: s.schema }));
    let next: { schema: TableSchema; renames: ColumnRename[] };
    switch (this.behavior) {
      case 'ignore':
        commonPrimaryKey(target.id, [{ source: target.id, schema: target.schema }, ...shards]);
        next = { schema: target.schema, renames: [] };
        break;
      case 'exception':
      case 'lenient':
        next = mergeTargetSchema(target.id, shards, target.schema, 'grow');
        break;
      case 'evolve':
      case 'try_evolve':
        next = mergeTargetSchema(target.id, shards, target.schema, 'union', renames);
        break;
    }
    next = acceptedSchema(target.schema, next.schema, next.renames, this.accepted);
    const diff = diffSchemas(target.schema, next.schema, next.renames);
    const change = changeKindOf(diff);
    if (change !== undefined && this.behavior === 'exception') throw this.exceptionError(event, source, target.id);
    const previous = target.schema;
    target.schema = next.schema;
    this.remap(target);
    if (change === undefined) return undefined;
    const emitted: SchemaChangeEvent = {
      kind: 'schema',
      table: target.id,
      change,
      schema: next.schema,
      ...(event.ddl === undefined ? {} : { ddl: event.ddl }),
      ...(next.renames.length === 0 ? {} : { renamedColumns: next.renames }),
      source: event.source,
    };
    this.before.set(emitted, previous);
    return emitted;
  }

  private evolves(): boolean {
    return this.behavior === 'evolve' || this.behavior === 'try_evolve';
  }

  private shardOf(source: TableId): { target: Target; shard: Shard } | undefined {
    const key = keyOf(source);
    const targetKey = this.targetOf.get(key);
    const target = targetKey === undefined ? undefined : this.targets.get(targetKey);
    const shard = target?.shards.get(key);
    return target === undefined || shard === undefined ? undefined : { target, shard };
  }

  /** The source table stops feeding its sink table (which keeps its schema). */
  private leave(source: TableId): void {
    const key = keyOf(source);
    const targetKey = this.targetOf.get(key);
    if (targetKey === undefined) return;
    this.targets.get(targetKey)?.shards.delete(key);
    this.targetOf.delete(key);
  }

  private remap(target: Target): void {
    for (const shard of target.shards.values()) shard.map = rowMapper(shard.schema, target.schema);
  }

  private exceptionError(event: SchemaChangeEvent, source: TableId, target: TableId): TributaryError {
    const what =
      event.change === 'createTable'
        ? `is merged into sink table ${tableIdToString(target)} with columns that would change it`
        : `changed by ${event.ddl === undefined ? `a schema change (${event.change})` : `the DDL \`${event.ddl}\``}, which would change sink table ${tableIdToString(target)}`;
    return new TributaryError(
      'SINK_SCHEMA_MISMATCH',
      `source table ${tableIdToString(source)} ${what}; pipeline.schema.change.behavior is exception, which stops at any schema change`,
      {
        hint: `set pipeline.schema.change.behavior to lenient (or evolve) in the pipeline file, or make ${tableIdToString(target)} match the source by hand and start the pipeline with --reset`,
      },
    );
  }
}

/** A schema-evolution stage (options from a PipelineDef's schemaChangeBehavior and the sink's change lists). */
export function schemaEvolutionOperator(options: SchemaEvolutionOptions = {}): SchemaEvolutionOperator {
  return new SchemaEvolutionOperator(options);
}

function keyOf(table: TableId): string {
  return `${table.namespace}\u0000${table.name}`;
}
