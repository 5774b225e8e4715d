import { describe, expect, it } from 'vitest';
import { ExpressionError } from '../../src/transform/expression/expression-error.js';
import type { ExpressionNode, ProjectionItem } from '../../src/transform/expression/expression-node.js';
import { parseExpression } from '../../src/transform/expression/parser.js';
import { checkProjection, parseProjection } from '../../src/transform/projection.js';
import { thrown } from '../harness/thrown.js';

/** A compact text form of a tree, so that expectations read like the expression. */
function show(node: ExpressionNode | ProjectionItem): string {
  switch (node.kind) {
    case 'column':
      return node.qualifier === undefined ? node.name : `${node.qualifier}.${node.name}`;
    case 'star':
      return node.qualifier === undefined ? '*' : `${node.qualifier}.*`;
    case 'literal':
      return node.type === 'string' ? `'${node.value}'` : String(node.value);
    case 'call':
      return `${node.name}(${node.args.map(show).join(', ')})`;
    case 'unary':
      return `(${node.op} ${show(node.operand)})`;
    case 'binary':
      return `(${show(node.left)} ${node.op} ${show(node.right)})`;
    case 'isNull':
      return `(${show(node.operand)} IS ${node.negated ? 'NOT ' : ''}NULL)`;
    case 'isTruth':
      return `(${show(node.operand)} IS ${node.negated ? 'NOT ' : ''}${node.value ? 'TRUE' : 'FALSE'})`;
    case 'between':
      return `(${show(node.operand)} ${node.negated ? 'NOT ' : ''}BETWEEN ${show(node.low)} AND ${show(node.high)})`;
    case 'in':
      return `(${show(node.operand)} ${node.negated ? 'NOT ' : ''}IN ${node.list.map(show).join(', ')})`;
    case 'inQuery':
      return `(${show(node.operand)} ${node.negated ? 'NOT ' : ''}IN (query))`;
    case 'interval':
      return `INTERVAL ${node.ms} ms`;
    case 'exists':
      return 'EXISTS (query)';
    case 'scalarQuery':
      return '(query)';
    case 'cast':
      return `CAST(${show(node.operand)} AS ${node.type})`;
    case 'case':
      return `CASE${node.operand ? ` ${show(node.operand)}` : ''}${node.whens.map((w) => ` WHEN ${show(w.when)} THEN ${show(w.then)}`).join('')}${node.else ? ` ELSE ${show(node.else)}` : ''} END`;
    case 'alias':
      return `${show(node.expr)} AS ${node.name}`;
  }
}

const items = (text: string): string[] => parseProjection(text).items.map(show);

function errorOf(run: () => unknown): ExpressionError {
  return thrown(run, ExpressionError);
}

describe('projection parser', () => {
  it('reads Flink CDC projections: escaped star, metadata columns, aliases', () => {
    expect(items('\\*, __schema_name__ AS _db_name, __table_name__ AS _table_name')).toEqual([
      '*',
      '__schema_name__ AS _db_name',
      '__table_name__ AS _table_name',
    ]);
    expect(items('*, __data_event_type__ op')).toEqual(['*', '__data_event_type__ AS op']);
    expect(items("id, `order` AS `the order`, 'x' AS tag, 42 AS answer")).toEqual([
      'id',
      'order AS the order',
      "'x' AS tag",
      '42 AS answer',
    ]);
  });

  it('keeps positions of every node for carets', () => {
    const [, second] = parseProjection('id,  name AS n').items;
    expect(second).toMatchObject({ kind: 'alias', start: 5, end: 14, expr: { kind: 'column', start: 5, end: 9 } });
  });

  it('parses the full expression shape with SQL precedence', () => {
    expect(show(parseExpression('a + b * c - d'))).toBe('((a + (b * c)) - d)');
    expect(show(parseExpression('NOT a = 1 AND b <> 2 OR c != 3'))).toBe('(((NOT (a = 1)) AND (b <> 2)) OR (c <> 3))');
    expect(show(parseExpression("UPPER(name) || '-' || CAST(id AS VARCHAR(10))"))).toBe(
      "((UPPER(name) || '-') || CAST(id AS VARCHAR(10)))",
    );
    expect(show(parseExpression('x IS NOT NULL AND y IS NULL'))).toBe('((x IS NOT NULL) AND (y IS NULL))');
    expect(show(parseExpression('age NOT BETWEEN 18 AND 65 AND id IN (1, 2, 3)'))).toBe(
      '((age NOT BETWEEN 18 AND 65) AND (id IN 1, 2, 3))',
    );
    expect(show(parseExpression("name NOT LIKE 'a%'"))).toBe("(name NOT LIKE 'a%')");
    expect(show(parseExpression("CASE WHEN a > 1 THEN 'big' ELSE 'small' END"))).toBe(
      "CASE WHEN (a > 1) THEN 'big' ELSE 'small' END",
    );
    expect(show(parseExpression('CASE op WHEN 1 THEN x END'))).toBe('CASE op WHEN 1 THEN x END');
    expect(show(parseExpression('-(a + 1.5e3) % t.b'))).toBe('((- (a + 1500)) % t.b)');
    expect(show(parseExpression('COUNT(*)'))).toBe('COUNT(*)');
    expect(show(parseExpression("'it''s'"))).toBe("'it's'");
  });

  it('keeps the exact text of numbers', () => {
    expect(parseExpression('12345678901234567890.50')).toMatchObject({
      kind: 'literal',
      type: 'number',
      text: '12345678901234567890.50',
    });
  });
});

describe('projection parser errors point at the place with a caret', () => {
  const cases: [string, number, string][] = [
    ['id, , name', 4, 'expected an expression, found ","'],
    ['id name other', 8, 'unexpected "other"'],
    ['UPPER(name', 10, 'expected ")" to close UPPER(, found the end'],
    ["'open", 0, 'this string is not closed'],
    ['id AS', 5, 'expected a name after AS, found the end'],
    ['id AS 5', 6, 'expected a name after AS, found "5"'],
    ['id AS end', 6, 'END is a reserved word'],
    ['a # b', 2, 'unexpected character "#"'],
    ['"name"', 0, 'double quotes are not used in expressions'],
    ['', 0, 'the projection is empty'],
    ['CASE WHEN a THEN b', 18, 'expected END to close CASE, found the end'],
    ['1abc', 1, 'unexpected "a" after the number 1'],
  ];
  it.each(cases)('%j', (text, offset, reason) => {
    const error = errorOf(() => parseProjection(text));
    expect(error.code).toBe('CONFIG_INVALID');
    expect(error.offset).toBe(offset);
    expect(error.reason).toBe(reason);
    expect(error.message).toBe(`${reason}\n    ${text}\n    ${' '.repeat(offset)}^`);
  });

  it('suggests backquotes for a reserved word used as a name', () => {
    expect(errorOf(() => parseProjection('id AS end')).hint).toBe('write it in backquotes: `end`');
  });

  it('shows only the line that holds the mistake of a multi-line projection', () => {
    const error = errorOf(() => parseProjection('id,\n  name +,\n  x'));
    expect(error.message).toBe('expected an expression, found ","\n      name +,\n            ^');
  });
});

describe('what this release evaluates', () => {
  const problems = (text: string) => checkProjection(parseProjection(text));

  it('accepts *, columns, metadata columns and named constants', () => {
    expect(
      problems(
        "\\*, id, __schema_name__ AS db, __namespace_name__, __table_name__ t, __data_event_type__ AS op, 'v1' AS version, -1 AS n",
      ),
    ).toEqual([]);
  });

  it('accepts computed items; rejects unknown functions and unnamed expressions at their position', () => {
    expect(problems('id, UPPER(name) AS n, a + 1 AS b, LOCALTIMESTAMP')).toEqual([]);
    expect(problems('id, UPER(name) AS n, a + 1')).toEqual([
      { offset: 4, message: 'unknown function UPER', hint: 'did you mean UPPER?' },
      { offset: 21, message: 'the expression `a + 1` needs a column name', hint: 'write `a + 1 AS some_name`' },
    ]);
  });

  it('asks for a name for a constant, and rejects duplicate names', () => {
    expect(problems("id, 'x'").map((p) => p.message)).toEqual(["the constant `'x'` needs a column name"]);
    expect(problems('id, name AS id').map((p) => [p.offset, p.message])).toEqual([
      [4, 'the column name "id" is produced twice (also at column 1)'],
    ]);
    expect(problems('t.id, t.*').map((p) => p.message)).toEqual([
      'qualified column names are not supported (`t.id`)',
      'a qualified star is not supported (`t.*`)',
    ]);
  });
});
