import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { TributaryError } from '../../core/errors.js';
import { corrupt, type KeyedState, type StateBackend, type StateCodec } from './keyed-state.js';
import { StateExpiry } from './state-expiry.js';

/** The changes of one checkpoint: per state name, `[key, value as JSON text | null for deleted]`. */
export type StateDelta = Record<string, [string, string | null][]>;

/** What a SQL job commits with each checkpoint about its state: the state's version and how it got there. */
export interface CommittedState {
  readonly version: number;
  readonly delta: StateDelta;
}

export interface DiskStateOptions {
  /**
   * Roughly how many bytes (as JSON) of values stay in memory between batches; beyond it the least recently used
   * values are dropped (they are on disk, or in the changes of the next checkpoint).
   */
  readonly cacheBytes?: number;
  /**
   * `table.exec.state.ttl` in milliseconds (0 or undefined: state never expires). A key not written (created or
   * changed) for this long, in processing time, is deleted at the next checkpoint, as Flink's idle state retention.
   */
  readonly ttlMs?: number;
  /** The clock of the TTL (tests set it). */
  readonly now?: () => number;
}

export const DEFAULT_CACHE_BYTES = 32 * 1024 * 1024;
/** The assumed JSON size of a value never serialised yet. */
const UNKNOWN_SIZE = 256;

/**
 * A SQL job's keyed state on disk: one SQLite file (`sql-state.sqlite` in the job's state directory) holding the
 * state as of the last committed checkpoint, its version number (the count of checkpoints that changed it) and the
 * plan it belongs to; in memory, a bounded cache of values and the changes since the last checkpoint.
 *
 * Exactly once without writing the whole state at each checkpoint:
 * 1. {@link snapshot} returns version v+1 and the delta — every key changed since version v, with its new value —
 *    and the runner commits it in the sink's transaction with the sink's rows and the source position;
 * 2. after that commit, {@link committed} writes the delta into the file with version v+1, in one SQLite
 *    transaction (fsync'd);
 * 3. on restart, {@link restore} compares the file's version f with the sink checkpoint's version c: f = c is
 *    current; f = c − 1 is a crash between 1 and 2 — the checkpoint's delta brings it to c; anything else (the
 *    file was deleted, copied from elsewhere, or the sink was reset) is refused (SQL_STATE_MISMATCH, --reset).
 *
 * A crash before 1 finishes leaves both at v: the changes since are replayed from the source.
 *
 * With a TTL ({@link DiskStateOptions.ttlMs}) the file also holds, per key, when a checkpoint last wrote it
 * (`expiry`, beside the state: not part of the delta); each {@link snapshot} first deletes the keys not written
 * for the TTL, so that their deletion travels in the delta like any other change.
 */
export class DiskStateStore implements StateBackend {
  private readonly db: Database.Database;
  private readonly states = new Map<string, DiskKeyedState<unknown>>();
  private readonly cacheBytes: number;
  /** The version the file holds. */
  private fileVersion: number;
  private readonly readMeta: Database.Statement<[string], { value: string }>;
  private readonly writeMeta: Database.Statement<[string, string]>;
  readonly read: Database.Statement<[string, string], { value: string }>;
  private readonly write: Database.Statement<[string, string, string]>;
  private readonly remove: Database.Statement<[string, string]>;
  private readonly expiry: StateExpiry;

  constructor(
    readonly path: string,
    private readonly plan: string,
    options: DiskStateOptions = {},
  ) {
    this.cacheBytes = options.cacheBytes ?? DEFAULT_CACHE_BYTES;
    try {
      this.db = new Database(path);
      this.db.pragma('journal_mode = WAL');
      // The file must hold each version it claims once `committed` returns: a lost commit is caught up from the
      // sink's checkpoint, two lost commits are not.
      this.db.pragma('synchronous = FULL');
      this.db.pragma('cache_size = -16384');
      this.db.exec(`CREATE TABLE IF NOT EXISTS meta (name TEXT PRIMARY KEY, value TEXT NOT NULL) WITHOUT ROWID;
        CREATE TABLE IF NOT EXISTS state (ns TEXT NOT NULL, key TEXT NOT NULL, value TEXT NOT NULL,
          PRIMARY KEY (ns, key)) WITHOUT ROWID;`);
    } catch (error) {
      throw new TributaryError('STATE_DIR_UNWRITABLE', `cannot open the SQL job state ${path}: ${String(error)}`, {
        hint: 'free disk space or fix the permissions of the state directory (SET state.dir)',
        cause: error,
      });
    }
    this.readMeta = this.db.prepare('SELECT value FROM meta WHERE name = ?');
    this.writeMeta = this.db.prepare('INSERT OR REPLACE INTO meta (name, value) VALUES (?, ?)');
    this.read = this.db.prepare('SELECT value FROM state WHERE ns = ? AND key = ?');
    this.write = this.db.prepare('INSERT OR REPLACE INTO state (ns, key, value) VALUES (?, ?, ?)');
    this.remove = this.db.prepare('DELETE FROM state WHERE ns = ? AND key = ?');
    this.fileVersion = Number(this.readMeta.get('version')?.value ?? 0);
    const filePlan = this.readMeta.get('plan')?.value;
    if (this.fileVersion > 0 && filePlan !== plan) {
      throw mismatch(path, `holds the state of another query (plan ${filePlan}, this one is ${plan})`);
    }
    this.expiry = new StateExpiry(this.db, options.ttlMs ?? 0, options.now ?? Date.now, 'SELECT ns, key FROM state');
  }

  /** Whether values expire (a TTL is set). */
  get expiring(): boolean {
    return this.expiry.enabled;
  }

  /** Opens (creates) the state file of a job in its state directory. */
  static open(stateDir: string, plan: string, options: DiskStateOptions = {}): DiskStateStore {
    mkdirSync(stateDir, { recursive: true });
    return new DiskStateStore(join(stateDir, 'sql-state.sqlite'), plan, options);
  }

  get version(): number {
    return this.fileVersion;
  }

  keyed<V>(name: string, codec: StateCodec<V>): KeyedState<V> {
    if (this.states.has(name)) throw new Error(`state ${name} opened twice`);
    const state = new DiskKeyedState<V>(this, name, codec);
    this.states.set(name, state);
    return state;
  }

  /** The end of a batch: values beyond the cache's budget leave memory, least recently used first. */
  endBatch(): void {
    for (;;) {
      let total = 0;
      let largest: DiskKeyedState<unknown> | undefined;
      for (const state of this.states.values()) {
        total += state.cachedBytes;
        if (!largest || state.cachedBytes > largest.cachedBytes) largest = state;
      }
      if (total <= this.cacheBytes || largest === undefined) return;
      // Serialising a value on its way out corrects its size, so the total is counted again each round.
      if (largest.evict(Math.max(1024, (total - this.cacheBytes) / 4)) === 0) return;
    }
  }

  /** The state to commit with the next checkpoint: the next version and the changes that make it. */
  snapshot(): CommittedState {
    if (this.expiry.enabled) for (const { ns, key } of this.expiry.expired()) this.states.get(ns)?.expire(key);
    const delta: StateDelta = {};
    for (const [name, state] of this.states) {
      const changes = state.changes();
      if (changes.length > 0) delta[name] = changes;
    }
    return { version: this.fileVersion + 1, delta };
  }

  /** The checkpoint of the last {@link snapshot} is committed at the sink: the file takes its changes. */
  committed(): void {
    const version = this.fileVersion + 1;
    this.db.transaction(() => {
      for (const [name, state] of this.states) {
        for (const [key, value] of state.changes()) this.apply(name, key, value);
      }
      this.writeMeta.run('version', String(version));
      this.writeMeta.run('plan', this.plan);
    })();
    for (const state of this.states.values()) state.clearChanges();
    this.fileVersion = version;
  }

  /**
   * Brings the file to the state the sink's checkpoint committed (`saved`: what {@link snapshot} returned then),
   * or, with no checkpoint (`saved` undefined: the job starts over), empties it. Before any change.
   */
  restore(saved: CommittedState | undefined): void {
    if (saved === undefined) {
      if (this.fileVersion === 0) return;
      this.db.exec('DELETE FROM state; DELETE FROM meta;');
      this.expiry.clear();
      this.fileVersion = 0;
      return;
    }
    if (this.fileVersion === saved.version) return;
    if (this.fileVersion !== saved.version - 1) {
      throw mismatch(
        this.path,
        `is at checkpoint version ${this.fileVersion}, the sink's last checkpoint at ${saved.version}`,
      );
    }
    this.db.transaction(() => {
      for (const [name, changes] of Object.entries(saved.delta)) {
        for (const [key, value] of changes) this.apply(name, key, value);
      }
      this.writeMeta.run('version', String(saved.version));
      this.writeMeta.run('plan', this.plan);
    })();
    this.fileVersion = saved.version;
  }

  /** One change into the file (in a transaction), with its TTL stamp. */
  private apply(name: string, key: string, value: string | null): void {
    if (value === null) this.remove.run(name, key);
    else this.write.run(name, key, value);
    this.expiry.written(name, key, value === null, this.expiry.now());
  }

  close(): void {
    if (this.db.open) this.db.close();
  }
}

/** A cached value (undefined: the key is known to have none), its JSON size (last known), and a CLOCK bit. */
interface CacheEntry<V> {
  value: V | undefined;
  size: number;
  used: boolean;
}

/**
 * One state of a {@link DiskStateStore}. A key's value is, newest first: in `cache` (decoded; `dirty` when it
 * changed since it was last serialised), in `pending` (serialised, changed since the last checkpoint; null:
 * deleted), or in the file. The cache forgets by CLOCK (a hit sets a bit; eviction gives entries with the bit a
 * second round) rather than strict LRU, which would reorder the map at every hit.
 */
class DiskKeyedState<V> implements KeyedState<V> {
  private readonly cache = new Map<string, CacheEntry<V>>();
  private readonly dirty = new Set<string>();
  private readonly pending = new Map<string, string | null>();
  cachedBytes = 0;
  readonly expiring: boolean;

  constructor(
    private readonly store: DiskStateStore,
    private readonly name: string,
    private readonly codec: StateCodec<V>,
  ) {
    this.expiring = store.expiring;
  }

  /** The TTL dropped `key`: deleted, unless it changed since the last checkpoint (then it is not idle). */
  expire(key: string): void {
    if (this.dirty.has(key) || this.pending.has(key)) return;
    this.delete(key);
  }

  get(key: string): V | undefined {
    const value = this.peek(key);
    // The caller may change it in place.
    if (value !== undefined) this.dirty.add(key);
    return value;
  }

  peek(key: string): V | undefined {
    const cached = this.cache.get(key);
    if (cached !== undefined) {
      cached.used = true;
      return cached.value;
    }
    let text = this.pending.get(key);
    if (text === undefined) text = this.store.read.get(this.name, key)?.value ?? null;
    let value: V | undefined;
    if (text !== null) {
      try {
        value = this.codec.fromJson(JSON.parse(text));
      } catch {
        throw corrupt();
      }
    }
    // A key without value is cached too: a new join key or group is looked up again at once.
    const size = text === null ? key.length : text.length;
    this.cache.set(key, { value, size, used: false });
    this.cachedBytes += size;
    return value;
  }

  set(key: string, value: V): void {
    const cached = this.cache.get(key);
    if (cached !== undefined) {
      cached.value = value;
      cached.used = true;
    } else {
      this.cache.set(key, { value, size: UNKNOWN_SIZE, used: true });
      this.cachedBytes += UNKNOWN_SIZE;
    }
    this.dirty.add(key);
  }

  delete(key: string): void {
    const cached = this.cache.get(key);
    if (cached !== undefined) {
      this.cachedBytes -= cached.size;
      this.cache.delete(key);
    }
    this.dirty.delete(key);
    this.pending.set(key, null);
  }

  /** Drops about `bytes` of values from memory, oldest first; returns how many values it dropped. */
  evict(bytes: number): number {
    let dropped = 0;
    let count = 0;
    const again: [string, CacheEntry<V>][] = [];
    for (const [key, entry] of this.cache) {
      if (dropped >= bytes) break;
      this.cache.delete(key);
      if (entry.used) {
        entry.used = false;
        again.push([key, entry]);
        continue;
      }
      count++;
      if (this.dirty.has(key)) this.serialise(key, entry);
      this.cachedBytes -= entry.size;
      dropped += entry.size;
    }
    for (const [key, entry] of again) this.cache.set(key, entry);
    // Every entry was used since the last round: the next round finds them unmarked.
    return count === 0 && again.length > 0 ? again.length : count;
  }

  /** Every change since the last checkpoint, serialised. */
  changes(): [string, string | null][] {
    for (const key of this.dirty) this.serialise(key, this.cache.get(key)!);
    return [...this.pending];
  }

  clearChanges(): void {
    this.pending.clear();
  }

  private serialise(key: string, entry: CacheEntry<V>): void {
    // Only a key that has a value is dirty (get and set mark it; delete unmarks it).
    const text = JSON.stringify(this.codec.toJson(entry.value as V));
    this.cachedBytes += text.length - entry.size;
    entry.size = text.length;
    this.pending.set(key, text);
    this.dirty.delete(key);
  }
}

function mismatch(path: string, what: string): TributaryError {
  return new TributaryError('SQL_STATE_MISMATCH', `the SQL job state ${path} ${what}: it cannot continue from there`, {
    hint: 'rerun the script with --reset to compute the result anew from the source tables (or restore the state directory that belongs to the sink)',
  });
}
