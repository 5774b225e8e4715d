import {
  DuckDBBitValue,
  DuckDBBlobValue,
  DuckDBDateValue,
  DuckDBDecimalValue,
  DuckDBInstance,
  DuckDBIntervalValue,
  DuckDBTimestampTZValue,
  DuckDBTimestampValue,
  VARCHAR,
} from '@duckdb/node-api';
import type { TableId } from '../../src/core/table-schema.js';
import type { SinkTable } from './sink-conformance.js';

/** A DuckDB value read through the API as canonical text (see test/harness/canonical-text.ts). */
export function duckdbText(value: unknown): string | null {
  if (value === null || value === undefined) return null;
  if (value instanceof DuckDBBlobValue) return Buffer.from(value.bytes).toString('hex');
  if (value instanceof DuckDBTimestampTZValue) return `${value.toString().replace(/\+00$/, '')}Z`;
  if (value instanceof DuckDBIntervalValue) return durationText(value.micros);
  if (
    value instanceof DuckDBDecimalValue ||
    value instanceof DuckDBDateValue ||
    value instanceof DuckDBBitValue ||
    value instanceof DuckDBTimestampValue
  ) {
    return value.toString();
  }
  if (
    typeof value === 'string' ||
    typeof value === 'number' ||
    typeof value === 'bigint' ||
    typeof value === 'boolean'
  ) {
    return String(value);
  }
  throw new Error(`no canonical text for a ${typeof value}`);
}

/** An INTERVAL of microseconds as a canonical time: `[-]HH:MM:SS[.ffffff]`, hours beyond 24. */
function durationText(micros: bigint): string {
  const sign = micros < 0n ? '-' : '';
  const abs = micros < 0n ? -micros : micros;
  const seconds = abs / 1_000_000n;
  const fraction = abs % 1_000_000n;
  const two = (n: bigint): string => String(n).padStart(2, '0');
  const base = `${sign}${two(seconds / 3600n)}:${two((seconds / 60n) % 60n)}:${two(seconds % 60n)}`;
  return fraction === 0n ? base : `${base}.${String(fraction).padStart(6, '0')}`;
}

/**
 * A DuckDB table as canonical text, for the conformance suites; undefined when it does not exist. Reads through
 * the process's cached instance of the file, so it may run while a sink in this process writes it. TIMESTAMPTZ
 * values are rendered in UTC (this sets the API's display offset to 0).
 */
export async function readDuckdbTable(path: string, id: TableId): Promise<SinkTable | undefined> {
  DuckDBTimestampTZValue.timezoneOffsetInMinutes = 0;
  const instance = await DuckDBInstance.fromCache(path);
  const connection = await instance.connect();
  try {
    const schema = id.namespace === '' ? 'main' : id.namespace;
    const columns = (
      await connection.runAndReadAll(
        'SELECT column_name FROM duckdb_columns() WHERE database_name = current_database() AND lower(schema_name) = lower($1) AND lower(table_name) = lower($2) ORDER BY column_index',
        [schema, id.name],
        [VARCHAR, VARCHAR],
      )
    )
      .getRows()
      .map((r) => String(r[0]));
    if (columns.length === 0) return undefined;
    const quote = (name: string): string => `"${name.replace(/"/g, '""')}"`;
    const rows = (await connection.runAndReadAll(`SELECT * FROM ${quote(schema)}.${quote(id.name)}`)).getRows();
    return { columns, rows: rows.map((row) => row.map(duckdbText)) };
  } finally {
    connection.closeSync();
    instance.closeSync();
  }
}
