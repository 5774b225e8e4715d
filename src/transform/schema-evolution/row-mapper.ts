import type { Row, Value } from '../../core/data-type.js';
import type { TableSchema } from '../../core/table-schema.js';
import { valueConverter } from './type-widening.js';

/**
 * Rewrites rows of a shard's schema into its sink table's column order: a column the shard lacks is null, a
 * value of a narrower type is converted to the wider one (an int32 in an int64 column becomes a bigint).
 * Null when the rows already fit (same columns, same order, same representation): they pass uncopied.
 */
export function rowMapper(shard: TableSchema, target: TableSchema): ((row: Row) => Row) | null {
  const from = target.columns.map((column) => shard.columns.findIndex((c) => c.name === column.name));
  const convert = target.columns.map((column, i) => {
    const source = shard.columns[from[i] ?? -1];
    return source === undefined ? undefined : valueConverter(source.type, column.type);
  });
  const identity =
    from.length === shard.columns.length && from.every((index, i) => index === i) && convert.every((c) => !c);
  if (identity) return null;
  const width = from.length;
  return (row) => {
    const out = new Array<Value>(width);
    for (let i = 0; i < width; i++) {
      const index = from[i] as number;
      const value = index < 0 ? null : (row[index] ?? null);
      const conversion = convert[i];
      out[i] = conversion === undefined || value === null ? value : conversion(value);
    }
    return out;
  };
}
