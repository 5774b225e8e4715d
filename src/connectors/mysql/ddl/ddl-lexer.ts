/**
 * A MySQL/MariaDB lexer for the DDL statements of the binlog. It yields every token of the statement, comments
 * dropped, except that the contents of executable comments (`/*!50100 … *\/`, `/*M!100100 … *\/`) are lexed as
 * if the comment markers were not there (when the server that wrote the statement would have run them).
 */

/** A bare word: an identifier or a keyword (`upper` is the word in upper case, for keyword tests). */
export interface DdlWordToken {
  readonly kind: 'word';
  readonly text: string;
  readonly upper: string;
  readonly pos: number;
  readonly end: number;
}

/** A `back-quoted` identifier, `text` unescaped. Never a keyword. */
export interface DdlQuotedToken {
  readonly kind: 'quoted';
  readonly text: string;
  readonly pos: number;
  readonly end: number;
}

/** A string literal, `value` unescaped; `charset` from an introducer written against it (`_latin1'x'`). */
export interface DdlStringToken {
  readonly kind: 'string';
  readonly value: string;
  readonly charset?: string;
  readonly pos: number;
  readonly end: number;
}

/**
 * A number (`12`, `-` is an operator), a hexadecimal or bit literal (`0x1F`, `X'1F'`, `b'101'`), or a
 * user or system variable (`@a`, `@@sql_mode`), as written.
 */
export interface DdlLiteralToken {
  readonly kind: 'number' | 'hex' | 'bits' | 'variable';
  readonly text: string;
  readonly pos: number;
  readonly end: number;
}

/** Punctuation and operators: `(`, `)`, `,`, `.`, `;`, `=`, `<=>`, `->>`, … */
export interface DdlOpToken {
  readonly kind: 'op';
  readonly text: string;
  readonly pos: number;
  readonly end: number;
}

export interface DdlEofToken {
  readonly kind: 'eof';
  readonly pos: number;
  readonly end: number;
}

export type DdlToken = DdlWordToken | DdlQuotedToken | DdlStringToken | DdlLiteralToken | DdlOpToken | DdlEofToken;

export interface DdlLexOptions {
  /**
   * The server that wrote the statement: executable comments run when their version is at most `version`
   * (MySQL's 5-digit form: 10.11.6 → 101106), and `/*M! … *\/` only on MariaDB. Unset: every executable comment runs.
   */
  readonly server?: { readonly mariadb: boolean; readonly version: number };
  /** sql_mode ANSI_QUOTES: "x" is an identifier, not a string. */
  readonly ansiQuotes?: boolean;
  /** sql_mode NO_BACKSLASH_ESCAPES: a backslash in a string is an ordinary character. */
  readonly noBackslashEscapes?: boolean;
}

/** Lex options for the server whose `SELECT VERSION()` is `version` (`10.11.6-MariaDB-log`, `8.0.36`). */
export function ddlLexOptionsForServer(version: string): DdlLexOptions {
  const numbers = version.split('-')[0]!.split('.').map(Number);
  const [major = 0, minor = 0, patch = 0] = numbers;
  return {
    server: { mariadb: version.toLowerCase().includes('mariadb'), version: major * 10000 + minor * 100 + patch },
  };
}

/** A statement that cannot be lexed (an unterminated string, comment or quoted identifier). */
export class DdlSyntaxError extends Error {
  constructor(
    message: string,
    readonly pos: number,
  ) {
    super(`${message} at offset ${pos}`);
    this.name = 'DdlSyntaxError';
  }
}

const OPERATORS = ['<=>', '->>', '<=', '>=', '<>', '!=', ':=', '||', '&&', '<<', '>>', '->'];
const SINGLE = '()[]{},.;=<>+-*/%!~^&|?:';
const ESCAPES: Readonly<Record<string, string>> = {
  '0': '\0',
  b: '\b',
  n: '\n',
  r: '\r',
  t: '\t',
  Z: '\x1a',
  '%': '\\%',
  _: '\\_',
};

function isIdentChar(ch: string | undefined): boolean {
  if (ch === undefined) return false;
  const code = ch.charCodeAt(0);
  return (
    (code >= 0x30 && code <= 0x39) ||
    (code >= 0x41 && code <= 0x5a) ||
    (code >= 0x61 && code <= 0x7a) ||
    ch === '_' ||
    ch === '$' ||
    code >= 0x80
  );
}

function isDigit(ch: string | undefined): boolean {
  return ch !== undefined && ch >= '0' && ch <= '9';
}

function isHexDigit(ch: string | undefined): boolean {
  return isDigit(ch) || (ch !== undefined && ((ch >= 'a' && ch <= 'f') || (ch >= 'A' && ch <= 'F')));
}

function isSpace(ch: string | undefined): boolean {
  return ch === ' ' || ch === '\t' || ch === '\n' || ch === '\r' || ch === '\f' || ch === '\v';
}

/** Splits `sql` into tokens; the last one is always `eof`. */
export function lexDdl(sql: string, options: DdlLexOptions = {}): DdlToken[] {
  return new Lexer(sql, options).run();
}

class Lexer {
  private i = 0;
  private inExecutable = false;
  private readonly tokens: DdlToken[] = [];

  constructor(
    private readonly sql: string,
    private readonly options: DdlLexOptions,
  ) {}

  run(): DdlToken[] {
    const { sql } = this;
    while (this.i < sql.length) {
      const ch = sql[this.i]!;
      const next = sql[this.i + 1];
      if (isSpace(ch)) this.i++;
      else if (ch === '#' || (ch === '-' && next === '-' && (isSpace(sql[this.i + 2]) || this.i + 2 >= sql.length)))
        this.skipLine();
      else if (ch === '/' && next === '*') this.comment();
      else if (ch === '*' && next === '/' && this.inExecutable) {
        this.inExecutable = false;
        this.i += 2;
      } else if (ch === '`') this.quoted('`');
      else if (ch === '"' && this.options.ansiQuotes) this.quoted('"');
      else if (ch === "'" || ch === '"') this.push(this.string(ch, this.i, undefined));
      else if (ch === '@') this.variable();
      else if (isDigit(ch) || (ch === '.' && isDigit(next) && !this.followsName())) this.number();
      else if (isIdentChar(ch)) this.word();
      else this.operator();
    }
    if (this.inExecutable) throw new DdlSyntaxError('unterminated executable comment', sql.length);
    this.tokens.push({ kind: 'eof', pos: sql.length, end: sql.length });
    return this.tokens;
  }

  private push(token: DdlToken): void {
    this.tokens.push(token);
  }

  /** `db.1t`: a dot right after a name is a qualifier, not the start of `.1`. */
  private followsName(): boolean {
    const last = this.tokens[this.tokens.length - 1];
    return last !== undefined && last.end === this.i && (last.kind === 'word' || last.kind === 'quoted');
  }

  private skipLine(): void {
    while (this.i < this.sql.length && this.sql[this.i] !== '\n') this.i++;
  }

  private comment(): void {
    const { sql } = this;
    const start = this.i;
    let j = this.i + 2;
    const mariadbOnly = sql[j] === 'M' && sql[j + 1] === '!';
    if (sql[j] === '!' || mariadbOnly) {
      j += mariadbOnly ? 2 : 1;
      let digits = '';
      while (digits.length < 6 && isDigit(sql[j])) digits += sql[j++];
      if (!this.inExecutable && this.runs(mariadbOnly, digits === '' ? 0 : Number(digits))) {
        this.inExecutable = true;
        this.i = j;
        return;
      }
    }
    const close = sql.indexOf('*/', j);
    if (close < 0) throw new DdlSyntaxError('unterminated comment', start);
    this.i = close + 2;
  }

  private runs(mariadbOnly: boolean, version: number): boolean {
    const server = this.options.server;
    if (!server) return true;
    if (mariadbOnly && !server.mariadb) return false;
    // MariaDB skips /*!50700 … */ to /*!99999 … */: MySQL 5.7+ syntax it may not know.
    if (server.mariadb && !mariadbOnly && version >= 50700 && version <= 99999) return false;
    return version <= server.version;
  }

  private quoted(quote: string): void {
    const start = this.i;
    const text = this.scanQuoted(quote, false, 'quoted identifier');
    this.push({ kind: 'quoted', text, pos: start, end: this.i });
  }

  /** A string starting at `this.i` (the quote); `pos` is where its token starts (before an introducer). */
  private string(quote: string, pos: number, charset: string | undefined): DdlStringToken {
    const value = this.scanQuoted(quote, !this.options.noBackslashEscapes, 'string');
    return charset === undefined
      ? { kind: 'string', value, pos, end: this.i }
      : { kind: 'string', value, charset, pos, end: this.i };
  }

  /** The text between `quote` at `this.i` and its closing quote (doubled quotes are one), unescaped. */
  private scanQuoted(quote: string, backslashEscapes: boolean, what: string): string {
    const { sql } = this;
    let value = '';
    let j = this.i + 1;
    for (;;) {
      if (j >= sql.length) throw new DdlSyntaxError(`unterminated ${what}`, this.i);
      const ch = sql[j]!;
      if (ch === quote && sql[j + 1] === quote) {
        value += quote;
        j += 2;
      } else if (ch === quote) {
        break;
      } else if (ch === '\\' && backslashEscapes && j + 1 < sql.length) {
        const escaped = sql[j + 1]!;
        value += ESCAPES[escaped] ?? escaped;
        j += 2;
      } else {
        value += ch;
        j++;
      }
    }
    this.i = j + 1;
    return value;
  }

  private variable(): void {
    const { sql } = this;
    const start = this.i;
    let j = this.i + 1;
    if (sql[j] === '@') j++;
    if (sql[j] === '`' || sql[j] === "'" || sql[j] === '"') {
      const quote = sql[j]!;
      const close = sql.indexOf(quote, j + 1);
      if (close < 0) throw new DdlSyntaxError('unterminated variable name', start);
      j = close + 1;
    } else {
      while (isIdentChar(sql[j]) || sql[j] === '.') j++;
    }
    this.literal('variable', start, j);
  }

  /** A literal token of the text [start, end), which the lexer moves past. */
  private literal(kind: DdlLiteralToken['kind'], start: number, end: number): void {
    this.i = end;
    this.push({ kind, text: this.sql.slice(start, end), pos: start, end });
  }

  private number(): void {
    const { sql } = this;
    const start = this.i;
    let j = this.i;
    if (sql[j] === '0' && (sql[j + 1] === 'x' || sql[j + 1] === 'b')) {
      const hex = sql[j + 1] === 'x';
      let k = j + 2;
      while (hex ? isHexDigit(sql[k]) : sql[k] === '0' || sql[k] === '1') k++;
      if (k > j + 2 && !isIdentChar(sql[k])) {
        this.literal(hex ? 'hex' : 'bits', start, k);
        return;
      }
    }
    while (isDigit(sql[j])) j++;
    if (sql[j] === '.') {
      j++;
      while (isDigit(sql[j])) j++;
    }
    if (sql[j] === 'e' || sql[j] === 'E') {
      let k = j + 1;
      if (sql[k] === '+' || sql[k] === '-') k++;
      if (isDigit(sql[k])) {
        while (isDigit(sql[k])) k++;
        j = k;
      }
    }
    if (isIdentChar(sql[j]) && !sql.slice(start, j).includes('.')) {
      this.word(); // `1st_col`: an identifier may start with digits
      return;
    }
    this.literal('number', start, j);
  }

  private word(): void {
    const { sql } = this;
    const start = this.i;
    let j = this.i;
    while (isIdentChar(sql[j])) j++;
    const text = sql.slice(start, j);
    const quote = sql[j];
    if (quote === "'" || (quote === '"' && !this.options.ansiQuotes)) {
      const upper = text.toUpperCase();
      if ((upper === 'X' || upper === 'B') && quote === "'") {
        const close = sql.indexOf("'", j + 1);
        if (close < 0) throw new DdlSyntaxError('unterminated literal', start);
        this.literal(upper === 'X' ? 'hex' : 'bits', start, close + 1);
        return;
      }
      if (upper === 'N' || text.startsWith('_')) {
        this.i = j;
        this.push(this.string(quote, start, upper === 'N' ? 'utf8mb3' : text.slice(1).toLowerCase()));
        return;
      }
    }
    this.i = j;
    this.push({ kind: 'word', text, upper: text.toUpperCase(), pos: start, end: j });
  }

  private operator(): void {
    const { sql } = this;
    const start = this.i;
    const op = OPERATORS.find((o) => sql.startsWith(o, start)) ?? (SINGLE.includes(sql[start]!) ? sql[start]! : '');
    if (op === '') throw new DdlSyntaxError(`unexpected character ${JSON.stringify(sql[start])}`, start);
    this.i += op.length;
    this.push({ kind: 'op', text: op, pos: start, end: this.i });
  }
}
