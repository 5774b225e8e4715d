import { VARCHAR, type DuckDBConnection } from '@duckdb/node-api';
import type { SchemaChangeEvent } from '../../core/change-event.js';
import { TributaryError } from '../../core/errors.js';
import type { TableId, TableSchema } from '../../core/table-schema.js';
import {
  addColumnSql,
  alterColumnTypeSql,
  checkIdentifier,
  createSchemaSql,
  createTableSql,
  displayName,
  dropColumnSql,
  dropNotNullSql,
  dropTableSql,
  renameColumnSql,
  renameTableSql,
  truncateTableSql,
  type DuckdbTableName,
} from './duckdb-ddl.js';
import { duckdbType } from './duckdb-types.js';

/** A sink table as checked against one source schema: where it is and the DuckDB type of each column. */
export interface TargetTable {
  readonly name: DuckdbTableName;
  /** The source schema it was checked against; rows of that schema can be written. */
  readonly schema: TableSchema;
  /** DuckDB type of each column of `schema`, in `schema.columns` order (the table's actual types). */
  readonly columnTypes: readonly string[];
}

interface CatalogColumn {
  readonly name: string;
  readonly type: string;
  readonly notNull: boolean;
  readonly hasDefault: boolean;
}

interface CatalogTable {
  readonly kind: 'table' | 'view';
  readonly columns: readonly CatalogColumn[];
  readonly uniqueKeys: readonly (readonly string[])[];
}

const WHERE_TABLE =
  'database_name = current_database() AND lower(schema_name) = lower($1) AND lower(table_name) = lower($2)';
const READ_KIND_SQL =
  `SELECT 'table' FROM duckdb_tables() WHERE ${WHERE_TABLE} UNION ALL ` +
  `SELECT 'view' FROM duckdb_views() WHERE database_name = current_database() AND lower(schema_name) = lower($1) AND lower(view_name) = lower($2)`;
const READ_COLUMNS_SQL = `SELECT column_name, data_type, NOT is_nullable, column_default IS NOT NULL FROM duckdb_columns() WHERE ${WHERE_TABLE} ORDER BY column_index`;
const READ_KEYS_SQL = `SELECT constraint_column_names FROM duckdb_constraints() WHERE ${WHERE_TABLE} AND constraint_type IN ('PRIMARY KEY', 'UNIQUE')`;

/** DuckDB matches identifiers case-insensitively, quoted or not; so does every comparison of names here. */
function same(a: string, b: string): boolean {
  return a.toLowerCase() === b.toLowerCase();
}

/**
 * Creates, checks and evolves sink tables, and remembers what it found. Every statement runs on the sink's
 * connection inside the commit's transaction (DDL is transactional in DuckDB), so DDL and data commit or roll
 * back together; after a rollback call {@link forgetAll}, since the remembered facts may have been rolled back.
 */
export class DuckdbTargetTables {
  private readonly known = new Map<string, TargetTable>();

  constructor(
    private readonly connection: DuckDBConnection,
    /** The catalog of the database file (`current_database()`). */
    private readonly catalog: string,
    /** Schema for tables without a namespace. */
    private readonly defaultSchema: string,
  ) {}

  /** The DuckDB schema and table a sink table id maps to: its namespace, or the configured schema. */
  nameOf(id: TableId): DuckdbTableName {
    return { catalog: this.catalog, schema: id.namespace === '' ? this.defaultSchema : id.namespace, table: id.name };
  }

  /** The checked target for rows of `schema`: remembered, or checked (and created if missing) now. */
  async target(schema: TableSchema): Promise<TargetTable> {
    const known = this.known.get(keyOf(this.nameOf(schema.id)));
    if (known !== undefined && known.schema === schema) return known;
    return this.ensure(schema, 'create');
  }

  forgetAll(): void {
    this.known.clear();
  }

  /** Applies one schema change to the sink, in the current transaction. */
  async apply(event: SchemaChangeEvent, previous: TableSchema | undefined): Promise<void> {
    const name = this.nameOf(event.table);
    switch (event.change) {
      case 'createTable':
        await this.ensure(event.schema, 'create');
        return;
      case 'truncateTable':
        if ((await this.read(name)) !== undefined) await this.run(truncateTableSql(name));
        return;
      case 'dropTable':
        await this.run(dropTableSql(name));
        this.known.delete(keyOf(name));
        return;
      case 'renameTable': {
        const to = this.nameOf(event.schema.id);
        if (keyOf(to) !== keyOf(name) && (await this.read(name)) !== undefined && (await this.read(to)) === undefined) {
          checkIdentifier(to.table, 'table');
          await this.ensureSchema(to.schema);
          for (const statement of renameTableSql(name, to, event.schema)) await this.run(statement);
        }
        this.known.delete(keyOf(name));
        await this.ensure(event.schema, 'evolve');
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

  private async evolve(
    name: DuckdbTableName,
    event: SchemaChangeEvent,
    previous: TableSchema | undefined,
  ): Promise<void> {
    const next = event.schema;
    const current = await this.read(name);
    if (current === undefined || previous === undefined) {
      await this.ensure(next, 'evolve');
      return;
    }
    const has = (column: string): boolean => current.columns.some((c) => same(c.name, column));
    const nextNames = new Set(next.columns.map((c) => c.name.toLowerCase()));
    const previousNames = new Set(previous.columns.map((c) => c.name.toLowerCase()));
    const removed = previous.columns.filter((c) => !nextNames.has(c.name.toLowerCase()));
    const added = next.columns.filter((c) => !previousNames.has(c.name.toLowerCase()));

    if (event.change === 'renameColumn' && removed.length === 1 && added.length === 1) {
      const from = removed[0]!.name;
      const to = added[0]!.name;
      checkIdentifier(to, `column of ${displayName(name)}`);
      if (has(from) && !has(to)) await this.run(renameColumnSql(name, from, to));
    } else if (event.change === 'dropColumn') {
      for (const column of removed) if (has(column.name)) await this.run(dropColumnSql(name, column.name));
    }
    if (event.change === 'alterColumnType') {
      for (const column of next.columns) {
        const before = previous.columns.find((c) => same(c.name, column.name));
        if (before !== undefined && has(column.name) && duckdbType(before.type) !== duckdbType(column.type)) {
          await this.run(alterColumnTypeSql(name, column));
        }
      }
    }
    // A column the source no longer writes must accept NULL, or every later insert would fail.
    const after = (await this.read(name)) ?? current;
    for (const column of after.columns) {
      if (!nextNames.has(column.name.toLowerCase()) && column.notNull && !column.hasDefault) {
        await this.run(dropNotNullSql(name, column.name));
      }
    }
    await this.ensure(next, 'evolve');
  }

  /**
   * Makes the table exist and fit `schema`, then remembers it. A missing table is created (and its schema).
   * An existing one must have every source column and a primary key or unique constraint on exactly the source
   * key; in `create` mode a missing column is SINK_SCHEMA_MISMATCH, in `evolve` mode it is added.
   */
  async ensure(schema: TableSchema, mode: 'create' | 'evolve'): Promise<TargetTable> {
    const name = this.nameOf(schema.id);
    checkIdentifier(name.schema, 'schema');
    checkIdentifier(name.table, 'table');
    for (const column of schema.columns) checkIdentifier(column.name, `column of ${displayName(name)}`);
    if (schema.primaryKey.length === 0) {
      throw new TributaryError('SINK_SCHEMA_MISMATCH', `table ${displayName(name)} has no primary key`, {
        hint: 'the duckdb sink merges changes by primary key: add one to the source table, or exclude the table from the pipeline',
      });
    }

    let current = await this.read(name);
    if (current === undefined) {
      await this.ensureSchema(name.schema);
      await this.run(createTableSql(name, schema));
      current = await this.read(name);
      if (current === undefined) {
        throw new TributaryError('INTERNAL', `table ${displayName(name)} vanished after CREATE TABLE`);
      }
    }
    if (current.kind !== 'table') {
      throw new TributaryError('SINK_SCHEMA_MISMATCH', `${displayName(name)} exists in DuckDB but is not a table`, {
        hint: `drop or rename the existing view ${displayName(name)}, or route the source table to another name`,
      });
    }

    const columnTypes: string[] = [];
    for (const column of schema.columns) {
      let found = current.columns.find((c) => same(c.name, column.name));
      if (found === undefined && mode === 'evolve') {
        await this.run(addColumnSql(name, column));
        found = { name: column.name, type: duckdbType(column.type), notNull: false, hasDefault: false };
      }
      if (found === undefined) {
        throw new TributaryError(
          'SINK_SCHEMA_MISMATCH',
          `table ${displayName(name)} exists in DuckDB without column ${column.name}, which the source has`,
          {
            hint: `add it (ALTER TABLE ${displayName(name)} ADD COLUMN "${column.name}" ${duckdbType(column.type)}), or drop the table to have it recreated and reloaded`,
          },
        );
      }
      columnTypes.push(found.type);
    }
    const sourceNames = new Set(schema.columns.map((c) => c.name.toLowerCase()));
    for (const column of current.columns) {
      if (!sourceNames.has(column.name.toLowerCase()) && column.notNull && !column.hasDefault) {
        throw new TributaryError(
          'SINK_SCHEMA_MISMATCH',
          `table ${displayName(name)} has a NOT NULL column ${column.name} without default that the source does not have`,
          {
            hint: `give it a default or allow NULL (ALTER TABLE ${displayName(name)} ALTER COLUMN "${column.name}" DROP NOT NULL)`,
          },
        );
      }
    }
    const key = new Set(schema.primaryKey.map((c) => c.toLowerCase()));
    const keyed = current.uniqueKeys.some(
      (cols) => cols.length === key.size && cols.every((c) => key.has(c.toLowerCase())),
    );
    if (!keyed) {
      throw new TributaryError(
        'SINK_SCHEMA_MISMATCH',
        `table ${displayName(name)} has no primary key or unique constraint on (${schema.primaryKey.join(', ')}), the source's key`,
        {
          hint: `drop the table to have it recreated with the key (DuckDB cannot add a primary key to an existing table), then run with --reset`,
        },
      );
    }
    const target: TargetTable = { name, schema, columnTypes };
    this.known.set(keyOf(name), target);
    return target;
  }

  /** Creates the schema if missing (`main` always exists). */
  async ensureSchema(schema: string): Promise<void> {
    await this.run(createSchemaSql(this.catalog, schema));
  }

  private async run(sql: string): Promise<void> {
    await this.connection.run(sql);
  }

  private async read(name: DuckdbTableName): Promise<CatalogTable | undefined> {
    const params = [name.schema, name.table];
    const types = [VARCHAR, VARCHAR];
    const kinds = (await this.connection.runAndReadAll(READ_KIND_SQL, params, types)).getRowsJson();
    const kind = kinds[0]?.[0];
    if (kind === undefined) return undefined;
    const columns = (await this.connection.runAndReadAll(READ_COLUMNS_SQL, params, types)).getRowsJson();
    const keys = (await this.connection.runAndReadAll(READ_KEYS_SQL, params, types)).getRowsJson();
    return {
      kind: kind === 'view' ? 'view' : 'table',
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

/** Names compare case-insensitively in DuckDB, so the map of known tables does too. */
function keyOf(name: DuckdbTableName): string {
  return `${name.schema.toLowerCase()}\u0000${name.table.toLowerCase()}`;
}
