import type { DdlAlterSpec, DdlColumnPosition } from './ddl-ast.js';
import { acceptCharsetKeyword, expressionText, parseColumnDefinition } from './ddl-column-parser.js';
import { CONSTRAINT_STARTS, parseTableConstraint, parseTableOptions } from './ddl-table-parser.js';
import type { DdlTokenCursor } from './ddl-token-cursor.js';

/** ALTER TABLE clauses about partitions: no effect on columns, and the last clause of the statement. */
const PARTITION_CLAUSES: readonly (readonly string[])[] = [
  ['PARTITION', 'BY'],
  ['REMOVE', 'PARTITIONING'],
  ['COALESCE', 'PARTITION'],
  ['REORGANIZE', 'PARTITION'],
  ['EXCHANGE', 'PARTITION'],
  ['ANALYZE', 'PARTITION'],
  ['CHECK', 'PARTITION'],
  ['OPTIMIZE', 'PARTITION'],
  ['REBUILD', 'PARTITION'],
  ['REPAIR', 'PARTITION'],
  ['TRUNCATE', 'PARTITION'],
  ['DISCARD', 'PARTITION'],
  ['IMPORT', 'PARTITION'],
  ['UPGRADE', 'PARTITIONING'],
];

/** The specs of ALTER TABLE, after the table name: comma-separated, table options also without commas. */
export function parseAlterSpecs(c: DdlTokenCursor): DdlAlterSpec[] {
  const specs: DdlAlterSpec[] = [];
  while (!c.atEnd()) {
    const clause = PARTITION_CLAUSES.find((words) => c.isWords(...words));
    if (clause) {
      c.skipUntil(() => false);
      specs.push({ kind: 'noEffect', what: clause.join(' ') });
      break;
    }
    if (c.isWords('CONVERT', 'PARTITION') || c.isWords('CONVERT', 'TABLE')) {
      // Moves rows between this table and another one, which appears or disappears.
      c.fail('CONVERT PARTITION/TABLE is not followed');
    }
    specs.push(...parseSpec(c));
    if (!c.acceptOp(',') && !c.atEnd() && !startsWithoutComma(c)) c.fail('expected , between ALTER TABLE clauses');
  }
  return specs;
}

/** Table options and partition clauses may follow the previous clause without a comma. */
function startsWithoutComma(c: DdlTokenCursor): boolean {
  if (PARTITION_CLAUSES.some((words) => c.isWords(...words))) return true;
  const mark = c.mark();
  const options = parseTableOptions(c, true);
  const moved = c.mark() !== mark;
  c.reset(mark);
  return moved && (options.other.length > 0 || options.charset !== undefined || options.collation !== undefined);
}

function parseSpec(c: DdlTokenCursor): DdlAlterSpec[] {
  if (c.acceptWord('ADD')) return parseAdd(c);
  if (c.acceptWord('DROP')) return [parseDrop(c)];
  if (c.acceptWord('MODIFY')) {
    c.acceptWord('COLUMN');
    const ifExists = c.ifExists();
    const column = parseColumnDefinition(c);
    return [{ kind: 'modifyColumn', column, ifExists, ...position(c) }];
  }
  if (c.acceptWord('CHANGE')) {
    c.acceptWord('COLUMN');
    const ifExists = c.ifExists();
    const oldName = c.identifier('a column name');
    const column = parseColumnDefinition(c);
    return [{ kind: 'changeColumn', oldName, column, ifExists, ...position(c) }];
  }
  if (c.acceptWord('ALTER')) return [parseAlterColumn(c)];
  if (c.acceptWord('RENAME')) return [parseRename(c)];
  if (c.acceptWords('CONVERT', 'TO')) {
    if (!acceptCharsetKeyword(c)) c.fail('expected CHARACTER SET');
    const charset = c.charsetName();
    if (!c.acceptWord('COLLATE')) return [{ kind: 'convertCharset', charset }];
    c.acceptOp('=');
    return [{ kind: 'convertCharset', charset, collation: c.charsetName() }];
  }
  if (c.acceptWord('ALGORITHM') || c.acceptWord('LOCK')) {
    c.acceptOp('=');
    c.next();
    return [{ kind: 'noEffect', what: 'ALGORITHM/LOCK' }];
  }
  for (const words of [
    ['ENABLE', 'KEYS'],
    ['DISABLE', 'KEYS'],
    ['FORCE'],
    ['WITH', 'VALIDATION'],
    ['WITHOUT', 'VALIDATION'],
  ]) {
    if (c.acceptWords(...words)) return [{ kind: 'noEffect', what: words.join(' ') }];
  }
  if (c.acceptWords('DISCARD', 'TABLESPACE') || c.acceptWords('IMPORT', 'TABLESPACE')) {
    return [{ kind: 'noEffect', what: 'TABLESPACE' }];
  }
  if (c.acceptWords('ORDER', 'BY')) {
    // ORDER BY a [ASC], b …: a comma followed by a lone name (not the start of a clause) continues the list.
    const continues = (): boolean => {
      const after = c.peek(2);
      const lone = after.kind === 'eof' || c.isOp(',', 2) || c.isOp(';', 2) || c.isWord(['ASC', 'DESC'], 2);
      return c.isOp(',') && c.isIdentifier(1) && lone && !c.isWord('FORCE', 1);
    };
    do {
      c.identifier('a column name');
      if (!c.acceptWord('ASC')) c.acceptWord('DESC');
    } while (continues() && c.acceptOp(','));
    return [{ kind: 'noEffect', what: 'ORDER BY' }];
  }
  const mark = c.mark();
  const options = parseTableOptions(c, true);
  if (c.mark() === mark) c.fail('expected an ALTER TABLE clause');
  if (options.systemVersioning) return [{ kind: 'unsupported', what: 'WITH SYSTEM VERSIONING' }];
  return [{ kind: 'tableOptions', options }];
}

function parseAdd(c: DdlTokenCursor): DdlAlterSpec[] {
  if (c.isWord('PARTITION')) {
    c.skipUntil(() => false);
    return [{ kind: 'noEffect', what: 'ADD PARTITION' }];
  }
  if (c.acceptWords('SYSTEM', 'VERSIONING')) return [{ kind: 'unsupported', what: 'ADD SYSTEM VERSIONING' }];
  if (c.acceptWords('PERIOD', 'FOR')) {
    c.skipUntil(() => c.isOp(','));
    return [{ kind: 'noEffect', what: 'ADD PERIOD' }];
  }
  if (c.isWord(CONSTRAINT_STARTS)) {
    const ifNotExists = c.isWords('CONSTRAINT', 'IF', 'NOT', 'EXISTS');
    return [{ kind: 'addConstraint', constraint: parseTableConstraint(c), ifNotExists }];
  }
  c.acceptWord('COLUMN');
  const ifNotExists = c.ifNotExists();
  if (!c.acceptOp('(')) {
    const column = parseColumnDefinition(c);
    return [{ kind: 'addColumn', column, ifNotExists, ...position(c) }];
  }
  const specs: DdlAlterSpec[] = [];
  do {
    if (c.isWord(CONSTRAINT_STARTS)) {
      specs.push({ kind: 'addConstraint', constraint: parseTableConstraint(c), ifNotExists: false });
    } else specs.push({ kind: 'addColumn', column: parseColumnDefinition(c), ifNotExists });
  } while (c.acceptOp(','));
  c.expectOp(')');
  return specs;
}

function parseDrop(c: DdlTokenCursor): DdlAlterSpec {
  if (c.acceptWords('PRIMARY', 'KEY')) return { kind: 'dropPrimaryKey' };
  if (c.isWord('PARTITION')) {
    c.skipUntil(() => false);
    return { kind: 'noEffect', what: 'DROP PARTITION' };
  }
  if (c.acceptWords('SYSTEM', 'VERSIONING')) return { kind: 'unsupported', what: 'DROP SYSTEM VERSIONING' };
  if (c.acceptWords('PERIOD', 'FOR')) {
    c.ifExists();
    c.identifier();
    return { kind: 'noEffect', what: 'DROP PERIOD' };
  }
  let what: 'index' | 'foreignKey' | 'constraint' | 'check' | undefined;
  if (c.acceptWord('INDEX') || c.acceptWord('KEY')) what = 'index';
  else if (c.acceptWords('FOREIGN', 'KEY')) what = 'foreignKey';
  else if (c.acceptWord('CONSTRAINT')) what = 'constraint';
  else if (c.acceptWord('CHECK')) what = 'check';
  if (what !== undefined) {
    const ifExists = c.ifExists();
    return { kind: 'dropConstraint', what, name: c.identifier('a name'), ifExists };
  }
  c.acceptWord('COLUMN');
  const ifExists = c.ifExists();
  const name = c.identifier('a column name');
  if (!c.acceptWord('RESTRICT')) c.acceptWord('CASCADE');
  return { kind: 'dropColumn', name, ifExists };
}

function parseAlterColumn(c: DdlTokenCursor): DdlAlterSpec {
  if (c.acceptWord('INDEX') || c.acceptWord('KEY')) {
    c.identifier();
    c.acceptWord('NOT');
    c.next(); // VISIBLE, INVISIBLE, IGNORED
    return { kind: 'noEffect', what: 'ALTER INDEX' };
  }
  if (c.acceptWord('CHECK') || c.acceptWord('CONSTRAINT')) {
    c.identifier();
    c.acceptWord('NOT');
    c.expectWord('ENFORCED');
    return { kind: 'noEffect', what: 'ALTER CONSTRAINT' };
  }
  c.acceptWord('COLUMN');
  const ifExists = c.ifExists();
  const name = c.identifier('a column name');
  if (c.acceptWords('SET', 'DEFAULT')) return { kind: 'alterColumn', name, ifExists, defaultSql: expressionText(c) };
  if (c.acceptWords('DROP', 'DEFAULT')) return { kind: 'alterColumn', name, ifExists, defaultSql: null };
  if (!c.acceptWords('SET', 'VISIBLE') && !c.acceptWords('SET', 'INVISIBLE')) {
    c.fail('expected SET DEFAULT or DROP DEFAULT');
  }
  return { kind: 'alterColumn', name, ifExists };
}

function parseRename(c: DdlTokenCursor): DdlAlterSpec {
  if (c.acceptWord('COLUMN')) {
    const ifExists = c.ifExists();
    const from = c.identifier('a column name');
    c.expectWord('TO');
    return { kind: 'renameColumn', from, to: c.identifier('a column name'), ifExists };
  }
  if (c.acceptWord('INDEX') || c.acceptWord('KEY')) {
    c.ifExists();
    c.identifier();
    c.expectWord('TO');
    c.identifier();
    return { kind: 'noEffect', what: 'RENAME INDEX' };
  }
  if (!c.acceptWord('TO')) c.acceptWord('AS');
  return { kind: 'renameTable', to: c.tableName() };
}

function position(c: DdlTokenCursor): { position?: DdlColumnPosition } {
  if (c.acceptWord('FIRST')) return { position: { kind: 'first' } };
  if (c.acceptWord('AFTER')) return { position: { kind: 'after', column: c.identifier('a column name') } };
  return {};
}
