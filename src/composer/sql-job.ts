import { basename, extname, join } from 'node:path';
import type { PipelineDef } from '../config/pipeline-def.js';
import { parsePipelineYaml } from '../config/load-pipeline.js';
import { didYouMean } from '../config/did-you-mean.js';
import { tableId, type TableSchema } from '../core/table-schema.js';
import { knownTypes, optionSpecsFor } from '../connectors/registry.js';
import type { Logger } from '../runtime/logger.js';
import { interpolateEnv, type Env } from '../config/env-interpolation.js';
import type { CreateTableStatement, InsertStatement, OptionEntry, Statement } from '../sql/sql-ast.js';
import { SqlError } from '../sql/sql-error.js';
import { parseSqlScript } from '../sql/sql-parser.js';
import { connectorOf, planInsert, type QueryPlan } from '../sql/planner.js';
import { SqlOperator, type ScanSource } from '../sql/sql-operator.js';
import { composePipeline, type Pipeline } from './pipeline-composer.js';

/**
 * A SQL session: the tables its `CREATE TABLE` statements declared and its `SET` settings. Statements run in
 * order; `INSERT INTO … SELECT` compiles into one pipeline of the connectors we have (see {@link buildSqlJob}).
 */
export class SqlSession {
  readonly tables = new Map<string, CreateTableStatement>();
  readonly settings = new Map<string, string>();

  constructor(
    readonly text: string,
    /** The script's path, for the default job name. */
    readonly file?: string,
    /** What `${VAR}` in `WITH` option values reads (process.env by default). */
    readonly env: Env = process.env,
  ) {}

  static parse(text: string, file?: string, env?: Env): { session: SqlSession; statements: Statement[] } {
    return { session: new SqlSession(text, file, env), statements: parseSqlScript(text) };
  }

  /** Applies a CREATE TABLE or SET; other statements are the caller's. */
  declare(statement: Statement): void {
    if (statement.kind === 'createTable') {
      const key = statement.name.toLowerCase();
      if (this.tables.has(key)) {
        if (statement.ifNotExists) return;
        throw new SqlError(this.text, statement.start, `table ${statement.name} is declared twice`, 'drop one of them');
      }
      if (!statement.options.has('connector')) {
        throw new SqlError(
          this.text,
          statement.start,
          `table ${statement.name} has no 'connector' option`,
          "add WITH ('connector' = 'mysql-cdc', …) for a source or 'jdbc' | 'postgres' | 'duckdb' for a sink",
        );
      }
      this.tables.set(key, { ...statement, options: this.interpolated(statement.options) });
    } else if (statement.kind === 'set' && statement.key !== undefined) {
      const entry = { value: statement.value!, start: statement.start };
      this.settings.set(statement.key, this.interpolated(new Map([[statement.key, entry]])).get(statement.key)!.value);
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

/** Mapped by the SQL layer itself, not passed on to the connector. */
const SOURCE_TABLE_KEYS = new Set(['connector', 'database-name', 'table-name']);
/** Flink JDBC sink options that have no meaning here (the runner's checkpoints bound the batches). */
const JDBC_IGNORED = new Set([
  'driver',
  'sink.buffer-flush.max-rows',
  'sink.buffer-flush.interval',
  'sink.max-retries',
  'sink.parallelism',
  'connection.max-retry-timeout',
]);
const SINK_CONNECTORS = ['jdbc', 'postgres', 'duckdb'];

/**
 * Compiles `INSERT INTO sink SELECT …` over `mysql-cdc` tables of one server into one pipeline: the mysql source
 * capturing the tables the query reads, the query as one {@link SqlOperator}, and the sink connector of the
 * sink table. Exactly-once and crash recovery are the runner's: the query's state is committed with each
 * checkpoint. Throws SQL_INVALID for what does not map.
 */
export function buildSqlJob(session: SqlSession, insert: InsertStatement, options: SqlJobOptions): SqlJob {
  const { text } = session;
  const timeZone = session.timeZone;
  const plan = () => planInsert(text, insert, session.tables, { timeZone });
  const first = plan();
  const scanTables = first.scans.map((scan) => session.tables.get(scan.table.toLowerCase())!);

  // One source: every table read must live on the same server with the same options.
  let sourceOptions: Record<string, string> | undefined;
  let sourceOf: CreateTableStatement | undefined;
  const patterns: string[] = [];
  const mysqlKeys = new Set((optionSpecsFor('mysql', 'source') ?? []).map((s) => s.key));
  for (const table of scanTables) {
    const own: Record<string, string> = {};
    for (const [key, entry] of table.options) {
      if (SOURCE_TABLE_KEYS.has(key)) continue;
      if (!mysqlKeys.has(key) || key === 'tables' || key === 'tables.exclude') {
        const near = didYouMean(key, [...mysqlKeys, ...SOURCE_TABLE_KEYS]);
        throw new SqlError(
          text,
          entry.start,
          `'${key}' is not an option of a mysql-cdc table`,
          near === undefined ? 'see docs/sql.md#mysql-cdc for the options' : `did you mean '${near}'?`,
        );
      }
      own[key] = entry.value;
    }
    for (const key of ['hostname', 'username', 'database-name', 'table-name']) {
      if (!table.options.has(key)) {
        throw new SqlError(text, table.start, `mysql-cdc table ${table.name} needs the option '${key}'`);
      }
    }
    if (sourceOptions === undefined) {
      sourceOptions = own;
      sourceOf = table;
    } else if (JSON.stringify(sortedEntries(own)) !== JSON.stringify(sortedEntries(sourceOptions))) {
      throw new SqlError(
        text,
        table.start,
        `${table.name} and ${sourceOf!.name} are read by one job, so they need the same server and options`,
        'give both tables the same hostname, port, username, password and scan.* options (one job reads one server)',
      );
    }
    patterns.push(`${table.options.get('database-name')!.value}.${table.options.get('table-name')!.value}`);
  }

  const sink = first.sink;
  const connector = connectorOf(sink);
  const sinkOptions = sinkConnectorOptions(text, sink, connector, options.log);
  const tableName = sink.options.get('table-name')?.value;
  if (tableName === undefined) {
    throw new SqlError(text, sink.start, `sink table ${sink.name} needs the option 'table-name'`);
  }
  const dot = tableName.indexOf('.');
  const sinkId = dot < 0 ? tableId('', tableName) : tableId(tableName.slice(0, dot), tableName.slice(dot + 1));
  const sinkSchema: TableSchema = {
    id: sinkId,
    columns: sink.columns.map((c) => ({
      name: c.name,
      type: c.type,
      nullable: c.nullable && !sink.primaryKey.some((k) => k.toLowerCase() === c.name.toLowerCase()),
    })),
    primaryKey: sink.primaryKey.map((k) => sink.columns.find((c) => c.name.toLowerCase() === k.toLowerCase())!.name),
  };

  const settings = session.settings;
  const name =
    settings.get('pipeline.name') ??
    `sql-${session.file === undefined ? '' : `${basename(session.file, extname(session.file))}-`}${sink.name}`.replace(
      /[^A-Za-z0-9_.-]/g,
      '_',
    );
  const pipeline: Record<string, string> = { name };
  const interval = settings.get('execution.checkpointing.interval');
  if (interval !== undefined) pipeline['checkpoint.interval'] = interval;
  const stateDir = settings.get('state.dir');
  if (stateDir !== undefined) pipeline['state.dir'] = stateDir;
  const parallelism = settings.get('parallelism.default');
  if (parallelism !== undefined) pipeline['parallelism'] = parallelism;
  // The values are interpolated already (SqlSession): `${` left in them is literal for the YAML loader too.
  const yaml = JSON.stringify(
    { source: { type: 'mysql', ...sourceOptions, tables: patterns.join(',') }, sink: sinkOptions, pipeline },
    (_key, value: unknown) => (typeof value === 'string' ? value.replaceAll('${', '$${') : value),
  );
  const def = parsePipelineYaml(yaml, { file: session.file ?? '<sql>', optionSpecsFor, knownTypes, env: {} });

  const operator = (p: QueryPlan) => {
    const sources: ScanSource[] = p.scans.map((scan) => {
      const table = session.tables.get(scan.table.toLowerCase())!;
      return {
        scan,
        database: anchored(table.options.get('database-name')!.value),
        table: anchored(table.options.get('table-name')!.value),
      };
    });
    return new SqlOperator(p, sources, sinkSchema, timeZone, {
      dir: def.pipeline.stateDir ?? join('.tributary', name),
    });
  };
  const composed = composePipeline(def, {
    log: options.log,
    operators: () => [operator(plan())],
    ...(options.maxRetries === undefined ? {} : { maxRetries: options.maxRetries }),
  });
  return { def, pipeline: composed, explain: first.explain };
}

/** The sink connector's options from a sink table's WITH clause. */
function sinkConnectorOptions(
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
  return out;
}

function anchored(pattern: string): RegExp {
  return new RegExp(`^(?:${pattern})$`);
}

function sortedEntries(record: Record<string, string>): [string, string][] {
  return Object.entries(record).sort(([a], [b]) => a.localeCompare(b));
}
