import type { Admin, Consumer, Kafka } from 'kafkajs';
import { TributaryError } from '../../core/errors.js';
import type { Checkpoint } from '../../core/sink.js';

/**
 * The checkpoint records of a `kafka` sink: one compacted, one-partition topic per pipeline whose records
 * (key: the pipeline name) each hold a committed checkpoint. The sink writes one as the last record of every
 * transaction, so it commits or aborts with the data; the last record of the topic that a read_committed
 * consumer sees is the pipeline's checkpoint.
 */
export interface CheckpointRecord {
  readonly pipeline: string;
  /** Null for the record `run --reset` writes: the pipeline starts over, the data stays. */
  readonly checkpoint: Checkpoint | null;
  readonly format: string;
}

/** Creates the checkpoint topic if missing: one partition, `cleanup.policy=compact` (only the last record per key is kept). */
export async function ensureCheckpointTopic(
  admin: Admin,
  topic: string,
  replicationFactor: number | undefined,
): Promise<boolean> {
  return admin.createTopics({
    waitForLeaders: true,
    topics: [
      {
        topic,
        numPartitions: 1,
        ...(replicationFactor !== undefined ? { replicationFactor } : {}),
        configEntries: [{ name: 'cleanup.policy', value: 'compact' }],
      },
    ],
  });
}

/**
 * Reads the last checkpoint record of `pipeline` that is committed: from the start of the (compacted) topic up to
 * its high watermark, read_committed. Call it only after fencing (the transactional producer's init): then no
 * transaction of this pipeline is open, the last stable offset is the high watermark, and the read ends.
 */
export async function readLastCheckpoint(
  kafka: Kafka,
  admin: Admin,
  topic: string,
  pipeline: string,
  groupId: string,
  timeoutMs: number,
): Promise<CheckpointRecord | null> {
  const topics = await admin.listTopics();
  if (!topics.includes(topic)) return null;
  const offsets = await admin.fetchTopicOffsets(topic);
  const partition = offsets.find((o) => o.partition === 0);
  if (!partition || BigInt(partition.high) <= BigInt(partition.low)) return null;
  const last = BigInt(partition.high) - 1n;
  const consumer: Consumer = kafka.consumer({ groupId, readUncommitted: false, allowAutoTopicCreation: false });
  let found: CheckpointRecord | null = null;
  try {
    await consumer.connect();
    // The group never commits offsets, so it always starts at the beginning of the topic.
    await consumer.subscribe({ topics: [topic], fromBeginning: true });
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(
        () =>
          reject(
            new TributaryError(
              'SINK_TIMEOUT',
              `reading checkpoint topic ${topic} did not reach offset ${last} in time`,
              {
                hint: 'check that no other producer keeps a transaction open on the checkpoint topic',
              },
            ),
          ),
        timeoutMs,
      );
      const done = (offset: string): void => {
        if (BigInt(offset) >= last) {
          clearTimeout(timer);
          resolve();
        }
      };
      // Batches of control records only (commit/abort markers) reach no handler: this event reports them too.
      consumer.on(consumer.events.END_BATCH_PROCESS, (event) => {
        if (event.payload.topic === topic) done(event.payload.lastOffset);
      });
      consumer.on(consumer.events.CRASH, (event) => {
        clearTimeout(timer);
        reject(event.payload.error);
      });
      consumer
        .run({
          autoCommit: false,
          eachBatch: async ({ batch }) => {
            for (const message of batch.messages) {
              if (message.key?.toString('utf8') !== pipeline || message.value === null) continue;
              const record = JSON.parse(message.value.toString('utf8')) as CheckpointRecord;
              if (record.pipeline === pipeline) found = record;
            }
            await Promise.resolve();
          },
        })
        .catch(reject);
    });
  } finally {
    await consumer.disconnect();
  }
  return found;
}
