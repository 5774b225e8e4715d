import { describe, expect, it } from 'vitest';
import { parsePipelineYaml } from '../../src/config/load-pipeline.js';
import { parseTableSelector } from '../../src/core/table-selector.js';
import type { ChangeEvent, ChangeOp, DataChangeEvent, SchemaChangeEvent } from '../../src/core/change-event.js';
import type { Row } from '../../src/core/data-type.js';
import type { OptionSpec } from '../../src/core/option-spec.js';
import { tableId, type TableSchema } from '../../src/core/table-schema.js';
import { parseExpression } from '../../src/transform/expression/parser.js';
import { parseProjection } from '../../src/transform/projection.js';
import { TransformOperator, transformOperator } from '../../src/transform/transform-operator.js';

const PERMISSIVE: readonly OptionSpec[] = [
  { key: 'tables', type: 'table-patterns', description: '' },
  { key: 'database', type: 'string', description: '' },
];

/** The rules of the sharded-users scenario, read from YAML as a user writes them. */
const SHARDED = parsePipelineYaml(
  `source:
  type: mysql
  tables: user_db[0-9]+.user[0-9]+, tpc_ds.\\.*
sink:
  type: postgres
  database: warehouse
transform:
  - source-table: user_db[0-9]+.user[0-9]+
    projection: \\*, __schema_name__ AS _db_name, __table_name__ AS _table_name
    primary-keys: _db_name, _table_name, id
route:
  - source-table: user_db[0-9]+.user[0-9]+
    sink-table: public.users
  - source-table: tpc_ds.\\.*
    sink-table: tpc_ds.<>
    replace-symbol: <>
`,
  { file: 'sharded.yaml', env: {}, optionSpecsFor: () => PERMISSIVE },
);

function users(db: string, table: string): TableSchema {
  return {
    id: tableId(db, table),
    columns: [
      { name: 'id', type: { kind: 'int64' }, nullable: false },
      { name: 'name', type: { kind: 'varchar', length: 128 }, nullable: true },
      { name: 'email', type: { kind: 'varchar', length: 255 }, nullable: true },
    ],
    primaryKey: ['id'],
  };
}

const item: TableSchema = {
  id: tableId('tpc_ds', 'item'),
  columns: [
    { name: 'i_item_sk', type: { kind: 'int32' }, nullable: false },
    { name: 'i_current_price', type: { kind: 'decimal', precision: 7, scale: 2 }, nullable: true },
  ],
  primaryKey: ['i_item_sk'],
};

const created = (schema: TableSchema): SchemaChangeEvent => ({
  kind: 'schema',
  table: schema.id,
  change: 'createTable',
  schema,
  source: { tsMs: 0 },
});

const row = (schema: TableSchema, op: ChangeOp, before: Row | null, after: Row | null): DataChangeEvent => ({
  kind: 'data',
  table: schema.id,
  op,
  before,
  after,
  source: { tsMs: 1 },
});

const data = (events: readonly ChangeEvent[]) => events.filter((e): e is DataChangeEvent => e.kind === 'data');
const schemas = (events: readonly ChangeEvent[]) => events.filter((e): e is SchemaChangeEvent => e.kind === 'schema');

describe('TransformOperator: sharded merge', () => {
  it('merges user_db1.user01 and user_db2.user02 into public.users with _db_name, _table_name and their key', () => {
    const operator = new TransformOperator(SHARDED);
    const a = users('user_db1', 'user01');
    const b = users('user_db2', 'user02');
    const out = operator.process([
      created(a),
      created(b),
      row(a, 'read', null, [1n, 'user_1', 'user_1@foo.com']),
      row(b, 'insert', null, [1n, 'user_41', null]),
      row(b, 'update', [2n, 'Jo', null], [2n, 'Jovita', null]),
      row(a, 'delete', [3n, 'user_3', 'x@y'], null),
    ]);

    const [first, second] = schemas(out);
    const expectedSchema = {
      id: tableId('public', 'users'),
      columns: [
        ...a.columns,
        { name: '_db_name', type: { kind: 'varchar', length: 64 }, nullable: false },
        { name: '_table_name', type: { kind: 'varchar', length: 64 }, nullable: false },
      ],
      primaryKey: ['_db_name', '_table_name', 'id'],
    };
    expect(first).toMatchObject({ table: tableId('public', 'users'), change: 'createTable', schema: expectedSchema });
    expect(second).toMatchObject({ table: tableId('public', 'users'), change: 'createTable', schema: expectedSchema });

    expect(data(out).map((e) => [e.table, e.op, e.before, e.after])).toEqual([
      [tableId('public', 'users'), 'read', null, [1n, 'user_1', 'user_1@foo.com', 'user_db1', 'user01']],
      [tableId('public', 'users'), 'insert', null, [1n, 'user_41', null, 'user_db2', 'user02']],
      [
        tableId('public', 'users'),
        'update',
        [2n, 'Jo', null, 'user_db2', 'user02'],
        [2n, 'Jovita', null, 'user_db2', 'user02'],
      ],
      [tableId('public', 'users'), 'delete', [3n, 'user_3', 'x@y', 'user_db1', 'user01'], null],
    ]);
  });

  it('routes tpc_ds.item to tpc_ds.item through tpc_ds.<>, passing the events themselves', () => {
    const operator = transformOperator(SHARDED);
    const events = [created(item), row(item, 'insert', null, [1, '29.99'])];
    const out = operator.process(events);
    expect(out).toEqual(events);
    expect(out[1]).toBe(events[1]);
  });

  it('sends a table that no rule selects through unchanged', () => {
    const other = users('crm', 'contacts');
    const events = [created(other), row(other, 'insert', null, [1n, 'a', 'b'])];
    expect(new TransformOperator(SHARDED).process(events)).toEqual(events);
  });

  it('routes rows of a table without a transform even before its schema', () => {
    const out = new TransformOperator(SHARDED).process([row(item, 'insert', null, [1, '1.00'])]);
    expect(out[0]?.table).toEqual(tableId('tpc_ds', 'item'));
    expect(() =>
      new TransformOperator(SHARDED).process([row(users('user_db1', 'user01'), 'insert', null, [1n, 'a', 'b'])]),
    ).toThrow(/arrived before its schema/);
  });
});

describe('TransformOperator: schema changes', () => {
  it('recomputes the plan when the source table changes, and emits the new output schema', () => {
    const operator = new TransformOperator(SHARDED);
    const a = users('user_db1', 'user01');
    operator.process([created(a)]);
    const widened: TableSchema = {
      ...a,
      columns: [...a.columns, { name: 'phone', type: { kind: 'string' }, nullable: true }],
    };
    const out = operator.process([
      {
        kind: 'schema',
        table: a.id,
        change: 'addColumn',
        schema: widened,
        ddl: 'ALTER TABLE user01 ADD phone TEXT',
        source: { tsMs: 2 },
      },
      row(widened, 'insert', null, [9n, 'n', 'e', '555']),
    ]);
    expect(schemas(out).map((e) => [e.change, e.schema.columns.map((c) => c.name)])).toEqual([
      ['refreshTable', ['id', 'name', 'email', 'phone', '_db_name', '_table_name']],
    ]);
    expect(data(out)[0]?.after).toEqual([9n, 'n', 'e', '555', 'user_db1', 'user01']);
  });

  it('emits nothing when the change does not reach the output (a column the projection leaves out)', () => {
    const operator = new TransformOperator({
      transforms: [{ sourceTable: parseTableSelector('shop.orders'), projection: parseProjection('id, total') }],
      routes: [],
    });
    const orders: TableSchema = {
      id: tableId('shop', 'orders'),
      columns: [
        { name: 'id', type: { kind: 'int32' }, nullable: false },
        { name: 'total', type: { kind: 'decimal', precision: 10, scale: 2 }, nullable: true },
      ],
      primaryKey: ['id'],
    };
    operator.process([created(orders)]);
    const withNote = {
      ...orders,
      columns: [...orders.columns, { name: 'note', type: { kind: 'string' }, nullable: true } as const],
    };
    const out = operator.process([
      { kind: 'schema', table: orders.id, change: 'addColumn', schema: withNote, source: { tsMs: 3 } },
      row(withNote, 'update', [1, '1.00', 'x'], [1, '2.00', 'y']),
    ]);
    expect(out.map((e) => e.kind)).toEqual(['data']);
    expect(data(out)[0]).toMatchObject({ before: [1, '1.00'], after: [1, '2.00'] });
  });
});

describe('TransformOperator: metadata, renames and constants', () => {
  const orders: TableSchema = {
    id: tableId('shop', 'orders'),
    columns: [
      { name: 'id', type: { kind: 'int32' }, nullable: false },
      { name: 'total', type: { kind: 'decimal', precision: 10, scale: 2 }, nullable: true },
    ],
    primaryKey: ['id'],
  };
  const operatorFor = (projection: string, primaryKeys?: string[]) =>
    new TransformOperator({
      transforms: [
        {
          sourceTable: parseTableSelector('shop.\\.*'),
          projection: parseProjection(projection),
          ...(primaryKeys ? { primaryKeys } : {}),
        },
      ],
      routes: [],
    });

  it("fills __data_event_type__ with Flink's row kinds: +I for reads and inserts, -U/+U, -D", () => {
    const operator = operatorFor('id, __data_event_type__ AS op');
    const out = operator.process([
      created(orders),
      row(orders, 'read', null, [1, '1.00']),
      row(orders, 'insert', null, [2, '2.00']),
      row(orders, 'update', [2, '2.00'], [2, '3.00']),
      row(orders, 'delete', [2, '3.00'], null),
    ]);
    expect(schemas(out)[0]?.schema.columns[1]).toEqual({
      name: 'op',
      type: { kind: 'varchar', length: 2 },
      nullable: false,
    });
    expect(data(out).map((e) => [e.before, e.after])).toEqual([
      [null, [1, '+I']],
      [null, [2, '+I']],
      [
        [2, '-U'],
        [2, '+U'],
      ],
      [[2, '-D'], null],
    ]);
  });

  it('follows a renamed key column and types constants exactly', () => {
    const operator = operatorFor(
      "id AS order_id, total, 'v1' AS version, 12.50 AS fee, 9007199254740993 AS big, -3 AS n",
    );
    const out = operator.process([created(orders), row(orders, 'insert', null, [7, '10.00'])]);
    const schema = schemas(out)[0]?.schema;
    expect(schema?.primaryKey).toEqual(['order_id']);
    expect(schema?.columns.map((c) => [c.name, c.type])).toEqual([
      ['order_id', { kind: 'int32' }],
      ['total', { kind: 'decimal', precision: 10, scale: 2 }],
      ['version', { kind: 'string' }],
      ['fee', { kind: 'decimal', precision: 4, scale: 2 }],
      ['big', { kind: 'int64' }],
      ['n', { kind: 'int32' }],
    ]);
    expect(data(out)[0]?.after).toEqual([7, '10.00', 'v1', '12.50', 9007199254740993n, -3]);
  });

  it('names the rule and the column when primary-keys names a column the output lacks', () => {
    const operator = operatorFor('\\*', ['id', 'region']);
    let error: unknown;
    try {
      operator.process([created(orders)]);
    } catch (e) {
      error = e;
    }
    expect(error).toMatchObject({ code: 'CONFIG_INVALID' });
    expect((error as Error).message).toBe(
      'transform[0] (source-table "shop.\\.*") on table shop.orders: primary-keys names "region", which is not a column of the output',
    );
  });

  it('refuses a projection that leaves out the key without primary-keys, or names a missing column', () => {
    expect(() => operatorFor('total').outputSchema(orders)).toThrow(/leaves out the primary-key column "id"/);
    expect(() => operatorFor('id, amount').outputSchema(orders)).toThrow(
      /projection: unknown column "amount"\n {4}id, amount\n {8}\^/,
    );
    expect(() => operatorFor('\\*, total').outputSchema(orders)).toThrow(/produces the column "total" twice/);
  });

  it('refuses rules built in code that call unknown functions, with a caret', () => {
    const sourceTable = parseTableSelector('shop.orders');
    const filter = { text: 'FOO(id) > 1', expression: parseExpression('FOO(id) > 1') };
    expect(() => new TransformOperator({ transforms: [{ sourceTable, filter }], routes: [] })).toThrow(
      'transform[0] (source-table "shop.orders"): filter: unknown function FOO',
    );
    expect(
      () =>
        new TransformOperator({
          transforms: [{ sourceTable, projection: parseProjection('id, UPPR(name) AS n') }],
          routes: [],
        }),
    ).toThrow(/unknown function UPPR\n {4}id, UPPR\(name\) AS n\n {8}\^/);
  });
});

describe('TransformOperator: computed columns, filters and SOFT_DELETE', () => {
  const orders: TableSchema = {
    id: tableId('shop', 'orders'),
    columns: [
      { name: 'id', type: { kind: 'int64' }, nullable: false },
      { name: 'name', type: { kind: 'varchar', length: 40 }, nullable: true },
      { name: 'total', type: { kind: 'decimal', precision: 10, scale: 2 }, nullable: false },
    ],
    primaryKey: ['id'],
  };
  const operatorFor = (rule: { projection?: string; filter?: string; softDelete?: boolean }) =>
    new TransformOperator({
      transforms: [
        {
          sourceTable: parseTableSelector('shop.orders'),
          ...(rule.projection === undefined ? {} : { projection: parseProjection(rule.projection) }),
          ...(rule.filter === undefined
            ? {}
            : { filter: { text: rule.filter, expression: parseExpression(rule.filter) } }),
          ...(rule.softDelete ? { converterAfterTransform: 'SOFT_DELETE' as const } : {}),
        },
      ],
      routes: [],
      timeZone: 'UTC',
    });

  it('types computed columns in the output schema and computes them per row, exactly', () => {
    const operator = operatorFor({
      projection: "id, UPPER(name) AS uname, total * 2 AS twice, id + 1 AS next_id, name || '!' AS shout",
    });
    const out = operator.process([
      created(orders),
      row(orders, 'insert', null, [9007199254740993n, 'ada', '10.25']),
      row(orders, 'insert', null, [2n, null, '0.10']),
    ]);
    expect(schemas(out)[0]?.schema.columns).toEqual([
      { name: 'id', type: { kind: 'int64' }, nullable: false },
      { name: 'uname', type: { kind: 'string' }, nullable: true },
      { name: 'twice', type: { kind: 'decimal', precision: 20, scale: 2 }, nullable: false },
      { name: 'next_id', type: { kind: 'int64' }, nullable: false },
      { name: 'shout', type: { kind: 'string' }, nullable: true },
    ]);
    expect(data(out).map((e) => e.after)).toEqual([
      [9007199254740993n, 'ADA', '20.50', 9007199254740994n, 'ada!'],
      [2n, null, '0.20', 3n, null],
    ]);
  });

  it('applies the filter alike to snapshot reads and binlog rows; an update crossing it becomes a delete or an insert', () => {
    const operator = operatorFor({ filter: 'total >= 10' });
    const out = data(
      operator.process([
        created(orders),
        row(orders, 'read', null, [1n, 'in', '10.00']),
        row(orders, 'read', null, [2n, 'out', '9.99']),
        row(orders, 'insert', null, [3n, 'out', '1.00']),
        row(orders, 'update', [1n, 'in', '10.00'], [1n, 'in', '11.00']),
        row(orders, 'update', [1n, 'in', '11.00'], [1n, 'in', '5.00']),
        row(orders, 'update', [2n, 'out', '9.99'], [2n, 'out', '20.00']),
        row(orders, 'update', [3n, 'out', '1.00'], [3n, 'out', '2.00']),
        row(orders, 'delete', [3n, 'out', '2.00'], null),
        row(orders, 'delete', [2n, 'out', '20.00'], null),
      ]),
    );
    expect(out.map((e) => [e.op, e.before?.[0] ?? null, e.after?.[2] ?? null])).toEqual([
      ['read', null, '10.00'],
      ['update', 1n, '11.00'],
      ['delete', 1n, null],
      ['insert', null, '20.00'],
      ['delete', 2n, null],
    ]);
  });

  it('treats a NULL filter result as not passing, and lets the filter name a computed column', () => {
    const operator = operatorFor({ projection: 'id, UPPER(name) AS uname, total', filter: "uname LIKE 'A%'" });
    const out = data(
      operator.process([
        created(orders),
        row(orders, 'insert', null, [1n, 'ada', '1.00']),
        row(orders, 'insert', null, [2n, null, '1.00']),
        row(orders, 'insert', null, [3n, 'bob', '1.00']),
      ]),
    );
    expect(out.map((e) => e.after)).toEqual([[1n, 'ADA', '1.00']]);
  });

  it('SOFT_DELETE turns a delete into an insert of the deleted row marked -D', () => {
    const operator = operatorFor({ projection: 'id, total, __data_event_type__ AS op_type', softDelete: true });
    const out = data(
      operator.process([
        created(orders),
        row(orders, 'insert', null, [1n, 'a', '1.00']),
        row(orders, 'delete', [1n, 'a', '1.00'], null),
      ]),
    );
    expect(out.map((e) => [e.op, e.before, e.after])).toEqual([
      ['insert', null, [1n, '1.00', '+I']],
      ['insert', null, [1n, '1.00', '-D']],
    ]);
  });

  it('reports an ill-typed expression when the table is known, with the rule, table and caret', () => {
    expect(() => operatorFor({ projection: 'id, name + 1 AS n' }).outputSchema(orders)).toThrow(
      'transform[0] (source-table "shop.orders") on table shop.orders: projection: + needs numbers, not varchar(40) and int32 (`name + 1`)\n    id, name + 1 AS n\n        ^',
    );
    expect(() => operatorFor({ filter: 'total' }).outputSchema(orders)).toThrow(
      /filter: a filter must be a condition, but this is decimal\(10,2\)/,
    );
  });
});
