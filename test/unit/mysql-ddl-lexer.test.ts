import { describe, expect, it } from 'vitest';
import {
  DdlSyntaxError,
  ddlLexOptionsForServer,
  lexDdl,
  type DdlLexOptions,
  type DdlToken,
} from '../../src/connectors/mysql/ddl/ddl-lexer.js';

/** Tokens as short strings: `w:ALTER` (word, upper case), `q:name`, `s:value`, `n:12`, `o:(`, `h:0x1F` … */
function tokens(sql: string, options?: DdlLexOptions): string[] {
  return lexDdl(sql, options)
    .filter((t) => t.kind !== 'eof')
    .map((t: DdlToken) => {
      switch (t.kind) {
        case 'word':
          return `w:${t.upper}`;
        case 'quoted':
          return `q:${t.text}`;
        case 'string':
          return t.charset === undefined ? `s:${t.value}` : `s[${t.charset}]:${t.value}`;
        case 'number':
          return `n:${t.text}`;
        case 'hex':
        case 'bits':
          return `${t.kind[0]}:${t.text}`;
        case 'variable':
          return `v:${t.text}`;
        case 'op':
          return `o:${t.text}`;
        default:
          return t.kind;
      }
    });
}

describe('DDL lexer', () => {
  it('reads bare, unicode and back-quoted identifiers (with doubled back-quotes)', () => {
    expect(tokens('ALTER table `my table` ADD ünï_col$ INT')).toEqual([
      'w:ALTER',
      'w:TABLE',
      'q:my table',
      'w:ADD',
      'w:ÜNÏ_COL$',
      'w:INT',
    ]);
    expect(tokens('`we``ird`.`日本`')).toEqual(['q:we`ird', 'o:.', 'q:日本']);
  });

  it('keeps the original spelling of words besides the upper-case form', () => {
    const [word] = lexDdl('CamelCase');
    expect(word).toMatchObject({ kind: 'word', text: 'CamelCase', upper: 'CAMELCASE' });
  });

  it('reads identifiers that start with digits, and qualified names with digits', () => {
    expect(tokens('1st_col db.1t 12 1e5 .5 1.25 3e-2')).toEqual([
      'w:1ST_COL',
      'w:DB',
      'o:.',
      'w:1T',
      'n:12',
      'n:1e5',
      'n:.5',
      'n:1.25',
      'n:3e-2',
    ]);
  });

  it('unescapes strings in single and double quotes: backslash escapes and doubled quotes', () => {
    expect(tokens(`'it''s' "say ""hi""" 'a\\'b' 'tab\\tnl\\n' 'back\\\\slash' 'pct\\%' 'x\\q'`)).toEqual([
      "s:it's",
      's:say "hi"',
      "s:a'b",
      's:tab\tnl\n',
      's:back\\slash',
      's:pct\\%',
      's:xq',
    ]);
  });

  it('honours NO_BACKSLASH_ESCAPES and ANSI_QUOTES', () => {
    expect(tokens(`'a\\'`, { noBackslashEscapes: true })).toEqual(['s:a\\']);
    expect(tokens(`"col" 'str'`, { ansiQuotes: true })).toEqual(['q:col', 's:str']);
  });

  it('reads character set introducers, national strings, hexadecimal and bit literals', () => {
    expect(tokens(`_utf8mb4'x' _latin1"y" N'z' X'1F' x'ab' 0x1F b'101' 0b11 B'1'`)).toEqual([
      's[utf8mb4]:x',
      's[latin1]:y',
      's[utf8mb3]:z',
      "h:X'1F'",
      "h:x'ab'",
      'h:0x1F',
      "b:b'101'",
      'b:0b11',
      "b:B'1'",
    ]);
  });

  it('reads operators and variables', () => {
    expect(tokens('a<=>b -> c->>d := @x @@session.sql_mode != <> ||')).toEqual([
      'w:A',
      'o:<=>',
      'w:B',
      'o:->',
      'w:C',
      'o:->>',
      'w:D',
      'o::=',
      'v:@x',
      'v:@@session.sql_mode',
      'o:!=',
      'o:<>',
      'o:||',
    ]);
  });

  it('drops comments: -- with a space, #, /* */; --x is not a comment', () => {
    expect(tokens('a -- comment\nb # hash\nc /* block\n */ d --\ne 1--2')).toEqual([
      'w:A',
      'w:B',
      'w:C',
      'w:D',
      'w:E',
      'n:1',
      'o:-',
      'o:-',
      'n:2',
    ]);
  });

  it('parses the contents of executable comments', () => {
    expect(tokens('/*!40101 SET x */ a /*!b*/ /*M!100100 c */')).toEqual(['w:SET', 'w:X', 'w:A', 'w:B', 'w:C']);
  });

  it('runs executable comments by the server version: MySQL 5.7+ ones not on MariaDB, /*M! only on MariaDB', () => {
    const sql = 'a /*!50100 b */ /*!50700 c */ /*!80000 d */ /*M!100301 e */ /*!100000 f */ /*M!999999 g */ z';
    expect(tokens(sql, ddlLexOptionsForServer('10.11.19-MariaDB-0+deb12u1-log'))).toEqual([
      'w:A',
      'w:B',
      'w:E',
      'w:F',
      'w:Z',
    ]);
    expect(tokens(sql, ddlLexOptionsForServer('8.0.36'))).toEqual(['w:A', 'w:B', 'w:C', 'w:D', 'w:Z']);
    expect(tokens(sql)).toEqual(['w:A', 'w:B', 'w:C', 'w:D', 'w:E', 'w:F', 'w:G', 'w:Z']);
  });

  it('tells the server from its version string', () => {
    expect(ddlLexOptionsForServer('10.11.6-MariaDB-log')).toEqual({ server: { mariadb: true, version: 101106 } });
    expect(ddlLexOptionsForServer('5.7.44-log')).toEqual({ server: { mariadb: false, version: 50744 } });
  });

  it('records token positions in the statement', () => {
    const sql = 'ADD  `c` INT';
    const quoted = lexDdl(sql)[1]!;
    expect(sql.slice(quoted.pos, quoted.end)).toBe('`c`');
  });

  it('throws DdlSyntaxError for unterminated strings, identifiers and comments', () => {
    for (const sql of ["'abc", '`abc', '/* abc', '/*!50100 abc', 'a \\ b']) {
      expect(() => lexDdl(sql), sql).toThrow(DdlSyntaxError);
    }
  });
});
