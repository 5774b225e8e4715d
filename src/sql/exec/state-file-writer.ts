import { createRequire } from 'node:module';
import { Worker, type MessagePort } from 'node:worker_threads';
import type Database from 'better-sqlite3';
import { TributaryError } from '../../core/errors.js';
import { stateMismatchesSource } from './keyed-state.js';

/**
 * One changed entry: its key, its sub key (a map state's entry; '' in a keyed state) and its new value as JSON text
 * (null: deleted).
 */
export type StateChange = [key: string, sub: string, value: string | null];

/** The changes of one checkpoint, per state name. */
export type StateDelta = Record<string, StateChange[]>;

/**
 * Per state name, the entries (key, sub key) the checkpoint removed as retracted rows without reading the file
 * (see `KeyedMapState.removeHeld`): the file must hold each of them before the checkpoint's changes are written.
 */
export type StateHeld = Record<string, [key: string, sub: string][]>;

/** The `code` of the error a write throws when the file lacks an entry of {@link StateWrite.held}. */
export const NOT_HELD = 'SQL_STATE_NOT_HELD';

/** What a state file takes in one transaction: a checkpoint's changes and the version they make. */
export interface StateWrite {
  readonly version: number;
  readonly plan: string;
  /** The file's table layout (`meta.layout`). */
  readonly layout: string;
  /** With a TTL: the time to stamp each written entry with (undefined: no TTL, no stamps). */
  readonly stampAt: number | undefined;
  readonly delta: StateDelta;
  /** Entries the file must hold before `delta` is written; the write fails ({@link NOT_HELD}) without one. */
  readonly held?: StateHeld;
}

/**
 * The statements that write a checkpoint into a state file, as a function of the connection — one transaction
 * per call: the changes, in the order of the primary key (neighbouring changes share B-tree pages), their TTL
 * stamps, and the version. The writer thread runs it from its source text, so it references nothing outside
 * itself. `halfway`: called inside the transaction after half of the changes (tests: a crash mid-write).
 */
export function stateFileApplier(db: Database.Database): (write: StateWrite, halfway?: () => void) => void {
  const put = db.prepare<[string, string, string, string]>(
    'INSERT OR REPLACE INTO entries (ns, key, sub, value) VALUES (?, ?, ?, ?)',
  );
  const remove = db.prepare<[string, string, string]>('DELETE FROM entries WHERE ns = ? AND key = ? AND sub = ?');
  const stamp = db.prepare<[string, string, string, number]>(
    'INSERT OR REPLACE INTO expiry (ns, key, sub, at) VALUES (?, ?, ?, ?)',
  );
  const unstamp = db.prepare<[string, string, string]>('DELETE FROM expiry WHERE ns = ? AND key = ? AND sub = ?');
  const meta = db.prepare<[string, string]>('INSERT OR REPLACE INTO meta (name, value) VALUES (?, ?)');
  const exists = db
    .prepare<[string, string, string], number>('SELECT 1 FROM entries WHERE ns = ? AND key = ? AND sub = ?')
    .pluck();
  const byKey = (a: readonly [string, string, ...unknown[]], b: readonly [string, string, ...unknown[]]): number => {
    if (a[0] !== b[0]) return a[0] < b[0] ? -1 : 1;
    return a[1] < b[1] ? -1 : a[1] > b[1] ? 1 : 0;
  };
  // The source retracted a row the job never took in (or the file lost it): the state no longer matches. The code is
  // NOT_HELD (this function runs from its text in the writer thread: no outside names).
  const notHeld = (ns: string) =>
    Object.assign(new Error(`the ${ns} state was asked to take back a row it never held`), {
      code: 'SQL_STATE_NOT_HELD',
    });
  return db.transaction((write: StateWrite, halfway?: () => void) => {
    const { stampAt } = write;
    // The held entries by state and key. Each is also a change of the delta (removed, or put again since): a
    // deletion tells by what it deleted, a put is preceded by a read.
    const held = new Map<string, Map<string, Set<string>>>();
    for (const [ns, entries] of Object.entries(write.held ?? {})) {
      const byKey = new Map<string, Set<string>>();
      held.set(ns, byKey);
      for (const [key, sub] of entries) {
        let subs = byKey.get(key);
        if (subs === undefined) byKey.set(key, (subs = new Set()));
        subs.add(sub);
      }
    }
    let left = -1;
    if (halfway !== undefined) {
      left = 0;
      for (const changes of Object.values(write.delta)) left += changes.length;
      left = Math.floor(left / 2);
    }
    for (const [ns, changes] of Object.entries(write.delta)) {
      const heldKeys = held.get(ns);
      for (const [key, sub, value] of [...changes].sort(byKey)) {
        if (left-- === 0) halfway?.();
        const mustHold = heldKeys?.get(key)?.delete(sub) === true;
        if (value === null) {
          if (remove.run(ns, key, sub).changes === 0 && mustHold) throw notHeld(ns);
          if (stampAt !== undefined) unstamp.run(ns, key, sub);
        } else {
          if (mustHold && exists.get(ns, key, sub) === undefined) throw notHeld(ns);
          put.run(ns, key, sub, value);
          if (stampAt !== undefined) stamp.run(ns, key, sub, stampAt);
        }
      }
    }
    // A held entry the delta does not change (not from this store's checkpoints, but checked all the same).
    for (const [ns, byKey] of held) {
      for (const [key, subs] of byKey)
        for (const sub of subs) if (exists.get(ns, key, sub) === undefined) throw notHeld(ns);
    }
    meta.run('version', String(write.version));
    meta.run('plan', write.plan);
    meta.run('layout', write.layout);
  });
}

/**
 * A delta as it goes to the writer thread: every key, sub key and value in one string, cut by `lengths` (3 per
 * change; −1: a deletion). Passing one string and one buffer costs the main thread a copy; passing the changes
 * as arrays costs it a serialisation of each (several times more, measured at 65,000 changes).
 */
interface PackedDelta {
  readonly names: readonly string[];
  /** Per name, how many changes. */
  readonly counts: readonly number[];
  readonly text: string;
  readonly lengths: Int32Array;
}

/** A write as the writer thread gets it (`held`: its entries as deletions). */
type PackedWrite = Omit<StateWrite, 'delta' | 'held'> & {
  readonly packed: PackedDelta;
  readonly packedHeld: PackedDelta | undefined;
};

function pack(delta: StateDelta): PackedDelta {
  const names: string[] = [];
  const counts: number[] = [];
  const parts: string[] = [];
  let total = 0;
  for (const changes of Object.values(delta)) total += changes.length;
  const lengths = new Int32Array(total * 3);
  let i = 0;
  for (const [name, changes] of Object.entries(delta)) {
    names.push(name);
    counts.push(changes.length);
    for (const [key, sub, value] of changes) {
      parts.push(key, sub);
      lengths[i++] = key.length;
      lengths[i++] = sub.length;
      if (value === null) {
        lengths[i++] = -1;
      } else {
        parts.push(value);
        lengths[i++] = value.length;
      }
    }
  }
  return { names, counts, text: parts.join(''), lengths };
}

/** What the writer thread is given at its start. */
interface WriterData {
  readonly path: string;
  /** Tests: each write stops halfway through its transaction and waits to be terminated. */
  readonly crashMidWrite: boolean;
}

/** The writer thread's answer to a write (or to the test hook's stop). */
type WriterReply =
  | { readonly kind: 'written'; readonly ms: number }
  | { readonly kind: 'failed'; readonly message: string; readonly code: string | undefined }
  | { readonly kind: 'halfway' }
  | { readonly kind: 'closed' };

/**
 * The writer thread's body (run from its source text: nothing outside itself): a connection of its own to the
 * state file, one transaction per message, fsync'd (`synchronous = FULL`: a version it reports written is on
 * disk), an answer per message.
 */
function writerThread(
  port: MessagePort,
  data: WriterData,
  Sqlite: typeof Database,
  applier: typeof stateFileApplier,
): void {
  // The main thread reads while this writes (WAL); a wait for its lock is a wait, not an error.
  const db = new Sqlite(data.path, { timeout: 60_000 });
  db.pragma('journal_mode = WAL');
  db.pragma('synchronous = FULL');
  db.pragma('cache_size = -16384');
  const apply = applier(db);
  const halfway = data.crashMidWrite
    ? () => {
        port.postMessage({ kind: 'halfway' });
        const cell = new Int32Array(new SharedArrayBuffer(4));
        // Until terminated, inside the open transaction: each timed wait returns to JS, where termination lands.
        for (;;) Atomics.wait(cell, 0, 0, 10);
      }
    : undefined;
  const unpack = ({ names, counts, text, lengths }: PackedDelta): StateDelta => {
    const delta: StateDelta = {};
    let at = 0;
    let i = 0;
    names.forEach((name, n) => {
      const changes: StateChange[] = [];
      for (let c = counts[n]!; c > 0; c--) {
        const key = text.slice(at, (at += lengths[i++]!));
        const sub = text.slice(at, (at += lengths[i++]!));
        const length = lengths[i++]!;
        changes.push([key, sub, length < 0 ? null : text.slice(at, (at += length))]);
      }
      delta[name] = changes;
    });
    return delta;
  };
  port.on('message', (message: PackedWrite | 'close') => {
    if (message === 'close') {
      db.close();
      port.postMessage({ kind: 'closed' });
      port.close();
      return;
    }
    const started = performance.now();
    try {
      const { packed, packedHeld, ...write } = message;
      const held =
        packedHeld === undefined
          ? undefined
          : Object.fromEntries(
              Object.entries(unpack(packedHeld)).map(([ns, changes]) => [ns, changes.map(([k, s]) => [k, s])]),
            );
      apply({ ...write, delta: unpack(packed), held } as StateWrite, halfway);
      port.postMessage({ kind: 'written', ms: performance.now() - started });
    } catch (error) {
      const { message: text, code } = error as { message?: string; code?: string };
      port.postMessage({ kind: 'failed', message: String(text ?? error), code });
    }
  });
}

/**
 * The writer thread's source: better-sqlite3 loaded by its resolved path (the thread's `require` resolves from
 * the working directory), the two functions above from their text. `__name`: the helper some TypeScript
 * transforms insert to keep function names (defined, harmless when unused).
 */
const WRITER_SOURCE = `'use strict';
const __name = (f) => f;
const { parentPort, workerData } = require('node:worker_threads');
(${writerThread.toString()})(parentPort, workerData, require(workerData.sqlite), (${stateFileApplier.toString()}));`;

/**
 * A state file's writer thread, seen from the main thread: {@link write} hands it a checkpoint's changes and
 * returns at once; the thread writes them into the file in one transaction on a connection of its own while the
 * pipeline goes on. One write at a time: {@link idle} waits for the one in flight (the caller does before the next
 * checkpoint — backpressure, and the file never more than one checkpoint behind the sink).
 *
 * A failed write (disk full, I/O error, the thread gone) is kept as STATE_DIR_UNWRITABLE and thrown by
 * {@link idle} and {@link close}, then and at every later call; it never becomes an unhandled rejection. The
 * sink's checkpoint holds the changes of the write that failed: the next run brings the file up to it.
 */
export class StateFileWriter {
  private readonly worker: Worker;
  /** The write in flight: its version and how to settle the promise its waiters hold. */
  private running: { readonly version: number; readonly done: Promise<void>; readonly settle: () => void } | undefined;
  private failure: TributaryError | undefined;
  private closed: Promise<void> | undefined;
  private exited = false;
  private onClosed: (() => void) | undefined;
  /** How long the thread took for the last write (ms): its transaction, fsync included. */
  lastWriteMs = 0;

  constructor(
    readonly path: string,
    /** Tests: each write stops halfway through its transaction and the thread is terminated (a crash mid-write). */
    crashMidWrite = false,
  ) {
    const data: WriterData & { sqlite: string } = {
      path,
      crashMidWrite,
      sqlite: createRequire(import.meta.url).resolve('better-sqlite3'),
    };
    try {
      // A small young generation: the thread's garbage (a delta at a time) stays small, and its memory with it.
      this.worker = new Worker(WRITER_SOURCE, {
        eval: true,
        workerData: data,
        resourceLimits: { maxYoungGenerationSizeMb: 8 },
      });
    } catch (error) {
      throw new TributaryError('STATE_DIR_UNWRITABLE', `cannot start the thread writing ${path}: ${String(error)}`, {
        hint: HINT,
        cause: error,
      });
    }
    // Idle, the thread does not keep the process alive; a write in flight does (see write).
    this.worker.unref();
    this.worker.on('message', (reply: WriterReply) => this.reply(reply));
    this.worker.on('error', (error) => this.fail(`its thread failed: ${error.message}`, error));
    this.worker.on('exit', (code) => {
      this.exited = true;
      this.onClosed?.();
      if (this.closed === undefined) this.fail(`its thread stopped (exit code ${code})`);
    });
  }

  /** Starts writing `write`; returns at once. Only when {@link idle} has resolved since the last call. */
  write(write: StateWrite): void {
    if (this.failure !== undefined) throw this.failure;
    if (this.running !== undefined || this.closed !== undefined) {
      throw new Error(`state file write of version ${write.version} while another is in flight or after close`);
    }
    let settle!: () => void;
    const done = new Promise<void>((resolve) => (settle = resolve));
    this.running = { version: write.version, done, settle };
    this.worker.ref();
    const { delta, held, ...rest } = write;
    const packedHeld =
      held === undefined
        ? undefined
        : pack(
            Object.fromEntries(
              Object.entries(held).map(([ns, entries]) => [ns, entries.map(([k, s]) => [k, s, null])]),
            ),
          );
    const message: PackedWrite = { ...rest, packed: pack(delta), packedHeld };
    const transfer = [message.packed.lengths.buffer as ArrayBuffer];
    if (packedHeld !== undefined) transfer.push(packedHeld.lengths.buffer as ArrayBuffer);
    this.worker.postMessage(message, transfer);
  }

  /** Resolves when no write is in flight; throws the error of a failed write (then and at every later call). */
  async idle(): Promise<void> {
    if (this.running !== undefined) await this.running.done;
    if (this.failure !== undefined) throw this.failure;
  }

  /** Waits for the write in flight, closes the thread's connection and ends the thread; throws as {@link idle}. */
  close(): Promise<void> {
    this.closed ??= this.shutDown();
    return this.closed.then(() => {
      if (this.failure !== undefined) throw this.failure;
    });
  }

  private async shutDown(): Promise<void> {
    if (this.running !== undefined) await this.running.done;
    if (!this.exited) {
      const closing = new Promise<void>((resolve) => (this.onClosed = resolve));
      this.worker.ref();
      this.worker.postMessage('close');
      await closing;
    }
    await this.worker.terminate();
  }

  private reply(reply: WriterReply): void {
    switch (reply.kind) {
      case 'written':
        this.lastWriteMs = reply.ms;
        this.settle();
        return;
      case 'failed':
        if (reply.code === NOT_HELD) this.failWith(stateMismatchesSource(reply.message));
        else this.fail(`${reply.message}${reply.code === undefined ? '' : ` (${reply.code})`}`);
        return;
      case 'halfway':
        // The test hook: the thread dies with its transaction open, as in a kill -9.
        this.worker.terminate().catch(() => undefined);
        return;
      case 'closed':
        this.onClosed?.();
        return;
    }
  }

  private fail(reason: string, cause?: unknown): void {
    const version = this.running?.version;
    this.failWith(
      new TributaryError(
        'STATE_DIR_UNWRITABLE',
        `cannot write ${version === undefined ? 'into' : `checkpoint version ${version} into`} the SQL job state ${this.path}: ${reason}`,
        { hint: HINT, ...(cause === undefined ? {} : { cause }) },
      ),
    );
  }

  private failWith(error: TributaryError): void {
    this.failure ??= error;
    this.settle();
    this.onClosed?.();
  }

  private settle(): void {
    const running = this.running;
    this.running = undefined;
    if (!this.exited && this.closed === undefined) this.worker.unref();
    running?.settle();
  }
}

const HINT =
  'free disk space or fix the permissions of the state directory (SET state.dir): the sink holds the last checkpoint, and the next run brings the state file up to it';
