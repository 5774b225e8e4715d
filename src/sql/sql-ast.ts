import type { DataType } from '../core/data-type.js';
import type { ExpressionNode } from '../transform/expression/expression-node.js';

/**
 * The syntax tree of the streaming SQL dialect (Flink SQL's). Every node keeps `start`, an offset into the
 * script, so that the planner's messages point at the place (line and column).
 */
export type Statement =
  | CreateTableStatement
  | SetStatement
  | InsertStatement
  | QueryStatement
  | ExplainStatement
  | ShowTablesStatement
  | DescribeStatement;

export interface ColumnDef {
  readonly name: string;
  readonly type: DataType;
  /** The type as written (`DECIMAL(10, 2)`), for DESCRIBE. */
  readonly typeText: string;
  readonly nullable: boolean;
  readonly start: number;
}

/** `CREATE [TEMPORARY] TABLE [IF NOT EXISTS] name (cols, PRIMARY KEY (...) NOT ENFORCED) WITH (...)`. */
export interface CreateTableStatement {
  readonly kind: 'createTable';
  readonly name: string;
  readonly columns: readonly ColumnDef[];
  readonly primaryKey: readonly string[];
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
  readonly query: SelectQuery;
  readonly start: number;
}

/** A query on its own: a live SELECT (the interactive client's). */
export interface QueryStatement {
  readonly kind: 'query';
  readonly query: SelectQuery;
  readonly start: number;
}

/** `EXPLAIN [PLAN FOR] statement`. */
export interface ExplainStatement {
  readonly kind: 'explain';
  readonly statement: InsertStatement | QueryStatement;
  readonly start: number;
}

export interface ShowTablesStatement {
  readonly kind: 'showTables';
  readonly start: number;
}

export interface DescribeStatement {
  readonly kind: 'describe';
  readonly table: string;
  readonly start: number;
}

export interface SelectQuery {
  readonly items: readonly SelectItem[];
  readonly from: FromItem;
  readonly where?: ExpressionNode;
  readonly groupBy: readonly ExpressionNode[];
  readonly having?: ExpressionNode;
  readonly start: number;
}

export type SelectItem =
  | { readonly kind: 'star'; readonly qualifier?: string; readonly start: number }
  | { readonly kind: 'expr'; readonly expr: ExpressionNode; readonly alias?: string; readonly start: number };

export type JoinType = 'inner' | 'left' | 'right' | 'full';

export type FromItem =
  | { readonly kind: 'table'; readonly name: string; readonly alias: string; readonly start: number }
  | {
      readonly kind: 'join';
      readonly type: JoinType;
      readonly left: FromItem;
      readonly right: FromItem;
      readonly on: ExpressionNode;
      readonly start: number;
    };
