import { VARCHAR } from '@duckdb/node-api';
import type { ChangeEvent } from '../../core/change-event.js';
import { TributaryError } from '../../core/errors.js';
import type { OptionValues } from '../../core/option-spec.js';
import type { Checkpoint, Sink } from '../../core/sink.js';
import { tableIdToString, type TableId, type TableSchema } from '../../core/table-schema.js';
import type { ValidationCheck } from '../../core/validation-check.js';
import type { TableLayout } from '../../core/table-layout.js';
import { logCheckpointWrite } from '../../core/checkpoint-chunks.js';
import type { Logger } from '../../core/logger.js';
import { ChangeBuffer } from '../sink-kit/change-buffer.js';
import { writeBuffered } from '../sink-kit/buffered-write.js';
import { DuckdbCheckpointStore } from './duckdb-checkpoint-store.js';
import { checkDuckdbPath, openDuckdbDatabase, type DuckdbDatabase } from './duckdb-database.js';
import { displayName, qualifiedName } from './duckdb-ddl.js';
import { classifyDuckdbError, type DuckdbErrorPhase } from './duckdb-errors.js';
import { DUCKDB_IN_MEMORY, duckdbSinkConfig, type DuckdbSinkConfig } from './duckdb-sink-config.js';
import { DuckdbTargetTables } from './duckdb-target-tables.js';
import { DuckdbWriter } from './duckdb-writer.js';
import { duckdbChecksums } from './duckdb-checksums.js';
import type { TableChecksums } from '../../core/table-checksums.js';

export interface DuckdbSinkContext {
  /** Receives notable events (the database opened, its version). */
  readonly log: Logger;
  /** The layout (transform `table-options`) of each sink table that has one, for creating it. */
  readonly tableLayout?: (table: TableId) => TableLayout | undefined;
}

/**
 * The DuckDB sink (`type: duckdb`) in merge mode: an embedded analytics database in one file, no server.
 * Events are buffered and collapsed per primary key; `commit` applies every table's net changes and upserts the
 * checkpoint row in ONE DuckDB transaction, so after a crash `open` returns exactly the checkpoint whose effects
 * are in the file. Schema changes run in the same transaction, before the rows that follow them. One
 * connection per sink; DuckDB lets one process at a time write a file.
 *
 * A write that holds a schema event opens that transaction at once and applies what is buffered up to and
 * including each schema event, so that a change the sink cannot apply is reported by its own write (see
 * `Sink.write`). DuckDB has no savepoints: such a change is refused when a check before it finds it would fail
 * (a value that does not convert), before any statement of it ran; a failure past that point ends the
 * transaction.
 *
 * Throws CONFIG_INVALID at once for bad options; everything else surfaces from the methods.
 */
export function duckdbSink(options: OptionValues, context: DuckdbSinkContext): Sink {
  return new DuckdbSink(duckdbSinkConfig(options), context);
}

class DuckdbSink implements Sink {
  private database: DuckdbDatabase | undefined;
  private tables: DuckdbTargetTables | undefined;
  private writer: DuckdbWriter | undefined;
  private checkpoints: DuckdbCheckpointStore | undefined;
  private readonly buffer = new ChangeBuffer();
  /** Set when a commit failed: its events are gone, so only a re-open (and replay) may follow. */
  private failed = false;
  /** A transaction was begun by a write with a schema event; the commit completes it. */
  private inTransaction = false;
  /** Events applied in that transaction (no longer in the buffer), for {@link pending}. */
  private applied = 0;
  readonly maxTablesPerCommit: number;

  constructor(
    private readonly config: DuckdbSinkConfig,
    private readonly context: DuckdbSinkContext,
  ) {
    this.maxTablesPerCommit = config.commitMaxTables;
  }

  /**
   * Checks that the file can be used: a writable DuckDB file not locked by another process, or a writable place
   * to create it. Creates nothing; an existing file is opened (and closed again) to see the lock.
   */
  async validate(): Promise<void> {
    const path = this.config.path;
    const exists = await checkDuckdbPath(path, { create: false });
    if (!exists && this.database === undefined) {
      this.context.log.info(`duckdb: ${path} will be created`);
      return;
    }
    const database = await this.connect('validate');
    try {
      await database.connection.run('SELECT 1');
    } catch (error) {
      throw this.classify(error, 'validate');
    }
  }

  /** Read-only: a file that does not exist yet (or an in-memory database) holds no checkpoint. */
  async savedCheckpoint(pipeline: string): Promise<Checkpoint | null> {
    if (!(await this.exists())) return null;
    const database = await this.connect('validate');
    const store = this.checkpoints!;
    try {
      const columns = await database.connection.runAndReadAll(
        'SELECT column_name FROM duckdb_columns() WHERE database_name = current_database() AND schema_name = $1 AND table_name = $2',
        [store.table.schema, store.table.table],
        [VARCHAR, VARCHAR],
      );
      const names = columns.getRowsJson().map(([name]) => (typeof name === 'string' ? name : ''));
      // No table yet: no checkpoint. A table of a release before operator state: left to `open`, which migrates it.
      if (!names.includes('operators')) return null;
      return await store.load(pipeline, names.includes('bulk'));
    } catch (error) {
      throw this.classify(error, 'checkpoint', displayName(store.table));
    }
  }

  /** Read-only: the target tables as the first write checks them; in a file not created yet, every one will be. */
  async checkTables(schemas: readonly TableSchema[]): Promise<ValidationCheck[]> {
    if (!(await this.exists())) {
      return schemas.map((schema) => ({
        status: 'ok',
        message: `sink table ${tableIdToString(schema.id)}: will be created`,
      }));
    }
    await this.connect('validate');
    try {
      const checks: ValidationCheck[] = [];
      for (const schema of schemas) checks.push(await this.tables!.check(schema));
      return checks;
    } catch (error) {
      throw this.classify(error, 'validate');
    }
  }

  private async exists(): Promise<boolean> {
    return this.database !== undefined || (await checkDuckdbPath(this.config.path, { create: false }));
  }

  async open(pipeline: string): Promise<Checkpoint | null> {
    this.buffer.reset();
    this.failed = false;
    this.tables?.forgetAll();
    const database = await this.connect('open');
    await this.endTransaction('ROLLBACK').catch(() => undefined);
    const store = this.checkpoints!;
    try {
      await this.tables!.ensureSchema(this.config.checkpointSchema);
      await database.connection.run(store.createSql());
      await database.connection.run(store.migrateSql());
      return await store.load(pipeline);
    } catch (error) {
      throw this.classify(error, 'checkpoint', displayName(store.table));
    }
  }

  async write(events: readonly ChangeEvent[]): Promise<void> {
    this.assertUsable();
    await writeBuffered(
      this.buffer,
      events,
      () => this.applyBuffered(),
      (error) => this.fail(error),
    );
  }

  pending(): number {
    return this.buffer.pending() + this.applied;
  }

  async commit(checkpoint: Checkpoint): Promise<void> {
    this.assertUsable();
    try {
      await this.applyBuffered();
      await this.checkpoints!.save(checkpoint);
      await this.endTransaction('COMMIT');
      this.checkpoints!.committed();
      logCheckpointWrite(this.context.log, 'duckdb', checkpoint.id, this.checkpoints!.lastWrite);
    } catch (error) {
      throw await this.fail(error);
    }
  }

  /** Deletes the pipeline's checkpoint row; the sink tables keep their rows (a re-run upserts over them). */
  async reset(pipeline: string): Promise<void> {
    await this.open(pipeline);
    try {
      await this.checkpoints!.remove(pipeline);
    } catch (error) {
      throw this.classify(error, 'checkpoint', displayName(this.checkpoints!.table));
    }
  }

  async truncateTargets(pipeline: string, tables: readonly TableId[]): Promise<string[]> {
    await this.open(pipeline);
    const connection = this.database!.connection;
    const truncated: string[] = [];
    try {
      await connection.run('BEGIN TRANSACTION');
      for (const name of tables.map((id) => this.tables!.nameOf(id))) {
        // DuckDB matches names case-insensitively, quoted or not (see DuckdbTableName).
        const found = await connection.runAndReadAll(
          'SELECT 1 FROM duckdb_tables() WHERE lower(database_name) = lower($1) AND lower(schema_name) = lower($2) ' +
            'AND lower(table_name) = lower($3)',
          [name.catalog, name.schema, name.table],
        );
        if (found.currentRowCount === 0 || truncated.includes(displayName(name))) continue;
        await connection.run(`DELETE FROM ${qualifiedName(name)}`);
        truncated.push(displayName(name));
      }
      await connection.run('COMMIT');
      return truncated;
    } catch (error) {
      await connection.run('ROLLBACK').catch(() => undefined);
      throw this.classify(error, 'write');
    }
  }

  /** On the sink's own connection: close the sink when done (the checksums' close is a no-op). */
  async checksums(): Promise<TableChecksums> {
    await this.connect('open');
    const tables = this.tables!;
    return duckdbChecksums(this.database!.connection, (id) => tables.nameOf(id));
  }

  close(): Promise<void> {
    const database = this.database;
    this.database = undefined;
    this.tables = undefined;
    this.writer = undefined;
    this.checkpoints = undefined;
    this.buffer.reset();
    this.inTransaction = false;
    this.applied = 0;
    try {
      database?.close();
    } catch {
      // Closing twice, or after DuckDB invalidated the database: nothing left to release.
    }
    return Promise.resolve();
  }

  /** Applies what is buffered in the open transaction, beginning one if none is open. */
  private async applyBuffered(): Promise<void> {
    const database = this.database;
    if (database === undefined || this.writer === undefined || this.checkpoints === undefined) {
      throw new TributaryError('INTERNAL', 'duckdb sink: write() or commit() before open()');
    }
    if (!this.inTransaction) {
      await database.connection.run('BEGIN TRANSACTION');
      this.inTransaction = true;
      this.tables!.holdTransaction(true);
    }
    const count = this.buffer.pending();
    await this.writer.apply(this.buffer.drain());
    this.applied += count;
  }

  /** COMMITs or rolls back the open transaction, if any. */
  private async endTransaction(statement: 'COMMIT' | 'ROLLBACK'): Promise<void> {
    const wasOpen = this.inTransaction;
    this.inTransaction = false;
    this.applied = 0;
    this.tables?.holdTransaction(false);
    if (wasOpen) await this.database?.connection.run(statement);
  }

  /** Rolls back after an error and returns the error to throw; the sink refuses work until re-opened. */
  private async fail(error: unknown): Promise<TributaryError> {
    this.failed = true;
    const table = this.writer?.currentTable;
    this.tables?.forgetAll();
    this.inTransaction = false;
    this.applied = 0;
    this.tables?.holdTransaction(false);
    // DuckDB aborts the transaction on any error; ROLLBACK ends it (and fails harmlessly if COMMIT ended it).
    await this.database?.connection.run('ROLLBACK').catch(() => undefined);
    return this.classify(error, 'write', table);
  }

  private assertUsable(): void {
    if (this.failed) {
      throw new TributaryError(
        'INTERNAL',
        'duckdb sink: a commit failed; close and re-open the sink to replay from the last checkpoint',
      );
    }
  }

  /** The sink's one connection, opened on first use. */
  private async connect(phase: DuckdbErrorPhase): Promise<DuckdbDatabase> {
    if (this.database !== undefined) return this.database;
    const database = await openDuckdbDatabase(this.config.path, phase, this.config.memoryLimitBytes);
    const where = this.config.path === DUCKDB_IN_MEMORY ? 'an in-memory database' : this.config.path;
    this.context.log.info(`duckdb: opened ${where} (DuckDB ${database.version})`);
    this.database = database;
    this.tables = new DuckdbTargetTables(
      database.connection,
      database.catalog,
      this.config.schema,
      this.context.tableLayout,
    );
    this.writer = new DuckdbWriter(database.connection, this.tables);
    this.checkpoints = new DuckdbCheckpointStore(database.connection, {
      catalog: database.catalog,
      schema: this.config.checkpointSchema,
      table: this.config.checkpointTable,
    });
    return database;
  }

  private classify(error: unknown, phase: DuckdbErrorPhase, table?: string): TributaryError {
    return classifyDuckdbError(error, { phase, path: this.config.path, ...(table === undefined ? {} : { table }) });
  }
}
