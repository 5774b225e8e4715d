import { mkdirSync, statSync } from 'node:fs';
import { endianness } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { TributaryError } from '../../core/errors.js';
import {
  corrupt,
  flat,
  keyText,
  numberKey,
  stateMismatchesSource,
  type StateKey,
  type KeyedMapState,
  type KeyedState,
  type StateBackend,
  type StateCodec,
} from './keyed-state.js';
import { StateExpiry } from './state-expiry.js';
import {
  applyWhole,
  DeltaPacker,
  listed,
  listedArrays,
  NOT_HELD,
  PART_CHARS,
  StateFileWriter,
  stateFileApplier,
  unpackDelta,
  type ListedWrite,
  type PackedDelta,
  type StateFileApplier,
  type StateDelta,
  type StateHeld,
  type StateWrite,
  type WriteHead,
} from './state-file-writer.js';

export type { StateChange, StateDelta, StateHeld } from './state-file-writer.js';

/**
 * What a SQL job commits with each checkpoint about its state: the state's version and how it got there — the
 * changes since the version before, as the writer thread takes them (`parts`, see `PackedDelta`), and `held`: the
 * entries the file must hold before they are written (see `KeyedMapState.removeHeld`).
 */
export interface CommittedState {
  readonly version: number;
  readonly parts: readonly SavedPart[];
  readonly held?: SavedPart;
}

/** A {@link PackedDelta} as JSON: its lengths as the base64 of their bytes (32-bit, little-endian). */
export type SavedPart = Omit<PackedDelta, 'lengths'> & { readonly lengths: string };

/** What the SQL stage's checkpoints of version 3 committed: the changes as arrays (see {@link StateDelta}). */
export interface CommittedArrays {
  readonly version: number;
  readonly delta: StateDelta;
  readonly held?: StateHeld;
}

/**
 * A committed state's changes and held entries as arrays, as checkpoints of version 3 held them (tests, and a
 * reader of the checkpoint).
 */
export function committedArrays(saved: CommittedState): { delta: StateDelta; held: StateHeld | undefined } {
  const arrays = (parts: readonly SavedPart[]): StateDelta => {
    const delta: StateDelta = {};
    for (const part of parts) {
      for (const [name, list] of Object.entries(unpackDelta(loadPart(part)))) {
        const changes = (delta[name] ??= []);
        for (let i = 0; i < list.size; i++) changes.push([list.key(i), list.sub(i), list.value(i)]);
      }
    }
    return delta;
  };
  const held = saved.held === undefined ? undefined : arrays([saved.held]);
  return {
    delta: arrays(saved.parts),
    held: held && Object.fromEntries(Object.entries(held).map(([name, l]) => [name, l.map(([k, sub]) => [k, sub])])),
  };
}

export interface DiskStateOptions {
  /**
   * Roughly how many bytes of heap the cached values and the changes not yet in the file take between batches
   * (estimated from their JSON's length and pieces: see {@link entrySize}, {@link changeSize}); beyond it the least
   * recently used values are dropped (they are on disk, or in the changes of the next checkpoint), down to a quarter
   * of it (see {@link DiskStateStore.endBatch}).
   */
  readonly cacheBytes?: number;
  /**
   * `table.exec.state.ttl` in milliseconds (0 or undefined: state never expires). An entry (a keyed state's key, a
   * map state's `(key, sub)`) not written (created or changed) for this long, in processing time, is deleted at the
   * next checkpoint, as Flink's idle state retention.
   */
  readonly ttlMs?: number;
  /** The clock of the TTL (tests set it). */
  readonly now?: () => number;
  /** Tests: the writer thread dies halfway through each write, its transaction open (a crash mid-write). */
  readonly crashMidWrite?: boolean;
  /** Tests: about how many characters one part of a write to the writer thread carries (default `PART_CHARS`). */
  readonly writePartChars?: number;
}

/** What {@link DiskStateStore.collect} gathers: the changes since the last checkpoint, and the held entries. */
interface Collected {
  readonly parts: PackedDelta[];
  readonly held: PackedDelta | undefined;
}

export const DEFAULT_CACHE_BYTES = 64 * 1024 * 1024;
/** The assumed memory of a value never serialised yet. */
const UNKNOWN_SIZE = 512;
/** The file's table layout: 2 — one row per entry (`ns`, `key`, `sub`); 1 (no `layout` in `meta`) — per key. */
export const LAYOUT = '2';
/** The state file's name in the job's state directory (SQLite's WAL beside it: the name and `-wal`). */
export const STATE_FILE = 'sql-state.sqlite';

/**
 * A SQL job's keyed state on disk: one SQLite file (`sql-state.sqlite` in the job's state directory) holding the
 * state as of the last committed checkpoint, its version number (the count of checkpoints that changed it) and the
 * plan it belongs to; in memory, a bounded cache of values and the changes since the last checkpoint.
 *
 * Exactly once without writing the whole state at each checkpoint:
 * 1. {@link snapshot} returns version v+1 and the delta — every key changed since version v, with its new value —
 *    and the runner commits it in the sink's transaction with the sink's rows and the source position;
 * 2. after that commit, {@link committed} hands the delta to a writer thread ({@link StateFileWriter}), which
 *    writes it into the file with version v+1 in one SQLite transaction (fsync'd) on a connection of its own,
 *    while the pipeline goes on; the next {@link snapshot} waits for that write (so the sink never commits v+2
 *    before the file holds v+1) and fails with its error if it failed;
 * 3. on restart, {@link restore} compares the file's version f with the sink checkpoint's version c: f = c is
 *    current; f = c − 1 is a crash between 1 and 2 — the checkpoint's delta brings it to c; anything else (the
 *    file was deleted, copied from elsewhere, or the sink was reset) is refused (SQL_STATE_MISMATCH, --reset).
 *
 * A crash before 1 finishes leaves both at v: the changes since are replayed from the source. While a write is in
 * flight, reads see its values from memory (each state keeps the changes handed off until the write lands: the
 * cache may have dropped them, and the main thread's connection sees the file as it was before the write). A store
 * in memory (`:memory:`: no second connection can reach it) writes in {@link committed} itself.
 *
 * With a TTL ({@link DiskStateOptions.ttlMs}) the file also holds, per entry, when a checkpoint last wrote it
 * (`expiry`, beside the state: not part of the delta); each {@link snapshot} first deletes the entries not written
 * for the TTL, so that their deletion travels in the delta like any other change.
 */
export class DiskStateStore implements StateBackend {
  private readonly db: Database.Database;
  private readonly states = new Map<string, StoredState>();
  private readonly cacheBytes: number;
  /** The version the file holds — or will, once the write in flight lands. */
  private fileVersion: number;
  private readonly readMeta: Database.Statement<[string], { value: string }>;
  readonly readOne: Database.Statement<[string, string, string], string>;
  readonly readRange: Database.Statement<[string, string], unknown[]>;
  readonly readExists: Database.Statement<[string, string, string], number>;
  /** Writes a checkpoint into the file on this thread (restore, a store in memory). */
  private readonly applier: StateFileApplier;
  /** The thread that writes checkpoints into the file (started at the first one; none for `:memory:`). */
  private writer: StateFileWriter | undefined;
  private readonly crashMidWrite: boolean;
  private readonly writePartChars: number | undefined;
  /** How long the last {@link snapshot} waited for the write of the checkpoint before (ms). */
  lastWaitMs = 0;
  /**
   * The delta the last {@link snapshot} returned, until {@link committed} hands it to the writer thread. Its changes
   * left `pending` for `writing` at the snapshot (see {@link StoredState.handOff}): the batches processed while the
   * sink commits the checkpoint change the next one.
   */
  private sealed: Collected | undefined;
  /** The file holds state in the table layout of an earlier version: only starting over empties it. */
  private readonly oldLayout: boolean;
  private readonly expiry: StateExpiry;

  constructor(
    readonly path: string,
    private readonly plan: string,
    options: DiskStateOptions = {},
  ) {
    this.cacheBytes = options.cacheBytes ?? DEFAULT_CACHE_BYTES;
    this.crashMidWrite = options.crashMidWrite === true;
    this.writePartChars = options.writePartChars;
    try {
      this.db = new Database(path);
      // A new file's pages (an existing file keeps its own): the changes of a checkpoint land on random pages, and
      // with 8 KiB pages instead of SQLite's 4 the writer thread took 16.9 s instead of ~20 at 1,000,000 rows
      // (bench/README.md, "Where the state's cost is"). Set before WAL, which fixes it.
      this.db.pragma('page_size = 8192');
      this.db.pragma('journal_mode = WAL');
      // The file must hold each version it claims once `committed` returns: a lost commit is caught up from the
      // sink's checkpoint, two lost commits are not.
      this.db.pragma('synchronous = FULL');
      this.db.pragma('cache_size = -16384');
      // A map state's entries of one key are one range of the primary key.
      this.db.exec(`CREATE TABLE IF NOT EXISTS meta (name TEXT PRIMARY KEY, value TEXT NOT NULL) WITHOUT ROWID;
        CREATE TABLE IF NOT EXISTS entries (ns TEXT NOT NULL, key TEXT NOT NULL, sub TEXT NOT NULL,
          value TEXT NOT NULL, PRIMARY KEY (ns, key, sub)) WITHOUT ROWID;`);
    } catch (error) {
      throw new TributaryError('STATE_DIR_UNWRITABLE', `cannot open the SQL job state ${path}: ${String(error)}`, {
        hint: 'free disk space or fix the permissions of the state directory (SET state.dir)',
        cause: error,
      });
    }
    this.readMeta = this.db.prepare('SELECT value FROM meta WHERE name = ?');
    this.readOne = this.db
      .prepare<[string, string, string], string>('SELECT value FROM entries WHERE ns = ? AND key = ? AND sub = ?')
      .pluck();
    this.readExists = this.db
      .prepare<[string, string, string], number>('SELECT 1 FROM entries WHERE ns = ? AND key = ? AND sub = ?')
      .pluck();
    this.readRange = this.db
      .prepare<[string, string], unknown[]>('SELECT sub, value FROM entries WHERE ns = ? AND key = ?')
      .raw();
    this.fileVersion = Number(this.readMeta.get('version')?.value ?? 0);
    this.oldLayout = this.fileVersion > 0 && this.readMeta.get('layout')?.value !== LAYOUT;
    const filePlan = this.readMeta.get('plan')?.value;
    if (this.fileVersion > 0 && filePlan !== plan) {
      throw mismatch(path, `holds the state of another query (plan ${filePlan}, this one is ${plan})`);
    }
    this.expiry = new StateExpiry(
      this.db,
      options.ttlMs ?? 0,
      options.now ?? Date.now,
      'SELECT ns, key, sub FROM entries',
    );
    this.applier = stateFileApplier(this.db);
  }

  /** Whether values expire (a TTL is set). */
  get expiring(): boolean {
    return this.expiry.enabled;
  }

  /** Opens (creates) the state file of a job in its state directory. */
  static open(stateDir: string, plan: string, options: DiskStateOptions = {}): DiskStateStore {
    mkdirSync(stateDir, { recursive: true });
    return new DiskStateStore(join(stateDir, STATE_FILE), plan, options);
  }

  get version(): number {
    return this.fileVersion;
  }

  keyed<V, K extends StateKey = string>(name: string, codec: StateCodec<V>): KeyedState<V, K> {
    // Its keys are whatever the node gives; `K` says which (see `StateCodec.numberKeys`).
    return this.add(name, new DiskKeyedState<V>(this, name, codec));
  }

  keyedMap<V, K extends StateKey = string>(name: string, codec: StateCodec<V>): KeyedMapState<V, K> {
    return this.add(name, new DiskKeyedMapState<V>(this, name, codec)) as unknown as KeyedMapState<V, K>;
  }

  private add<S extends StoredState>(name: string, state: S): S {
    if (this.states.has(name)) throw new Error(`state ${name} opened twice`);
    this.states.set(name, state);
    return state;
  }

  /**
   * Roughly the heap the state takes (estimates, see {@link entrySize} and {@link changeSize}): the values cached,
   * and the changes not yet in the file (since the last checkpoint, and those being written).
   */
  get memory(): { readonly cachedBytes: number; readonly changedBytes: number } {
    let cachedBytes = 0;
    let changedBytes = 0;
    for (const state of this.states.values()) {
      cachedBytes += state.cachedBytes;
      changedBytes += state.changedBytes;
    }
    return { cachedBytes, changedBytes };
  }

  /**
   * The end of a batch: values beyond the cache's budget leave memory, least recently used first. The changes not
   * yet in the file (since the last checkpoint, and those being written) count against the same budget: the cache
   * gives way to them, down to a quarter of it. They cannot leave memory before their checkpoint lands, and their
   * size follows the checkpoint interval, not this budget; a cache squeezed to nothing would read every value from
   * the file.
   */
  endBatch(): void {
    // The last checkpoint's write landed: its changes leave memory now, not at the next snapshot — reads of the
    // entries it held no longer look among them, and the cache gets their room back.
    if (this.writer?.landed === true) this.landed();
    for (;;) {
      let cached = 0;
      let changed = 0;
      let largest: StoredState | undefined;
      for (const state of this.states.values()) {
        cached += state.cachedBytes;
        changed += state.changedBytes;
        if (!largest || state.cachedBytes > largest.cachedBytes) largest = state;
      }
      const budget = Math.max(this.cacheBytes / 4, this.cacheBytes - changed);
      if (cached <= budget || largest === undefined) return;
      // Serialising a value on its way out corrects its size (and adds a change), so all is counted again each round.
      if (largest.evict(Math.max(1024, (cached - budget) / 4)) === 0) return;
    }
  }

  /**
   * The state to commit with the next checkpoint: the next version and the changes that make it. Waits first for
   * the write of the previous checkpoint (the file is then at most one checkpoint behind the sink, as {@link
   * restore} needs), and throws its error (STATE_DIR_UNWRITABLE) if it failed. The changes are sealed: those of the
   * batches that follow, while the sink commits, belong to the next checkpoint.
   */
  async snapshot(): Promise<CommittedState> {
    if (this.sealed !== undefined) throw new Error('the SQL job state is snapshotted twice without a commit between');
    const started = performance.now();
    await this.settle();
    this.lastWaitMs = performance.now() - started;
    if (this.expiry.enabled) {
      for (const { ns, key, sub } of this.expiry.expired()) this.states.get(ns)?.expire(key, sub);
    }
    const collected = this.collect();
    for (const state of this.states.values()) state.handOff();
    this.sealed = collected;
    const { parts, held } = collected;
    const saved = parts.map(savePart);
    return held === undefined
      ? { version: this.fileVersion + 1, parts: saved }
      : { version: this.fileVersion + 1, parts: saved, held: savePart(held) };
  }

  /**
   * Every change since the last checkpoint, packed per state (serialised: see {@link StoredState.changes}), and the
   * entries removed that the file must hold (none: undefined).
   */
  private collect(): Collected {
    const packer = new DeltaPacker(this.writePartChars ?? PART_CHARS);
    let held: DeltaPacker | undefined;
    for (const [name, state] of this.states) {
      state.changes((key, sub, value) => packer.add(name, key, sub, value));
      for (const [key, sub] of state.held()) (held ??= new DeltaPacker(Infinity)).add(name, key, sub, null);
    }
    return { parts: packer.finish(), held: held?.finish()[0] };
  }

  /**
   * Whether checkpoints are written by a thread of their own (not for a store in memory, which no second
   * connection can reach): then an entry only the file may hold is removed without reading it, and the write
   * checks it (see `KeyedMapState.removeHeld`).
   */
  get writesOffThread(): boolean {
    return this.path !== ':memory:';
  }

  /**
   * The checkpoint of the last {@link snapshot} is committed at the sink: the file takes its changes — handed to
   * the writer thread, and this returns (after the previous write, if one is still in flight: at most one at a
   * time). The changes stay readable from memory until the write lands.
   */
  async committed(): Promise<void> {
    let collected = this.sealed;
    if (collected === undefined) {
      // No snapshot before (no checkpoint at a sink: a store used alone): every change since the last write.
      await this.settle();
      collected = this.collect();
      for (const state of this.states.values()) state.handOff();
    }
    // The snapshot waited for the write before it: none is in flight.
    this.sealed = undefined;
    const { parts, held } = collected;
    const write: StateWrite = {
      version: this.fileVersion + 1,
      plan: this.plan,
      layout: LAYOUT,
      stampAt: this.expiry.enabled ? this.expiry.now() : undefined,
      parts,
      ...(held === undefined ? {} : { held }),
    };
    if (!this.writesOffThread) {
      this.applyHere(listed(write));
      this.landed();
    } else {
      this.writer ??= new StateFileWriter(this.path, this.crashMidWrite);
      this.writer.write(write);
    }
    this.fileVersion = write.version;
  }

  /** How long the writer thread took for the last write that landed (ms; 0 before the first). */
  get lastWriteMs(): number {
    return this.writer?.lastWriteMs ?? 0;
  }

  /**
   * The writer thread's largest heap during the last write that landed, after each part (bytes; 0 before the first).
   */
  get writerHeapBytes(): number {
    return this.writer?.lastHeapBytes ?? 0;
  }

  /**
   * Waits for the write in flight (if any), then drops the changes handed off from memory: the file holds them.
   * Throws if a write failed (then and at every later call: the store cannot go on).
   */
  async settle(): Promise<void> {
    if (this.writer === undefined) return;
    await this.writer.idle();
    this.landed();
  }

  private landed(): void {
    // The sealed changes wait in `writing` for their write, which has not begun.
    if (this.sealed !== undefined) return;
    for (const state of this.states.values()) state.landed();
  }

  /**
   * Brings the file to the state the sink's checkpoint committed (`saved`: what {@link snapshot} returned then, or
   * the arrays of a checkpoint of version 3), or, with no checkpoint (`saved` undefined: the job starts over),
   * empties it. Before any change.
   */
  restore(saved: CommittedState | CommittedArrays | undefined): void {
    if (this.writer !== undefined) throw new Error('the SQL job state is restored after it was written');
    if (saved === undefined) {
      if (this.fileVersion === 0) return;
      // `state`: the table of layout 1.
      this.db.exec('DROP TABLE IF EXISTS state; DELETE FROM entries; DELETE FROM meta;');
      this.expiry.clear();
      this.fileVersion = 0;
      return;
    }
    if (this.oldLayout) throw mismatch(this.path, 'holds state in the layout of an earlier version');
    if (this.fileVersion === saved.version) return;
    if (this.fileVersion !== saved.version - 1) {
      throw mismatch(
        this.path,
        `is at checkpoint version ${this.fileVersion}, the sink's last checkpoint at ${saved.version}`,
      );
    }
    const head = {
      version: saved.version,
      plan: this.plan,
      layout: LAYOUT,
      stampAt: this.expiry.enabled ? this.expiry.now() : undefined,
    };
    this.applyHere('delta' in saved ? arraysWrite(head, saved) : packedWrite(head, saved));
    this.fileVersion = saved.version;
  }

  /**
   * Reads the whole state into the cache in one scan of the file when it is small beside the cache (the file and its
   * log under a quarter of the cache's bytes) and the states hold nothing yet: a job started again on its state would
   * otherwise read each key it touches from the file, a query each (seed 004's catch-up after a restart: ~100,000
   * keys). Call once the states are opened and restored.
   */
  warmUp(): void {
    if (this.path === ':memory:' || this.fileVersion === 0) return;
    let bytes = 0;
    for (const file of [this.path, `${this.path}-wal`]) bytes += statSync(file, { throwIfNoEntry: false })?.size ?? 0;
    if (bytes * 4 > this.cacheBytes) return;
    for (const state of this.states.values()) if (state.cachedBytes > 0 || state.changedBytes > 0) return;
    const rows = this.db.prepare('SELECT ns, key, sub, value FROM entries ORDER BY ns, key, sub').raw().iterate();
    for (const [ns, key, sub, value] of rows as IterableIterator<[string, string, string, string]>) {
      this.states.get(ns)?.warm(key, sub, value);
    }
  }

  /** Writes `write` into the file on this thread; a held entry the file lacks is STATE_CORRUPT. */
  private applyHere(write: ListedWrite): void {
    try {
      applyWhole(this.applier, write);
    } catch (error) {
      if ((error as { code?: unknown }).code === NOT_HELD) throw stateMismatchesSource((error as Error).message);
      throw error;
    }
  }

  /**
   * Waits for the write in flight, then closes the file. Throws the error of a failed write (after closing): the
   * file is then one checkpoint behind the sink, which the next run's {@link restore} makes up.
   */
  async close(): Promise<void> {
    try {
      // Without a writer thread the file closes before this returns its promise.
      if (this.writer !== undefined) await this.writer.close();
    } finally {
      if (this.db.open) this.db.close();
    }
  }
}

/**
 * A cached value (undefined: the key is known to have none), its estimated heap size (last known, {@link
 * entrySize}), a CLOCK bit, and whether it may have changed since it was last serialised (`dirty`).
 */
interface CacheEntry<V> {
  value: V | undefined;
  size: number;
  used: boolean;
  dirty: boolean;
}

/** What the store asks of each of its states. */
interface StoredState {
  /** Roughly the bytes of heap the values in memory take ({@link entrySize}). */
  readonly cachedBytes: number;
  /**
   * Roughly the bytes of heap the changes not yet in the file take: since the last checkpoint, and those being
   * written ({@link changeSize}).
   */
  readonly changedBytes: number;
  evict(bytes: number): number;
  /**
   * Passes every change since the last checkpoint to `add`, serialised (null: deleted; sub key '' in a keyed state).
   */
  changes(add: (key: string, sub: string, value: string | null) => void): void;
  /** The entries removed since the last checkpoint that the file must hold (see `KeyedMapState.removeHeld`). */
  held(): [string, string][];
  /**
   * The changes since the last checkpoint, as {@link changes} last returned them (called right after it, at the
   * snapshot), go to the file; they stay readable (under any later change) until {@link landed}.
   */
  handOff(): void;
  /** The file holds the changes of the last {@link handOff}: memory forgets them. */
  landed(): void;
  /** The TTL drops an entry: deleted, unless it changed since the last checkpoint (then it is not idle). */
  expire(key: string, sub: string): void;
  /**
   * An entry of the file into the cache (see `DiskStateStore.warmUp`): nothing of the state is in memory yet, and a
   * key's entries come one after another.
   */
  warm(key: string, sub: string, value: string): void;
}

/**
 * One state of a {@link DiskStateStore}. A key's value is, newest first: in `cache` (decoded; `dirty` when it
 * changed since it was last serialised), in `pending` (serialised, changed since the last checkpoint; null:
 * deleted), in `writing` (the last checkpoint's changes, from its snapshot until the file holds them), or in the file. The
 * cache forgets by CLOCK (a hit sets a bit; eviction gives entries with the bit a second round) rather than strict
 * LRU, which would reorder the map at every hit.
 */
class DiskKeyedState<V> implements KeyedState<V, StateKey>, StoredState {
  private readonly cache = new Map<StateKey, CacheEntry<V>>();
  /**
   * The entries marked `dirty` and their keys, in the order marked (an entry unmarked since is skipped): a mark and
   * a list rather than a Set of keys, one lookup fewer per value read for a change.
   */
  private dirtyKeys: StateKey[] = [];
  private dirtyEntries: CacheEntry<V>[] = [];
  private pending = new Map<StateKey, string | null>();
  private writing = new Map<StateKey, string | null>();
  cachedBytes = 0;
  private pendingBytes = 0;
  private writingBytes = 0;
  readonly expiring: boolean;
  /** A key of the file as this state's keys come (see `StateCodec.numberKeys`). */
  private readonly fromFile: (text: string) => StateKey;

  constructor(
    private readonly store: DiskStateStore,
    private readonly name: string,
    private readonly codec: StateCodec<V>,
  ) {
    this.expiring = store.expiring;
    this.fromFile = codec.numberKeys === true ? numberKey : (text) => text;
  }

  expire(fileKey: string): void {
    const key = this.fromFile(fileKey);
    if (this.cache.get(key)?.dirty === true || this.pending.has(key) || this.writing.has(key)) return;
    this.delete(key);
  }

  warm(fileKey: string, _sub: string, text: string): void {
    this.cacheText(this.fromFile(fileKey), text);
  }

  get(key: StateKey): V | undefined {
    key = flat(key);
    const entry = this.entry(key);
    // The caller may change it in place.
    if (entry.value !== undefined) this.markDirty(key, entry);
    return entry.value;
  }

  peek(key: StateKey): V | undefined {
    return this.entry(flat(key)).value;
  }

  /** The cache's entry of `key` (flat), read into it when missing. */
  private entry(key: StateKey): CacheEntry<V> {
    const cached = this.cache.get(key);
    if (cached !== undefined) {
      cached.used = true;
      return cached;
    }
    let text = this.pending.get(key);
    if (text === undefined) text = this.writing.get(key);
    if (text === undefined) text = this.store.readOne.get(this.name, keyText(key), '') ?? null;
    // A key without value is cached too: a new join key or group is looked up again at once.
    return this.cacheText(key, text);
  }

  /** Caches `key`'s serialised value (null: it has none), decoded, as a clean entry. */
  private cacheText(key: StateKey, text: string | null): CacheEntry<V> {
    const value = text === null ? undefined : decode(this.codec, text);
    const size = entrySize(text, key, this.codec.extraBytes);
    const entry: CacheEntry<V> = { value, size, used: false, dirty: false };
    this.cache.set(key, entry);
    this.cachedBytes += size;
    return entry;
  }

  private markDirty(key: StateKey, entry: CacheEntry<V>): void {
    if (entry.dirty) return;
    entry.dirty = true;
    this.dirtyKeys.push(key);
    this.dirtyEntries.push(entry);
  }

  set(key: StateKey, value: V): void {
    key = flat(key);
    let entry = this.cache.get(key);
    if (entry !== undefined) {
      entry.value = value;
      entry.used = true;
    } else {
      entry = { value, size: UNKNOWN_SIZE, used: true, dirty: false };
      this.cache.set(key, entry);
      this.cachedBytes += UNKNOWN_SIZE;
    }
    this.markDirty(key, entry);
  }

  delete(key: StateKey): void {
    key = flat(key);
    const cached = this.cache.get(key);
    if (cached !== undefined) {
      this.cachedBytes -= cached.size;
      cached.dirty = false;
      this.cache.delete(key);
    }
    this.addPending(key, null);
  }

  get changedBytes(): number {
    return this.pendingBytes + this.writingBytes;
  }

  private addPending(key: StateKey, text: string | null): void {
    const entries = this.pending.size;
    this.pending.set(key, text);
    if (this.pending.size > entries) this.pendingBytes += changeSize(key, text);
  }

  /** Drops about `bytes` of values from memory, oldest first; returns how many values it dropped. */
  evict(bytes: number): number {
    return evictUnused(this.cache, bytes, (key, entry) => {
      if (entry.dirty) this.serialise(key, entry);
      this.cachedBytes -= entry.size;
    });
  }

  held(): [string, string][] {
    return [];
  }

  changes(add: (key: string, sub: string, value: string | null) => void): void {
    const { dirtyKeys, dirtyEntries } = this;
    this.dirtyKeys = [];
    this.dirtyEntries = [];
    for (let i = 0; i < dirtyEntries.length; i++) {
      if (dirtyEntries[i]!.dirty) this.serialise(dirtyKeys[i]!, dirtyEntries[i]!);
    }
    for (const [key, text] of this.pending) add(keyText(key), '', text);
  }

  handOff(): void {
    this.writing = this.pending;
    this.writingBytes = this.pendingBytes;
    this.pending = new Map();
    this.pendingBytes = 0;
  }

  landed(): void {
    if (this.writing.size > 0) this.writing = new Map();
    this.writingBytes = 0;
  }

  private serialise(key: StateKey, entry: CacheEntry<V>): void {
    // Only an entry that has a value is dirty (get and set mark it; delete unmarks it).
    const value = entry.value as V;
    const text = flat(this.codec.toText?.(value) ?? JSON.stringify(this.codec.toJson(value)));
    const size = entrySize(text, key, this.codec.extraBytes);
    this.cachedBytes += size - entry.size;
    entry.size = size;
    this.addPending(key, text);
    entry.dirty = false;
  }
}

/**
 * The entries of one key of a {@link DiskKeyedMapState} in memory: each known sub key's value (undefined: known to
 * be absent, only while the bucket is partial), whether they are all the key's entries (`complete`: read by a
 * range of the file), their estimated heap size ({@link entrySize}) and a CLOCK bit.
 */
interface Bucket<V> {
  map: Map<StateKey, V | undefined>;
  complete: boolean;
  size: number;
  used: boolean;
}

/**
 * The memory of a bucket without entries: its object, its Map, its slot in the cache (~150 bytes measured, see
 * {@link ENTRY_OVERHEAD}).
 */
const BUCKET_OVERHEAD = 160;

/**
 * A map state of a {@link DiskStateStore}: in the file one row per entry (`key`, `sub`), so that `put` and `remove`
 * write that entry alone, and `entries` reads a key's entries as one range of the primary key. In memory, per key, the
 * entries read lately and those written since (a bucket; evicted whole, by CLOCK). A value is serialised when it is put
 * (into `pending`, the changes since the last checkpoint), so a cached value is never newer than `pending` and eviction
 * writes nothing. An entry's value is, newest first: in the bucket, in `pending` (null: removed), in `writing` (the
 * last checkpoint's changes, from its snapshot until the file holds them), in the file.
 */
class DiskKeyedMapState<V> implements KeyedMapState<V, StateKey>, StoredState {
  private readonly cache = new Map<StateKey, Bucket<V>>();
  private pending = new Map<StateKey, Map<StateKey, string | null>>();
  private writing = new Map<StateKey, Map<StateKey, string | null>>();
  private pendingBytes = 0;
  private writingBytes = 0;
  /** Entries removed by {@link removeHeld} since the last checkpoint that only the file could tell were there. */
  private heldInFile: [StateKey, StateKey][] = [];
  cachedBytes = 0;
  readonly expiring: boolean;
  /** A key or sub key of the file as this state's keys come (see `StateCodec.numberKeys`). */
  private readonly fromFile: (text: string) => StateKey;

  constructor(
    private readonly store: DiskStateStore,
    private readonly name: string,
    private readonly codec: StateCodec<V>,
  ) {
    this.expiring = store.expiring;
    this.fromFile = codec.numberKeys === true ? numberKey : (text) => text;
  }

  expire(fileKey: string, fileSub: string): void {
    const key = this.fromFile(fileKey);
    const sub = this.fromFile(fileSub);
    // A value is serialised into `pending` when it is put: an entry changed since the last checkpoint is there.
    if (this.pending.get(key)?.has(sub) === true || this.writing.get(key)?.has(sub) === true) return;
    this.remove(key, sub);
  }

  warm(fileKey: string, fileSub: string, text: string): void {
    const key = this.fromFile(fileKey);
    let bucket = this.cache.get(key);
    if (bucket === undefined) {
      // Complete: all of the key's entries come before the next key's.
      bucket = { map: new Map(), complete: true, size: BUCKET_OVERHEAD, used: false };
      this.cache.set(key, bucket);
      this.cachedBytes += BUCKET_OVERHEAD;
    }
    const sub = this.fromFile(fileSub);
    bucket.map.set(sub, decode(this.codec, text));
    const size = entrySize(text, sub, this.codec.extraBytes);
    bucket.size += size;
    this.cachedBytes += size;
  }

  entries(key: StateKey): ReadonlyMap<StateKey, V> {
    key = flat(key);
    const bucket = this.cache.get(key);
    if (bucket?.complete === true) {
      bucket.used = true;
      return bucket.map as ReadonlyMap<StateKey, V>;
    }
    return this.load(key, bucket);
  }

  get(key: StateKey, sub: StateKey): V | undefined {
    key = flat(key);
    sub = flat(sub);
    let bucket = this.cache.get(key);
    if (bucket !== undefined) {
      bucket.used = true;
      const value = bucket.map.get(sub);
      if (value !== undefined || bucket.complete || bucket.map.has(sub)) return value;
    }
    let text = this.pending.get(key)?.get(sub);
    if (text === undefined) text = this.writing.get(key)?.get(sub);
    if (text === undefined) text = this.store.readOne.get(this.name, keyText(key), keyText(sub)) ?? null;
    const value = text === null ? undefined : decode(this.codec, text);
    if (bucket === undefined) {
      bucket = { map: new Map(), complete: false, size: BUCKET_OVERHEAD, used: true };
      this.cache.set(key, bucket);
      this.cachedBytes += BUCKET_OVERHEAD;
    }
    bucket.map.set(sub, value);
    const size = entrySize(text, sub, this.codec.extraBytes);
    bucket.size += size;
    this.cachedBytes += size;
    return value;
  }

  has(key: StateKey, sub: StateKey): boolean {
    key = flat(key);
    sub = flat(sub);
    const pending = this.pending.get(key);
    return (
      this.heldInMemory(key, sub, this.cache.get(key), pending) ??
      this.store.readExists.get(this.name, keyText(key), keyText(sub)) !== undefined
    );
  }

  /**
   * Whether `(key, sub)` has an entry, as far as memory knows — its `bucket`, the changes since the last checkpoint
   * (`pending`: the key's), the changes being written — or undefined when only the file can tell. Keys flat.
   */
  private heldInMemory(
    key: StateKey,
    sub: StateKey,
    bucket: Bucket<V> | undefined,
    pending: Map<StateKey, string | null> | undefined,
  ): boolean | undefined {
    if (bucket !== undefined) {
      bucket.used = true;
      if (bucket.map.get(sub) !== undefined) return true;
      if (bucket.complete || bucket.map.has(sub)) return false;
    }
    let text = pending?.get(sub);
    if (text === undefined) text = this.writing.get(key)?.get(sub);
    return text === undefined ? undefined : text !== null;
  }

  removeHeld(key: StateKey, sub: StateKey): boolean {
    key = flat(key);
    sub = flat(sub);
    // Each map looked up once for both the check and the removal (a retraction is a third of the changes).
    const bucket = this.cache.get(key);
    const pending = this.pending.get(key);
    let held = this.heldInMemory(key, sub, bucket, pending);
    if (held === undefined) {
      // Only the file can tell. With a writer thread, the checkpoint's write reads it there, off this thread (a
      // point read per retraction was a fifth of a change's cost); with a TTL it may have expired: not checked.
      if (!this.store.writesOffThread) {
        held = this.store.readExists.get(this.name, keyText(key), keyText(sub)) !== undefined;
      } else if (!this.expiring) this.heldInFile.push([key, sub]);
    }
    if (held === false) return false;
    this.removeFlat(key, sub, bucket, pending);
    return true;
  }

  put(key: StateKey, sub: StateKey, value: V): void {
    key = flat(key);
    sub = flat(sub);
    const text = flat(this.codec.toText?.(value) ?? JSON.stringify(this.codec.toJson(value)));
    this.addPending(key, sub, text);
    const bucket = this.cache.get(key);
    // A key without a bucket in memory gets none for an entry written: the entry is in `pending`, where a read finds
    // it, and a bucket of one entry written (an order added to a site whose orders are not in memory) is seldom read
    // before it leaves — it would only push out buckets that are.
    if (bucket === undefined) return;
    bucket.used = true;
    const map = bucket.map;
    let added: boolean;
    if (bucket.complete) {
      // A complete bucket holds no absent (undefined) entries: an entry is new when it grows the map (one lookup
      // fewer).
      const entries = map.size;
      map.set(sub, value);
      added = map.size > entries;
    } else {
      added = map.get(sub) === undefined;
      map.set(sub, value);
    }
    if (added) {
      const size = entrySize(text, sub, this.codec.extraBytes);
      bucket.size += size;
      this.cachedBytes += size;
    }
  }

  remove(key: StateKey, sub: StateKey): void {
    key = flat(key);
    sub = flat(sub);
    this.removeFlat(key, sub, this.cache.get(key), this.pending.get(key));
  }

  /** {@link remove} with the keys flat, and the key's bucket and pending changes already looked up. */
  private removeFlat(
    key: StateKey,
    sub: StateKey,
    bucket: Bucket<V> | undefined,
    pending: Map<StateKey, string | null> | undefined,
  ): void {
    this.addPending(key, sub, null, pending);
    if (bucket === undefined) return;
    if (!bucket.complete) {
      bucket.map.set(sub, undefined);
    } else if (bucket.map.has(sub)) {
      const size = bucket.size / bucket.map.size;
      bucket.map.delete(sub);
      bucket.size -= size;
      this.cachedBytes -= size;
    }
  }

  get changedBytes(): number {
    return this.pendingBytes + this.writingBytes;
  }

  /** Records a change since the last checkpoint; `pending`: the key's changes, when the caller looked them up. */
  private addPending(
    key: StateKey,
    sub: StateKey,
    text: string | null,
    pending: Map<StateKey, string | null> | undefined = this.pending.get(key),
  ): void {
    if (pending === undefined) {
      this.pending.set(key, (pending = new Map<StateKey, string | null>()));
      this.pendingBytes += BUCKET_OVERHEAD + keyBytes(key);
    }
    const entries = pending.size;
    pending.set(sub, text);
    if (pending.size > entries) this.pendingBytes += changeSize(sub, text);
  }

  /**
   * Reads all entries of `key`: the file's, under the changes being written into it, under the changes since the
   * last checkpoint, under those in memory.
   */
  private load(key: StateKey, bucket: Bucket<V> | undefined): ReadonlyMap<StateKey, V> {
    const pending = this.pending.get(key);
    const writing = this.writing.get(key);
    const known = bucket?.map;
    const map = new Map<StateKey, V | undefined>();
    let size = bucket === undefined ? BUCKET_OVERHEAD : 0;
    for (const [subText, text] of this.store.readRange.all(this.name, keyText(key)) as [string, string][]) {
      const sub = this.fromFile(subText);
      if (known?.has(sub) === true || pending?.has(sub) === true || writing?.has(sub) === true) continue;
      map.set(sub, decode(this.codec, text));
      size += entrySize(text, sub, this.codec.extraBytes);
    }
    if (writing !== undefined) {
      for (const [sub, text] of writing) {
        if (text === null || known?.has(sub) === true || pending?.has(sub) === true) continue;
        map.set(sub, decode(this.codec, text));
        size += entrySize(text, sub, this.codec.extraBytes);
      }
    }
    if (pending !== undefined) {
      for (const [sub, text] of pending) {
        if (text === null || known?.has(sub) === true) continue;
        map.set(sub, decode(this.codec, text));
        size += entrySize(text, sub, this.codec.extraBytes);
      }
    }
    if (known !== undefined) {
      for (const [sub, value] of known) if (value !== undefined) map.set(sub, value);
    }
    if (bucket === undefined) {
      this.cache.set(key, { map, complete: true, size, used: true });
    } else {
      bucket.map = map;
      bucket.complete = true;
      bucket.size += size;
      bucket.used = true;
    }
    this.cachedBytes += size;
    return map as ReadonlyMap<StateKey, V>;
  }

  /** Drops about `bytes` of buckets from memory, oldest first; returns how many it dropped. */
  evict(bytes: number): number {
    return evictUnused(this.cache, bytes, (_key, bucket) => {
      this.cachedBytes -= bucket.size;
    });
  }

  changes(add: (key: string, sub: string, value: string | null) => void): void {
    for (const [key, entries] of this.pending) {
      const text = keyText(key);
      for (const [sub, value] of entries) add(text, keyText(sub), value);
    }
  }

  held(): [string, string][] {
    return this.heldInFile.map(([key, sub]) => [keyText(key), keyText(sub)]);
  }

  handOff(): void {
    this.writing = this.pending;
    this.writingBytes = this.pendingBytes;
    this.pending = new Map();
    this.pendingBytes = 0;
    this.heldInFile = [];
  }

  landed(): void {
    if (this.writing.size > 0) this.writing = new Map();
    this.writingBytes = 0;
  }
}

/**
 * Second-chance eviction over a cache in insertion order: drops entries, oldest first, until about `bytes` are
 * dropped; an entry used since the last round is unmarked and kept (moved to the end). `dropEntry` is called for
 * each dropped entry before it leaves. Returns how many were dropped — or, when every entry visited was used, how
 * many were unmarked, so the caller's next round finds them droppable.
 */
function evictUnused<E extends { size: number; used: boolean }>(
  cache: Map<StateKey, E>,
  bytes: number,
  dropEntry: (key: StateKey, entry: E) => void,
): number {
  let dropped = 0;
  let count = 0;
  const again: [StateKey, E][] = [];
  for (const [key, entry] of cache) {
    if (dropped >= bytes) break;
    cache.delete(key);
    if (entry.used) {
      entry.used = false;
      again.push([key, entry]);
      continue;
    }
    count++;
    // What the cache's count drops by: the size it had counted (dropping a value never serialised serialises it,
    // which corrects its size, mostly down from UNKNOWN_SIZE; counting the corrected size overshot the budget).
    dropped += entry.size;
    dropEntry(key, entry);
  }
  for (const [key, entry] of again) cache.set(key, entry);
  return count === 0 && again.length > 0 ? again.length : count;
}

/**
 * The heap a cached entry takes beyond its pieces (below): its slot in a Map (or its cache entry object) and the
 * header of its key string. With {@link PIECE_BYTES} and {@link BUCKET_OVERHEAD}, measured once on the SQL bench's
 * state (`bench/sql-join-aggregate.ts`, 200,000 rows + 192,102 changes, Node 20, no pointer compression): after the
 * changes each state's cache was dropped whole and the heap measured around it after `gc()` (`--expose-gc`). The
 * real cost per entry: 240 bytes for a site's order (`[[274019,4000],1,1]`, 18 characters: 3 × JSON counted 161),
 * 312 for a customer's site, 424 for a customer row, 708 for a group (106 characters); all states together 61.9 MB
 * where 3 × JSON counted 42.7 MB — a 64 MB budget held ~93 MB of heap; this estimate counts 64.9 MB for 61.6.
 */
const ENTRY_OVERHEAD = 64;

/**
 * The heap each piece of a decoded value takes, a piece being what a `,`, `[` or `{` of its JSON starts: an
 * element's slot (8 bytes), a boxed BIGINT (24), an array (64) or object (~48) — about 32 on average on the bench's
 * rows. The characters of its strings and numbers are counted once more, one byte each.
 */
const PIECE_BYTES = 32;

/**
 * Roughly the heap a cached entry takes, from its JSON `text` (null: known to have none), its key within its Map
 * (see {@link ENTRY_OVERHEAD}) and what its codec says the text leaves out (`StateCodec.extraBytes`): short entries
 * cost mostly their objects, not their characters, so a budget counted from the JSON's length alone admits more of
 * them than it means to.
 */
function entrySize(text: string | null, key: StateKey, extraBytes = 0): number {
  return ENTRY_OVERHEAD + keyBytes(key) + (text === null ? 0 : valueSize(text) + extraBytes);
}

/** The heap of a key beyond its slot: a string's characters (one byte each), a number's 8 bytes. */
function keyBytes(key: StateKey): number {
  return typeof key === 'number' ? 8 : key.length;
}

/**
 * The heap an entry's change not yet in the file takes: its slot in a Map (~40 bytes), the header of its JSON text and
 * of its key (one byte per character; the key may be shared with the cache), counted once per entry changed since the
 * last checkpoint, at its first change (a later change to the same entry is not counted again).
 */
const CHANGE_OVERHEAD = 80;

function changeSize(key: StateKey, text: string | null): number {
  return CHANGE_OVERHEAD + keyBytes(key) + (text === null ? 0 : text.length);
}

function valueSize(text: string): number {
  let pieces = 0;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    // , [ {
    if (c === 44 || c === 91 || c === 123) pieces++;
  }
  return pieces * PIECE_BYTES + text.length;
}

function decode<V>(codec: StateCodec<V>, text: string): V {
  try {
    return codec.fromJson(JSON.parse(text));
  } catch {
    throw corrupt();
  }
}

function mismatch(path: string, what: string): TributaryError {
  return new TributaryError('SQL_STATE_MISMATCH', `the SQL job state ${path} ${what}: it cannot continue from there`, {
    hint: 'rerun the script with --reset to compute the result anew from the source tables (or restore the state directory that belongs to the sink)',
  });
}

/**
 * A committed state read back as a write (its parts checked: STATE_CORRUPT when one does not add up). Exported for
 * `bench/sql-state-replay.ts`.
 */
export function packedWrite(head: WriteHead, saved: CommittedState): ListedWrite {
  if (!Array.isArray(saved.parts)) throw corrupt();
  const parts = saved.parts.map(loadPart);
  return listed(saved.held === undefined ? { ...head, parts } : { ...head, parts, held: loadPart(saved.held) });
}

/** A committed state of version 3 (arrays) read back as a write, its shape checked. */
function arraysWrite(head: WriteHead, saved: CommittedArrays): ListedWrite {
  if (typeof saved.delta !== 'object' || saved.delta === null) throw corrupt();
  for (const changes of Object.values(saved.delta)) {
    if (!Array.isArray(changes) || changes.some((c) => !Array.isArray(c) || c.length !== 3)) throw corrupt();
  }
  if (saved.held !== undefined) {
    if (typeof saved.held !== 'object' || saved.held === null) throw corrupt();
    for (const entries of Object.values(saved.held)) {
      if (!Array.isArray(entries) || entries.some((e) => !Array.isArray(e) || e.length !== 2)) throw corrupt();
    }
  }
  return listedArrays(head, saved.delta, saved.held);
}

const BIG_ENDIAN = endianness() === 'BE';

function savePart({ names, counts, text, lengths }: PackedDelta): SavedPart {
  let bytes = Buffer.from(lengths.buffer, lengths.byteOffset, lengths.byteLength);
  if (BIG_ENDIAN) bytes = Buffer.from(bytes).swap32();
  return { names, counts, text, lengths: bytes.toString('base64') };
}

/** A part of a checkpoint read back, checked whole (STATE_CORRUPT when it does not add up). */
function loadPart(saved: unknown): PackedDelta {
  const { names, counts, text, lengths } = (saved ?? {}) as Partial<Record<keyof SavedPart, unknown>>;
  if (
    !Array.isArray(names) ||
    !Array.isArray(counts) ||
    names.length !== counts.length ||
    typeof text !== 'string' ||
    typeof lengths !== 'string' ||
    names.some((n) => typeof n !== 'string') ||
    counts.some((c) => !Number.isSafeInteger(c) || (c as number) < 0)
  ) {
    throw corrupt();
  }
  const bytes = Buffer.from(lengths, 'base64');
  const total = (counts as number[]).reduce((sum, c) => sum + c, 0);
  if (bytes.length !== 12 * total) throw corrupt();
  const copy = new Uint8Array(bytes.length);
  copy.set(bytes);
  if (BIG_ENDIAN) Buffer.from(copy.buffer).swap32();
  const decoded = new Int32Array(copy.buffer);
  let chars = 0;
  for (let i = 0; i < decoded.length; i++) {
    const length = decoded[i]!;
    if (length < (i % 3 === 2 ? -1 : 0)) throw corrupt();
    chars += Math.max(0, length);
  }
  if (chars !== text.length) throw corrupt();
  return { names: names as string[], counts: counts as number[], text, lengths: decoded };
}
