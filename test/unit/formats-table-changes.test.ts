import { describe, expect, it } from 'vitest';
import { buildTableChangeRecords } from '../../src/connectors/kafka/kafka-records.js';
import { topicRouter } from '../../src/connectors/kafka/kafka-topics.js';
import type { SchemaChangeEvent } from '../../src/core/change-event.js';
import { tableId, type TableSchema } from '../../src/core/table-schema.js';
import { CanalJsonDecoder } from '../../src/formats/canal-json-decoder.js';
import { changeFormat, type ChangeFormatName } from '../../src/formats/change-formats.js';
import { DebeziumJsonDecoder } from '../../src/formats/debezium-json.js';

const orders: TableSchema = {
  id: tableId('shop', 'orders'),
  columns: [{ name: 'id', type: { kind: 'int64' }, nullable: false }],
  primaryKey: ['id'],
};
const debezium = {
  schemaInclude: true,
  tombstones: true,
  decimalHandling: 'precise',
  bigintUnsignedHandling: 'long',
  binaryHandling: 'bytes',
} as const;
const format = (name: ChangeFormatName) => changeFormat(name, debezium, { serverName: 'shop', nowMs: () => 42 });
const change = (kind: SchemaChangeEvent['change']): SchemaChangeEvent => ({
  kind: 'schema',
  table: orders.id,
  change: kind,
  schema: orders,
  source: { tsMs: 1000 },
});

describe('truncates and dropped tables on a change log (what log consumers receive)', () => {
  it('debezium-json: a truncate is Debezium’s op t event without row images or key; a drop writes nothing', () => {
    const [record, ...rest] = format('debezium-json').encodeTableChange(change('truncateTable'));
    expect(rest).toEqual([]);
    expect(record!.key).toBeNull();
    const value = JSON.parse(record!.value!) as { schema: { name: string }; payload: Record<string, unknown> };
    expect(value.schema.name).toBe('shop.shop.orders.Envelope');
    expect(value.payload).toMatchObject({ op: 't', before: null, after: null, ts_ms: 42 });
    expect(value.payload['source']).toMatchObject({ db: 'shop', table: 'orders', ts_ms: 1000 });
    expect(format('debezium-json').encodeTableChange(change('dropTable'))).toEqual([]);
    // Tributary's own reader skips it (no row change), rather than failing on it.
    expect(new DebeziumJsonDecoder().decode(record!.value, null)).toBeNull();
  });

  it('canal-json: a truncate is a TRUNCATE DDL message, a dropped table an ERASE, with the statement', () => {
    const truncate = JSON.parse(format('canal-json').encodeTableChange(change('truncateTable'))[0]!.value!);
    expect(truncate).toMatchObject({
      isDdl: true,
      type: 'TRUNCATE',
      database: 'shop',
      table: 'orders',
      sql: 'TRUNCATE TABLE `shop`.`orders`',
      data: null,
      es: 1000,
    });
    const drop = format('canal-json').encodeTableChange({ ...change('dropTable'), ddl: 'DROP TABLE orders' });
    expect(JSON.parse(drop[0]!.value!)).toMatchObject({ isDdl: true, type: 'ERASE', sql: 'DROP TABLE orders' });
    expect(new CanalJsonDecoder().decode(drop[0]!.value)).toEqual([]);
  });

  it('json (an upsert log) cannot say it, and the other schema changes write nothing in any format', () => {
    expect(format('json').encodeTableChange(change('truncateTable'))).toEqual([]);
    for (const name of ['debezium-json', 'canal-json', 'json'] as const) {
      expect(format(name).encodeTableChange(change('addColumn'))).toEqual([]);
    }
  });

  it('kafka: the keyless truncate goes to partition 0 of the table’s topic', () => {
    const [record] = buildTableChangeRecords(
      {
        format: format('debezium-json'),
        topics: topicRouter('{db}.{table}', new Map()),
        partitionStrategy: 'hash-by-key',
        tableIdHeaders: true,
        customHeaders: new Map(),
        partitionsOf: () => 8,
      },
      change('truncateTable'),
    );
    expect(record).toMatchObject({ topic: 'shop.orders', partition: 0, key: null });
    expect(record!.headers['tableName']).toBe('orders');
  });
});
