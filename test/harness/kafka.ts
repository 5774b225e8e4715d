import { Kafka, logLevel } from 'kafkajs';

/** The broker the Kafka integration tests run against, when one is given (no Kafka broker installs here). */
export const TEST_KAFKA_URL = process.env['TRIBUTARY_TEST_KAFKA_URL'];

export interface TopicRecord {
  readonly partition: number;
  readonly offset: string;
  readonly key: string | null;
  readonly value: Record<string, unknown> | null;
}

/**
 * Every committed record of `topic` (read_committed, as a Java consumer with isolation.level=read_committed
 * sees it), read from the beginning to the high watermark of each partition at the time of the call.
 */
export async function readTopic(brokers: string, topic: string, timeoutMs = 60_000): Promise<TopicRecord[]> {
  const kafka = new Kafka({
    brokers: brokers.split(','),
    clientId: 'tributary-test-reader',
    logLevel: logLevel.NOTHING,
  });
  const admin = kafka.admin();
  await admin.connect();
  const ends = new Map<number, bigint>();
  try {
    for (const p of await admin.fetchTopicOffsets(topic)) {
      if (BigInt(p.high) > BigInt(p.low)) ends.set(p.partition, BigInt(p.high) - 1n);
    }
  } finally {
    await admin.disconnect();
  }
  const records: TopicRecord[] = [];
  if (ends.size === 0) return records;
  const consumer = kafka.consumer({ groupId: `tributary-test-${process.pid}-${Date.now()}`, readUncommitted: false });
  await consumer.connect();
  try {
    await consumer.subscribe({ topics: [topic], fromBeginning: true });
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`reading ${topic} timed out`)), timeoutMs);
      consumer.on(consumer.events.END_BATCH_PROCESS, ({ payload }) => {
        const end = ends.get(payload.partition);
        if (end !== undefined && BigInt(payload.lastOffset) >= end) ends.delete(payload.partition);
        if (ends.size === 0) {
          clearTimeout(timer);
          resolve();
        }
      });
      consumer
        .run({
          autoCommit: false,
          eachMessage: async ({ partition, message }) => {
            records.push({
              partition,
              offset: message.offset,
              key: message.key?.toString('utf8') ?? null,
              value: message.value ? (JSON.parse(message.value.toString('utf8')) as Record<string, unknown>) : null,
            });
            await Promise.resolve();
          },
        })
        .catch(reject);
    });
  } finally {
    await consumer.disconnect();
  }
  return records;
}
