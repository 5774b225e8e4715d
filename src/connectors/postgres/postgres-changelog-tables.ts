import type pg from 'pg';
import type { SchemaChangeEvent } from '../../core/change-event.js';
import { TributaryError } from '../../core/errors.js';
import type { TableId, TableSchema } from '../../core/table-schema.js';
import { readCatalogTable, type CatalogTable } from './postgres-catalog.js';
import { columnChangeSql } from '../sink-kit/table-ddl.js';
import { columnRenames, planTargetTable } from '../sink-kit/target-table-plan.js';
import {
  checkIdentifier,
  displayName,
  qualifiedName,
  quoteIdent,
  renameTableSql,
  type PostgresTableName,
} from './postgres-ddl.js';
import type { PostgresTargetTables } from './postgres-target-tables.js';
import { postgresType } from './postgres-types.js';

/**
 * The columns append mode adds in front of (and, for `_before`, after) the row's own columns. A source column
 * with one of these names cannot be captured in append mode as it is.
 */
export const CHANGELOG_COLUMNS = ['_op', '_position', '_seq', '_commit_ts', '_ingest_ts', '_before'] as const;

/** A changelog table as checked against one source schema. */
export interface ChangelogTable {
  readonly name: PostgresTableName;
  /** The source schema whose columns it has; rows of that schema can be appended. */
  readonly schema: TableSchema;
  /** Name of the unique index on `_position`: a violation of it means a change was about to be recorded twice. */
  readonly positionIndex: string;
  /** The highest `_seq` in the table when it was checked (0 when empty). */
  readonly maxSeq: number;
}

/**
 * Creates, checks and extends the changelog tables of append mode: one per sink table, named
 * `<table><suffix>` in the sink table's schema. A changelog only grows: source columns are added (nullable),
 * never dropped; truncating or dropping the source table leaves it as it is. Statements run in the commit's
 * transaction; after a rollback call {@link forgetAll}.
 */
export class PostgresChangelogTables {
  private readonly known = new Map<string, ChangelogTable>();

  constructor(
    private readonly client: pg.Client,
    private readonly tables: PostgresTargetTables,
    private readonly suffix: string,
  ) {}

  nameOf(id: TableId): PostgresTableName {
    const name = this.tables.nameOf(id);
    return { schema: name.schema, table: name.table + this.suffix };
  }

  /** The checked changelog for rows of `schema`: remembered, or checked (and created if missing) now. */
  async target(schema: TableSchema): Promise<ChangelogTable> {
    const known = this.known.get(keyOf(this.nameOf(schema.id)));
    if (known !== undefined && known.schema === schema) return known;
    return this.ensure(schema);
  }

  forgetAll(): void {
    this.known.clear();
  }

  /** Follows one schema change, in the current transaction. */
  async apply(event: SchemaChangeEvent, previous: TableSchema | undefined): Promise<ChangelogTable | undefined> {
    switch (event.change) {
      case 'truncateTable':
      case 'dropTable':
        // The changelog keeps the history of a table that was emptied or dropped at the source.
        this.known.delete(keyOf(this.nameOf(event.table)));
        return undefined;
      case 'createTable':
        return await this.ensure(event.schema);
      case 'renameTable': {
        // The history moves with the table, unless a changelog of the new name exists already.
        const from = this.nameOf(event.table);
        const to = this.nameOf(event.schema.id);
        this.known.delete(keyOf(from));
        if (keyOf(from) !== keyOf(to) && (await this.read(from)) && !(await this.read(to))) {
          checkIdentifier(to.table, 'changelog table');
          await this.tables.ensureSchema(to.schema);
          for (const statement of renameTableSql(from, to)) await this.client.query(statement);
        }
        return await this.follow(event, previous);
      }
      case 'addColumn':
      case 'dropColumn':
      case 'renameColumn':
      case 'alterColumnType':
      case 'refreshTable':
        return await this.follow(event, previous);
    }
  }

  /**
   * Makes the changelog hold the columns of `event.schema` without losing history: renamed columns are
   * renamed (old rows keep their values under the new name), changed types are changed, new columns added;
   * a column the source dropped stays, NULL in later rows.
   */
  private async follow(event: SchemaChangeEvent, previous: TableSchema | undefined): Promise<ChangelogTable> {
    const name = this.nameOf(event.schema.id);
    const current = await this.read(name);
    if (current !== undefined) {
      const changes = planTargetTable({
        current: current.columns.filter((c) => !(CHANGELOG_COLUMNS as readonly string[]).includes(c.name)),
        previous,
        next: event.schema,
        renames: columnRenames(event, previous),
        typeOf: postgresType,
        sameName: (a, b) => a === b,
        keepDropped: true,
      });
      await this.tables.alterColumns(
        name,
        changes.filter((c) => c.kind !== 'add'),
      );
    }
    return await this.ensure(event.schema);
  }

  private async read(name: PostgresTableName): Promise<CatalogTable | undefined> {
    return await readCatalogTable(this.client, name);
  }

  /**
   * Makes the changelog exist and hold every column of `schema` (adding missing ones, nullable), with the
   * metadata columns and the unique index on `_position`; remembers it.
   */
  async ensure(schema: TableSchema): Promise<ChangelogTable> {
    const name = this.nameOf(schema.id);
    checkIdentifier(name.schema, 'schema');
    checkIdentifier(name.table, 'changelog table');
    for (const column of schema.columns) {
      checkIdentifier(column.name, `column of ${displayName(name)}`);
      if ((CHANGELOG_COLUMNS as readonly string[]).includes(column.name)) {
        throw new TributaryError(
          'SINK_SCHEMA_MISMATCH',
          `column ${column.name} of ${displayName(this.tables.nameOf(schema.id))} has the name of a changelog column (${CHANGELOG_COLUMNS.join(', ')})`,
          {
            hint: `rename it with a transform projection that lists the columns (\`projection: …, ${column.name} AS ${column.name.replace(/^_+/, '')}_value, …\`), or use another sink \`write-mode\``,
          },
        );
      }
    }

    let current = await readCatalogTable(this.client, name);
    if (current === undefined) {
      await this.tables.ensureSchema(name.schema);
      await this.client.query(createChangelogSql(name, schema));
      current = await readCatalogTable(this.client, name);
      if (current === undefined) {
        throw new TributaryError('INTERNAL', `table ${displayName(name)} vanished after CREATE TABLE`);
      }
    }
    if (current.relkind !== 'r' && current.relkind !== 'p') {
      throw new TributaryError('SINK_SCHEMA_MISMATCH', `${displayName(name)} exists in PostgreSQL but is not a table`, {
        hint: `drop or rename the existing relation ${displayName(name)}, or change sink option \`append.table-suffix\``,
      });
    }
    const missing = CHANGELOG_COLUMNS.filter((c) => !current.columns.some((col) => col.name === c));
    if (missing.length > 0) {
      throw new TributaryError(
        'SINK_SCHEMA_MISMATCH',
        `table ${displayName(name)} exists but is not a changelog table: it lacks ${missing.join(', ')}`,
        {
          hint: `rename or drop ${displayName(name)}, or change sink option \`append.table-suffix\` so that changelogs get other names`,
        },
      );
    }
    const positionIndex = current.uniqueIndexes.find((i) => i.columns.length === 1 && i.columns[0] === '_position');
    if (positionIndex === undefined) {
      throw new TributaryError(
        'SINK_SCHEMA_MISMATCH',
        `changelog table ${displayName(name)} has no unique index on _position, which guards against recording a change twice`,
        { hint: `add it: ALTER TABLE ${qualifiedName(name)} ADD UNIQUE ("_position")` },
      );
    }
    for (const column of schema.columns) {
      if (!current.columns.some((c) => c.name === column.name)) {
        await this.client.query(
          columnChangeSql(qualifiedName(name), { kind: 'add', column, type: postgresType(column.type) }),
        );
      }
    }
    const max = await this.client.query<{ max: string | null }>(
      `SELECT max("_seq")::text AS max FROM ${qualifiedName(name)}`,
    );
    const table: ChangelogTable = {
      name,
      schema,
      positionIndex: positionIndex.name,
      maxSeq: Number(max.rows[0]?.max ?? 0),
    };
    this.known.set(keyOf(name), table);
    return table;
  }
}

/**
 * The changelog's DDL: metadata columns, the row's columns in source order (all nullable: a delete carries
 * only what the source sent, and older rows lack later columns), `_before`; `_seq` as primary key and a
 * unique `_position` (NULL, so not constrained, for snapshot reads).
 */
export function createChangelogSql(name: PostgresTableName, schema: TableSchema): string {
  const parts = [
    `"_op" text NOT NULL CHECK ("_op" IN ('read', 'insert', 'update', 'delete'))`,
    '"_position" text',
    '"_seq" bigint NOT NULL',
    '"_commit_ts" timestamptz',
    '"_ingest_ts" timestamptz NOT NULL DEFAULT now()',
    ...schema.columns.map((c) => `${quoteIdent(c.name)} ${postgresType(c.type)}`),
    '"_before" jsonb',
    'PRIMARY KEY ("_seq")',
    'UNIQUE ("_position")',
  ];
  return `CREATE TABLE IF NOT EXISTS ${qualifiedName(name)} (\n  ${parts.join(',\n  ')}\n)`;
}

function keyOf(name: PostgresTableName): string {
  return `${name.schema}\u0000${name.table}`;
}
