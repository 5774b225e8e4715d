import type { ChangeOp } from '../core/change-event.js';
import type { Row, Value } from '../core/data-type.js';
import { TributaryError } from '../core/errors.js';
import { tableIdToString, type Column, type TableId, type TableSchema } from '../core/table-schema.js';
import { compileCondition, compileExpression, type ExpressionScope } from './expression/compiler.js';
import type { Compiled, EvalContext } from './expression/eval-context.js';
import { evalContext } from './expression/eval-context.js';
import { ExpressionError, formatCaret } from './expression/expression-error.js';
import type { ExpressionNode } from './expression/expression-node.js';
import { metadataResolver } from './metadata-columns.js';
import { projectionItemName } from './projection.js';
import { resolveRoute } from './route.js';
import { systemTimeZone, type TransformRule, type TransformRules } from './rules.js';

/**
 * How the rows of one source table become rows of its output table, computed once per schema of that
 * table: every projection item and the filter are compiled into closures here, so that a row costs one
 * closure call per computed column and an index lookup per copied one.
 */
export interface TablePlan {
  readonly source: TableId;
  /** The output table's schema; `output.id` is the sink table chosen by the routes. */
  readonly output: TableSchema;
  /** Rows pass as they are (no projection, or exactly `*`): the sink gets the source's arrays. */
  readonly rowsUnchanged: boolean;
  /** The rule that reshaped this table, or undefined when none selects it. */
  readonly rule: TransformRule | undefined;
  /** Where each `output.primaryKey` column's values come from (see {@link KeyOrigin}), in key order. */
  readonly keyOrigins: readonly KeyOrigin[];
  /**
   * Whether a source row image passes the rule's filter (TRUE; FALSE and NULL leave it out); undefined when
   * the rule has no filter.
   */
  readonly filter:
    ((row: Row, op: ChangeOp, image: 'before' | 'after', tsMs: number, nowMs: number) => boolean) | undefined;
  /** `tsMs` (the change's commit time, for op_ts) and `nowMs` (for NOW() …) default to 0 and the clock. */
  mapRow(row: Row, op: ChangeOp, image: 'before' | 'after', tsMs?: number, nowMs?: number): Row;
}

/**
 * Where the values of one output key column come from: a source column (they vary per row), a constant of
 * the table (a metadata column such as `__table_name__`, a literal), which tells the table's rows apart from
 * another table's merged into the same sink table, or a computed expression.
 */
export type KeyOrigin =
  | { readonly kind: 'column'; readonly name: string }
  | { readonly kind: 'constant'; readonly value: Value }
  | { readonly kind: 'event-type' }
  | { readonly kind: 'computed' };

interface Slot {
  readonly column: Column;
  /** Index of the source column copied into this slot, or -1 for a computed one. */
  readonly from: number;
  readonly compiled?: Compiled;
  readonly eventType: boolean;
}

/**
 * Plans `schema`'s table under the first transform rule that selects it and the first route. Throws
 * TributaryError CONFIG_INVALID naming the rule, the table and the place in the expression when the
 * projection or filter names a column the table lacks, is ill-typed, produces a name twice, or leaves out a
 * primary-key column.
 */
export function planTable(schema: TableSchema, rules: TransformRules): TablePlan {
  const outputId = resolveRoute(rules.routes, schema.id);
  const ruleIndex = rules.transforms.findIndex((r) => r.sourceTable.matches(schema.id.namespace, schema.id.name));
  const rule = rules.transforms[ruleIndex];
  const where = rule === undefined ? '' : `transform[${ruleIndex}] (source-table "${rule.sourceTable.source}") `;
  const fail = (message: string, hint: string): never => {
    throw new TributaryError('CONFIG_INVALID', `${where}on table ${tableIdToString(schema.id)}: ${message}`, { hint });
  };
  const scope: ExpressionScope = {
    columns: schema.columns.map((c) => ({ name: c.name, type: c.type, nullable: c.nullable })),
    metadata: metadataResolver(schema.id),
    timeZone: rules.timeZone ?? systemTimeZone(),
    ...(rules.functions === undefined ? {} : { functions: rules.functions }),
  };
  /** Compiles one expression; a mistake is reported with a caret and the place in the file. */
  const compile = (
    node: ExpressionNode,
    text: string,
    what: string,
    locate: ((offset: number) => string) | undefined,
    condition = false,
    at: ExpressionScope = scope,
  ): Compiled => {
    try {
      return condition ? compileCondition(node, text, at) : compileExpression(node, text, at);
    } catch (error) {
      if (!(error instanceof ExpressionError)) throw error;
      const place = locate === undefined ? '' : ` (${locate(error.offset)})`;
      return fail(
        `${what}: ${error.reason}${place}\n${formatCaret(text, error.offset)}`,
        error.hint ?? 'fix the expression',
      );
    }
  };

  const projection = rule?.projection;
  const slots = projection === undefined ? schema.columns.map((column, from) => copy(column, from)) : [];
  for (const item of projection?.items ?? []) {
    const expr = item.kind === 'alias' ? item.expr : item;
    const name = projectionItemName(item);
    if (expr.kind === 'star') {
      schema.columns.forEach((column, from) => slots.push(copy(column, from)));
      continue;
    }
    const compiled = compile(expr, projection!.text, 'projection', projection!.locate);
    const from =
      expr.kind === 'column' && compiled.constant !== true && !isEventMetadata(expr.name)
        ? sourceIndex(schema, expr.name)
        : -1;
    if (from >= 0) {
      slots.push(copy({ ...schema.columns[from]!, name: name ?? schema.columns[from]!.name }, from));
      continue;
    }
    if (name === undefined) {
      return fail(
        `the expression \`${projection!.text.slice(item.start, item.end)}\` needs a column name`,
        'add AS some_name',
      );
    }
    slots.push({
      column: { name, type: compiled.type, nullable: compiled.nullable },
      from: -1,
      compiled,
      eventType: expr.kind === 'column' && expr.name === '__data_event_type__',
    });
  }

  const seen = new Set<string>();
  for (const { column } of slots) {
    if (seen.has(column.name)) {
      fail(
        `the projection produces the column "${column.name}" twice`,
        'rename one of them with AS, or list columns instead of *',
      );
    }
    seen.add(column.name);
  }

  const columns = slots.map((s) => s.column);
  const primaryKey =
    rule?.primaryKeys === undefined
      ? schema.primaryKey.map((key) => {
          const slot = slots.find((s) => s.from >= 0 && schema.columns[s.from]?.name === key);
          return (
            slot?.column.name ??
            fail(
              `the projection leaves out the primary-key column "${key}"`,
              `add ${key} to the projection, or set primary-keys on the rule`,
            )
          );
        })
      : rule.primaryKeys.map((key) => {
          const index = findColumn(columns, key);
          return (
            columns[index]?.name ??
            fail(
              `primary-keys names "${key}", which is not a column of the output`,
              `the output columns are ${columns.map((c) => c.name).join(', ')}; fix primary-keys or the projection`,
            )
          );
        });

  const output: TableSchema = { id: outputId, columns, primaryKey };
  const keyOrigins = primaryKey.map((key): KeyOrigin => {
    const slot = slots.find((s) => s.column.name === key)!;
    if (slot.eventType) return { kind: 'event-type' };
    if (slot.from >= 0) return { kind: 'column', name: schema.columns[slot.from]!.name };
    if (slot.compiled?.constant === true) return { kind: 'constant', value: slot.compiled.evaluate(evalContext()) };
    return { kind: 'computed' };
  });

  const filter = rule?.filter === undefined ? undefined : compileFilter(rule.filter, slots);
  function compileFilter(f: NonNullable<TransformRule['filter']>, outputSlots: readonly Slot[]) {
    // A filter names source columns, metadata, and (as in Flink CDC) the projection's computed columns.
    const computed = new Map(
      outputSlots.filter((s) => s.compiled !== undefined).map((s) => [s.column.name, s.compiled!]),
    );
    const filterScope: ExpressionScope = {
      ...scope,
      metadata: (name, hasColumn) => scope.metadata?.(name, hasColumn) ?? (hasColumn ? undefined : computed.get(name)),
    };
    const condition = compile(f.expression, f.text, 'filter', f.locate, true, filterScope).evaluate;
    const ctx = evalContext();
    return (row: Row, op: ChangeOp, image: 'before' | 'after', tsMs: number, nowMs: number): boolean => {
      ctx.row = row;
      ctx.op = op;
      ctx.image = image;
      ctx.tsMs = tsMs;
      ctx.nowMs = nowMs;
      return condition(ctx) === true;
    };
  }

  const rowsUnchanged = slots.length === schema.columns.length && slots.every((s, i) => s.from === i);
  if (rowsUnchanged) {
    return { source: schema.id, output, rowsUnchanged, rule, keyOrigins, filter, mapRow: (row) => row };
  }

  const from = Int32Array.from(slots, (s) => s.from);
  const evaluators = slots.map((s) => s.compiled?.evaluate);
  const width = slots.length;
  const ctx: EvalContext = evalContext();
  return {
    source: schema.id,
    output,
    rowsUnchanged,
    rule,
    keyOrigins,
    filter,
    mapRow(row, op, image, tsMs = 0, nowMs = Date.now()) {
      ctx.row = row;
      ctx.op = op;
      ctx.image = image;
      ctx.tsMs = tsMs;
      ctx.nowMs = nowMs;
      const out = new Array<Value>(width);
      for (let i = 0; i < width; i++) {
        const index = from[i] as number;
        out[i] = index >= 0 ? (row[index] ?? null) : evaluators[i]!(ctx);
      }
      return out;
    },
  };
}

function copy(column: Column, from: number): Slot {
  return { column, from, eventType: false };
}

function isEventMetadata(name: string): boolean {
  return name.startsWith('__') && name.endsWith('__');
}

/** The source column a plain column reference copies (-1 when it is metadata or unknown). */
function sourceIndex(schema: TableSchema, name: string): number {
  return findColumn(schema.columns, name);
}

/** Exact name first; then, as MySQL does for column names, ignoring case. */
function findColumn(columns: readonly Column[], name: string): number {
  const exact = columns.findIndex((c) => c.name === name);
  if (exact >= 0) return exact;
  const lower = name.toLowerCase();
  return columns.findIndex((c) => c.name.toLowerCase() === lower);
}
