import type pg from 'pg';
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
  type PostgresTableName,
} from './postgres-ddl.js';
import { readCatalogTable, type CatalogTable } from './postgres-catalog.js';
import { postgresType } from './postgres-types.js';

/** A sink table as checked against one source schema: where it is and the PostgreSQL type of each column. */
export interface TargetTable {
  readonly name: PostgresTableName;
  /** The source schema it was checked against; rows of that schema can be written. */
  readonly schema: TableSchema;
  /** PostgreSQL type of each column of `schema`, in `schema.columns` order (the table's actual types). */
  readonly columnTypes: readonly string[];
}

/**
 * Creates, checks and evolves sink tables, and remembers what it found. Every statement runs on the sink's
 * connection inside the commit's transaction, so DDL and data commit or roll back together; after a rollback
 * call {@link forgetAll}, since the remembered facts may have been rolled back.
 */
export class PostgresTargetTables {
  private readonly known = new Map<string, TargetTable>();

  constructor(
    private readonly client: pg.Client,
    /** Schema for tables without a namespace. */
    private readonly defaultSchema: string,
  ) {}

  /** The PostgreSQL schema and table a sink table id maps to: its namespace, or the configured schema. */
  nameOf(id: TableId): PostgresTableName {
    return { schema: id.namespace === '' ? this.defaultSchema : id.namespace, table: id.name };
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
        if ((await this.read(name)) !== undefined) await this.client.query(truncateTableSql(name));
        return;
      case 'dropTable':
        await this.client.query(dropTableSql(name));
        this.known.delete(keyOf(name));
        return;
      case 'renameTable': {
        const to = this.nameOf(event.schema.id);
        if (keyOf(to) !== keyOf(name) && (await this.read(name)) !== undefined && (await this.read(to)) === undefined) {
          checkIdentifier(to.table, 'table');
          await this.ensureSchema(to.schema);
          for (const statement of renameTableSql(name, to)) await this.client.query(statement);
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
    name: PostgresTableName,
    event: SchemaChangeEvent,
    previous: TableSchema | undefined,
  ): Promise<void> {
    const next = event.schema;
    const current = await this.read(name);
    if (current === undefined || previous === undefined) {
      await this.ensure(next, 'evolve');
      return;
    }
    const has = (column: string): boolean => current.columns.some((c) => c.name === column);
    const nextNames = new Set(next.columns.map((c) => c.name));
    const previousNames = new Set(previous.columns.map((c) => c.name));
    const removed = previous.columns.filter((c) => !nextNames.has(c.name));
    const added = next.columns.filter((c) => !previousNames.has(c.name));

    if (event.change === 'renameColumn' && removed.length === 1 && added.length === 1) {
      const from = removed[0]!.name;
      const to = added[0]!.name;
      checkIdentifier(to, `column of ${displayName(name)}`);
      if (has(from) && !has(to)) await this.client.query(renameColumnSql(name, from, to));
    } else if (event.change === 'dropColumn') {
      for (const column of removed) if (has(column.name)) await this.client.query(dropColumnSql(name, column.name));
    }
    if (event.change === 'alterColumnType') {
      for (const column of next.columns) {
        const before = previous.columns.find((c) => c.name === column.name);
        if (before !== undefined && has(column.name) && postgresType(before.type) !== postgresType(column.type)) {
          await this.client.query(alterColumnTypeSql(name, column));
        }
      }
    }
    // A column the source no longer writes must accept NULL, or every later insert would fail.
    const after = (await this.read(name)) ?? current;
    for (const column of after.columns) {
      if (!nextNames.has(column.name) && column.notNull && !column.hasDefault) {
        await this.client.query(dropNotNullSql(name, column.name));
      }
    }
    await this.ensure(next, 'evolve');
  }

  /**
   * Makes the table exist and fit `schema`, then remembers it. A missing table is created (and its schema).
   * An existing one must have every source column and a primary key or unique index on exactly the source
   * key; in `create` mode a missing column is SINK_SCHEMA_MISMATCH, in `evolve` mode it is added.
   */
  async ensure(schema: TableSchema, mode: 'create' | 'evolve'): Promise<TargetTable> {
    const name = this.nameOf(schema.id);
    checkIdentifier(name.schema, 'schema');
    checkIdentifier(name.table, 'table');
    for (const column of schema.columns) checkIdentifier(column.name, `column of ${displayName(name)}`);
    if (schema.primaryKey.length === 0) {
      throw new TributaryError('SINK_SCHEMA_MISMATCH', `table ${displayName(name)} has no primary key`, {
        hint: 'the postgres sink merges changes by primary key: add one to the source table, or exclude the table from the pipeline',
      });
    }

    let current = await this.read(name);
    if (current === undefined) {
      await this.ensureSchema(name.schema);
      await this.client.query(createTableSql(name, schema));
      current = await this.read(name);
      if (current === undefined)
        throw new TributaryError('INTERNAL', `table ${displayName(name)} vanished after CREATE TABLE`);
    }
    if (current.relkind !== 'r' && current.relkind !== 'p') {
      throw new TributaryError('SINK_SCHEMA_MISMATCH', `${displayName(name)} exists in PostgreSQL but is not a table`, {
        hint: `drop or rename the existing relation ${displayName(name)}, or route the source table to another name`,
      });
    }

    const columnTypes: string[] = [];
    for (const column of schema.columns) {
      let found = current.columns.find((c) => c.name === column.name);
      if (found === undefined && mode === 'evolve') {
        await this.client.query(addColumnSql(name, column));
        found = { name: column.name, type: postgresType(column.type), notNull: false, hasDefault: false };
      }
      if (found === undefined) {
        throw new TributaryError(
          'SINK_SCHEMA_MISMATCH',
          `table ${displayName(name)} exists in PostgreSQL without column ${column.name}, which the source has`,
          {
            hint: `add it (ALTER TABLE ${displayName(name)} ADD COLUMN "${column.name}" ${postgresType(column.type)}), or drop the table to have it recreated and reloaded`,
          },
        );
      }
      columnTypes.push(found.type);
    }
    const sourceNames = new Set(schema.columns.map((c) => c.name));
    for (const column of current.columns) {
      if (!sourceNames.has(column.name) && column.notNull && !column.hasDefault) {
        throw new TributaryError(
          'SINK_SCHEMA_MISMATCH',
          `table ${displayName(name)} has a NOT NULL column ${column.name} without default that the source does not have`,
          {
            hint: `give it a default or allow NULL (ALTER TABLE ${displayName(name)} ALTER COLUMN "${column.name}" DROP NOT NULL)`,
          },
        );
      }
    }
    const key = new Set(schema.primaryKey);
    const keyed = current.uniqueIndexes.some(
      ({ columns }) => columns.length === key.size && columns.every((c) => key.has(c)),
    );
    if (!keyed) {
      throw new TributaryError(
        'SINK_SCHEMA_MISMATCH',
        `table ${displayName(name)} has no primary key or unique index on (${schema.primaryKey.join(', ')}), the source's key`,
        {
          hint: `add one (ALTER TABLE ${displayName(name)} ADD PRIMARY KEY (…)), or drop the table to have it recreated`,
        },
      );
    }
    const target: TargetTable = { name, schema, columnTypes };
    this.known.set(keyOf(name), target);
    return target;
  }

  /** Creates the schema if missing; checks first, since CREATE SCHEMA IF NOT EXISTS needs CREATE on the database. */
  async ensureSchema(schema: string): Promise<void> {
    const found = await this.client.query('SELECT 1 FROM pg_namespace WHERE nspname = $1', [schema]);
    if (found.rowCount === 0) await this.client.query(createSchemaSql(schema));
  }

  private async read(name: PostgresTableName): Promise<CatalogTable | undefined> {
    return await readCatalogTable(this.client, name);
  }
}

function keyOf(name: PostgresTableName): string {
  return `${name.schema}\u0000${name.table}`;
}
