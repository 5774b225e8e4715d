import { TributaryError } from '../../core/errors.js';

/**
 * An operator's state by key (a group, a join key). A value that `get` returns may be changed in place until the
 * end of the batch: the store keeps the value as it is then (so `get`, change, and no `set` is enough). Values
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

/** How a state's values become JSON (for the disk and the checkpoint's delta) and back. */
export interface StateCodec<V> {
  toJson(value: V): unknown;
  fromJson(json: unknown): V;
}

/** Where a query's nodes get their keyed state: each state by a name unique in the query (`3.left`). */
export interface StateBackend {
  keyed<V>(name: string, codec: StateCodec<V>): KeyedState<V>;
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

export const memoryBackend: StateBackend = { keyed: () => new MemoryKeyedState() };

export function corrupt(): TributaryError {
  return new TributaryError('STATE_CORRUPT', 'the SQL job state in the checkpoint is not readable', {
    hint: 'rerun the script with --reset to rebuild the result from the source tables',
  });
}
