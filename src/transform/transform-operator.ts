import type { ChangeEvent, DataChangeEvent, SchemaChangeEvent, SchemaChangeType } from '../core/change-event.js';
import { formatDataType } from '../core/data-type.js';
import { TributaryError } from '../core/errors.js';
import type { Operator } from '../core/operator.js';
import { sameTable, tableIdToString, type TableId, type TableSchema } from '../core/table-schema.js';
import { formatCaret } from './expression/expression-error.js';
import { collidingTables } from './key-collision.js';
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
 * that table, so that a data event costs a map lookup and one array copy (none when rows pass unchanged).
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
   * Throws TributaryError CONFIG_INVALID for rules this release cannot apply (a filter, a projection beyond
   * columns and metadata): the config loader rejects those already; this guards rules built in code.
   */
  constructor(
    private readonly rules: TransformRules,
    private readonly options: TransformOperatorOptions = {},
  ) {
    this.noop = rules.transforms.length === 0 && rules.routes.length === 0;
    rules.transforms.forEach((rule, index) => {
      const where = `transform[${index}] (source-table "${rule.sourceTable.source}")`;
      if (rule.filter !== undefined) {
        throw new TributaryError('CONFIG_INVALID', `${where}: filter is not supported yet`, {
          hint: 'remove the filter',
        });
      }
      const [problem] = rule.projection === undefined ? [] : checkProjection(rule.projection);
      if (problem !== undefined && rule.projection !== undefined) {
        throw new TributaryError(
          'CONFIG_INVALID',
          `${where}: ${problem.message}\n${formatCaret(rule.projection.text, problem.offset)}`,
          {
            ...(problem.hint === undefined ? {} : { hint: problem.hint }),
          },
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
    if (this.noop) {
      if (origins !== undefined) for (const event of events) origins.push(event);
      return events.slice();
    }
    const out: ChangeEvent[] = [];
    for (const event of events) {
      const emitted = event.kind === 'data' ? this.data(event) : this.schema(event);
      if (emitted === undefined) continue;
      out.push(emitted);
      origins?.push(event);
    }
    return out;
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

  private data(event: DataChangeEvent): DataChangeEvent {
    const plan = this.plans.get(keyOf(event.table)) ?? this.planWithoutSchema(event.table);
    if (plan.rowsUnchanged) {
      return sameTable(plan.output.id, event.table) ? event : { ...event, table: plan.output.id };
    }
    return {
      ...event,
      table: plan.output.id,
      before: event.before === null ? null : plan.mapRow(event.before, event.op, 'before'),
      after: event.after === null ? null : plan.mapRow(event.after, event.op, 'after'),
    };
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
    const passing: TablePlan = { ...plan, rowsUnchanged: true, mapRow: (row) => row };
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
