import { DuckDBInstance, type DuckDBAppender, type DuckDBConnection } from '@duckdb/node-api';
import { stat, unlink } from 'node:fs/promises';
import type { DataType, Row } from '../../core/data-type.js';
import { TributaryError } from '../../core/errors.js';
import { DuckdbValueError, duckdbTransportType, valueAppender } from '../sink-kit/duckdb-appender.js';
import { icebergType } from './iceberg-types.js';

/** A column of a Parquet file the sink writes: its Iceberg name, field id and canonical type. */
export interface ParquetColumn {
  readonly name: string;
  readonly fieldId: number;
  readonly type: DataType;
  /** Where the value sits in the rows handed over. */
  readonly index: number;
}

const quote = (name: string): string => `"${name.replaceAll('"', '""')}"`;
const literal = (text: string): string => `'${text.replaceAll("'", "''")}'`;

/**
 * Writes Parquet files with Iceberg field ids through an in-memory DuckDB: rows go in with DuckDB's appender
 * (numbers and bytes natively, decimals, dates and timestamps as their canonical text, cast exactly by DuckDB),
 * then `COPY … (FORMAT parquet, FIELD_IDS …)` writes them in the Parquet types the Iceberg spec requires
 * (see {@link icebergType}). One instance per sink.
 */
export class IcebergParquetWriter {
  private counter = 0;

  private constructor(
    private readonly instance: DuckDBInstance,
    private readonly connection: DuckDBConnection,
  ) {}

  static async open(): Promise<IcebergParquetWriter> {
    const instance = await DuckDBInstance.create(':memory:');
    const connection = await instance.connect();
    return new IcebergParquetWriter(instance, connection);
  }

  /**
   * Writes `rows` (only `columns` of each) to Parquet files at paths `pathFor` gives, each about `targetBytes` at
   * most (see {@link copyInFiles}); returns them. `icebergSchema` (the table schema's JSON) goes into the footer as
   * `iceberg.schema`, as Iceberg's own writers put it, so that a reader can map columns by field id after renames.
   */
  async write(
    pathFor: () => string,
    columns: readonly ParquetColumn[],
    rows: Iterable<Row>,
    table: string,
    options: { readonly icebergSchema?: string; readonly targetBytes?: number } = {},
  ): Promise<WrittenFile[]> {
    const staging = `rows_${++this.counter}`;
    const definitions = columns.map((c, i) => `c${i} ${duckdbTransportType(c.type)}`);
    await this.connection.run(`CREATE TEMP TABLE ${staging} (${definitions.join(', ')})`);
    try {
      const appender = await this.connection.createAppender(staging, 'main', 'temp');
      let count: number;
      try {
        count = fill(appender, columns, rows, table);
        appender.closeSync();
      } catch (error) {
        appender.clear();
        appender.closeSync();
        throw error;
      }
      const select = columns.map((c, i) => `CAST(c${i} AS ${icebergType(c.type).duckdb}) AS ${quote(c.name)}`);
      const fieldIds = columns.map((c) => `${literal(c.name)}: ${c.fieldId}`);
      const copyOptions =
        `FORMAT parquet, COMPRESSION zstd, FIELD_IDS {${fieldIds.join(', ')}}` +
        (options.icebergSchema === undefined
          ? ''
          : `, KV_METADATA {'iceberg.schema': ${literal(options.icebergSchema)}}`);
      return await copyInFiles(
        this.connection,
        staging,
        select.join(', '),
        count,
        copyOptions,
        pathFor,
        options.targetBytes,
      );
    } finally {
      await this.connection.run(`DROP TABLE IF EXISTS ${staging}`);
    }
  }

  close(): void {
    this.connection.closeSync();
    this.instance.closeSync();
  }
}

function fill(appender: DuckDBAppender, columns: readonly ParquetColumn[], rows: Iterable<Row>, table: string): number {
  const appenders = columns.map((c) => valueAppender(duckdbTransportType(c.type)));
  let at = 0;
  let count = 0;
  try {
    for (const row of rows) {
      count++;
      for (at = 0; at < columns.length; at++) {
        const value = row[columns[at]!.index] ?? null;
        if (value === null) appender.appendNull();
        else appenders[at]!(appender, value);
      }
      appender.endRow();
    }
    return count;
  } catch (error) {
    if (error instanceof DuckdbValueError) {
      throw new TributaryError('SINK_WRITE_FAILED', `${table}.${columns[at]?.name ?? '?'}: ${error.message}`, {
        retryable: false,
        hint: 'the value does not fit the column type; see docs/type-mapping.md',
      });
    }
    throw error;
  }
}

/** A Parquet file written: where, its size in bytes and its number of rows. */
export interface WrittenFile {
  readonly path: string;
  readonly size: number;
  readonly rows: number;
}

/**
 * `COPY (SELECT select FROM table) TO … (copyOptions)` into one file, or — when that file is larger than
 * `targetBytes` (Iceberg's `write.target-file-size-bytes`) — into as many files of consecutive rows (by `rowid`,
 * which counts 0… in a table only appended to) as its size divided by the target, each about the target's size.
 * `rows` is the table's row count.
 */
export async function copyInFiles(
  connection: DuckDBConnection,
  table: string,
  select: string,
  rows: number,
  copyOptions: string,
  pathFor: () => string,
  targetBytes: number | undefined,
): Promise<WrittenFile[]> {
  const first = pathFor();
  await connection.run(`COPY (SELECT ${select} FROM ${table}) TO ${literal(first)} (${copyOptions})`);
  const size = (await stat(first)).size;
  if (targetBytes === undefined || size <= targetBytes || rows <= 1) return [{ path: first, size, rows }];
  await unlink(first);
  const parts = Math.min(rows, Math.ceil(size / targetBytes));
  const per = Math.ceil(rows / parts);
  const files: WrittenFile[] = [];
  for (let start = 0; start < rows; start += per) {
    const path = pathFor();
    await connection.run(
      `COPY (SELECT ${select} FROM ${table} WHERE rowid >= ${start} AND rowid < ${start + per}) TO ${literal(path)} (${copyOptions})`,
    );
    files.push({ path, size: (await stat(path)).size, rows: Math.min(per, rows - start) });
  }
  return files;
}
