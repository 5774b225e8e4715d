import type { ChangeOp } from '../core/change-event.js';
import type { DataType, Row, Value } from '../core/data-type.js';
import { TributaryError } from '../core/errors.js';
import { tableIdToString, type Column, type TableId, type TableSchema } from '../core/table-schema.js';
import type { ExpressionNode, LiteralNode } from './expression/expression-node.js';
import { isMetadataColumn, metadataColumnType, metadataTableValue, opTypeCode } from './metadata-columns.js';
import { projectionItemName } from './projection.js';
import { resolveRoute } from './route.js';
import type { TransformRule, TransformRules } from './rules.js';

/**
 * How the rows of one source table become rows of its output table, computed once per schema of that
 * table. `mapRow` is on the hot path: an index lookup per output column, no allocation beyond the row.
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
  mapRow(row: Row, op: ChangeOp, image: 'before' | 'after'): Row;
}

/**
 * Where the values of one output key column come from: a source column (they vary per row), or a constant of
 * the table (a metadata column such as `__table_name__`, a literal), which tells the table's rows apart from
 * another table's merged into the same sink table.
 */
export type KeyOrigin =
  | { readonly kind: 'column'; readonly name: string }
  | { readonly kind: 'constant'; readonly value: Value }
  | { readonly kind: 'event-type' };

interface Slot {
  readonly column: Column;
  /** Index of the source column copied into this slot, or -1 for a constant / the event type. */
  readonly from: number;
  readonly constant: Value;
  readonly eventType: boolean;
}

/**
 * Plans `schema`'s table under the first transform rule that selects it and the first route. Throws
 * TributaryError CONFIG_INVALID naming the rule and the column when the projection names a column the
 * table lacks, produces a name twice, or leaves out a primary-key column.
 */
export function planTable(schema: TableSchema, rules: TransformRules): TablePlan {
  const outputId = resolveRoute(rules.routes, schema.id);
  const ruleIndex = rules.transforms.findIndex((r) => r.sourceTable.matches(schema.id.namespace, schema.id.name));
  const rule = rules.transforms[ruleIndex];
  const fail = (message: string, hint: string): never => {
    const where = rule === undefined ? '' : `transform[${ruleIndex}] (source-table "${rule.sourceTable.source}") `;
    throw new TributaryError('CONFIG_INVALID', `${where}on table ${tableIdToString(schema.id)}: ${message}`, { hint });
  };

  const slots = rule?.projection === undefined ? schema.columns.map((column, from) => copy(column, from)) : [];
  for (const item of rule?.projection?.items ?? []) {
    const expr = item.kind === 'alias' ? item.expr : item;
    const name = projectionItemName(item);
    if (expr.kind === 'star') {
      schema.columns.forEach((column, from) => slots.push(copy(column, from)));
    } else if (expr.kind === 'column' && isMetadataColumn(expr.name)) {
      const column = { name: name ?? expr.name, type: metadataColumnType(expr.name), nullable: false };
      const eventType = expr.name === '__data_event_type__';
      const constant = expr.name === '__data_event_type__' ? null : metadataTableValue(expr.name, schema.id);
      slots.push({ column, from: -1, constant, eventType });
    } else if (expr.kind === 'column') {
      const from = findColumn(schema.columns, expr.name);
      const source = schema.columns[from];
      if (source === undefined) {
        return fail(
          `the projection names the column "${expr.name}", which the table does not have`,
          `its columns are ${schema.columns.map((c) => c.name).join(', ')}; fix the projection`,
        );
      }
      slots.push(copy({ ...source, name: name ?? source.name }, from));
    } else {
      const constant = constantOf(expr);
      if (constant === undefined || name === undefined) {
        return fail('the projection has an expression this release cannot evaluate', 'keep to columns and metadata');
      }
      slots.push({
        column: { name, type: constant.type, nullable: false },
        from: -1,
        constant: constant.value,
        eventType: false,
      });
    }
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
    return slot.from >= 0
      ? { kind: 'column', name: schema.columns[slot.from]!.name }
      : { kind: 'constant', value: slot.constant };
  });
  const rowsUnchanged = slots.length === schema.columns.length && slots.every((s, i) => s.from === i);
  if (rowsUnchanged) {
    return { source: schema.id, output, rowsUnchanged, rule, keyOrigins, mapRow: (row) => row };
  }

  const from = Int32Array.from(slots, (s) => s.from);
  const constants = slots.map((s) => s.constant);
  const eventTypeSlots = slots.flatMap((s, i) => (s.eventType ? [i] : []));
  const width = slots.length;
  return {
    source: schema.id,
    output,
    rowsUnchanged,
    rule,
    keyOrigins,
    mapRow(row, op, image) {
      const out = new Array<Value>(width);
      for (let i = 0; i < width; i++) {
        const index = from[i] as number;
        out[i] = index >= 0 ? (row[index] ?? null) : (constants[i] as Value);
      }
      if (eventTypeSlots.length > 0) {
        const code = opTypeCode(op, image);
        for (const i of eventTypeSlots) out[i] = code;
      }
      return out;
    },
  };
}

function copy(column: Column, from: number): Slot {
  return { column, from, constant: null, eventType: false };
}

/** Exact name first; then, as MySQL does for column names, ignoring case. */
function findColumn(columns: readonly Column[], name: string): number {
  const exact = columns.findIndex((c) => c.name === name);
  if (exact >= 0) return exact;
  const lower = name.toLowerCase();
  return columns.findIndex((c) => c.name.toLowerCase() === lower);
}

const INT32_MAX = 2147483647n;
const INT64_MAX = 9223372036854775807n;

/**
 * A constant's type and value: strings are `string`, booleans `boolean`; integers `int32` when they fit,
 * else `int64` (a bigint), else `decimal(p,0)`; `1.50` is `decimal(3,2)` kept as exact text; `1e3` a `double`.
 */
export function constantOf(expr: ExpressionNode): { type: DataType; value: Value } | undefined {
  if (expr.kind === 'unary' && expr.op === '-' && expr.operand.kind === 'literal' && expr.operand.type === 'number') {
    return numberConstant(expr.operand, true);
  }
  if (expr.kind !== 'literal') return undefined;
  switch (expr.type) {
    case 'string':
      return { type: { kind: 'string' }, value: expr.value };
    case 'boolean':
      return { type: { kind: 'boolean' }, value: expr.value };
    case 'number':
      return numberConstant(expr, false);
    case 'null':
      return undefined;
  }
}

function numberConstant(literal: LiteralNode, negative: boolean): { type: DataType; value: Value } {
  const text = literal.text;
  const sign = negative ? '-' : '';
  if (/[eE]/.test(text)) return { type: { kind: 'double' }, value: Number(sign + text) };
  const [whole = '', fraction = ''] = text.split('.');
  const digits = whole.replace(/^0+(?=\d)/, '');
  if (fraction === '') {
    const big = BigInt(sign + digits);
    const magnitude = big < 0n ? -big : big;
    if (magnitude <= INT32_MAX) return { type: { kind: 'int32' }, value: Number(big) };
    if (magnitude <= INT64_MAX) return { type: { kind: 'int64' }, value: big };
    return { type: { kind: 'decimal', precision: digits.length, scale: 0 }, value: sign + digits };
  }
  const intDigits = digits === '' ? '0' : digits;
  const precision = Math.max((intDigits === '0' ? 0 : intDigits.length) + fraction.length, 1);
  return { type: { kind: 'decimal', precision, scale: fraction.length }, value: `${sign}${intDigits}.${fraction}` };
}
