import type { DdlColumnDefinition, DdlDataType, DdlKeyPart } from './ddl-ast.js';
import type { DdlTokenCursor } from './ddl-token-cursor.js';

/** Type names that are another type under a different name (MySQL's aliases). */
const ALIASES: Readonly<Record<string, string>> = {
  INT1: 'tinyint',
  INT2: 'smallint',
  INT3: 'mediumint',
  MIDDLEINT: 'mediumint',
  INTEGER: 'int',
  INT4: 'int',
  INT8: 'bigint',
  DEC: 'decimal',
  NUMERIC: 'decimal',
  FIXED: 'decimal',
  FLOAT4: 'float',
  FLOAT8: 'double',
  REAL: 'double',
  CHARACTER: 'char',
  VARCHARACTER: 'varchar',
  NVARCHAR: 'varchar',
  NCHAR: 'char',
  GEOMCOLLECTION: 'geometrycollection',
};

const BINARY_OPERATORS = new Set(['+', '-', '*', '/', '%', '||', '&&', '=', '<', '>', '<=', '>=', '<>', '!=', '<=>']);
const BINARY_WORDS = ['AND', 'OR', 'XOR', 'DIV', 'MOD', '<<', '>>', '&', '|', '^'];

interface MutableType {
  name: string;
  args: number[];
  values?: string[];
  unsigned: boolean;
  zerofill: boolean;
  charset?: string;
  collation?: string;
  binaryCollation: boolean;
}

/** A column type with its modifiers (UNSIGNED, ZEROFILL, CHARACTER SET, COLLATE, BINARY, …). */
export function parseDataType(c: DdlTokenCursor): DdlDataType & { readonly serial: boolean } {
  const type: MutableType = { name: '', args: [], unsigned: false, zerofill: false, binaryCollation: false };
  let serial = false;
  let national = false;
  if (c.acceptWord('NATIONAL')) national = true;
  const word = c.identifier('a type').toUpperCase();
  if (word === 'NCHAR' || word === 'NVARCHAR') national = true;
  if (word === 'SERIAL') {
    type.name = 'bigint';
    type.unsigned = true;
    serial = true;
  } else if (word === 'BOOL' || word === 'BOOLEAN') {
    type.name = 'tinyint';
    type.args = [1];
  } else if (word === 'DOUBLE') {
    c.acceptWord('PRECISION');
    type.name = 'double';
  } else if (word === 'LONG') {
    // LONG, LONG VARCHAR, LONG CHAR VARYING: MEDIUMTEXT; LONG VARBINARY: MEDIUMBLOB.
    if (c.acceptWord('VARBINARY')) type.name = 'mediumblob';
    else {
      if (!c.acceptWord('VARCHAR') && c.acceptWord('CHAR')) c.expectWord('VARYING');
      type.name = 'mediumtext';
    }
  } else {
    type.name = ALIASES[word] ?? word.toLowerCase();
    if (type.name === 'char' && (c.acceptWord('VARYING') || c.acceptWord('VARCHAR'))) type.name = 'varchar';
  }
  if (national) type.charset = 'utf8mb3';

  if (c.acceptOp('(')) {
    if (type.name === 'enum' || type.name === 'set') {
      type.values = [c.string()];
      while (c.acceptOp(',')) type.values.push(c.string());
    } else {
      type.args.push(c.integer());
      while (c.acceptOp(',')) type.args.push(c.integer());
    }
    c.expectOp(')');
  }
  parseTypeModifiers(c, type);
  if (type.name === 'char' && c.acceptWord('BYTE')) type.name = 'binary';
  return { ...type, serial };
}

function parseTypeModifiers(c: DdlTokenCursor, type: MutableType): void {
  for (;;) {
    if (c.acceptWord('UNSIGNED')) type.unsigned = true;
    else if (c.acceptWord('SIGNED')) type.unsigned = false;
    else if (c.acceptWord('ZEROFILL')) {
      type.zerofill = true;
      type.unsigned = true;
    } else if (c.acceptWord('BINARY')) type.binaryCollation = true;
    else if (c.acceptWord('ASCII')) type.charset = 'latin1';
    else if (c.acceptWord('UNICODE')) type.charset = 'ucs2';
    else if (acceptCharsetKeyword(c)) type.charset = c.charsetName();
    else if (c.acceptWord('COLLATE')) type.collation = c.charsetName();
    else return;
  }
}

/** CHARACTER SET, CHARSET or CHAR SET, with an optional `=`. */
export function acceptCharsetKeyword(c: DdlTokenCursor): boolean {
  if (!c.acceptWords('CHARACTER', 'SET') && !c.acceptWord('CHARSET') && !c.acceptWords('CHAR', 'SET')) return false;
  c.acceptOp('=');
  return true;
}

/** A column definition: name, type, attributes. Stops before `,`, `)`, FIRST, AFTER or the end. */
export function parseColumnDefinition(c: DdlTokenCursor): DdlColumnDefinition {
  const name = c.identifier('a column name');
  const { serial, values, args, ...parsedType } = parseDataType(c);
  const type: MutableType = { ...parsedType, args: [...args], ...(values ? { values: [...values] } : {}) };
  let nullable: boolean | undefined = serial ? false : undefined;
  let primaryKey = false;
  let unique = serial;
  let autoIncrement = serial;
  let invisible = false;
  let jsonCheck = false;
  let defaultSql: string | undefined;
  let onUpdateSql: string | undefined;
  let comment: string | undefined;
  let generated: DdlColumnDefinition['generated'];
  for (;;) {
    if (c.atEnd() || c.isOp(',') || c.isOp(')') || c.isWord(['FIRST', 'AFTER', 'PARTITION'])) break;
    if (c.acceptWords('NOT', 'NULL')) nullable = false;
    else if (c.acceptWord('NULL')) nullable = true;
    else if (c.acceptWords('SERIAL', 'DEFAULT', 'VALUE')) {
      nullable = false;
      autoIncrement = true;
      unique = true;
    } else if (c.acceptWord('DEFAULT')) defaultSql = expressionText(c);
    else if (c.acceptWords('ON', 'UPDATE')) onUpdateSql = expressionText(c);
    else if (c.acceptWord('AUTO_INCREMENT')) autoIncrement = true;
    else if (c.acceptWords('PRIMARY', 'KEY') || c.acceptWord('KEY')) primaryKey = true;
    else if (c.acceptWord('UNIQUE')) {
      if (!c.acceptWord('KEY')) c.acceptWord('INDEX');
      unique = true;
    } else if (c.acceptWord('COMMENT')) comment = c.string();
    else if (c.acceptWord('INVISIBLE')) invisible = true;
    else if (c.acceptWord('VISIBLE')) invisible = false;
    else if (c.isWord('GENERATED') || c.isWord('AS')) generated = parseGenerated(c);
    else if (c.isWord('CHECK') || c.isWord('CONSTRAINT')) {
      if (c.acceptWord('CONSTRAINT') && !c.isWord('CHECK')) c.identifier();
      c.expectWord('CHECK');
      if (checkExpression(c)?.toLowerCase() === name.toLowerCase()) jsonCheck = true;
    } else if (c.acceptWord('REFERENCES')) skipReferences(c);
    else if (c.acceptWord('COLUMN_FORMAT') || c.acceptWord('STORAGE') || c.acceptWord('SRID')) c.next();
    else if (c.acceptWord('COMPRESSED')) {
      if (c.acceptOp('=')) c.next();
    } else if (c.isWord(['ENGINE_ATTRIBUTE', 'SECONDARY_ENGINE_ATTRIBUTE', 'REF_SYSTEM_ID'])) {
      c.next();
      c.acceptOp('=');
      c.next();
    } else if (c.acceptWords('WITH', 'SYSTEM', 'VERSIONING') || c.acceptWords('WITHOUT', 'SYSTEM', 'VERSIONING')) {
      // Per-column system versioning: no effect on the column itself.
    } else if (c.acceptWord('COLLATE')) type.collation = c.charsetName();
    else if (acceptCharsetKeyword(c)) type.charset = c.charsetName();
    else if (c.acceptWord('BINARY')) type.binaryCollation = true;
    else c.fail(`unexpected attribute of column ${name}`);
  }
  const column: DdlColumnDefinition = {
    name,
    type,
    primaryKey,
    unique,
    autoIncrement,
    invisible,
    jsonCheck,
    ...(nullable === undefined ? {} : { nullable }),
    ...(defaultSql === undefined ? {} : { defaultSql }),
    ...(onUpdateSql === undefined ? {} : { onUpdateSql }),
    ...(comment === undefined ? {} : { comment }),
    ...(generated === undefined ? {} : { generated }),
  };
  return column;
}

function parseGenerated(c: DdlTokenCursor): DdlColumnDefinition['generated'] {
  if (c.acceptWord('GENERATED')) c.expectWord('ALWAYS');
  c.expectWord('AS');
  if (!c.isOp('(')) c.fail('expected ( expression )');
  const start = c.mark();
  c.skipOne();
  const expressionSql = c.textFrom(start).slice(1, -1).trim();
  let stored = false;
  if (c.acceptWord('STORED') || c.acceptWord('PERSISTENT')) stored = true;
  else c.acceptWord('VIRTUAL');
  return { expressionSql, stored };
}

/**
 * A parenthesized CHECK expression; returns the column when the check is exactly `json_valid(column)` (what
 * MariaDB's JSON type is), else undefined.
 */
export function checkExpression(c: DdlTokenCursor): string | undefined {
  if (!c.isOp('(')) c.fail('expected ( expression )');
  const start = c.mark();
  let column: string | undefined;
  if (c.isWord('JSON_VALID', 1) && c.isOp('(', 2) && c.isOp(')', 4) && c.isOp(')', 5)) {
    c.next();
    c.next();
    c.next();
    column = c.identifier();
  }
  c.reset(start);
  c.skipOne();
  return column;
}

/** REFERENCES t (cols) [MATCH …] [ON DELETE|UPDATE action]…, after REFERENCES. */
export function skipReferences(c: DdlTokenCursor): void {
  c.tableName();
  if (c.isOp('(')) c.skipOne();
  if (c.acceptWord('MATCH')) c.next();
  while (c.acceptWord('ON')) {
    if (!c.acceptWord('DELETE')) c.expectWord('UPDATE');
    if (c.acceptWord('SET')) c.next();
    else if (c.acceptWord('NO')) c.expectWord('ACTION');
    else c.next(); // RESTRICT, CASCADE
  }
}

/** `( part, … )` of an index: columns with optional prefix lengths and ASC/DESC, or (expressions). */
export function parseKeyParts(c: DdlTokenCursor): DdlKeyPart[] {
  c.expectOp('(');
  const parts: DdlKeyPart[] = [];
  do {
    if (c.isOp('(')) {
      c.skipOne();
      parts.push({});
    } else {
      const column = c.identifier('a column name');
      let length: number | undefined;
      if (c.acceptOp('(')) {
        length = c.integer();
        c.expectOp(')');
      }
      parts.push(length === undefined ? { column } : { column, length });
    }
    if (!c.acceptWord('ASC')) c.acceptWord('DESC');
  } while (c.acceptOp(','));
  c.expectOp(')');
  return parts;
}

/** Skips one scalar expression (a DEFAULT or ON UPDATE value) and returns its text. */
export function expressionText(c: DdlTokenCursor): string {
  const start = c.mark();
  skipExpression(c);
  return c.textFrom(start);
}

/** Skips one scalar expression: operands (literals, names, calls, ( … )) joined by binary operators. */
export function skipExpression(c: DdlTokenCursor): void {
  for (;;) {
    while (c.isOp('-') || c.isOp('+') || c.isOp('~') || c.isOp('!')) c.next();
    skipPrimary(c);
    const token = c.peek();
    const binary =
      (token.kind === 'op' && (BINARY_OPERATORS.has(token.text) || BINARY_WORDS.includes(token.text))) ||
      (token.kind === 'word' && BINARY_WORDS.includes(token.upper));
    if (!binary) return;
    c.next();
  }
}

function skipPrimary(c: DdlTokenCursor): void {
  const token = c.peek();
  switch (token.kind) {
    case 'op':
      if (token.text !== '(') c.fail('expected an expression');
      c.skipOne();
      return;
    case 'string':
      c.string();
      return;
    case 'word':
      if (token.text.startsWith('_') && c.peek(1).kind === 'string') {
        c.string();
        return;
      }
      c.next();
      while (c.acceptOp('.')) c.next();
      if (c.isOp('(')) c.skipOne();
      return;
    case 'eof':
      c.fail('expected an expression');
      return;
    default:
      c.next();
  }
}
