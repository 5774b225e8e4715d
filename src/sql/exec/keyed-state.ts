import { TributaryError } from '../../core/errors.js';

/**
 * An operator's state by key (a group, a distinct row). A value that `get` returns may be changed in place until
 * the end of the batch: the store keeps the value as it is then (so `get`, change, and no `set` is enough). Values
 * must not be kept across batches: the store may drop them from memory and read them back from disk.
 */
export interface KeyedState<V> {
  get(key: string): V | undefined;
  /** The value of `key` to read only: the caller does not change it (cheaper on disk: nothing to write back). */
  peek(key: string): V | undefined;
  set(key: string, value: V): void;
  delete(key: string): void;
  /**
   * Values may be dropped by `table.exec.state.ttl`: a node then drops a retraction of a key it has no value for
   * (it expired), as Flink does, instead of failing on it.
   */
  readonly expiring?: boolean;
}

/**
 * An operator's state as many entries per key — Flink's MapState: a join side's rows of one join key, each under
 * its row's key (`sub`). Each entry is kept apart, so a change to one row writes that row alone (on disk and in a
 * checkpoint's delta), however many rows share its key.
 *
 * A value changed in place is written with {@link put} (the store serialises it then: no later change counts). The
 * map {@link entries} returns is the store's: read it, do not change it; it may change under {@link put} and
 * {@link remove} of the same key, and must not be kept across batches.
 */
export interface KeyedMapState<V> {
  /** The entries of `key` by sub key (empty: none). */
  entries(key: string): ReadonlyMap<string, V>;
  get(key: string, sub: string): V | undefined;
  /** Whether `(key, sub)` has an entry: {@link get} without its value (on disk, nothing decoded or cached). */
  has(key: string, sub: string): boolean;
  put(key: string, sub: string, value: V): void;
  remove(key: string, sub: string): void;
  /**
   * Removes `(key, sub)`, an entry that must be there (the retraction of a row the state holds). Returns false when
   * the state knows it is not there, and removes nothing. On disk, an entry memory knows nothing of is removed
   * without reading the file, and the next checkpoint's write checks that the file held it (STATE_CORRUPT if not).
   */
  removeHeld(key: string, sub: string): boolean;
  /** As {@link KeyedState.expiring}: entries may be dropped by `table.exec.state.ttl`, each on its own. */
  readonly expiring?: boolean;
}

/** How a state's values become JSON (for the disk and the checkpoint's delta) and back. */
export interface StateCodec<V> {
  toJson(value: V): unknown;
  fromJson(json: unknown): V;
  /** `JSON.stringify(toJson(value))` by a faster way (optional). */
  toText?(value: V): string;
  /**
   * The heap a decoded value takes beyond what its JSON's pieces suggest (see disk-state's `entrySize`): a value
   * whose text leaves parts of its object out. 0 by default.
   */
  readonly extraBytes?: number;
}

/** Where a query's nodes get their state: each state by a name unique in the query (`3.left`). */
export interface StateBackend {
  keyed<V>(name: string, codec: StateCodec<V>): KeyedState<V>;
  keyedMap<V>(name: string, codec: StateCodec<V>): KeyedMapState<V>;
}

/** State in a Map: what a node has until a backend is attached (EXPLAIN, unit tests of nodes). */
export class MemoryKeyedState<V> implements KeyedState<V> {
  private readonly map = new Map<string, V>();

  get size(): number {
    return this.map.size;
  }

  get(key: string): V | undefined {
    return this.map.get(key);
  }

  peek(key: string): V | undefined {
    return this.map.get(key);
  }

  set(key: string, value: V): void {
    this.map.set(key, value);
  }

  delete(key: string): void {
    this.map.delete(key);
  }
}

const NONE: ReadonlyMap<string, never> = new Map<string, never>();

/** Map state in Maps of Maps. */
export class MemoryKeyedMapState<V> implements KeyedMapState<V> {
  private readonly map = new Map<string, Map<string, V>>();

  entries(key: string): ReadonlyMap<string, V> {
    return this.map.get(key) ?? NONE;
  }

  get(key: string, sub: string): V | undefined {
    return this.map.get(key)?.get(sub);
  }

  has(key: string, sub: string): boolean {
    return this.map.get(key)?.has(sub) === true;
  }

  put(key: string, sub: string, value: V): void {
    let entries = this.map.get(key);
    if (entries === undefined) this.map.set(key, (entries = new Map<string, V>()));
    entries.set(sub, value);
  }

  remove(key: string, sub: string): void {
    const entries = this.map.get(key);
    if (entries === undefined) return;
    entries.delete(sub);
    if (entries.size === 0) this.map.delete(key);
  }

  removeHeld(key: string, sub: string): boolean {
    if (!this.has(key, sub)) return false;
    this.remove(key, sub);
    return true;
  }
}

export const memoryBackend: StateBackend = {
  keyed: () => new MemoryKeyedState(),
  keyedMap: () => new MemoryKeyedMapState(),
};

/** The states of `backend` under names prefixed with `prefix` (a statement set's later queries). */
export function prefixedBackend(backend: StateBackend, prefix: string): StateBackend {
  return {
    keyed: (name, codec) => backend.keyed(`${prefix}${name}`, codec),
    keyedMap: (name, codec) => backend.keyedMap(`${prefix}${name}`, codec),
  };
}

/**
 * A node's state was asked to take back a row it never held: the state does not match the source (it started at a
 * later position than its state, or the state belongs to another run), which only computing anew mends.
 */
export function stateMismatchesSource(message: string): TributaryError {
  return new TributaryError('STATE_CORRUPT', message, {
    hint: 'the job state does not match the source: rerun the script with --reset to rebuild the result',
  });
}

export function corrupt(): TributaryError {
  return new TributaryError('STATE_CORRUPT', 'the SQL job state in the checkpoint is not readable', {
    hint: 'rerun the script with --reset to rebuild the result from the source tables',
  });
}

/**
 * `text` as one piece of memory. A string built by `+` is a tree of its pieces (a rope) until something reads it
 * whole; kept as such in a cache or in the changes since the last checkpoint it takes several times its length
 * (a 60-character state entry built from ten pieces: ~330 bytes instead of ~70), and every hash of it as a Map key
 * walks the tree again. Reading one character makes V8 flatten it in place.
 */
export function flat(text: string): string {
  // Kept in a variable so that no compiler drops the read as unused.
  if (text.length > 0) _lastFirstChar = text.charCodeAt(0);
  return text;
}
let _lastFirstChar = 0;
