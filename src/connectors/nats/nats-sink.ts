import { randomUUID } from 'node:crypto';
import {
  headers as natsHeaders,
  type JetStreamClient,
  type JetStreamManager,
  type NatsConnection,
  type PubAck,
} from 'nats';
import type { ChangeEvent } from '../../core/change-event.js';
import { TributaryError } from '../../core/errors.js';
import type { OptionValues } from '../../core/option-spec.js';
import type { Checkpoint, Sink } from '../../core/sink.js';
import { tableIdToString, type TableSchema } from '../../core/table-schema.js';
import type { ChangeFormat, LogRecord } from '../../formats/change-format.js';
import { changeFormat } from '../../formats/change-formats.js';
import type { SinkContext } from '../../core/connector.js';
import { natsConnect } from './nats-connection.js';
import {
  classifyNatsError,
  jetStreamErrorCode,
  JS_NO_MESSAGE_FOUND,
  JS_STREAM_NOT_FOUND,
  streamInfoWithLeader,
} from './nats-errors.js';
import {
  asciiJson,
  HEADER_BATCH,
  HEADER_EPOCH,
  HEADER_KEY,
  parseCheckpointRecord,
  type CheckpointRecord,
} from './nats-log-protocol.js';
import { natsSinkConfig, type NatsSinkConfig } from './nats-sink-config.js';
import { keyPartition, streamSubjects, type StreamSubjects } from './nats-subjects.js';

export function natsSink(options: OptionValues, context: SinkContext): Sink {
  for (const key of ['password', 'token']) {
    if (typeof options[key] === 'string') context.log.addSecret(options[key]);
  }
  return new NatsSink(options, natsSinkConfig(options, context.pipelineName), context);
}

interface Session {
  readonly nc: NatsConnection;
  readonly js: JetStreamClient;
  readonly jsm: JetStreamManager;
}

/**
 * The `nats` sink: each change becomes one or two messages (a tombstone after a delete) on its table's subject
 * of the pipeline's stream, published as soon as it is written (fenced, acknowledgements pipelined); `commit`
 * waits for every acknowledgement and publishes the checkpoint message. See nats-log-protocol.ts.
 */
class NatsSink implements Sink {
  private session: Session | undefined;
  private readonly subjects: StreamSubjects;
  private readonly format: ChangeFormat;
  private readonly schemas = new Map<string, TableSchema>();
  private epoch = 0;
  private batch = 0;
  /** The stream sequence our next publish expects to follow. */
  private lastSeq = 0;
  /** The `Nats-Msg-Id` of our last publish: the next one expects it, so after one failure all later ones fail too. */
  private lastMsgId = '';
  private inBatch = 0;
  /** Data messages of the batch per key-hash partition (with `partitions` > 1). */
  private perPartition: number[] = [];
  private events = 0;
  private inFlight: Promise<PubAck>[] = [];
  private failure: unknown;

  constructor(
    private readonly options: OptionValues,
    private readonly config: NatsSinkConfig,
    private readonly context: SinkContext,
  ) {
    this.subjects = streamSubjects(config.subjectPrefix, config.partitions);
    const formatContext = { serverName: config.serverName, nowMs: () => Date.now() };
    this.format = changeFormat(config.format, config.debezium, formatContext);
  }

  private async connect(): Promise<Session> {
    if (!this.session) {
      const nc = await natsConnect(
        this.options,
        'sink',
        this.context.log,
        `tributary ${this.context.pipelineName} sink`,
      );
      try {
        this.session = { nc, js: nc.jetstream(), jsm: await nc.jetstreamManager() };
      } catch (error) {
        await nc.close();
        throw classifyNatsError(error, 'sink', 'JetStream');
      }
    }
    return this.session;
  }

  async validate(): Promise<void> {
    const { jsm } = await this.connect();
    try {
      await jsm.getAccountInfo();
      await this.streamInfo(jsm);
    } catch (error) {
      throw classifyNatsError(error, 'sink', 'JetStream');
    }
  }

  /** The stream's info, null when it does not exist yet; refuses a stream that does not hold our subjects. */
  private async streamInfo(jsm: JetStreamManager) {
    const info = await streamInfoWithLeader(jsm, this.config.stream, 'sink');
    if (info !== null && !info.config.subjects.includes(this.subjects.all)) {
      throw new TributaryError(
        'CONFIG_INVALID',
        `stream ${this.config.stream} exists but does not take subjects ${this.subjects.all} (it takes ${info.config.subjects.join(', ')})`,
        { hint: 'choose another sink option `stream`, or set `subject.prefix` to a prefix the stream takes' },
      );
    }
    return info;
  }

  private async lastCheckpoint(jsm: JetStreamManager): Promise<{ seq: number; record: CheckpointRecord } | null> {
    try {
      const message = await jsm.streams.getMessage(this.config.stream, { last_by_subj: this.subjects.checkpoint });
      return { seq: message.seq, record: parseCheckpointRecord(message.data) };
    } catch (error) {
      if (jetStreamErrorCode(error) === JS_NO_MESSAGE_FOUND || jetStreamErrorCode(error) === JS_STREAM_NOT_FOUND)
        return null;
      throw error;
    }
  }

  async savedCheckpoint(pipeline: string): Promise<Checkpoint | null> {
    const { jsm } = await this.connect();
    try {
      // A message by subject is answered by the stream's leader alone: unanswered (a timeout) while there is none.
      if ((await this.streamInfo(jsm)) === null) return null;
      const last = await this.lastCheckpoint(jsm);
      const checkpoint = last?.record.checkpoint;
      return checkpoint && checkpoint.pipeline === pipeline ? checkpoint : null;
    } catch (error) {
      throw classifyNatsError(error, 'sink', `reading the checkpoint of stream ${this.config.stream}`);
    }
  }

  async open(pipeline: string): Promise<Checkpoint | null> {
    const { jsm, js } = await this.connect();
    try {
      let info = await this.streamInfo(jsm);
      if (!info) {
        info = await jsm.streams.add({
          name: this.config.stream,
          subjects: [this.subjects.all],
          num_replicas: this.config.replicas,
        });
        this.context.log.info(`created JetStream stream ${this.config.stream} (subjects ${this.subjects.all})`);
      }
      const last = await this.lastCheckpoint(jsm);
      const seenSeq = info.state.last_seq;
      // The fence: from here on, a writer that published before it fails its next publish.
      const fenceId = `fence.${randomUUID()}`;
      const fence = await js.publish(this.subjects.fence, new TextEncoder().encode(JSON.stringify({ pipeline })), {
        msgID: fenceId,
        expect: { lastSequence: seenSeq },
      });
      this.epoch = fence.seq;
      this.lastSeq = fence.seq;
      this.lastMsgId = fenceId;
      this.batch = 0;
      this.inBatch = 0;
      this.perPartition = new Array<number>(this.config.partitions).fill(0);
      this.events = 0;
      this.inFlight = [];
      this.failure = undefined;
      // Orphans: data of a commit that never got its checkpoint. Readers skip them anyway; deleting them keeps
      // them from consumers that read the subjects without the protocol.
      const from = (last?.seq ?? 0) + 1;
      let orphans = 0;
      for (let seq = Math.max(from, info.state.first_seq); seq <= seenSeq; seq++) {
        try {
          const m = await jsm.streams.getMessage(this.config.stream, { seq });
          if (m.subject !== this.subjects.fence && m.subject !== this.subjects.checkpoint) {
            await jsm.streams.deleteMessage(this.config.stream, seq, false);
            orphans++;
          }
        } catch (error) {
          if (jetStreamErrorCode(error) !== JS_NO_MESSAGE_FOUND) throw error;
        }
      }
      if (orphans > 0) this.context.log.info(`deleted ${orphans} uncommitted messages after the last checkpoint`);
      const checkpoint = last?.record.checkpoint;
      return checkpoint && checkpoint.pipeline === pipeline ? checkpoint : null;
    } catch (error) {
      throw classifyNatsError(error, 'sink', `opening stream ${this.config.stream}`);
    }
  }

  async write(events: readonly ChangeEvent[]): Promise<void> {
    const { js } = await this.connect();
    this.throwIfFailed();
    for (const event of events) {
      let records: LogRecord[];
      if (event.kind === 'schema') {
        // A truncate (or, in canal-json, a dropped table) is a keyless message on the table's subject.
        records = this.format.encodeTableChange(event);
        this.applySchema(event.change, tableIdToString(event.table), event.schema);
        if (records.length === 0) continue;
      } else {
        const name = tableIdToString(event.table);
        const schema = this.schemas.get(name);
        if (!schema) throw new TributaryError('INTERNAL', `a change of ${name} arrived before its schema`);
        records = this.format.encode(event, schema);
      }
      this.events++;
      for (const record of records) {
        const h = natsHeaders();
        h.set(HEADER_EPOCH, String(this.epoch));
        h.set(HEADER_BATCH, String(this.batch + 1));
        if (record.key !== null) h.set(HEADER_KEY, asciiJson(record.key));
        // Fenced twice: by the sequence (the stream holds nothing between two of our messages) and by the
        // previous message id (pipelined publishes after a rejected one cannot match a sequence by accident).
        const expected = { lastSequence: this.lastSeq++, lastMsgID: this.lastMsgId };
        const msgID = `${this.epoch}.${this.batch + 1}.${++this.inBatch}`;
        this.lastMsgId = msgID;
        if (this.config.partitions > 1) {
          const p = keyPartition(record.key, this.config.partitions);
          this.perPartition[p] = (this.perPartition[p] ?? 0) + 1;
        }
        const ack = js.publish(
          this.subjects.data(event.table, record.key),
          record.value === null ? new Uint8Array(0) : Buffer.from(record.value, 'utf8'),
          { headers: h, msgID, expect: expected },
        );
        ack.catch((error: unknown) => (this.failure ??= error));
        this.inFlight.push(ack);
        if (this.inFlight.length >= this.config.maxInFlight) await this.drain();
      }
    }
  }

  private applySchema(change: string, name: string, schema: TableSchema): void {
    if (change === 'dropTable') this.schemas.delete(name);
    else if (change === 'renameTable') {
      this.schemas.delete(name);
      this.schemas.set(tableIdToString(schema.id), schema);
    } else this.schemas.set(name, schema);
  }

  /** Waits for every publish in flight; the first failure fails the batch (its messages become orphans). */
  private async drain(): Promise<void> {
    const pending = this.inFlight;
    this.inFlight = [];
    await Promise.allSettled(pending);
    this.throwIfFailed();
  }

  private throwIfFailed(): void {
    if (this.failure !== undefined) {
      throw classifyNatsError(this.failure, 'sink', `publishing to stream ${this.config.stream}`);
    }
  }

  pending(): number {
    return this.events;
  }

  async commit(checkpoint: Checkpoint): Promise<void> {
    const { js } = await this.connect();
    await this.drain();
    const record: CheckpointRecord = {
      epoch: this.epoch,
      batch: this.batch + 1,
      count: this.inBatch,
      ...(this.config.partitions > 1 ? { partitions: this.perPartition } : {}),
      format: this.config.format,
      checkpoint,
    };
    try {
      const msgID = `${this.epoch}.${this.batch + 1}.checkpoint`;
      const ack = await js.publish(this.subjects.checkpoint, Buffer.from(JSON.stringify(record), 'utf8'), {
        msgID,
        expect: { lastSequence: this.lastSeq, lastMsgID: this.lastMsgId },
      });
      this.lastSeq = ack.seq;
      this.lastMsgId = msgID;
    } catch (error) {
      throw classifyNatsError(error, 'sink', `committing checkpoint ${checkpoint.id} to stream ${this.config.stream}`);
    }
    this.batch++;
    this.inBatch = 0;
    this.perPartition = new Array<number>(this.config.partitions).fill(0);
    this.events = 0;
  }

  /** Appends a checkpoint message without a checkpoint: the next run starts over; the data stays in the stream. */
  async reset(pipeline: string): Promise<void> {
    const { jsm, js } = await this.connect();
    try {
      const info = await this.streamInfo(jsm);
      if (!info) return;
      const record: CheckpointRecord = { epoch: 0, batch: 0, count: 0, format: this.config.format, checkpoint: null };
      await js.publish(this.subjects.checkpoint, Buffer.from(JSON.stringify({ ...record, pipeline }), 'utf8'), {
        expect: { lastSequence: info.state.last_seq },
      });
    } catch (error) {
      throw classifyNatsError(error, 'sink', `resetting the checkpoint of stream ${this.config.stream}`);
    }
  }

  async close(): Promise<void> {
    const session = this.session;
    this.session = undefined;
    if (!session) return;
    await Promise.allSettled(this.inFlight);
    this.inFlight = [];
    await session.nc.close();
  }
}
