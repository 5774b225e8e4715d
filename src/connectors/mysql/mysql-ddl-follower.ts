import type { Connection } from 'mysql2/promise';
import { tableIdToString, type ChangeEvent, type SchemaChangeEvent, type TableId } from '../../core/index.js';
import type { Logger } from '../../core/logger.js';
import type { BinlogStep } from './mysql-binlog-step.js';
import { schemaEventsOf, type MysqlSchemaHistory } from './mysql-schema-history.js';
import { listTables, readTableSchemas, type MysqlTable } from './mysql-schema-reader.js';
import type { MysqlSourceConfig } from './mysql-source-config.js';

/** What the DDL follower needs from the source: its history, a connection, and its snapshot's table list. */
export interface DdlFollowerHost {
  readonly history: MysqlSchemaHistory;
  readonly config: MysqlSourceConfig;
  readonly log: Logger;
  /** The source's metadata connection (undefined once closed). */
  connection(): Connection | undefined;
  /** The server's flavor, once connected. */
  flavor(): 'mariadb' | 'mysql' | undefined;
  isCaptured(namespace: string, name: string): boolean;
  /** Snapshots a table that appeared, beside the binlog. */
  snapshotTable(key: string): void;
  /** Takes a table out of the snapshot (dropped or renamed). */
  forgetSnapshotTable(key: string): void;
  /** Whether the table's snapshot is still in progress. */
  inSnapshot(key: string): boolean;
}

/** A CREATE statement (after any leading comments): the tables it makes are new, and empty but for the binlog's rows. */
const CREATE_STATEMENT = /^(?:\s+|\/\*[\s\S]*?\*\/|#[^\n]*\n|--[^\n]*\n)*CREATE\b/i;

/**
 * Turns DDL statements from the binlog into schema events. The statement is parsed and applied to the schema
 * history, so the rows after it are read with the schema it left — whenever the binlog is read. Tables the
 * statement changed in a way the parser does not follow are read from the server (at this moment, the best
 * there is); a statement it does not understand at all makes it read the schemas of the statement's database.
 * A table created by the statement (CREATE TABLE, … LIKE, … SELECT) has all its rows after it in the binlog (row
 * logging writes a CREATE … SELECT's rows as row events): nothing to snapshot — a snapshot read beside the binlog
 * would deliver rows the binlog delivers too, which an upsert absorbs but a SQL job's aggregate would count twice.
 * A table that appears otherwise (renamed into the pattern, found by reading the schemas) is snapshotted beside
 * the binlog.
 */
export class MysqlDdlFollower {
  constructor(private readonly host: DdlFollowerHost) {}

  async follow(step: Extract<BinlogStep, { kind: 'ddl' }>, out: ChangeEvent[]): Promise<void> {
    const { host } = this;
    const result = host.history.apply(step.sql, step.database);
    const creates = CREATE_STATEMENT.test(step.sql);
    for (const event of schemaEventsOf(result.changes, step.sql, step.tsMs)) {
      out.push(event);
      const key = tableIdToString(event.table);
      if (event.change === 'createTable' && !creates) host.snapshotTable(key);
      else if (event.change === 'dropTable') host.forgetSnapshotTable(key);
      else if (event.change === 'renameTable' && host.inSnapshot(key)) {
        // A table renamed while it was being snapshotted is snapshotted again under its new name.
        host.forgetSnapshotTable(key);
        host.snapshotTable(tableIdToString(event.schema.id));
      }
      host.log.info(`${key}: ${event.change} (${step.sql.slice(0, 80)})`);
    }
    if (result.unknown !== undefined) {
      host.log.debug(`DDL not parsed (${result.unknown}): reading the schemas of ${step.database || 'every database'}`);
      await this.reread(step, out, step.database ? [step.database] : undefined, undefined);
    } else if (result.reread.length > 0) {
      await this.reread(step, out, undefined, result.reread);
    }
  }

  /** Reads schemas from the server now: of `tables`, or of every captured table in `databases`. */
  private async reread(
    step: Extract<BinlogStep, { kind: 'ddl' }>,
    out: ChangeEvent[],
    databases: string[] | undefined,
    tables: readonly TableId[] | undefined,
  ): Promise<void> {
    const { host } = this;
    const conn = host.connection();
    if (!conn) return;
    const wanted = tables ?? (await listTables(conn)).filter((t) => !databases || databases.includes(t.namespace));
    const captured = wanted.filter((t) => host.isCaptured(t.namespace, t.name));
    const fresh = await readTableSchemas(conn, captured, host.config.chunkKeyColumn, host.config, host.flavor());
    for (const id of tables ?? []) {
      const key = tableIdToString(id);
      const old = host.history.tables.get(key);
      if (old && !fresh.has(key)) {
        host.history.delete(key);
        host.forgetSnapshotTable(key);
        out.push(tableSchemaEvent(old, 'dropTable', step.sql, step.tsMs));
      }
    }
    for (const [key, table] of fresh) {
      const old = host.history.tables.get(key);
      if (old && JSON.stringify(old.schema) === JSON.stringify(table.schema)) continue;
      host.history.set(key, table);
      out.push(tableSchemaEvent(table, old ? 'refreshTable' : 'createTable', step.sql, step.tsMs));
      if (!old) host.snapshotTable(key);
      host.log.info(
        `${old ? 'schema of' : 'new table'} ${key} ${old ? 'changed' : 'captured'} (${step.sql.slice(0, 80)})`,
      );
    }
  }
}

/** A schema event carrying a table's whole schema (every stream starts with one `createTable` per table). */
export function tableSchemaEvent(
  table: MysqlTable,
  change: SchemaChangeEvent['change'] = 'createTable',
  ddl?: string,
  tsMs = 0,
): SchemaChangeEvent {
  return {
    kind: 'schema',
    table: table.schema.id,
    change,
    schema: table.schema,
    ...(ddl ? { ddl } : {}),
    source: { tsMs },
  };
}
