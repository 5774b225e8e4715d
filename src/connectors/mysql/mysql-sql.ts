import type { TableId, Value } from '../../core/index.js';

/** `name` as a MySQL identifier. */
export function quoteId(name: string): string {
  return '`' + name.replace(/`/g, '``') + '`';
}

export function tableRef(id: TableId): string {
  return `${quoteId(id.namespace)}.${quoteId(id.name)}`;
}

/**
 * `(k1, k2, k3) > (a, b, c)` spelled so that the key index is used:
 * `k1 > a OR (k1 = a AND (k2 > b OR (k2 = b AND k3 > c)))`. Pushes the parameters onto `values`.
 */
export function keyAfterClause(key: readonly string[], after: readonly Value[], values: Value[]): string {
  return keyCompare(key, after, values, '>', '>');
}

/** `(k1, k2) <= (a, b)`, index-friendly like {@link keyAfterClause}: `k1 < a OR (k1 = a AND k2 <= b)`. */
export function keyAtMostClause(key: readonly string[], atMost: readonly Value[], values: Value[]): string {
  return keyCompare(key, atMost, values, '<', '<=');
}

function keyCompare(
  key: readonly string[],
  bound: readonly Value[],
  values: Value[],
  op: string,
  lastOp: string,
): string {
  const build = (i: number): string => {
    const column = quoteId(key[i]!);
    values.push(bound[i] ?? null);
    if (i === key.length - 1) return `${column} ${lastOp} ?`;
    values.push(bound[i] ?? null);
    return `(${column} ${op} ? OR (${column} = ? AND ${build(i + 1)}))`;
  };
  return build(0);
}

/** A key value as a query parameter (bigints as text, bytes as Buffer, UTC timestamps without the Z). */
export function sqlParam(value: Value): unknown {
  if (typeof value === 'bigint') return value.toString();
  if (value instanceof Uint8Array) return Buffer.from(value);
  if (typeof value === 'string' && value.endsWith('Z') && /^\d{4}-\d{2}-\d{2} /.test(value)) return value.slice(0, -1);
  return value;
}
