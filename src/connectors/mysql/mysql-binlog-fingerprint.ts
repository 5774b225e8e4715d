import { TributaryError } from '../../core/index.js';
import { EventType } from './protocol/binlog-constants.js';
import { openBinlogStream } from './protocol/binlog-client.js';
import type { BinlogEventHeader } from './protocol/binlog-event.js';
import { binlogConnection } from './mysql-binlog-reader.js';
import type { LogPoint } from './mysql-log-point.js';
import type { MysqlSourceConfig } from './mysql-source-config.js';

/**
 * One binlog event as a fingerprint records it: where it ends, its size, and its CRC32 (its timestamp when the
 * server writes no checksums).
 */
export type FingerprintEvent = readonly [end: number, size: number, mark: number];

/**
 * The last few events of a binlog file that end exactly at a saved position, contiguous, oldest first.
 *
 * A binlog position means something only on the server that wrote it. MySQL names itself by server_uuid, but
 * MariaDB has none, and nearly every stand-alone MariaDB has server_id 1 — so a replaced server, a restored
 * backup or a `RESET MASTER` is not told apart by identity. The bytes before the position are: on resume the
 * source reads these events again and compares (see {@link verifyFingerprint}). A few events suffice: their
 * checksums cover the row images and timestamps of the last transaction before the position.
 */
export type BinlogFingerprint = readonly FingerprintEvent[];

const MAX_EVENTS = 8;
/** Re-reading the fingerprint on resume stays cheap even when the last events are large rows events. */
const MAX_BYTES = 256 * 1024;
const LOG_EVENT_ARTIFICIAL = 0x20;
const NOT_ABOUT_THE_BINLOG: ReadonlySet<string> = new Set([
  'SOURCE_UNREACHABLE',
  'SOURCE_AUTH_FAILED',
  'SOURCE_PRIVILEGES_MISSING',
  'SOURCE_SERVER_ID_CONFLICT',
]);

/**
 * The running fingerprint of a binlog stream: fed every event, read at transaction boundaries. The events are kept
 * in a ring of numbers, not an array per event: it is fed every event of the stream (two per single-row statement),
 * and read only at a transaction's start and end.
 */
export class FingerprintRing {
  /** Per slot: the event's end, size and mark (see {@link FingerprintEvent}). */
  private readonly slots = new Float64Array(3 * MAX_EVENTS);
  /** The slot of the oldest event kept. */
  private first = 0;
  private count = 0;
  private bytes = 0;
  /** `current()` until the next change: a commit and the next transaction's start share one copy. */
  private copy: BinlogFingerprint | undefined;

  /** `seed`: the fingerprint of the point the stream starts at (the events just before it). */
  constructor(seed: BinlogFingerprint | undefined) {
    for (const [end, size, mark] of seed ?? []) this.push(end, size, mark);
  }

  /** Records an event; events the server makes up for the stream (no position, artificial, heartbeats) are not in the file and are left out. */
  add(header: BinlogEventHeader): void {
    if (header.logPos === 0 || (header.flags & LOG_EVENT_ARTIFICIAL) !== 0 || isHeartbeat(header.type)) return;
    // A gap (an event the server does not send to replicas) or a new file starts a new run.
    if (
      this.count > 0 &&
      this.slots[3 * ((this.first + this.count - 1) % MAX_EVENTS)] !== header.logPos - header.eventSize
    ) {
      this.reset();
    }
    this.push(header.logPos, header.eventSize, header.checksum ?? header.timestamp);
  }

  private push(end: number, size: number, mark: number): void {
    this.copy = undefined;
    // The oldest event leaves when the ring is full, and while the others pass MAX_BYTES (the newest always stays).
    if (this.count === MAX_EVENTS) this.dropOldest();
    const slot = 3 * ((this.first + this.count) % MAX_EVENTS);
    this.slots[slot] = end;
    this.slots[slot + 1] = size;
    this.slots[slot + 2] = mark;
    this.count++;
    this.bytes += size;
    while (this.count > 1 && this.bytes > MAX_BYTES) this.dropOldest();
  }

  private dropOldest(): void {
    this.bytes -= this.slots[3 * this.first + 1]!;
    this.first = (this.first + 1) % MAX_EVENTS;
    this.count--;
  }

  /** Forgets everything: the next event starts a new file. */
  reset(): void {
    this.copy = undefined;
    this.first = 0;
    this.count = 0;
    this.bytes = 0;
  }

  /** The events ending at the last one added; undefined before any. */
  current(): BinlogFingerprint | undefined {
    if (this.count === 0) return undefined;
    if (this.copy === undefined) {
      const events: FingerprintEvent[] = [];
      for (let i = 0; i < this.count; i++) {
        const slot = 3 * ((this.first + i) % MAX_EVENTS);
        events.push([this.slots[slot]!, this.slots[slot + 1]!, this.slots[slot + 2]!]);
      }
      this.copy = events;
    }
    return this.copy;
  }
}

function isHeartbeat(type: number): boolean {
  return type === EventType.HEARTBEAT || type === EventType.HEARTBEAT_V2;
}

/**
 * Reads the events that `fingerprint` recorded before `at` from the server and compares them. Throws
 * PIPELINE_STATE_MISMATCH when they differ (another server's binlog, or one that was reset and written
 * again); rethrows connection problems as they are. A fingerprint that does not end at `at` is not checked.
 */
export async function verifyFingerprint(
  config: MysqlSourceConfig,
  serverId: number,
  at: LogPoint,
  fingerprint: BinlogFingerprint,
): Promise<void> {
  const first = fingerprint[0];
  const last = fingerprint[fingerprint.length - 1];
  if (first === undefined || last === undefined || last[0] !== at.pos) return;
  const from = first[0] - first[1];
  const seen: FingerprintEvent[] = [];
  let problem: string | undefined;
  const stream = await openBinlogStream({
    ...binlogConnection(config),
    serverId,
    file: at.file,
    position: from,
    headersOnly: true,
    stopAtEnd: true,
    registerReplica: false,
  });
  try {
    reading: for await (const events of stream) {
      for (const { header } of events) {
        if (
          header.logPos > 0 &&
          header.logPos - header.eventSize >= from &&
          (header.flags & LOG_EVENT_ARTIFICIAL) === 0
        ) {
          if (!isHeartbeat(header.type))
            seen.push([header.logPos, header.eventSize, header.checksum ?? header.timestamp]);
          if (header.logPos >= at.pos) break reading;
        }
      }
    }
  } catch (error) {
    // Not reaching the server says nothing about its binlog.
    if (error instanceof TributaryError && (error.retryable || NOT_ABOUT_THE_BINLOG.has(error.code))) throw error;
    problem = `reading it back failed (${error instanceof Error ? error.message : String(error)})`;
  } finally {
    await stream.close();
  }
  problem ??= describeDifference(fingerprint, seen);
  if (problem !== undefined) {
    throw new TributaryError(
      'PIPELINE_STATE_MISMATCH',
      `the binlog before the saved position ${at.file}:${at.pos} is not the one the checkpoint was taken from: ${problem}. ` +
        'The server was replaced, restored from a backup or its binlog was reset, so the position means something else now',
      {
        hint: 'point the pipeline at the server it was reading, or run with --reset to start over with a new snapshot',
      },
    );
  }
}

function describeDifference(expected: BinlogFingerprint, seen: readonly FingerprintEvent[]): string | undefined {
  for (let i = 0; i < expected.length; i++) {
    const want = expected[i]!;
    const got = seen[i];
    if (got === undefined)
      return `the event ending at ${want[0]} is missing (the binlog ends or has no event boundary there)`;
    if (got[0] !== want[0] || got[1] !== want[1] || got[2] !== want[2]) {
      return `the event ending at ${want[0]} (${want[1]} bytes, ${want[2] >>> 0}) is now one ending at ${got[0]} (${got[1]} bytes, ${got[2] >>> 0})`;
    }
  }
  return undefined;
}
