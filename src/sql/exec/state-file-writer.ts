import { createRequire } from 'node:module';
import type * as V8 from 'node:v8';
import { setFlagsFromString } from 'node:v8';
import { Worker, type MessagePort } from 'node:worker_threads';
import type Database from 'better-sqlite3';
import { TributaryError } from '../../core/errors.js';
import { flat, stateMismatchesSource } from './keyed-state.js';

/** The `code` of the error a write throws when the file lacks an entry of {@link StateWrite.held}. */
export const NOT_HELD = 'SQL_STATE_NOT_HELD';

/**
 * Changes packed (one part of a checkpoint's, see {@link DeltaPacker}): every key, sub key and value in one string,
 * cut by `lengths` (3 per change; −1: a deletion); `counts[i]` changes of state `names[i]`, in that order. This is
 * the form the sink's checkpoint commits (with `lengths` as text, see `CommittedState`) and the writer thread takes:
 * one string and one buffer, made once. Made as arrays of changes, the delta cost the main thread a JSON of each
 * change for the sink and a packing for the thread (bench/README.md, "The checkpoint packed once").
 */
export interface PackedDelta {
  readonly names: readonly string[];
  readonly counts: readonly number[];
  readonly text: string;
  readonly lengths: Int32Array;
}

/** What a state file takes in one transaction: a checkpoint's changes and the version they make. */
export interface StateWrite {
  readonly version: number;
  readonly plan: string;
  /** The file's table layout (`meta.layout`). */
  readonly layout: string;
  /** With a TTL: the time to stamp each written entry with (undefined: no TTL, no stamps). */
  readonly stampAt: number | undefined;
  /** The changes, in parts of about {@link PART_CHARS} characters. */
  readonly parts: readonly PackedDelta[];
  /**
   * Entries the file must hold before the changes are written (as deletions); the write fails ({@link NOT_HELD})
   * without one.
   */
  readonly held?: PackedDelta;
}

/**
 * One state's changes of a checkpoint as {@link stateFileApplier} reads them: by position, and in the order of their
 * (key, sub key). Both threads read them out of the one string they came in ({@link unpackDelta}), without an object
 * per change, so that the writer thread's memory is the delta's text and not several times that.
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

/** A write as {@link stateFileApplier} takes it: the changes (per part) and held entries per state name as lists. */
export type ListedWrite = Omit<StateWrite, 'parts' | 'held'> & {
  readonly parts: readonly Record<string, ChangeList>[];
  readonly held?: Record<string, ChangeList>;
};

/** {@link StateWrite} with its parts as lists. */
export function listed({ parts, held, ...rest }: StateWrite): ListedWrite {
  const lists = parts.map((part) => unpackDelta(part));
  return held === undefined ? { ...rest, parts: lists } : { ...rest, parts: lists, held: unpackDelta(held) };
}

/**
 * A checkpoint's changes as the format before packing (the SQL stage's checkpoint version 3) held them: per state
 * name, `[key, sub key, value]` (null: deleted), and the held entries as `[key, sub key]`.
 */
export type StateDelta = Record<string, StateChange[]>;
export type StateChange = [key: string, sub: string, value: string | null];
export type StateHeld = Record<string, [key: string, sub: string][]>;

/** Changes in arrays (a checkpoint of version 3) as a {@link ChangeList}. */
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

/** A checkpoint of version 3's changes and held entries as a {@link ListedWrite}. */
export function listedArrays(head: WriteHead, delta: StateDelta, held: StateHeld | undefined): ListedWrite {
  const lists = (changes: Record<string, readonly (readonly [string, string, (string | null)?])[]>) =>
    Object.fromEntries(Object.entries(changes).map(([ns, list]) => [ns, arrayChanges(list)]));
  return held === undefined
    ? { ...head, parts: [lists(delta)] }
    : { ...head, parts: [lists(delta)], held: lists(held) };
}

/** A write without its changes: what {@link StateFileApplier.begin} takes. */
export type WriteHead = Omit<StateWrite, 'parts' | 'held'>;

/**
 * Writes checkpoints into a state file, one transaction per write: {@link begin}, the changes in one or more parts
 * ({@link part}: each written in the order of the primary key), then {@link commit} (the version and the held entries'
 * last check) — or {@link rollback}. The writer thread takes a checkpoint's changes in parts, so that neither thread
 * holds the whole delta as one string.
 */
export interface StateFileApplier {
  /** Opens the write's transaction; `total`: how many changes its parts hold (the test hook's halfway point). */
  begin(head: WriteHead, held: Record<string, ChangeList> | undefined, total: number): void;
  part(delta: Record<string, ChangeList>): void;
  commit(): void;
  /** Ends the open transaction, if any, writing nothing. */
  rollback(): void;
}

/**
 * The statements that write a checkpoint into a state file, as a {@link StateFileApplier} over the connection. The
 * writer thread runs it from its source text, so it references nothing outside itself. `halfway`: called inside the
 * transaction after half of the changes (tests: a crash mid-write).
 */
export function stateFileApplier(db: Database.Database, halfway?: () => void): StateFileApplier {
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
  const begin = db.prepare('BEGIN');
  const commit = db.prepare('COMMIT');
  const rollback = db.prepare('ROLLBACK');
  // The source retracted a row the job never took in (or the file lost it): the state no longer matches. The code is
  // NOT_HELD (this function runs from its text in the writer thread: no outside names).
  const notHeld = (ns: string) =>
    Object.assign(new Error(`the ${ns} state was asked to take back a row it never held`), {
      code: 'SQL_STATE_NOT_HELD',
    });
  /** The write in progress: its head, the held entries not yet met by state and key, the changes until halfway. */
  let open: { head: WriteHead; held: Map<string, Map<string, Set<string>>>; left: number } | undefined;
  const current = () => {
    if (open === undefined) throw new Error('state file write: no transaction open');
    return open;
  };
  return {
    begin(head, heldLists, total) {
      if (open !== undefined) throw new Error('state file write: a transaction is open');
      // The held entries by state and key. Each is also a change of the delta (removed, or put again since): a
      // deletion tells by what it deleted, a put is preceded by a read.
      const held = new Map<string, Map<string, Set<string>>>();
      for (const [ns, entries] of Object.entries(heldLists ?? {})) {
        const byKey = new Map<string, Set<string>>();
        held.set(ns, byKey);
        for (let i = 0; i < entries.size; i++) {
          const key = entries.key(i);
          let subs = byKey.get(key);
          if (subs === undefined) byKey.set(key, (subs = new Set()));
          subs.add(entries.sub(i));
        }
      }
      begin.run();
      open = { head, held, left: halfway === undefined ? -1 : Math.floor(total / 2) };
    },
    part(delta) {
      const write = current();
      const { stampAt } = write.head;
      for (const [ns, changes] of Object.entries(delta)) {
        const heldKeys = write.held.get(ns);
        for (const i of changes.order()) {
          if (write.left-- === 0) halfway?.();
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
    },
    commit() {
      const write = current();
      // A held entry the delta does not change (not from this store's checkpoints, but checked all the same).
      for (const [ns, byKey] of write.held) {
        for (const [key, subs] of byKey)
          for (const sub of subs) if (exists.get(ns, key, sub) === undefined) throw notHeld(ns);
      }
      meta.run('version', String(write.head.version));
      meta.run('plan', write.head.plan);
      meta.run('layout', write.head.layout);
      commit.run();
      open = undefined;
    },
    rollback() {
      open = undefined;
      if (db.inTransaction) rollback.run();
    },
  };
}

/** Writes `write` with `applier` in one transaction, on this thread; rolls back if it fails. */
export function applyWhole(applier: StateFileApplier, write: ListedWrite): void {
  const { parts, held, ...head } = write;
  let total = 0;
  for (const part of parts) for (const changes of Object.values(part)) total += changes.size;
  try {
    applier.begin(head, held, total);
    for (const part of parts) applier.part(part);
    applier.commit();
  } catch (error) {
    applier.rollback();
    throw error;
  }
}

/**
 * A write as the writer thread gets it: its head (with the held entries as deletions, and how many changes follow),
 * its changes in parts of about {@link PART_CHARS} characters, then its end. Neither thread makes the whole delta one
 * string: at 10,000,000 source rows a checkpoint's was ~10 MB, kept until a full collection.
 */
type WriterMessage =
  | { readonly kind: 'begin'; readonly head: WriteHead; readonly held: PackedDelta | undefined; readonly total: number }
  | { readonly kind: 'part'; readonly packed: PackedDelta }
  | { readonly kind: 'end' }
  | { readonly kind: 'close' };

/**
 * About how many characters of keys, sub keys and values one part of a write carries. The writer thread orders the
 * changes of each part by the primary key, not across parts: at 1,000,000 source rows, parts of 1 M characters (four
 * per checkpoint) cost its thread 14–23 % more time than one part (two paired runs). A checkpoint's delta there is
 * one part of this size; at 10,000,000 rows (~10 M characters) three.
 */
export const PART_CHARS = 1 << 22;

/**
 * Packs changes as they come into {@link PackedDelta} parts of about `partChars` characters each (a state's changes
 * may span several): {@link add} each, then {@link finish}.
 */
export class DeltaPacker {
  private readonly parts: PackedDelta[] = [];
  private names: string[] = [];
  private counts: number[] = [];
  /** Built by `+=` (a rope, flattened once when the part is done): about 3 × faster than `join('')` of the pieces. */
  private text = '';
  private chars = 0;
  private lengths = new Int32Array(3 * 1024);
  private at = 0;
  /** The state whose changes come now, and how many of them are in this part. */
  private name: string | undefined;
  private count = 0;

  constructor(private readonly partChars = PART_CHARS) {}

  /** One change of state `name` (null: a deletion); a state's changes come together. */
  add(name: string, key: string, sub: string, value: string | null): void {
    if (name !== this.name) {
      this.endName();
      this.name = name;
    }
    if (this.at + 3 > this.lengths.length) {
      const lengths = new Int32Array(this.lengths.length * 2);
      lengths.set(this.lengths);
      this.lengths = lengths;
    }
    this.text += key;
    this.text += sub;
    this.lengths[this.at++] = key.length;
    this.lengths[this.at++] = sub.length;
    this.chars += key.length + sub.length;
    if (value === null) {
      this.lengths[this.at++] = -1;
    } else {
      this.text += value;
      this.lengths[this.at++] = value.length;
      this.chars += value.length;
    }
    this.count++;
    if (this.chars >= this.partChars) this.endPart();
  }

  /** The parts (none when no change came). */
  finish(): PackedDelta[] {
    if (this.at > 0) this.endPart();
    return this.parts;
  }

  private endName(): void {
    if (this.count === 0) return;
    this.names.push(this.name!);
    this.counts.push(this.count);
    this.count = 0;
  }

  private endPart(): void {
    this.endName();
    this.parts.push({
      names: this.names,
      counts: this.counts,
      text: flat(this.text),
      lengths: this.lengths.slice(0, this.at),
    });
    this.names = [];
    this.counts = [];
    this.text = '';
    this.chars = 0;
    this.at = 0;
  }
}

/**
 * A part's changes as lists over the one string they came in: a slice of it is made when the applier reads one. Run
 * by the writer thread from its source text (nothing outside itself).
 */
export function unpackDelta({ names, counts, text, lengths }: PackedDelta): Record<string, ChangeList> {
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
      order: () => {
        // A state's changes come grouped by key (its changes since the last checkpoint are kept per key): the runs of
        // one key are sorted by key, and each run by sub key. One sort of every change by both took ~3 × as long.
        const runs: number[] = [];
        for (let c = 0; c < size; c++) {
          if (c === 0 || compare(starts[c - 1]!, keyLength(c - 1), starts[c]!, keyLength(c)) !== 0) runs.push(c);
        }
        const runKeys = runs.map((c) => text.slice(starts[c], starts[c]! + keyLength(c)));
        const subStart = (c: number) => starts[c]! + keyLength(c);
        const order = new Int32Array(size);
        let placed = 0;
        const byKey = Int32Array.from(runs, (_, r) => r).sort((x, y) =>
          runKeys[x]! < runKeys[y]! ? -1 : runKeys[x]! > runKeys[y]! ? 1 : 0,
        );
        for (const r of byKey) {
          const from = placed;
          for (let c = runs[r]!, end = runs[r + 1] ?? size; c < end; c++) order[placed++] = c;
          if (placed - from < 2) continue;
          order.subarray(from, placed).sort((x, y) => compare(subStart(x), subLength(x), subStart(y), subLength(y)));
        }
        return order;
      },
    };
  });
  return lists;
}

/** What the writer thread is given at its start. */
interface WriterData {
  readonly path: string;
  /** Tests: each write stops halfway through its transaction and waits to be terminated. */
  readonly crashMidWrite: boolean;
  readonly pragmas: readonly string[];
}

/**
 * The writer thread's connection settings: WAL (the main thread reads while it writes), fsync'd commits
 * (`synchronous = FULL`: a version it reports written is on disk), a 16 MB page cache. Exported for
 * `bench/sql-state-replay.ts`, which times writes on a connection set up the same way.
 */
export const WRITER_PRAGMAS: readonly string[] = ['journal_mode = WAL', 'synchronous = FULL', 'cache_size = -16384'];

/** The writer thread's answer to a write (or to the test hook's stop). */
type WriterReply =
  | { readonly kind: 'written'; readonly ms: number; readonly heapBytes: number }
  | { readonly kind: 'failed'; readonly message: string; readonly code: string | undefined }
  | { readonly kind: 'halfway' }
  | { readonly kind: 'closed' };

/**
 * The writer thread's body (run from its source text: nothing outside itself): a connection of its own to the
 * state file (set up with {@link WRITER_PRAGMAS}, given in `data`), one transaction per message, an answer per
 * message.
 */
function writerThread(
  port: MessagePort,
  data: WriterData,
  Sqlite: typeof Database,
  makeApplier: typeof stateFileApplier,
  unpack: typeof unpackDelta,
  collectGarbage: () => void,
  v8: typeof V8,
): void {
  // The main thread reads while this writes (WAL); a wait for its lock is a wait, not an error.
  const db = new Sqlite(data.path, { timeout: 60_000 });
  for (const pragma of data.pragmas) db.pragma(pragma);
  const halfway = data.crashMidWrite
    ? () => {
        port.postMessage({ kind: 'halfway' });
        const cell = new Int32Array(new SharedArrayBuffer(4));
        // Until terminated, inside the open transaction: each timed wait returns to JS, where termination lands.
        for (;;) Atomics.wait(cell, 0, 0, 10);
      }
    : undefined;
  const applier = makeApplier(db, halfway);
  /** When the write in progress began; undefined: none, or it failed (its remaining messages are dropped). */
  let started: number | undefined;
  /** The largest heap the write in progress saw (after each part). */
  let heapBytes = 0;
  port.on('message', (message: WriterMessage) => {
    if (message.kind === 'close') {
      db.close();
      port.postMessage({ kind: 'closed' });
      port.close();
      return;
    }
    if (message.kind === 'begin') {
      started = performance.now();
      heapBytes = 0;
    } else if (started === undefined) {
      return;
    }
    try {
      switch (message.kind) {
        case 'begin':
          applier.begin(message.head, message.held && unpack(message.held), message.total);
          return;
        case 'part':
          applier.part(unpack(message.packed));
          heapBytes = Math.max(heapBytes, v8.getHeapStatistics().total_heap_size);
          return;
        case 'end':
          applier.commit();
          port.postMessage({ kind: 'written', ms: performance.now() - started, heapBytes });
          started = undefined;
          break;
      }
    } catch (error) {
      started = undefined;
      applier.rollback();
      const { message: text, code } = error as { message?: string; code?: string };
      port.postMessage({ kind: 'failed', message: String(text ?? error), code });
    }
    // Each part's text came as one large string, which V8 frees only in a full collection; the thread allocates too
    // little else for V8 to start one soon: without this its heap held ~60 MB of past deltas (bench/README.md).
    // After the answer: the main thread does not wait for it.
    collectGarbage();
  });
}

/**
 * The writer thread's source: better-sqlite3 loaded by its resolved path (the thread's `require` resolves from
 * the working directory), the three functions above from their text, and V8's `gc` (see startWriterThread).
 * `__name`: the helper some TypeScript transforms insert to keep function names (defined, harmless when unused).
 */
const WRITER_SOURCE = `'use strict';
const __name = (f) => f;
const { parentPort, workerData } = require('node:worker_threads');
(${writerThread.toString()})(parentPort, workerData, require(workerData.sqlite), (${stateFileApplier.toString()}),
  (${unpackDelta.toString()}), typeof globalThis.gc === 'function' ? globalThis.gc : () => {}, require('node:v8'));`;

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
  /** The thread's largest heap (V8's, committed) during the last write, after each part; 0 before the first. */
  lastHeapBytes = 0;

  constructor(
    readonly path: string,
    /** Tests: each write stops halfway through its transaction and the thread is terminated (a crash mid-write). */
    crashMidWrite = false,
  ) {
    const data: WriterData & { sqlite: string } = {
      path,
      crashMidWrite,
      pragmas: WRITER_PRAGMAS,
      sqlite: createRequire(import.meta.url).resolve('better-sqlite3'),
    };
    try {
      // A small young generation: the thread's garbage (a slice of the delta's text per change read) stays small,
      // and its memory with it. V8's `--max-semi-space-size` (the CLI's) overrides a thread's resourceLimits: unset
      // while the thread's heap is made; and `gc` exposed to it (see startWriterThread).
      this.worker = startWriterThread(
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
    const { parts, held, ...head } = write;
    let total = 0;
    for (const part of parts) for (const count of part.counts) total += count;
    this.post({ kind: 'begin', head, held, total }, held);
    for (const packed of parts) this.post({ kind: 'part', packed }, packed);
    this.post({ kind: 'end' });
  }

  /** Posts `message` to the thread, handing over the buffer of `packed`'s lengths. */
  private post(message: WriterMessage, packed?: PackedDelta): void {
    this.worker.postMessage(message, packed === undefined ? [] : [packed.lengths.buffer as ArrayBuffer]);
  }

  /** Whether every write handed over has landed: none in flight, none failed (then {@link idle} resolves at once). */
  get landed(): boolean {
    return this.running === undefined && this.failure === undefined;
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
      this.post({ kind: 'close' });
      await closing;
    }
    await this.worker.terminate();
  }

  private reply(reply: WriterReply): void {
    switch (reply.kind) {
      case 'written':
        this.lastWriteMs = reply.ms;
        this.lastHeapBytes = reply.heapBytes;
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

/** The process's V8 flags (its command line, NODE_OPTIONS): the first that `pattern` matches. */
const processFlag = (pattern: RegExp): string | undefined =>
  [...process.execArgv, ...(process.env.NODE_OPTIONS ?? '').split(/\s+/)].find((arg) => pattern.test(arg));

/**
 * The process's `--max-semi-space-size` flag, if it has one. V8's flags are the whole process's, and this one takes
 * precedence over a worker's `resourceLimits.maxYoungGenerationSizeMb`: with the CLI's 32 MB the writer thread's
 * young generation grew to 2 × 32 MB for garbage that needs a few.
 */
const SEMI_SPACE_FLAG = processFlag(/^--max[-_]semi[-_]space[-_]size=/);
/** Whether the process exposes V8's `gc` everywhere already (`--expose-gc`). */
const EXPOSES_GC = processFlag(/^--expose[-_]gc$/) !== undefined;

/** Writer threads started whose heap and context are not made yet (their `online` event has not come). */
let starting = 0;

/**
 * Starts a writer thread with V8's flags as it needs them while its heap and first context are made: no
 * `--max-semi-space-size` (so that its resourceLimits hold) and `--expose-gc` (its context gets V8's `gc`: each
 * delta arrives in large strings, which V8 frees only in a full collection, and the thread allocates too little else
 * for V8 to start one). The flags are the whole process's and are read when a heap or context is made, so they are
 * set back when the last thread starting is online; the process's own heap was sized at start-up and keeps its size
 * (a context made meanwhile elsewhere gets a `gc` too, nothing else).
 */
function startWriterThread(start: () => Worker): Worker {
  const set = (on: boolean) => {
    if (SEMI_SPACE_FLAG !== undefined) setFlagsFromString(on ? '--max-semi-space-size=0' : SEMI_SPACE_FLAG);
    if (!EXPOSES_GC) setFlagsFromString(on ? '--expose-gc' : '--no-expose-gc');
  };
  if (starting++ === 0) set(true);
  let counted = true;
  const online = () => {
    if (!counted) return;
    counted = false;
    if (--starting === 0) set(false);
  };
  let worker: Worker;
  try {
    worker = start();
  } catch (error) {
    online();
    throw error;
  }
  worker.once('online', online).once('exit', online);
  return worker;
}

const HINT =
  'free disk space or fix the permissions of the state directory (SET state.dir): the sink holds the last checkpoint, and the next run brings the state file up to it';
