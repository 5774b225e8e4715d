import type { DataType } from '../core/data-type.js';
import type { ExpressionNode } from '../transform/expression/expression-node.js';

/**
 * The syntax tree of the streaming SQL dialect (Flink SQL's). Every node keeps `start`, an offset into the
 * script, so that the planner's messages point at the place (line and column).
 */
export type Statement =
  | CreateTableStatement
  | CreateViewStatement
  | CreateTableAsStatement
  | CreateCatalogStatement
  | SyncStatement
  | SetStatement
  | InsertStatement
  | QueryStatement
  | ExplainStatement
  | ShowTablesStatement
  | DescribeStatement
  | StatementSetStatement
  | ShowJobsStatement
  | StopJobStatement;

export interface ColumnDef {
  readonly name: string;
  readonly type: DataType;
  /** The type as written (`DECIMAL(10, 2)`), for DESCRIBE. */
  readonly typeText: string;
  readonly nullable: boolean;
  /**
   * `METADATA [FROM 'key'] [VIRTUAL]`: a source table's column read from the change's metadata — which source table
   * it came from (`database_name`, `schema_name`, `table_name`) — not from the row. The key defaults to the name.
   */
  readonly metadata?: { readonly key: string; readonly start: number };
  /**
   * `name AS expr`: a computed column of a source table, its value from the row's other columns (Flink's computed
   * column). Its type is the expression's, set when the table is declared; `text` is the text `expr` is in.
   */
  readonly computed?: { readonly expr: ExpressionNode; readonly text: string };
  readonly start: number;
}

/** `CREATE [TEMPORARY] TABLE [IF NOT EXISTS] name (cols, PRIMARY KEY (...) NOT ENFORCED) WITH (...)`. */
export interface CreateTableStatement {
  readonly kind: 'createTable';
  readonly name: string;
  readonly columns: readonly ColumnDef[];
  readonly primaryKey: readonly string[];
  /** `PARTITIONED BY (…)`: columns as written; the lake sink partitions by them (identity), others ignore it. */
  readonly partitionedBy?: readonly string[];
  /**
   * `WATERMARK FOR col AS expr`: read and not used — nothing here waits for a watermark (windows are updated in
   * place, no row is late); the job says so. The column as written.
   */
  readonly watermark?: { readonly column: string; readonly start: number };
  /** `WITH ('k' = 'v', …)`: keys as written (case kept), in order. */
  readonly options: ReadonlyMap<string, OptionEntry>;
  readonly ifNotExists: boolean;
  readonly start: number;
}

export interface OptionEntry {
  readonly value: string;
  /** Offset of the key, for messages. */
  readonly start: number;
}

/**
 * `CREATE TABLE t [(PRIMARY KEY (…) NOT ENFORCED)] WITH (…) AS query` (CTAS): a sink table with the query's
 * columns, and the job that fills it.
 */
export interface CreateTableAsStatement {
  readonly kind: 'createTableAs';
  readonly name: string;
  /** Declared, or empty: the query's unique key then becomes the table's. */
  readonly primaryKey: readonly string[];
  readonly options: ReadonlyMap<string, OptionEntry>;
  readonly ifNotExists: boolean;
  readonly query: QueryExpr;
  readonly start: number;
}

/** `CREATE CATALOG name WITH ('type' = 'mysql-cdc' | 'postgres-cdc' | 'jdbc' | …, …)`: a server, named in CDAS / CTAS AS TABLE. */
export interface CreateCatalogStatement {
  readonly kind: 'createCatalog';
  readonly name: string;
  readonly options: ReadonlyMap<string, OptionEntry>;
  readonly ifNotExists: boolean;
  readonly start: number;
}

/** A dotted name as written (`mysql.shop`, `` `my-db`.t ``): its parts and where it starts. */
export interface QualifiedName {
  readonly parts: readonly string[];
  readonly start: number;
}

/**
 * `CREATE DATABASE [IF NOT EXISTS] target [WITH (…)] AS DATABASE source INCLUDING { ALL TABLES | TABLE[S] 're' }
 * [EXCLUDING TABLE[S] 're']` (CDAS), or `CREATE TABLE [IF NOT EXISTS] target [WITH (…)] AS TABLE source` (CTAS of
 * whole source tables): source tables replicated into the target with their schemas, schema changes followed.
 */
export interface SyncStatement {
  readonly kind: 'sync';
  readonly what: 'database' | 'table';
  readonly target: QualifiedName;
  /** `WITH (…)` of the target: the sink's options (with a catalog: added to the catalog's). */
  readonly options: ReadonlyMap<string, OptionEntry>;
  readonly ifNotExists: boolean;
  readonly source: QualifiedName;
  /** CDAS: the tables to copy, a regular expression matched whole (`.*` for ALL TABLES). */
  readonly including?: { readonly pattern: string; readonly start: number };
  readonly excluding?: { readonly pattern: string; readonly start: number };
  readonly start: number;
}

/** `CREATE [TEMPORARY] VIEW [IF NOT EXISTS] name AS query`: a named query, usable in FROM. */
export interface CreateViewStatement {
  readonly kind: 'createView';
  readonly name: string;
  readonly query: QueryExpr;
  readonly ifNotExists: boolean;
  /** The text the statement was parsed from (offsets point into it), so that a view planned later still points. */
  readonly text: string;
  readonly start: number;
}

/**
 * `BEGIN STATEMENT SET; INSERT …; INSERT …; END;` or `EXECUTE STATEMENT SET BEGIN INSERT …; … END;`: the
 * INSERTs run as one job reading the sources once.
 */
export interface StatementSetStatement {
  readonly kind: 'statementSet';
  readonly inserts: readonly InsertStatement[];
  readonly start: number;
}

/** `SET 'key' = 'value'`, or `SET` alone (shows the settings). */
export interface SetStatement {
  readonly kind: 'set';
  readonly key?: string;
  readonly value?: string;
  readonly start: number;
}

/** `INSERT INTO sink SELECT …`. */
export interface InsertStatement {
  readonly kind: 'insert';
  readonly table: string;
  readonly tableStart: number;
  readonly query: QueryExpr;
  readonly start: number;
}

/** A query on its own: a live SELECT (the interactive client's). */
export interface QueryStatement {
  readonly kind: 'query';
  readonly query: QueryExpr;
  readonly start: number;
}

/** `EXPLAIN [PLAN FOR] statement`. */
export interface ExplainStatement {
  readonly kind: 'explain';
  readonly statement: InsertStatement | QueryStatement | StatementSetStatement;
  readonly start: number;
}

/** `SHOW TABLES` (tables and views, as Flink lists them) or `SHOW VIEWS`. */
export interface ShowTablesStatement {
  readonly kind: 'showTables';
  readonly views: boolean;
  readonly start: number;
}

/** `SHOW JOBS`: the interactive client's background jobs. */
export interface ShowJobsStatement {
  readonly kind: 'showJobs';
  readonly start: number;
}

/** `STOP JOB '<id>'`: stops a background job of the interactive client (after a final checkpoint). */
export interface StopJobStatement {
  readonly kind: 'stopJob';
  readonly id: string;
  readonly start: number;
}

export interface DescribeStatement {
  readonly kind: 'describe';
  readonly table: string;
  readonly start: number;
}

/** A query: a SELECT, or SELECTs combined with UNION ALL, either of them after `WITH name AS (…), …`. */
export type QueryExpr = SelectQuery | UnionQuery | WithQuery;

/**
 * `WITH t1 AS (query), t2 AS (query) body` (common table expressions, not recursive): names usable in FROM of
 * the later tables and of `body`, each use planned anew as a view is.
 */
export interface WithQuery {
  readonly kind: 'with';
  readonly tables: readonly CommonTable[];
  readonly body: SelectQuery | UnionQuery;
  readonly start: number;
}

export interface CommonTable {
  readonly name: string;
  readonly query: QueryExpr;
  readonly start: number;
}

/** `q1 UNION ALL q2 UNION ALL …` (flattened): every branch's rows, duplicates kept (or `UNION`: removed). */
export interface UnionQuery {
  readonly kind: 'union';
  /** Without ALL: `UNION` removes duplicates (a DISTINCT over the UNION ALL); `INTERSECT` / `EXCEPT` keep rows once. */
  readonly distinct: boolean;
  readonly branches: readonly SelectQuery[];
  /**
   * `INTERSECT` / `EXCEPT` instead of UNION: the rows of the first branch that every other branch has (or none has,
   * left to right), each once — or, with ALL, as many copies as the branches' counts leave.
   */
  readonly op?: 'intersect' | 'except';
  readonly start: number;
}

export interface SelectQuery {
  readonly kind: 'select';
  /** `SELECT DISTINCT`. */
  readonly distinct: boolean;
  readonly items: readonly SelectItem[];
  readonly from: FromItem;
  readonly where?: ExpressionNode;
  readonly groupBy: readonly ExpressionNode[];
  readonly having?: ExpressionNode;
  /** `ORDER BY … LIMIT n` (a Top-N over the query's rows): both or neither. */
  readonly orderBy?: readonly OrderItem[];
  readonly limit?: { readonly value: number; readonly start: number };
  readonly start: number;
}

/** An `ORDER BY` item: an expression, its direction and where NULLs go (undefined: Flink's default). */
export interface OrderItem {
  readonly expr: ExpressionNode;
  readonly descending: boolean;
  readonly nullsFirst?: boolean;
}

export type SelectItem =
  | { readonly kind: 'star'; readonly qualifier?: string; readonly start: number }
  | { readonly kind: 'expr'; readonly expr: ExpressionNode; readonly alias?: string; readonly start: number }
  | RowNumberItem;

export type RankFunction = 'ROW_NUMBER' | 'RANK' | 'DENSE_RANK';

/**
 * `ROW_NUMBER() OVER ([PARTITION BY col, …] ORDER BY expr [ASC | DESC] [NULLS FIRST | LAST], …) [AS] rn`: each
 * row's rank in its partition — a Top-N, with a filter `rn <= N` in the query around it.
 */
export interface RowNumberItem {
  readonly kind: 'rowNumber';
  /** ROW_NUMBER (ties apart), RANK (ties alike, then a gap) or DENSE_RANK (ties alike, no gap). */
  readonly fn: RankFunction;
  readonly partitionBy: readonly ExpressionNode[];
  readonly orderBy: readonly OrderItem[];
  readonly alias?: string;
  readonly start: number;
  /** Where the OVER clause ends in the text (EXPLAIN shows the item as written). */
  readonly end: number;
}

export type JoinType = 'inner' | 'left' | 'right' | 'full';

export type FromItem =
  | { readonly kind: 'table'; readonly name: string; readonly alias: string; readonly start: number }
  | WindowTable
  | { readonly kind: 'subquery'; readonly query: QueryExpr; readonly alias: string; readonly start: number }
  | {
      readonly kind: 'join';
      readonly type: JoinType;
      readonly left: FromItem;
      readonly right: FromItem;
      readonly on: ExpressionNode;
      readonly start: number;
    };

/**
 * A windowing table-valued function in FROM (Flink's window TVFs): `TABLE(TUMBLE(TABLE t, DESCRIPTOR(ts), size
 * [, offset]))`, `TABLE(HOP(TABLE t, DESCRIPTOR(ts), slide, size [, offset]))`, `TABLE(CUMULATE(TABLE t,
 * DESCRIPTOR(ts), step, size [, offset]))`: t's rows, each once per window it falls in, with `window_start`,
 * `window_end` and `window_time` added. Durations in milliseconds.
 */
export interface WindowTable {
  readonly kind: 'window';
  readonly fn: 'tumble' | 'hop' | 'cumulate' | 'session';
  /** `TABLE t`: a table, a view or a common table. */
  readonly input: { readonly kind: 'table'; readonly name: string; readonly alias: string; readonly start: number };
  /** SESSION's `TABLE t PARTITION BY k, …`: the columns each partition's sessions are apart by. */
  readonly partitionBy?: readonly { readonly name: string; readonly start: number }[];
  readonly timeColumn: { readonly name: string; readonly start: number };
  /** The size; SESSION's gap. */
  readonly sizeMs: number;
  /** HOP's slide, CUMULATE's step; TUMBLE and SESSION: the size. */
  readonly stepMs: number;
  readonly offsetMs: number;
  /** The alias after `TABLE(…)`, or undefined (the columns keep the input table's qualifier). */
  readonly alias?: string;
  readonly start: number;
}
