import type { Row, Value } from '../../core/data-type.js';
import { TributaryError } from '../../core/errors.js';
import { primaryKeyIndexes, tableIdToString, type TableSchema } from '../../core/table-schema.js';

/** Positions of the key columns; SINK_SCHEMA_MISMATCH for a table without a key, which no sink can merge. */
export function keyIndexesOf(schema: TableSchema): number[] {
  if (schema.primaryKey.length === 0) {
    throw new TributaryError('SINK_SCHEMA_MISMATCH', `table ${tableIdToString(schema.id)} has no primary key`, {
      hint: 'the sink merges changes by primary key: add one to the source table, or exclude the table from the pipeline',
    });
  }
  return primaryKeyIndexes(schema);
}

/**
 * A Map key that is equal for equal key values: the value itself for a one-column key of a primitive type
 * (Map compares numbers, bigints and strings by value), otherwise an unambiguous length-prefixed string.
 */
export function rowKey(row: Row, indexes: readonly number[]): unknown {
  if (indexes.length === 1) {
    const value = row[indexes[0]!] ?? null;
    return value instanceof Uint8Array ? keyPart(value) : value;
  }
  let key = '';
  for (const index of indexes) {
    const part = keyPart(row[index] ?? null);
    key += `${part.length}:${part}`;
  }
  return key;
}

function keyPart(value: Value): string {
  if (value === null) return 'n';
  if (value instanceof Uint8Array)
    return 'x' + Buffer.from(value.buffer, value.byteOffset, value.byteLength).toString('hex');
  switch (typeof value) {
    case 'string':
      return 's' + value;
    case 'number':
    case 'bigint':
      // A bigint and a number of the same value are the same key: the column is one type either way.
      return 'i' + String(value);
    default:
      return 'b' + String(value);
  }
}
