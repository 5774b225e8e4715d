/**
 * The suite's DuckDB target (`--sink duckdb`): a file in the pipeline's state directory, and the checksum of a
 * table in it computed as the source's and PostgreSQL's are (bench/tables.ts). The pipeline's process holds the
 * file while it runs, so the file is read after the pipeline has stopped.
 */
import { join } from 'node:path';
import { sameChecksum, type Checksum, type TableShape } from './tables.js';

const FILE = 'target.duckdb';
/** DuckDB names a file's catalog after it. */
const CATALOG = 'target';

export const duckdbTargetPath = (stateDir: string): string => join(stateDir, FILE);

/** A shape's checksum in DuckDB's SQL, by shape name (the same aggregates as its `pgChecksum`). */
const AGGREGATES: Record<string, readonly string[]> = {
  narrow: [
    'count(*)',
    'sum(a)',
    'sum(b)',
    'sum(c)',
    'sum(length(d) + length(e))',
    "sum(epoch_us(f) - epoch_us(TIMESTAMP '2024-01-01 00:00:00'))",
  ],
};

/** Throws unless `table` (`schema.name`) in the DuckDB file equals `expected`. */
export async function verifyDuckdbTarget(
  stateDir: string,
  table: string,
  shape: TableShape,
  expected: Checksum,
): Promise<void> {
  const aggregates = AGGREGATES[shape.name];
  if (aggregates === undefined) throw new Error(`no DuckDB checksum for the ${shape.name} shape`);
  const { DuckDBInstance } = await import('@duckdb/node-api');
  const instance = await DuckDBInstance.create(duckdbTargetPath(stateDir), { access_mode: 'READ_ONLY' });
  const connection = await instance.connect();
  try {
    const [schema, name] = table.split('.');
    const select = aggregates.map((a, i) => `CAST(${a} AS VARCHAR) AS c${i}`).join(', ');
    const reader = await connection.runAndReadAll(`SELECT ${select} FROM "${CATALOG}"."${schema}"."${name}"`);
    const row = reader.getRows()[0] ?? [];
    const actual: Checksum = aggregates.map((_, i) => String(row[i] ?? 'null'));
    if (!sameChecksum(actual, expected)) {
      throw new Error(
        `${table} in DuckDB differs from the source: ${JSON.stringify(actual)} ≠ ${JSON.stringify(expected)}`,
      );
    }
  } finally {
    connection.closeSync();
    instance.closeSync();
  }
}
