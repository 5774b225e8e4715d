import { VARCHAR, type DuckDBConnection } from '@duckdb/node-api';
import type { DataType } from '../../core/data-type.js';
import type { TableId, TableSchema } from '../../core/table-schema.js';
import type { TableLayout } from '../../core/table-layout.js';
import { quoteLiteral } from '../sink-kit/sql-text.js';
import type { TributaryError } from '../../core/errors.js';
import { plannedColumns, type ColumnChange } from '../sink-kit/target-table-plan.js';
import { TargetTables, type SinkCatalogTable, type TargetTable as SinkTargetTable } from '../sink-kit/target-tables.js';
import {
  checkIdentifier,
  copyTableSql,
  createSchemaSql,
  displayName,
  qualifiedName,
  quoteIdent,
  renameTableSql,
  type DuckdbTableName,
} from './duckdb-ddl.js';
import { duckdbErrorType } from './duckdb-errors.js';
import { duckdbType } from './duckdb-types.js';

/** A sink table as checked against one source schema: where it is and the DuckDB type of each column. */
export type TargetTable = SinkTargetTable<DuckdbTableName>;

const WHERE_TABLE =
  'database_name = current_database() AND lower(schema_name) = lower($1) AND lower(table_name) = lower($2)';
const READ_KIND_SQL =
  `SELECT 'table' FROM duckdb_tables() WHERE ${WHERE_TABLE} UNION ALL ` +
  `SELECT 'view' FROM duckdb_views() WHERE database_name = current_database() AND lower(schema_name) = lower($1) AND lower(view_name) = lower($2)`;
const READ_COLUMNS_SQL = `SELECT column_name, data_type, NOT is_nullable, column_default IS NOT NULL FROM duckdb_columns() WHERE ${WHERE_TABLE} ORDER BY column_index`;
const READ_KEYS_SQL = `SELECT constraint_column_names FROM duckdb_constraints() WHERE ${WHERE_TABLE} AND constraint_type IN ('PRIMARY KEY', 'UNIQUE')`;

/** DuckDB value errors: a value that a cast cannot carry over. */
const CONVERSION_TYPES = new Set(['Conversion', 'Out of Range', 'Invalid Input']);

/**
 * The sink tables in DuckDB (see {@link TargetTables}). Names compare case-insensitively. DDL is transactional,
 * with two limits that this class works around by copying the table into a new one of the planned shape
 * (in the same transaction): DuckDB refuses, at COMMIT, an ALTER TABLE of a table whose existing rows the same
 * transaction updated or deleted, and it cannot change the type of a key column. The writer reports the tables
 * it changed through {@link noteWritten}.
 *
 * DuckDB has no SAVEPOINT, and a failed statement aborts the whole transaction: a schema change is undone only
 * when it failed before any statement of it ran. So a type change is checked first ({@link precheck}: does
 * every value convert?), and refused without touching the table when one does not.
 */
export class DuckdbTargetTables extends TargetTables<DuckdbTableName> {
  protected readonly product = 'DuckDB';
  /** Tables whose rows this transaction changed (keys of {@link keyOf}). */
  private readonly written = new Set<string>();
  /** Statements run so far, and their number when the schema change being applied began. */
  private statements = 0;
  private changeStart = 0;
  /** The sink holds one transaction over several `apply` calls of the writer (see {@link holdTransaction}). */
  private held = false;

  constructor(
    private readonly connection: DuckDBConnection,
    /** The catalog of the database file (`current_database()`). */
    private readonly catalog: string,
    /** Schema for tables without a namespace. */
    private readonly defaultSchema: string,
    /** The layout (transform `partition-keys`, `table-options`) of each sink table that has one. */
    private readonly layoutOf?: (id: TableId) => TableLayout | undefined,
  ) {
    super();
  }

  /** CREATE TABLE, and the `comment` of the transform's `table-options` as COMMENT ON TABLE (DuckDB has no partitions). */
  protected override createStatements(name: DuckdbTableName, schema: TableSchema): string[] {
    const statements = super.createStatements(name, schema);
    const comment = Object.entries(this.layoutOf?.(schema.id)?.options ?? {}).find(
      ([k]) => k.toLowerCase() === 'comment',
    );
    if (comment !== undefined) statements.push(`COMMENT ON TABLE ${this.sqlName(name)} IS ${quoteLiteral(comment[1])}`);
    return statements;
  }

  /** The DuckDB schema and table a sink table id maps to: its namespace, or the configured schema. */
  nameOf(id: TableId): DuckdbTableName {
    return { catalog: this.catalog, schema: id.namespace === '' ? this.defaultSchema : id.namespace, table: id.name };
  }

  /** Creates the schema if missing (`main` always exists). */
  async ensureSchema(schema: string): Promise<void> {
    await this.run(createSchemaSql(this.catalog, schema));
  }

  /** Rows of `name` were written in this transaction: a later column change must copy the table. */
  noteWritten(name: DuckdbTableName): void {
    this.written.add(this.keyOf(name));
  }

  /**
   * A new transaction begins: no table was written in it yet. The writer calls this at the start of every
   * `apply`; while the sink {@link holdTransaction holds} one transaction over several of them it is a no-op.
   */
  beginTransaction(): void {
    if (!this.held) this.written.clear();
  }

  /** The sink begins (`true`) or ends one transaction that spans several writer `apply` calls. */
  holdTransaction(held: boolean): void {
    this.written.clear();
    this.held = held;
  }

  protected override keyOf(name: DuckdbTableName): string {
    return `${name.schema.toLowerCase()}\u0000${name.table.toLowerCase()}`;
  }

  protected sqlName(name: DuckdbTableName): string {
    return qualifiedName(name);
  }

  protected display(name: DuckdbTableName): string {
    return displayName(name);
  }

  protected typeOf(type: DataType): string {
    return duckdbType(type);
  }

  protected sameName(a: string, b: string): boolean {
    return a.toLowerCase() === b.toLowerCase();
  }

  protected checkIdentifier(name: string, what: string): void {
    checkIdentifier(name, what);
  }

  protected async run(sql: string): Promise<void> {
    this.statements++;
    await this.connection.run(sql);
  }

  protected beginUndoable(): Promise<void> {
    this.changeStart = this.statements;
    return Promise.resolve();
  }

  protected endUndoable(): Promise<void> {
    return Promise.resolve();
  }

  /** Only a change that failed before any statement of it ran: anything else aborted the transaction. */
  protected undo(): Promise<boolean> {
    return Promise.resolve(this.statements === this.changeStart);
  }

  /** A type change that a value in the table would not survive (TRY_CAST gives NULL), found without running it. */
  protected override async precheck(
    name: DuckdbTableName,
    changes: readonly ColumnChange[],
  ): Promise<TributaryError | undefined> {
    for (const change of changes) {
      if (change.kind !== 'alterType') continue;
      const column = quoteIdent(change.column);
      const sql = `SELECT ${column}::VARCHAR FROM ${qualifiedName(name)} WHERE ${column} IS NOT NULL AND TRY_CAST(${column} AS ${change.to}) IS NULL LIMIT 1`;
      const value = (await this.connection.runAndReadAll(sql)).getRowsJson()[0]?.[0];
      if (value === undefined) continue;
      const cause = new Error(`the value ${JSON.stringify(value)} does not convert to ${change.to}`);
      return this.typeChangeError(name, change.column, change.from, change.to, cause);
    }
    return undefined;
  }

  protected async renameTable(from: DuckdbTableName, to: DuckdbTableName, next: TableSchema): Promise<void> {
    if (this.written.delete(this.keyOf(from))) this.noteWritten(to);
    if (this.sameName(from.schema, to.schema)) {
      await this.run(renameTableSql(from, to.table));
      return;
    }
    const current = await this.read(from);
    const columns = plannedColumns(current?.columns ?? [], [], (a, b) => this.sameName(a, b));
    for (const statement of copyTableSql(from, to, columns, next.primaryKey)) await this.run(statement);
  }

  /** ALTER TABLE where DuckDB allows it; otherwise a copy into a table of the planned columns. */
  protected override async applyColumnChanges(
    name: DuckdbTableName,
    changes: readonly ColumnChange[],
    current: SinkCatalogTable,
    next: TableSchema,
  ): Promise<void> {
    const keyed = (column: string): boolean => current.uniqueKeys.some((k) => k.some((c) => this.sameName(c, column)));
    const copy = this.written.has(this.keyOf(name)) || changes.some((c) => c.kind === 'alterType' && keyed(c.column));
    if (!copy) {
      await this.alterColumns(name, changes);
      return;
    }
    const columns = plannedColumns(current.columns, changes, (a, b) => this.sameName(a, b));
    const temporary: DuckdbTableName = { ...name, table: `${name.table}__tributary_rebuild` };
    const [create, insert, drop] = copyTableSql(name, temporary, columns, next.primaryKey);
    await this.run(create!);
    try {
      await this.run(insert!);
    } catch (error) {
      const retyped = changes.filter((c) => c.kind === 'alterType');
      if (retyped.length === 0 || !this.isConversionError(error)) throw error;
      const describe = (pick: (c: (typeof retyped)[number]) => string): string => retyped.map(pick).join(', ');
      throw this.typeChangeError(
        name,
        describe((c) => (c.kind === 'alterType' ? c.column : '')),
        describe((c) => (c.kind === 'alterType' ? c.from : '')),
        describe((c) => (c.kind === 'alterType' ? c.to : '')),
        error,
      );
    }
    await this.run(drop!);
    await this.run(renameTableSql(temporary, name.table));
  }

  protected isConversionError(error: unknown): boolean {
    const type = duckdbErrorType(error);
    return type !== undefined && CONVERSION_TYPES.has(type);
  }

  protected addKeyHint(): string {
    return 'drop the table to have it recreated with the key (DuckDB cannot add a primary key to an existing table), then run with --reset';
  }

  protected async read(name: DuckdbTableName): Promise<SinkCatalogTable | undefined> {
    const params = [name.schema, name.table];
    const types = [VARCHAR, VARCHAR];
    const kinds = (await this.connection.runAndReadAll(READ_KIND_SQL, params, types)).getRowsJson();
    const kind = kinds[0]?.[0];
    if (kind === undefined) return undefined;
    const columns = (await this.connection.runAndReadAll(READ_COLUMNS_SQL, params, types)).getRowsJson();
    const keys = (await this.connection.runAndReadAll(READ_KEYS_SQL, params, types)).getRowsJson();
    return {
      isTable: kind !== 'view',
      columns: columns.map(([columnName, type, notNull, hasDefault]) => ({
        name: text(columnName),
        type: text(type),
        notNull: notNull === true,
        hasDefault: hasDefault === true,
      })),
      uniqueKeys: keys.map(([names]) => (Array.isArray(names) ? names.map(text) : [])),
    };
  }
}

/** A catalog value read as JSON: names and type names are strings. */
function text(value: unknown): string {
  return typeof value === 'string' ? value : JSON.stringify(value);
}
