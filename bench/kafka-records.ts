/**
 * The `kafka` sink's CPU per row on the produce path, without a broker: the change format's encoding, the
 * record's topic/key/partition (Kafka's murmur2) and headers — `buildRecords`, what the sink does per change —
 * and then the client's own encoding of those records into a Kafka record batch (kafkajs' RecordBatch v2
 * encoder, an internal module of kafkajs 2.2.4, as its producer calls it, one batch per partition per request), per
 * format, in chunks of the sink's `batch.max-records`. One process, one core.
 * Run: `npm run bench:kafka -- [--rows N] [--partitions N]`.
 */
import { createRequire } from 'node:module';
import { buildRecords, type KafkaRecord } from '../src/connectors/kafka/kafka-records.js';
import { topicRouter } from '../src/connectors/kafka/kafka-topics.js';
import { dataChange, type DataChangeEvent } from '../src/core/change-event.js';
import { changeFormat, type ChangeFormatName } from '../src/formats/change-formats.js';
import { numberArg, ORDERS_TABLE } from './standalone.js';

const ROWS = numberArg('rows', 200_000);
const PARTITIONS = numberArg('partitions', 12);
/** The sink's default `batch.max-records`: records built, then sent in one request. */
const CHUNK = 2_000;

interface EncodedBatch {
  size(): number;
}
type RecordBatchEncoder = (args: {
  records: unknown[];
  transactional: boolean;
  lastOffsetDelta: number;
}) => Promise<EncodedBatch>;
type RecordEncoder = (args: {
  offsetDelta: number;
  key: Buffer | null;
  value: Buffer | null;
  headers: Record<string, string>;
}) => unknown;

const require = createRequire(import.meta.url);
const { RecordBatch } = require('kafkajs/src/protocol/recordBatch/v0/index.js') as { RecordBatch: RecordBatchEncoder };
const Record = require('kafkajs/src/protocol/recordBatch/record/v0/index.js') as RecordEncoder;

function events(): DataChangeEvent[] {
  const out: DataChangeEvent[] = [];
  for (let i = 1; i <= ROWS; i++) {
    out.push(
      dataChange(
        ORDERS_TABLE.id,
        'insert',
        null,
        [
          BigInt(i),
          `customer-${i % 977}`,
          `${i}.${String(i % 10_000).padStart(4, '0')}`,
          '2024-05-01 12:00:00.123456',
          'a note of some forty characters, roughly',
        ],
        { tsMs: 1_714_564_800_000 },
      ),
    );
  }
  return out;
}

async function measure(format: ChangeFormatName, input: readonly DataChangeEvent[]): Promise<void> {
  const options = {
    format: changeFormat(
      format,
      {
        schemaInclude: true,
        tombstones: true,
        decimalHandling: 'precise',
        bigintUnsignedHandling: 'long',
        binaryHandling: 'bytes',
      },
      { serverName: 'shop', nowMs: () => 1_714_564_800_000 },
    ),
    topics: topicRouter('{db}.{table}', new Map()),
    partitionStrategy: 'hash-by-key' as const,
    tableIdHeaders: false,
    customHeaders: new Map<string, string>(),
    partitionsOf: () => PARTITIONS,
  };
  // Warm up the JIT on a slice, then measure the whole.
  for (const e of input.slice(0, 5_000)) buildRecords(options, e, ORDERS_TABLE);
  let start = process.hrtime.bigint();
  for (const e of input) options.format.encode(e, ORDERS_TABLE);
  const formatNs = Number(process.hrtime.bigint() - start);
  // As the sink works: records built and sent in chunks of batch.max-records (2,000), nothing kept after.
  let buildNs = 0;
  let encodeNs = 0;
  let bytes = 0;
  const used = new Set<number>();
  for (let c = 0; c < input.length; c += CHUNK) {
    start = process.hrtime.bigint();
    const records: KafkaRecord[] = [];
    for (const e of input.slice(c, c + CHUNK)) for (const r of buildRecords(options, e, ORDERS_TABLE)) records.push(r);
    buildNs += Number(process.hrtime.bigint() - start);
    start = process.hrtime.bigint();
    const byPartition = new Map<number, KafkaRecord[]>();
    for (const r of records) {
      let list = byPartition.get(r.partition);
      if (!list) byPartition.set(r.partition, (list = []));
      list.push(r);
    }
    for (const [partition, list] of byPartition) {
      used.add(partition);
      const batch = await RecordBatch({
        transactional: true,
        lastOffsetDelta: list.length - 1,
        records: list.map((r, k) => Record({ offsetDelta: k, key: r.key, value: r.value, headers: r.headers })),
      });
      bytes += batch.size();
    }
    encodeNs += Number(process.hrtime.bigint() - start);
  }
  const perRow = (ns: number) => (ns / input.length / 1000).toFixed(2);
  const rate = (ns: number) => Math.round(input.length / (ns / 1e9)).toLocaleString('en-US');
  console.log(
    `${format.padEnd(13)} format alone ${perRow(formatNs)} µs/row; build (format + topic, key, murmur2 partition) ${perRow(buildNs)} µs/row (${rate(buildNs)} rows/s), ` +
      `kafkajs record batch ${perRow(encodeNs)} µs/row, together ${rate(buildNs + encodeNs)} rows/s; ` +
      `${(bytes / input.length).toFixed(0)} bytes/row on the wire, ${used.size} partitions used`,
  );
}

async function main(): Promise<void> {
  const input = events();
  console.log(
    `${ROWS.toLocaleString('en-US')} inserts of a 5-column table, ${PARTITIONS} partitions, Node ${process.version}`,
  );
  for (const format of ['debezium-json', 'canal-json', 'json'] as const) await measure(format, input);
}

await main();
