import { tableIdToString, type ColumnRename, type SchemaChangeType, type TableId } from '../../../core/index.js';
import { zeroDatesField, type MysqlTable } from '../mysql-schema-reader.js';
import { DEFAULT_TYPE_OPTIONS, type MysqlTypeOptions } from '../mysql-types.js';
import { normalizeCharset } from '../protocol/charsets.js';
import { alterColumns, DdlApplyError, finalPrimaryKey } from './ddl-alter-apply.js';
import type { DdlStatement, DdlTableName, DdlTableOptions } from './ddl-ast.js';
import { charsetOfCollationName, type DdlCharsetDefaults } from './ddl-charsets.js';
import { resolveColumn, type DdlFlavor } from './ddl-column-info.js';

export interface DdlApplyContext {
  /** Whether a table is captured (matches the source's table selection); other tables are not kept. */
  readonly isCaptured: (table: TableId) => boolean;
  /** Default character sets of databases and tables, for columns that name none. */
  readonly charsets: DdlCharsetDefaults;
  /** The server that wrote the statement; default `mariadb`. */
  readonly flavor?: DdlFlavor;
  /** The key of tables without a primary key, as `readTableSchemas`'s `keyOverride`. */
  readonly keyOverride?: string;
  /** lower_case_table_names = 1: table and database names are stored in lower case. */
  readonly lowerCaseTableNames?: boolean;
  /** The source options of the type mapping, as `readTableSchemas` takes them (default: none). */
  readonly typeOptions?: MysqlTypeOptions;
}

/** What one statement did to one captured table. */
export interface DdlTableChange {
  /** The table; for `renameTable` its old name. */
  readonly table: TableId;
  readonly change: SchemaChangeType;
  /** Columns renamed by the statement (with `renameColumn`). */
  readonly renamedColumns?: readonly ColumnRename[];
  /** The table before the statement; unset for a table that did not exist. */
  readonly previous?: MysqlTable;
  /** The table after the statement; unset for `dropTable`. */
  readonly current?: MysqlTable;
}

export interface DdlApplyResult {
  /** The captured tables after the statement (a new map; the argument is not changed). */
  readonly tables: ReadonlyMap<string, MysqlTable>;
  /**
   * Changes in statement order. One ALTER TABLE gives one entry per kind of change (addColumn, dropColumn,
   * renameColumn, alterColumnType, renameTable …), all with the same `current`; `refreshTable` when only the
   * column order or the primary key changed.
   */
  readonly changes: readonly DdlTableChange[];
  /**
   * Captured tables whose schema the statement changed in a way not followed here (CREATE TABLE … SELECT, LIKE
   * an uncaptured table, a rename into the selection, an unsupported clause): read them from information_schema
   * at this position. A table that is no longer there was dropped. Their entries in `tables` are not updated.
   */
  readonly reread: readonly TableId[];
  /** Set for an `unknown` statement: it may have changed any table (the reason). */
  readonly unknown?: string;
  readonly charsets: DdlCharsetDefaults;
}

/**
 * Applies one parsed statement (`parseDdl`) to the captured tables. Pure: the inputs are not changed.
 * `defaultDatabase` is the QUERY event's database, for names written without one. Column order, types,
 * nullability, character sets and the primary key come out as `readTableSchemas` would read them after the
 * statement.
 */
export function applyDdl(
  tables: ReadonlyMap<string, MysqlTable>,
  defaultDatabase: string,
  statement: DdlStatement,
  context: DdlApplyContext,
): DdlApplyResult {
  const state = new ApplyState(tables, defaultDatabase, context);
  state.apply(statement);
  return state.result(statement.kind === 'unknown' ? statement.reason : undefined);
}

class ApplyState {
  private readonly tables: Map<string, MysqlTable>;
  private readonly databaseCharsets: Map<string, string>;
  private readonly tableCharsets: Map<string, string>;
  private readonly changes: DdlTableChange[] = [];
  private readonly reread: TableId[] = [];
  private readonly flavor: DdlFlavor;

  constructor(
    tables: ReadonlyMap<string, MysqlTable>,
    private readonly defaultDatabase: string,
    private readonly context: DdlApplyContext,
  ) {
    this.tables = new Map(tables);
    this.databaseCharsets = new Map(context.charsets.databases);
    this.tableCharsets = new Map(context.charsets.tables);
    this.flavor = context.flavor ?? 'mariadb';
  }

  result(unknown: string | undefined): DdlApplyResult {
    const { server } = this.context.charsets;
    return {
      tables: this.tables,
      changes: this.changes,
      reread: this.reread,
      ...(unknown === undefined ? {} : { unknown }),
      charsets: {
        ...(server === undefined ? {} : { server }),
        databases: this.databaseCharsets,
        tables: this.tableCharsets,
      },
    };
  }

  apply(statement: DdlStatement): void {
    switch (statement.kind) {
      case 'createTable':
        return this.createTable(statement);
      case 'createTableLike':
        return this.createTableLike(statement);
      case 'alterTable':
        return this.alterTable(statement);
      case 'renameTable':
        return this.renameTables(
          statement.renames.map((r) => ({ from: this.id(r.from), to: this.id(r.to) })),
          statement.ifExists,
        );
      case 'dropTable':
        if (!statement.temporary) for (const name of statement.tables) this.drop(this.id(name));
        return;
      case 'truncateTable': {
        const id = this.id(statement.table);
        const table = this.tables.get(tableIdToString(id));
        if (table) this.changes.push({ table: id, change: 'truncateTable', previous: table, current: table });
        return;
      }
      case 'createDatabase': {
        const name = this.database(statement.name);
        if (statement.orReplace) this.dropDatabase(name);
        else if (statement.ifNotExists && this.databaseCharsets.has(name)) return;
        const charset = charsetOf(statement) ?? this.context.charsets.server;
        if (charset !== undefined) this.databaseCharsets.set(name, charset);
        return;
      }
      case 'alterDatabase': {
        const charset = charsetOf(statement);
        if (charset !== undefined)
          this.databaseCharsets.set(this.database(statement.name ?? this.defaultDatabase), charset);
        return;
      }
      case 'dropDatabase':
        return this.dropDatabase(this.database(statement.name));
      case 'createIndex':
      case 'dropIndex':
      case 'ignored':
      case 'unknown':
        return;
    }
  }

  private createTable(statement: Extract<DdlStatement, { kind: 'createTable' }>): void {
    if (statement.temporary) return;
    const id = this.id(statement.table);
    const key = tableIdToString(id);
    if (statement.ifNotExists && this.tables.has(key)) return;
    const charset = charsetOf(statement.options) ?? this.databaseCharsets.get(id.namespace);
    if (charset !== undefined) this.tableCharsets.set(key, charset);
    else this.tableCharsets.delete(key);
    if (!this.context.isCaptured(id)) return;
    const previous = statement.orReplace ? this.tables.get(key) : undefined;
    if (previous) {
      this.tables.delete(key);
      this.changes.push({ table: id, change: 'dropTable', previous });
    }
    if (statement.asSelect || statement.options.systemVersioning || charset === undefined) {
      this.reread.push(id);
      return;
    }
    const pkParts = statement.constraints.flatMap((c) => (c.kind === 'primaryKey' ? [c.parts] : []));
    const inline = statement.columns.filter((c) => c.primaryKey).map((c) => c.name);
    const wanted = pkParts[0]?.map((p) => p.column ?? '') ?? inline;
    const jsonColumns = new Set(
      statement.constraints.flatMap((c) =>
        c.kind === 'check' && c.jsonValidColumn ? [c.jsonValidColumn.toLowerCase()] : [],
      ),
    );
    try {
      const resolved = statement.columns.map((definition) =>
        resolveColumn(
          jsonColumns.has(definition.name.toLowerCase()) ? { ...definition, jsonCheck: true } : definition,
          charset,
          this.flavor,
          wanted.some((name) => name.toLowerCase() === definition.name.toLowerCase()),
          this.context.typeOptions,
        ),
      );
      const primaryKey = finalPrimaryKey(wanted, resolved, this.context.keyOverride);
      const table: MysqlTable = {
        schema: { id, columns: resolved.map((r) => r.column), primaryKey },
        charsets: resolved.map((r) => r.charset),
        ...zeroDatesField(this.context.typeOptions ?? DEFAULT_TYPE_OPTIONS),
      };
      this.tables.set(key, table);
      this.changes.push({ table: id, change: 'createTable', current: table });
    } catch (error) {
      if (!(error instanceof DdlApplyError)) throw error;
      this.reread.push(id);
    }
  }

  private createTableLike(statement: Extract<DdlStatement, { kind: 'createTableLike' }>): void {
    if (statement.temporary) return;
    const id = this.id(statement.table);
    const key = tableIdToString(id);
    if (statement.ifNotExists && this.tables.has(key)) return;
    const likeKey = tableIdToString(this.id(statement.like));
    const likeCharset = this.tableCharsets.get(likeKey);
    if (likeCharset !== undefined) this.tableCharsets.set(key, likeCharset);
    if (!this.context.isCaptured(id)) return;
    const previous = statement.orReplace ? this.tables.get(key) : undefined;
    if (previous) {
      this.tables.delete(key);
      this.changes.push({ table: id, change: 'dropTable', previous });
    }
    const like = this.tables.get(likeKey);
    if (!like) {
      this.reread.push(id);
      return;
    }
    const table: MysqlTable = { ...like, schema: { ...like.schema, id } };
    this.tables.set(key, table);
    this.changes.push({ table: id, change: 'createTable', current: table });
  }

  private alterTable(statement: Extract<DdlStatement, { kind: 'alterTable' }>): void {
    const id = this.id(statement.table);
    const key = tableIdToString(id);
    let newId = id;
    let tableCharset = this.tableCharsets.get(key);
    let convertTo: string | undefined;
    for (const spec of statement.specs) {
      if (spec.kind === 'renameTable') newId = this.id(spec.to);
      else if (spec.kind === 'tableOptions') tableCharset = charsetOf(spec.options) ?? tableCharset;
      else if (spec.kind === 'convertCharset') {
        convertTo =
          spec.charset === 'default' ? this.databaseCharsets.get(id.namespace) : normalizeCharset(spec.charset);
        if (convertTo === undefined) return this.rereadTables([id, newId]);
        tableCharset = convertTo;
      }
    }
    if (tableCharset !== undefined) this.tableCharsets.set(key, tableCharset);
    const previous = this.tables.get(key);
    if (!previous) {
      // Not held: a table outside the selection (which may be renamed into it), or one never read.
      if (tableIdToString(newId) !== key) this.renameTables([{ from: id, to: newId }], statement.ifExists);
      else if (this.context.isCaptured(id) && !statement.ifExists) this.reread.push(id);
      return;
    }
    let altered;
    try {
      altered = alterColumns(previous, statement.specs, {
        flavor: this.flavor,
        tableCharset: () => {
          const charset = tableCharset ?? this.databaseCharsets.get(id.namespace);
          if (charset === undefined) throw new DdlApplyError(`the default character set of ${key} is not known`);
          return charset;
        },
        ...(convertTo === undefined ? {} : { convertTo }),
        ...(this.context.keyOverride === undefined ? {} : { keyOverride: this.context.keyOverride }),
        ...(this.context.typeOptions === undefined ? {} : { typeOptions: this.context.typeOptions }),
      });
    } catch (error) {
      if (!(error instanceof DdlApplyError)) throw error;
      return this.rereadTables([id, newId]);
    }
    this.tables.set(key, altered.table);
    for (const change of altered.changes) {
      this.changes.push({
        table: id,
        change,
        previous,
        current: altered.table,
        ...(change === 'renameColumn' ? { renamedColumns: altered.renamedColumns } : {}),
      });
    }
    if (tableIdToString(newId) !== key) this.renameTables([{ from: id, to: newId }], false);
  }

  /** Tables an ALTER TABLE may have changed in a way not followed: read them again. */
  private rereadTables(ids: readonly TableId[]): void {
    const seen = new Set<string>();
    for (const id of ids) {
      const key = tableIdToString(id);
      if (seen.has(key)) continue;
      seen.add(key);
      if (this.tables.has(key) || this.context.isCaptured(id)) this.reread.push(id);
    }
  }

  /**
   * RENAME TABLE a TO b, b TO c, …: applied in order (so swaps through a temporary name work), then each captured
   * table that moved is a `renameTable` if its final name is captured, else a `dropTable`; a captured name
   * that a table not held here moved to is read again (with IF EXISTS, not when that table was a captured one:
   * all of those are held, so it did not exist).
   */
  private renameTables(renames: readonly { from: TableId; to: TableId }[], ifExists: boolean): void {
    interface Moved {
      readonly original: TableId;
      readonly table: MysqlTable | undefined;
      readonly to: TableId;
    }
    const moved = new Map<string, Moved>(); // by current name
    for (const { from, to } of renames) {
      const fromKey = tableIdToString(from);
      const entry = moved.get(fromKey);
      moved.delete(fromKey);
      const original = entry?.original ?? from;
      moved.set(tableIdToString(to), { original, table: entry ? entry.table : this.tables.get(fromKey), to });
      this.renameCharsets(from, to);
    }
    for (const { original } of moved.values()) this.tables.delete(tableIdToString(original));
    for (const { original, table, to } of moved.values()) {
      if (!this.context.isCaptured(to)) {
        if (table) this.changes.push({ table: original, change: 'dropTable', previous: table });
      } else if (!table) {
        if (!ifExists || !this.context.isCaptured(original)) this.reread.push(to);
      } else {
        const current: MysqlTable = { ...table, schema: { ...table.schema, id: to } };
        this.tables.set(tableIdToString(to), current);
        if (tableIdToString(to) !== tableIdToString(original)) {
          this.changes.push({ table: original, change: 'renameTable', previous: table, current });
        }
      }
    }
  }

  private renameCharsets(from: TableId, to: TableId): void {
    const fromKey = tableIdToString(from);
    const charset = this.tableCharsets.get(fromKey);
    this.tableCharsets.delete(fromKey);
    if (charset !== undefined) this.tableCharsets.set(tableIdToString(to), charset);
  }

  private drop(id: TableId): void {
    const key = tableIdToString(id);
    this.tableCharsets.delete(key);
    const previous = this.tables.get(key);
    if (!previous) return;
    this.tables.delete(key);
    this.changes.push({ table: id, change: 'dropTable', previous });
  }

  private dropDatabase(name: string): void {
    this.databaseCharsets.delete(name);
    for (const key of [...this.tableCharsets.keys()]) if (key.startsWith(`${name}.`)) this.tableCharsets.delete(key);
    for (const table of [...this.tables.values()]) if (table.schema.id.namespace === name) this.drop(table.schema.id);
  }

  private id(name: DdlTableName): TableId {
    return { namespace: this.database(name.database ?? this.defaultDatabase), name: this.database(name.name) };
  }

  private database(name: string): string {
    return this.context.lowerCaseTableNames ? name.toLowerCase() : name;
  }
}

/** The character set named by table or database options: CHARACTER SET, else the collation's. */
function charsetOf(options: Pick<DdlTableOptions, 'charset' | 'collation'>): string | undefined {
  if (options.charset !== undefined && options.charset !== 'default') return normalizeCharset(options.charset);
  return options.collation === undefined ? undefined : charsetOfCollationName(options.collation);
}
