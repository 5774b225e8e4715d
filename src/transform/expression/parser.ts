import { ExpressionError } from './expression-error.js';
import type {
  AliasNode,
  BinaryOperator,
  CaseWhen,
  ExpressionNode,
  LiteralNode,
  ProjectionItem,
} from './expression-node.js';
import { describeToken, tokenize, type Token } from './tokenizer.js';

/**
 * Binding powers, loosest first. Comparisons (and IS / IN / BETWEEN / LIKE) bind tighter than NOT, which
 * binds tighter than AND, then OR; `||` sits with + and -, as in Calcite.
 */
const BP = { or: 1, and: 2, not: 3, compare: 4, additive: 5, multiplicative: 6, unary: 7 } as const;

const BINARY: Readonly<Record<string, { op: BinaryOperator; bp: number }>> = {
  OR: { op: 'OR', bp: BP.or },
  AND: { op: 'AND', bp: BP.and },
  '=': { op: '=', bp: BP.compare },
  '<>': { op: '<>', bp: BP.compare },
  '<': { op: '<', bp: BP.compare },
  '<=': { op: '<=', bp: BP.compare },
  '>': { op: '>', bp: BP.compare },
  '>=': { op: '>=', bp: BP.compare },
  '+': { op: '+', bp: BP.additive },
  '-': { op: '-', bp: BP.additive },
  '||': { op: '||', bp: BP.additive },
  '*': { op: '*', bp: BP.multiplicative },
  '/': { op: '/', bp: BP.multiplicative },
  '%': { op: '%', bp: BP.multiplicative },
};

/**
 * SQL's niladic functions: written without parentheses they are the function, not a column of that name
 * (a column so named is written in backquotes).
 */
export const NILADIC: ReadonlySet<string> = new Set([
  'CURRENT_DATE',
  'CURRENT_TIME',
  'CURRENT_TIMESTAMP',
  'LOCALTIME',
  'LOCALTIMESTAMP',
]);

/** Parses one expression (a `filter`, or a projection item without its alias). Throws {@link ExpressionError}. */
export function parseExpression(text: string): ExpressionNode {
  const parser = new Parser(text);
  const node = parser.expression(0);
  parser.expectEnd();
  return node;
}

/**
 * Parses a projection: comma-separated items, each an expression optionally named by `AS name` (or by a
 * bare name after it, as SQL allows). Throws {@link ExpressionError}.
 */
export function parseProjectionItems(text: string): ProjectionItem[] {
  const parser = new Parser(text);
  if (parser.peek().type === 'end')
    throw new ExpressionError(text, 0, 'the projection is empty', 'write `\\*` for all columns');
  const items: ProjectionItem[] = [parser.projectionItem()];
  while (parser.acceptOperator(',')) items.push(parser.projectionItem());
  parser.expectEnd(true);
  return items;
}

/**
 * Parses one expression out of a longer statement (streaming SQL): `tokens` are the statement's, with offsets
 * into `text`, and parsing starts at `tokens[index]` and stops before the first token that cannot continue the
 * expression (a comma, `FROM`, `)` …). Returns the node and the index of that token. Throws {@link ExpressionError}
 * with the offset into `text`.
 */
/** What a caller parses itself inside an expression: the query of `IN (SELECT …)`, `EXISTS (…)` and `(SELECT …)` (from the token at `index`). */
export interface ExpressionHooks {
  subquery?(index: number): { query: unknown; next: number };
}

export function parseExpressionAt(
  text: string,
  tokens: readonly Token[],
  index: number,
  hooks?: ExpressionHooks,
): { node: ExpressionNode; next: number } {
  const parser = new Parser(text, tokens, index, hooks);
  const node = parser.expression(0);
  return { node, next: parser.position };
}

/** The units of an interval of a fixed length, in milliseconds. */
const INTERVAL_UNITS: Readonly<Record<string, number>> = {
  MILLISECOND: 1,
  SECOND: 1000,
  MINUTE: 60_000,
  HOUR: 3_600_000,
  DAY: 86_400_000,
};

/**
 * The milliseconds of an interval unit (`MINUTE` or `MINUTES`: SECOND, MINUTE, HOUR, DAY, MILLISECOND), undefined for
 * any other token (months and years have no fixed length). Group windows here, window TVFs in the SQL parser.
 */
export function intervalUnitMs(token: Token): number | undefined {
  if (token.type !== 'identifier' && token.type !== 'keyword') return undefined;
  const unit = token.value.toUpperCase();
  return INTERVAL_UNITS[unit.endsWith('S') ? unit.slice(0, -1) : unit];
}

class Parser {
  private readonly tokens: readonly Token[];
  private index: number;

  constructor(
    private readonly text: string,
    tokens?: readonly Token[],
    index = 0,
    private readonly hooks?: ExpressionHooks,
  ) {
    this.tokens = tokens ?? tokenize(text);
    this.index = index;
  }

  get position(): number {
    return this.index;
  }

  peek(ahead = 0): Token {
    return this.tokens[Math.min(this.index + ahead, this.tokens.length - 1)] as Token;
  }

  private next(): Token {
    const token = this.peek();
    if (token.type !== 'end') this.index++;
    return token;
  }

  acceptOperator(value: string): Token | undefined {
    const token = this.peek();
    return token.type === 'operator' && token.value === value ? this.next() : undefined;
  }

  private acceptKeyword(value: string): Token | undefined {
    const token = this.peek();
    return token.type === 'keyword' && token.value === value ? this.next() : undefined;
  }

  private expectOperator(value: string, context: string): Token {
    return this.acceptOperator(value) ?? this.fail(this.peek(), `expected "${value}" ${context}`);
  }

  private expectKeyword(value: string, context: string): Token {
    return this.acceptKeyword(value) ?? this.fail(this.peek(), `expected ${value} ${context}`);
  }

  /** `items`: a projection, where a comma could also have continued the text. */
  expectEnd(items = false): void {
    const token = this.peek();
    if (token.type !== 'end') {
      this.fail(
        token,
        `unexpected ${describeToken(token)}`,
        items ? 'separate projection items with commas' : undefined,
      );
    }
  }

  /** Throws at `token`; a reason that starts with "expected" gets ", found …" appended. */
  private fail(token: Token, reason: string, hint?: string): never {
    const message = reason.startsWith('expected') ? `${reason}, found ${describeToken(token)}` : reason;
    throw new ExpressionError(this.text, token.start, message, hint);
  }

  projectionItem(): ProjectionItem {
    const expr = this.expression(0);
    if (this.acceptKeyword('AS')) {
      return this.alias(expr, this.name('after AS'));
    }
    const token = this.peek();
    if (token.type === 'identifier' || token.type === 'quoted') {
      this.next();
      return this.alias(expr, token);
    }
    return expr;
  }

  private alias(expr: ExpressionNode, name: Token): AliasNode {
    return { kind: 'alias', expr, name: name.value, start: expr.start, end: name.end };
  }

  private name(context: string): Token {
    const token = this.peek();
    if (token.type === 'identifier' || token.type === 'quoted') return this.next();
    if (token.type === 'keyword') {
      this.fail(token, `${token.value} is a reserved word`, `write it in backquotes: \`${token.value.toLowerCase()}\``);
    }
    return this.fail(token, `expected a name ${context}`);
  }

  expression(minBp: number): ExpressionNode {
    let left = this.prefix();
    for (;;) {
      const token = this.peek();
      const start = left.start;
      if (token.type === 'keyword' && token.value === 'IS' && BP.compare > minBp) {
        this.next();
        const negated = this.acceptKeyword('NOT') !== undefined;
        const truth = this.acceptKeyword('TRUE') ?? this.acceptKeyword('FALSE');
        if (truth !== undefined) {
          left = { kind: 'isTruth', operand: left, value: truth.value === 'TRUE', negated, start, end: truth.end };
          continue;
        }
        const end = this.expectKeyword('NULL', negated ? 'after IS NOT' : 'after IS').end;
        left = { kind: 'isNull', operand: left, negated, start, end };
        continue;
      }
      const negated = token.type === 'keyword' && token.value === 'NOT';
      const word = negated ? this.peek(1) : token;
      if (word.type === 'keyword' && ['IN', 'BETWEEN', 'LIKE'].includes(word.value) && BP.compare > minBp) {
        if (negated) this.next();
        this.next();
        if (word.value === 'IN') {
          this.expectOperator('(', 'after IN');
          const sub = this.subqueryHere();
          if (sub !== undefined) {
            left = { kind: 'inQuery', operand: left, query: sub.query, negated, start, end: sub.end };
            continue;
          }
          const list = this.list(')');
          const end = this.expectOperator(')', 'to close the IN list').end;
          left = { kind: 'in', operand: left, list, negated, start, end };
        } else if (word.value === 'BETWEEN') {
          const low = this.expression(BP.compare);
          this.expectKeyword('AND', 'between the bounds of BETWEEN');
          const high = this.expression(BP.compare);
          left = { kind: 'between', operand: left, low, high, negated, start, end: high.end };
        } else {
          const right = this.expression(BP.compare);
          left = { kind: 'binary', op: negated ? 'NOT LIKE' : 'LIKE', left, right, start, end: right.end };
        }
        continue;
      }
      const binary = token.type === 'operator' || token.type === 'keyword' ? BINARY[token.value] : undefined;
      if (binary === undefined || binary.bp <= minBp) return left;
      this.next();
      const right = this.expression(binary.bp);
      left = { kind: 'binary', op: binary.op, left, right, start, end: right.end };
    }
  }

  /** After INTERVAL: `'n' UNIT` of a fixed length (SECOND, MINUTE, HOUR, DAY or MILLISECOND, plural or not). */
  private interval(at: Token): ExpressionNode {
    const amount = this.next();
    const unitToken = this.peek();
    const unit = unitToken.value.toUpperCase();
    const unitMs = intervalUnitMs(unitToken);
    if (unitMs === undefined) {
      this.fail(
        unitToken,
        `expected SECOND, MINUTE, HOUR or DAY after INTERVAL '${amount.value}'`,
        'an interval here has a fixed length (months and years have none)',
      );
    }
    const end = this.next().end;
    const ms = Number(amount.value.trim()) * unitMs;
    if (amount.value.trim() === '' || !Number.isInteger(ms) || ms <= 0) {
      this.fail(
        amount,
        `INTERVAL '${amount.value}' ${unit} is not a positive whole number of milliseconds`,
        "INTERVAL '10' MINUTES",
      );
    }
    return { kind: 'interval', ms, start: at.start, end };
  }

  /** Whether the token `offset` ahead opens a query (`SELECT`, `WITH`) and the caller parses subqueries. */
  private queryAhead(offset: number): boolean {
    const first = this.peek(offset);
    return (
      this.hooks?.subquery !== undefined &&
      (first.type === 'keyword' || first.type === 'identifier') &&
      ['SELECT', 'WITH'].includes(first.value.toUpperCase())
    );
  }

  /** Whether `(SELECT` follows (EXISTS's subquery) and the caller parses subqueries. */
  private subqueryAhead(): boolean {
    const open = this.peek();
    return open.type === 'operator' && open.value === '(' && this.queryAhead(1);
  }

  /** After a `(`: the subquery that opens here and the end of its `)`, parsed by the caller (undefined: none). */
  private subqueryHere(): { query: unknown; end: number } | undefined {
    if (!this.queryAhead(0)) return undefined;
    const { query, next } = this.hooks!.subquery!(this.index);
    this.index = next;
    return { query, end: this.expectOperator(')', 'to close the subquery').end };
  }

  private prefix(): ExpressionNode {
    const token = this.next();
    const { start, end } = token;
    if ((token.type === 'identifier' || token.type === 'keyword') && token.value.toUpperCase() === 'EXISTS') {
      if (this.subqueryAhead()) {
        this.next();
        const { query, end } = this.subqueryHere()!;
        return { kind: 'exists', query, start, end };
      }
    }
    switch (token.type) {
      case 'number':
        return { kind: 'literal', type: 'number', value: Number(token.value), text: token.value, start, end };
      case 'string':
        return { kind: 'literal', type: 'string', value: token.value, text: this.text.slice(start, end), start, end };
      case 'identifier':
        if (this.peek().type === 'operator' && this.peek().value === '(') return this.call(token);
        if (token.value.toUpperCase() === 'INTERVAL' && this.peek().type === 'string') return this.interval(token);
        if (NILADIC.has(token.value.toUpperCase()) && !(this.peek().type === 'operator' && this.peek().value === '.')) {
          return { kind: 'call', name: token.value, args: [], start, end };
        }
        return this.columnOrStar(token);
      case 'quoted':
        return this.columnOrStar(token);
      case 'keyword':
        return this.keywordPrefix(token);
      case 'operator':
        if (token.value === '*') return { kind: 'star', start, end };
        if (token.value === '(') {
          const sub = this.subqueryHere();
          if (sub !== undefined) return { kind: 'scalarQuery', query: sub.query, start, end: sub.end };
          const inner = this.expression(0);
          this.expectOperator(')', 'to close "("');
          return inner;
        }
        if (token.value === '-' || token.value === '+') {
          const operand = this.expression(BP.unary);
          return { kind: 'unary', op: token.value, operand, start, end: operand.end };
        }
        return this.fail(token, 'expected an expression');
      case 'end':
        return this.fail(token, 'expected an expression');
    }
  }

  private keywordPrefix(token: Token): ExpressionNode {
    const { start } = token;
    switch (token.value) {
      case 'NULL':
        return literal(this.text, token, 'null', null);
      case 'TRUE':
      case 'FALSE':
        return literal(this.text, token, 'boolean', token.value === 'TRUE');
      case 'NOT': {
        const operand = this.expression(BP.not);
        return { kind: 'unary', op: 'NOT', operand, start, end: operand.end };
      }
      case 'CASE':
        return this.caseExpression(token);
      case 'CAST': {
        this.expectOperator('(', 'after CAST');
        const operand = this.expression(0);
        this.expectKeyword('AS', 'in CAST(value AS type)');
        const typeStart = this.peek();
        if (typeStart.type === 'end' || (typeStart.type === 'operator' && typeStart.value === ')')) {
          this.fail(typeStart, 'expected a type name after AS');
        }
        let depth = 0;
        while (!(depth === 0 && this.peek().type === 'operator' && this.peek().value === ')')) {
          const t = this.next();
          if (t.type === 'end') this.fail(t, 'expected ")" to close CAST(');
          if (t.type === 'operator' && t.value === '(') depth++;
          if (t.type === 'operator' && t.value === ')') depth--;
        }
        const close = this.next();
        return {
          kind: 'cast',
          operand,
          type: this.text.slice(typeStart.start, close.start).trim(),
          start,
          end: close.end,
        };
      }
      default:
        return this.fail(
          token,
          `${token.value} is a reserved word`,
          `to name a column ${token.value.toLowerCase()}, write it in backquotes: \`${token.value.toLowerCase()}\``,
        );
    }
  }

  private caseExpression(token: Token): ExpressionNode {
    const operand = this.peek().type === 'keyword' && this.peek().value === 'WHEN' ? undefined : this.expression(0);
    const whens: CaseWhen[] = [];
    while (this.acceptKeyword('WHEN')) {
      const when = this.expression(0);
      this.expectKeyword('THEN', 'after CASE … WHEN condition');
      whens.push({ when, then: this.expression(0) });
    }
    if (whens.length === 0) this.fail(this.peek(), 'expected WHEN after CASE');
    const otherwise = this.acceptKeyword('ELSE') ? this.expression(0) : undefined;
    const end = this.expectKeyword('END', 'to close CASE').end;
    return {
      kind: 'case',
      ...(operand === undefined ? {} : { operand }),
      whens,
      ...(otherwise === undefined ? {} : { else: otherwise }),
      start: token.start,
      end,
    };
  }

  private call(name: Token): ExpressionNode {
    this.next(); // (
    const upper = name.value.toUpperCase();
    if (upper === 'SUBSTRING' || upper === 'SUBSTR') return this.substring(name);
    // `COUNT(DISTINCT x)`: an aggregate's modifier (streaming SQL); the compiler of transforms rejects aggregates.
    const distinct = this.peek().type === 'identifier' && this.peek().value.toUpperCase() === 'DISTINCT';
    if (distinct) this.next();
    const args = this.list(')');
    const end = this.expectOperator(')', `to close ${name.value}(`).end;
    return { kind: 'call', name: name.value, args, start: name.start, end, ...(distinct ? { distinct } : {}) };
  }

  /** `SUBSTRING(s FROM start [FOR length])`, or the comma form `SUBSTRING(s, start [, length])`. */
  private substring(name: Token): ExpressionNode {
    const args = [this.expression(0)];
    if (this.peek().type === 'identifier' && this.peek().value.toUpperCase() === 'FROM') {
      this.next();
      args.push(this.expression(0));
      if (this.peek().type === 'identifier' && this.peek().value.toUpperCase() === 'FOR') {
        this.next();
        args.push(this.expression(0));
      }
    } else {
      while (this.acceptOperator(',')) args.push(this.expression(0));
    }
    const end = this.expectOperator(')', `to close ${name.value}(`).end;
    return { kind: 'call', name: name.value, args, start: name.start, end };
  }

  private list(close: string): ExpressionNode[] {
    const items: ExpressionNode[] = [];
    if (this.peek().type === 'operator' && this.peek().value === close) return items;
    do items.push(this.expression(0));
    while (this.acceptOperator(','));
    return items;
  }

  private columnOrStar(token: Token): ExpressionNode {
    if (this.acceptOperator('.')) {
      if (this.peek().type === 'operator' && this.peek().value === '*') {
        return { kind: 'star', qualifier: token.value, start: token.start, end: this.next().end };
      }
      const column = this.name('after "."');
      return {
        kind: 'column',
        name: column.value,
        qualifier: token.value,
        quoted: column.type === 'quoted',
        start: token.start,
        end: column.end,
      };
    }
    return { kind: 'column', name: token.value, quoted: token.type === 'quoted', start: token.start, end: token.end };
  }
}

function literal(text: string, token: Token, type: 'null', value: null): LiteralNode;
function literal(text: string, token: Token, type: 'boolean', value: boolean): LiteralNode;
function literal(text: string, token: Token, type: 'null' | 'boolean', value: boolean | null): LiteralNode {
  const base = {
    kind: 'literal',
    text: text.slice(token.start, token.end),
    start: token.start,
    end: token.end,
  } as const;
  return value === null ? { ...base, type: 'null', value: null } : { ...base, type: 'boolean', value: value === true };
}
