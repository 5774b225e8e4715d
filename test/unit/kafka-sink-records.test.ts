import { describe, expect, it } from 'vitest';
import { ConfigError } from '../../src/config/config-error.js';
import { parsePipelineYaml } from '../../src/config/load-pipeline.js';
import { murmur2 } from '../../src/connectors/kafka/kafka-partitioner.js';
import { buildRecords, type RecordBuilderOptions } from '../../src/connectors/kafka/kafka-records.js';
import { kafkaSinkConfig } from '../../src/connectors/kafka/kafka-sink-config.js';
import { kafkaSourceConfig } from '../../src/connectors/kafka/kafka-source-config.js';
import {
  defaultCheckpointTopic,
  kafkaTopicName,
  parseTopicMapping,
  topicRouter,
} from '../../src/connectors/kafka/kafka-topics.js';
import { knownTypes, optionSpecsFor } from '../../src/connectors/registry.js';
import { dataChange } from '../../src/core/change-event.js';
import { tableId, type TableSchema } from '../../src/core/table-schema.js';
import { changeFormat } from '../../src/formats/change-formats.js';

const customers: TableSchema = {
  id: tableId('inventory', 'customers'),
  columns: [
    { name: 'id', type: { kind: 'int32' }, nullable: false },
    { name: 'email', type: { kind: 'varchar', length: 255 }, nullable: false },
  ],
  primaryKey: ['id'],
};

const debezium = {
  schemaInclude: false,
  tombstones: true,
  decimalHandling: 'precise',
  bigintUnsignedHandling: 'long',
  binaryHandling: 'bytes',
} as const;

function builder(overrides: Partial<RecordBuilderOptions> = {}): RecordBuilderOptions {
  return {
    format: changeFormat('debezium-json', debezium, { serverName: 'shop', nowMs: () => 0 }),
    topics: topicRouter('{db}.{table}', new Map()),
    partitionStrategy: 'hash-by-key',
    tableIdHeaders: false,
    customHeaders: new Map(),
    partitionsOf: () => 6,
    ...overrides,
  };
}

describe('kafka topic naming', () => {
  it('defaults to the table id, as Flink CDC; a pattern takes {db} and {table}; one fixed topic takes all', () => {
    expect(topicRouter('{db}.{table}', new Map()).topicOf(customers.id)).toBe('inventory.customers');
    expect(topicRouter('cdc.{db}.{table}', new Map()).topicOf(customers.id)).toBe('cdc.inventory.customers');
    expect(topicRouter('all_changes', new Map()).topicOf(tableId('a', 'b'))).toBe('all_changes');
  });

  it('replaces characters Kafka refuses in topic names with _, as Debezium does', () => {
    expect(topicRouter('{db}.{table}', new Map()).topicOf(tableId('my db', 'Bestellungen/ü'))).toBe(
      'my_db.Bestellungen__',
    );
    expect(kafkaTopicName('a:b')).toBe('a_b');
    expect(defaultCheckpointTopic('sync orders')).toBe('_tributary.sync_orders.checkpoints');
  });

  it('takes sink.tableId-to-topic.mapping before the pattern, and refuses malformed pairs', () => {
    const mapping = parseTopicMapping('inventory.customers:people; inventory.orders:orders');
    expect(mapping).toEqual(
      new Map([
        ['inventory.customers', 'people'],
        ['inventory.orders', 'orders'],
      ]),
    );
    const router = topicRouter('{db}.{table}', mapping as Map<string, string>);
    expect(router.topicOf(customers.id)).toBe('people');
    expect(router.topicOf(tableId('inventory', 'items'))).toBe('inventory.items');
    expect(parseTopicMapping('inventory.customers')).toMatch(/not db.table:topic/);
    expect(parseTopicMapping('a.b:bad topic')).toMatch(/not a valid topic name/);
  });

  it('refuses a topic name longer than Kafka allows', () => {
    expect(() => topicRouter('x'.repeat(250), new Map()).topicOf(customers.id)).toThrow(/longer than 249/);
  });
});

describe('kafka record building', () => {
  it('keys each record by the primary key as JSON and partitions it as Kafka’s default partitioner would', () => {
    const [record] = buildRecords(
      builder(),
      dataChange(customers.id, 'insert', null, [1004, 'annek@noanswer.org'], { tsMs: 0 }),
      customers,
    );
    expect(record!.topic).toBe('inventory.customers');
    expect(record!.key!.toString()).toBe('{"id":1004}');
    expect(record!.partition).toBe((murmur2(Buffer.from('{"id":1004}')) & 0x7fffffff) % 6);
    expect(JSON.parse(record!.value!.toString())).toMatchObject({ op: 'c', after: { id: 1004 } });
  });

  it('follows a debezium-json delete with a tombstone in the same partition, so compaction drops the key', () => {
    const records = buildRecords(
      builder(),
      dataChange(customers.id, 'delete', [7, 'x@y'], null, { tsMs: 0 }),
      customers,
    );
    expect(records.map((r) => r.value === null)).toEqual([false, true]);
    expect(records[0]!.partition).toBe(records[1]!.partition);
    expect(records[1]!.key!.toString()).toBe('{"id":7}');
  });

  it('keeps every change of one key in one partition across updates; all-to-zero puts everything in 0', () => {
    const b = builder();
    const partitions = new Set(
      ['a', 'b', 'c'].map(
        (email) =>
          buildRecords(b, dataChange(customers.id, 'update', [9, 'old'], [9, email], { tsMs: 0 }), customers)[0]!
            .partition,
      ),
    );
    expect(partitions.size).toBe(1);
    const zero = buildRecords(
      builder({ partitionStrategy: 'all-to-zero' }),
      dataChange(customers.id, 'insert', null, [12345, 'q'], { tsMs: 0 }),
      customers,
    );
    expect(zero[0]!.partition).toBe(0);
  });

  it('puts a keyless table’s records in partition 0 with a null key', () => {
    const keyless: TableSchema = { ...customers, primaryKey: [] };
    const [record] = buildRecords(builder(), dataChange(keyless.id, 'insert', null, [1, 'a'], { tsMs: 0 }), keyless);
    expect(record!.key).toBeNull();
    expect(record!.partition).toBe(0);
  });

  it('adds Flink CDC’s table id headers and custom headers when asked', () => {
    const [record] = buildRecords(
      builder({ tableIdHeaders: true, customHeaders: new Map([['team', 'orders']]) }),
      dataChange(customers.id, 'insert', null, [1, 'a'], { tsMs: 0 }),
      customers,
    );
    expect(record!.headers).toEqual({ team: 'orders', namespace: '', schemaName: 'inventory', tableName: 'customers' });
  });

  it('writes the plain json format as an upsert log: a delete is only a tombstone', () => {
    const records = buildRecords(
      builder({ format: changeFormat('json', debezium, { serverName: 's', nowMs: () => 0 }) }),
      dataChange(customers.id, 'delete', [3, 'z'], null, { tsMs: 0 }),
      customers,
    );
    expect(records).toHaveLength(1);
    expect(records[0]!.value).toBeNull();
  });
});

describe('kafka options', () => {
  const lookup = { optionSpecsFor, knownTypes };
  const parse = (sink: string, source = 'type: mysql\n  hostname: h\n  username: u\n  password: p\n  tables: a.b') =>
    parsePipelineYaml(`source:\n  ${source}\nsink:\n  ${sink}\n`, { ...lookup, env: {}, file: 'k.yaml' });
  const problems = (sink: string): string[] => {
    try {
      parse(sink);
      return [];
    } catch (error) {
      if (error instanceof ConfigError) return error.problems.map((p) => `${p.path}: ${p.message}`);
      throw error;
    }
  };

  it('reads Flink CDC’s kafka sink options, with exactly once and a transactional id from the pipeline by default', () => {
    const def = parse(
      'type: kafka\n  properties.bootstrap.servers: 127.0.0.1:9092\n  value.format: canal-json\n  sink.add-tableId-to-header-enabled: true',
    );
    const config = kafkaSinkConfig(def.sink.options, 'orders sync');
    expect(config).toMatchObject({
      format: 'canal-json',
      tableIdHeaders: true,
      transactional: true,
      transactionalId: 'tributary-orders_sync',
      checkpointTopic: '_tributary.orders_sync.checkpoints',
      partitionStrategy: 'hash-by-key',
      topicPattern: '{db}.{table}',
      transactionTimeoutMs: 60_000,
    });
  });

  it('names the mistakes: a missing bootstrap server, an unknown format, a malformed topic mapping', () => {
    expect(problems('type: kafka')).toEqual([expect.stringMatching(/properties\.bootstrap\.servers/)]);
    expect(problems('type: kafka\n  properties.bootstrap.servers: h:9092\n  value.format: avro').join()).toMatch(
      /value\.format/,
    );
    expect(
      problems('type: kafka\n  properties.bootstrap.servers: h:9092\n  sink.tableId-to-topic.mapping: nocolon').join(),
    ).toMatch(/not db.table:topic/);
  });

  it('reads the source options: a topic list or a pattern, the format, a group id from the pipeline', () => {
    expect(kafkaSourceConfig({ topic: 'a.b; a.c', 'value.format': 'canal-json' }, 'p 1')).toMatchObject({
      topics: ['a.b', 'a.c'],
      format: 'canal-json',
      groupId: 'tributary-p_1',
      fromBeginning: true,
    });
    const pattern = kafkaSourceConfig({ 'topic-pattern': 'shop\\..*' }, 'p').topicPattern!;
    expect(pattern.test('shop.orders')).toBe(true);
    expect(pattern.test('xshop.orders')).toBe(false);
  });
});
