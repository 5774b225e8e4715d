import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { dataChange } from '../../src/core/change-event.js';
import type { Row } from '../../src/core/data-type.js';
import { TributaryError } from '../../src/core/errors.js';
import { tableId, type TableSchema } from '../../src/core/table-schema.js';
import { defaultDebeziumTypeOptions } from '../../src/formats/debezium-types.js';
import {
  DebeziumJsonDecoder,
  debeziumJsonFormat,
  sourceText,
  TRIBUTARY_SOURCE_VERSION,
} from '../../src/formats/debezium-json.js';
import { allTypes, allTypesEmpty, allTypesFull, allTypesSpecial } from '../harness/sink-events.js';

const fixture = (name: string): string =>
  readFileSync(new URL(`../../fixtures/formats/${name}`, import.meta.url), 'utf8');
const context = { serverName: 'mysql-server-1', nowMs: () => 1465581029523 };

/** The customers table of Debezium's MySQL tutorial. */
const customers: TableSchema = {
  id: tableId('inventory', 'customers'),
  columns: [
    { name: 'id', type: { kind: 'int32' }, nullable: false },
    { name: 'first_name', type: { kind: 'varchar', length: 255 }, nullable: false },
    { name: 'last_name', type: { kind: 'varchar', length: 255 }, nullable: false },
    { name: 'email', type: { kind: 'varchar', length: 255 }, nullable: false },
  ],
  primaryKey: ['id'],
};
const anne: Row = [1004, 'Anne', 'Kretchmar', 'annek@noanswer.org'];
const anneMarie: Row = [1004, 'Anne Marie', 'Kretchmar', 'annek@noanswer.org'];

describe('debezium-json: the documented MySQL envelope', () => {
  it('decodes the documented create event and key into the change they describe', () => {
    const decoded = new DebeziumJsonDecoder().decode(
      fixture('debezium-mysql-customers-create.json'),
      fixture('debezium-mysql-customers-key.json'),
    );
    expect(decoded?.event).toMatchObject({ op: 'insert', table: customers.id, before: null, after: anne });
    expect(decoded?.schema.primaryKey).toEqual(['id']);
    expect(decoded?.schema.columns.map((c) => [c.name, c.type.kind])).toEqual([
      ['id', 'int32'],
      ['first_name', 'string'],
      ['last_name', 'string'],
      ['email', 'string'],
    ]);
  });

  it('writes the documented update payload field for field (schemas off)', () => {
    const format = debeziumJsonFormat(
      { ...defaultDebeziumTypeOptions, schemaInclude: false, tombstones: true },
      context,
    );
    const [record] = format.encode(
      dataChange(customers.id, 'update', anne, anneMarie, {
        tsMs: 1465581029100,
        position: 'mysql-bin.000003:000000000484:0000000000',
      }),
      customers,
    );
    const documented = JSON.parse(fixture('debezium-mysql-customers-update.json')) as Record<string, unknown>;
    const ours = JSON.parse(record!.value!) as Record<string, Record<string, unknown>>;
    expect(JSON.parse(record!.key!)).toEqual({ id: 1004 });
    expect(ours['before']).toEqual(documented['before']);
    expect(ours['after']).toEqual(documented['after']);
    expect(ours['op']).toBe('u');
    expect(ours['ts_ms']).toBe(documented['ts_ms']);
    // Every field of Debezium's source block is there; the ones an event does not know (the server id, the
    // client thread, the statement, the Debezium version) are documented placeholders.
    const source = documented['source'] as Record<string, unknown>;
    expect(Object.keys(ours['source']!).sort()).toEqual([...Object.keys(source), 'sequence'].sort());
    for (const field of ['name', 'connector', 'ts_ms', 'db', 'table', 'gtid', 'file', 'pos', 'row']) {
      expect([field, ours['source']![field]]).toEqual([field, source[field]]);
    }
    expect(ours['source']).toMatchObject({ snapshot: 'false', server_id: 0, thread: null, query: null });
  });

  it('writes a schema part whose row struct matches the documented one, and decodes its own output', () => {
    const format = debeziumJsonFormat(
      { ...defaultDebeziumTypeOptions, schemaInclude: true, tombstones: true },
      context,
    );
    const [record] = format.encode(dataChange(customers.id, 'insert', null, anne, { tsMs: 0 }), customers);
    const documented = JSON.parse(fixture('debezium-mysql-customers-create.json')) as {
      schema: { fields: { field: string; fields?: unknown[]; name?: string }[]; name: string };
    };
    const ours = JSON.parse(record!.value!) as typeof documented;
    for (const field of ['before', 'after']) {
      const a = ours.schema.fields.find((f) => f.field === field)!;
      const b = documented.schema.fields.find((f) => f.field === field)!;
      expect(a.fields).toEqual(b.fields);
      expect(a.name).toBe(b.name);
    }
    expect(ours.schema.name).toBe(documented.schema.name);
    // The key: the documented key schema, with this row's id.
    const documentedKey = JSON.parse(fixture('debezium-mysql-customers-key.json')) as { schema: unknown };
    expect(JSON.parse(record!.key!)).toEqual({ schema: documentedKey.schema, payload: { id: 1004 } });
    const back = new DebeziumJsonDecoder().decode(record!.value, record!.key);
    expect(back?.event.after).toEqual(anne);
  });

  it('decodes a stream that switches tables and schemas: each message with the schema it carries', () => {
    const format = debeziumJsonFormat(
      { ...defaultDebeziumTypeOptions, schemaInclude: true, tombstones: false },
      context,
    );
    // The same table with a column added (its schema text begins like the old one), and another table.
    const wider: TableSchema = {
      ...customers,
      columns: [...customers.columns, { name: 'vip', type: { kind: 'boolean' }, nullable: true }],
    };
    const other: TableSchema = { ...customers, id: tableId('inventory', 'suppliers') };
    const stream: [TableSchema, Row][] = [
      [customers, anne],
      [customers, anneMarie],
      [wider, [...anne, true]],
      [wider, [...anneMarie, null]],
      [other, anne],
      [customers, anneMarie],
      [other, anneMarie],
    ];
    const decoder = new DebeziumJsonDecoder();
    for (const [table, row] of stream) {
      const [record] = format.encode(dataChange(table.id, 'insert', null, row, { tsMs: 0 }), table);
      const back = decoder.decode(record!.value, record!.key)!;
      expect(back.event.table).toEqual(table.id);
      expect(back.schema.columns.map((c) => c.name)).toEqual(table.columns.map((c) => c.name));
      expect(back.schema.primaryKey).toEqual(['id']);
      expect(back.event.after).toEqual(row);
    }
  });

  it('writes the source block as compact JSON: the MySQL connector fields in its order, escaped', () => {
    const tables = [tableId('inventory', 'customers'), tableId('shop "x"', 'tbl\\ü\u0001')];
    const sources = [
      { tsMs: 0 },
      { tsMs: 1465581029523, position: 'mysql-bin.000003:000000000154:0000000007' },
      { tsMs: 12, position: 'odd', txId: '3e11fa47-71ca-11e1-9e33-c80aa9429562:23' },
      { tsMs: 12, position: 'bin "q".000001:000000004096:0000000000', txId: '' },
    ];
    for (const table of tables)
      for (const source of sources)
        for (const snapshot of [true, false])
          for (const server of ['mysql-server-1', 'a "quoted" name']) {
            const text = sourceText(table, source, snapshot, JSON.stringify(server));
            const position = /^(.*):(\d{12}):(\d{10})$/.exec(source.position ?? '');
            const expected = {
              version: TRIBUTARY_SOURCE_VERSION,
              connector: 'mysql',
              name: server,
              ts_ms: source.tsMs,
              snapshot: String(snapshot),
              db: table.namespace,
              sequence: null,
              table: table.name,
              server_id: 0,
              gtid: source.txId ?? null,
              file: position ? position[1] : '',
              pos: position ? Number(position[2]) : 0,
              row: position ? Number(position[3]) : 0,
              thread: null,
              query: null,
            };
            const parsed = JSON.parse(text) as Record<string, unknown>;
            expect(parsed).toEqual(expected);
            expect(Object.keys(parsed)).toEqual(Object.keys(expected));
            expect(JSON.stringify(parsed)).toBe(text); // no spaces, nothing written twice
          }
  });

  it('follows a delete with a tombstone (key, null value), unless tombstones are off', () => {
    const event = dataChange(customers.id, 'delete', anne, null, { tsMs: 1 });
    const on = debeziumJsonFormat({ ...defaultDebeziumTypeOptions, schemaInclude: false, tombstones: true }, context);
    const records = on.encode(event, customers);
    expect(records).toHaveLength(2);
    expect(records[1]).toEqual({ key: '{"id":1004}', value: null });
    expect(JSON.parse(records[0]!.value!)).toMatchObject({ op: 'd', before: { id: 1004 }, after: null });
    const off = debeziumJsonFormat({ ...defaultDebeziumTypeOptions, schemaInclude: false, tombstones: false }, context);
    expect(off.encode(event, customers)).toHaveLength(1);
    expect(new DebeziumJsonDecoder().decode(null, '{"id":1004}')).toBeNull();
  });

  it('refuses a value without its schema part, naming the setting', () => {
    let error: unknown;
    try {
      new DebeziumJsonDecoder().decode(fixture('debezium-mysql-customers-update.json'), null);
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(TributaryError);
    expect((error as TributaryError).code).toBe('FORMAT_DECODE_FAILED');
    expect((error as TributaryError).hint).toMatch(/schemas\.enable/);
  });
});

describe('debezium-json: canonical types with Debezium defaults', () => {
  const table: TableSchema = {
    id: tableId('db', 't'),
    columns: [
      { name: 'id', type: { kind: 'int64' }, nullable: false },
      { name: 'price', type: { kind: 'decimal', precision: 10, scale: 2 }, nullable: true },
      { name: 'dt', type: { kind: 'date' }, nullable: true },
      { name: 'ts3', type: { kind: 'timestamp', precision: 3 }, nullable: true },
      { name: 'ts6', type: { kind: 'timestamp', precision: 6 }, nullable: true },
      { name: 'tz', type: { kind: 'timestamptz', precision: 0 }, nullable: true },
      { name: 'tm', type: { kind: 'time', precision: 6 }, nullable: true },
      { name: 'b', type: { kind: 'bit', length: 10 }, nullable: true },
      { name: 'f', type: { kind: 'float' }, nullable: true },
    ],
    primaryKey: ['id'],
  };
  const row: Row = [
    9007199254740993n,
    '-1234.50',
    '2018-01-13',
    '2018-06-20 06:37:03.000',
    '2018-06-20 06:37:03.123456',
    '2018-06-20 13:37:03Z',
    '-01:00:00.000001',
    '1000000001',
    Math.fround(5.18),
  ];

  it('writes each value as Debezium documents it', () => {
    const format = debeziumJsonFormat(
      { ...defaultDebeziumTypeOptions, schemaInclude: true, tombstones: true },
      context,
    );
    const value = format.encode(dataChange(table.id, 'insert', null, row, { tsMs: 0 }), table)[0]!.value!;
    // 64-bit integers stay exact digits in the JSON text.
    expect(value).toContain('"id":9007199254740993');
    const after = (JSON.parse(value) as { payload: { after: Record<string, unknown> } }).payload.after;
    expect(after).toEqual({
      id: Number('9007199254740993'), // JSON.parse rounds it; the text above is exact
      price: '/h3G', // unscaled -123450 as big-endian two's complement, base64
      dt: 17544, // io.debezium.time.Date: days since the epoch
      ts3: 1529476623000, // the documented DATETIME example, io.debezium.time.Timestamp (ms)
      ts6: 1529476623123456, // io.debezium.time.MicroTimestamp (µs)
      tz: '2018-06-20T13:37:03Z', // the documented TIMESTAMP example, io.debezium.time.ZonedTimestamp
      tm: -3600000001, // io.debezium.time.MicroTime
      b: 'AQI=', // io.debezium.data.Bits: 0b10_0000_0001 little-endian = [0x01, 0x02]
      f: 5.18,
    });
    const fields = (
      JSON.parse(value) as { schema: { fields: { field: string; fields: Record<string, unknown>[] }[] } }
    ).schema.fields.find((f) => f.field === 'after')!.fields;
    expect(fields.find((f) => f['field'] === 'price')).toEqual({
      type: 'bytes',
      optional: true,
      name: 'org.apache.kafka.connect.data.Decimal',
      version: 1,
      parameters: { scale: '2', 'connect.decimal.precision': '10' },
      field: 'price',
    });
  });

  it.each([
    ['full', allTypesFull],
    ['empty', allTypesEmpty],
    ['special', allTypesSpecial],
  ])('round trips every canonical type without loss (%s row)', (_label, source) => {
    const options = {
      ...defaultDebeziumTypeOptions,
      bigintUnsignedHandling: 'precise' as const,
      schemaInclude: true,
      tombstones: true,
    };
    const [record] = debeziumJsonFormat(options, context).encode(
      dataChange(allTypes.id, 'insert', null, source, { tsMs: 5 }),
      allTypes,
    );
    const back = new DebeziumJsonDecoder().decode(record!.value, record!.key)!;
    expect(back.schema.primaryKey).toEqual(['id']);
    // Debezium widens unsigned integers (uint32 → int64; uint64 under precise → decimal(20,0)): same numbers.
    const same = (v: unknown): unknown => (typeof v === 'bigint' || typeof v === 'number' ? String(v) : v);
    back.schema.columns.forEach((column, i) => {
      expect([column.name, same(back.event.after![i] ?? null)]).toEqual([column.name, same(source[i] ?? null)]);
    });
  });

  it('refuses a BIGINT UNSIGNED beyond int64 under the default long mode, naming the option', () => {
    const u64: TableSchema = {
      id: tableId('db', 'u'),
      columns: [{ name: 'id', type: { kind: 'uint64' }, nullable: false }],
      primaryKey: ['id'],
    };
    const format = debeziumJsonFormat(
      { ...defaultDebeziumTypeOptions, schemaInclude: false, tombstones: true },
      context,
    );
    expect(
      format.encode(dataChange(u64.id, 'insert', null, [9223372036854775807n], { tsMs: 0 }), u64)[0]!.value,
    ).toContain('"id":9223372036854775807');
    let error: unknown;
    try {
      format.encode(dataChange(u64.id, 'insert', null, [9223372036854775808n], { tsMs: 0 }), u64);
    } catch (e) {
      error = e;
    }
    expect((error as TributaryError).code).toBe('FORMAT_VALUE_UNREPRESENTABLE');
    expect((error as TributaryError).hint).toMatch(/bigint\.unsigned\.handling\.mode: precise/);
  });

  it('writes decimals as strings under decimal.handling.mode string, binary as hex under binary.handling.mode hex', () => {
    const t: TableSchema = {
      id: tableId('db', 'x'),
      columns: [
        { name: 'id', type: { kind: 'int32' }, nullable: false },
        { name: 'd', type: { kind: 'decimal', precision: 40, scale: 20 }, nullable: true },
        { name: 'b', type: { kind: 'bytes' }, nullable: true },
      ],
      primaryKey: ['id'],
    };
    const format = debeziumJsonFormat(
      {
        ...defaultDebeziumTypeOptions,
        decimalHandling: 'string',
        binaryHandling: 'hex',
        schemaInclude: false,
        tombstones: true,
      },
      context,
    );
    const value = format.encode(
      dataChange(t.id, 'insert', null, [1, '12345678901234567890.12345678901234567890', new Uint8Array([0xca, 0xfe])], {
        tsMs: 0,
      }),
      t,
    )[0]!.value!;
    expect(JSON.parse(value)).toMatchObject({ after: { d: '12345678901234567890.12345678901234567890', b: 'cafe' } });
  });
});
