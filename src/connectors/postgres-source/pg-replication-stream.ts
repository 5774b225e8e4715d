import type { Duplex, DuplexOptions } from 'node:stream';
import type pg from 'pg';
import * as copyStreams from 'pg-copy-streams';
import { formatLsn, pgTimestampNow, type Lsn } from './pg-lsn.js';

/** One CopyData frame of the walsender (PostgreSQL docs, "Streaming Replication Protocol"). */
export type ReplicationFrame =
  | { readonly kind: 'xlog'; readonly start: Lsn; readonly walEnd: Lsn; readonly data: Buffer }
  | { readonly kind: 'keepalive'; readonly walEnd: Lsn; readonly replyRequested: boolean };

/** pg-copy-streams' CopyBoth query (its type declarations know only `from` and `to`). */
const copyBoth = (
  copyStreams as unknown as {
    both: (
      this: void,
      text: string,
      options: DuplexOptions & { alignOnCopyDataFrame: boolean },
    ) => Duplex & pg.Submittable;
  }
).both;

/** Frames buffered before the socket is paused (backpressure: the server waits while the pipeline is busy). */
const HIGH_WATER_FRAMES = 4096;

/**
 * `START_REPLICATION SLOT … LOGICAL …` on a walsender connection, through pg-copy-streams' CopyBoth duplex:
 * frames are read one by one (XLogData 'w', primary keepalive 'k'), and standby status updates ('r') carry
 * the position the pipeline has committed, which becomes the slot's `confirmed_flush_lsn`.
 */
export class PgReplicationStream {
  private readonly frames: ReplicationFrame[] = [];
  private waiter: { resolve: (frame: ReplicationFrame | null) => void; reject: (error: Error) => void } | undefined;
  private failure: unknown;
  private ended = false;
  private paused = false;
  private stream: Duplex | undefined;
  /** Last time a frame arrived (ms), to notice a silent connection. */
  lastFrameAt = Date.now();

  constructor(private readonly client: pg.Client) {}

  /**
   * Starts streaming the slot from `startLsn`. `streaming` (PostgreSQL 14 and later): protocol 2 with large
   * transactions streamed while in progress, instead of protocol 1 (sent after their commit, the server
   * spilling them to its disk meanwhile).
   */
  start(slot: string, startLsn: Lsn, publication: string, streaming = false): void {
    const protocol = streaming ? `proto_version '2', streaming 'on'` : `proto_version '1'`;
    const sql =
      `START_REPLICATION SLOT "${slot}" LOGICAL ${formatLsn(startLsn)} ` +
      `(${protocol}, publication_names '"${publication}"', messages 'true')`;
    const stream = this.client.query(copyBoth(sql, { alignOnCopyDataFrame: true, readableObjectMode: true }));
    this.stream = stream;
    stream.on('data', (chunk: Buffer) => this.onFrame(chunk));
    stream.on('error', (error: unknown) => this.finish(error));
    stream.on('end', () => this.finish(undefined));
    stream.on('close', () => this.finish(undefined));
  }

  private onFrame(chunk: Buffer): void {
    this.lastFrameAt = Date.now();
    let frame: ReplicationFrame;
    const tag = chunk[0];
    if (tag === 0x77 /* w */) {
      frame = {
        kind: 'xlog',
        start: chunk.readBigUInt64BE(1),
        walEnd: chunk.readBigUInt64BE(9),
        data: chunk.subarray(25),
      };
    } else if (tag === 0x6b /* k */) {
      frame = { kind: 'keepalive', walEnd: chunk.readBigUInt64BE(1), replyRequested: chunk[17] === 1 };
    } else {
      return;
    }
    if (this.waiter) {
      const { resolve } = this.waiter;
      this.waiter = undefined;
      resolve(frame);
      return;
    }
    this.frames.push(frame);
    if (this.frames.length >= HIGH_WATER_FRAMES && !this.paused) {
      this.paused = true;
      this.stream?.pause();
    }
  }

  private finish(error: unknown): void {
    if (this.ended) return;
    this.ended = true;
    this.failure = error;
    const waiter = this.waiter;
    this.waiter = undefined;
    if (waiter) {
      if (error === undefined) waiter.resolve(null);
      else waiter.reject(asError(error));
    }
  }

  /** Frames already received and not yet taken. */
  get buffered(): number {
    return this.frames.length;
  }

  /** The next frame; null once the stream ended without error. */
  next(): Promise<ReplicationFrame | null> {
    const frame = this.frames.shift();
    if (this.paused && this.frames.length < HIGH_WATER_FRAMES / 2) {
      this.paused = false;
      this.stream?.resume();
    }
    if (frame) return Promise.resolve(frame);
    if (this.ended) return this.failure === undefined ? Promise.resolve(null) : Promise.reject(asError(this.failure));
    return new Promise((resolve, reject) => {
      this.waiter = { resolve, reject };
    });
  }

  /** A standby status update: received up to `written`, committed (flushed and applied) up to `flushed`. */
  sendStatus(written: Lsn, flushed: Lsn, replyRequested: boolean): void {
    if (!this.stream || this.ended) return;
    const message = Buffer.alloc(34);
    message[0] = 0x72; // 'r'
    message.writeBigUInt64BE(written, 1);
    message.writeBigUInt64BE(flushed, 9);
    message.writeBigUInt64BE(flushed, 17);
    message.writeBigInt64BE(pgTimestampNow(), 25);
    message[33] = replyRequested ? 1 : 0;
    this.stream.write(message);
  }

  /** Ends the stream (the caller closes the connection); a pending {@link next} resolves with null. */
  close(): void {
    this.finish(undefined);
  }
}

function asError(error: unknown): Error {
  return error instanceof Error ? error : new Error(String(error));
}
