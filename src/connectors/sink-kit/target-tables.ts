import type { SchemaChangeEvent } from '../../core/change-event.js';
import type { DataType } from '../../core/data-type.js';
import { SchemaChangeFailedError, TributaryError } from '../../core/errors.js';
import type { TableId, TableSchema } from '../../core/table-schema.js';
import type { ValidationCheck } from '../../core/validation-check.js';
import { addedColumnDefaultSql, columnChangeSql, createTableSql, dropTableSql, truncateTableSql } from './table-ddl.js';
import { columnRenames, planTargetTable, type ColumnChange, type ExistingColumn } from './target-table-plan.js';

/** Where a sink table lives: at least a schema and a table name. */
export interface SinkTableName {
  readonly schema: string;
  readonly table: string;
}

/** What a sink's catalog says of an existing relation. */
export interface SinkCatalogTable {
  /** False for a view or other relation that is not a plain table. */
  readonly isTable: boolean;
  readonly columns: readonly ExistingColumn[];
  /** The column sets of the primary key and the unique indexes/constraints. */
  readonly uniqueKeys: readonly (readonly string[])[];
}

/** A sink table as checked against one source schema: where it is and the sink type of each column. */
export interface TargetTable<N extends SinkTableName> {
  readonly name: N;
  /** The source schema it was checked against; rows of that schema can be written. */
  readonly schema: TableSchema;
  /** Sink type of each column of `schema`, in `schema.columns` order (the table's actual types). */
  readonly columnTypes: readonly string[];
}

/**
 * Creates, checks and evolves sink tables, and remembers what it found; the SQL dialect comes from the
 * subclass. Every statement runs on the sink's connection inside the commit's transaction, so DDL and data
 * commit or roll back together; after a rollback call {@link forgetAll}, since the remembered facts may have
 * been rolled back.
 *
 * A schema change other than createTable is applied so that its failure can be undone without losing the
 * transaction ({@link beginUndoable} … {@link undo}: a savepoint in PostgreSQL; in DuckDB, which has none, a
 * check before any statement runs). A failure undone is thrown as {@link SchemaChangeFailedError}; one that
 * cannot be undone is thrown as it is, and the caller must roll back.
 */
export abstract class TargetTables<N extends SinkTableName> {
  private readonly known = new Map<string, TargetTable<N>>();

  /** `PostgreSQL`, `DuckDB`: for messages. */
  protected abstract readonly product: string;
  /** The sink table a table id maps to. */
  abstract nameOf(id: TableId): N;
  /** Creates the schema if missing. */
  abstract ensureSchema(schema: string): Promise<void>;
  /** The qualified, quoted name for SQL. */
  protected abstract sqlName(name: N): string;
  /** `schema.table`, unquoted, for messages. */
  protected abstract display(name: N): string;
  protected abstract typeOf(type: DataType): string;
  /** Whether two identifiers name the same object in this sink. */
  protected abstract sameName(a: string, b: string): boolean;
  /** Throws SINK_SCHEMA_MISMATCH for a name the sink cannot hold. */
  protected abstract checkIdentifier(name: string, what: string): void;
  protected abstract read(name: N): Promise<SinkCatalogTable | undefined>;
  protected abstract run(sql: string): Promise<void>;
  /** Renames (and moves) a table that exists to a name that does not; `next` is the schema it follows after. */
  protected abstract renameTable(from: N, to: N, next: TableSchema): Promise<void>;
  /** Whether a failed type change failed on a value that does not convert (rather than on the connection …). */
  protected abstract isConversionError(error: unknown): boolean;
  /** How to give an existing table the source's key, for the hint of a table without it. */
  protected abstract addKeyHint(name: N): string;
  /** Starts a schema change that {@link undo} can take back. */
  protected abstract beginUndoable(): Promise<void>;
  /** The schema change started by {@link beginUndoable} succeeded. */
  protected abstract endUndoable(): Promise<void>;
  /**
   * Takes back what ran since {@link beginUndoable}, leaving the transaction usable; false when it cannot (the
   * transaction must then be rolled back).
   */
  protected abstract undo(): Promise<boolean>;

  /**
   * Before a plan runs: the error that one of its changes would fail with, found without running it (a value
   * that does not convert), or undefined. For a sink that cannot undo a failed statement; by default none.
   */
  protected precheck(_name: N, _changes: readonly ColumnChange[]): Promise<TributaryError | undefined> {
    return Promise.resolve(undefined);
  }

  /**
   * The statements that create a missing table for `schema`: by default CREATE TABLE with the columns and key.
   * A sink that lays tables out (partitions, storage options from the transform's `partition-keys` and
   * `table-options`) overrides it.
   */
  protected createStatements(name: N, schema: TableSchema): string[] {
    return [createTableSql(this.sqlName(name), schema, (type) => this.typeOf(type))];
  }

  /**
   * Creates the missing table `name` and its schema; false when another session created the table at the same
   * moment, so that {@link ensure} uses it as found. By default, the {@link createStatements} one by one.
   */
  protected async createTable(name: N, schema: TableSchema): Promise<boolean> {
    await this.ensureSchema(name.schema);
    for (const sql of this.createStatements(name, schema)) await this.run(sql);
    return true;
  }

  /** Called when {@link ensure} has just created the table `name` (its transaction not yet committed). */
  protected created(_name: N): void {}

  /** Whether `error`, thrown while a schema change ran, fails the same way every time (so undoing it is right). */
  protected isChangeFailure(error: unknown): boolean {
    return error instanceof TributaryError && !error.retryable;
  }

  /** The checked target for rows of `schema`: remembered, or checked (and created if missing) now. */
  async target(schema: TableSchema): Promise<TargetTable<N>> {
    const known = this.known.get(this.keyOf(this.nameOf(schema.id)));
    if (known !== undefined && known.schema === schema) return known;
    return this.ensure(schema, 'create');
  }

  forgetAll(): void {
    this.known.clear();
  }

  /**
   * Makes the sink table match `event.schema`, in the current transaction (docs/connectors/postgres.md and
   * duckdb.md, "Schema changes"). `previous` is the schema the table followed until now.
   */
  async apply(event: SchemaChangeEvent, previous: TableSchema | undefined): Promise<void> {
    if (event.change === 'createTable') {
      await this.ensure(event.schema, 'create');
      return;
    }
    await this.beginUndoable();
    try {
      await this.change(event, previous);
    } catch (error) {
      if (!(error instanceof SchemaChangeFailedError || this.isChangeFailure(error)) || !(await this.undo()))
        throw error;
      this.forgetAll();
      throw this.changeFailed(event, previous, error);
    }
    await this.endUndoable();
  }

  private async change(event: SchemaChangeEvent, previous: TableSchema | undefined): Promise<void> {
    const name = this.nameOf(event.table);
    switch (event.change) {
      case 'createTable':
        await this.ensure(event.schema, 'create');
        return;
      case 'truncateTable':
        if ((await this.read(name)) !== undefined) await this.run(truncateTableSql(this.sqlName(name)));
        return;
      case 'dropTable':
        await this.run(dropTableSql(this.sqlName(name)));
        this.known.delete(this.keyOf(name));
        return;
      case 'renameTable': {
        const to = this.nameOf(event.schema.id);
        this.known.delete(this.keyOf(name));
        if (this.keyOf(to) !== this.keyOf(name) && (await this.read(name)) !== undefined && !(await this.read(to))) {
          this.checkIdentifier(to.table, 'table');
          await this.ensureSchema(to.schema);
          await this.renameTable(name, to, event.schema);
        }
        await this.evolve(to, event, previous);
        return;
      }
      case 'addColumn':
      case 'dropColumn':
      case 'renameColumn':
      case 'alterColumnType':
      case 'refreshTable':
        await this.evolve(name, event, previous);
        return;
    }
  }

  private async evolve(name: N, event: SchemaChangeEvent, previous: TableSchema | undefined): Promise<void> {
    const next = event.schema;
    const current = await this.read(name);
    if (current !== undefined) {
      for (const column of next.columns) this.checkIdentifier(column.name, `column of ${this.display(name)}`);
      const changes = planTargetTable({
        current: current.columns,
        previous,
        next,
        renames: columnRenames(event, previous),
        typeOf: (type) => this.typeOf(type),
        sameName: (a, b) => this.sameName(a, b),
        defaultOf: addedColumnDefaultSql,
      });
      if (changes.length > 0) {
        const refusal = await this.precheck(name, changes);
        if (refusal !== undefined) throw refusal;
        await this.applyColumnChanges(name, changes, current, next);
      }
    }
    await this.ensure(next, 'evolve');
  }

  /** Carries out a plan; by default with {@link alterColumns}. A sink that cannot alter in place overrides this. */
  protected async applyColumnChanges(
    name: N,
    changes: readonly ColumnChange[],
    _current: SinkCatalogTable,
    _next: TableSchema,
  ): Promise<void> {
    await this.alterColumns(name, changes);
  }

  /**
   * One ALTER TABLE per planned change, on `name` (a sink table, or another table of the sink such as a
   * changelog); a type change that a value in the table does not survive is SINK_SCHEMA_CHANGE_FAILED.
   */
  async alterColumns(name: N, changes: readonly ColumnChange[]): Promise<void> {
    for (const change of changes) {
      try {
        await this.run(columnChangeSql(this.sqlName(name), change));
      } catch (error) {
        if (change.kind !== 'alterType' || !this.isConversionError(error)) throw error;
        throw this.typeChangeError(name, change.column, change.from, change.to, error);
      }
    }
  }

  /** SINK_SCHEMA_CHANGE_FAILED for a type change that values in the sink table do not survive. */
  protected typeChangeError(name: N, column: string, from: string, to: string, cause: unknown): TributaryError {
    const reason = cause instanceof Error ? cause.message.split('\n')[0] : String(cause);
    return new TributaryError(
      'SINK_SCHEMA_CHANGE_FAILED',
      `cannot change column ${column} of ${this.display(name)} from ${from} to ${to}: a value in the table does not convert (${reason})`,
      {
        hint: `convert or remove those values in ${this.display(name)} yourself (ALTER TABLE … ALTER COLUMN "${column}" TYPE ${to} USING …), or drop the table and run with --reset to reload it; the pipeline then resumes from its last checkpoint`,
        cause,
      },
    );
  }

  /** The error that reports `event` as failed and undone: `error`'s message and hint, and the event. */
  private changeFailed(
    event: SchemaChangeEvent,
    previous: TableSchema | undefined,
    error: unknown,
  ): SchemaChangeFailedError {
    if (error instanceof SchemaChangeFailedError) return error;
    if (error instanceof TributaryError) {
      return new SchemaChangeFailedError(event, previous, error.message, {
        ...(error.hint === undefined ? {} : { hint: error.hint }),
        cause: error,
      });
    }
    // Driver errors may carry connection parameters in their properties: keep only message and code.
    const reason = error instanceof Error ? (error.message.split('\n')[0] ?? '') : String(error);
    const code = (error as { code?: unknown } | null)?.code;
    const cause = Object.assign(new Error(reason), typeof code === 'string' ? { code } : {});
    const display = this.display(this.nameOf(event.table));
    const ddl = event.ddl === undefined ? '' : ` (from \`${event.ddl}\`)`;
    return new SchemaChangeFailedError(
      event,
      previous,
      `${this.product} cannot apply the schema change ${event.change}${ddl} to ${display}${typeof code === 'string' ? ` (${code})` : ''}: ${reason}`,
      {
        hint: `change ${display} by hand so that it fits the source, or drop it and run with --reset to reload it; with pipeline.schema.change.behavior: try_evolve such a change is skipped`,
        cause,
      },
    );
  }

  /**
   * Makes the table exist and fit `schema`, then remembers it. A missing table is created (and its schema).
   * An existing one must have every source column and a primary key or unique index on exactly the source
   * key; in `create` mode a missing column is SINK_SCHEMA_MISMATCH, in `evolve` mode it is added (with the
   * source's default, as a planned add is).
   */
  async ensure(schema: TableSchema, mode: 'create' | 'evolve'): Promise<TargetTable<N>> {
    const name = this.nameOf(schema.id);
    const display = this.display(name);
    this.checkDeclaration(name, schema);

    let current = await this.read(name);
    if (current === undefined) {
      if (await this.createTable(name, schema)) this.created(name);
      current = await this.read(name);
      if (current === undefined) throw new TributaryError('INTERNAL', `table ${display} vanished after CREATE TABLE`);
    }
    if (mode === 'evolve' && current.isTable) {
      const columns = [...current.columns];
      for (const column of schema.columns) {
        if (columns.some((c) => this.sameName(c.name, column.name))) continue;
        const type = this.typeOf(column.type);
        const fill = addedColumnDefaultSql(column, type);
        const change: ColumnChange = { kind: 'add', column, type, ...(fill === undefined ? {} : { default: fill }) };
        await this.run(columnChangeSql(this.sqlName(name), change));
        columns.push({ name: column.name, type, notNull: false, hasDefault: fill !== undefined });
      }
      current = { ...current, columns };
    }
    const columnTypes = this.checkFit(name, current, schema);
    const target: TargetTable<N> = { name, schema, columnTypes };
    this.known.set(this.keyOf(name), target);
    return target;
  }

  /**
   * What {@link ensure} in `create` mode — the first write of a table — would find, for `validate`: creates
   * and changes nothing. `ok` when the table fits or does not exist yet; `error` with the SINK_SCHEMA_MISMATCH
   * that the run would stop with.
   */
  async check(schema: TableSchema): Promise<ValidationCheck> {
    const name = this.nameOf(schema.id);
    const display = this.display(name);
    try {
      this.checkDeclaration(name, schema);
      const current = await this.read(name);
      if (current === undefined) return { status: 'ok', message: `sink table ${display}: will be created` };
      this.checkFit(name, current, schema);
      return { status: 'ok', message: `sink table ${display}: exists and fits (${schema.columns.length} columns)` };
    } catch (error) {
      if (!(error instanceof TributaryError) || error.code !== 'SINK_SCHEMA_MISMATCH') throw error;
      return {
        status: 'error',
        code: error.code,
        message: error.message,
        ...(error.hint === undefined ? {} : { fix: error.hint }),
      };
    }
  }

  /** Names the sink can hold, and a key: SINK_SCHEMA_MISMATCH otherwise. */
  protected checkDeclaration(name: N, schema: TableSchema): void {
    const display = this.display(name);
    this.checkIdentifier(name.schema, 'schema');
    this.checkIdentifier(name.table, 'table');
    for (const column of schema.columns) this.checkIdentifier(column.name, `column of ${display}`);
    if (schema.primaryKey.length === 0) {
      throw new TributaryError('SINK_SCHEMA_MISMATCH', `table ${display} has no primary key`, {
        hint: 'the sink merges changes by primary key: add one to the source table, or exclude the table from the pipeline',
      });
    }
  }

  /**
   * Whether rows of `schema` can be written into the existing table `current`: a table (not a view), every
   * source column there, no NOT NULL column without default that the source does not fill, a primary key or
   * unique index on exactly the source key. Returns the table's type of each source column; throws
   * SINK_SCHEMA_MISMATCH naming the first misfit and its fix.
   */
  private checkFit(name: N, current: SinkCatalogTable, schema: TableSchema): string[] {
    const display = this.display(name);
    if (!current.isTable) {
      throw new TributaryError('SINK_SCHEMA_MISMATCH', `${display} exists in ${this.product} but is not a table`, {
        hint: `drop or rename the existing relation ${display}, or route the source table to another name`,
      });
    }
    const columnTypes: string[] = [];
    for (const column of schema.columns) {
      const found = current.columns.find((c) => this.sameName(c.name, column.name));
      if (found === undefined) {
        throw new TributaryError(
          'SINK_SCHEMA_MISMATCH',
          `table ${display} exists in ${this.product} without column ${column.name}, which the source has`,
          {
            hint: `add it (ALTER TABLE ${display} ADD COLUMN "${column.name}" ${this.typeOf(column.type)}), or drop the table to have it recreated and reloaded`,
          },
        );
      }
      columnTypes.push(found.type);
    }
    for (const column of current.columns) {
      if (schema.columns.some((c) => this.sameName(c.name, column.name))) continue;
      if (column.notNull && !column.hasDefault) {
        throw new TributaryError(
          'SINK_SCHEMA_MISMATCH',
          `table ${display} has a NOT NULL column ${column.name} without default that the source does not have`,
          {
            hint: `give it a default or allow NULL (ALTER TABLE ${display} ALTER COLUMN "${column.name}" DROP NOT NULL)`,
          },
        );
      }
    }
    const keyed = current.uniqueKeys.some(
      (columns) =>
        columns.length === schema.primaryKey.length &&
        columns.every((c) => schema.primaryKey.some((k) => this.sameName(k, c))),
    );
    if (!keyed) {
      throw new TributaryError(
        'SINK_SCHEMA_MISMATCH',
        `table ${display} has no primary key or unique index on (${schema.primaryKey.join(', ')}), the source's key`,
        { hint: this.addKeyHint(name) },
      );
    }
    return columnTypes;
  }

  /** A Map key for a sink table: equal for names the sink takes as one. */
  protected keyOf(name: N): string {
    return `${name.schema}\u0000${name.table}`;
  }
}
