import type { DuckDBAppender, DuckDBConnection } from '@duckdb/node-api';
import { TributaryError } from '../../core/errors.js';
import type { ApplyStep, TableChanges } from '../sink-kit/change-buffer.js';
import { displayName, qualifiedName, quoteIdent } from './duckdb-ddl.js';
import type { DuckdbTargetTables, TargetTable } from './duckdb-target-tables.js';
import { DuckdbValueError, duckdbTransportType, valueAppender } from '../sink-kit/duckdb-appender.js';

/** The appender runs on the JavaScript thread; let the event loop breathe (binlog socket, signals) this often. */
const ROWS_BETWEEN_YIELDS = 16_384;

/**
 * Applies the steps of one commit inside the caller's open transaction. Per table run: a TEMP staging table
 * (an op flag plus the table's columns in their transport types, see `duckdbTransportType`) is filled by the
 * DuckDB appender with the collapsed rows — deletes carry only the key — then two statements apply it:
 * `DELETE … USING staging` for keys whose last state is absent, and `INSERT … SELECT CAST(…) … ON CONFLICT
 * (key) DO UPDATE` for the rest; then the staging table is dropped. Never a statement per row.
 *
 * Deletes run before upserts: a key is in one of the two sets only, and an update that changed the key is a
 * delete of the old key plus an upsert of the new one, so no statement touches a key twice. DuckDB checks
 * unique constraints eagerly inside a transaction; since 1.2 it accepts a key deleted and inserted again in
 * one transaction (tested in test/duckdb-sink.int.test.ts), and the upsert never updates key columns.
 */
export class DuckdbWriter {
  private stagingCounter = 0;
  /** The sink table of the step being applied, for error messages. */
  currentTable: string | undefined;

  constructor(
    private readonly connection: DuckDBConnection,
    private readonly tables: DuckdbTargetTables,
  ) {}

  /** Runs every step in order. On any error the caller must roll back. */
  async apply(steps: readonly ApplyStep[]): Promise<void> {
    this.tables.beginTransaction();
    for (const step of steps) {
      const id = step.kind === 'schema' ? step.event.table : step.changes.table;
      this.currentTable = displayName(this.tables.nameOf(id));
      if (step.kind === 'schema') await this.tables.apply(step.event, step.previous);
      else await this.applyChanges(step.changes);
    }
    this.currentTable = undefined;
  }

  private async applyChanges(changes: TableChanges): Promise<void> {
    if (changes.upsertCount === 0 && changes.deletes.size === 0) return;
    const target = await this.tables.target(changes.schema);
    const columns = target.schema.columns.map((c) => c.name);
    let opColumn = '_tributary_op';
    while (columns.some((c) => c.toLowerCase() === opColumn.toLowerCase())) opColumn = `_${opColumn}`;
    const stagingTable = `tributary_staging_${++this.stagingCounter}`;
    const staging = `"temp"."main".${quoteIdent(stagingTable)}`;
    const definitions = [`${quoteIdent(opColumn)} BOOLEAN NOT NULL`];
    target.schema.columns.forEach((c) => definitions.push(`${quoteIdent(c.name)} ${duckdbTransportType(c.type)}`));
    await this.connection.run(`CREATE TEMP TABLE ${quoteIdent(stagingTable)} (${definitions.join(', ')})`);

    const appender = await this.connection.createAppender(stagingTable, 'main', 'temp');
    try {
      await this.fill(appender, changes, target);
      appender.closeSync();
    } catch (error) {
      appender.clear();
      try {
        appender.closeSync();
      } catch {
        // The appender is discarded with the transaction anyway.
      }
      throw error;
    }

    this.tables.noteWritten(target.name);
    if (changes.deletes.size > 0) await this.connection.run(deleteSql(target, staging, opColumn));
    if (changes.upsertCount > 0) await this.connection.run(upsertSql(target, staging, opColumn));
    await this.connection.run(`DROP TABLE ${staging}`);
  }

  /** Appends `u` rows with every column and `d` rows with only the key (other columns NULL). */
  private async fill(appender: DuckDBAppender, changes: TableChanges, target: TargetTable): Promise<void> {
    const columns = target.schema.columns;
    const width = columns.length;
    const appenders = columns.map((c) => valueAppender(duckdbTransportType(c.type)));
    const keyOnly = columns.map((_, i) => changes.keyIndexes.includes(i));
    let column = 0;
    let rows = 0;
    try {
      for (const row of changes.upserts.values()) {
        appender.appendBoolean(true);
        for (column = 0; column < width; column++) {
          const value = row[column] ?? null;
          if (value === null) appender.appendNull();
          else appenders[column]!(appender, value);
        }
        appender.endRow();
        if (++rows % ROWS_BETWEEN_YIELDS === 0) await yieldToEventLoop();
      }
      for (const row of changes.deletes.values()) {
        appender.appendBoolean(false);
        for (column = 0; column < width; column++) {
          const value = keyOnly[column] ? (row[column] ?? null) : null;
          if (value === null) appender.appendNull();
          else appenders[column]!(appender, value);
        }
        appender.endRow();
        if (++rows % ROWS_BETWEEN_YIELDS === 0) await yieldToEventLoop();
      }
    } catch (error) {
      if (error instanceof DuckdbValueError) {
        const name = columns[column]?.name ?? `#${column + 1}`;
        throw new TributaryError('SINK_WRITE_FAILED', `${displayName(target.name)}.${name}: ${error.message}`, {
          hint: 'the value does not fit the column type the source declared; check the transform projection or the source column',
          retryable: false,
        });
      }
      throw error;
    }
  }
}

function yieldToEventLoop(): Promise<void> {
  return new Promise((resolve) => setImmediate(resolve));
}

/** `CAST(s."c" AS <the target column's actual type>)`: text travels to DECIMAL, TIMESTAMP, JSON … exactly. */
function cast(target: TargetTable, index: number, alias: string): string {
  const column = target.schema.columns[index]!;
  return `CAST(${alias}.${quoteIdent(column.name)} AS ${target.columnTypes[index] ?? 'VARCHAR'})`;
}

function deleteSql(target: TargetTable, staging: string, opColumn: string): string {
  const indexes = target.schema.primaryKey.map((k) => target.schema.columns.findIndex((c) => c.name === k));
  const match = indexes
    .map((i) => `t.${quoteIdent(target.schema.columns[i]!.name)} = ${cast(target, i, 's')}`)
    .join(' AND ');
  return `DELETE FROM ${qualifiedName(target.name)} AS t USING ${staging} AS s WHERE NOT s.${quoteIdent(opColumn)} AND ${match}`;
}

function upsertSql(target: TargetTable, staging: string, opColumn: string): string {
  const columns = target.schema.columns.map((c) => quoteIdent(c.name));
  const values = target.schema.columns.map((_, i) => cast(target, i, 's'));
  const key = new Set(target.schema.primaryKey);
  const updates = target.schema.columns
    .filter((c) => !key.has(c.name))
    .map((c) => `${quoteIdent(c.name)} = EXCLUDED.${quoteIdent(c.name)}`);
  const conflict = `ON CONFLICT (${target.schema.primaryKey.map(quoteIdent).join(', ')}) ${updates.length === 0 ? 'DO NOTHING' : `DO UPDATE SET ${updates.join(', ')}`}`;
  return (
    `INSERT INTO ${qualifiedName(target.name)} (${columns.join(', ')}) ` +
    `SELECT ${values.join(', ')} FROM ${staging} AS s WHERE s.${quoteIdent(opColumn)} ${conflict}`
  );
}
