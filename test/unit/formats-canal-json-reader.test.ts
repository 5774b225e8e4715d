import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { dataChange } from '../../src/core/change-event.js';
import { tableId, type TableSchema } from '../../src/core/table-schema.js';
import { canalJsonFormat } from '../../src/formats/canal-json.js';
import { CanalJsonDecoder, canonicalTypeOfMysql } from '../../src/formats/canal-json-decoder.js';

/**
 * Golden tests of the canal-json reader. The fixtures are Canal flat messages (`canal.mq.flatMessage=true`)
 * written from the envelope Canal documents for its Kafka/RocketMQ output (fields data, database, es, id, isDdl,
 * mysqlType, old, pkNames, sql, sqlType, table, ts, type; every value a string) and the example Flink's
 * canal-json format documents (canal-products-update.json).
 */
const fixture = (name: string): string =>
  readFileSync(new URL(`../../fixtures/formats/${name}`, import.meta.url), 'utf8');

describe('canal-json reader', () => {
  it('reads an INSERT: types from mysqlType, key from pkNames, values from their text', () => {
    const [change, ...rest] = new CanalJsonDecoder().decode(fixture('canal-user-insert.json'));
    expect(rest).toEqual([]);
    expect(change!.schema).toMatchObject({
      id: { namespace: 'test', name: 'user' },
      primaryKey: ['id'],
      columns: [
        { name: 'id', type: { kind: 'int32' }, nullable: false },
        { name: 'name', type: { kind: 'varchar', length: 40 } },
        { name: 'balance', type: { kind: 'decimal', precision: 10, scale: 2 } },
        { name: 'created', type: { kind: 'timestamp', precision: 0 } },
        { name: 'avatar', type: { kind: 'bytes' } },
      ],
    });
    expect(change!.event).toMatchObject({
      op: 'insert',
      before: null,
      after: [13, 'zhangsan', '1024.50', '2020-05-13 11:20:50', null],
      source: { tsMs: 1589340050000 },
    });
  });

  it('reads an UPDATE of two rows as two changes, each before image = data with its old values put back', () => {
    const changes = new CanalJsonDecoder().decode(fixture('canal-user-update-two-rows.json'));
    expect(changes.map((c) => [c.event.op, c.event.before, c.event.after])).toEqual([
      [
        'update',
        [13, 'zhangsan', '1024.50', '2020-05-13 11:20:50', null],
        [13, 'zhangsan', '0.00', '2020-05-13 11:20:50', null],
      ],
      ['update', [14, 'lisi', '99.00', '2020-05-13 11:21:07', null], [14, 'lisi', '0.00', '2020-05-13 11:21:07', null]],
    ]);
  });

  it('reads a DELETE with the deleted row as the before image', () => {
    const [change] = new CanalJsonDecoder().decode(fixture('canal-user-delete.json'));
    expect(change!.event).toMatchObject({
      op: 'delete',
      after: null,
      before: [14, 'lisi', '0.00', '2020-05-13 11:21:07', null],
    });
  });

  it('skips DDL messages: they carry no row change', () => {
    expect(new CanalJsonDecoder().decode(fixture('canal-user-ddl.json'))).toEqual([]);
  });

  it('reads the example of Flink’s canal-json documentation', () => {
    const [change] = new CanalJsonDecoder().decode(fixture('canal-products-update.json'));
    expect(change!.schema.columns.map((c) => c.type.kind)).toEqual(['int32', 'varchar', 'varchar', 'float']);
    expect(change!.event.before).toEqual([111, 'scooter', 'Big 2-wheel scooter', Math.fround(5.15)]);
    expect(change!.event.after).toEqual([111, 'scooter', 'Big 2-wheel scooter', Math.fround(5.18)]);
  });

  it('reads back what the canal-json writer wrote, value for value', () => {
    const t: TableSchema = {
      id: tableId('db', 't'),
      columns: [
        { name: 'id', type: { kind: 'int64' }, nullable: false },
        { name: 'u', type: { kind: 'uint64' }, nullable: true },
        { name: 'd', type: { kind: 'decimal', precision: 30, scale: 10 }, nullable: true },
        { name: 'b', type: { kind: 'varbinary', length: 16 }, nullable: true },
        { name: 'bits', type: { kind: 'bit', length: 10 }, nullable: true },
        { name: 'ts', type: { kind: 'timestamp', precision: 6 }, nullable: true },
        { name: 'tm', type: { kind: 'time', precision: 3 }, nullable: true },
        { name: 'dt', type: { kind: 'date' }, nullable: true },
        { name: 'e', type: { kind: 'enum', values: ['a', "it's"] }, nullable: true },
        { name: 'j', type: { kind: 'json' }, nullable: true },
        { name: 'txt', type: { kind: 'string' }, nullable: true },
      ],
      primaryKey: ['id'],
    };
    const row = [
      9007199254740993n,
      18446744073709551615n,
      '-12345678901234567890.0123456789',
      new Uint8Array([0, 255, 128, 10]),
      '1000000001',
      '2024-02-29 23:59:59.123456',
      '-838:59:59.500',
      '0001-01-01',
      "it's",
      '{"a": 12345678901234567890}',
      'grüße 🙂',
    ];
    const format = canalJsonFormat({ serverName: 'x', nowMs: () => 0 });
    const [record] = format.encode(dataChange(t.id, 'insert', null, row, { tsMs: 5 }), t);
    const [change] = new CanalJsonDecoder().decode(record!.value);
    expect(change!.event.after).toEqual(row);
    expect(change!.schema.primaryKey).toEqual(['id']);
    expect(change!.schema.columns[8]!.type).toEqual({ kind: 'enum', values: ['a', "it's"] });
  });

  it('maps MySQL type spellings to canonical types', () => {
    expect(canonicalTypeOfMysql('bigint(20) unsigned', 'x')).toEqual({ kind: 'uint64' });
    expect(canonicalTypeOfMysql('TINYINT(1)', 'x')).toEqual({ kind: 'int8' });
    expect(canonicalTypeOfMysql('datetime(3)', 'x')).toEqual({ kind: 'timestamp', precision: 3 });
    expect(canonicalTypeOfMysql("set('a','b')", 'x')).toEqual({ kind: 'set', values: ['a', 'b'] });
    expect(() => canonicalTypeOfMysql('geometry', 'db.t.g')).toThrow(/db\.t\.g has type geometry/);
  });

  it('stops with FORMAT_DECODE_FAILED on a message that is not canal-json', () => {
    expect(() =>
      new CanalJsonDecoder().decode('{"type":"INSERT","database":"a","table":"b","data":[{"x":"1"}]}'),
    ).toThrow(expect.objectContaining({ code: 'FORMAT_DECODE_FAILED' }));
    expect(() => new CanalJsonDecoder().decode('not json')).toThrow(
      expect.objectContaining({ code: 'FORMAT_DECODE_FAILED' }),
    );
  });
});

describe('canal-json types, the MySQL mapping shared with the mysql source', () => {
  it('reads MEDIUMINT UNSIGNED as int32, as the mysql source does (docs/type-mapping.md)', async () => {
    const { canonicalTypeOfMysql } = await import('../../src/formats/canal-json-decoder.js');
    const { mysqlToCanonical } = await import('../../src/connectors/mysql/mysql-types.js');
    expect(canonicalTypeOfMysql('mediumint(8) unsigned', 't.c')).toEqual({ kind: 'int32' });
    const column = (dataType: string, columnType: string) => ({
      name: 'c',
      dataType,
      columnType,
      charLength: null,
      numericPrecision: null,
      numericScale: null,
      datetimePrecision: null,
      charset: null,
      isJson: false,
    });
    for (const [dataType, spelled] of [
      ['mediumint', 'mediumint(8) unsigned'],
      ['mediumint', 'mediumint(9)'],
      ['int', 'int(10) unsigned'],
      ['smallint', 'smallint(5) unsigned'],
      ['bigint', 'bigint(20) unsigned'],
      ['datetime', 'datetime'],
    ] as const) {
      expect(canonicalTypeOfMysql(spelled, 't.c'), spelled).toEqual(mysqlToCanonical(column(dataType, spelled)));
    }
  });
});
