import { basename, extname, join } from 'node:path';
import type { PipelineDef } from '../config/pipeline-def.js';
import { parsePipelineYaml } from '../config/load-pipeline.js';
import { didYouMean } from '../config/did-you-mean.js';
import { parseDuration } from '../core/duration.js';
import { parseMemorySize } from '../core/memory-size.js';
import { tableId, type TableId, type TableSchema } from '../core/table-schema.js';
import { knownTypes, optionSpecsFor } from '../connectors/registry.js';
import type { Logger } from '../runtime/logger.js';
import { interpolateEnv, type Env } from '../config/env-interpolation.js';
import type {
  ColumnDef,
  CreateCatalogStatement,
  CreateTableAsStatement,
  CreateTableStatement,
  CreateViewStatement,
  InsertStatement,
  OptionEntry,
  Statement,
} from '../sql/sql-ast.js';
import { SqlError } from '../sql/sql-error.js';
import { parseSqlScript } from '../sql/sql-parser.js';
import {
  connectorOf,
  planInsert,
  planSelect,
  planView,
  typeComputedColumns,
  type PlanOptions,
  type QueryPlan,
} from '../sql/planner.js';
import type { DataType } from '../core/data-type.js';
import { SqlOperator, type ScanSource, type SqlQuery } from '../sql/sql-operator.js';
import { composePipeline, type Pipeline } from './pipeline-composer.js';

/**
 * A SQL session: the tables its `CREATE TABLE` statements declared and its `SET` settings. Statements run in
 * order; `INSERT INTO … SELECT` compiles into one pipeline of the connectors we have (see {@link buildSqlJob}).
 */
export class SqlSession {
  readonly tables = new Map<string, CreateTableStatement>();
  /** `CREATE TEMPORARY VIEW`s, by lower-case name (one namespace with the tables). */
  readonly views = new Map<string, CreateViewStatement>();
  readonly settings = new Map<string, string>();
  /** `CREATE CATALOG`s (the servers CDAS and CTAS … AS TABLE name), by lower-case name. */
  readonly catalogs = new Map<string, CreateCatalogStatement>();

  constructor(
    /** The text statements are parsed from: the script, or (the interactive client) the statement just typed. */
    public text: string,
    /** The script's path, for the default job name. */
    readonly file?: string,
    /** What `${VAR}` in `WITH` option values reads (process.env by default). */
    readonly env: Env = process.env,
  ) {}

  static parse(text: string, file?: string, env?: Env): { session: SqlSession; statements: Statement[] } {
    return { session: new SqlSession(text, file, env), statements: parseSqlScript(text) };
  }

  /** Applies a CREATE TABLE, CREATE VIEW, CREATE CATALOG or SET; other statements are the caller's. */
  declare(statement: Statement): void {
    if (statement.kind === 'createCatalog') {
      const key = statement.name.toLowerCase();
      if (this.catalogs.has(key)) {
        if (statement.ifNotExists) return;
        throw new SqlError(
          this.text,
          statement.start,
          `catalog ${statement.name} is declared twice`,
          'drop one of them',
        );
      }
      const type = statement.options.get('type');
      if (type === undefined || !CATALOG_TYPES.includes(type.value.toLowerCase())) {
        throw new SqlError(
          this.text,
          type?.start ?? statement.start,
          type === undefined
            ? `catalog ${statement.name} has no 'type' option`
            : `unknown catalog type '${type.value}'`,
          `write 'type' = '${CATALOG_TYPES.join("' | '")}'`,
        );
      }
      this.catalogs.set(key, { ...statement, options: this.interpolated(statement.options) });
    } else if (statement.kind === 'createView') {
      const key = statement.name.toLowerCase();
      if (this.tables.has(key) || this.views.has(key)) {
        if (statement.ifNotExists && this.views.has(key)) return;
        throw new SqlError(
          statement.text,
          statement.start,
          `${this.tables.has(key) ? 'a table' : 'a view'} named ${statement.name} exists already`,
          'give the view another name',
        );
      }
      planView(statement, this.tables, this.planOptions()); // a mistake in the view stops the script here
      this.views.set(key, statement);
    } else if (statement.kind === 'createTable') {
      const key = statement.name.toLowerCase();
      if (this.views.has(key)) {
        throw new SqlError(this.text, statement.start, `a view named ${statement.name} exists already`);
      }
      if (this.tables.has(key)) {
        if (statement.ifNotExists) return;
        throw new SqlError(this.text, statement.start, `table ${statement.name} is declared twice`, 'drop one of them');
      }
      if (!statement.options.has('connector')) {
        throw new SqlError(
          this.text,
          statement.start,
          `table ${statement.name} has no 'connector' option`,
          "add WITH ('connector' = 'mysql-cdc', …) for a source or 'jdbc' | 'postgres' | 'duckdb' | 'iceberg' | 'nats' | 'kafka' for a sink",
        );
      }
      this.tables.set(
        key,
        typeComputedColumns({ ...statement, options: this.interpolated(statement.options) }, this.timeZone),
      );
    } else if (statement.kind === 'set' && statement.key !== undefined) {
      const entry = { value: statement.value!, start: statement.start };
      const value = this.interpolated(new Map([[statement.key, entry]])).get(statement.key)!.value;
      const checked = CHECKED_SETTINGS[statement.key];
      const problem = checked?.check(value);
      if (checked !== undefined && problem !== undefined) {
        throw new SqlError(this.text, statement.start, `'${value}' ${problem}`, checked.fix);
      }
      this.settings.set(statement.key, value);
    }
  }

  /** Option values with `${VAR}` / `${VAR:-default}` replaced from the environment (`$${` for a literal `${`). */
  private interpolated(options: ReadonlyMap<string, OptionEntry>): Map<string, OptionEntry> {
    const out = new Map<string, OptionEntry>();
    for (const [key, entry] of options) {
      const { value, missing, malformed } = interpolateEnv(entry.value, this.env);
      if (missing.length > 0 || malformed.length > 0) {
        throw new SqlError(
          this.text,
          entry.start,
          missing.length > 0
            ? `option '${key}' reads the environment variable ${missing[0]}, which is not set`
            : `option '${key}' has a malformed reference ${malformed[0]}`,
          missing.length > 0
            ? `set ${missing[0]}, or write \${${missing[0]}:-default}`
            : 'write ${NAME} or $${ for a literal ${',
        );
      }
      out.set(key, { ...entry, value });
    }
    return out;
  }

  get timeZone(): string {
    return this.settings.get('table.local-time-zone') ?? Intl.DateTimeFormat().resolvedOptions().timeZone;
  }

  /** What the planner needs of the session besides the tables. */
  planOptions(): PlanOptions {
    const off = (key: string) => this.settings.get(key)?.toLowerCase() === 'false';
    return {
      timeZone: this.timeZone,
      views: this.views,
      ...(off(EAGER_AGGREGATION) ? { eagerAggregation: false } : {}),
      ...(off(AGGREGATING_JOINS) ? { aggregatingJoins: false } : {}),
    };
  }

  /**
   * Plans an INSERT against the session as it is now; `current` false: without eager aggregation and aggregating
   * joins whatever the session says (the plan of a release before them).
   */
  plan(insert: InsertStatement, current = true): QueryPlan {
    const options = this.planOptions();
    return planInsert(
      this.text,
      insert,
      this.tables,
      current ? options : { ...options, eagerAggregation: false, aggregatingJoins: false },
    );
  }

  /**
   * CTAS: declares the sink table with the query's columns (names and types as the query gives them) and a key —
   * the declared one, else the first the query's rows are unique on — and returns the INSERT that fills it.
   */
  createTableAs(statement: CreateTableAsStatement): InsertStatement {
    const { text } = this;
    const root = planSelect(text, statement.query, this.tables, this.planOptions()).root;
    const names = new Set<string>();
    for (const field of root.fields) {
      if (names.has(field.name.toLowerCase())) {
        throw new SqlError(
          text,
          statement.start,
          `the query has two columns named ${field.name}, which one table cannot hold`,
          'name the columns apart with AS',
        );
      }
      names.add(field.name.toLowerCase());
    }
    let primaryKey = [...statement.primaryKey];
    if (primaryKey.length === 0) {
      const key = root.uniqueKeys[0];
      if (key === undefined) {
        throw new SqlError(
          text,
          statement.start,
          `the query's rows are unique on no set of columns, so ${statement.name} would have no key to upsert by`,
          'GROUP BY, SELECT DISTINCT, or select the key columns of the tables read',
        );
      }
      primaryKey = key.map((i) => root.fields[i]!.name);
    }
    for (const key of primaryKey) {
      if (!names.has(key.toLowerCase())) {
        throw new SqlError(text, statement.start, `the primary key names ${key}, which the query does not select`);
      }
    }
    const columns: ColumnDef[] = root.fields.map((f) => ({
      name: f.name,
      type: f.type,
      typeText: sqlTypeText(f.type),
      nullable: f.nullable && !primaryKey.some((k) => k.toLowerCase() === f.name.toLowerCase()),
      start: statement.start,
    }));
    const { name, options, ifNotExists, start, query } = statement;
    this.declare({ kind: 'createTable', name, columns, primaryKey, options, ifNotExists, start });
    return { kind: 'insert', table: name, tableStart: start, query, start };
  }

  /**
   * The session as it is now, apart from later statements: a job built at an INSERT keeps the tables, views
   * and settings declared before it (a later SET does not change a running job, as in Flink's client).
   */
  snapshot(): SqlSession {
    const copy = new SqlSession(this.text, this.file, this.env);
    for (const [k, v] of this.tables) copy.tables.set(k, v);
    for (const [k, v] of this.views) copy.views.set(k, v);
    for (const [k, v] of this.settings) copy.settings.set(k, v);
    for (const [k, v] of this.catalogs) copy.catalogs.set(k, v);
    return copy;
  }
}

/** An INSERT compiled into a pipeline: the pipeline as `run` runs it, and its plan for EXPLAIN. */
export interface SqlJob {
  readonly def: PipelineDef;
  readonly pipeline: Pipeline;
  readonly explain: string;
}

export interface SqlJobOptions {
  readonly log: Logger;
  readonly maxRetries?: number;
}

/** Catalog types: what a catalog is (a CDC source, or a sink) and the connector its tables are of. */
export const SOURCE_CATALOGS: Readonly<Record<string, string>> = {
  'mysql-cdc': 'mysql-cdc',
  mysql: 'mysql-cdc',
  'postgres-cdc': 'postgres-cdc',
};
export const SINK_CATALOGS: Readonly<Record<string, string>> = { jdbc: 'jdbc', postgres: 'postgres', duckdb: 'duckdb' };
export const CATALOG_TYPES = [...Object.keys(SOURCE_CATALOGS), ...Object.keys(SINK_CATALOGS)];

/** Mapped by the SQL layer itself, not passed on to the connector. */
/** Flink JDBC sink options that have no meaning here (the runner's checkpoints bound the batches). */
const JDBC_IGNORED = new Set([
  'driver',
  'sink.buffer-flush.interval',
  'sink.max-retries',
  'sink.parallelism',
  'connection.max-retry-timeout',
]);
const SINK_CONNECTORS = ['jdbc', 'postgres', 'duckdb', 'iceberg', 'nats', 'kafka'];
/** The sink connectors whose table is named by the table's own options rather than by a required 'table-name'. */
const NAMED_BY_DEFAULT = new Set(['iceberg', 'nats', 'kafka']);
/** Flink's iceberg connector: the options that name the table (mapped by {@link sinkSchemaOf}, not passed on). */
const ICEBERG_TABLE_KEYS = new Set(['catalog-database', 'catalog-table']);

/**
 * Compiles `INSERT INTO sink SELECT …` over `mysql-cdc` tables of one server into one pipeline: the mysql source
 * capturing the tables the query reads, the query as one {@link SqlOperator}, and the sink connector of the
 * sink table. Several INSERTs (a statement set) make one pipeline too: one source capturing the tables all of
 * them read (each change read once), one operator running every query, one sink — so their sink tables must be
 * in one database of one sink connector. Exactly-once and crash recovery are the runner's: the queries' state
 * is committed with each checkpoint. Throws SQL_INVALID for what does not map.
 */
export function buildSqlJob(
  current: SqlSession,
  inserts: InsertStatement | readonly InsertStatement[],
  options: SqlJobOptions,
): SqlJob {
  const session = current.snapshot();
  const { text } = session;
  const timeZone = session.timeZone;
  const list = Array.isArray(inserts) ? (inserts as readonly InsertStatement[]) : [inserts as InsertStatement];
  const plans = (eager = true) => list.map((insert) => session.plan(insert, eager));
  const firstPlans = plans();
  const scanTables = [
    ...new Set(firstPlans.flatMap((p) => p.scans.map((scan) => session.tables.get(scan.table.toLowerCase())!))),
  ];

  const sourceOptions = sourceBlock(text, scanTables);
  for (const table of scanTables) {
    if (table.watermark === undefined) continue;
    options.log.warn(
      `table ${table.name}: WATERMARK FOR ${table.watermark.column} has no effect here — nothing waits for a ` +
        'watermark: window results are updated in place as rows arrive, and no row is dropped as late (docs/sql.md#windows)',
    );
  }

  // One sink: every INSERT's sink table must be written by the same connector with the same options.
  let sinkOptions: Record<string, string> | undefined;
  const sinkSchemas = new Map<string, TableSchema>();
  firstPlans.forEach((plan, i) => {
    const sink = plan.sink;
    const own = sinkConnectorOptions(text, sink, connectorOf(sink), options.log);
    if (sinkOptions === undefined) sinkOptions = own;
    else if (JSON.stringify(sortedEntries(own)) !== JSON.stringify(sortedEntries(sinkOptions))) {
      throw new SqlError(
        text,
        list[i]!.tableStart,
        `${sink.name} and ${firstPlans[0]!.sink.name} are written by one job, so they need the same connector and options`,
        'a statement set writes through one sink: put the sink tables in one database (same url, username, password), or run the INSERTs as separate jobs',
      );
    }
    if (sinkSchemas.has(sink.name.toLowerCase())) {
      throw new SqlError(
        text,
        list[i]!.tableStart,
        `two INSERTs of the statement set write into ${sink.name}`,
        'write each sink table from one INSERT (combine the queries with UNION ALL)',
      );
    }
    sinkSchemas.set(sink.name.toLowerCase(), sinkSchemaOf(text, sink));
  });

  const settings = session.settings;
  const script = session.file === undefined ? '' : `${basename(session.file, extname(session.file))}-`;
  const name =
    settings.get('pipeline.name') ??
    `sql-${script}${firstPlans.map((p) => p.sink.name).join('-')}`.replace(/[^A-Za-z0-9_.-]/g, '_');
  const pipeline: Record<string, string> = { name };
  const interval = settings.get('execution.checkpointing.interval');
  if (interval !== undefined) pipeline['checkpoint.interval'] = interval;
  const stateDir = settings.get('state.dir');
  if (stateDir !== undefined) pipeline['state.dir'] = stateDir;
  const parallelism = settings.get('parallelism.default');
  if (parallelism !== undefined) pipeline['parallelism'] = parallelism;
  // The values are interpolated already (SqlSession): `${` left in them is literal for the YAML loader too.
  const yaml = JSON.stringify({ source: sourceOptions, sink: sinkOptions, pipeline }, (_key, value: unknown) =>
    typeof value === 'string' ? value.replaceAll('${', '$${') : value,
  );
  const def = parsePipelineYaml(yaml, { file: session.file ?? '<sql>', optionSpecsFor, knownTypes, env: {} });

  const query = (p: QueryPlan): SqlQuery => {
    const sources: ScanSource[] = p.scans.map((scan) => {
      const table = session.tables.get(scan.table.toLowerCase())!;
      return {
        scan,
        database: anchored(scanPatterns(table).namespace),
        table: anchored(scanPatterns(table).name),
      };
    });
    return { plan: p, sources, sinkSchema: sinkSchemas.get(p.sink.name.toLowerCase())! };
  };
  const composed = composePipeline(def, {
    log: options.log,
    caughtUpLingerMs: SQL_CAUGHT_UP_LINGER_MS,
    maxPendingEvents: SQL_MAX_PENDING_EVENTS,
    // The SQL operator seals its state's changes at each snapshot (DiskStateStore.snapshot).
    overlapCommits: true,
    operators: () => [
      new SqlOperator(
        plans().map(query),
        timeZone,
        { dir: def.pipeline.stateDir ?? join('.tributary', name), ...sqlStateOptions(settings) },
        (message) => options.log.warn(message),
        () => plans(false).map(query),
      ),
    ],
    ...(options.maxRetries === undefined ? {} : { maxRetries: options.maxRetries }),
  });
  return { def, pipeline: composed, explain: firstPlans.map((p) => p.explain).join('\n\n') };
}

/** The `SET` key of the state cache's size ({@link sqlStateOptions}). */
export const STATE_CACHE_SIZE = 'tributary.state.cache-size';
const MIN_STATE_CACHE_BYTES = 1024 * 1024;

/** The `SET` key that turns eager aggregation off (src/sql/eager-aggregation.ts). */
export const EAGER_AGGREGATION = 'tributary.optimizer.eager-aggregation';
/** The `SET` key that turns aggregating joins off (`AggregatingSide` in src/sql/exec/nodes.ts). */
export const AGGREGATING_JOINS = 'tributary.optimizer.aggregating-joins';

const TRUE_OR_FALSE = {
  check: (value: string) => (['true', 'false'].includes(value.toLowerCase()) ? undefined : 'is not true or false'),
  fix: "write 'true' (the default) or 'false'",
};

/** The `SET` keys whose values are checked when the statement runs: what a valid value is, and how to write one. */
const CHECKED_SETTINGS: Readonly<
  Record<string, { readonly check: (value: string) => string | undefined; readonly fix: string }>
> = {
  'table.exec.state.ttl': {
    check: (value) => (parseDuration(value) === undefined ? 'is not a duration' : undefined),
    fix: "write a whole number and a unit: '30 min', '12 h', '7 d' ('0': state never expires)",
  },
  [EAGER_AGGREGATION]: TRUE_OR_FALSE,
  [AGGREGATING_JOINS]: TRUE_OR_FALSE,
  [STATE_CACHE_SIZE]: {
    check: (value) => {
      const bytes = parseMemorySize(value);
      if (bytes === undefined) return 'is not a memory size';
      return bytes < MIN_STATE_CACHE_BYTES ? 'is less than 1 mb' : undefined;
    },
    fix: "write a whole number and a unit of at least 1 mb: '32 mb', '256 mb', '1 gb'",
  },
};

/**
 * The job state's settings from the session's `SET`s (checked when they were set): `table.exec.state.ttl`, and
 * `tributary.state.cache-size` — the memory of the state's cache of decoded entries and of its changes not yet in the
 * state file (the cache gives way to the changes, down to a quarter of it; default `DEFAULT_CACHE_BYTES` of the disk
 * state).
 */
export function sqlStateOptions(settings: ReadonlyMap<string, string>): { ttlMs: number; cacheBytes?: number } {
  const ttlMs = parseDuration(settings.get('table.exec.state.ttl') ?? '0') ?? 0;
  const cache = settings.get(STATE_CACHE_SIZE);
  const cacheBytes = cache === undefined ? undefined : parseMemorySize(cache);
  return cacheBytes === undefined ? { ttlMs } : { ttlMs, cacheBytes };
}

/** The CDC connectors of `CREATE TABLE … WITH`: the pipeline source each maps to, and the option naming a table's namespace. */
const CDC_CONNECTORS: Readonly<
  Record<string, { readonly type: string; readonly namespaceKey: string; readonly namespaceDefault?: string }>
> = {
  'mysql-cdc': { type: 'mysql', namespaceKey: 'database-name' },
  'postgres-cdc': { type: 'postgres', namespaceKey: 'schema-name', namespaceDefault: 'public' },
};

/** The source tables a CDC table reads: its namespace (database or schema) and table-name regular expressions. */
export function scanPatterns(table: CreateTableStatement): { readonly namespace: string; readonly name: string } {
  const cdc = CDC_CONNECTORS[connectorOf(table)]!;
  return {
    namespace: table.options.get(cdc.namespaceKey)?.value ?? cdc.namespaceDefault ?? '',
    name: table.options.get('table-name')!.value,
  };
}

/**
 * The source block of the pipeline that reads `scanTables` (mysql-cdc or postgres-cdc tables): their common
 * connection options under the source's names, and `tables` capturing each. One job reads one server, so the
 * tables must be of one connector and agree on every option but their namespace and table patterns.
 */
export function sourceBlock(text: string, scanTables: readonly CreateTableStatement[]): Record<string, string> {
  let sourceOptions: Record<string, string> | undefined;
  let sourceOf: CreateTableStatement | undefined;
  const patterns: string[] = [];
  for (const table of scanTables) {
    const connector = connectorOf(table);
    const cdc = CDC_CONNECTORS[connector]!;
    const tableKeys = new Set(['connector', cdc.namespaceKey, 'table-name']);
    const known = new Set((optionSpecsFor(cdc.type, 'source') ?? []).map((s) => s.key));
    const own: Record<string, string> = { connector };
    for (const [key, entry] of table.options) {
      if (tableKeys.has(key)) continue;
      if (!known.has(key) || key === 'tables' || key === 'tables.exclude') {
        const near = didYouMean(key, [...known, ...tableKeys]);
        throw new SqlError(
          text,
          entry.start,
          `'${key}' is not an option of a ${connector} table`,
          near === undefined ? `see docs/sql.md#${connector} for the options` : `did you mean '${near}'?`,
        );
      }
      own[key] = entry.value;
    }
    const required = [
      'hostname',
      'username',
      ...(cdc.namespaceDefault === undefined ? [cdc.namespaceKey] : []),
      'table-name',
    ];
    if (connector === 'postgres-cdc') required.push('database-name');
    for (const key of required) {
      if (!table.options.has(key)) {
        throw new SqlError(text, table.start, `${connector} table ${table.name} needs the option '${key}'`);
      }
    }
    if (sourceOptions === undefined) {
      sourceOptions = own;
      sourceOf = table;
    } else if (JSON.stringify(sortedEntries(own)) !== JSON.stringify(sortedEntries(sourceOptions))) {
      throw new SqlError(
        text,
        table.start,
        `${table.name} and ${sourceOf!.name} are read by one job, so they need the same connector, server and options`,
        'give both tables the same connector, hostname, port, username, password and scan.* options (one job reads one server)',
      );
    }
    const { namespace, name } = scanPatterns(table);
    patterns.push(`${namespace}.${name}`);
  }
  const { connector, ...options } = sourceOptions!;
  return { type: CDC_CONNECTORS[connector!]!.type, ...options, tables: [...new Set(patterns)].join(',') };
}

/** The sink table as the sink connector creates it: key columns NOT NULL. */
function sinkSchemaOf(text: string, sink: CreateTableStatement): TableSchema {
  return {
    id: sinkTableId(text, sink),
    columns: sink.columns.map((c) => ({
      name: c.name,
      type: c.type,
      nullable: c.nullable && !sink.primaryKey.some((k) => k.toLowerCase() === c.name.toLowerCase()),
    })),
    primaryKey: sink.primaryKey.map((k) => sink.columns.find((c) => c.name.toLowerCase() === k.toLowerCase())!.name),
  };
}

/**
 * The table a sink table writes: its 'table-name' (`name` or `namespace.name`); for Flink's iceberg connector
 * 'catalog-database' and 'catalog-table' (defaults: Flink's current database, `default_database`, and the SQL
 * table's name); for the log sinks the SQL table's name when 'table-name' is not given.
 */
export function sinkTableId(text: string, sink: CreateTableStatement): TableId {
  const connector = connectorOf(sink);
  const option = (key: string) => sink.options.get(key)?.value;
  if (connector === 'iceberg' && option('table-name') === undefined) {
    return tableId(option('catalog-database') ?? 'default_database', option('catalog-table') ?? sink.name);
  }
  const tableName = option('table-name') ?? (NAMED_BY_DEFAULT.has(connector) ? sink.name : undefined);
  if (tableName === undefined) {
    throw new SqlError(text, sink.start, `sink table ${sink.name} needs the option 'table-name'`);
  }
  const dot = tableName.indexOf('.');
  return dot < 0 ? tableId('', tableName) : tableId(tableName.slice(0, dot), tableName.slice(dot + 1));
}

/** The sink connector's options from a sink table's WITH clause. */
export function sinkConnectorOptions(
  text: string,
  sink: CreateTableStatement,
  connector: string,
  log: Logger,
): Record<string, string> {
  if (!SINK_CONNECTORS.includes(connector)) {
    throw new SqlError(
      text,
      sink.options.get('connector')!.start,
      `'${connector}' tables cannot be written to`,
      `write to a table WITH ('connector' = '${SINK_CONNECTORS.join("' | '")}')`,
    );
  }
  const type = connector === 'jdbc' ? 'postgres' : connector;
  const specs = new Set((optionSpecsFor(type, 'sink') ?? []).map((s) => s.key));
  const out: Record<string, string> = { type };
  for (const [key, entry] of sink.options) {
    if (key === 'connector' || key === 'table-name') continue;
    if (connector === 'iceberg' && ICEBERG_TABLE_KEYS.has(key)) continue;
    const flink = flinkSinkOption(text, connector, key, entry, log, sink.name);
    if (flink !== undefined) {
      if (flink !== null) out[flink.key] = flink.value;
      continue;
    }
    if (connector === 'jdbc') {
      if (JDBC_IGNORED.has(key)) {
        log.warn(`sink table ${sink.name}: option '${key}' has no effect here (commits follow the checkpoints)`);
        continue;
      }
      if (key === 'url') {
        const match = /^jdbc:postgresql:\/\/([^/:?]+)(?::(\d+))?\/([^?]+)/.exec(entry.value);
        if (match === null) {
          throw new SqlError(
            text,
            entry.start,
            "the jdbc 'url' is not a PostgreSQL JDBC URL",
            "write 'jdbc:postgresql://host:port/database' (only PostgreSQL is a jdbc sink here)",
          );
        }
        out['hostname'] = match[1]!;
        if (match[2] !== undefined) out['port'] = match[2];
        out['database'] = decodeURIComponent(match[3]!);
        continue;
      }
      if (key === 'username' || key === 'password') {
        out[key] = entry.value;
        continue;
      }
      if (key === 'sink.buffer-flush.max-rows') {
        out['buffer.max-rows'] = entry.value;
        continue;
      }
    } else if (specs.has(key)) {
      out[key] = entry.value;
      continue;
    }
    const near = didYouMean(key, connector === 'jdbc' ? ['url', 'table-name', 'username', 'password'] : [...specs]);
    throw new SqlError(
      text,
      entry.start,
      `'${key}' is not an option of a ${connector} table`,
      near === undefined ? `see docs/sql.md#${connector} for the options` : `did you mean '${near}'?`,
    );
  }
  if (sink.partitionedBy !== undefined) {
    if (connector !== 'iceberg') {
      log.warn(
        `sink table ${sink.name}: PARTITIONED BY has no effect on a '${connector}' table (only iceberg tables are partitioned by it)`,
      );
    } else if (out['partition-by'] === undefined) out['partition-by'] = sink.partitionedBy.join(', ');
  }
  // A query's result changes repeat its keys (a group changes with each of its rows): held until the commit,
  // PostgreSQL writes each key once per checkpoint, not once per batch (bench/README.md, "Seed 004 end to end").
  if (type === 'postgres' && out['buffer.max-rows'] === undefined)
    out['buffer.max-rows'] = String(SQL_SINK_BUFFER_ROWS);
  return out;
}

/**
 * A SQL job's `caughtUpLingerMs` (the runner's `RunOptions`): how long the source must stay caught up (no batch after
 * one that said so) before the changes waiting are committed ahead of the checkpoint interval; its changes land within
 * this of their last batch. Not at once: a source says it caught up when nothing more is buffered in the process,
 * which, while it catches up from a backlog, happens each time the job reads faster than the socket delivers — seed
 * 004's job then committed every ~5,000 changes instead of every second, at two thirds of the rate (bench/README.md,
 * "Seed 004 end to end"). Pipelines keep committing at once: their live apply measured no better with it, and worse
 * in some pairs.
 */
export const SQL_CAUGHT_UP_LINGER_MS = 25;

/**
 * A SQL job's bound on the sink's uncommitted events (pipelines: 50,000). What a query writes is its result changes,
 * each group or row once per input change that touches it, and the sink holds them collapsed per key
 * ({@link SQL_SINK_BUFFER_ROWS} bounds that memory): at 50,000 seed 004's job committed every ~0.45 s, each commit's
 * fixed cost (every changed group upserted, the state's delta stored) paid twice as often as its 1 s interval asks.
 * At 200,000, 600,000 changes caught up at 34,340 and 42,619 changes/s against 34,408 and 31,252, for +35–50 MB of
 * peak RSS (bench/README.md, "Seed 004 end to end").
 */
export const SQL_MAX_PENDING_EVENTS = 200_000;

/** `buffer.max-rows` of a SQL job's PostgreSQL sink unless its WITH sets it (or Flink's `sink.buffer-flush.max-rows`). */
export const SQL_SINK_BUFFER_ROWS = 100_000;

/**
 * A Flink SQL option of the iceberg or kafka connector that our connector names otherwise: the option it maps to,
 * null when it has nothing to set here (said in a warning where the user may expect an effect), or undefined when
 * it is not one of those (then it is taken as our connector's own option).
 */
function flinkSinkOption(
  text: string,
  connector: string,
  key: string,
  entry: OptionEntry,
  log: Logger,
  table: string,
): { key: string; value: string } | null | undefined {
  const { value } = entry;
  if (connector === 'kafka') {
    if (key === 'format') return { key: 'value.format', value };
    return undefined;
  }
  if (connector !== 'iceberg') return undefined;
  switch (key) {
    case 'warehouse':
      // Flink writes a URI (file:///lake); the local filesystem is the warehouse here.
      if (/^[a-z][a-z0-9+.-]*:\/\//i.test(value) && !value.startsWith('file://')) {
        throw new SqlError(
          text,
          entry.start,
          `the iceberg warehouse ${value} is not on the local filesystem`,
          "write a directory ('./lake' or 'file:///path/lake'): object stores are not supported yet",
        );
      }
      return { key, value: value.startsWith('file://') ? decodeURIComponent(value.slice('file://'.length)) : value };
    case 'catalog-name':
      return { key: 'catalog.name', value };
    case 'catalog-type':
      if (value.toLowerCase() === 'hadoop') return { key: 'catalog', value: 'hadoop' };
      if (value.toLowerCase() === 'jdbc') return { key: 'catalog', value: 'sqlite' };
      throw new SqlError(
        text,
        entry.start,
        `catalog-type '${value}' is not supported`,
        "write 'hadoop' (version-hint files in the warehouse) or 'jdbc' with 'uri' = 'jdbc:sqlite:<file>'",
      );
    case 'uri': {
      const match = /^jdbc:sqlite:(.+)$/.exec(value);
      if (match === null) {
        throw new SqlError(
          text,
          entry.start,
          `the catalog uri ${value} is not a SQLite JDBC URL`,
          "write 'jdbc:sqlite:<file>': the JDBC catalog is kept in SQLite here",
        );
      }
      return { key: 'catalog.sqlite-file', value: match[1]! };
    }
    case 'format-version':
      if (value !== '2') {
        throw new SqlError(
          text,
          entry.start,
          `format-version '${value}' is not written here`,
          "write '2' (or leave it out): upserts need Iceberg v2's delete files",
        );
      }
      return null;
    case 'write.upsert.enabled':
      if (value.toLowerCase() === 'false') {
        log.warn(
          `sink table ${table}: 'write.upsert.enabled' = 'false' has no effect: a table with a primary key is always written as upserts`,
        );
      }
      return null;
    default:
      return undefined;
  }
}

export function anchored(pattern: string): RegExp {
  return new RegExp(`^(?:${pattern})$`);
}

function sortedEntries(record: Record<string, string>): [string, string][] {
  return Object.entries(record).sort(([a], [b]) => a.localeCompare(b));
}

/** A type as Flink SQL writes it (a CTAS table's DESCRIBE, and messages). */
export function sqlTypeText(type: DataType): string {
  switch (type.kind) {
    case 'int8':
      return 'TINYINT';
    case 'int16':
    case 'uint8':
      return 'SMALLINT';
    case 'int32':
    case 'uint16':
      return 'INT';
    case 'int64':
    case 'uint32':
      return 'BIGINT';
    case 'uint64':
      return 'DECIMAL(20, 0)';
    case 'decimal':
      return `DECIMAL(${type.precision}, ${type.scale})`;
    case 'char':
    case 'varchar':
    case 'binary':
    case 'varbinary':
      return `${type.kind.toUpperCase()}(${type.length})`;
    case 'time':
    case 'timestamp':
      return `${type.kind.toUpperCase()}(${type.precision})`;
    case 'timestamptz':
      return `TIMESTAMP_LTZ(${type.precision})`;
    case 'float':
      return 'FLOAT';
    case 'double':
      return 'DOUBLE';
    case 'bytes':
      return 'BYTES';
    case 'boolean':
      return 'BOOLEAN';
    case 'date':
      return 'DATE';
    default:
      return 'STRING';
  }
}
