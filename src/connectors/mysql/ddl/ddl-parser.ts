import { parseAlterSpecs } from './ddl-alter-parser.js';
import type { DdlColumnDefinition, DdlStatement, DdlTableConstraint, DdlTableName } from './ddl-ast.js';
import { parseColumnDefinition } from './ddl-column-parser.js';
import { DdlSyntaxError, lexDdl, type DdlLexOptions } from './ddl-lexer.js';
import { CONSTRAINT_STARTS, parseTableConstraint, parseTableOptions, skipIndexOptions } from './ddl-table-parser.js';
import { DdlTokenCursor } from './ddl-token-cursor.js';

/** First words of statements that never change a table's columns. */
const IGNORED_STATEMENTS = new Set([
  'BEGIN',
  'COMMIT',
  'ROLLBACK',
  'SAVEPOINT',
  'RELEASE',
  'XA',
  'SET',
  'GRANT',
  'REVOKE',
  'FLUSH',
  'ANALYZE',
  'OPTIMIZE',
  'REPAIR',
  'CHECK',
  'CHECKSUM',
  'INSTALL',
  'UNINSTALL',
  'INSERT',
  'UPDATE',
  'DELETE',
  'REPLACE',
  'LOAD',
  'DO',
  'USE',
]);

/** Objects other than tables, databases and indexes, after CREATE/ALTER/DROP: no effect on tables' columns. */
const OTHER_OBJECTS = new Set([
  'VIEW',
  'TRIGGER',
  'PROCEDURE',
  'FUNCTION',
  'EVENT',
  'USER',
  'ROLE',
  'SERVER',
  'SEQUENCE',
  'PACKAGE',
  'AGGREGATE',
  'RESOURCE',
  'SPATIAL',
]);

/**
 * Parses one statement from a binlog QUERY event. Never throws: a statement it does not follow or cannot
 * parse is `{ kind: 'unknown', reason }`. Executable comments are parsed as statement text
 * (`options.server` decides which ones the server ran).
 */
export function parseDdl(sql: string, options: DdlLexOptions = {}): DdlStatement {
  try {
    const c = new DdlTokenCursor(sql, lexDdl(sql, options));
    const statement = parseStatement(c);
    c.acceptOp(';');
    if (statement.kind !== 'ignored' && statement.kind !== 'unknown' && !c.atEnd()) c.fail('unexpected text');
    return statement;
  } catch (error) {
    if (error instanceof DdlSyntaxError) return { kind: 'unknown', reason: `cannot parse: ${error.message}` };
    throw error;
  }
}

function parseStatement(c: DdlTokenCursor): DdlStatement {
  const first = c.peek();
  if (first.kind !== 'word') return { kind: 'unknown', reason: 'not a statement this parser knows' };
  if (c.acceptWord('CREATE')) return parseCreate(c);
  if (c.acceptWord('ALTER')) return parseAlter(c);
  if (c.acceptWord('DROP')) return parseDrop(c);
  if (c.acceptWord('RENAME')) return parseRename(c);
  if (c.acceptWord('TRUNCATE')) {
    c.acceptWord('TABLE');
    const table = c.tableName();
    skipWait(c);
    return { kind: 'truncateTable', table };
  }
  if (IGNORED_STATEMENTS.has(first.upper)) return { kind: 'ignored', statement: first.upper };
  return { kind: 'unknown', reason: `${first.upper} statements are not followed` };
}

function parseCreate(c: DdlTokenCursor): DdlStatement {
  const orReplace = c.acceptWords('OR', 'REPLACE');
  if (c.acceptWord('DATABASE') || c.acceptWord('SCHEMA')) {
    const ifNotExists = c.ifNotExists();
    const name = c.identifier('a database name');
    const { charset, collation } = parseTableOptions(c, false);
    return {
      kind: 'createDatabase',
      name,
      ifNotExists,
      orReplace,
      ...(charset === undefined ? {} : { charset }),
      ...(collation === undefined ? {} : { collation }),
    };
  }
  if (c.isWord(['ONLINE', 'OFFLINE', 'UNIQUE', 'FULLTEXT', 'INDEX']) || c.isWords('SPATIAL', 'INDEX')) {
    return parseCreateIndex(c);
  }
  const temporary = c.acceptWord('TEMPORARY');
  if (c.acceptWord('TABLE')) return parseCreateTable(c, temporary, orReplace);
  return otherObject(c, 'CREATE');
}

/** CREATE VIEW/TRIGGER/… (with DEFINER=, ALGORITHM=, SQL SECURITY … before the object word): ignored. */
function otherObject(c: DdlTokenCursor, verb: string): DdlStatement {
  for (let i = 0; i < 12 && !c.atEnd(); i++) {
    const token = c.peek();
    if (token.kind === 'word' && OTHER_OBJECTS.has(token.upper)) {
      return { kind: 'ignored', statement: `${verb} ${token.upper}` };
    }
    if (token.kind === 'word' && (token.upper === 'TABLE' || token.upper === 'TABLES')) break;
    c.next();
  }
  return { kind: 'unknown', reason: `this ${verb} statement is not followed` };
}

function parseCreateIndex(c: DdlTokenCursor): DdlStatement {
  if (!c.acceptWord('ONLINE')) c.acceptWord('OFFLINE');
  const unique = c.acceptWord('UNIQUE');
  if (!unique && !c.acceptWord('FULLTEXT')) c.acceptWord('SPATIAL');
  c.expectWord('INDEX');
  c.ifNotExists();
  const name = c.identifier('an index name');
  if (c.acceptWord('USING') || c.acceptWord('TYPE')) c.next();
  c.expectWord('ON');
  const table = c.tableName();
  skipWait(c);
  c.skipOne(); // key parts
  skipIndexOptions(c);
  skipAlgorithmLock(c);
  return { kind: 'createIndex', table, name, unique };
}

function parseCreateTable(c: DdlTokenCursor, temporary: boolean, orReplace: boolean): DdlStatement {
  const ifNotExists = c.ifNotExists();
  const table = c.tableName();
  const like = (): DdlStatement => ({
    kind: 'createTableLike',
    table,
    like: c.tableName(),
    temporary,
    ifNotExists,
    orReplace,
  });
  if (c.acceptWord('LIKE')) return like();
  if (c.isOp('(') && c.isWord('LIKE', 1)) {
    c.next();
    c.next();
    const statement = like();
    c.expectOp(')');
    return statement;
  }
  const columns: DdlColumnDefinition[] = [];
  const constraints: DdlTableConstraint[] = [];
  let asSelect = false;
  if (c.isOp('(') && (c.isWord('SELECT', 1) || c.isWord('WITH', 1) || c.isOp('(', 1))) {
    asSelect = true;
  } else if (c.acceptOp('(')) {
    do {
      if (c.isWords('PERIOD', 'FOR')) c.skipUntil(() => c.isOp(','));
      else if (c.isWord(CONSTRAINT_STARTS)) constraints.push(parseTableConstraint(c));
      else columns.push(parseColumnDefinition(c));
    } while (c.acceptOp(','));
    c.expectOp(')');
  }
  const options = parseTableOptions(c, false);
  if (c.isWords('PARTITION', 'BY')) c.skipUntil(() => isSelectStart(c));
  if (!c.atEnd()) {
    if (!c.acceptWord('IGNORE')) c.acceptWord('REPLACE');
    c.acceptWord('AS');
    if (!isSelectStart(c)) c.fail('unexpected text after the table definition');
    asSelect = true;
    c.skipUntil(() => false);
  }
  return { kind: 'createTable', table, temporary, ifNotExists, orReplace, columns, constraints, options, asSelect };
}

function isSelectStart(c: DdlTokenCursor): boolean {
  if (c.isWord(['SELECT', 'WITH', 'VALUES', 'TABLE', 'AS', 'IGNORE', 'REPLACE'])) return true;
  return c.isOp('(') && (c.isWord(['SELECT', 'WITH'], 1) || c.isOp('(', 1));
}

function parseAlter(c: DdlTokenCursor): DdlStatement {
  if (c.acceptWord('DATABASE') || c.acceptWord('SCHEMA')) {
    const name =
      c.isIdentifier() && !c.isWord(['DEFAULT', 'CHARACTER', 'CHARSET', 'COLLATE', 'CHAR'])
        ? c.identifier()
        : undefined;
    if (c.isWord('UPGRADE')) return { kind: 'ignored', statement: 'ALTER DATABASE UPGRADE' };
    const { charset, collation } = parseTableOptions(c, false);
    return {
      kind: 'alterDatabase',
      ...(name === undefined ? {} : { name }),
      ...(charset === undefined ? {} : { charset }),
      ...(collation === undefined ? {} : { collation }),
    };
  }
  if (!c.acceptWord('ONLINE')) c.acceptWord('OFFLINE');
  c.acceptWord('IGNORE');
  if (!c.acceptWord('TABLE')) return otherObject(c, 'ALTER');
  const ifExists = c.ifExists();
  const table = c.tableName();
  skipWait(c);
  return { kind: 'alterTable', table, ifExists, specs: parseAlterSpecs(c) };
}

function parseDrop(c: DdlTokenCursor): DdlStatement {
  if (c.acceptWord('DATABASE') || c.acceptWord('SCHEMA')) {
    const ifExists = c.ifExists();
    return { kind: 'dropDatabase', name: c.identifier('a database name'), ifExists };
  }
  if (c.acceptWord('INDEX')) {
    c.ifExists();
    const name = c.identifier('an index name');
    c.expectWord('ON');
    const table = c.tableName();
    skipWait(c);
    skipAlgorithmLock(c);
    return { kind: 'dropIndex', table, name };
  }
  const temporary = c.acceptWord('TEMPORARY');
  if (!c.acceptWord('TABLE') && !c.acceptWord('TABLES')) return otherObject(c, 'DROP');
  const ifExists = c.ifExists();
  const tables: DdlTableName[] = [];
  do tables.push(c.tableName());
  while (c.acceptOp(','));
  skipWait(c);
  if (!c.acceptWord('RESTRICT')) c.acceptWord('CASCADE');
  return { kind: 'dropTable', tables, temporary, ifExists };
}

function parseRename(c: DdlTokenCursor): DdlStatement {
  if (!c.acceptWord('TABLE') && !c.acceptWord('TABLES')) return otherObject(c, 'RENAME');
  const ifExists = c.ifExists();
  const renames: { from: DdlTableName; to: DdlTableName }[] = [];
  do {
    const from = c.tableName();
    skipWait(c);
    c.expectWord('TO');
    renames.push({ from, to: c.tableName() });
  } while (c.acceptOp(','));
  return { kind: 'renameTable', renames, ifExists };
}

/** MariaDB's WAIT n / NOWAIT after a table name. */
function skipWait(c: DdlTokenCursor): void {
  if (c.acceptWord('WAIT')) c.next();
  else c.acceptWord('NOWAIT');
}

function skipAlgorithmLock(c: DdlTokenCursor): void {
  while (c.acceptWord('ALGORITHM') || c.acceptWord('LOCK')) {
    c.acceptOp('=');
    c.next();
  }
}
