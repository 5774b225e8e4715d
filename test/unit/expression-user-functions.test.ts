import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { parsePipelineYaml } from '../../src/config/load-pipeline.js';
import type { OptionSpec } from '../../src/core/option-spec.js';
import { tableId, type TableSchema } from '../../src/core/table-schema.js';
import { BUILTIN_FUNCTIONS } from '../../src/transform/expression/builtin-functions.js';
import { loadUserFunctions } from '../../src/transform/expression/user-function.js';
import { TransformOperator } from '../../src/transform/transform-operator.js';
import { testTempDir } from '../harness/temp-dirs.js';

const BUILTINS = new Set(BUILTIN_FUNCTIONS.keys());
const EXAMPLES = fileURLToPath(new URL('../../examples/udf/', import.meta.url));
const PERMISSIVE: readonly OptionSpec[] = [{ key: 'tables', type: 'table-patterns', description: '' }];

const orders: TableSchema = {
  id: tableId('shop', 'orders'),
  columns: [
    { name: 'id', type: { kind: 'int64' }, nullable: false },
    { name: 'price', type: { kind: 'decimal', precision: 20, scale: 2 }, nullable: true },
  ],
  primaryKey: ['id'],
};

async function failure(run: () => Promise<unknown>): Promise<{ code: string; message: string; hint?: string }> {
  try {
    await run();
  } catch (error) {
    return error as { code: string; message: string; hint?: string };
  }
  throw new Error('did not fail');
}

describe('user-defined functions (JavaScript modules exporting eval)', () => {
  it('calls the example functions with exact values and converts results to their declared type', async () => {
    const functions = await loadUserFunctions(
      [
        { name: 'format_price', classpath: './format-price.mjs' },
        { name: 'to_cents', classpath: './to-cents.mjs' },
      ],
      EXAMPLES,
      BUILTINS,
    );
    const def = parsePipelineYaml(
      `source:
  type: mysql
  tables: shop.orders
sink:
  type: postgres
transform:
  - source-table: shop.orders
    projection: id, FORMAT_PRICE(price, 'USD') AS text, to_cents(price) AS cents
pipeline:
  user-defined-function:
    - name: format_price
      classpath: ./format-price.mjs
    - name: to_cents
      classpath: ./to-cents.mjs
`,
      { file: 'udf.yaml', env: {}, optionSpecsFor: () => PERMISSIVE },
    );
    expect(def.userDefinedFunctions).toEqual([
      { name: 'format_price', classpath: './format-price.mjs' },
      { name: 'to_cents', classpath: './to-cents.mjs' },
    ]);
    const operator = new TransformOperator({ transforms: def.transforms, routes: [], functions });
    const out = operator.process([
      { kind: 'schema', table: orders.id, change: 'createTable', schema: orders, source: { tsMs: 0 } },
      {
        kind: 'data',
        table: orders.id,
        op: 'insert',
        before: null,
        after: [1n, '1234567890123456.78'],
        source: { tsMs: 0 },
      },
      { kind: 'data', table: orders.id, op: 'insert', before: null, after: [2n, null], source: { tsMs: 0 } },
    ]);
    const schema = out[0]?.kind === 'schema' ? out[0].schema : undefined;
    expect(schema?.columns.map((c) => [c.name, c.type.kind])).toEqual([
      ['id', 'int64'],
      ['text', 'string'],
      ['cents', 'int64'],
    ]);
    expect(out.slice(1).map((e) => (e.kind === 'data' ? e.after : null))).toEqual([
      [1n, 'USD 1234567890123456.78', 123456789012345678n],
      [2n, null, null],
    ]);
  });

  it('rejects an undeclared function when the file is read, at its place', () => {
    expect(() =>
      parsePipelineYaml(
        `source:\n  type: mysql\n  tables: shop.orders\nsink:\n  type: postgres\ntransform:\n  - source-table: shop.orders\n    projection: id, TO_CENTS(price) AS cents\n`,
        { file: 'udf.yaml', env: {}, optionSpecsFor: () => PERMISSIVE },
      ),
    ).toThrow(/udf\.yaml:8:21 transform\[0\]\.projection: unknown function TO_CENTS/);
  });

  it('UDF_LOAD_FAILED names the function and the fix: missing module, no eval, bad returnType, a built-in name', async () => {
    const dir = await testTempDir('tributary-udf');
    await writeFile(join(dir, 'no-eval.mjs'), 'export const x = 1;\n');
    await writeFile(
      join(dir, 'bad-type.mjs'),
      "export const returnType = 'MONEY';\nexport function f() {}\nexport { f as eval };\n",
    );
    await writeFile(join(dir, 'ok.mjs'), 'function f() { return 1; }\nexport { f as eval };\n');
    const cases: [string, string, string, string][] = [
      ['gone', './gone.mjs', 'the module cannot be loaded', 'relative to the pipeline file'],
      ['noeval', './no-eval.mjs', 'the module exports no eval function', 'export { evaluate as eval }'],
      ['badtype', './bad-type.mjs', '"MONEY" is not a type', 'returnType'],
      ['upper', './ok.mjs', 'UPPER is a built-in function', 'another name'],
    ];
    for (const [name, classpath, message, hint] of cases) {
      const error = await failure(() => loadUserFunctions([{ name, classpath }], dir, BUILTINS));
      expect(error.code).toBe('UDF_LOAD_FAILED');
      expect(error.message).toContain(`user-defined function ${name} (${classpath}): ${message}`);
      expect(error.hint).toContain(hint);
    }
  });
});

describe('ill-typed expressions at validate: rule, table, place in the file, caret', () => {
  it('points at the line and column of the bad operand in the pipeline file', () => {
    const def = parsePipelineYaml(
      `source:\n  type: mysql\n  tables: shop.orders\nsink:\n  type: postgres\ntransform:\n  - source-table: shop.orders\n    projection: id, price || 1 AS p, UPPER(price) AS u\n`,
      { file: 'typed.yaml', env: {}, optionSpecsFor: () => PERMISSIVE },
    );
    expect(() => new TransformOperator({ transforms: def.transforms, routes: [] }).outputSchema(orders)).toThrow(
      'projection: argument 1 of UPPER must be a string, not decimal(20,2) (typed.yaml:8:44)\n    id, price || 1 AS p, UPPER(price) AS u\n                               ^',
    );
  });
});
