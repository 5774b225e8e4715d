import type { DdlTableName } from './ddl-ast.js';
import { DdlSyntaxError, type DdlToken } from './ddl-lexer.js';

/** Words that never name a column or a table without back-quotes, where a clause could start instead. */
const RESERVED = new Set([
  'ADD',
  'AFTER',
  'ALTER',
  'AS',
  'CHANGE',
  'CHECK',
  'COLUMN',
  'CONSTRAINT',
  'CONVERT',
  'DROP',
  'FIRST',
  'FOREIGN',
  'FULLTEXT',
  'IF',
  'INDEX',
  'KEY',
  'LIKE',
  'MODIFY',
  'NOT',
  'PARTITION',
  'PRIMARY',
  'RENAME',
  'SELECT',
  'SPATIAL',
  'TO',
  'UNIQUE',
]);

/**
 * A position in a statement's tokens with the small steps of a recursive-descent parser: look at, accept
 * or expect words and operators, read names, and skip balanced parts that are not followed.
 */
export class DdlTokenCursor {
  private index = 0;

  constructor(
    readonly sql: string,
    private readonly tokens: readonly DdlToken[],
  ) {}

  peek(ahead = 0): DdlToken {
    return this.tokens[Math.min(this.index + ahead, this.tokens.length - 1)]!;
  }

  next(): DdlToken {
    const token = this.peek();
    if (token.kind !== 'eof') this.index++;
    return token;
  }

  atEnd(): boolean {
    const token = this.peek();
    return token.kind === 'eof' || (token.kind === 'op' && token.text === ';');
  }

  /** Whether the token `ahead` is one of `words` (bare, any case). */
  isWord(words: string | readonly string[], ahead = 0): boolean {
    const token = this.peek(ahead);
    if (token.kind !== 'word') return false;
    return typeof words === 'string' ? token.upper === words : words.includes(token.upper);
  }

  /** Whether the next tokens are exactly `words`, in order. */
  isWords(...words: string[]): boolean {
    return words.every((word, i) => this.isWord(word, i));
  }

  /** Consumes `words` when the next tokens are exactly these words. */
  acceptWords(...words: string[]): boolean {
    if (!this.isWords(...words)) return false;
    this.index += words.length;
    return true;
  }

  acceptWord(word: string): boolean {
    return this.acceptWords(word);
  }

  expectWord(word: string): void {
    if (!this.acceptWord(word)) this.fail(`expected ${word}`);
  }

  isOp(op: string, ahead = 0): boolean {
    const token = this.peek(ahead);
    return token.kind === 'op' && token.text === op;
  }

  acceptOp(op: string): boolean {
    if (!this.isOp(op)) return false;
    this.index++;
    return true;
  }

  expectOp(op: string): void {
    if (!this.acceptOp(op)) this.fail(`expected '${op}'`);
  }

  /** Whether the next token can be an identifier (a back-quoted name, or a bare word that starts no clause). */
  isIdentifier(ahead = 0): boolean {
    const token = this.peek(ahead);
    return token.kind === 'quoted' || (token.kind === 'word' && !RESERVED.has(token.upper));
  }

  /** An identifier: back-quoted, or a bare word (keywords that are not reserved are names too). */
  identifier(what = 'a name'): string {
    const token = this.peek();
    if (token.kind === 'quoted' || token.kind === 'word') {
      this.index++;
      return token.text;
    }
    return this.fail(`expected ${what}`);
  }

  /** `name` or `db.name`. */
  tableName(): DdlTableName {
    const first = this.identifier('a table name');
    if (!this.acceptOp('.')) return { name: first };
    return { database: first, name: this.identifier('a table name') };
  }

  /** IF EXISTS. */
  ifExists(): boolean {
    return this.acceptWords('IF', 'EXISTS');
  }

  /** IF NOT EXISTS. */
  ifNotExists(): boolean {
    return this.acceptWords('IF', 'NOT', 'EXISTS');
  }

  /** A string literal; adjacent literals are one string ('a' 'b' = 'ab'); an introducer may precede it. */
  string(): string {
    const intro = this.peek();
    if (intro.kind === 'word' && intro.text.startsWith('_') && this.peek(1).kind === 'string') this.index++;
    const first = this.next();
    if (first.kind !== 'string') return this.fail('expected a string', first);
    let value = first.value;
    for (let token = this.peek(); token.kind === 'string'; token = this.peek()) {
      value += token.value;
      this.index++;
    }
    return value;
  }

  /** A whole number. */
  integer(): number {
    const token = this.next();
    if (token.kind !== 'number' || [...token.text].some((ch) => ch < '0' || ch > '9')) {
      return this.fail('expected a number', token);
    }
    return Number(token.text);
  }

  /** A character set or collation name: a word, a quoted name or a string; lower case. */
  charsetName(): string {
    const token = this.peek();
    if (token.kind === 'string') {
      this.index++;
      return token.value.toLowerCase();
    }
    return this.identifier('a character set').toLowerCase();
  }

  /** Skips one token, or a whole balanced ( … ) group. */
  skipOne(): void {
    if (!this.isOp('(')) {
      this.next();
      return;
    }
    let depth = 0;
    do {
      const token = this.next();
      if (token.kind === 'eof') this.fail("expected ')'", token);
      if (token.kind === 'op' && token.text === '(') depth++;
      else if (token.kind === 'op' && token.text === ')') depth--;
    } while (depth > 0);
  }

  /** Skips tokens (balanced) until `stop` says so at nesting depth 0, or the statement ends. */
  skipUntil(stop: () => boolean): void {
    while (!this.atEnd() && !stop() && !this.isOp(')')) this.skipOne();
  }

  /** The source text from token `from` (an index from `mark()`) up to the current token. */
  textFrom(from: number): string {
    const start = this.tokens[from]!.pos;
    const end = this.index > from ? this.tokens[this.index - 1]!.end : start;
    return this.sql.slice(start, end);
  }

  mark(): number {
    return this.index;
  }

  reset(mark: number): void {
    this.index = mark;
  }

  fail(message: string, token: DdlToken = this.peek()): never {
    const near = token.kind === 'eof' ? 'the end' : JSON.stringify(this.sql.slice(token.pos, token.end));
    throw new DdlSyntaxError(`${message}, found ${near}`, token.pos);
  }
}
