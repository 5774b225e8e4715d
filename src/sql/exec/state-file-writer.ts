import { createRequire } from 'node:module';
import { setFlagsFromString } from 'node:v8';
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
 * One state's changes of a checkpoint as {@link stateFileApplier} reads them: by position, and in the order of their
 * (key, sub key). The writer thread reads them out of the one string they came in, without an object per change, so
 * that its memory is the delta's text and not several times that (see {@link arrayChanges} for the main thread's).
 */
export interface ChangeList {
  readonly size: number;
  key(i: number): string;
  sub(i: number): string;
  /** The new value as JSON text; null: deleted (always null in a list of held entries). */
  value(i: number): string | null;
  /** The positions 0 … size − 1 in the order of (key, sub key): neighbouring changes share B-tree pages. */
  order(): Int32Array;
}

/** A write as {@link stateFileApplier} takes it: the changes and held entries per state name as lists. */
export type ListedWrite = Omit<StateWrite, 'delta' | 'held'> & {
  readonly delta: Record<string, ChangeList>;
  readonly held?: Record<string, ChangeList>;
};

/** A state's changes held as arrays (the main thread's: a store in memory, a restore) as a {@link ChangeList}. */
export function arrayChanges(changes: readonly (readonly [string, string, (string | null)?])[]): ChangeList {
  return {
    size: changes.length,
    key: (i) => changes[i]![0],
    sub: (i) => changes[i]![1],
    value: (i) => changes[i]![2] ?? null,
    order: () =>
      Int32Array.from(changes, (_, i) => i).sort((i, j) => {
        const [ka, sa] = changes[i]!;
        const [kb, sb] = changes[j]!;
        if (ka !== kb) return ka < kb ? -1 : 1;
        return sa < sb ? -1 : sa > sb ? 1 : 0;
      }),
  };
}

/** {@link StateWrite} with its arrays as lists. */
export function listed({ delta, held, ...rest }: StateWrite): ListedWrite {
  const lists = (changes: Record<string, readonly (readonly [string, string, (string | null)?])[]>) =>
    Object.fromEntries(Object.entries(changes).map(([ns, list]) => [ns, arrayChanges(list)]));
  return held === undefined ? { ...rest, delta: lists(delta) } : { ...rest, delta: lists(delta), held: lists(held) };
}

/**
 * The statements that write a checkpoint into a state file, as a function of the connection — one transaction
 * per call: the changes, in the order of the primary key, their TTL stamps, and the version. The writer thread runs
 * it from its source text, so it references nothing outside itself. `halfway`: called inside the transaction after
 * half of the changes (tests: a crash mid-write).
 */
export function stateFileApplier(db: Database.Database): (write: ListedWrite, halfway?: () => void) => void {
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
  // The source retracted a row the job never took in (or the file lost it): the state no longer matches. The code is
  // NOT_HELD (this function runs from its text in the writer thread: no outside names).
  const notHeld = (ns: string) =>
    Object.assign(new Error(`the ${ns} state was asked to take back a row it never held`), {
      code: 'SQL_STATE_NOT_HELD',
    });
  return db.transaction((write: ListedWrite, halfway?: () => void) => {
    const { stampAt } = write;
    // The held entries by state and key. Each is also a change of the delta (removed, or put again since): a
    // deletion tells by what it deleted, a put is preceded by a read.
    const held = new Map<string, Map<string, Set<string>>>();
    for (const [ns, entries] of Object.entries(write.held ?? {})) {
      const byKey = new Map<string, Set<string>>();
      held.set(ns, byKey);
      for (let i = 0; i < entries.size; i++) {
        const key = entries.key(i);
        let subs = byKey.get(key);
        if (subs === undefined) byKey.set(key, (subs = new Set()));
        subs.add(entries.sub(i));
      }
    }
    let left = -1;
    if (halfway !== undefined) {
      left = 0;
      for (const changes of Object.values(write.delta)) left += changes.size;
      left = Math.floor(left / 2);
    }
    for (const [ns, changes] of Object.entries(write.delta)) {
      const heldKeys = held.get(ns);
      for (const i of changes.order()) {
        if (left-- === 0) halfway?.();
        const key = changes.key(i);
        const sub = changes.sub(i);
        const value = changes.value(i);
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
  // The changes as lists over the one string they came in: a slice of it is made when the applier reads one.
  const unpack = ({ names, counts, text, lengths }: PackedDelta): Record<string, ChangeList> => {
    const lists: Record<string, ChangeList> = {};
    // Compares text[a, a + aLength) with text[b, b + bLength) as `<` compares strings (by UTF-16 unit).
    const compare = (a: number, aLength: number, b: number, bLength: number): number => {
      const n = Math.min(aLength, bLength);
      for (let k = 0; k < n; k++) {
        const d = text.charCodeAt(a + k) - text.charCodeAt(b + k);
        if (d !== 0) return d;
      }
      return aLength - bLength;
    };
    let at = 0;
    let first = 0;
    names.forEach((name, n) => {
      const size = counts[n]!;
      // Change c: its text from starts[c], its key's, sub key's and value's lengths at lengths[base + 3c …].
      const base = first;
      const starts = new Int32Array(size);
      for (let c = 0; c < size; c++) {
        starts[c] = at;
        const i = base + 3 * c;
        at += lengths[i]! + lengths[i + 1]! + Math.max(0, lengths[i + 2]!);
      }
      first += 3 * size;
      const keyLength = (c: number) => lengths[base + 3 * c]!;
      const subLength = (c: number) => lengths[base + 3 * c + 1]!;
      lists[name] = {
        size,
        key: (c) => text.slice(starts[c], starts[c]! + keyLength(c)),
        sub: (c) => {
          const from = starts[c]! + keyLength(c);
          return text.slice(from, from + subLength(c));
        },
        value: (c) => {
          const length = lengths[base + 3 * c + 2]!;
          if (length < 0) return null;
          const from = starts[c]! + keyLength(c) + subLength(c);
          return text.slice(from, from + length);
        },
        order: () =>
          Int32Array.from({ length: size }, (_, c) => c).sort(
            (x, y) =>
              compare(starts[x]!, keyLength(x), starts[y]!, keyLength(y)) ||
              compare(starts[x]! + keyLength(x), subLength(x), starts[y]! + keyLength(y), subLength(y)),
          ),
      };
    });
    return lists;
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
      const delta = unpack(packed);
      apply(packedHeld === undefined ? { ...write, delta } : { ...write, delta, held: unpack(packedHeld) }, halfway);
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
      // A small young generation: the thread's garbage (a slice of the delta's text per change read) stays small,
      // and its memory with it. V8's `--max-semi-space-size` (the CLI's) overrides a thread's resourceLimits: unset
      // while the thread's heap is made (see withoutSemiSpaceFlag).
      this.worker = withoutSemiSpaceFlag(
        () =>
          new Worker(WRITER_SOURCE, {
            eval: true,
            workerData: data,
            resourceLimits: { maxYoungGenerationSizeMb: 8 },
          }),
      );
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

/**
 * The process's `--max-semi-space-size` flag (from its command line or NODE_OPTIONS), if it has one. V8's flags are
 * the whole process's, and this one takes precedence over a worker's `resourceLimits.maxYoungGenerationSizeMb`: with
 * the CLI's 32 MB the writer thread's young generation grew to 2 × 32 MB for garbage that needs a few.
 */
const SEMI_SPACE_FLAG = [...process.execArgv, ...(process.env.NODE_OPTIONS ?? '').split(/\s+/)].find((arg) =>
  /^--max[-_]semi[-_]space[-_]size=/.test(arg),
);

/**
 * Starts a worker with V8's `--max-semi-space-size` unset, so that its resourceLimits hold; sets it again once the
 * worker's heap is made (its `online` event). The process's own heap was sized at start-up and keeps its size.
 */
function withoutSemiSpaceFlag(start: () => Worker): Worker {
  if (SEMI_SPACE_FLAG === undefined) return start();
  setFlagsFromString('--max-semi-space-size=0');
  let worker: Worker;
  try {
    worker = start();
  } catch (error) {
    setFlagsFromString(SEMI_SPACE_FLAG);
    throw error;
  }
  const restore = () => setFlagsFromString(SEMI_SPACE_FLAG);
  worker.once('online', restore).once('exit', restore);
  return worker;
}

const HINT =
  'free disk space or fix the permissions of the state directory (SET state.dir): the sink holds the last checkpoint, and the next run brings the state file up to it';
