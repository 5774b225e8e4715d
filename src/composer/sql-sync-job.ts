import { basename, extname } from 'node:path';
import { parsePipelineYaml } from '../config/load-pipeline.js';
import { knownTypes, optionSpecsFor } from '../connectors/registry.js';
import type { CreateCatalogStatement, CreateTableStatement, OptionEntry, SyncStatement } from '../sql/sql-ast.js';
import { SqlError } from '../sql/sql-error.js';
import { composePipeline } from './pipeline-composer.js';
import {
  SINK_CATALOGS,
  SOURCE_CATALOGS,
  scanPatterns,
  sinkConnectorOptions,
  sourceBlock,
  type SqlJob,
  type SqlJobOptions,
  type SqlSession,
} from './sql-job.js';

/**
 * CDAS (`CREATE DATABASE t AS DATABASE catalog.db INCLUDING …`) and CTAS of whole tables (`CREATE TABLE t AS
 * TABLE catalog.db.tbl`), compiled into the pipeline `tributary run` runs for a YAML file with a route: the CDC
 * source capturing the matching tables, the transform and schema-evolution stages (each source table's schema
 * created in the target and its changes followed, by `schema.change.behavior`, `lenient` unless set), the sink.
 * Tables created at the source while it runs are picked up when they match. Throws SQL_INVALID for what does not
 * map (an unknown catalog, a source that is not a CDC catalog, a sink that is not one).
 */
export function buildSyncJob(current: SqlSession, statement: SyncStatement, options: SqlJobOptions): SqlJob {
  const session = current.snapshot();
  const { text } = session;
  const { source, target } = statement;

  // ---- the source: a CDC catalog's database (CDAS) or table(s) (CTAS); or, for CTAS, a declared CDC table ----
  let sourceTable: CreateTableStatement;
  const sourceCatalog = source.parts.length > 1 ? session.catalogs.get(source.parts[0]!.toLowerCase()) : undefined;
  const wanted = statement.what === 'database' ? 2 : 3;
  if (sourceCatalog !== undefined) {
    const connector = SOURCE_CATALOGS[catalogType(sourceCatalog)];
    if (connector === undefined) {
      throw new SqlError(
        text,
        source.start,
        `catalog ${sourceCatalog.name} is a '${catalogType(sourceCatalog)}' catalog, which cannot be read from`,
        "read from a catalog WITH ('type' = 'mysql-cdc' | 'postgres-cdc')",
      );
    }
    if (source.parts.length !== wanted) {
      throw new SqlError(
        text,
        source.start,
        statement.what === 'database'
          ? `AS DATABASE takes catalog.database, not ${source.parts.join('.')}`
          : `AS TABLE takes catalog.database.table, not ${source.parts.join('.')}`,
      );
    }
    const namespaceKey = connector === 'mysql-cdc' ? 'database-name' : 'schema-name';
    const tablePattern =
      statement.what === 'database'
        ? `(?:${statement.including!.pattern})`
        : // The table part of AS TABLE may be a regular expression (shards merged into one target table).
          source.parts[2]!;
    const entries = new Map<string, OptionEntry>([['connector', { value: connector, start: sourceCatalog.start }]]);
    for (const [key, entry] of sourceCatalog.options) if (key !== 'type') entries.set(key, entry);
    // AS TABLE's database part may be a pattern too (`user_db[0-9]+`); AS DATABASE names one database.
    const namespacePattern = statement.what === 'database' ? escapeRegExp(source.parts[1]!) : source.parts[1]!;
    entries.set(namespaceKey, { value: namespacePattern, start: source.start });
    entries.set('table-name', { value: tablePattern, start: source.start });
    sourceTable = fakeTable(sourceCatalog.name, entries, sourceCatalog.start);
  } else if (
    statement.what === 'table' &&
    source.parts.length === 1 &&
    session.tables.has(source.parts[0]!.toLowerCase())
  ) {
    sourceTable = session.tables.get(source.parts[0]!.toLowerCase())!;
    if (!['mysql-cdc', 'postgres-cdc'].includes(sourceTable.options.get('connector')!.value)) {
      throw new SqlError(text, source.start, `${sourceTable.name} is not a mysql-cdc or postgres-cdc table`);
    }
  } else {
    throw new SqlError(
      text,
      source.start,
      source.parts.length > 1
        ? `unknown catalog ${source.parts[0]}`
        : `AS ${statement.what.toUpperCase()} names ${source.parts[0]}, which is not a catalog${statement.what === 'table' ? ' or a declared table' : ''}`,
      statement.what === 'database'
        ? "declare the source server first: CREATE CATALOG mysql WITH ('type' = 'mysql-cdc', 'hostname' = …), then AS DATABASE mysql.db"
        : 'AS TABLE catalog.db.table (a CREATE CATALOG) or AS TABLE t (a mysql-cdc / postgres-cdc table declared before)',
    );
  }
  const sourceOptions: Record<string, string> = sourceBlock(text, [sourceTable]);
  const { namespace, name: tablePattern } = scanPatterns(sourceTable);
  if (statement.excluding !== undefined) {
    sourceOptions['tables.exclude'] = `${namespace}.(?:${statement.excluding.pattern})`;
  }

  // ---- the target: a sink catalog's database (schema) / table, or WITH ('connector' = …) ----
  const targetCatalog = target.parts.length > 1 ? session.catalogs.get(target.parts[0]!.toLowerCase()) : undefined;
  let sinkEntries: Map<string, OptionEntry>;
  let path: string[];
  if (targetCatalog !== undefined) {
    const connector = SINK_CATALOGS[catalogType(targetCatalog)];
    if (connector === undefined) {
      throw new SqlError(
        text,
        target.start,
        `catalog ${targetCatalog.name} is a '${catalogType(targetCatalog)}' catalog, which cannot be written to`,
        "write into a catalog WITH ('type' = 'jdbc' | 'postgres' | 'duckdb')",
      );
    }
    sinkEntries = new Map([['connector', { value: connector, start: targetCatalog.start }]]);
    for (const [key, entry] of targetCatalog.options) {
      if (key === 'type' || key === 'base-url' || key === 'default-database') continue;
      sinkEntries.set(key, entry);
    }
    if (connector === 'jdbc' && !targetCatalog.options.has('url')) {
      const base = targetCatalog.options.get('base-url');
      const database = targetCatalog.options.get('default-database');
      if (base === undefined || database === undefined) {
        throw new SqlError(
          text,
          targetCatalog.start,
          `jdbc catalog ${targetCatalog.name} needs 'base-url' and 'default-database' (or 'url')`,
          "'base-url' = 'jdbc:postgresql://host:5432', 'default-database' = 'analytics'",
        );
      }
      sinkEntries.set('url', { value: `${base.value.replace(/\/+$/, '')}/${database.value}`, start: base.start });
    }
    for (const [key, entry] of statement.options) sinkEntries.set(key, entry);
    path = target.parts.slice(1);
  } else {
    if (!statement.options.has('connector')) {
      throw new SqlError(
        text,
        target.start,
        target.parts.length > 1
          ? `unknown catalog ${target.parts[0]}`
          : `${target.parts[0]} has no catalog and no 'connector' option: where would it be written?`,
        "write into a catalog (CREATE CATALOG pg WITH ('type' = 'jdbc', …), then pg.db), or add WITH ('connector' = 'jdbc', 'url' = …)",
      );
    }
    sinkEntries = new Map(statement.options);
    path = [...target.parts];
  }
  const tableName = sinkEntries.get('table-name');
  sinkEntries.delete('table-name');
  let route: Record<string, string>;
  if (statement.what === 'database') {
    if (path.length !== 1) {
      throw new SqlError(
        text,
        target.start,
        `the target database is one name (a schema of the sink), not ${path.join('.')}`,
      );
    }
    route = { 'source-table': `${namespace}.${tablePattern}`, 'sink-table': `${path[0]}.<>`, 'replace-symbol': '<>' };
  } else {
    const sinkTable = tableName?.value ?? path.join('.');
    if (sinkTable.split('.').length > 2) {
      throw new SqlError(text, target.start, `the target table is table or schema.table, not ${sinkTable}`);
    }
    route = { 'source-table': `${namespace}.${tablePattern}`, 'sink-table': sinkTable };
  }
  const sinkTable = fakeTable(target.parts.join('.'), sinkEntries, target.start);
  const sinkOptions = sinkConnectorOptions(text, sinkTable, sinkEntries.get('connector')!.value, options.log);

  const settings = session.settings;
  const script = session.file === undefined ? '' : `${basename(session.file, extname(session.file))}-`;
  const name =
    settings.get('pipeline.name') ?? `sql-${script}${target.parts.join('_')}`.replace(/[^A-Za-z0-9_.-]/g, '_');
  const pipeline: Record<string, string> = { name };
  const setting = (key: string, as: string) => {
    const value = settings.get(key);
    if (value !== undefined) pipeline[as] = value;
  };
  setting('execution.checkpointing.interval', 'checkpoint.interval');
  setting('state.dir', 'state.dir');
  setting('parallelism.default', 'parallelism');
  setting('schema.change.behavior', 'schema.change.behavior');
  const yaml = JSON.stringify(
    { source: sourceOptions, sink: sinkOptions, route: [route], pipeline },
    (_key, value: unknown) => (typeof value === 'string' ? value.replaceAll('${', '$${') : value),
  );
  const def = parsePipelineYaml(yaml, { file: session.file ?? '<sql>', optionSpecsFor, knownTypes, env: {} });
  const composed = composePipeline(def, {
    log: options.log,
    ...(options.maxRetries === undefined ? {} : { maxRetries: options.maxRetries }),
  });
  const explain = [
    `Sync ${statement.what === 'database' ? 'database' : 'table'} ${source.parts.join('.')} → ${target.parts.join('.')} (${sinkOptions['type']})`,
    `  └─ source ${sourceOptions['type']}: tables ${sourceOptions['tables']}` +
      (sourceOptions['tables.exclude'] === undefined ? '' : `, except ${sourceOptions['tables.exclude']}`),
    `  └─ route ${route['source-table']} → ${route['sink-table']}; schema changes: ${def.pipeline.schemaChangeBehavior ?? 'lenient'}`,
  ].join('\n');
  return { def, pipeline: composed, explain };
}

/** `CREATE CATALOG`'s type, lower case. */
export function catalogType(catalog: CreateCatalogStatement): string {
  return catalog.options.get('type')!.value.toLowerCase();
}

function fakeTable(name: string, options: Map<string, OptionEntry>, start: number): CreateTableStatement {
  return { kind: 'createTable', name, columns: [], primaryKey: [], options, ifNotExists: false, start };
}

function escapeRegExp(text: string): string {
  return text.replace(/[\\^$.*+?()[\]{}|]/g, '\\$&');
}
