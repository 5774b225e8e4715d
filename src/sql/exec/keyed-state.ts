import { TributaryError } from '../../core/errors.js';

/**
 * A state's key, or a map state's sub key: the text of its values (`encodeValues`) — or, in a state whose codec says
 * {@link StateCodec.numberKeys}, one integer in JavaScript's safe range as that number, standing for the text it
 * would have, `n<digits>|` ({@link keyText}). A join on an id, rows identified by one, a group of one id: no string
 * built, flattened and hashed at every change (bench/README.md, "Number keys"). The file and the checkpoints hold the
 * text either way.
 */
export type StateKey = string | number;

/** The text a state key stands for (what the file and a checkpoint's delta hold). */
export function keyText(key: StateKey): string {
  return typeof key === 'number' ? `n${key}|` : key;
}

/** The key a text of the file stands for in a state with number keys: the inverse of {@link keyText}. */
export function numberKey(text: string): StateKey {
  // n…|
  if (text.charCodeAt(0) !== 110 || text.charCodeAt(text.length - 1) !== 124) return text;
  const n = Number(text.slice(1, -1));
  return Number.isSafeInteger(n) && keyText(n) === text ? n : text;
}

/**
 * An operator's state by key (a group, a distinct row). A value that `get` returns may be changed in place until
 * the end of the batch: the store keeps the value as it is then (so `get`, change, and no `set` is enough). Values
 * must not be kept across batches: the store may drop them from memory and read them back from disk.
 */
export interface KeyedState<V, K extends StateKey = string> {
  get(key: K): V | undefined;
  /** The value of `key` to read only: the caller does not change it (cheaper on disk: nothing to write back). */
  peek(key: K): V | undefined;
  set(key: K, value: V): void;
  delete(key: K): void;
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
export interface KeyedMapState<V, K extends StateKey = string> {
  /** The entries of `key` by sub key (empty: none). */
  entries(key: K): ReadonlyMap<K, V>;
  get(key: K, sub: K): V | undefined;
  /** Whether `(key, sub)` has an entry: {@link get} without its value (on disk, nothing decoded or cached). */
  has(key: K, sub: K): boolean;
  put(key: K, sub: K, value: V): void;
  remove(key: K, sub: K): void;
  /**
   * Removes `(key, sub)`, an entry that must be there (the retraction of a row the state holds). Returns false when
   * the state knows it is not there, and removes nothing. On disk, an entry memory knows nothing of is removed
   * without reading the file, and the next checkpoint's write checks that the file held it (STATE_CORRUPT if not).
   */
  removeHeld(key: K, sub: K): boolean;
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
  /**
   * The state's keys (and sub keys) come as {@link StateKey}s with numbers: every key that would be `n<safe
   * integer>|` comes as that number, never as the text (the state reads the file's keys back that way), as
   * `valueKey` in changelog.ts gives them. Without it keys are text, whatever it looks like.
   */
  readonly numberKeys?: boolean;
}

/** Where a query's nodes get their state: each state by a name unique in the query (`3.left`). */
export interface StateBackend {
  /** `K`: `StateKey` where `codec.numberKeys` (then the keys may be numbers), else string. */
  keyed<V, K extends StateKey = string>(name: string, codec: StateCodec<V>): KeyedState<V, K>;
  keyedMap<V, K extends StateKey = string>(name: string, codec: StateCodec<V>): KeyedMapState<V, K>;
}

/** State in a Map: what a node has until a backend is attached (EXPLAIN, unit tests of nodes). */
export class MemoryKeyedState<V> implements KeyedState<V, StateKey> {
  private readonly map = new Map<StateKey, V>();

  get size(): number {
    return this.map.size;
  }

  get(key: StateKey): V | undefined {
    return this.map.get(key);
  }

  peek(key: StateKey): V | undefined {
    return this.map.get(key);
  }

  set(key: StateKey, value: V): void {
    this.map.set(key, value);
  }

  delete(key: StateKey): void {
    this.map.delete(key);
  }
}

const NONE: ReadonlyMap<StateKey, never> = new Map<StateKey, never>();

/** Map state in Maps of Maps. */
export class MemoryKeyedMapState<V> implements KeyedMapState<V, StateKey> {
  private readonly map = new Map<StateKey, Map<StateKey, V>>();

  entries(key: StateKey): ReadonlyMap<StateKey, V> {
    return this.map.get(key) ?? NONE;
  }

  get(key: StateKey, sub: StateKey): V | undefined {
    return this.map.get(key)?.get(sub);
  }

  has(key: StateKey, sub: StateKey): boolean {
    return this.map.get(key)?.has(sub) === true;
  }

  put(key: StateKey, sub: StateKey, value: V): void {
    let entries = this.map.get(key);
    if (entries === undefined) this.map.set(key, (entries = new Map<StateKey, V>()));
    entries.set(sub, value);
  }

  remove(key: StateKey, sub: StateKey): void {
    const entries = this.map.get(key);
    if (entries === undefined) return;
    entries.delete(sub);
    if (entries.size === 0) this.map.delete(key);
  }

  removeHeld(key: StateKey, sub: StateKey): boolean {
    if (!this.has(key, sub)) return false;
    this.remove(key, sub);
    return true;
  }
}

export const memoryBackend: StateBackend = {
  // A state of number keys or of text: the Maps take either.
  keyed: <V, K extends StateKey>() => new MemoryKeyedState<V>() as unknown as KeyedState<V, K>,
  keyedMap: <V, K extends StateKey>() => new MemoryKeyedMapState<V>() as unknown as KeyedMapState<V, K>,
};

/** The states of `backend` under names prefixed with `prefix` (a statement set's later queries). */
export function prefixedBackend(backend: StateBackend, prefix: string): StateBackend {
  return {
    keyed: <V, K extends StateKey>(name: string, codec: StateCodec<V>) =>
      backend.keyed<V, K>(`${prefix}${name}`, codec),
    keyedMap: <V, K extends StateKey>(name: string, codec: StateCodec<V>) =>
      backend.keyedMap<V, K>(`${prefix}${name}`, codec),
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
export function flat<K extends StateKey>(text: K): K {
  // Kept in a variable so that no compiler drops the read as unused.
  if (typeof text === 'string' && text.length > 0) _lastFirstChar = text.charCodeAt(0);
  return text;
}
let _lastFirstChar = 0;
