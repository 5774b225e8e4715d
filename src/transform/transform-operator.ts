import type { ChangeEvent, DataChangeEvent, SchemaChangeEvent, SchemaChangeType } from '../core/change-event.js';
import { formatDataType } from '../core/data-type.js';
import { TributaryError } from '../core/errors.js';
import type { Operator } from '../core/operator.js';
import { unpackEvents, type PackedReadEvent, type StreamEvent } from '../core/packed-rows.js';
import { sameTable, tableIdToString, type TableId, type TableSchema } from '../core/table-schema.js';
import { formatCaret } from './expression/expression-error.js';
import { collidingTables } from './key-collision.js';
import { staticProblems } from './expression/static-check.js';
import { checkProjection } from './projection.js';
import type { TransformRules } from './rules.js';
import { planTable, type TablePlan } from './table-plan.js';

/** A source table merged into a sink table with others that its key does not tell apart (see key-collision.ts). */
export interface KeyCollisionNotice {
  readonly table: TableId;
  readonly others: readonly TableId[];
  readonly sinkTable: TableId;
  readonly key: readonly string[];
}

export interface TransformOperatorOptions {
  /**
   * Called when a schema event plans a source table into a sink table fed by other source tables whose rows
   * its key cannot tell apart from this one's; it may throw (TributaryError) to stop the pipeline.
   */
  readonly onKeyCollision?: (notice: KeyCollisionNotice) => void;
}

/** Schema changes whose meaning does not depend on the columns: they keep their type through a projection. */
const TABLE_LEVEL: ReadonlySet<SchemaChangeType> = new Set(['createTable', 'dropTable', 'truncateTable']);

/**
 * The route + transform stage. For each source table it applies the first transform rule and the first route
 * that select it: schema events become schema events of the output table, data events are rewritten into
 * the output column order and table. It keeps one plan per source table, replaced at each schema event of
 * that table, so that a run of one table's data events costs one map lookup, and each row one array copy (none
 * when rows pass unchanged).
 *
 * Several source tables routed to one sink table (sharded merge) each emit their own `createTable` for the
 * same output table; the schema-evolution stage after it (`schema-evolution/`) merges them into one union schema. A schema change of the source that does
 * not change the output (a column the projection leaves out) emits nothing; one that does, under a
 * projection, is emitted as `refreshTable` with the complete new output schema.
 */
export class TransformOperator implements Operator {
  private readonly plans = new Map<string, TablePlan>();
  private readonly noop: boolean;

  /**
   * Throws TributaryError CONFIG_INVALID for rules that cannot apply to any table (an unknown function, a
   * computed item without a name): the config loader rejects those already; this guards rules built in
   * code. Column names and types are checked per table, when its schema arrives.
   */
  constructor(
    private readonly rules: TransformRules,
    private readonly options: TransformOperatorOptions = {},
  ) {
    this.noop = rules.transforms.length === 0 && rules.routes.length === 0;
    const userFunctions = new Set(rules.functions?.keys() ?? []);
    rules.transforms.forEach((rule, index) => {
      const where = `transform[${index}] (source-table "${rule.sourceTable.source}")`;
      const [problem] = rule.projection === undefined ? [] : checkProjection(rule.projection, userFunctions);
      if (problem !== undefined && rule.projection !== undefined) {
        throw new TributaryError(
          'CONFIG_INVALID',
          `${where}: ${problem.message}\n${formatCaret(rule.projection.text, problem.offset)}`,
          {
            ...(problem.hint === undefined ? {} : { hint: problem.hint }),
          },
        );
      }
      const [filterProblem] = rule.filter === undefined ? [] : staticProblems(rule.filter.expression, userFunctions);
      if (filterProblem !== undefined && rule.filter !== undefined) {
        throw new TributaryError(
          'CONFIG_INVALID',
          `${where}: filter: ${filterProblem.message}\n${formatCaret(rule.filter.text, filterProblem.offset)}`,
          { ...(filterProblem.hint === undefined ? {} : { hint: filterProblem.hint }) },
        );
      }
    });
  }

  /**
   * Events in, events out, in the same order. Throws TributaryError CONFIG_INVALID when a rule cannot apply.
   * When `origins` is given, the source event of each event returned is appended to it (same index), so a
   * stage downstream can tell which source table a routed event comes from.
   */
  process(events: readonly ChangeEvent[], origins?: ChangeEvent[]): ChangeEvent[] {
    // Without packed runs in, none come out.
    return this.processPacked(events, origins) as ChangeEvent[];
  }

  /**
   * {@link process} for a batch with packed snapshot reads: a packed run of a table whose rows pass as they are
   * (no projection, no filter) goes on as it is, under the table its route names; any other is unpacked.
   */
  processPacked(events: readonly StreamEvent[], origins?: StreamEvent[]): StreamEvent[] {
    if (this.noop) {
      if (origins !== undefined) for (const event of events) origins.push(event);
      return events.slice();
    }
    const out: StreamEvent[] = [];
    const nowMs = Date.now();
    // A batch is mostly runs of one table's rows (a snapshot chunk): its plan is looked up once per run. Plans
    // change only at schema events, which end the run.
    let table: TableId | undefined;
    let plan: TablePlan | undefined;
    for (const event of events) {
      let emitted: StreamEvent | undefined;
      if (event.kind === 'packed') {
        if (event.table !== table) {
          table = event.table;
          plan = this.plans.get(keyOf(table)) ?? this.planWithoutSchema(table);
        }
        emitted = this.packed(event, plan!, out, origins, nowMs);
      } else if (event.kind === 'data') {
        if (event.table !== table) {
          table = event.table;
          plan = this.plans.get(keyOf(table)) ?? this.planWithoutSchema(table);
        }
        emitted = this.data(event, plan!, nowMs);
      } else {
        table = undefined;
        emitted = this.schema(event);
      }
      if (emitted === undefined) continue;
      out.push(emitted);
      origins?.push(event);
    }
    return out;
  }

  /**
   * A packed run through the plan: passed on (renamed by the route) when its rows pass as they are; else each
   * row goes through {@link data}, its output pushed here (with the run as its origin), and nothing is returned.
   */
  private packed(
    event: PackedReadEvent,
    plan: TablePlan,
    out: StreamEvent[],
    origins: StreamEvent[] | undefined,
    nowMs: number,
  ): PackedReadEvent | undefined {
    if (plan.rowsUnchanged && plan.filter === undefined) {
      return sameTable(plan.output.id, event.table) ? event : { ...event, table: plan.output.id };
    }
    for (const read of unpackEvents([event]) as DataChangeEvent[]) {
      const emitted = this.data(read, plan, nowMs);
      if (emitted === undefined) continue;
      out.push(emitted);
      origins?.push(event);
    }
    return undefined;
  }

  /** No transform rules and no routes: every event passes as it is ({@link process} copies the array only). */
  get passesThrough(): boolean {
    return this.noop;
  }

  /** The schema the sink will see for a source table, without changing any state; throws as `process` would. */
  outputSchema(schema: TableSchema): TableSchema {
    return planTable(schema, this.rules).output;
  }

  private schema(event: SchemaChangeEvent): SchemaChangeEvent | undefined {
    const key = keyOf(event.table);
    const previous = this.plans.get(key);
    const plan = planTable(event.schema, this.rules);
    if (event.change === 'dropTable' || event.change === 'renameTable') this.plans.delete(key);
    // After a rename the rows come under the new name (`schema.id`).
    if (event.change !== 'dropTable') {
      this.plans.set(keyOf(event.schema.id), plan);
      const others = this.options.onKeyCollision === undefined ? [] : collidingTables(plan, this.plans.values());
      if (others.length > 0) {
        this.options.onKeyCollision?.({
          table: plan.source,
          others,
          sinkTable: plan.output.id,
          key: plan.output.primaryKey,
        });
      }
    }
    if (plan.rowsUnchanged && sameTable(plan.output.id, event.table) && sameSchema(plan.output, event.schema)) {
      return event;
    }
    if (!TABLE_LEVEL.has(event.change) && previous !== undefined && sameSchema(previous.output, plan.output)) {
      return undefined;
    }
    const change = TABLE_LEVEL.has(event.change) || plan.rule?.projection === undefined ? event.change : 'refreshTable';
    return { ...event, table: plan.output.id, change, schema: plan.output };
  }

  /**
   * One row change through the plan. With a filter (evaluated on the source row, the same way for snapshot
   * and binlog rows), an update whose before image passes and after image does not becomes a delete of the
   * before image; one whose after image alone passes becomes an insert; neither passing, it is dropped.
   * With SOFT_DELETE, a delete becomes an insert of the deleted row (its `__data_event_type__` is `-D`).
   */
  private data(event: DataChangeEvent, plan: TablePlan, nowMs: number): DataChangeEvent | undefined {
    let op = event.op;
    let before = event.before;
    let after = event.after;
    const tsMs = event.source.tsMs;
    const filter = plan.filter;
    if (filter !== undefined) {
      const beforePasses = before !== null && filter(before, op, 'before', tsMs, nowMs);
      const afterPasses = after !== null && filter(after, op, 'after', tsMs, nowMs);
      if (op === 'update') {
        if (!beforePasses && !afterPasses) return undefined;
        if (beforePasses && !afterPasses) {
          op = 'delete';
          after = null;
        } else if (!beforePasses) {
          op = 'insert';
          before = null;
        }
      } else if (op === 'delete' ? !beforePasses : !afterPasses) {
        return undefined;
      }
    }
    const softDelete = op === 'delete' && plan.rule?.converterAfterTransform === 'SOFT_DELETE';
    if (plan.rowsUnchanged && !softDelete && op === event.op) {
      return sameTable(plan.output.id, event.table) ? event : { ...event, table: plan.output.id };
    }
    // `__data_event_type__` follows the change the sink gets: an update cut to a delete by the filter is `-D`.
    const mappedBefore = before === null ? null : plan.mapRow(before, op, 'before', tsMs, nowMs);
    const mappedAfter = after === null ? null : plan.mapRow(after, op, 'after', tsMs, nowMs);
    if (softDelete) {
      return { ...event, table: plan.output.id, op: 'insert', before: null, after: mappedBefore };
    }
    return { ...event, table: plan.output.id, op, before: mappedBefore, after: mappedAfter };
  }

  /**
   * Rows of a table whose schema event this operator has not seen. Routing alone needs no schema; a
   * projection does, and a source that breaks the "createTable first" contract is a bug.
   */
  private planWithoutSchema(table: TableId): TablePlan {
    if (this.rules.transforms.some((r) => r.sourceTable.matches(table.namespace, table.name))) {
      throw new TributaryError(
        'INTERNAL',
        `rows of ${tableIdToString(table)} arrived before its schema; the transform needs the schema first`,
      );
    }
    const plan = planTable({ id: table, columns: [], primaryKey: [] }, this.rules);
    const passing: TablePlan = { ...plan, rowsUnchanged: true, filter: undefined, mapRow: (row) => row };
    this.plans.set(keyOf(table), passing);
    return passing;
  }
}

/** A transform operator for a pipeline's rules (a PipelineDef will do). */
export function transformOperator(rules: TransformRules): TransformOperator {
  return new TransformOperator(rules);
}

function keyOf(table: TableId): string {
  return `${table.namespace}\u0000${table.name}`;
}

function sameSchema(a: TableSchema, b: TableSchema): boolean {
  return (
    sameTable(a.id, b.id) &&
    a.columns.length === b.columns.length &&
    a.columns.every((c, i) => {
      const d = b.columns[i];
      return (
        d !== undefined &&
        c.name === d.name &&
        c.nullable === d.nullable &&
        formatDataType(c.type) === formatDataType(d.type)
      );
    }) &&
    a.primaryKey.length === b.primaryKey.length &&
    a.primaryKey.every((k, i) => k === b.primaryKey[i])
  );
}
