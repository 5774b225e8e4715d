import type { ChangeEvent, ColumnRename, DataChangeEvent, SchemaChangeEvent } from '../../core/change-event.js';
import type { Row } from '../../core/data-type.js';
import { TributaryError } from '../../core/errors.js';
import type { Operator, OperatorState } from '../../core/operator.js';
import { unpackEvents, type StreamEvent } from '../../core/packed-rows.js';
import { tableIdToString, type Column, type TableId, type TableSchema } from '../../core/table-schema.js';
import { DEFAULT_SCHEMA_CHANGE_BEHAVIOR, type SchemaChangeBehavior } from './schema-change-behavior.js';
import { SCHEMA_CHANGE_TYPE_NAMES, type SchemaChangeTypeName } from './schema-change-types.js';
import {
  acceptedSchema,
  changeKindOf,
  diffSchemas,
  noteRefused,
  withoutRefused,
  type RefusedColumns,
} from './schema-diff.js';
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
  /**
   * A createTable was emitted for it in this attempt. False for a target restored from a checkpoint until its
   * first event: the sink, re-opened, must learn what the table is before any change or row.
   */
  announced: boolean;
  /** `try_evolve`: column changes the sink refused, not asked again while the source asks the same. */
  readonly refused: RefusedColumns;
}

/**
 * What {@link SchemaEvolutionOperator.snapshotState} commits with a checkpoint: each sink table's schema (what
 * the table really is) and the last schema seen of each source table feeding it, in the order they appeared.
 */
export interface SchemaEvolutionState extends OperatorState {
  readonly stage: 'schema-evolution';
  readonly version: 1;
  readonly targets: readonly {
    readonly id: TableId;
    readonly schema: TableSchema;
    readonly shards: readonly ShardSchema[];
    /** `try_evolve`: the column changes the sink refused (a column as asked for, or null for a drop). */
    readonly refused?: readonly { readonly name: string; readonly column: Column | null }[];
  }[];
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
 * (docs/04-schema-evolution.md).
 *
 * Its state — what each sink table is, and the source tables feeding it — is committed with every checkpoint
 * ({@link snapshotState}) and restored on resume ({@link restoreState}): a restored sink table is announced
 * with a createTable of the schema it has (not the source's schema of now) at its first event, and whatever
 * changed since is emitted after it as a change, under the behaviour. Without restored state a new attempt
 * starts again from the source's createTable events.
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
   * event's own table is its source table. Throws TributaryError SCHEMA_CHANGE_REJECTED when a change cannot
   * be applied under the behaviour (any change under `exception`; incompatible shard types; differing keys).
   */
  process(events: readonly ChangeEvent[], origins?: readonly ChangeEvent[]): readonly ChangeEvent[] {
    // Without packed runs in, none come out.
    return this.processPacked(events, origins) as readonly ChangeEvent[];
  }

  /**
   * {@link process} for a batch with packed snapshot reads: a packed run of a table whose rows pass unchanged is
   * passed on as it is; one whose rows are mapped onto a merged sink table is unpacked and mapped.
   */
  processPacked(events: readonly StreamEvent[], origins?: readonly StreamEvent[]): readonly StreamEvent[] {
    // Copy on write: a piece of rows that all pass unchanged (a snapshot chunk whose table needs no mapping) is
    // returned as it came, with no array and no lookup per row; `out` exists from the first event that differs.
    let out: StreamEvent[] | undefined;
    // The run of rows of one source table being passed: its shard's mapping, looked up once. Mappings change
    // only at schema events, which end the run.
    let source: TableId | undefined;
    let map: ((row: Row) => Row) | null = null;
    for (let i = 0; i < events.length; i++) {
      const event = events[i]!;
      if (event.kind === 'packed') {
        // A run of one table's snapshot reads: passed on as it is, unless its rows are mapped.
        source = undefined;
        const rowMap = this.shardOf((origins?.[i] ?? event).table)?.shard.map ?? null;
        if (rowMap === null) {
          out?.push(event);
          continue;
        }
        out ??= events.slice(0, i);
        for (const read of unpackEvents([event]) as DataChangeEvent[]) out.push(mapRows(read, rowMap));
        continue;
      }
      const origin = origins?.[i] ?? event;
      if (event.kind === 'data') {
        if (origin.table !== source) {
          source = origin.table;
          map = this.shardOf(source)?.shard.map ?? null;
        }
        const mapped = map === null ? event : mapRows(event, map);
        if (out === undefined && mapped === event) continue;
        out ??= events.slice(0, i);
        out.push(mapped);
        continue;
      }
      source = undefined;
      out ??= events.slice(0, i);
      const from = origin.kind === 'schema' ? origin : event;
      const announced = this.announce(event, from.table);
      if (announced !== undefined) out.push(announced);
      const emitted = this.schema(event, from);
      if (emitted !== undefined) out.push(emitted);
    }
    return out ?? events;
  }

  /**
   * For `try_evolve`: the sink could not apply `event` (one this stage emitted) and undid it. The sink table
   * keeps the schema it had before, and rows that follow are projected onto it. Returns false — and changes
   * nothing — under any other behaviour, or for an event this stage did not emit as a change.
   */
  schemaChangeFailed(event: SchemaChangeEvent): boolean {
    if (this.behavior !== 'try_evolve') return false;
    const previous = this.before.get(event);
    const target = this.targets.get(keyOf(event.schema.id));
    if (previous === undefined || target === undefined) return false;
    noteRefused(previous, event.schema, target.refused);
    target.schema = previous;
    this.remap(target);
    return true;
  }

  /** Every sink table's schema and sources, as JSON (see {@link SchemaEvolutionState}). */
  snapshotState(): SchemaEvolutionState {
    return {
      stage: 'schema-evolution',
      version: 1,
      targets: [...this.targets.values()].map((target) => ({
        id: target.id,
        schema: target.schema,
        shards: [...target.shards.values()].map((shard) => ({ source: shard.source, schema: shard.schema })),
        ...(target.refused.size === 0
          ? {}
          : { refused: [...target.refused].map(([name, column]) => ({ name, column })) }),
      })),
    };
  }

  /**
   * Takes the state a {@link snapshotState} of an earlier attempt committed; call before the first
   * {@link process}. Throws STATE_CORRUPT for state this stage did not write.
   */
  restoreState(state: OperatorState): void {
    if (!isSchemaEvolutionState(state)) {
      throw new TributaryError('STATE_CORRUPT', 'the schema-evolution state in the checkpoint is not readable', {
        hint: 'run with --reset to start over with a new snapshot, or restore the checkpoint from a backup',
      });
    }
    this.targets.clear();
    this.targetOf.clear();
    for (const saved of state.targets) {
      const refused: RefusedColumns = new Map((saved.refused ?? []).map(({ name, column }) => [name, column]));
      const target: Target = { id: saved.id, schema: saved.schema, shards: new Map(), announced: false, refused };
      for (const { source, schema } of saved.shards) {
        target.shards.set(keyOf(source), { source, schema, map: null });
        this.targetOf.set(keyOf(source), keyOf(saved.id));
      }
      this.remap(target);
      this.targets.set(keyOf(saved.id), target);
    }
  }

  /** The schema the sink table `id` has now, per this stage's output; undefined for a table it has not seen. */
  targetSchema(id: TableId): TableSchema | undefined {
    return this.targets.get(keyOf(id))?.schema;
  }

  /**
   * The createTable that tells a re-opened sink what a restored sink table is, before the first schema event
   * (a source table's createTable, usually) that concerns it in this attempt; undefined once told.
   */
  private announce(event: SchemaChangeEvent, source: TableId): SchemaChangeEvent | undefined {
    const known = this.shardOf(source);
    const creates = known === undefined || event.change === 'createTable';
    const target = this.targets.get(creates ? keyOf(event.table) : keyOf(known.target.id));
    if (target === undefined || target.announced) return undefined;
    target.announced = true;
    return { kind: 'schema', table: target.id, change: 'createTable', schema: target.schema, source: event.source };
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
      const created: Target = {
        id: event.table,
        schema: event.schema,
        shards: new Map([[keyOf(source), shard]]),
        announced: true,
        refused: new Map(),
      };
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
    const moved: Target = {
      id: newId,
      schema: { ...target.schema, id: newId },
      shards: new Map(),
      announced: true,
      refused: target.refused,
    };
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
        // The renames only keep the source's default off a renamed column, which `grow` adds as a new one.
        next = mergeTargetSchema(target.id, shards, target.schema, 'grow', renames);
        break;
      case 'evolve':
        next = mergeTargetSchema(target.id, shards, target.schema, 'union', renames);
        break;
      case 'try_evolve':
        next = mergeTargetSchema(target.id, shards, target.schema, 'union', renames);
        if (target.refused.size > 0 && next.renames.length === 0) {
          next = { schema: withoutRefused(target.schema, next.schema, target.refused), renames: [] };
        }
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
      'SCHEMA_CHANGE_REJECTED',
      `source table ${tableIdToString(source)} ${what}; pipeline.schema.change.behavior is exception, which stops at any schema change`,
      {
        hint: `set pipeline.schema.change.behavior to lenient (or evolve) in the pipeline file, or make ${tableIdToString(target)} match the source by hand and start the pipeline with --reset`,
      },
    );
  }
}

/** The event with its rows in its sink table's shape. */
function mapRows(event: DataChangeEvent, map: (row: Row) => Row): DataChangeEvent {
  return {
    ...event,
    before: event.before === null ? null : map(event.before),
    after: event.after === null ? null : map(event.after),
  };
}

/** A schema-evolution stage (options from a PipelineDef's schemaChangeBehavior and the sink's change lists). */
export function schemaEvolutionOperator(options: SchemaEvolutionOptions = {}): SchemaEvolutionOperator {
  return new SchemaEvolutionOperator(options);
}

function keyOf(table: TableId): string {
  return `${table.namespace}\u0000${table.name}`;
}

function isSchemaEvolutionState(state: OperatorState): state is SchemaEvolutionState {
  const isTable = (id: unknown): boolean =>
    typeof id === 'object' && id !== null && typeof (id as TableId).namespace === 'string';
  const isSchema = (schema: unknown): boolean =>
    typeof schema === 'object' &&
    schema !== null &&
    isTable((schema as TableSchema).id) &&
    Array.isArray((schema as TableSchema).columns) &&
    Array.isArray((schema as TableSchema).primaryKey);
  return (
    state['stage'] === 'schema-evolution' &&
    state['version'] === 1 &&
    Array.isArray(state['targets']) &&
    (state['targets'] as unknown[]).every((t) => {
      const target = t as SchemaEvolutionState['targets'][number];
      const shards: unknown = target.shards;
      const refused: unknown = target.refused;
      return (
        isTable(target.id) &&
        isSchema(target.schema) &&
        (refused === undefined || Array.isArray(refused)) &&
        Array.isArray(shards) &&
        (shards as ShardSchema[]).every((shard) => isTable(shard.source) && isSchema(shard.schema))
      );
    })
  );
}
