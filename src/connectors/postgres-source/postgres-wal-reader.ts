import { tableIdToString, TributaryError, type Row } from '../../core/index.js';
import type { LogReader } from '../source-kit/index.js';
import type { Lsn } from './pg-lsn.js';
import type { PgReplicationStream } from './pg-replication-stream.js';
import {
  decodePgoutput,
  streamedMessageXid,
  UNCHANGED_TOAST,
  type PgoutputMessage,
  type TupleData,
} from './pgoutput-decoder.js';
import type { PgTable } from './postgres-source-catalog.js';
import { convertRow } from './postgres-source-snapshot.js';
import { StreamedTransactions } from './postgres-stream-buffer.js';
import type { WalRowChange, WalStep } from './postgres-wal-step.js';

/** Row changes per `next()` at most (bounds one batch's memory). */
const CHANGES_PER_PULL = 4096;

export interface WalReaderOptions {
  readonly stream: PgReplicationStream;
  /** The captured table a relation oid stands for (undefined: not captured, or no Relation message yet). */
  readonly relationFor: (oid: number) => PgTable | undefined;
  /** The prefix of this pipeline's logical messages (`tributary:<slot>`). */
  readonly messagePrefix: string;
  /** What the sink has committed (the slot may confirm it), for the status updates the server asks for. */
  readonly committed: () => Lsn;
  readonly heartbeatMs: number;
  /** The error to throw for a failed stream (the source classifies it). */
  readonly streamError: (error: unknown) => Error;
  /** Memory for streamed transactions in progress (protocol 2) before they spill to disk; default 64 MiB. */
  readonly streamMemoryBytes?: number;
}

/**
 * The replication stream as the source kit's log: pgoutput messages → {@link WalStep}s. A pull ends after a
 * `ddl` step (a Relation message: the rows after it are converted with the columns it announces, which the
 * source learns only when it applies the step). Keepalives outside a transaction move the position to the
 * server's WAL position (everything before it was sent) and, with nothing buffered, say the stream is idle.
 *
 * With protocol 2 the server streams a transaction larger than `logical_decoding_work_mem` in blocks while it
 * runs (Stream Start … Stream Stop, interleaved with other transactions); the reader keeps the blocks by
 * transaction ({@link StreamedTransactions}, spilling to disk beyond a bound) and, at Stream Commit, replays them
 * as one transaction at its commit LSN — in commit order with the others, as protocol 1 would have sent it;
 * a Stream Abort drops them. Moving the position past an open streamed transaction is safe: it commits later,
 * and the slot keeps its WAL until then, so a restart from the position receives it whole.
 */
export class WalReader implements LogReader<WalStep> {
  private inTransaction = false;
  private commitLsn: Lsn = 0n;
  private received: Lsn = 0n;
  private readonly heartbeat: NodeJS.Timeout;
  private readonly streamed: StreamedTransactions;
  /** The top-level transaction of the stream block being received (between Stream Start and Stream Stop). */
  private streamingXid: number | undefined;
  /** A committed streamed transaction being replayed, and its commit. */
  private replay:
    { messages: AsyncGenerator<Buffer>; commit: Extract<PgoutputMessage, { tag: 'stream-commit' }> } | undefined;

  constructor(private readonly options: WalReaderOptions) {
    this.streamed = new StreamedTransactions(options.streamMemoryBytes);
    const { stream } = options;
    this.heartbeat = setInterval(
      () => stream.sendStatus(this.received, options.committed(), true),
      options.heartbeatMs,
    );
    this.heartbeat.unref();
  }

  /** Tells the server what the sink committed: the slot's `confirmed_flush_lsn` moves there. */
  confirm(lsn: Lsn): void {
    this.options.stream.sendStatus(this.received > lsn ? this.received : lsn, lsn, false);
  }

  async next(): Promise<{ steps: WalStep[]; caughtUp: boolean } | null> {
    const { stream } = this.options;
    const steps: WalStep[] = [];
    let changes = 0;
    for (;;) {
      if (this.replay) {
        if (changes >= CHANGES_PER_PULL) break;
        const next = await this.replay.messages.next();
        if (next.done) {
          const { commit } = this.replay;
          this.replay = undefined;
          this.inTransaction = false;
          steps.push({ kind: 'commit', end: commit.commitLsn, endLsn: commit.endLsn, tsMs: commit.tsMs });
          continue;
        }
        changes += this.toSteps(decodePgoutput(next.value, true), steps);
        if (steps[steps.length - 1]?.kind === 'ddl') break;
        continue;
      }
      if (steps.length > 0 && (stream.buffered === 0 || changes >= CHANGES_PER_PULL)) break;
      let frame;
      try {
        frame = await stream.next();
      } catch (error) {
        throw this.options.streamError(error);
      }
      if (frame === null) {
        if (steps.length > 0) break;
        return null;
      }
      if (frame.walEnd > this.received) this.received = frame.walEnd;
      if (frame.kind === 'keepalive') {
        if (frame.replyRequested) stream.sendStatus(this.received, this.options.committed(), false);
        if (!this.inTransaction) {
          steps.push({ kind: 'advance', end: frame.walEnd });
          if (stream.buffered === 0) steps.push({ kind: 'idle' });
        }
        continue;
      }
      if (this.streamingXid !== undefined) {
        const subxid = streamedMessageXid(frame.data);
        if (subxid !== undefined) {
          this.streamed.add(this.streamingXid, subxid, frame.data);
          continue;
        }
      }
      const message = decodePgoutput(frame.data);
      changes += this.toSteps(message, steps);
      if (steps[steps.length - 1]?.kind === 'ddl') break;
    }
    return { steps, caughtUp: stream.buffered === 0 && !this.inTransaction };
  }

  async close(): Promise<void> {
    clearInterval(this.heartbeat);
    this.options.stream.close();
    // A replay cut short closes its spill file (the generator's finally) before the buffer removes the files.
    const replay = this.replay;
    this.replay = undefined;
    await replay?.messages.return(undefined).catch(() => undefined);
    this.streamed.close();
  }

  /** Appends the steps of one message; returns the row changes it carried. */
  private toSteps(message: PgoutputMessage, steps: WalStep[]): number {
    switch (message.tag) {
      case 'begin':
        this.inTransaction = true;
        this.commitLsn = message.finalLsn;
        steps.push({ kind: 'begin', start: message.finalLsn, xid: message.xid, tsMs: message.tsMs });
        return 0;
      case 'commit':
        this.inTransaction = false;
        steps.push({ kind: 'commit', end: message.commitLsn, endLsn: message.endLsn, tsMs: message.tsMs });
        return 0;
      case 'relation':
        steps.push({ kind: 'ddl', end: this.commitLsn, change: { type: 'relation', message } });
        return 0;
      case 'truncate':
        steps.push({ kind: 'ddl', end: this.commitLsn, change: { type: 'truncate', relations: message.relations } });
        return 0;
      case 'message':
        if (message.transactional || this.inTransaction) return 0;
        if (message.prefix === this.options.messagePrefix) {
          const text = message.content.toString('utf8');
          if (text.startsWith('add ')) {
            steps.push({ kind: 'ddl', end: message.lsn, change: { type: 'table-added', table: text.slice(4) } });
            return 0;
          }
        }
        // A watermark (ours or another pipeline's): the position moves to it.
        steps.push({ kind: 'advance', end: message.lsn });
        return 0;
      case 'insert':
      case 'update':
      case 'delete':
        return this.rowStep(message, steps);
      case 'stream-start':
        this.streamingXid = message.xid;
        return 0;
      case 'stream-stop':
        this.streamingXid = undefined;
        return 0;
      case 'stream-abort':
        this.streamed.abort(message.xid, message.subxid);
        return 0;
      case 'stream-commit':
        this.inTransaction = true;
        this.commitLsn = message.commitLsn;
        steps.push({ kind: 'begin', start: message.commitLsn, xid: message.xid, tsMs: message.tsMs });
        this.replay = { messages: this.streamed.commit(message.xid), commit: message };
        return 0;
      default:
        return 0; // type, origin: nothing to deliver
    }
  }

  private rowStep(
    message: Extract<PgoutputMessage, { tag: 'insert' | 'update' | 'delete' }>,
    steps: WalStep[],
  ): number {
    const table = this.options.relationFor(message.relation);
    if (!table) return 0;
    const name = tableIdToString(table.schema.id);
    const change = decodeChange(message, table, name);
    // Consecutive changes of one table in a transaction form one step.
    const last = steps[steps.length - 1];
    if (last?.kind === 'rows' && last.pgTable === table && last.end === this.commitLsn) {
      (last.changes as WalRowChange[]).push(change);
      pushImages(last.rows as Row[], change);
      return 1;
    }
    const rows: Row[] = [];
    pushImages(rows, change);
    steps.push({ kind: 'rows', table: name, pgTable: table, rows, changes: [change], end: this.commitLsn });
    return 1;
  }
}

function pushImages(rows: Row[], change: WalRowChange): void {
  if (change.before) rows.push(change.before);
  if (change.after) rows.push(change.after);
}

function decodeChange(
  message: Extract<PgoutputMessage, { tag: 'insert' | 'update' | 'delete' }>,
  table: PgTable,
  name: string,
): WalRowChange {
  if (message.tag === 'insert')
    return { op: 'insert', before: null, after: convertRow(plain(message.after, name), table, name) };
  if (message.tag === 'delete') return { op: 'delete', before: imageOf(message.before, table, name), after: null };
  const before = message.before ? imageOf(message.before, table, name) : keyImage(message.after, table, name);
  if (message.after.some((v) => v === UNCHANGED_TOAST)) {
    return {
      op: 'update',
      before,
      after: keyImage(message.after, table, name),
      toast: { after: message.after, before: message.before, beforeKind: message.beforeKind },
    };
  }
  return { op: 'update', before, after: convertRow(message.after as readonly (string | null)[], table, name) };
}

/** A tuple without unchanged-TOAST markers (inserts never have them). */
function plain(tuple: TupleData, name: string): (string | null)[] {
  return tuple.map((v) => {
    if (v === UNCHANGED_TOAST) throw new TributaryError('SOURCE_PROTOCOL', `${name}: unexpected unchanged TOAST value`);
    return v;
  });
}

/**
 * The before image of an update or delete: the whole old row under REPLICA IDENTITY FULL, else the key with the
 * other columns NULL (pgoutput sends nothing more).
 */
function imageOf(tuple: TupleData, table: PgTable, name: string): Row {
  return convertRow(
    tuple.map((v) => (v === UNCHANGED_TOAST ? null : v)),
    table,
    name,
  );
}

/** The key of a row (the other columns NULL): the before image of an update that did not change the key. */
function keyImage(tuple: TupleData, table: PgTable, name: string): Row {
  const keys = new Set(table.schema.primaryKey);
  return convertRow(
    tuple.map((v, i) => (keys.has(table.schema.columns[i]!.name) && v !== UNCHANGED_TOAST ? v : null)),
    table,
    name,
  );
}
