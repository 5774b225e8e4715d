import type { Checkpoint } from '../../core/sink.js';

/**
 * How a Tributary writer makes a JetStream stream exactly once without transactions (docs/connectors/nats.md):
 *
 * 1. On open the writer publishes a **fence** message expecting the stream's last sequence; its sequence is the
 *    writer's **epoch**. Any older writer still alive now fails its next publish (wrong last sequence).
 * 2. Every data message carries `Tributary-Epoch` and `Tributary-Batch` (the commit number within the epoch)
 *    headers and is published expecting the previous sequence, so the messages of one writer are contiguous.
 * 3. A commit ends with a **checkpoint** message (epoch, batch, message count, the pipeline checkpoint).
 *    Data messages of a batch that never got its checkpoint (a crash) are orphans: the next writer deletes
 *    them after its fence, and a Tributary reader drops them in any case, because their batch has no
 *    checkpoint message.
 */
export const HEADER_EPOCH = 'Tributary-Epoch';
export const HEADER_BATCH = 'Tributary-Batch';
/** The record key (primary key as JSON, non-ASCII escaped), for formats and readers that need it. */
export const HEADER_KEY = 'Tributary-Key';

/** The body of a checkpoint message. */
export interface CheckpointRecord {
  readonly epoch: number;
  readonly batch: number;
  /** Data messages of this batch, all with sequences between the previous control message and this one. */
  readonly count: number;
  /**
   * With `partitions` > 1: of `count`, the data messages per key-hash partition (index = partition), so a reader
   * of one partition's subjects knows when it holds its part of the batch (docs/scale-out.md).
   */
  readonly partitions?: readonly number[];
  readonly format: string;
  /** Null for the marker `run --reset` writes: the pipeline starts over, the data stays. */
  readonly checkpoint: Checkpoint | null;
}

/** JSON with every non-ASCII character escaped, so it fits a NATS header value. */
export function asciiJson(text: string): string {
  return text.replace(/[^\x20-\x7e]/g, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`);
}

export function parseCheckpointRecord(data: Uint8Array): CheckpointRecord {
  return JSON.parse(Buffer.from(data).toString('utf8')) as CheckpointRecord;
}
