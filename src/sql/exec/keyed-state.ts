import { TributaryError } from '../../core/errors.js';

/**
 * An operator's state by key (a group, a join key). In memory for now, behind this small interface so that a
 * disk-backed store can replace it. It is saved with every checkpoint in {@link STATE_PARTITIONS} partitions by
 * key hash, each in the order its keys were first stored: the checkpoint store cuts the JSON into
 * content-addressed chunks, so a partition whose keys did not change makes the same chunks again and is not
 * written again.
 */
export interface KeyedState<V> {
  get(key: string): V | undefined;
  set(key: string, value: V): void;
  delete(key: string): void;
  readonly size: number;
  entries(): IterableIterator<[string, V]>;
}

export const STATE_PARTITIONS = 64;

/** A saved {@link KeyedState}: per partition, `[key, value]` pairs. */
export type SavedKeyedState = readonly (readonly (readonly [string, unknown])[])[];

export class MemoryKeyedState<V> implements KeyedState<V> {
  private readonly map = new Map<string, V>();

  get size(): number {
    return this.map.size;
  }

  get(key: string): V | undefined {
    return this.map.get(key);
  }

  set(key: string, value: V): void {
    this.map.set(key, value);
  }

  delete(key: string): void {
    this.map.delete(key);
  }

  entries(): IterableIterator<[string, V]> {
    return this.map.entries();
  }

  /** The state as JSON, `toJson` giving each value's form. */
  save(toJson: (value: V) => unknown): SavedKeyedState {
    const partitions: [string, unknown][][] = Array.from({ length: STATE_PARTITIONS }, () => []);
    for (const [key, value] of this.map) partitions[partitionOf(key)]!.push([key, toJson(value)]);
    return partitions;
  }

  /** Replaces the contents with what {@link save} wrote. */
  restore(saved: unknown, fromJson: (json: unknown) => V): void {
    if (!Array.isArray(saved)) throw corrupt();
    this.map.clear();
    for (const partition of saved) {
      if (!Array.isArray(partition)) throw corrupt();
      for (const entry of partition as unknown[]) {
        if (!Array.isArray(entry) || typeof entry[0] !== 'string') throw corrupt();
        this.map.set(entry[0], fromJson(entry[1]));
      }
    }
  }
}

/** FNV-1a of the key, modulo the partition count. */
export function partitionOf(key: string): number {
  let hash = 0x811c9dc5;
  for (let i = 0; i < key.length; i++) {
    hash ^= key.charCodeAt(i);
    hash = Math.imul(hash, 0x01000193);
  }
  return (hash >>> 0) % STATE_PARTITIONS;
}

export function corrupt(): TributaryError {
  return new TributaryError('STATE_CORRUPT', 'the SQL job state in the checkpoint is not readable', {
    hint: 'rerun the script with --reset to rebuild the result from the source tables',
  });
}
