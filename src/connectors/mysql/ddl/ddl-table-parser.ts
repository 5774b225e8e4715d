import type { DdlTableConstraint, DdlTableOptions } from './ddl-ast.js';
import { acceptCharsetKeyword, checkExpression, parseKeyParts, skipReferences } from './ddl-column-parser.js';
import type { DdlTokenCursor } from './ddl-token-cursor.js';

/** Words that start a table element or an ADD spec that is not a column. */
export const CONSTRAINT_STARTS = [
  'CONSTRAINT',
  'PRIMARY',
  'UNIQUE',
  'KEY',
  'INDEX',
  'FULLTEXT',
  'SPATIAL',
  'FOREIGN',
  'CHECK',
];

/** Table options that take a value without `=` too (`ENGINE InnoDB`); `word = value` is always an option. */
const VALUE_OPTIONS = new Set([
  'ENGINE',
  'TYPE',
  'AUTO_INCREMENT',
  'AVG_ROW_LENGTH',
  'CHECKSUM',
  'TABLE_CHECKSUM',
  'COMMENT',
  'COMPRESSION',
  'CONNECTION',
  'DELAY_KEY_WRITE',
  'ENCRYPTION',
  'ENCRYPTED',
  'ENCRYPTION_KEY_ID',
  'IETF_QUOTES',
  'INSERT_METHOD',
  'KEY_BLOCK_SIZE',
  'MAX_ROWS',
  'MIN_ROWS',
  'PACK_KEYS',
  'PAGE_CHECKSUM',
  'PAGE_COMPRESSED',
  'PAGE_COMPRESSION_LEVEL',
  'PASSWORD',
  'ROW_FORMAT',
  'SEQUENCE',
  'STATS_AUTO_RECALC',
  'STATS_PERSISTENT',
  'STATS_SAMPLE_PAGES',
  'TRANSACTIONAL',
  'ENGINE_ATTRIBUTE',
  'SECONDARY_ENGINE',
  'SECONDARY_ENGINE_ATTRIBUTE',
  'AUTOEXTEND_SIZE',
]);

/** An index, key, foreign key or check (table element or ADD spec); starts at one of CONSTRAINT_STARTS. */
export function parseTableConstraint(c: DdlTokenCursor): DdlTableConstraint {
  let name: string | undefined;
  if (c.acceptWord('CONSTRAINT') && !c.isWord(['PRIMARY', 'UNIQUE', 'FOREIGN', 'CHECK'])) {
    c.ifNotExists();
    name = c.identifier('a constraint name');
  }
  if (c.acceptWords('PRIMARY', 'KEY')) {
    const parts = indexBody(c);
    return { kind: 'primaryKey', parts };
  }
  if (c.acceptWords('FOREIGN', 'KEY')) {
    c.ifNotExists();
    if (c.isIdentifier()) name = c.identifier();
    parseKeyParts(c);
    c.expectWord('REFERENCES');
    skipReferences(c);
    return name === undefined ? { kind: 'foreignKey' } : { kind: 'foreignKey', name };
  }
  if (c.acceptWord('CHECK')) {
    const jsonValidColumn = checkExpression(c);
    if (!c.acceptWord('ENFORCED')) c.acceptWords('NOT', 'ENFORCED');
    return {
      kind: 'check',
      ...(name === undefined ? {} : { name }),
      ...(jsonValidColumn === undefined ? {} : { jsonValidColumn }),
    };
  }
  const unique = c.acceptWord('UNIQUE');
  if (!unique && !c.acceptWord('FULLTEXT') && !c.acceptWord('SPATIAL') && !c.isWord(['INDEX', 'KEY'])) {
    c.fail('expected a key or constraint');
  }
  if (!c.acceptWord('INDEX')) c.acceptWord('KEY');
  c.ifNotExists();
  if (c.isIdentifier() && !c.isWord('USING')) name = c.identifier();
  const parts = indexBody(c);
  return { kind: 'index', unique, parts, ...(name === undefined ? {} : { name }) };
}

/** [USING type] ( parts ) [index options]. */
function indexBody(c: DdlTokenCursor): ReturnType<typeof parseKeyParts> {
  if (c.acceptWord('USING') || c.acceptWord('TYPE')) c.next();
  if (!c.isOp('(') && c.isIdentifier()) c.identifier(); // a name written after PRIMARY KEY
  if (c.acceptWord('USING') || c.acceptWord('TYPE')) c.next();
  const parts = parseKeyParts(c);
  skipIndexOptions(c);
  return parts;
}

/** USING, KEY_BLOCK_SIZE, COMMENT, [IN]VISIBLE, [NOT] IGNORED, WITH PARSER, ENGINE_ATTRIBUTE, CLUSTERING. */
export function skipIndexOptions(c: DdlTokenCursor): void {
  for (;;) {
    if (c.acceptWord('USING') || c.acceptWords('WITH', 'PARSER')) c.next();
    else if (c.isWord(['KEY_BLOCK_SIZE', 'COMMENT', 'ENGINE_ATTRIBUTE', 'SECONDARY_ENGINE_ATTRIBUTE', 'CLUSTERING'])) {
      c.next();
      c.acceptOp('=');
      c.next();
    } else if (c.acceptWord('VISIBLE') || c.acceptWord('INVISIBLE') || c.acceptWord('IGNORED')) continue;
    else if (c.acceptWords('NOT', 'IGNORED')) continue;
    else return;
  }
}

/**
 * Table (or database) options, separated by spaces or commas, up to the first word that is no option.
 * `inAlter`: a comma ends the options (it separates ALTER specs).
 */
export function parseTableOptions(c: DdlTokenCursor, inAlter: boolean): DdlTableOptions {
  let charset: string | undefined;
  let collation: string | undefined;
  let systemVersioning = false;
  const other: string[] = [];
  for (;;) {
    if (!inAlter && c.isOp(',') && (c.peek(1).kind === 'word' || c.peek(1).kind === 'quoted')) {
      const mark = c.mark();
      c.next();
      if (!isTableOptionStart(c)) {
        c.reset(mark);
        break;
      }
    }
    const hadDefault = c.acceptWord('DEFAULT');
    if (acceptCharsetKeyword(c)) charset = c.charsetName();
    else if (c.acceptWord('COLLATE')) {
      c.acceptOp('=');
      collation = c.charsetName();
    } else if (hadDefault) c.fail('expected CHARACTER SET or COLLATE');
    else if (c.acceptWords('WITH', 'SYSTEM', 'VERSIONING')) systemVersioning = true;
    else if (c.acceptWords('START', 'TRANSACTION')) other.push('START TRANSACTION');
    else if (c.acceptWords('DATA', 'DIRECTORY') || c.acceptWords('INDEX', 'DIRECTORY')) {
      other.push('DIRECTORY');
      c.acceptOp('=');
      c.string();
    } else if (c.acceptWord('TABLESPACE')) {
      other.push('TABLESPACE');
      c.identifier();
      if (c.acceptWord('STORAGE')) c.next();
    } else if (c.acceptWord('UNION')) {
      other.push('UNION');
      c.acceptOp('=');
      c.skipOne();
    } else if (isTableOptionStart(c)) {
      const token = c.next();
      other.push(token.kind === 'word' ? token.upper : '');
      c.acceptOp('=');
      c.next();
    } else break;
  }
  return {
    other,
    systemVersioning,
    ...(charset === undefined ? {} : { charset }),
    ...(collation === undefined ? {} : { collation }),
  };
}

function isTableOptionStart(c: DdlTokenCursor): boolean {
  if (c.isWord(['DEFAULT', 'CHARACTER', 'CHARSET', 'COLLATE', 'TABLESPACE', 'UNION'])) return true;
  if (c.isWords('CHAR', 'SET') || c.isWords('WITH', 'SYSTEM') || c.isWords('START', 'TRANSACTION')) return true;
  if (c.isWords('DATA', 'DIRECTORY') || c.isWords('INDEX', 'DIRECTORY')) return true;
  const token = c.peek();
  return token.kind === 'word' && (VALUE_OPTIONS.has(token.upper) || c.isOp('=', 1));
}
