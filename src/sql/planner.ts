import { formatDataType, type DataType } from '../core/data-type.js';
import { CoercionError, coerce, commonType, comparatorFor, comparisonType } from '../transform/expression/coercion.js';
import { BUILTIN_FUNCTIONS } from '../transform/expression/builtin-functions.js';
import { compileCondition, compileExpression } from '../transform/expression/compiler.js';
import type { Compiled } from '../transform/expression/eval-context.js';
import type {
  ColumnNode,
  ExistsNode,
  ExpressionNode,
  ScalarQueryNode,
} from '../transform/expression/expression-node.js';
import { nearest } from '../transform/expression/static-check.js';
import { eagerAggregation } from './eager-aggregation.js';
import { andOf, childrenOf, columnsAndCalls, columnsOf, conjuncts, mapChildren } from './expression-walk.js';
import { AGGREGATE_FUNCTIONS, aggregateType, type AggregateName, type AggregateSpec } from './exec/aggregates.js';
import { encodeValue } from './exec/changelog.js';
import {
  AggregateNode,
  FilterNode,
  JoinNode,
  ProjectNode,
  ScanNode,
  type AggregatingSide,
  type Field,
  type PlanNode,
  type ScanMetadata,
} from './exec/nodes.js';
import { DistinctNode, NormalizeNode, SetCompareNode, UnionNode } from './exec/set-nodes.js';
import { TopNNode, type SortKey } from './exec/rank-node.js';
import { SessionNode, WindowNode, type WindowSpec } from './exec/window-node.js';
import type {
  ColumnDef,
  CommonTable,
  CreateTableStatement,
  CreateViewStatement,
  FromItem,
  InsertStatement,
  OrderItem,
  QueryExpr,
  RowNumberItem,
  SelectItem,
  SelectQuery,
  UnionQuery,
  WindowTable,
} from './sql-ast.js';
import { asSqlError, SqlError } from './sql-error.js';

/** The tables a script declared, by lower-case name. */
export type Catalog = ReadonlyMap<string, CreateTableStatement>;

/** A query planned into an operator graph, ready to run (its nodes hold the state: plan anew per attempt). */
export interface QueryPlan {
  /** Every node, inputs before the nodes that read them. */
  readonly nodes: readonly PlanNode[];
  readonly scans: readonly ScanNode[];
  /** The last node: rows in the sink table's column order and types. */
  readonly root: PlanNode;
  readonly sink: CreateTableStatement;
  /** Sink column positions of the sink's primary key. */
  readonly sinkKey: readonly number[];
  /** The graph as text (EXPLAIN), which also identifies the plan in checkpoints. */
  readonly explain: string;
  /**
   * {@link explain} as it was before an aggregate's state was keyed by the group key's unique key (the same text
   * where no aggregate has a shorter one): a job whose saved state has this plan goes on keying its groups by all
   * their values (`AggregateNode.keyByAllValues`), as it wrote them.
   */
  readonly explainKeyedByAll: string;
}

export interface PlanOptions {
  readonly timeZone: string;
  /** The views a script declared (`CREATE TEMPORARY VIEW`), by lower-case name. */
  readonly views?: ReadonlyMap<string, CreateViewStatement>;
  /**
   * Pre-aggregate a table below its joins where the result is the same (src/sql/eager-aggregation.ts); default yes.
   * No: the plan of a release before it, which a job whose saved state that release wrote goes on with.
   */
  readonly eagerAggregation?: boolean;
  /**
   * An aggregate by an inner join's key computed by the join as that side (`JoinNode`'s `AggregatingSide`); default
   * yes. No: the plan of a release before it, as {@link eagerAggregation}.
   */
  readonly aggregatingJoins?: boolean;
}

/**
 * Where a query's rows go: the sink table (its columns' names and types), or a relation of a FROM clause (a
 * subquery, a view, a branch of a UNION), whose columns are named by the select items unless `names` says.
 */
interface Target {
  /** The sink the rows are written to (for messages). */
  readonly sink?: CreateTableStatement;
  /** Cast the columns to these types (the sink's columns; a UNION's common types). */
  readonly types?: readonly DataType[];
  /** Name the columns so (the sink's columns) instead of by the select items. */
  readonly names?: readonly string[];
  /** The alias that qualifies the columns (`s` of `FROM (SELECT …) AS s`). */
  readonly qualifier?: string;
  /** The bound the query around puts on this query's `ROW_NUMBER()` (`WHERE rn <= 3`): its Top-N's size. */
  readonly rankLimit?: number;
}

/**
 * A `CREATE TABLE` with its computed columns (`name AS expr`) typed: each expression compiled over the table's other
 * columns (not computed, not metadata). Refuses `PROCTIME()` (a processing time differs when the rows are read again
 * after a crash, so a retraction would not find its row) and computed columns of a table that is not a source.
 */
export function typeComputedColumns(table: CreateTableStatement, timeZone: string): CreateTableStatement {
  if (!table.columns.some((c) => c.computed !== undefined)) return table;
  const connector = connectorOf(table);
  const physical = table.columns.filter((c) => c.computed === undefined && c.metadata === undefined);
  const columns = table.columns.map((column) => {
    const computed = column.computed;
    if (computed === undefined) return column;
    if (!SOURCE_CONNECTORS.has(connector)) {
      throw new SqlError(
        computed.text,
        column.start,
        `${column.name} of the '${connector}' table ${table.name} is a computed column`,
        'computed columns are read from source tables (mysql-cdc, postgres-cdc); compute the value in the INSERT',
      );
    }
    const proctime = columnsAndCalls(computed.expr).find(
      (n) => n.kind === 'call' && n.name.toUpperCase() === 'PROCTIME',
    );
    if (proctime !== undefined) {
      throw new SqlError(
        computed.text,
        proctime.start,
        'PROCTIME() is not built',
        'a processing time would differ when rows are read again after a crash; use a time column of the source',
      );
    }
    try {
      const compiled = compileExpression(computed.expr, computed.text, {
        columns: physical.map((c) => ({ name: c.name, type: c.type, nullable: c.nullable })),
        timeZone,
      });
      return { ...column, type: compiled.type, typeText: formatDataType(compiled.type), nullable: compiled.nullable };
    } catch (error) {
      throw asSqlError(error, computed.text);
    }
  });
  return { ...table, columns };
}

/**
 * Plans a view's query alone, to check it when it is declared: its columns. Throws {@link SqlError}
 * (SQL_INVALID) pointing at the problem.
 */
export function planView(view: CreateViewStatement, catalog: Catalog, options: PlanOptions): readonly Field[] {
  try {
    return new Planner(view.text, catalog, options).queryExpr(view.query, {}).fields;
  } catch (error) {
    throw asSqlError(error, view.text);
  }
}

/**
 * Plans a query on its own — the interactive client's live SELECT — as if into a table `result` of its columns
 * with no key (`sinkKey` empty): its changes are the result's rows added and taken back.
 */
export function planSelect(text: string, query: QueryExpr, catalog: Catalog, options: PlanOptions): QueryPlan {
  try {
    const use = newColumnUse();
    new Planner(text, catalog, options, { record: use }).queryExpr(query, {});
    const planner = new Planner(text, catalog, options, { narrow: use });
    const root = planner.queryExpr(query, {});
    const sink: CreateTableStatement = {
      kind: 'createTable',
      name: 'result',
      columns: root.fields.map((f) => ({
        name: f.name,
        type: f.type,
        typeText: formatDataType(f.type),
        nullable: f.nullable,
        start: 0,
      })),
      primaryKey: [],
      options: new Map(),
      ifNotExists: false,
      start: 0,
    };
    const explain = planner.explainTree(root, 'Result (live)');
    return { ...planner.graph(), root, sink, sinkKey: [], explain, explainKeyedByAll: explain };
  } catch (error) {
    throw asSqlError(error, text);
  }
}

/** Plans `INSERT INTO sink SELECT …`. Throws {@link SqlError} (SQL_INVALID) pointing at the problem. */
export function planInsert(text: string, insert: InsertStatement, catalog: Catalog, options: PlanOptions): QueryPlan {
  try {
    const use = newColumnUse();
    new Planner(text, catalog, options, { record: use }).insert(insert);
    return new Planner(text, catalog, options, { narrow: use }).insert(insert);
  } catch (error) {
    throw asSqlError(error, text);
  }
}

const AGG_PREFIX = '\u0001';
/** The field a Top-N adds for `ROW_NUMBER()`'s rank (found by name like the aggregate's, never by a user's). */
const RANK_FIELD = `${AGG_PREFIX}rank`;

/**
 * Projection pushdown: what a first planning pass of a query saw it read, by which a second pass narrows each
 * scan to the columns read (and its primary key) and each join's output to the columns read above it (and a key
 * its rows are unique on). Scan columns are known by their origin (`scan#column`): scans are numbered in the
 * order they are planned, and joins too, which is the same in both passes.
 */
interface ColumnUse {
  /** The scan columns any expression of the query reads. */
  readonly read: Set<string>;
  /** Per join, in the order planned: the scan columns read after it was planned (by the nodes above it). */
  readonly above: Set<string>[];
  /** The joins (by number) that are an input of another join, which keeps their rows by a unique key of them. */
  readonly joined: Set<number>;
}

/** The common tables (`WITH`) in scope, innermost first: each with the text it was parsed from and its own scope. */
interface CommonScope {
  readonly table: CommonTable;
  readonly text: string;
  readonly outer: CommonScope | undefined;
}

function newColumnUse(): ColumnUse {
  return { read: new Set(), above: [], joined: new Set() };
}

/** A planner's part in projection pushdown: the first pass records the columns read, the second narrows. */
interface Pushdown {
  readonly record?: ColumnUse;
  readonly narrow?: ColumnUse;
}

class Planner {
  private readonly nodes: PlanNode[] = [];
  private readonly scans: ScanNode[] = [];
  /** Scan → its primary key's origins and all its columns' origins (functional dependencies). */
  private readonly scanKeys = new Map<string, { key: string[]; all: string[] }>();
  /** Per node that ends a SELECT: the columns that are one constant, each as encoded (UNION's disjointness). */
  private readonly constants = new Map<PlanNode, readonly (string | undefined)[]>();
  /** Joins planned so far (their number in {@link ColumnUse.above}). */
  private joins = 0;
  /** Each join node's number. */
  private readonly joinNumbers = new Map<PlanNode, number>();
  /** The common tables the query being planned can name. */
  private commonTables: CommonScope | undefined;
  /** `IN (SELECT …)` conditions planned so far (their value columns' names). */
  private semiJoinCount = 0;

  constructor(
    /** The text the statement being planned was parsed from (a view's own while its query is planned). */
    private text: string,
    private readonly catalog: Catalog,
    private readonly options: PlanOptions,
    /** None: every scan and join passes on all its columns (a dry run for types, a view's check). */
    private readonly pushdown: Pushdown = {},
  ) {}

  /** Notes that an expression reads `field` (first pass of the pushdown): the column is read here and above every join so far. */
  private noteRead(field: Field): void {
    const use = this.pushdown.record;
    if (use === undefined || field.origin === undefined) return;
    use.read.add(field.origin);
    for (const above of use.above) above.add(field.origin);
  }

  /** Adds `node` to the graph: its inputs now pass their changes to it. */
  private add<T extends PlanNode>(node: T): T {
    node.id = this.nodes.length;
    this.nodes.push(node);
    node.inputs.forEach((input, port) => {
      input.out = (delta) => node.receive(port, delta);
      input.consumer = node;
    });
    return node;
  }

  private fail(at: { start: number }, reason: string, hint?: string): never {
    throw new SqlError(this.text, at.start, reason, hint);
  }

  private table(name: string, at: { start: number }): CreateTableStatement {
    const table = this.catalog.get(name.toLowerCase());
    if (table === undefined) {
      const near = nearest(
        name,
        [...this.catalog.values()].map((t) => t.name),
      );
      this.fail(
        at,
        `unknown table ${name}`,
        near === undefined ? 'declare it first with CREATE TABLE … WITH (…)' : `did you mean ${near}?`,
      );
    }
    return table;
  }

  insert(statement: InsertStatement): QueryPlan {
    const sink = this.table(statement.table, { start: statement.tableStart });
    const metadata = sink.columns.find((c) => c.metadata !== undefined);
    if (metadata !== undefined) {
      this.fail(
        metadata.metadata!,
        `column ${metadata.name} of the sink table ${sink.name} is a METADATA column`,
        'metadata columns are read from source tables; declare it as a plain column and select the value into it',
      );
    }
    if (sink.primaryKey.length === 0) {
      this.fail(
        { start: statement.tableStart },
        `the sink table ${sink.name} has no PRIMARY KEY`,
        'declare PRIMARY KEY (…) NOT ENFORCED on it: results are written as upserts by that key (append mode is not built yet)',
      );
    }
    const node = this.queryExpr(statement.query, {
      sink,
      types: sink.columns.map((c) => c.type),
      names: sink.columns.map((c) => c.name),
    });
    const sinkKey = sink.primaryKey.map((k) => sink.columns.findIndex((c) => c.name.toLowerCase() === k.toLowerCase()));
    if (!node.uniqueKeys.some((key) => key.every((i) => sinkKey.includes(i)))) {
      const keys = node.uniqueKeys.map((key) => `(${key.map((i) => sink.columns[i]!.name).join(', ')})`);
      this.fail(
        statement.query,
        `the query's rows are not unique on the PRIMARY KEY (${sink.primaryKey.join(', ')}) of ${sink.name}, so an upsert by it could lose rows`,
        keys.length === 0
          ? 'group the rows (GROUP BY) or select the primary keys of the joined tables, and declare them as the sink key'
          : `the rows are unique on ${keys.join(' or ')}: declare one of these as the sink's PRIMARY KEY`,
      );
    }
    if (!LOG_CONNECTORS.has(connectorOf(sink))) upsertUpdates(node, sinkKey);
    const explain = this.explain(node, sink);
    const shorter = this.nodes.filter((n): n is AggregateNode => n instanceof AggregateNode && n.hasShorterKey);
    for (const aggregate of shorter) aggregate.keyByAllValues(true);
    const explainKeyedByAll = shorter.length === 0 ? explain : this.explain(node, sink);
    for (const aggregate of shorter) aggregate.keyByAllValues(false);
    return { nodes: this.nodes, scans: this.scans, root: node, sink, sinkKey, explain, explainKeyedByAll };
  }

  graph(): { nodes: readonly PlanNode[]; scans: readonly ScanNode[] } {
    return { nodes: this.nodes, scans: this.scans };
  }

  private explain(root: PlanNode, sink: CreateTableStatement): string {
    return this.explainTree(
      root,
      `Sink ${sink.name} (${connectorOf(sink)}): ${LOG_CONNECTORS.has(connectorOf(sink)) ? 'change events keyed' : 'upsert'} by PRIMARY KEY (${sink.primaryKey.join(', ')})`,
    );
  }

  explainTree(root: PlanNode, head: string): string {
    const lines = [`${head} ← changelog +I -U +U -D`];
    const walk = (node: PlanNode, depth: number) => {
      const keys = node.uniqueKeys.map((k) => `(${k.map((i) => node.label(i)).join(', ')})`).join(' or ');
      lines.push(`${'  '.repeat(depth)}└─ #${node.id} ${node.describe()}${keys === '' ? '' : `  unique on ${keys}`}`);
      for (const input of node.inputs) walk(input, depth + 1);
    };
    walk(root, 1);
    return lines.join('\n');
  }

  queryExpr(query: QueryExpr, target: Target): PlanNode {
    if (query.kind === 'with') return this.withQuery(query, target);
    return query.kind === 'select' ? this.select(query, target) : this.union(query, target);
  }

  /** A planner for types alone (no pushdown), that sees the same common tables. */
  private dryRun(): Planner {
    const planner = new Planner(this.text, this.catalog, this.options);
    planner.commonTables = this.commonTables;
    return planner;
  }

  /** `WITH t AS (…), … body`: each common table is in scope of those after it and of the body. */
  private withQuery(query: Extract<QueryExpr, { kind: 'with' }>, target: Target): PlanNode {
    const outer = this.commonTables;
    try {
      for (const table of query.tables) this.commonTables = { table, text: this.text, outer: this.commonTables };
      return this.queryExpr(query.body, target);
    } finally {
      this.commonTables = outer;
    }
  }

  private commonTable(name: string): CommonScope | undefined {
    const lower = name.toLowerCase();
    for (let scope = this.commonTables; scope !== undefined; scope = scope.outer) {
      if (scope.table.name.toLowerCase() === lower) return scope;
    }
    return undefined;
  }

  /**
   * A query planned in another text and scope — a view's (its own text, no common tables) or a common table's (the
   * text and scope where it was defined) — as a relation of FROM named `alias`.
   */
  private relation(
    query: QueryExpr,
    text: string,
    scope: CommonScope | undefined,
    alias: string,
    rankLimit?: number,
  ): PlanNode {
    const saved = { text: this.text, scope: this.commonTables };
    this.text = text;
    this.commonTables = scope;
    try {
      return this.queryExpr(query, { qualifier: alias, ...(rankLimit === undefined ? {} : { rankLimit }) });
    } catch (error) {
      throw asSqlError(error, text);
    } finally {
      this.text = saved.text;
      this.commonTables = saved.scope;
    }
  }

  /**
   * UNION ALL: the branches' rows, each branch cast to the column types they have in common (the sink's when
   * they go into one), the columns named by the first branch. The union's rows are unique on a key only when
   * the branches cannot share a row: each branch selects a different constant in one column (`'eu' AS region`)
   * — then a key of every branch together with that column is one. UNION (no ALL) adds a Distinct.
   */
  private union(query: UnionQuery, target: Target): PlanNode {
    let types = target.types;
    if (types === undefined) {
      // A dry run finds each branch's column types; the real plan then casts every branch to the common ones.
      const shapes = query.branches.map((branch) =>
        this.dryRun()
          .select(branch, {})
          .fields.map((f) => f.type),
      );
      const width = shapes[0]!.length;
      shapes.forEach((shape, b) => {
        if (shape.length !== width) {
          this.fail(
            query.branches[b]!,
            `this branch of the UNION selects ${shape.length} columns, the first selects ${width}`,
            'select the same number of columns in every branch',
          );
        }
      });
      types = shapes[0]!.map((_, i) => {
        const common = commonType(shapes.map((shape) => shape[i]!));
        if (typeof common === 'string') {
          this.fail(query, `column ${i + 1} of the UNION has no type all branches convert to: ${common}`, 'CAST it');
        }
        return common;
      });
    }
    const branches = query.branches.map((branch, b) =>
      this.select(branch, {
        ...(target.sink === undefined ? {} : { sink: target.sink }),
        types,
        ...(b === 0 ? {} : { names: [] }),
      }),
    );
    const first = branches[0]!;
    const names = target.names ?? first.fields.map((f) => f.name);
    const fields: Field[] = first.fields.map((f, i) => ({
      name: names[i] ?? f.name,
      ...(target.qualifier === undefined ? {} : { qualifier: target.qualifier }),
      type: f.type,
      nullable: branches.some((branch) => branch.fields[i]!.nullable),
    }));
    if (query.op !== undefined) {
      // INTERSECT / EXCEPT [ALL]: the first branch against the second, that against the third, …
      let node = branches[0]!;
      for (const next of branches.slice(1)) {
        node = this.add(new SetCompareNode(node, next, fields, query.op, !query.distinct));
      }
      return node;
    }
    const union = this.add(new UnionNode(branches, fields, this.unionKeys(branches)));
    if (!query.distinct) return union;
    return this.add(new DistinctNode(union, minimalKeys([...union.uniqueKeys, fields.map((_, i) => i)])));
  }

  /** The keys a UNION ALL of `branches` is unique on (see {@link union}). */
  private unionKeys(branches: readonly PlanNode[]): number[][] {
    const constants = branches.map((b) => this.constants.get(b) ?? []);
    const width = branches[0]!.fields.length;
    const tag = Array.from({ length: width }, (_, i) => i).find((i) => {
      const values = constants.map((c) => c[i]);
      return values.every((v) => v !== undefined) && new Set(values).size === branches.length;
    });
    if (tag === undefined || branches.some((b) => b.uniqueKeys.length === 0)) return [];
    const keys: number[][] = [[...branches.flatMap((b) => b.uniqueKeys[0]!), tag]];
    for (const key of branches[0]!.uniqueKeys) {
      if (branches.every((b) => b.uniqueKeys.some((k) => k.every((i) => key.includes(i))))) keys.push([...key, tag]);
    }
    return minimalKeys(keys);
  }

  /** Plans a SELECT whose rows go to `target` (cast to its types, named by it). */
  private select(asWritten: SelectQuery, target: Target): PlanNode {
    const around = this.groupedAround(asWritten);
    if (around !== undefined) return this.select(around, target);
    const eager = this.options.eagerAggregation === false ? undefined : this.eagerAggregation(asWritten);
    if (eager !== undefined) return this.select(eager, target);
    // Scalar subqueries first: they become joins in FROM, read by WHERE and the select list as columns.
    const written = this.scalarJoins(asWritten);
    const { from, where } = this.semiJoins(written);
    let node = this.from(from, this.rankLimits(written));
    if (where !== undefined) {
      node = this.add(new FilterNode(node, this.condition(where, node.fields), this.source(where)));
    }
    const windowed = this.groupWindow(written, node);
    node = windowed.node;
    const query = windowed.query;
    const aggregates = this.collectAggregates(query);
    const grouped = query.groupBy.length > 0 || aggregates.length > 0;
    let items: { expr: ExpressionNode; name: string; start: number }[] = [];
    const rowNumbers = query.items.filter((item) => item.kind === 'rowNumber');
    for (const item of query.items) {
      if (item.kind === 'rowNumber') {
        const name = item.alias ?? `EXPR$${items.length}`;
        items.push({ expr: internalColumn(RANK_FIELD, { start: item.start, end: item.end }), name, start: item.start });
        continue;
      }
      if (item.kind === 'star') {
        if (grouped) this.fail(item, '* cannot be selected with GROUP BY or aggregates', 'name the columns');
        const fields = node.fields.filter(
          (f) =>
            !f.name.startsWith(AGG_PREFIX) &&
            (item.qualifier === undefined || f.qualifier?.toLowerCase() === item.qualifier.toLowerCase()),
        );
        if (fields.length === 0) this.fail(item, `no table is called ${item.qualifier}`);
        for (const f of fields) {
          items.push({
            expr: {
              kind: 'column',
              name: f.name,
              ...(f.qualifier === undefined ? {} : { qualifier: f.qualifier }),
              quoted: true,
              start: item.start,
              end: item.start,
            },
            name: f.name,
            start: item.start,
          });
        }
      } else {
        const name = item.alias ?? (item.expr.kind === 'column' ? item.expr.name : `EXPR$${items.length}`);
        items.push({ expr: item.expr, name, start: item.start });
      }
    }
    if (rowNumbers.length > 0) node = this.rowNumber(node, query, rowNumbers, target);
    if (grouped) {
      const { node: aggregated, rewrite } = this.aggregate(node, query, aggregates);
      node = aggregated;
      items = items.map((item) => ({ ...item, expr: rewrite(item.expr) }));
      if (query.having !== undefined) {
        const having = rewrite(query.having);
        node = this.add(new FilterNode(node, this.condition(having, node.fields), this.source(query.having)));
      }
    } else if (query.having !== undefined) {
      this.fail(query.having, 'HAVING needs GROUP BY or an aggregate', 'write the condition in WHERE');
    }
    const { sink, types } = target;
    if (sink !== undefined && items.length !== sink.columns.length) {
      this.fail(
        query,
        `the query selects ${items.length} columns, the sink ${sink.name} has ${sink.columns.length}`,
        `select one expression per sink column, in its order: ${sink.columns.map((c) => c.name).join(', ')}`,
      );
    }
    if (types !== undefined && items.length !== types.length) {
      this.fail(
        query,
        `this branch of the UNION selects ${items.length} columns, the first selects ${types.length}`,
        'select the same number of columns in every branch',
      );
    }
    const input = node;
    const exprs = items.map((item, i) => {
      const compiled = this.expression(item.expr, input.fields);
      const type = types?.[i];
      if (type === undefined) return compiled;
      try {
        return coerce(compiled, type, this.options.timeZone);
      } catch (error) {
        if (!(error instanceof CoercionError)) throw error;
        const column = sink?.columns[i];
        return this.fail(
          item,
          column === undefined
            ? `${item.name} is ${formatDataType(compiled.type)}, which does not convert to the UNION's ${formatDataType(type)}`
            : `${item.name} is ${formatDataType(compiled.type)}, which does not fit the sink column ${column.name} ${column.typeText}`,
          `CAST it: CAST(… AS ${column?.typeText ?? formatDataType(type)})`,
        );
      }
    });
    const fields: Field[] = items.map((item, i) => ({
      name: target.names?.[i] ?? item.name,
      ...(target.qualifier === undefined ? {} : { qualifier: target.qualifier }),
      type: exprs[i]!.type,
      nullable: exprs[i]!.nullable,
      ...(this.passThrough(items[i]!.expr, input.fields) === undefined
        ? {}
        : { origin: input.fields[this.passThrough(items[i]!.expr, input.fields)!]!.origin }),
    }));
    const positions = items.map((item) => this.passThrough(item.expr, input.fields));
    const uniqueKeys = mapKeys(input.uniqueKeys, positions);
    const texts = items.map((item) => (item.expr.start === item.expr.end ? item.name : this.source(item.expr)));
    node = this.add(new ProjectNode(input, fields, uniqueKeys, exprs, texts, positions));
    const constants = exprs.map((e) => {
      const value = e.constant === true ? e.evaluate(CONSTANT_CONTEXT) : null;
      return value === null ? undefined : encodeValue(value);
    });
    if (query.distinct) {
      node = this.add(new DistinctNode(node, minimalKeys([...uniqueKeys, fields.map((_, i) => i)])));
    }
    if (query.orderBy !== undefined && query.limit !== undefined) {
      // ORDER BY names the select list's columns (by their names in the query, whatever the sink calls them).
      const named = node.fields.map((f, i) => ({ ...f, name: items[i]!.name }));
      const sort = this.sortKeys(query.orderBy, named);
      const text = `TopN ORDER BY ${query.orderBy.map((o) => this.orderText(o)).join(', ')} LIMIT ${query.limit.value}`;
      node = this.add(new TopNNode(node, node.fields, node.uniqueKeys, [], sort, query.limit.value, undefined, text));
    }
    this.constants.set(node, constants);
    return node;
  }

  /**
   * Flink's legacy group windows: `GROUP BY TUMBLE(ts, INTERVAL '1' HOUR), …` (or `HOP(ts, slide, size)`) with
   * `TUMBLE_START(…)`, `TUMBLE_END(…)`, `TUMBLE_ROWTIME(…)` (`HOP_…`) in the select list and HAVING: the rows of
   * FROM and WHERE go through the window TVF's node, and the query groups by its window_start and window_end,
   * which those functions name. The window is updated in place as the TVF's are ([Windows](docs/sql.md)).
   */
  private groupWindow(query: SelectQuery, input: PlanNode): { node: PlanNode; query: SelectQuery } {
    const windows = query.groupBy.filter(
      (e): e is Extract<ExpressionNode, { kind: 'call' }> =>
        e.kind === 'call' && ['TUMBLE', 'HOP', 'SESSION'].includes(e.name.toUpperCase()),
    );
    if (windows.length === 0) return { node: input, query };
    const call = windows[0]!;
    const fn = call.name.toUpperCase();
    if (windows.length > 1) this.fail(windows[1]!, 'one group window per GROUP BY');
    const intervals = call.args.slice(1);
    const wanted = fn === 'HOP' ? 2 : 1;
    if (call.args.length !== wanted + 1 || intervals.some((a) => a.kind !== 'interval')) {
      this.fail(
        call,
        `${fn} takes the time column and ${{ TUMBLE: 'the size', HOP: 'the slide and the size', SESSION: 'the gap' }[fn]} as INTERVALs`,
        {
          TUMBLE: "TUMBLE(ts, INTERVAL '1' HOUR)",
          HOP: "HOP(ts, INTERVAL '5' MINUTES, INTERVAL '1' HOUR)",
          SESSION: "SESSION(ts, INTERVAL '30' MINUTES)",
        }[fn],
      );
    }
    const [stepMs, sizeMs] = intervals.map((a) => (a as Extract<ExpressionNode, { kind: 'interval' }>).ms) as [
      number,
      number?,
    ];
    const time = call.args[0]!;
    const index = time.kind === 'column' ? resolveField(time, input.fields) : undefined;
    if (typeof index !== 'number') {
      this.fail(time, `${fn}'s first argument is the time column`, 'a TIMESTAMP or TIMESTAMP_LTZ column of FROM');
    }
    // A session is per partition: the rows of the other GROUP BY columns' values.
    const partition =
      fn !== 'SESSION'
        ? undefined
        : query.groupBy
            .filter((e) => e !== call)
            .map((e) => {
              const at = this.passThrough(e, input.fields);
              if (at === undefined) {
                this.fail(
                  e,
                  'a SESSION window is partitioned by the other GROUP BY items, which must be columns',
                  'compute the value in a subquery and group by its column',
                );
              }
              this.noteRead(input.fields[at]!);
              return at;
            });
    const spec: WindowSpec | SessionSpec =
      partition !== undefined
        ? { fn: 'session', gapMs: stepMs, partition }
        : { fn: fn === 'TUMBLE' ? 'tumble' : 'hop', sizeMs: sizeMs ?? stepMs, stepMs, offsetMs: 0 };
    if (spec.fn !== 'session' && spec.sizeMs % spec.stepMs !== 0) {
      this.fail(call, "HOP's slide must divide its size", "HOP(ts, INTERVAL '5' MINUTES, INTERVAL '15' MINUTES)");
    }
    const names = { START: `${AGG_PREFIX}ws`, END: `${AGG_PREFIX}we`, ROWTIME: `${AGG_PREFIX}wt` };
    const parts = new Set(['START', 'END', 'ROWTIME']);
    const node = this.windowNode(input, index, time, spec, {
      fields: input.fields,
      names: [names.START, names.END, names.ROWTIME],
      castWhere: 'a subquery',
      suffix: ' of GROUP BY',
    });
    // TUMBLE_START(ts, INTERVAL …) and the like → the window's columns; each must repeat the GROUP BY's window.
    const same = this.canonical(call, input.fields);
    const rewrite = (expr: ExpressionNode): ExpressionNode => {
      if (expr.kind === 'call') {
        const [prefix, part] = expr.name.toUpperCase().split('_') as [string, string | undefined];
        if ((prefix === 'TUMBLE' || prefix === 'HOP' || prefix === 'SESSION') && part !== undefined) {
          if (!parts.has(part)) {
            this.fail(
              expr,
              `${expr.name.toUpperCase()} is not built`,
              `${prefix}_START, ${prefix}_END or ${prefix}_ROWTIME`,
            );
          }
          if (prefix !== fn || this.canonical({ ...expr, name: call.name }, input.fields) !== same) {
            this.fail(
              expr,
              `${expr.name.toUpperCase()}'s arguments are not those of the GROUP BY's ${fn}(…)`,
              `repeat them: ${prefix}_${part}(${this.source(call).replace(/^[^(]*\(/, '')}`,
            );
          }
          // The start tells the window (its size is fixed): the end and the rowtime are computed from it, so that
          // the query is grouped by the start alone (and a sink keyed by TUMBLE_START, as in Flink, fits).
          const windowStart = internalColumn(names.START, expr);
          if (part === 'START') return windowStart;
          if (spec.fn === 'session') {
            // A session's end moves with its rows: each row carries it, alike within the group (its start and
            // partition), so MAX reads it and the query stays grouped by the start.
            const end: ExpressionNode = {
              kind: 'call',
              name: 'MAX',
              args: [internalColumn(names.END, expr)],
              start: expr.start,
              end: expr.end,
            };
            return part === 'END' ? end : plusMs(end, -1, expr);
          }
          return plusMs(windowStart, spec.sizeMs - (part === 'ROWTIME' ? 1 : 0), expr);
        }
      }
      return mapChildren(expr, rewrite);
    };
    const groupBy = query.groupBy.map((e) => (e === call ? internalColumn(names.START, call) : rewrite(e)));
    const items = query.items.map((item) => (item.kind === 'expr' ? { ...item, expr: rewrite(item.expr) } : item));
    return {
      node,
      query: {
        ...query,
        items,
        groupBy,
        ...(query.having === undefined ? {} : { having: rewrite(query.having) }),
      },
    };
  }

  /**
   * Subqueries in WHERE, each among its conditions joined with AND, become joins with the subquery's distinct values
   * (their columns named apart, never selected by `*`); the other conditions stay the WHERE:
   *
   * - `x IN (SELECT y …)`: an inner join on `x = y`;
   * - `EXISTS (SELECT … FROM b WHERE b.k = a.k AND …)`: an inner join on the equalities that tie the subquery to the
   *   outer row (a column qualified by an outer table's name), the subquery's other conditions kept inside it;
   * - `NOT EXISTS (…)`: the same as a LEFT JOIN, keeping the rows it pads (`IS NULL`).
   *
   * Each outer row meets at most one row of distinct values, so FROM's keys stay keys; a NULL meets nothing, as in
   * SQL (a NULL `x` is not IN, and has no row for EXISTS).
   */
  private semiJoins(query: SelectQuery): { from: FromItem; where: ExpressionNode | undefined } {
    if (query.where === undefined) return { from: query.from, where: undefined };
    let from = query.from;
    const rest: ExpressionNode[] = [];
    for (const term of conjuncts(query.where)) {
      const negatedExists = term.kind === 'unary' && term.op === 'NOT' && term.operand.kind === 'exists';
      if (term.kind !== 'inQuery' && term.kind !== 'exists' && !negatedExists) {
        rest.push(term);
        continue;
      }
      const n = this.semiJoinCount++;
      const at = { start: term.start, end: term.end };
      let join: { query: QueryExpr; keys: { outer: ExpressionNode; column: string }[] };
      /** NOT IN's second join, with the subquery's counts, and the condition on them. */
      let counted: { query: QueryExpr; on: ExpressionNode; condition: ExpressionNode } | undefined;
      if (term.kind === 'inQuery') {
        const inner = term.query as QueryExpr;
        const body = bodyOf(inner);
        const item = body.kind === 'select' && body.items.length === 1 ? body.items[0] : undefined;
        if (item?.kind !== 'expr') {
          this.fail(term, 'IN (SELECT …) takes a SELECT of one column', 'x IN (SELECT y FROM t WHERE …)');
        }
        const column = `${AGG_PREFIX}in${n}`;
        const values: SelectQuery = { ...(body as SelectQuery), distinct: true, items: [{ ...item, alias: column }] };
        join = { query: withBody(inner, values), keys: [{ outer: term.operand, column }] };
        if (term.negated) {
          const select = body as SelectQuery;
          if (select.groupBy.length > 0 || select.having !== undefined || select.limit !== undefined) {
            this.fail(term, 'NOT IN takes a plain SELECT y FROM … WHERE (no GROUP BY or LIMIT)', 'group in a view');
          }
          // SQL's NOT IN: true when the subquery has no row; else unknown (the row dropped) when x is NULL or the
          // subquery has a NULL, false when it has x. The counts of its rows and of its values, one row joined to
          // every outer row, tell the first two.
          const rows = `${AGG_PREFIX}nin${n}_rows`;
          const nonNull = `${AGG_PREFIX}nin${n}_values`;
          const key = constantKey(`${AGG_PREFIX}nin${n}_k`, at);
          const count = (arg: ExpressionNode): ExpressionNode => ({ kind: 'call', name: 'COUNT', args: [arg], ...at });
          const counts: SelectQuery = {
            ...select,
            distinct: false,
            items: [
              { kind: 'expr', expr: count({ kind: 'star', ...at }), alias: rows, start: term.start },
              { kind: 'expr', expr: count(item.expr), alias: nonNull, start: term.start },
              key.item,
            ],
          };
          counted = {
            query: withBody(inner, counts),
            on: key.on,
            condition: orOf(
              { kind: 'isNull', operand: internalColumn(rows, at), negated: false, ...at },
              andOf([
                { kind: 'isNull', operand: term.operand, negated: true, ...at },
                { kind: 'isNull', operand: internalColumn(column, at), negated: false, ...at },
                { kind: 'binary', op: '=', left: internalColumn(rows, at), right: internalColumn(nonNull, at), ...at },
              ]),
            ),
          };
        }
      } else {
        join = this.existsJoin(term.kind === 'exists' ? term : (term.operand as ExistsNode), from, n);
      }
      const on = tiesOn(join.keys, at);
      from = {
        kind: 'join',
        type: negatedExists || counted !== undefined ? 'left' : 'inner',
        left: from,
        right: { kind: 'subquery', query: join.query, alias: `${AGG_PREFIX}in${n}`, start: term.start },
        on: { ...on, ...at },
        start: term.start,
      };
      if (negatedExists) {
        rest.push({ kind: 'isNull', operand: internalColumn(join.keys[0]!.column, at), negated: false, ...at });
      }
      if (counted !== undefined) {
        from = {
          kind: 'join',
          type: 'left',
          left: from,
          right: { kind: 'subquery', query: counted.query, alias: `${AGG_PREFIX}nin${n}`, start: term.start },
          on: { ...counted.on, ...at },
          start: term.start,
        };
        rest.push(counted.condition);
      }
    }
    return { from, where: rest.length === 0 ? undefined : andOf(rest) };
  }

  /**
   * A subquery's ties to the outer row (`b.k = a.k` among its WHERE's conditions joined with AND, `a` a table of
   * `outerFrom` and not of the subquery): for each, the outer side and the subquery's own side as a select item
   * named apart (`column`); its other conditions, kept inside it.
   */
  private correlation(
    body: SelectQuery,
    outerFrom: FromItem,
    n: number,
    what: string,
  ): { keys: { outer: ExpressionNode; column: string }[]; items: SelectItem[]; kept: ExpressionNode[] } {
    const outerNames = aliasesOf(outerFrom);
    const innerNames = aliasesOf(body.from);
    const isOuter = (e: ExpressionNode) => outerColumns(e, outerNames, innerNames).length > 0;
    const keys: { outer: ExpressionNode; column: string }[] = [];
    const items: SelectItem[] = [];
    const kept: ExpressionNode[] = [];
    for (const term of body.where === undefined ? [] : conjuncts(body.where)) {
      if (!isOuter(term)) {
        kept.push(term);
        continue;
      }
      const sides = term.kind === 'binary' && term.op === '=' ? [term.left, term.right] : [];
      const outer = sides.find(isOuter);
      const own = sides.find((side) => !isOuter(side));
      if (outer === undefined || own === undefined) {
        this.fail(
          term,
          `${what} ties its rows to the outer row with equalities only (b.k = a.k); this condition reads the outer row's columns otherwise`,
          'compare the outer columns with = and keep other conditions on the subquery own columns',
        );
      }
      const column = `${AGG_PREFIX}in${n}_${keys.length}`;
      keys.push({ outer, column });
      items.push({ kind: 'expr', expr: own, alias: column, start: own.start });
    }
    return { keys, items, kept };
  }

  /**
   * A grouped query with scalar subqueries in `HAVING` or its select list, as a query around it: the grouped query
   * computes every piece of those expressions that holds no subquery (`COUNT(*)` of `HAVING COUNT(*) > (SELECT …)`),
   * and the query around reads them as columns, its `WHERE` the `HAVING`, where the subqueries are planned as in any
   * WHERE and select list (see {@link scalarJoins}). The grouped query's keys are its columns' as before, so the
   * result's keys stay. Undefined for a query that needs none of it. A subquery tied to the grouped query's row
   * names its tables, which the query around does not see: refused as it would be there.
   */
  private groupedAround(query: SelectQuery): SelectQuery | undefined {
    const inItems = query.items.flatMap((item) => (item.kind === 'expr' ? scalarQueriesIn(item.expr) : []));
    const inHaving = query.having === undefined ? [] : scalarQueriesIn(query.having);
    if (inItems.length === 0 && inHaving.length === 0) return undefined;
    if (query.groupBy.length === 0 && this.collectAggregates(query).length === 0) return undefined;
    if (query.distinct || query.orderBy !== undefined || query.items.some((item) => item.kind !== 'expr')) {
      this.fail(
        query,
        'a grouped query with a scalar subquery in HAVING or its select list is built without DISTINCT, ORDER BY … LIMIT and ranking functions',
        'group in a subquery, and compute on its rows in a query around it',
      );
    }
    const grouping = aliasesOf(query.from);
    for (const node of [...inItems, ...inHaving]) {
      const body = bodyOf(node.query as QueryExpr);
      if (body.kind !== 'select' || body.where === undefined) continue;
      const outer = outerColumns(body.where, grouping, aliasesOf(body.from))[0];
      if (outer === undefined) continue;
      this.fail(
        outer,
        `a scalar subquery in HAVING or in a grouped query's select list does not read the grouped row (${this.source(outer)})`,
        'group in a subquery and tie the scalar subquery to its columns in a query around it: SELECT … FROM (SELECT a.k, COUNT(*) AS n FROM a GROUP BY a.k) g WHERE g.n > (SELECT COUNT(*) FROM b WHERE b.k = g.k)',
      );
    }
    const n = this.semiJoinCount++;
    const inner: SelectItem[] = [];
    // One column per piece as written: `COUNT(*)` selected and in HAVING is computed once.
    const lifted = new Map<string, ExpressionNode>();
    const lift = (node: ExpressionNode): ExpressionNode => {
      if (node.kind === 'scalarQuery') return node;
      if (scalarQueriesIn(node).length > 0) return mapChildren(node, lift);
      const text = this.source(node);
      const known = lifted.get(text);
      if (known !== undefined) return known;
      const alias = `${AGG_PREFIX}g${n}_${inner.length}`;
      inner.push({ kind: 'expr', expr: node, alias, start: node.start });
      const column = internalColumn(alias, node);
      lifted.set(text, column);
      return column;
    };
    const items: SelectItem[] = query.items.map((item, i) => {
      const { expr, alias } = item as Extract<SelectItem, { kind: 'expr' }>;
      const name = alias ?? (expr.kind === 'column' ? expr.name : `EXPR$${i}`);
      return { kind: 'expr', expr: lift(expr), alias: name, start: item.start };
    });
    const where = inHaving.length > 0 ? lift(query.having!) : undefined;
    const grouped: SelectQuery = {
      ...query,
      items: inner,
      ...(where === undefined ? {} : { having: undefined }),
    };
    return {
      kind: 'select',
      distinct: false,
      items,
      from: { kind: 'subquery', query: grouped, alias: `${AGG_PREFIX}g${n}`, start: query.start },
      ...(where === undefined ? {} : { where }),
      groupBy: [],
      start: query.start,
    };
  }

  /** The query with a table pre-aggregated below its joins, or undefined (see src/sql/eager-aggregation.ts). */
  private eagerAggregation(query: SelectQuery): SelectQuery | undefined {
    return eagerAggregation(query, {
      table: (item) =>
        this.commonTable(item.name) !== undefined || this.options.views?.has(item.name.toLowerCase()) === true
          ? undefined
          : this.catalog.get(item.name.toLowerCase()),
      source: (node) => this.source(node),
      internalName: (text) => `${AGG_PREFIX}${text}`,
    });
  }

  /**
   * Scalar subqueries, `(SELECT agg(…) FROM b [WHERE b.k = a.k AND …])` in WHERE or the select list, each as a LEFT
   * JOIN with the subquery's value per tie to the outer row (grouped by the subquery's side of the equalities that
   * name the outer row; none: one value, joined to every row on a constant key), the subquery replaced by the value's
   * column. The subquery selects one aggregate expression, so it has at most one row per outer row, and FROM's keys
   * stay keys; no row (nothing tied, or nothing at all) reads as NULL, and a bare `COUNT` as 0, as in SQL.
   */
  private scalarJoins(query: SelectQuery): SelectQuery {
    const found: ScalarQueryNode[] = [];
    if (query.where !== undefined) scalarQueriesIn(query.where, found);
    const grouped = query.groupBy.length > 0 || this.collectAggregates(query).length > 0;
    if (!grouped) for (const item of query.items) if (item.kind === 'expr') scalarQueriesIn(item.expr, found);
    if (found.length === 0) return query;
    let from = query.from;
    const replaced = new Map<ScalarQueryNode, ExpressionNode>();
    for (const node of found) {
      const n = this.semiJoinCount++;
      const at = { start: node.start, end: node.end };
      const inner = node.query as QueryExpr;
      const body = bodyOf(inner);
      const item = body.kind === 'select' && body.items.length === 1 ? body.items[0] : undefined;
      if (
        body.kind !== 'select' ||
        item?.kind !== 'expr' ||
        body.groupBy.length > 0 ||
        body.having !== undefined ||
        body.limit !== undefined ||
        body.distinct ||
        this.collectAggregates(body).length === 0
      ) {
        this.fail(
          node,
          'a scalar subquery is built as one aggregate without GROUP BY: (SELECT MAX(b.x) FROM b [WHERE b.k = a.k])',
          'for a row of another table, LEFT JOIN it in FROM',
        );
      }
      const count = item.expr.kind === 'call' && item.expr.name.toUpperCase() === 'COUNT' ? item.expr : undefined;
      if (
        count === undefined &&
        columnsAndCalls(item.expr).some((c) => c.kind === 'call' && c.name.toUpperCase() === 'COUNT')
      ) {
        this.fail(
          item.expr,
          'a scalar subquery computes on a COUNT only when it selects the COUNT alone (with no row it is 0, not NULL)',
          'select COUNT(…) alone and compute around the subquery: (SELECT COUNT(*) FROM …) * 2',
        );
      }
      const { keys, items, kept } = this.correlation(body, from, n, 'a scalar subquery');
      const value = `${AGG_PREFIX}sq${n}`;
      const key = constantKey(`${AGG_PREFIX}sq${n}_k`, at);
      const select: SelectQuery = {
        ...body,
        items: [{ ...item, alias: value }, ...(keys.length === 0 ? [key.item] : items)],
        groupBy: items.map((i) => (i as { expr: ExpressionNode }).expr),
        ...(kept.length === 0 ? { where: undefined } : { where: andOf(kept) }),
      };
      const on = keys.length === 0 ? key.on : tiesOn(keys, at);
      from = {
        kind: 'join',
        type: 'left',
        left: from,
        right: {
          kind: 'subquery',
          query: withBody(inner, select),
          alias: `${AGG_PREFIX}sq${n}`,
          start: node.start,
        },
        on: { ...on, ...at },
        start: node.start,
      };
      const column = internalColumn(value, at);
      replaced.set(
        node,
        count === undefined ? column : { kind: 'call', name: 'COALESCE', args: [column, literalNumber(0, at)], ...at },
      );
    }
    const rewrite = (node: ExpressionNode): ExpressionNode =>
      node.kind === 'scalarQuery' ? (replaced.get(node) ?? node) : mapChildren(node, rewrite);
    return {
      ...query,
      from,
      ...(query.where === undefined ? {} : { where: rewrite(query.where) }),
      items: grouped ? query.items : query.items.map((i) => (i.kind === 'expr' ? { ...i, expr: rewrite(i.expr) } : i)),
    };
  }

  /**
   * `EXISTS (SELECT … FROM b WHERE b.k = a.k AND …)` as the distinct values of the subquery's side of the equalities
   * that name an outer table (`a`, qualified), its other conditions kept inside it.
   */
  private existsJoin(
    node: ExistsNode,
    outerFrom: FromItem,
    n: number,
  ): { query: QueryExpr; keys: { outer: ExpressionNode; column: string }[] } {
    const inner = node.query as QueryExpr;
    const body = bodyOf(inner);
    if (body.kind !== 'select' || body.groupBy.length > 0 || body.having !== undefined || body.limit !== undefined) {
      this.fail(
        node,
        'EXISTS takes a plain SELECT … FROM … WHERE (no UNION, GROUP BY or LIMIT)',
        'EXISTS (SELECT 1 FROM b WHERE b.k = a.k)',
      );
    }
    const { keys, items, kept } = this.correlation(body, outerFrom, n, 'EXISTS');
    if (keys.length === 0) {
      this.fail(
        node,
        'an EXISTS that no equality ties to the outer row is not built',
        'name the outer row in its WHERE: EXISTS (SELECT 1 FROM b WHERE b.k = a.k)',
      );
    }
    const values: SelectQuery = {
      ...body,
      distinct: true,
      items,
      ...(kept.length === 0 ? { where: undefined } : { where: andOf(kept) }),
    };
    return { query: withBody(inner, values), keys };
  }

  /**
   * The Top-N of `ROW_NUMBER() OVER (PARTITION BY … ORDER BY …)`: after FROM and WHERE, each row with its rank in
   * its partition (a field the select item reads), as many as the query around keeps (`WHERE rn <= N`).
   */
  private rowNumber(input: PlanNode, query: SelectQuery, items: readonly SelectItem[], target: Target): PlanNode {
    const item = items[0] as RowNumberItem;
    const fn = item.fn;
    if (items.length > 1)
      this.fail(items[1]!, 'one ranking function per query', 'rank again in a query around this one');
    if (query.groupBy.length > 0 || this.collectAggregates(query).length > 0) {
      this.fail(
        item,
        `${fn}() with GROUP BY in one query is not built`,
        `group in a subquery and rank its rows: SELECT …, ${fn}() OVER (…) AS rn FROM (SELECT … GROUP BY …)`,
      );
    }
    if (query.distinct) this.fail(item, `${fn}() with SELECT DISTINCT is not built`, 'DISTINCT in a subquery');
    const limit = target.rankLimit;
    if (limit === undefined) {
      this.fail(
        item,
        `${fn}() OVER (…) needs a bound on it in the query around: the rank of every row would change with each new first row`,
        `keep the first N: SELECT * FROM (SELECT …, ${fn}() OVER (…) AS ${item.alias ?? 'rn'} FROM …) WHERE ${item.alias ?? 'rn'} <= N`,
      );
    }
    const partition = item.partitionBy.map((expr) => {
      const index = this.passThrough(expr, input.fields);
      if (index === undefined) {
        this.fail(expr, 'PARTITION BY takes columns', 'compute the value in a subquery and partition by its column');
      }
      this.noteRead(input.fields[index]!);
      return index;
    });
    const sort = this.sortKeys(item.orderBy, input.fields);
    const rank = input.fields.length;
    const fields: Field[] = [...input.fields, { name: RANK_FIELD, type: { kind: 'int64' }, nullable: false }];
    const over = [
      ...(partition.length === 0 ? [] : [`PARTITION BY ${item.partitionBy.map((e) => this.source(e)).join(', ')}`]),
      `ORDER BY ${item.orderBy.map((o) => this.orderText(o)).join(', ')}`,
    ];
    return this.add(
      new TopNNode(
        input,
        fields,
        // RANK and DENSE_RANK give ties one rank: (partition, rank) is a key of ROW_NUMBER's rows alone — and with
        // one row kept per partition (`rn = 1`, Flink's deduplication), the partition is.
        minimalKeys(
          fn !== 'ROW_NUMBER'
            ? input.uniqueKeys
            : [...input.uniqueKeys, [...partition, rank], ...(limit === 1 ? [[...partition]] : [])],
        ),
        partition,
        sort,
        limit,
        fn,
        `TopN ${fn}() OVER (${over.join(' ')}) <= ${limit}`,
      ),
    );
  }

  private sortKeys(orderBy: readonly OrderItem[], fields: readonly Field[]): SortKey[] {
    return orderBy.map((o) => {
      const expr = this.expression(o.expr, fields);
      return {
        expr,
        compare: comparatorFor(expr.type),
        descending: o.descending,
        nullsFirst: o.nullsFirst ?? !o.descending,
      };
    });
  }

  private orderText(item: OrderItem): string {
    const nulls = item.nullsFirst === undefined ? '' : item.nullsFirst ? ' NULLS FIRST' : ' NULLS LAST';
    return `${this.source(item.expr)}${item.descending ? ' DESC' : ''}${nulls}`;
  }

  /**
   * The bounds a query puts on the ranks of the queries it reads, per FROM item (`FROM (SELECT …, ROW_NUMBER() OVER
   * (…) AS rn …) WHERE rn <= 3`, a view's or common table's rank, each side of a join: `WHERE r.rk <= 3`): see
   * {@link boundOf}. The filter stays: the Top-N keeps the rows ranked N or better, the filter the ranks asked for
   * (it rejects NULL, so a rank pushed below an outer join gives the same rows).
   */
  private rankLimits(query: SelectQuery): Map<FromItem, number> {
    const limits = new Map<FromItem, number>();
    if (query.where === undefined) return limits;
    const leaves: FromItem[] = [];
    const collect = (item: FromItem): void => {
      if (item.kind === 'join') {
        collect(item.left);
        collect(item.right);
      } else leaves.push(item);
    };
    collect(query.from);
    const terms = conjuncts(query.where);
    for (const from of leaves) {
      let inner: QueryExpr | undefined;
      if (from.kind === 'subquery') inner = from.query;
      else if (from.kind === 'table') {
        inner = this.commonTable(from.name)?.table.query ?? this.options.views?.get(from.name.toLowerCase())?.query;
      }
      if (inner?.kind === 'with') inner = inner.body;
      if (inner?.kind !== 'select') continue;
      const rank = inner.items.find((item) => item.kind === 'rowNumber');
      if (rank?.kind !== 'rowNumber' || rank.alias === undefined) continue;
      // Unqualified, the name is the rank's when FROM reads one table; in a join it is qualified.
      const alias = from.kind === 'window' || from.kind === 'join' ? undefined : from.alias;
      const isRank = (node: ExpressionNode) =>
        node.kind === 'column' &&
        node.name.toLowerCase() === rank.alias!.toLowerCase() &&
        (node.qualifier === undefined ? leaves.length === 1 : node.qualifier.toLowerCase() === alias?.toLowerCase());
      const limit = boundOf(terms, isRank);
      if (limit !== undefined) limits.set(from, limit);
    }
    return limits;
  }

  /** The input field a select item passes through unchanged, if it is a plain column reference. */
  private passThrough(expr: ExpressionNode, fields: readonly Field[]): number | undefined {
    if (expr.kind !== 'column') return undefined;
    const resolved = resolveField(expr, fields);
    return typeof resolved === 'number' ? resolved : undefined;
  }

  private source(node: ExpressionNode): string {
    return this.text.slice(node.start, node.end).replace(/\s+/g, ' ');
  }

  private expression(node: ExpressionNode, fields: readonly Field[]): Compiled {
    return compileExpression(node, this.text, this.scope(fields));
  }

  private condition(node: ExpressionNode, fields: readonly Field[]): Compiled {
    return compileCondition(node, this.text, this.scope(fields));
  }

  private scope(fields: readonly Field[]) {
    return {
      columns: fields.map((f) => ({ name: f.name, type: f.type, nullable: f.nullable })),
      timeZone: this.options.timeZone,
      resolveColumn: (node: ColumnNode) => {
        const resolved = resolveField(node, fields);
        if (typeof resolved === 'number') this.noteRead(fields[resolved]!);
        return resolved;
      },
    };
  }

  // ---- FROM ----

  private from(item: FromItem, rankLimits?: ReadonlyMap<FromItem, number>): PlanNode {
    const rankLimit = rankLimits?.get(item);
    if (item.kind === 'table') {
      const common = this.commonTable(item.name);
      if (common !== undefined) {
        return this.relation(common.table.query, common.text, common.outer, item.alias, rankLimit);
      }
      const view = this.options.views?.get(item.name.toLowerCase());
      return view === undefined
        ? this.scan(item)
        : this.relation(view.query, view.text, undefined, item.alias, rankLimit);
    }
    if (item.kind === 'window') return this.window(item);
    if (item.kind === 'subquery') {
      return this.queryExpr(item.query, {
        ...(item.alias === '' ? {} : { qualifier: item.alias }),
        ...(rankLimit === undefined ? {} : { rankLimit }),
      });
    }
    const left = this.from(item.left, rankLimits);
    const right = this.from(item.right, rankLimits);
    const lw = left.fields.length;
    const fields: Field[] = [
      ...left.fields.map((f) => (item.type === 'right' || item.type === 'full' ? { ...f, nullable: true } : f)),
      ...right.fields.map((f) => (item.type === 'left' || item.type === 'full' ? { ...f, nullable: true } : f)),
    ];
    for (const name of new Set(left.fields.map((f) => f.qualifier?.toLowerCase()))) {
      if (name !== undefined && right.fields.some((f) => f.qualifier?.toLowerCase() === name)) {
        this.fail(item.right, `the name ${name} is used twice in FROM`, 'give one of the tables another alias');
      }
    }
    const leftKeys: Compiled[] = [];
    const rightKeys: Compiled[] = [];
    const leftKeyFields: number[] = [];
    const rightKeyFields: number[] = [];
    /** Whether every key is its column as it is (no conversion to a type common with the other side's). */
    const asTheyAre = [true, true];
    const residual: ExpressionNode[] = [];
    for (const term of conjuncts(item.on)) {
      const sides =
        term.kind === 'binary' && term.op === '='
          ? [this.sideOf(term.left, fields, lw), this.sideOf(term.right, fields, lw)]
          : [];
      // A scalar subquery's constant key (`1 = \u0001sqN_k`, see scalarJoins): the literal is the left side's key.
      if (term.kind === 'binary' && term.left.kind === 'literal' && isInternal(term.right) && sides[1] === 1) {
        sides[0] = 0;
      }
      if (
        term.kind !== 'binary' ||
        sides.length !== 2 ||
        sides[0] === undefined ||
        sides[1] === undefined ||
        sides[0] === sides[1]
      ) {
        residual.push(term);
        continue;
      }
      const [l, r] = sides[0] === 0 ? [term.left, term.right] : [term.right, term.left];
      const lc = this.expression(l, left.fields);
      const rc = this.expression(r, right.fields);
      const common = comparisonType(lc.type, rc.type);
      if (typeof common === 'string') this.fail(term, `the join keys cannot be compared: ${common}`, 'CAST one side');
      try {
        leftKeys.push(coerce(lc, common, this.options.timeZone));
        rightKeys.push(coerce(rc, common, this.options.timeZone));
      } catch (error) {
        if (!(error instanceof CoercionError)) throw error;
        this.fail(term, `the join keys cannot be compared: ${error.message}`, 'CAST one side');
      }
      if (leftKeys.at(-1) !== lc) asTheyAre[0] = false;
      if (rightKeys.at(-1) !== rc) asTheyAre[1] = false;
      const lf = this.passThrough(l, left.fields);
      const rf = this.passThrough(r, right.fields);
      if (lf !== undefined) leftKeyFields.push(lf);
      if (rf !== undefined) rightKeyFields.push(rf);
    }
    if (leftKeys.length === 0) {
      this.fail(
        item.on,
        'a join needs at least one equality between a column of each side',
        'write ON a.key = b.key (further conditions may follow with AND)',
      );
    }
    const residualCompiled = residual.length === 0 ? undefined : this.condition(andOf(residual), fields);
    // Unique keys: both sides' keys together; one side's alone when each of its rows meets at most one row of
    // the other side (the other side's join columns cover a key of it) and the join cannot pad that side.
    const uniqueKeys: number[][] = [];
    for (const lk of left.uniqueKeys)
      for (const rk of right.uniqueKeys) uniqueKeys.push([...lk, ...rk.map((i) => i + lw)]);
    const covers = (keys: readonly (readonly number[])[], columns: number[]) =>
      keys.some((key) => key.every((i) => columns.includes(i)));
    if (covers(right.uniqueKeys, rightKeyFields) && (item.type === 'inner' || item.type === 'left')) {
      uniqueKeys.push(...left.uniqueKeys.map((k) => [...k]));
    }
    if (covers(left.uniqueKeys, leftKeyFields) && (item.type === 'inner' || item.type === 'right')) {
      uniqueKeys.push(...right.uniqueKeys.map((k) => k.map((i) => i + lw)));
    }
    for (const input of [left, right]) {
      const number = this.joinNumbers.get(input);
      if (number !== undefined) this.pushdown.record?.joined.add(number);
    }
    const number = this.joins++;
    const output = this.joinOutput(number, fields, minimalKeys(uniqueKeys));
    this.pushdown.record?.above.push(new Set());
    const aggregating =
      item.type !== 'inner' || this.options.aggregatingJoins === false
        ? undefined
        : (this.aggregatingSide(0, left, leftKeyFields, leftKeys.length, asTheyAre[0]!) ??
          this.aggregatingSide(1, right, rightKeyFields, rightKeys.length, asTheyAre[1]!));
    const join = this.add(
      new JoinNode(
        left,
        right,
        output === undefined ? fields : output.map((i) => fields[i]!),
        output === undefined ? minimalKeys(uniqueKeys) : mapKeys(uniqueKeys, output),
        item.type,
        [leftKeys, rightKeys],
        residualCompiled,
        this.source(item.on),
        output,
        aggregating,
      ),
    );
    this.joinNumbers.set(join, number);
    if (item.type === 'inner') {
      if (aggregating?.side !== 0) takeUpdates(join, 0, left, leftKeyFields, leftKeys.length);
      if (aggregating?.side !== 1) takeUpdates(join, 1, right, rightKeyFields, rightKeys.length);
    }
    return join;
  }

  /**
   * An inner join's input `side` that is an aggregate (through projections) whose group key is exactly the join key,
   * each key its column as it is: one group per join key. The join then computes the aggregate itself (see
   * `AggregatingSide`), and the aggregate and its projections leave the graph. Undefined where it does not apply.
   */
  private aggregatingSide(
    side: 0 | 1,
    input: PlanNode,
    keyFields: readonly number[],
    keys: number,
    asTheyAre: boolean,
  ): AggregatingSide | undefined {
    const rowKey = input.uniqueKeys[0];
    if (!asTheyAre || rowKey === undefined || keyFields.length !== keys || keys !== rowKey.length) return undefined;
    if (!rowKey.every((i) => keyFields.includes(i))) return undefined;
    const aggregate = aggregateKeyedBy(input, rowKey);
    if (aggregate === undefined || aggregate.groupKeyWidth !== rowKey.length) return undefined;
    const projections: ProjectNode[] = [];
    for (let node = input; node !== aggregate; node = node.inputs[0]!) projections.unshift(node as ProjectNode);
    const gone = new Set<PlanNode>([aggregate, ...projections]);
    const kept = this.nodes.filter((n) => !gone.has(n));
    this.nodes.splice(0, this.nodes.length, ...kept);
    this.nodes.forEach((n, i) => (n.id = i));
    const { keys: groupKeys, args, specs, text } = aggregate.grouping;
    return {
      side,
      input: aggregate.inputs[0]!,
      keys: groupKeys,
      args,
      specs,
      project: (row) => projections.reduce((r, p) => p.apply(r), row),
      text,
    };
  }

  /**
   * The positions of join `number`'s `fields` it passes on (second pass of the pushdown; undefined: all): those
   * read above it, those not straight from a scan (a subquery's computed columns: kept whole), and when it is an
   * input of another join the first of its unique keys (by which that join keeps its rows).
   */
  private joinOutput(
    number: number,
    fields: readonly Field[],
    uniqueKeys: readonly (readonly number[])[],
  ): number[] | undefined {
    const use = this.pushdown.narrow;
    const above = use?.above[number];
    if (above === undefined) return undefined;
    const key = use!.joined.has(number) ? (uniqueKeys[0] ?? []) : [];
    const output = fields
      .map((_, i) => i)
      .filter((i) => fields[i]!.origin === undefined || above.has(fields[i]!.origin) || key.includes(i));
    return output.length < fields.length ? output : undefined;
  }

  /**
   * A window TVF in FROM: its table's rows once per window, with window_start, window_end and window_time added
   * (qualified by the TVF's alias, else by the table's). Unique on a key of the table plus window_start.
   */
  private window(item: WindowTable): PlanNode {
    const input = this.from(item.input);
    /** A column the TVF names (DESCRIPTOR's, PARTITION BY's): its position in the input. */
    const resolve = (name: { readonly name: string; readonly start: number }): number => {
      const column: ColumnNode = {
        kind: 'column',
        name: name.name,
        quoted: true,
        start: name.start,
        end: name.start + name.name.length,
      };
      const at = resolveField(column, input.fields);
      return typeof at === 'number' ? at : this.fail(name, at.reason, at.hint);
    };
    const time = resolve(item.timeColumn);
    const qualifier = item.alias ?? item.input.alias;
    const spec: WindowSpec | SessionSpec =
      item.fn === 'session'
        ? {
            fn: 'session',
            gapMs: item.sizeMs,
            partition: (item.partitionBy ?? []).map((name) => {
              const at = resolve(name);
              this.noteRead(input.fields[at]!);
              return at;
            }),
          }
        : { fn: item.fn, sizeMs: item.sizeMs, stepMs: item.stepMs, offsetMs: item.offsetMs };
    return this.windowNode(input, time, item.timeColumn, spec, {
      fields: input.fields.map((f) => (item.alias === undefined ? f : { ...f, qualifier })),
      names: ['window_start', 'window_end', 'window_time'],
      qualifier,
      castWhere: 'a view or a WITH',
      suffix: '',
    });
  }

  /**
   * A window TVF's node over `input` (the TVFs, and the legacy group windows): each row once per window its time
   * (field `time`) falls in, `columns.fields` with the window's start, end and time added under `columns.names`.
   * A session window (`spec.fn` 'session') gets the session node instead, each row once with its session's bounds.
   * Unique on a key of the input plus the start (TUMBLE and SESSION: on the input's keys too). Refuses a time that is
   * not a timestamp (`castWhere`: where to CAST it).
   */
  private windowNode(
    input: PlanNode,
    time: number,
    at: { readonly start: number },
    spec: WindowSpec | SessionSpec,
    columns: {
      readonly fields: readonly Field[];
      readonly names: readonly [string, string, string];
      readonly qualifier?: string;
      readonly castWhere: string;
      readonly suffix: string;
    },
  ): PlanNode {
    const timeField = input.fields[time]!;
    if (timeField.type.kind !== 'timestamp' && timeField.type.kind !== 'timestamptz') {
      this.fail(
        at,
        `the window's time column ${timeField.name} is ${formatDataType(timeField.type)}`,
        `window by a TIMESTAMP or TIMESTAMP_LTZ column (CAST it in ${columns.castWhere} first)`,
      );
    }
    this.noteRead(timeField);
    const { qualifier } = columns;
    const windowType: DataType = { kind: 'timestamp', precision: 3 };
    const [startName, endName, timeName] = columns.names;
    const fields: Field[] = [
      ...columns.fields,
      { name: startName, ...(qualifier === undefined ? {} : { qualifier }), type: windowType, nullable: false },
      { name: endName, ...(qualifier === undefined ? {} : { qualifier }), type: windowType, nullable: false },
      {
        name: timeName,
        ...(qualifier === undefined ? {} : { qualifier }),
        type: { kind: timeField.type.kind, precision: 3 },
        nullable: false,
      },
    ];
    const start = input.fields.length;
    const withStart = input.uniqueKeys.map((key) => [...key, start]);
    // A row in one window (TUMBLE) or one session: the input's keys stay keys.
    const once = spec.fn === 'tumble' || spec.fn === 'session';
    const uniqueKeys = minimalKeys(once ? [...input.uniqueKeys, ...withStart] : withStart);
    if (spec.fn === 'session') {
      const by = spec.partition.map((i) => input.fields[i]!.name);
      return this.add(
        new SessionNode(
          input,
          fields,
          uniqueKeys,
          spec.gapMs,
          time,
          spec.partition,
          this.options.timeZone,
          `SESSION(${timeField.name}, ${ms(spec.gapMs)})${by.length === 0 ? '' : ` PARTITION BY ${by.join(', ')}`}${columns.suffix}`,
        ),
      );
    }
    const sizes = spec.fn === 'tumble' ? ms(spec.sizeMs) : `${ms(spec.stepMs)}, ${ms(spec.sizeMs)}`;
    const offset = spec.offsetMs === 0 ? '' : `, offset ${ms(spec.offsetMs)}`;
    return this.add(
      new WindowNode(
        input,
        fields,
        uniqueKeys,
        spec,
        time,
        this.options.timeZone,
        `${spec.fn.toUpperCase()}(${timeField.name}, ${sizes}${offset})${columns.suffix}`,
      ),
    );
  }

  /** 0 or 1 when every column of `node` is of that side of a join; undefined otherwise. */
  private sideOf(node: ExpressionNode, fields: readonly Field[], leftWidth: number): 0 | 1 | undefined {
    const columns = columnsOf(node);
    if (columns.length === 0) return undefined;
    let side: 0 | 1 | undefined;
    for (const column of columns) {
      const resolved = resolveField(column, fields);
      if (typeof resolved !== 'number') this.fail(column, resolved.reason, resolved.hint);
      const s = resolved < leftWidth ? 0 : 1;
      if (side !== undefined && side !== s) return undefined;
      side = s;
    }
    return side;
  }

  private scan(item: Extract<FromItem, { kind: 'table' }>): PlanNode {
    const table = this.table(item.name, item);
    const connector = connectorOf(table);
    if (!SOURCE_CONNECTORS.has(connector)) {
      this.fail(
        item,
        `${table.name} is a '${connector}' table, which cannot be read as a change stream`,
        `read from tables WITH ('connector' = '${[...SOURCE_CONNECTORS].join("' | '")}')`,
      );
    }
    const id = `${this.scans.length}`;
    // The source's columns; computed ones are added after the scan.
    const sourceColumns = table.columns.filter((c) => c.computed === undefined);
    const declared: Field[] = sourceColumns.map((c, i) => ({
      name: c.name,
      qualifier: item.alias,
      type: c.type,
      nullable: c.nullable,
      origin: `${id}#${i}`,
    }));
    const tableKey = table.primaryKey.map((k) =>
      sourceColumns.findIndex((c) => c.name.toLowerCase() === k.toLowerCase()),
    );
    // The columns some expression reads, and the primary key (rows by key in joins, ChangelogNormalize).
    const read = this.pushdown.narrow?.read;
    const columns = declared
      .map((_, i) => i)
      .filter((i) => read === undefined || read.has(declared[i]!.origin!) || tableKey.includes(i));
    const key = tableKey.map((i) => columns.indexOf(i));
    this.scanKeys.set(id, {
      key: tableKey.map((i) => `${id}#${i}`),
      all: columns.map((i) => declared[i]!.origin!),
    });
    const scan = this.add(
      new ScanNode(
        table.name,
        item.alias,
        declared,
        columns,
        key.length === 0 ? [] : [key],
        connector === 'postgres-cdc',
        sourceColumns.map((c) => (c.metadata === undefined ? undefined : this.metadataOf(table, connector, c))),
      ),
    );
    this.scans.push(scan);
    let node: PlanNode = scan;
    if (connector === 'postgres-cdc') {
      // PostgreSQL sends a retraction's old row whole only under REPLICA IDENTITY FULL: keep the rows by key.
      if (key.length === 0) {
        this.fail(
          item,
          `the postgres-cdc table ${table.name} has no PRIMARY KEY`,
          'declare its key: PRIMARY KEY (…) NOT ENFORCED (an update may carry only the old key, by which the row is found)',
        );
      }
      node = this.add(new NormalizeNode(scan, key));
    }
    return table.columns.some((c) => c.computed !== undefined) ? this.computedColumns(table, item.alias, node) : node;
  }

  /**
   * A source table's computed columns (`name AS expr`): a projection after its scan giving the table's columns in
   * their declared order, each computed one from the row's others. (Every column a computed one reads is read.)
   */
  private computedColumns(table: CreateTableStatement, alias: string, input: PlanNode): PlanNode {
    const fields: Field[] = [];
    const exprs: Compiled[] = [];
    const texts: string[] = [];
    const positions: (number | undefined)[] = [];
    for (const column of table.columns) {
      if (column.computed === undefined) {
        const index = input.fields.findIndex((f) => f.name.toLowerCase() === column.name.toLowerCase());
        if (index < 0) continue; // not read (projection pushdown)
        const field = input.fields[index]!;
        fields.push(field);
        exprs.push({ type: field.type, nullable: field.nullable, evaluate: (ctx) => ctx.row[index] ?? null });
        texts.push(column.name);
        positions.push(index);
        continue;
      }
      const compiled = compileExpression(column.computed.expr, column.computed.text, this.scope(input.fields));
      fields.push({ name: column.name, qualifier: alias, type: compiled.type, nullable: compiled.nullable });
      exprs.push(compiled);
      const { expr, text } = column.computed;
      texts.push(text.slice(expr.start, expr.end).replace(/\s+/g, ' '));
      positions.push(undefined);
    }
    return this.add(new ProjectNode(input, fields, mapKeys(input.uniqueKeys, positions), exprs, texts, positions));
  }

  /** Where a source table's metadata column takes its value; refuses keys and types not built. */
  private metadataOf(table: CreateTableStatement, connector: string, column: ColumnDef): ScanMetadata {
    const key = column.metadata!.key.toLowerCase();
    const known: Record<string, ScanMetadata> =
      connector === 'postgres-cdc'
        ? {
            database_name: { from: 'constant', key, value: table.options.get('database-name')?.value ?? '' },
            schema_name: { from: 'namespace', key },
            table_name: { from: 'name', key },
          }
        : { database_name: { from: 'namespace', key }, table_name: { from: 'name', key } };
    const found = known[key];
    if (found === undefined) {
      this.fail(
        column.metadata!,
        `'${column.metadata!.key}' is not a metadata key of a ${connector} table here`,
        `keys: ${Object.keys(known).join(', ')}` +
          (key === 'op_ts' || key === 'row_kind'
            ? ` (${key} is not built: the retraction of a row could not carry the value the row was stored with)`
            : ''),
      );
    }
    if (column.type.kind !== 'string' && column.type.kind !== 'varchar' && column.type.kind !== 'char') {
      this.fail(column, `the metadata column ${column.name} is ${formatDataType(column.type)}`, `declare it STRING`);
    }
    return found;
  }

  // ---- GROUP BY ----

  private collectAggregates(query: SelectQuery): Extract<ExpressionNode, { kind: 'call' }>[] {
    const found: Extract<ExpressionNode, { kind: 'call' }>[] = [];
    const visit = (node: ExpressionNode, inside: boolean) => {
      if (node.kind === 'call' && AGGREGATE_FUNCTIONS.has(node.name.toUpperCase())) {
        if (inside) this.fail(node, 'an aggregate cannot contain another aggregate');
        found.push(node);
        for (const arg of node.args) visit(arg, true);
        return;
      }
      for (const child of childrenOf(node)) visit(child, inside);
    };
    for (const item of query.items) if (item.kind === 'expr') visit(item.expr, false);
    if (query.having !== undefined) visit(query.having, false);
    for (const group of query.groupBy) {
      for (const agg of columnsAndCalls(group)) {
        if (agg.kind === 'call' && AGGREGATE_FUNCTIONS.has(agg.name.toUpperCase())) {
          this.fail(agg, 'GROUP BY cannot hold an aggregate');
        }
      }
    }
    if (query.where !== undefined) {
      for (const agg of columnsAndCalls(query.where)) {
        if (agg.kind === 'call' && AGGREGATE_FUNCTIONS.has(agg.name.toUpperCase())) {
          this.fail(agg, 'WHERE cannot hold an aggregate', 'write the condition in HAVING');
        }
      }
    }
    return found;
  }

  private aggregate(
    input: PlanNode,
    query: SelectQuery,
    calls: readonly Extract<ExpressionNode, { kind: 'call' }>[],
  ): { node: PlanNode; rewrite: (node: ExpressionNode) => ExpressionNode } {
    const keys = query.groupBy.map((g) => this.expression(g, input.fields));
    const keyFields: Field[] = query.groupBy.map((g, i) => {
      const through = this.passThrough(g, input.fields);
      const base = through === undefined ? undefined : input.fields[through];
      return {
        name: `${AGG_PREFIX}k${i}`,
        type: keys[i]!.type,
        nullable: keys[i]!.nullable,
        ...(base?.origin === undefined ? {} : { origin: base.origin }),
      };
    });
    const specs: AggregateSpec[] = [];
    const args: (Compiled | undefined)[] = [];
    const callIndex = new Map<string, number>();
    for (const call of calls) {
      const signature = this.signature(call, input.fields);
      if (callIndex.has(signature)) continue;
      const name = call.name.toUpperCase() as AggregateName;
      const star = call.args.length === 1 && call.args[0]!.kind === 'star';
      if (call.args.length !== 1) this.fail(call, `${name} takes one argument`);
      if (star && (name !== 'COUNT' || call.distinct === true)) {
        this.fail(
          call,
          `${name}(${call.distinct === true ? 'DISTINCT ' : ''}*) is not an aggregate`,
          `write ${name}(column)`,
        );
      }
      const arg = star ? undefined : this.expression(call.args[0]!, input.fields);
      const argType: DataType = arg?.type ?? { kind: 'int64' };
      const type = aggregateType(name, argType, !star);
      if (typeof type === 'string') this.fail(call, type);
      callIndex.set(signature, specs.length);
      specs.push({
        name,
        hasArgument: !star,
        distinct: call.distinct === true,
        argType,
        type,
        // A combining aggregate of eager aggregation names its partial result by the aggregate it stands for.
        text:
          call.args[0] !== undefined && isInternal(call.args[0])
            ? `${name.replace('$', '')}(${this.source(call)})`
            : this.source(call),
      });
      args.push(arg);
    }
    const aggFields: Field[] = specs.map((s, i) => ({
      name: `${AGG_PREFIX}a${i}`,
      type: s.type,
      nullable: s.name !== 'COUNT' && s.name !== '$SUM0',
    }));
    // The rows are unique on the group key; a key column of a table among the keys makes that table's other
    // columns redundant (they are functions of it), which lets `GROUP BY c.id, c.name` be keyed by c.id alone.
    let key = keyFields.map((_, i) => i);
    for (const { key: scanKey, all } of this.scanKeys.values()) {
      const origins = keyFields.map((f) => f.origin);
      if (scanKey.length === 0 || !scanKey.every((o) => origins.includes(o))) continue;
      key = key.filter((i) => {
        const origin = keyFields[i]!.origin;
        return origin === undefined || !all.includes(origin) || scanKey.includes(origin);
      });
    }
    const node = this.add(
      new AggregateNode(
        input,
        [...keyFields, ...aggFields],
        [key],
        keys,
        args,
        specs,
        query.groupBy.map((g) => this.source(g)),
      ),
    );
    const rewrite = (expr: ExpressionNode): ExpressionNode => {
      const groupIndex = query.groupBy.findIndex((g) => this.sameExpression(g, expr, input.fields));
      if (groupIndex >= 0) return internalColumn(`${AGG_PREFIX}k${groupIndex}`, expr);
      if (expr.kind === 'call' && AGGREGATE_FUNCTIONS.has(expr.name.toUpperCase())) {
        return internalColumn(`${AGG_PREFIX}a${callIndex.get(this.signature(expr, input.fields))!}`, expr);
      }
      if (expr.kind === 'column') {
        const resolved = resolveField(expr, input.fields);
        if (typeof resolved !== 'number') this.fail(expr, resolved.reason, resolved.hint);
        this.fail(
          expr,
          `${this.source(expr)} is neither in GROUP BY nor inside an aggregate`,
          `add it to GROUP BY, or aggregate it: MAX(${this.source(expr)})`,
        );
      }
      if (expr.kind === 'call') {
        // A unit word (DAY of TIMESTAMPADD(DAY, 1, MAX(ts))) is not a column.
        const words = BUILTIN_FUNCTIONS.get(expr.name.toUpperCase())?.words ?? [];
        return { ...expr, args: expr.args.map((a, i) => (words.includes(i) ? a : rewrite(a))) };
      }
      return mapChildren(expr, rewrite);
    };
    return { node, rewrite };
  }

  /** Identifies an aggregate call (`COUNT(o.id)` and `count(O.ID)` are one). */
  private signature(call: Extract<ExpressionNode, { kind: 'call' }>, fields: readonly Field[]): string {
    return `${call.name.toUpperCase()}${call.distinct === true ? ' DISTINCT' : ''}(${call.args.map((a) => this.canonical(a, fields)).join(',')})`;
  }

  private sameExpression(a: ExpressionNode, b: ExpressionNode, fields: readonly Field[]): boolean {
    return this.canonical(a, fields) === this.canonical(b, fields);
  }

  /** An expression's structure without positions, columns by resolved field (so `id` and `c.id` are equal). */
  private canonical(node: ExpressionNode, fields: readonly Field[]): string {
    return JSON.stringify(node, (key, value: unknown) => {
      if (key === 'start' || key === 'end') return undefined;
      if (value !== null && typeof value === 'object' && (value as ExpressionNode).kind === 'column') {
        const resolved = resolveField(value as ColumnNode, fields);
        return { column: typeof resolved === 'number' ? resolved : (value as ColumnNode).name };
      }
      if (key === 'name' && typeof value === 'string') return value.toUpperCase();
      return value;
    });
  }
}

const SOURCE_CONNECTORS = new Set(['mysql-cdc', 'postgres-cdc']);

const CONSTANT_CONTEXT = { row: [], op: 'read', image: 'after', tsMs: 0, nowMs: 0 } as const;

/** Sink connectors that write the changelog as change events on a log (the others keep the result as upserts). */
const LOG_CONNECTORS = new Set(['nats', 'kafka']);

/**
 * Leaves out the retraction before a group's new row (Flink's -U before +U) where nothing needs it: the result's
 * `root` is an aggregate, or projections of one, and every column of the sink's key (`sinkKey`, positions in the
 * root's row) is one of its group-key columns passed on unchanged. A group's old and new rows then have the same
 * sink key, and the sink, keeping the result by that key, replaces the one with the other; the retraction only cost
 * a delete event and the sink's buffer a delete it took back at once. Not for a log sink, whose readers get the
 * changelog as it is; and not across a filter (HAVING), which may drop the new row and so needs the retraction.
 */
function upsertUpdates(root: PlanNode, sinkKey: readonly number[]): void {
  const aggregate = aggregateKeyedBy(root, sinkKey);
  if (aggregate !== undefined) aggregate.retractsUpdates = false;
}

/**
 * An inner join's input `side` fed by an aggregate (through projections that pass its group key on) whose rows the
 * join keeps by that group key, with the join key one of its columns: the aggregate passes a group's update as the
 * new row alone, and the join finds the old row by its key (`JoinNode.takesUpdates`) — one change through the join
 * instead of a retraction and a row (a table aggregated below the join, src/sql/eager-aggregation.ts).
 */
function takeUpdates(join: JoinNode, side: number, input: PlanNode, keyFields: readonly number[], keys: number): void {
  const rowKey = input.uniqueKeys[0];
  // The join key a function of the row key, so an update's old row is stored under the same join key.
  if (rowKey === undefined || keyFields.length !== keys || !keyFields.every((i) => rowKey.includes(i))) return;
  const aggregate = aggregateKeyedBy(input, rowKey);
  if (aggregate === undefined) return;
  aggregate.retractsUpdates = false;
  join.takesUpdates(side);
}

/**
 * The aggregate `node` is, or passes on through projections, when the columns `key` (positions in `node`'s row) are
 * its group-key columns passed on unchanged (so a group's old and new rows have the same values there).
 */
function aggregateKeyedBy(node: PlanNode, key: readonly number[]): AggregateNode | undefined {
  while (node instanceof ProjectNode) {
    const passes = node.passes;
    const mapped = key.map((i) => passes[i]);
    if (!mapped.every((i) => i !== undefined)) return undefined;
    key = mapped;
    node = node.inputs[0]!;
  }
  return node instanceof AggregateNode && key.every((i) => i < node.groupKeyWidth) ? node : undefined;
}

export function connectorOf(table: CreateTableStatement): string {
  return (table.options.get('connector')?.value ?? '').toLowerCase();
}

/** A session window's gap and the fields of its partition (the legacy `GROUP BY SESSION(ts, gap), k`). */
interface SessionSpec {
  readonly fn: 'session';
  readonly gapMs: number;
  readonly partition: readonly number[];
}

/** `TIMESTAMPADD(MILLISECOND, ms, time)`, written by the planner at `at`. */
function plusMs(
  time: ExpressionNode,
  ms: number,
  at: { readonly start: number; readonly end: number },
): ExpressionNode {
  const unit: ColumnNode = { kind: 'column', name: 'MILLISECOND', quoted: false, start: at.start, end: at.start };
  return {
    kind: 'call',
    name: 'TIMESTAMPADD',
    args: [unit, literalNumber(ms, at), time],
    start: at.start,
    end: at.end,
  };
}

/** The scalar subqueries in `node`, added to `found` (not those inside them: each is planned with its own query). */
function scalarQueriesIn(node: ExpressionNode, found: ScalarQueryNode[] = []): ScalarQueryNode[] {
  if (node.kind === 'scalarQuery') found.push(node);
  else for (const child of childrenOf(node)) scalarQueriesIn(child, found);
  return found;
}

/** `inner`'s query without its common tables (see {@link withBody}). */
function bodyOf(inner: QueryExpr): SelectQuery | UnionQuery {
  return inner.kind === 'with' ? inner.body : inner;
}

/**
 * The columns of `node` that name an outer query's table: qualified by one of `outer`'s aliases that is not also one
 * of the subquery's own (`inner`), which hide it. Aliases lower-case.
 */
function outerColumns(node: ExpressionNode, outer: ReadonlySet<string>, inner: ReadonlySet<string>): ColumnNode[] {
  return columnsOf(node).filter((c) => {
    const qualifier = c.qualifier?.toLowerCase();
    return qualifier !== undefined && outer.has(qualifier) && !inner.has(qualifier);
  });
}

/** `query` in the place of `inner`'s SELECT: under its common tables when `inner` has them. */
function withBody(inner: QueryExpr, query: SelectQuery): QueryExpr {
  return inner.kind === 'with' ? { ...inner, body: query } : query;
}

/** ON for a subquery's ties to the outer row: each outer side equal to the subquery's column for it. */
function tiesOn(
  keys: readonly { readonly outer: ExpressionNode; readonly column: string }[],
  at: { readonly start: number; readonly end: number },
): ExpressionNode {
  return andOf(
    keys.map(({ outer, column }): ExpressionNode => ({
      kind: 'binary',
      op: '=',
      left: outer,
      right: internalColumn(column, at),
      ...at,
    })),
  );
}

/** A number the planner wrote (no text of its own: EXPLAIN names it by its column). */
function literalNumber(value: number, at: { readonly start: number }): ExpressionNode {
  return { kind: 'literal', type: 'number', value, text: String(value), start: at.start, end: at.start };
}

/**
 * The join key of a subquery of one row (a scalar subquery without ties to the outer row, NOT IN's counts): the item
 * `1 AS name` for the subquery, and `1 = name` for ON, which the join reads as the key `1` on the outer side.
 */
function constantKey(
  name: string,
  at: { readonly start: number; readonly end: number },
): { item: SelectItem; on: ExpressionNode } {
  const one = literalNumber(1, at);
  return {
    item: { kind: 'expr', expr: one, alias: name, start: at.start },
    on: { kind: 'binary', op: '=', left: one, right: internalColumn(name, at), ...at },
  };
}

function orOf(left: ExpressionNode, right: ExpressionNode): ExpressionNode {
  return { kind: 'binary', op: 'OR', left, right, start: left.start, end: right.end };
}

/** A column the planner named (a subquery's value or key, an aggregate): users cannot write these names. */
function isInternal(node: ExpressionNode): boolean {
  return node.kind === 'column' && node.name.startsWith(AGG_PREFIX);
}

function internalColumn(name: string, at: { readonly start: number; readonly end: number }): ColumnNode {
  return { kind: 'column', name, quoted: true, start: at.start, end: at.end };
}

/** Resolves a column reference among `fields`: its index, or why not. */
export function resolveField(
  node: ColumnNode,
  fields: readonly Field[],
): number | { readonly reason: string; readonly hint?: string } {
  if (node.name.startsWith(AGG_PREFIX)) {
    const index = fields.findIndex((f) => f.name === node.name);
    if (index >= 0) return index;
  }
  const name = node.name.toLowerCase();
  const qualifier = node.qualifier?.toLowerCase();
  const found: number[] = [];
  fields.forEach((f, i) => {
    if (f.name.toLowerCase() === name && (qualifier === undefined || f.qualifier?.toLowerCase() === qualifier))
      found.push(i);
  });
  const written = node.qualifier === undefined ? node.name : `${node.qualifier}.${node.name}`;
  if (found.length === 1) return found[0]!;
  if (found.length > 1) {
    const options = found.map((i) => `${fields[i]!.qualifier}.${fields[i]!.name}`);
    return { reason: `column ${written} is ambiguous`, hint: `qualify it: ${options.join(' or ')}` };
  }
  const visible = fields.filter((f) => !f.name.startsWith(AGG_PREFIX));
  if (visible.length < fields.length && fields.length > 0 && visible.length === 0) {
    return {
      reason: `${written} is neither in GROUP BY nor inside an aggregate`,
      hint: `add it to GROUP BY, or aggregate it: MAX(${written})`,
    };
  }
  const candidates = visible.map((f) => (f.qualifier === undefined ? f.name : `${f.qualifier}.${f.name}`));
  const near = nearest(written, candidates);
  return {
    reason: `unknown column ${written}`,
    hint: near === undefined ? `the columns are ${candidates.join(', ')}` : `did you mean ${near}?`,
  };
}

/**
 * The smallest bound `terms` (conditions joined with AND) put on a rank column: `rn <= N`, `rn < N`, `rn = N`,
 * `rn BETWEEN a AND N`, each also turned around, with whole numbers.
 */
function boundOf(terms: readonly ExpressionNode[], isRank: (node: ExpressionNode) => boolean): number | undefined {
  const whole = (node: ExpressionNode) =>
    node.kind === 'literal' && node.type === 'number' && Number.isInteger(node.value) && node.value >= 1
      ? node.value
      : undefined;
  const flipped: Record<string, string> = { '<': '>', '<=': '>=', '>': '<', '>=': '<=', '=': '=' };
  let limit: number | undefined;
  for (const term of terms) {
    let bound: number | undefined;
    if (term.kind === 'binary') {
      const [op, n] = isRank(term.left)
        ? [term.op, whole(term.right)]
        : isRank(term.right)
          ? [flipped[term.op], whole(term.left)]
          : [undefined, undefined];
      if (n !== undefined && (op === '<=' || op === '=')) bound = n;
      if (n !== undefined && op === '<' && n > 1) bound = n - 1;
    } else if (term.kind === 'between' && !term.negated && isRank(term.operand)) {
      bound = whole(term.high);
    }
    if (bound !== undefined) limit = Math.min(limit ?? bound, bound);
  }
  return limit;
}

/** The names FROM gives its tables and subqueries (lower case): what columns are qualified by. */
function aliasesOf(item: FromItem): Set<string> {
  switch (item.kind) {
    case 'join':
      return new Set([...aliasesOf(item.left), ...aliasesOf(item.right)]);
    case 'window':
      return new Set([(item.alias ?? item.input.alias).toLowerCase()]);
    default:
      return new Set([item.alias.toLowerCase()]);
  }
}

/** Unique keys after a projection: a key survives when each of its fields is passed through. */
function mapKeys(keys: readonly (readonly number[])[], positions: readonly (number | undefined)[]): number[][] {
  const out: number[][] = [];
  for (const key of keys) {
    const mapped = key.map((i) => positions.indexOf(i));
    if (mapped.every((i) => i >= 0)) out.push(mapped);
  }
  return minimalKeys(out);
}

/** Drops duplicate keys and keys that contain another key. */
function minimalKeys(keys: readonly (readonly number[])[]): number[][] {
  const sorted = keys.map((k) => [...new Set(k)].sort((a, b) => a - b)).sort((a, b) => a.length - b.length);
  const out: number[][] = [];
  for (const key of sorted) if (!out.some((k) => k.every((i) => key.includes(i)))) out.push(key);
  return out;
}

/** A duration as EXPLAIN writes it: `10 min`, `1 h`, `90 s`. */
function ms(value: number): string {
  for (const [unit, size] of [
    ['d', 86_400_000],
    ['h', 3_600_000],
    ['min', 60_000],
    ['s', 1000],
  ] as const) {
    if (value % size === 0) return `${value / size} ${unit}`;
  }
  return `${value} ms`;
}
