import { tableIdToString, type SchemaChangeEvent, type TableId } from '../../core/index.js';
import { applyDdl, type DdlApplyContext, type DdlApplyResult, type DdlTableChange } from './ddl/ddl-apply.js';
import type { DdlCharsetDefaults } from './ddl/ddl-charsets.js';
import { ddlLexOptionsForServer } from './ddl/ddl-lexer.js';
import { parseDdl } from './ddl/ddl-parser.js';
import type { ServerInfo } from './mysql-preflight.js';
import { OnlineSchemaChanges } from './mysql-online-schema-change.js';
import type { MysqlTable } from './mysql-schema-reader.js';
import type { MysqlTypeOptions } from './mysql-types.js';

/**
 * The schemas in force at a binlog position, as each checkpoint saves them: the captured tables and the
 * default character sets that DDL without an explicit charset falls back to.
 */
export interface SavedSchemas {
  readonly tables: Readonly<Record<string, MysqlTable>>;
  readonly charsets: {
    readonly server?: string;
    readonly databases: Readonly<Record<string, string>>;
    readonly tables: Readonly<Record<string, string>>;
  };
}

export interface SchemaHistoryOptions {
  /** Whether a table matches the source's table selection. */
  readonly isCaptured: (table: TableId) => boolean;
  /** The server that writes the binlog (known once the source is connected). */
  readonly server: () => ServerInfo | undefined;
  /** The configured chunk key of tables without a primary key. */
  readonly keyOverride?: string;
  /** The source options of the type mapping, as `readTableSchemas` takes them (default: none). */
  readonly typeOptions?: MysqlTypeOptions;
}

/**
 * The captured tables' schemas as of the last binlog event the source processed. A binlog event is decoded with
 * the schema in force at its position, not with what information_schema says when it is read: DDL from the
 * binlog is parsed and applied here (see ddl/), and the state is saved with every checkpoint, so a restart
 * between a DDL statement and the rows after it decodes both sides correctly.
 *
 * `tables` is the live map the source reads rows with; it is changed in place.
 */
export class MysqlSchemaHistory {
  readonly tables = new Map<string, MysqlTable>();
  private charsets: DdlCharsetDefaults = { databases: new Map(), tables: new Map() };
  /** `save()` until the next change: checkpoints are frequent, schema changes rare. */
  private saved: SavedSchemas | undefined;
  /** Shadow tables of gh-ost / pt-online-schema-change runs on captured tables. */
  private readonly onlineSchemaChanges = new OnlineSchemaChanges();

  constructor(private readonly options: SchemaHistoryOptions) {}

  /**
   * Starts from `current` (information_schema now) or, on resume, from the schemas `saved` at the position:
   * a table the position knows keeps its saved schema (the binlog from there on will change it as it changed
   * the source), even one dropped since; a table matched only now takes its current schema.
   */
  load(current: ReadonlyMap<string, MysqlTable>, charsets: DdlCharsetDefaults, saved: SavedSchemas | undefined): void {
    this.tables.clear();
    for (const [key, table] of current) this.tables.set(key, table);
    this.charsets = charsets;
    if (saved !== undefined) {
      for (const [key, table] of Object.entries(saved.tables)) {
        if (this.options.isCaptured(table.schema.id)) this.tables.set(key, table);
      }
      this.charsets = {
        ...(saved.charsets.server === undefined ? {} : { server: saved.charsets.server }),
        databases: new Map([...charsets.databases, ...Object.entries(saved.charsets.databases)]),
        tables: new Map([...charsets.tables, ...Object.entries(saved.charsets.tables)]),
      };
    }
    this.saved = undefined;
  }

  /** Sets one table's schema as read from the server now (a table read again, or matched while running). */
  set(key: string, table: MysqlTable): void {
    this.tables.set(key, table);
    this.saved = undefined;
  }

  delete(key: string): void {
    this.tables.delete(key);
    this.saved = undefined;
  }

  /** The state to save with a checkpoint: the same object until something changes. */
  save(): SavedSchemas {
    if (this.saved === undefined) {
      const databases = new Set([...this.tables.values()].map((t) => t.schema.id.namespace));
      const server = this.charsets.server;
      this.saved = {
        tables: Object.fromEntries(this.tables),
        charsets: {
          ...(server === undefined ? {} : { server }),
          databases: Object.fromEntries([...this.charsets.databases].filter(([db]) => databases.has(db))),
          tables: Object.fromEntries([...this.charsets.tables].filter(([key]) => this.tables.has(key))),
        },
      };
    }
    return this.saved;
  }

  /**
   * Applies one statement from the binlog (`database`: the session's default database) and returns what it
   * did. The caller reads the tables in `reread` from the server, and everything when `unknown` is set.
   */
  apply(sql: string, database: string): DdlApplyResult {
    const server = this.options.server();
    // Executable comments (/*!50700 … */, /*M! … */) count as the server that wrote the statement counts them.
    const statement = parseDdl(sql, server ? ddlLexOptionsForServer(server.version) : {});
    const context: DdlApplyContext = {
      isCaptured: this.options.isCaptured,
      charsets: this.charsets,
      flavor: server?.flavor ?? 'mariadb',
      lowerCaseTableNames: server?.lowerCaseTableNames === 1,
      ...(this.options.keyOverride === undefined ? {} : { keyOverride: this.options.keyOverride }),
      ...(this.options.typeOptions === undefined ? {} : { typeOptions: this.options.typeOptions }),
    };
    const online = this.onlineSchemaChanges.follow(this.tables, database, statement, context);
    if (online.kind === 'shadow') {
      this.charsets = online.charsets;
      return { tables: this.tables, changes: [], reread: [], charsets: online.charsets };
    }
    const result = online.kind === 'swap' ? online.result : applyDdl(this.tables, database, statement, context);
    this.tables.clear();
    for (const [key, table] of result.tables) this.tables.set(key, table);
    this.charsets = result.charsets;
    this.saved = undefined;
    return result;
  }
}

/**
 * The schema events for one statement's changes, in order. Column changes of one table become one event (its
 * kind the first change's, every rename listed), before any table-level change of that table (a rename, a
 * truncate, a drop), so that a stage downstream sees the columns change under the table's old name first.
 */
export function schemaEventsOf(changes: readonly DdlTableChange[], ddl: string, tsMs: number): SchemaChangeEvent[] {
  const events: SchemaChangeEvent[] = [];
  const columnEvents = new Map<string, number>();
  for (const change of changes) {
    const table = change.current ?? change.previous;
    if (table === undefined) continue;
    const base = { kind: 'schema' as const, table: change.table, ddl, source: { tsMs } };
    if (TABLE_LEVEL.has(change.change)) {
      events.push({ ...base, change: change.change, schema: table.schema });
      continue;
    }
    const key = tableIdToString(change.table);
    const renames = change.renamedColumns ?? [];
    const at = columnEvents.get(key);
    const previous = at === undefined ? undefined : events[at];
    // The columns as the statement left them, under the name they have until a rename later in the list.
    const schema = { ...table.schema, id: change.table };
    if (previous === undefined) {
      columnEvents.set(key, events.length);
      events.push({
        ...base,
        change: change.change,
        schema,
        ...(renames.length > 0 ? { renamedColumns: renames } : {}),
      });
    } else if (renames.length > 0) {
      events[at!] = { ...previous, renamedColumns: [...(previous.renamedColumns ?? []), ...renames] };
    }
  }
  return events;
}

const TABLE_LEVEL: ReadonlySet<SchemaChangeEvent['change']> = new Set([
  'createTable',
  'renameTable',
  'dropTable',
  'truncateTable',
]);
