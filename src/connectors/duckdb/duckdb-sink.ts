import type { ChangeEvent } from '../../core/change-event.js';
import { TributaryError } from '../../core/errors.js';
import type { OptionValues } from '../../core/option-spec.js';
import type { Checkpoint, Sink } from '../../core/sink.js';
import type { Logger } from '../../runtime/logger.js';
import { ChangeBuffer } from '../sink-kit/change-buffer.js';
import { DuckdbCheckpointStore } from './duckdb-checkpoint-store.js';
import { checkDuckdbPath, openDuckdbDatabase, type DuckdbDatabase } from './duckdb-database.js';
import { displayName } from './duckdb-ddl.js';
import { classifyDuckdbError, type DuckdbErrorPhase } from './duckdb-errors.js';
import { DUCKDB_IN_MEMORY, duckdbSinkConfig, type DuckdbSinkConfig } from './duckdb-sink-config.js';
import { DuckdbTargetTables } from './duckdb-target-tables.js';
import { DuckdbWriter } from './duckdb-writer.js';

export interface DuckdbSinkContext {
  /** Receives notable events (the database opened, its version). */
  readonly log: Logger;
}

/**
 * The DuckDB sink (`type: duckdb`) in merge mode: an embedded analytics database in one file, no server.
 * Events are buffered and collapsed per primary key; `commit` applies every table's net changes and upserts the
 * checkpoint row in ONE DuckDB transaction, so after a crash `open` returns exactly the checkpoint whose effects
 * are in the file. Schema changes run in the same transaction, before the rows that follow them. One
 * connection per sink; DuckDB lets one process at a time write a file.
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

  constructor(
    private readonly config: DuckdbSinkConfig,
    private readonly context: DuckdbSinkContext,
  ) {}

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

  async open(pipeline: string): Promise<Checkpoint | null> {
    this.buffer.reset();
    this.failed = false;
    this.tables?.forgetAll();
    const database = await this.connect('open');
    const store = this.checkpoints!;
    try {
      await this.tables!.ensureSchema(this.config.checkpointSchema);
      await database.connection.run(store.createSql());
      return await store.load(pipeline);
    } catch (error) {
      throw this.classify(error, 'checkpoint', displayName(store.table));
    }
  }

  write(events: readonly ChangeEvent[]): Promise<void> {
    try {
      this.assertUsable();
      this.buffer.add(events);
      return Promise.resolve();
    } catch (error) {
      return Promise.reject(error instanceof Error ? error : new Error(String(error)));
    }
  }

  pending(): number {
    return this.buffer.pending();
  }

  async commit(checkpoint: Checkpoint): Promise<void> {
    this.assertUsable();
    const database = this.database;
    if (database === undefined || this.writer === undefined || this.checkpoints === undefined) {
      throw new TributaryError('INTERNAL', 'duckdb sink: commit() before open()');
    }
    const connection = database.connection;
    const steps = this.buffer.drain();
    try {
      await connection.run('BEGIN TRANSACTION');
      await this.writer.apply(steps);
      await this.checkpoints.save(checkpoint);
      await connection.run('COMMIT');
    } catch (error) {
      this.failed = true;
      const table = this.writer.currentTable;
      this.tables?.forgetAll();
      // DuckDB aborts the transaction on any error; ROLLBACK ends it (and fails harmlessly if COMMIT ended it).
      await connection.run('ROLLBACK').catch(() => undefined);
      throw this.classify(error, 'write', table);
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

  close(): Promise<void> {
    const database = this.database;
    this.database = undefined;
    this.tables = undefined;
    this.writer = undefined;
    this.checkpoints = undefined;
    this.buffer.reset();
    try {
      database?.close();
    } catch {
      // Closing twice, or after DuckDB invalidated the database: nothing left to release.
    }
    return Promise.resolve();
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
    const database = await openDuckdbDatabase(this.config.path, phase);
    const where = this.config.path === DUCKDB_IN_MEMORY ? 'an in-memory database' : this.config.path;
    this.context.log.info(`duckdb: opened ${where} (DuckDB ${database.version})`);
    this.database = database;
    this.tables = new DuckdbTargetTables(database.connection, database.catalog, this.config.schema);
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
