/**
 * The syntax tree of transform expressions (the SQL-ish language of Flink CDC `projection` and `filter`).
 * Nodes are plain immutable objects tagged by `kind`; `start`/`end` are offsets into the expression text
 * (`end` exclusive), so that every message can point at the exact place with a caret.
 */
export interface NodeSpan {
  readonly start: number;
  readonly end: number;
}

/** A column reference: `id`, `` `order` ``, or qualified `t.id`. Metadata columns are columns by name. */
export interface ColumnNode extends NodeSpan {
  readonly kind: 'column';
  readonly name: string;
  readonly qualifier?: string;
  /** Written in backquotes (so it may be a keyword or contain any character). */
  readonly quoted: boolean;
}

/** `*` (or Flink's escaped `\*`), optionally qualified: `t.*`. */
export interface StarNode extends NodeSpan {
  readonly kind: 'star';
  readonly qualifier?: string;
}

/**
 * A constant. Numbers keep their exact source `text` (a decimal such as `12.50` or a 64-bit integer must not
 * go through a JavaScript number); `value` is the convenient, possibly rounded, form.
 */
export type LiteralNode = NodeSpan & { readonly kind: 'literal'; readonly text: string } & (
    | { readonly type: 'string'; readonly value: string }
    | { readonly type: 'number'; readonly value: number }
    | { readonly type: 'boolean'; readonly value: boolean }
    | { readonly type: 'null'; readonly value: null }
  );

/**
 * A function call: `UPPER(name)`, `COUNT(*)`. `name` is as written. The niladic functions of SQL
 * (`CURRENT_DATE`, `LOCALTIMESTAMP`, …) written without parentheses are calls with no arguments.
 */
export interface CallNode extends NodeSpan {
  readonly kind: 'call';
  readonly name: string;
  readonly args: readonly ExpressionNode[];
  /** `COUNT(DISTINCT x)`: set only on aggregate calls of streaming SQL. */
  readonly distinct?: boolean;
}

export type UnaryOperator = 'NOT' | '-' | '+';

export interface UnaryNode extends NodeSpan {
  readonly kind: 'unary';
  readonly op: UnaryOperator;
  readonly operand: ExpressionNode;
}

export type BinaryOperator =
  'OR' | 'AND' | '=' | '<>' | '<' | '<=' | '>' | '>=' | 'LIKE' | 'NOT LIKE' | '+' | '-' | '||' | '*' | '/' | '%';

/** `!=` is read as `<>`. */
export interface BinaryNode extends NodeSpan {
  readonly kind: 'binary';
  readonly op: BinaryOperator;
  readonly left: ExpressionNode;
  readonly right: ExpressionNode;
}

/** `x IS NULL` / `x IS NOT NULL`. */
export interface IsNullNode extends NodeSpan {
  readonly kind: 'isNull';
  readonly operand: ExpressionNode;
  readonly negated: boolean;
}

/** `x IS [NOT] TRUE` / `x IS [NOT] FALSE`: never NULL. */
export interface IsTruthNode extends NodeSpan {
  readonly kind: 'isTruth';
  readonly operand: ExpressionNode;
  readonly value: boolean;
  readonly negated: boolean;
}

/** `x [NOT] BETWEEN low AND high`. */
export interface BetweenNode extends NodeSpan {
  readonly kind: 'between';
  readonly operand: ExpressionNode;
  readonly low: ExpressionNode;
  readonly high: ExpressionNode;
  readonly negated: boolean;
}

/** `x [NOT] IN (a, b, …)`. */
export interface InNode extends NodeSpan {
  readonly kind: 'in';
  readonly operand: ExpressionNode;
  readonly list: readonly ExpressionNode[];
  readonly negated: boolean;
}

/**
 * `x [NOT] IN (SELECT …)`: a subquery's values — streaming SQL's semi-join, read in a query's WHERE (the SQL parser
 * gives the query, of its own syntax tree; the expression engine never evaluates it).
 */
export interface InQueryNode extends NodeSpan {
  readonly kind: 'inQuery';
  readonly operand: ExpressionNode;
  readonly query: unknown;
  readonly negated: boolean;
}

/** `EXISTS (SELECT …)`: whether a subquery has rows — streaming SQL's semi-join, read in a query's WHERE. */
export interface ExistsNode extends NodeSpan {
  readonly kind: 'exists';
  readonly query: unknown;
}

/**
 * `(SELECT AVG(x) FROM t [WHERE t.k = a.k])`: a subquery's one value — streaming SQL plans it as a join with the
 * subquery's result, read in a query's WHERE and select list (the expression engine never evaluates it).
 */
export interface ScalarQueryNode extends NodeSpan {
  readonly kind: 'scalarQuery';
  readonly query: unknown;
}

/**
 * `INTERVAL '10' MINUTES`: a duration of a fixed length (milliseconds), read by streaming SQL's group windows
 * (`GROUP BY TUMBLE(ts, INTERVAL '1' HOUR)`); no expression evaluates it.
 */
export interface IntervalNode extends NodeSpan {
  readonly kind: 'interval';
  readonly ms: number;
}

/** `CAST(x AS type)`; `type` is the type's text as written (`DECIMAL(10, 2)`), interpreted by a later stage. */
export interface CastNode extends NodeSpan {
  readonly kind: 'cast';
  readonly operand: ExpressionNode;
  readonly type: string;
}

export interface CaseWhen {
  readonly when: ExpressionNode;
  readonly then: ExpressionNode;
}

/** `CASE [operand] WHEN … THEN … [ELSE …] END`. */
export interface CaseNode extends NodeSpan {
  readonly kind: 'case';
  readonly operand?: ExpressionNode;
  readonly whens: readonly CaseWhen[];
  readonly else?: ExpressionNode;
}

/** `expr AS name` (or `expr name`): only at the top of a projection item. */
export interface AliasNode extends NodeSpan {
  readonly kind: 'alias';
  readonly expr: ExpressionNode;
  readonly name: string;
}

export type ExpressionNode =
  | ColumnNode
  | StarNode
  | LiteralNode
  | CallNode
  | UnaryNode
  | BinaryNode
  | IsNullNode
  | IsTruthNode
  | BetweenNode
  | InNode
  | InQueryNode
  | ExistsNode
  | ScalarQueryNode
  | IntervalNode
  | CastNode
  | CaseNode;

/** One item of a projection list: an expression, possibly named with `AS`. */
export type ProjectionItem = ExpressionNode | AliasNode;
