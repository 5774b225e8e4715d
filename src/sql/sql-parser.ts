import type { ExpressionNode } from '../transform/expression/expression-node.js';
import { intervalUnitMs, parseExpressionAt } from '../transform/expression/parser.js';
import { parseSqlType } from '../transform/expression/sql-type.js';
import { describeToken, type Token } from '../transform/expression/tokenizer.js';
import type {
  ColumnDef,
  CreateTableStatement,
  CreateTableAsStatement,
  CreateViewStatement,
  FromItem,
  InsertStatement,
  OrderItem,
  RankFunction,
  RowNumberItem,
  JoinType,
  OptionEntry,
  QualifiedName,
  QueryExpr,
  QueryStatement,
  SelectItem,
  SelectQuery,
  Statement,
  StatementSetStatement,
  SyncStatement,
  CreateCatalogStatement,
  CommonTable,
  UnionQuery,
  WindowTable,
} from './sql-ast.js';
import { asSqlError, SqlError } from './sql-error.js';
import { tokenizeSql } from './sql-lexer.js';

/**
 * Parses a script of `;`-separated statements (recursive descent; expressions by the expression engine's Pratt
 * parser, on the same tokens). Throws {@link SqlError} (SQL_INVALID) with the line and column of the first
 * mistake and what to write instead.
 */
export function parseSqlScript(text: string): Statement[] {
  try {
    return new SqlParser(text).script();
  } catch (error) {
    throw asSqlError(error, text);
  }
}

/** Ranking functions, `… OVER (…)`: a Top-N. */
const RANKING_FUNCTIONS = new Set(['ROW_NUMBER', 'RANK', 'DENSE_RANK']);

/** Words that end a select item, a table reference or an expression where an alias could otherwise be read. */
const CLAUSE_WORDS = new Set([
  'FROM',
  'WHERE',
  'GROUP',
  'HAVING',
  'JOIN',
  'INNER',
  'LEFT',
  'RIGHT',
  'FULL',
  'CROSS',
  'ON',
  'UNION',
  'INTERSECT',
  'EXCEPT',
  'ORDER',
  'LIMIT',
  'WINDOW',
  'OUTER',
]);

class SqlParser {
  private readonly tokens: Token[];
  private index = 0;

  constructor(private readonly text: string) {
    this.tokens = tokenizeSql(text);
  }

  script(): Statement[] {
    const statements: Statement[] = [];
    for (;;) {
      while (this.acceptOperator(';'));
      if (this.peek().type === 'end') return statements;
      statements.push(this.statement());
      const next = this.peek();
      if (next.type !== 'end' && !this.acceptOperator(';')) {
        this.fail(next, `unexpected ${describeToken(next)}`, 'end each statement with ;');
      }
    }
  }

  // ---- tokens ----

  private peek(ahead = 0): Token {
    return this.tokens[Math.min(this.index + ahead, this.tokens.length - 1)]!;
  }

  private next(): Token {
    const token = this.peek();
    if (token.type !== 'end') this.index++;
    return token;
  }

  private isWord(word: string, ahead = 0): boolean {
    const token = this.peek(ahead);
    return (token.type === 'identifier' || token.type === 'keyword') && token.value.toUpperCase() === word;
  }

  private acceptWord(word: string): Token | undefined {
    return this.isWord(word) ? this.next() : undefined;
  }

  private expectWord(word: string, context: string, hint?: string): Token {
    return this.acceptWord(word) ?? this.fail(this.peek(), `expected ${word} ${context}`, hint);
  }

  private acceptOperator(value: string): Token | undefined {
    const token = this.peek();
    return token.type === 'operator' && token.value === value ? this.next() : undefined;
  }

  private expectOperator(value: string, context: string): Token {
    return this.acceptOperator(value) ?? this.fail(this.peek(), `expected "${value}" ${context}`);
  }

  private fail(token: Token, reason: string, hint?: string): never {
    const message = reason.startsWith('expected') ? `${reason}, found ${describeToken(token)}` : reason;
    throw new SqlError(this.text, token.start, message, hint);
  }

  private name(context: string): Token {
    const token = this.peek();
    if (token.type === 'identifier' || token.type === 'quoted') return this.next();
    if (token.type === 'keyword') {
      this.fail(token, `${token.value} is a reserved word`, `write it in backquotes: \`${token.value.toLowerCase()}\``);
    }
    return this.fail(token, `expected a name ${context}`);
  }

  /** `a`, `db.a`, `` `my-db`.a ``: the parts joined with dots. */
  private qualifiedName(context: string): { name: string; start: number } {
    const { parts, start } = this.qualifiedParts(context);
    return { name: parts.join('.'), start };
  }

  private qualifiedParts(context: string): QualifiedName {
    const first = this.name(context);
    const parts = [first.value];
    while (this.acceptOperator('.')) parts.push(this.name('after "."').value);
    return { parts, start: first.start };
  }

  private ifNotExists(): boolean {
    if (!this.acceptWord('IF')) return false;
    this.expectWord('NOT', 'in IF NOT EXISTS');
    this.expectWord('EXISTS', 'in IF NOT EXISTS');
    return true;
  }

  /** A `/*+ OPTIONS(…) *\/` hint before the next token: the lexer skips comments, so say that it is not read. */
  private refuseHint(): void {
    const previous = this.tokens[this.index - 1];
    const gap = this.text.slice(previous === undefined ? 0 : previous.end, this.peek().start);
    const hint = gap.indexOf('/*+');
    if (hint >= 0) {
      throw new SqlError(
        this.text,
        (previous?.end ?? 0) + hint,
        'table hints (/*+ OPTIONS(…) */) are not read here',
        "put the source's options into its CREATE CATALOG … WITH (…)",
      );
    }
  }

  private string(context: string): Token {
    const token = this.peek();
    if (token.type === 'string') return this.next();
    return this.fail(token, `expected a 'quoted string' ${context}`);
  }

  private expression(): ExpressionNode {
    const { node, next } = parseExpressionAt(this.text, this.tokens, this.index, {
      subquery: (index) => {
        this.index = index;
        const query = this.queryExpr();
        return { query, next: this.index };
      },
    });
    this.index = next;
    return node;
  }

  // ---- statements ----

  private statement(): Statement {
    const token = this.peek();
    const word = token.type === 'identifier' || token.type === 'keyword' ? token.value.toUpperCase() : '';
    switch (word) {
      case 'CREATE':
        return this.create();
      case 'SET':
        return this.set();
      case 'INSERT':
        return this.insert();
      case 'SELECT':
      case 'WITH':
        return this.queryStatement();
      case 'EXPLAIN': {
        this.next();
        if (this.acceptWord('PLAN')) this.expectWord('FOR', 'after EXPLAIN PLAN');
        const inner = this.isWord('INSERT')
          ? this.insert()
          : this.isWord('BEGIN') || this.isWord('EXECUTE') || this.isWord('STATEMENT')
            ? this.statementSet()
            : this.queryStatement();
        return { kind: 'explain', statement: inner, start: token.start };
      }
      case 'SHOW': {
        this.next();
        if (this.acceptWord('JOBS')) return { kind: 'showJobs', start: token.start };
        const views = this.acceptWord('VIEWS') !== undefined;
        if (!views)
          this.expectWord(
            'TABLES',
            'after SHOW',
            'SHOW TABLES lists the tables and views, SHOW VIEWS the views, SHOW JOBS the jobs',
          );
        return { kind: 'showTables', views, start: token.start };
      }
      case 'DESCRIBE':
      case 'DESC': {
        this.next();
        return { kind: 'describe', table: this.qualifiedName('after DESCRIBE').name, start: token.start };
      }
      case 'BEGIN':
      case 'EXECUTE':
        return this.statementSet();
      case 'STOP': {
        this.next();
        this.expectWord('JOB', 'after STOP');
        const id = this.string("as the job's id: STOP JOB '<id>' (SHOW JOBS lists them)");
        if (this.isWord('WITH'))
          this.fail(
            this.peek(),
            'STOP JOB … WITH SAVEPOINT is not built yet',
            "write STOP JOB '<id>': the job takes a final checkpoint",
          );
        return { kind: 'stopJob', id: id.value, start: token.start };
      }
      default:
        return this.fail(
          token,
          'expected a statement',
          'statements: CREATE TABLE, CREATE VIEW, CREATE CATALOG, CREATE DATABASE … AS DATABASE, SET, INSERT INTO … SELECT, BEGIN STATEMENT SET, SELECT, EXPLAIN, SHOW TABLES, DESCRIBE',
        );
    }
  }

  /**
   * `BEGIN STATEMENT SET; INSERT …; …; END` (the SQL client's form) or `EXECUTE STATEMENT SET BEGIN INSERT …;
   * …; END` (and `STATEMENT SET BEGIN … END` after EXPLAIN).
   */
  private statementSet(): StatementSetStatement {
    const start = this.peek().start;
    let separator = false;
    if (this.acceptWord('BEGIN')) {
      this.expectWord('STATEMENT', 'after BEGIN');
      this.expectWord('SET', 'after BEGIN STATEMENT');
      separator = true;
    } else {
      this.acceptWord('EXECUTE');
      this.expectWord('STATEMENT', 'after EXECUTE');
      this.expectWord('SET', 'after EXECUTE STATEMENT');
      this.expectWord('BEGIN', 'after STATEMENT SET');
    }
    if (separator) this.expectOperator(';', 'after BEGIN STATEMENT SET');
    const inserts: InsertStatement[] = [];
    for (;;) {
      while (this.acceptOperator(';'));
      if (this.acceptWord('END')) break;
      if (!this.isWord('INSERT')) {
        this.fail(
          this.peek(),
          this.peek().type === 'end'
            ? 'the statement set is not closed'
            : 'a statement set holds only INSERT INTO statements',
          'end the statement set with END;',
        );
      }
      inserts.push(this.insert());
      if (!this.isWord('END')) this.expectOperator(';', 'after an INSERT of the statement set');
    }
    if (inserts.length === 0) this.fail(this.tokens[this.index - 1]!, 'the statement set holds no INSERT');
    return { kind: 'statementSet', inserts, start };
  }

  private createView(start: number): CreateViewStatement {
    this.next();
    let ifNotExists = false;
    if (this.acceptWord('IF')) {
      this.expectWord('NOT', 'in IF NOT EXISTS');
      this.expectWord('EXISTS', 'in IF NOT EXISTS');
      ifNotExists = true;
    }
    const { name } = this.qualifiedName('after CREATE VIEW');
    if (this.isOperator('(')) {
      this.fail(
        this.peek(),
        'a column list after CREATE VIEW is not built yet',
        'name the columns with AS in the query',
      );
    }
    this.expectWord('AS', 'after the view name', 'CREATE TEMPORARY VIEW v AS SELECT …');
    return { kind: 'createView', name, query: this.queryExpr(), ifNotExists, text: this.text, start };
  }

  /** `CREATE CATALOG [IF NOT EXISTS] name WITH ('type' = …, …)`. */
  private createCatalog(start: number): CreateCatalogStatement {
    this.next();
    const ifNotExists = this.ifNotExists();
    const { name } = this.qualifiedName('after CREATE CATALOG');
    if (!this.isWord('WITH'))
      this.fail(this.peek(), 'expected WITH after the catalog name', "CREATE CATALOG c WITH ('type' = 'mysql-cdc', …)");
    const options = this.withOptions();
    return { kind: 'createCatalog', name, options, ifNotExists, start };
  }

  /** `CREATE DATABASE [IF NOT EXISTS] target [WITH (…)] AS DATABASE source INCLUDING … [EXCLUDING …]` (CDAS). */
  private createDatabase(start: number): SyncStatement {
    this.next();
    const ifNotExists = this.ifNotExists();
    const target = this.qualifiedParts('after CREATE DATABASE');
    const comment = () => {
      if (this.acceptWord('COMMENT')) this.string('after COMMENT');
    };
    comment();
    const options = this.withOptions();
    comment();
    this.expectWord('AS', 'after the database name', 'CREATE DATABASE d AS DATABASE catalog.db INCLUDING ALL TABLES');
    this.expectWord(
      'DATABASE',
      'after AS',
      'CREATE DATABASE … AS DATABASE catalog.db (a whole query: CREATE TABLE … AS SELECT)',
    );
    const source = this.qualifiedParts('after AS DATABASE');
    this.refuseHint();
    const tables = (clause: string) => {
      if (clause === 'INCLUDING' && this.acceptWord('ALL')) {
        this.expectWord('TABLES', 'after INCLUDING ALL');
        return { pattern: '.*', start: this.tokens[this.index - 1]!.start };
      }
      if (!this.acceptWord('TABLES')) this.expectWord('TABLE', `after ${clause}`, `${clause} TABLES 'regex'`);
      const pattern = this.string(`after ${clause} TABLE: a regular expression of table names`);
      return { pattern: pattern.value, start: pattern.start };
    };
    this.expectWord('INCLUDING', 'after AS DATABASE …', "INCLUDING ALL TABLES or INCLUDING TABLES 'orders|items'");
    const including = tables('INCLUDING');
    const excluding = this.acceptWord('EXCLUDING') ? tables('EXCLUDING') : undefined;
    this.refuseHint();
    return {
      kind: 'sync',
      what: 'database',
      target,
      options,
      ifNotExists,
      source,
      including,
      ...(excluding === undefined ? {} : { excluding }),
      start,
    };
  }

  private create():
    CreateTableStatement | CreateViewStatement | CreateTableAsStatement | CreateCatalogStatement | SyncStatement {
    const start = this.next().start;
    this.acceptWord('TEMPORARY');
    const what = this.peek();
    if (this.isWord('VIEW')) return this.createView(start);
    if (this.isWord('CATALOG')) return this.createCatalog(start);
    if (this.isWord('DATABASE')) return this.createDatabase(start);
    if (this.isWord('FUNCTION')) {
      this.fail(what, `CREATE ${what.value.toUpperCase()} is not built yet`, 'see docs/sql.md for what runs');
    }
    this.expectWord('TABLE', 'after CREATE');
    const ifNotExists = this.ifNotExists();
    const target = this.qualifiedParts('after CREATE TABLE');
    const name = target.parts.join('.');
    if (this.isWord('WITH') || this.isWord('AS')) {
      const options = this.withOptions();
      this.expectWord('AS', 'after WITH (…)', 'CREATE TABLE t WITH (…) AS SELECT …');
      if (this.acceptWord('TABLE')) {
        const source = this.qualifiedParts('after AS TABLE');
        this.refuseHint();
        return { kind: 'sync', what: 'table', target, options, ifNotExists, source, start };
      }
      return this.createTableAs(name, [], ifNotExists, start, options);
    }
    this.expectOperator('(', 'to open the column list');
    const columns: ColumnDef[] = [];
    let primaryKey: string[] = [];
    let watermark: CreateTableStatement['watermark'];
    do {
      if (this.isWord('PRIMARY')) {
        primaryKey = this.primaryKey();
        continue;
      }
      if (this.isWord('WATERMARK')) {
        watermark = this.watermark();
        continue;
      }
      if (this.isWord('CONSTRAINT')) {
        this.fail(this.peek(), 'CONSTRAINT is not built yet', 'declare the key as PRIMARY KEY (…) NOT ENFORCED');
      }
      const column = this.columnDef();
      if (columns.some((c) => c.name.toLowerCase() === column.name.toLowerCase())) {
        throw new SqlError(this.text, column.start, `column ${column.name} is declared twice`);
      }
      columns.push(column);
      if (this.isWord('PRIMARY')) {
        this.next();
        this.expectWord('KEY', 'after PRIMARY');
        this.notEnforced();
        primaryKey = [column.name];
      }
    } while (this.acceptOperator(','));
    this.expectOperator(')', 'to close the column list');
    if (columns.length === 0) return this.createTableAs(name, primaryKey, ifNotExists, start);
    for (const key of primaryKey) {
      const column = columns.find((c) => c.name.toLowerCase() === key.toLowerCase());
      if (column === undefined) {
        throw new SqlError(this.text, start, `the primary key names ${key}, which is not a column of ${name}`);
      }
      if (column.computed !== undefined) {
        throw new SqlError(
          this.text,
          column.start,
          `the primary key names ${key}, a computed column`,
          "key the table by the source's own key columns",
        );
      }
    }
    if (watermark !== undefined && !columns.some((c) => c.name.toLowerCase() === watermark.column.toLowerCase())) {
      throw new SqlError(
        this.text,
        watermark.start,
        `the watermark names ${watermark.column}, which is not a column of ${name}`,
      );
    }
    if (this.acceptWord('COMMENT')) this.string("as the table's comment: COMMENT '…'");
    const partitionedBy = this.partitionedBy(columns);
    const options = this.withOptions();
    if (this.isWord('AS')) {
      this.fail(
        this.peek(),
        'CREATE TABLE … AS takes its columns from the query',
        'leave the columns out; declare only the key if you want one: CREATE TABLE t (PRIMARY KEY (k) NOT ENFORCED) WITH (…) AS SELECT …',
      );
    }
    return {
      kind: 'createTable',
      name,
      columns,
      primaryKey,
      ...(partitionedBy.length > 0 ? { partitionedBy } : {}),
      ...(watermark === undefined ? {} : { watermark }),
      options,
      ifNotExists,
      start,
    };
  }

  /** `WATERMARK FOR col AS expr`: the column; the expression is skipped (up to the next `,` or `)` outside parentheses). */
  private watermark(): { column: string; start: number } {
    this.next();
    this.expectWord('FOR', 'after WATERMARK', "WATERMARK FOR ts AS ts - INTERVAL '5' SECOND");
    const column = this.name('after WATERMARK FOR');
    this.expectWord(
      'AS',
      `after WATERMARK FOR ${column.value}`,
      `WATERMARK FOR ${column.value} AS ${column.value} - INTERVAL '5' SECOND`,
    );
    let depth = 0;
    for (;;) {
      const token = this.peek();
      if (token.type === 'end') break;
      if (token.type === 'operator' && token.value === '(') depth++;
      if (token.type === 'operator' && (token.value === ')' || token.value === ',') && depth === 0) break;
      if (token.type === 'operator' && token.value === ')') depth--;
      this.next();
    }
    return { column: column.value, start: column.start };
  }

  /** `PARTITIONED BY (col, …)` (columns of the table), or nothing. */
  private partitionedBy(columns: readonly ColumnDef[]): string[] {
    if (!this.acceptWord('PARTITIONED')) return [];
    this.expectWord('BY', 'after PARTITIONED');
    this.expectOperator('(', 'after PARTITIONED BY');
    const names: string[] = [];
    do {
      const name = this.name('in PARTITIONED BY (…)');
      if (!columns.some((c) => c.name.toLowerCase() === name.value.toLowerCase())) {
        throw new SqlError(
          this.text,
          name.start,
          `PARTITIONED BY names ${name.value}, which is not a column of the table`,
        );
      }
      names.push(name.value);
    } while (this.acceptOperator(','));
    this.expectOperator(')', 'to close PARTITIONED BY (');
    return names;
  }

  /** `WITH ('k' = 'v', …)`, or nothing. */
  private withOptions(): Map<string, OptionEntry> {
    const options = new Map<string, OptionEntry>();
    if (this.acceptWord('WITH')) {
      this.expectOperator('(', 'after WITH');
      do {
        const key = this.string("as an option name: 'connector'");
        this.expectOperator('=', `after '${key.value}'`);
        const value = this.string(`as the value of '${key.value}'`);
        if (options.has(key.value)) throw new SqlError(this.text, key.start, `option '${key.value}' is set twice`);
        options.set(key.value, { value: value.value, start: key.start });
      } while (this.acceptOperator(','));
      this.expectOperator(')', 'to close WITH (');
    }
    return options;
  }

  /** `CREATE TABLE t [(PRIMARY KEY (…) NOT ENFORCED)] WITH (…) AS query` (the name and key read already). */
  private createTableAs(
    name: string,
    primaryKey: readonly string[],
    ifNotExists: boolean,
    start: number,
    read?: Map<string, OptionEntry>,
  ): CreateTableAsStatement {
    const options = read ?? this.withOptions();
    if (read === undefined) this.expectWord('AS', 'after WITH (…)', 'CREATE TABLE t WITH (…) AS SELECT …');
    if (!this.isWord('SELECT') && !this.isWord('WITH') && !this.isOperator('('))
      this.fail(
        this.peek(),
        'expected SELECT after AS',
        'CREATE TABLE t WITH (…) AS SELECT …, or AS TABLE catalog.db.table to copy a source table whole',
      );
    return { kind: 'createTableAs', name, primaryKey, options, ifNotExists, query: this.queryExpr(), start };
  }

  private primaryKey(): string[] {
    this.next();
    this.expectWord('KEY', 'after PRIMARY');
    this.expectOperator('(', 'after PRIMARY KEY');
    const names: string[] = [];
    do names.push(this.name('in PRIMARY KEY (…)').value);
    while (this.acceptOperator(','));
    this.expectOperator(')', 'to close PRIMARY KEY (');
    this.notEnforced();
    return names;
  }

  private notEnforced(): void {
    if (this.acceptWord('NOT')) {
      this.expectWord('ENFORCED', 'after PRIMARY KEY (…) NOT');
      return;
    }
    this.fail(
      this.peek(),
      'a primary key must be declared NOT ENFORCED',
      'write PRIMARY KEY (…) NOT ENFORCED: Flink SQL does not check keys, it uses them',
    );
  }

  private columnDef(): ColumnDef {
    const name = this.name('for a column');
    if (this.acceptWord('AS')) {
      // A computed column: typed when the table is declared (planner.ts typeComputedColumns).
      const expr = this.expression();
      if (this.acceptWord('COMMENT')) this.string('after COMMENT');
      return {
        name: name.value,
        type: { kind: 'string' },
        typeText: '',
        nullable: true,
        computed: { expr, text: this.text },
        start: name.start,
      };
    }
    const typeStart = this.peek();
    let depth = 0;
    let typeEnd = typeStart.start;
    for (;;) {
      const token = this.peek();
      if (token.type === 'end') break;
      if (token.type === 'operator' && token.value === '(') depth++;
      if (token.type === 'operator' && token.value === ')') {
        if (depth === 0) break;
        depth--;
      }
      if (depth === 0 && token.type === 'operator' && token.value === ',') break;
      if (
        depth === 0 &&
        (this.isWord('NOT') ||
          this.isWord('NULL') ||
          this.isWord('PRIMARY') ||
          this.isWord('COMMENT') ||
          this.isWord('METADATA'))
      )
        break;
      typeEnd = this.next().end;
    }
    const typeText = this.text.slice(typeStart.start, typeEnd).trim();
    if (typeText === '') this.fail(typeStart, `expected the type of column ${name.value}`);
    const type = parseSqlType(typeText);
    if (typeof type === 'string') {
      throw new SqlError(this.text, typeStart.start, type, 'types: BIGINT, INT, DECIMAL(p, s), STRING, VARCHAR(n), …');
    }
    let nullable = true;
    if (this.acceptWord('NOT')) {
      this.expectWord('NULL', 'after NOT');
      nullable = false;
    } else {
      this.acceptWord('NULL');
    }
    let metadata: ColumnDef['metadata'];
    const word = this.acceptWord('METADATA');
    if (word !== undefined) {
      const key = this.acceptWord('FROM') ? this.string("after METADATA FROM: METADATA FROM 'table_name'") : undefined;
      metadata = { key: key?.value ?? name.value, start: key?.start ?? word.start };
      this.acceptWord('VIRTUAL');
    }
    if (this.acceptWord('COMMENT')) this.string('after COMMENT');
    return {
      name: name.value,
      type,
      typeText,
      nullable,
      ...(metadata === undefined ? {} : { metadata }),
      start: name.start,
    };
  }

  private set(): Statement {
    const start = this.next().start;
    if (this.peek().type === 'end' || this.isOperator(';')) return { kind: 'set', start };
    const key = this.string("as the setting's name: SET 'key' = 'value'");
    this.expectOperator('=', `after '${key.value}'`);
    const value = this.string(`as the value of '${key.value}'`);
    return { kind: 'set', key: key.value, value: value.value, start };
  }

  private isOperator(value: string): boolean {
    const token = this.peek();
    return token.type === 'operator' && token.value === value;
  }

  private insert(): InsertStatement {
    const start = this.next().start;
    if (this.isWord('OVERWRITE')) this.fail(this.peek(), 'INSERT OVERWRITE is not built yet', 'write INSERT INTO');
    this.expectWord('INTO', 'after INSERT');
    const { name, start: tableStart } = this.qualifiedName('after INSERT INTO');
    if (this.isOperator('(')) {
      this.fail(this.peek(), 'a column list after INSERT INTO is not built yet', 'select the columns in table order');
    }
    if (!this.isWord('SELECT') && !this.isWord('WITH'))
      this.fail(this.peek(), 'expected SELECT after INSERT INTO …', 'INSERT … VALUES is not built yet');
    return { kind: 'insert', table: name, tableStart, query: this.queryExpr(), start };
  }

  private queryStatement(): QueryStatement {
    const start = this.peek().start;
    return { kind: 'query', query: this.queryExpr(), start };
  }

  /** A query, after `WITH name AS (query), …` or not. */
  private queryExpr(): QueryExpr {
    if (!this.isWord('WITH')) return this.setQuery();
    const start = this.next().start;
    if (this.isWord('RECURSIVE')) this.fail(this.peek(), 'WITH RECURSIVE is not built yet');
    const tables: CommonTable[] = [];
    do {
      const name = this.name('after WITH or "," (the name of a common table)');
      if (tables.some((t) => t.name.toLowerCase() === name.value.toLowerCase())) {
        this.fail(name, `the common table ${name.value} is named twice in this WITH`, 'give it another name');
      }
      if (this.isOperator('(')) {
        this.fail(
          this.peek(),
          'a column list after a common table name is not built yet',
          'name the columns with AS in its query',
        );
      }
      this.expectWord('AS', `after ${name.value}`, `WITH ${name.value} AS (SELECT …) SELECT …`);
      this.expectOperator('(', `after ${name.value} AS`);
      const query = this.queryExpr();
      this.expectOperator(')', `to close the query of ${name.value}`);
      tables.push({ name: name.value, query, start: name.start });
    } while (this.acceptOperator(','));
    if (!this.isWord('SELECT') && !this.isOperator('(')) {
      this.fail(this.peek(), 'expected SELECT after the common tables', 'WITH t AS (SELECT …) SELECT … FROM t');
    }
    return { kind: 'with', tables, body: this.setQuery(), start };
  }

  /**
   * A SELECT, or SELECTs (each may be in parentheses) joined all by UNION ALL, or all by UNION, or all by INTERSECT
   * [ALL], or all by EXCEPT [ALL].
   */
  private setQuery(): SelectQuery | UnionQuery {
    const start = this.peek().start;
    const branches = [this.branch()];
    let distinct: boolean | undefined;
    let op: 'union' | 'intersect' | 'except' | undefined;
    while (this.isWord('UNION') || this.isWord('INTERSECT') || this.isWord('EXCEPT')) {
      const word = this.next();
      const kind = word.value.toLowerCase() as 'union' | 'intersect' | 'except';
      const all = this.acceptWord('ALL') !== undefined;
      if (all === false && this.isWord('DISTINCT')) this.next();
      if (op !== undefined && op !== kind) {
        this.fail(
          word,
          `${op.toUpperCase()} and ${kind.toUpperCase()} are mixed in one query`,
          `put one of them into a subquery: SELECT * FROM (… ${kind.toUpperCase()} …) AS t ${op.toUpperCase()} …`,
        );
      }
      if (distinct !== undefined && distinct === all) {
        const name = kind.toUpperCase();
        this.fail(
          word,
          `${name} and ${name} ALL are mixed in one query`,
          `put one of them into a subquery: SELECT * FROM (… ${name} …) AS u ${name} ALL …`,
        );
      }
      op = kind;
      distinct = !all;
      branches.push(this.branch());
    }
    if (branches.length === 1) return branches[0]!;
    return {
      kind: 'union',
      distinct: distinct === true,
      branches,
      ...(op === 'union' ? {} : { op: op! }),
      start,
    };
  }

  private branch(): SelectQuery {
    if (!this.acceptOperator('(')) return this.select();
    const query = this.select();
    this.expectOperator(')', 'to close the query in parentheses');
    return query;
  }

  private select(): SelectQuery {
    const start = this.expectWord('SELECT', 'to begin a query').start;
    const distinct = this.acceptWord('DISTINCT') !== undefined;
    if (!distinct) this.acceptWord('ALL');
    const items: SelectItem[] = [];
    do items.push(this.selectItem());
    while (this.acceptOperator(','));
    this.expectWord('FROM', 'after the select list', 'separate select items with commas');
    const from = this.fromClause();
    const where = this.acceptWord('WHERE') ? this.expression() : undefined;
    const groupBy: ExpressionNode[] = [];
    if (this.acceptWord('GROUP')) {
      this.expectWord('BY', 'after GROUP');
      do groupBy.push(this.expression());
      while (this.acceptOperator(','));
    }
    const having = this.acceptWord('HAVING') ? this.expression() : undefined;
    const orderAt = this.peek();
    const orderBy = this.acceptWord('ORDER') ? this.orderBy() : undefined;
    let limit: { value: number; start: number } | undefined;
    const limitAt = this.acceptWord('LIMIT');
    if (limitAt !== undefined) {
      const token = this.next();
      const value = Number(token.value);
      if (token.type !== 'number' || !Number.isInteger(value) || value < 1) {
        this.fail(token, 'LIMIT takes a whole number of rows, at least 1', 'LIMIT 10');
      }
      limit = { value, start: limitAt.start };
    }
    if (orderBy !== undefined && limit === undefined) {
      this.fail(
        orderAt,
        'ORDER BY without LIMIT: the rows of a changing result have no order to keep',
        'add LIMIT n for the first n rows (a Top-N), or order the rows where you read them',
      );
    }
    if (limitAt !== undefined && orderBy === undefined) {
      this.fail(limitAt, 'LIMIT without ORDER BY: which rows are first is undefined', 'ORDER BY … LIMIT n');
    }
    if (this.isWord('WINDOW')) this.fail(this.peek(), 'WINDOW is not built yet', 'see docs/sql.md for what runs');
    return {
      kind: 'select',
      distinct,
      items,
      from,
      ...(where === undefined ? {} : { where }),
      groupBy,
      ...(having === undefined ? {} : { having }),
      ...(orderBy === undefined || limit === undefined ? {} : { orderBy, limit }),
      start,
    };
  }

  /** After ORDER: `BY expr [ASC | DESC] [NULLS FIRST | NULLS LAST], …`. */
  private orderBy(): OrderItem[] {
    this.expectWord('BY', 'after ORDER');
    const items: OrderItem[] = [];
    do {
      const expr = this.expression();
      const descending = this.acceptWord('DESC') !== undefined;
      if (!descending) this.acceptWord('ASC');
      let nullsFirst: boolean | undefined;
      if (this.acceptWord('NULLS')) {
        if (this.acceptWord('FIRST')) nullsFirst = true;
        else {
          this.expectWord('LAST', 'after NULLS', 'NULLS FIRST or NULLS LAST');
          nullsFirst = false;
        }
      }
      items.push({ expr, descending, ...(nullsFirst === undefined ? {} : { nullsFirst }) });
    } while (this.acceptOperator(','));
    return items;
  }

  /** `ROW_NUMBER() OVER (…)`, `RANK() OVER (…)` or `DENSE_RANK() OVER (…)` (the name is next). */
  private rowNumber(): RowNumberItem {
    const name = this.next();
    const start = name.start;
    const fn = name.value.toUpperCase() as RankFunction;
    this.expectOperator('(', `after ${fn}`);
    this.expectOperator(')', `after ${fn}( (it takes no arguments)`);
    this.expectWord('OVER', `after ${fn}()`, `${fn}() OVER (PARTITION BY … ORDER BY …)`);
    this.expectOperator('(', 'after OVER');
    const partitionBy: ExpressionNode[] = [];
    if (this.acceptWord('PARTITION')) {
      this.expectWord('BY', 'after PARTITION');
      do partitionBy.push(this.expression());
      while (this.acceptOperator(','));
    }
    if (!this.acceptWord('ORDER')) {
      this.fail(this.peek(), `${fn}() OVER (…) needs ORDER BY`, 'OVER (PARTITION BY … ORDER BY col DESC)');
    }
    const orderBy = this.orderBy();
    if (this.isWord('ROWS') || this.isWord('RANGE')) {
      this.fail(this.peek(), `a window frame is not built (${fn} takes none)`, 'leave out ROWS/RANGE …');
    }
    const close = this.expectOperator(')', 'to close OVER (…)');
    const alias = this.alias();
    return {
      kind: 'rowNumber',
      fn,
      partitionBy,
      orderBy,
      ...(alias === undefined ? {} : { alias }),
      start,
      end: close.start + 1,
    };
  }

  private selectItem(): SelectItem {
    const token = this.peek();
    if (token.type === 'operator' && token.value === '*') {
      this.next();
      return { kind: 'star', start: token.start };
    }
    if (
      (token.type === 'identifier' || token.type === 'quoted') &&
      this.peek(1).type === 'operator' &&
      this.peek(1).value === '.' &&
      this.peek(2).type === 'operator' &&
      this.peek(2).value === '*'
    ) {
      this.index += 3;
      return { kind: 'star', qualifier: token.value, start: token.start };
    }
    if (
      token.type === 'identifier' &&
      RANKING_FUNCTIONS.has(token.value.toUpperCase()) &&
      this.peek(1).type === 'operator' &&
      this.peek(1).value === '('
    ) {
      return this.rowNumber();
    }
    const expr = this.expression();
    const alias = this.alias();
    return { kind: 'expr', expr, ...(alias === undefined ? {} : { alias }), start: token.start };
  }

  /** `AS name`, or a bare name that is not a clause word. */
  private alias(): string | undefined {
    if (this.acceptWord('AS')) return this.name('after AS').value;
    const token = this.peek();
    if (token.type === 'quoted' || (token.type === 'identifier' && !CLAUSE_WORDS.has(token.value.toUpperCase()))) {
      return this.next().value;
    }
    return undefined;
  }

  private fromClause(): FromItem {
    let left = this.tableRef();
    for (;;) {
      const token = this.peek();
      let type: JoinType | undefined;
      if (this.acceptWord('JOIN')) type = 'inner';
      else if (this.isWord('INNER')) {
        this.next();
        this.expectWord('JOIN', 'after INNER');
        type = 'inner';
      } else if (this.isWord('LEFT') || this.isWord('RIGHT') || this.isWord('FULL')) {
        type = this.next().value.toLowerCase() as JoinType;
        this.acceptWord('OUTER');
        this.expectWord('JOIN', `after ${type.toUpperCase()}`);
      } else if (this.isWord('CROSS')) {
        this.fail(token, 'CROSS JOIN is not built yet', 'join on equal keys: JOIN t ON a.k = t.k');
      } else if (this.isOperator(',')) {
        this.fail(token, 'a comma join is not built yet', 'write JOIN t ON a.k = t.k');
      }
      if (type === undefined) return left;
      const right = this.tableRef();
      this.expectWord('ON', 'after the joined table', 'joins need ON a.key = b.key');
      const on = this.expression();
      left = { kind: 'join', type, left, right, on, start: token.start };
    }
  }

  private tableRef(): FromItem {
    const token = this.peek();
    if (this.isWord('TABLE') && this.peek(1).type === 'operator' && this.peek(1).value === '(')
      return this.windowTable();
    if (this.acceptOperator('(')) {
      if (!this.isWord('SELECT') && !this.isWord('WITH') && !this.isOperator('(')) {
        this.fail(this.peek(), 'expected SELECT in a subquery', 'write FROM (SELECT …) AS name');
      }
      const query = this.queryExpr();
      this.expectOperator(')', 'to close the subquery');
      const alias = this.alias();
      return { kind: 'subquery', query, alias: alias ?? '', start: token.start };
    }
    const { name, start } = this.qualifiedName('after FROM or JOIN');
    const alias = this.alias();
    return { kind: 'table', name, alias: alias ?? name.split('.').pop()!, start };
  }

  /**
   * `TABLE(TUMBLE(TABLE t, DESCRIPTOR(ts), size [, offset]))`, and HOP's and CUMULATE's forms (slide or step before
   * size), and `SESSION(TABLE t [PARTITION BY k, …], DESCRIPTOR(ts), gap)`, arguments by position or by name
   * (`DATA => TABLE t, TIMECOL => DESCRIPTOR(ts), SIZE => …`).
   */
  private windowTable(): WindowTable {
    const start = this.next().start;
    this.expectOperator('(', 'after TABLE');
    const fnToken = this.peek();
    const fn = fnToken.type === 'identifier' ? fnToken.value.toLowerCase() : '';
    if (fn !== 'tumble' && fn !== 'hop' && fn !== 'cumulate' && fn !== 'session') {
      this.fail(
        fnToken,
        `${describeToken(fnToken)} is not a window function here`,
        'TABLE(TUMBLE(…)), TABLE(HOP(…)), TABLE(CUMULATE(…)) or TABLE(SESSION(…))',
      );
    }
    this.next();
    this.expectOperator('(', `after ${fn.toUpperCase()}`);
    const durations =
      fn === 'session'
        ? ['GAP']
        : fn === 'tumble'
          ? ['SIZE', 'OFFSET']
          : [fn === 'hop' ? 'SLIDE' : 'STEP', 'SIZE', 'OFFSET'];
    let partitionBy: { name: string; start: number }[] | undefined;
    const positional = ['DATA', 'TIMECOL', ...durations];
    const args = new Map<string, { token: Token; value: unknown }>();
    let position = 0;
    do {
      let key = positional[position];
      const named = this.peek().type === 'identifier' && this.isOperatorAt('=', 1) && this.isOperatorAt('>', 2);
      if (named) {
        const nameToken = this.next();
        this.index += 2;
        key = nameToken.value.toUpperCase();
        if (!positional.includes(key)) {
          this.fail(
            nameToken,
            `${fn.toUpperCase()} has no argument ${nameToken.value}`,
            `its arguments: ${positional.join(', ')}`,
          );
        }
      }
      if (key === undefined)
        this.fail(this.peek(), `too many arguments to ${fn.toUpperCase()}`, `its arguments: ${positional.join(', ')}`);
      const token = this.peek();
      if (args.has(key)) this.fail(token, `${key} is given twice`);
      let value: unknown;
      if (key === 'DATA') {
        this.expectWord(
          'TABLE',
          `as ${fn.toUpperCase()}'s first argument`,
          `${fn.toUpperCase()}(TABLE orders, DESCRIPTOR(order_time), …)`,
        );
        const { name, start: tableStart } = this.qualifiedName('after TABLE');
        value = { kind: 'table', name, alias: name.split('.').pop()!, start: tableStart };
        const partition = this.acceptWord('PARTITION');
        if (partition !== undefined) {
          if (fn !== 'session') {
            this.fail(partition, `${fn.toUpperCase()} takes no PARTITION BY`, 'only SESSION windows are partitioned');
          }
          this.expectWord('BY', 'after PARTITION');
          // One column, or several in parentheses (a comma after one ends the DATA argument).
          const parens = this.acceptOperator('(');
          partitionBy = [];
          do {
            const column = this.name('in PARTITION BY');
            partitionBy.push({ name: column.value, start: column.start });
          } while (parens && this.acceptOperator(','));
          if (parens) this.expectOperator(')', 'to close PARTITION BY (');
        }
      } else if (key === 'TIMECOL') {
        this.expectWord('DESCRIPTOR', 'for the time column', 'DESCRIPTOR(order_time)');
        this.expectOperator('(', 'after DESCRIPTOR');
        const column = this.name('in DESCRIPTOR(…)');
        this.expectOperator(')', 'to close DESCRIPTOR(');
        value = { name: column.value, start: column.start };
      } else {
        value = this.interval(key);
      }
      args.set(key, { token, value });
      position++;
    } while (this.acceptOperator(','));
    this.expectOperator(')', `to close ${fn.toUpperCase()}(`);
    this.expectOperator(')', 'to close TABLE(');
    for (const required of positional.filter((k) => k !== 'OFFSET')) {
      if (!args.has(required)) {
        this.fail(
          this.tokens[this.index - 1]!,
          `${fn.toUpperCase()} needs its ${required} argument`,
          `${fn.toUpperCase()}(${positional.filter((k) => k !== 'OFFSET').join(', ')})`,
        );
      }
    }
    const ms = (key: string) => args.get(key)?.value as number;
    const sizeMs = ms(fn === 'session' ? 'GAP' : 'SIZE');
    const stepMs = fn === 'tumble' || fn === 'session' ? sizeMs : ms(durations[0]!);
    if (fn !== 'tumble' && fn !== 'session' && (stepMs > sizeMs || sizeMs % stepMs !== 0)) {
      this.fail(
        args.get(durations[0]!)!.token,
        `the ${durations[0]!.toLowerCase()} of a ${fn.toUpperCase()} window must divide its size`,
        fn === 'hop'
          ? "HOP(TABLE t, DESCRIPTOR(ts), INTERVAL '5' MINUTES, INTERVAL '15' MINUTES)"
          : "CUMULATE(TABLE t, DESCRIPTOR(ts), INTERVAL '1' HOUR, INTERVAL '1' DAY)",
      );
    }
    const alias = this.alias();
    return {
      kind: 'window',
      fn,
      input: args.get('DATA')!.value as WindowTable['input'],
      timeColumn: args.get('TIMECOL')!.value as WindowTable['timeColumn'],
      sizeMs,
      stepMs,
      offsetMs: args.has('OFFSET') ? ms('OFFSET') : 0,
      ...(partitionBy === undefined ? {} : { partitionBy }),
      ...(alias === undefined ? {} : { alias }),
      start,
    };
  }

  private isOperatorAt(value: string, ahead: number): boolean {
    const token = this.peek(ahead);
    return token.type === 'operator' && token.value === value;
  }

  /** `INTERVAL '10' MINUTE[S]` (SECOND, MINUTE, HOUR, DAY; `-` before the quote for a negative offset), in ms. */
  private interval(what: string): number {
    this.expectWord('INTERVAL', `as the window's ${what.toLowerCase()}`, "INTERVAL '10' MINUTES");
    const text = this.string("after INTERVAL: INTERVAL '10' MINUTES");
    const unitToken = this.peek();
    const unit = unitToken.value.toUpperCase();
    const unitMs = intervalUnitMs(unitToken);
    if (unitMs === undefined) {
      this.fail(
        unitToken,
        `expected SECOND, MINUTE, HOUR or DAY after INTERVAL '${text.value}'`,
        'windows are measured in days at most (months and years have no fixed length)',
      );
    }
    this.next();
    if (this.isWord('TO'))
      this.fail(
        this.peek(),
        'a compound interval (… TO …) is not built yet',
        "write it in one unit: INTERVAL '90' MINUTES",
      );
    const amount = Number(text.value.trim());
    const ms = amount * unitMs;
    if (!Number.isFinite(ms) || !Number.isInteger(ms) || text.value.trim() === '' || (ms <= 0 && what !== 'OFFSET')) {
      this.fail(
        text,
        `INTERVAL '${text.value}' ${unit} is not a ${what === 'OFFSET' ? 'whole number of milliseconds' : 'positive whole number of milliseconds'}`,
        "e.g. INTERVAL '10' MINUTES",
      );
    }
    return ms;
  }
}
