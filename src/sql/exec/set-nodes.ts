import type { Row } from '../../core/data-type.js';
import { encodeValues, rowFromJson, rowToJson, type Delta, type JsonValue } from './changelog.js';
import { memoryBackend, type KeyedState, type StateBackend, type StateCodec } from './keyed-state.js';
import { PlanNode, retractedUnknown, type Field } from './nodes.js';

/** `UNION ALL`: every input's changes, passed on as they come (no state). */
export class UnionNode extends PlanNode {
  constructor(inputs: readonly PlanNode[], fields: readonly Field[], uniqueKeys: readonly (readonly number[])[]) {
    super(inputs, fields, uniqueKeys);
  }

  receive(_port: number, delta: Delta): void {
    this.out(delta);
  }

  /** It passes its rows on as they are. */
  override keepsRows(): boolean {
    return this.consumer?.keepsRows() ?? true;
  }

  describe(): string {
    return `UnionAll of ${this.inputs.length} inputs`;
  }
}

/** A distinct row: how many copies of it the input holds, and how many were emitted (0 or 1). */
interface DistinctEntry {
  readonly row: Row;
  count: number;
  emitted: number;
}

/**
 * `SELECT DISTINCT` (and `UNION`): each row once while the input holds at least one copy of it. The copies
 * are counted per row; at the end of each batch (`flush`) a row whose count left zero is emitted and one whose
 * count reached zero retracted — retractions first, as the aggregate does, so that a downstream upsert never
 * sees a new row before the retraction of an old one with the same key — and a row that went and came back
 * within the batch emits nothing.
 */
export class DistinctNode extends PlanNode {
  private rows: KeyedState<DistinctEntry>;
  private readonly dirty = new Set<string>();
  /** `[row, count, emitted]`, `emitted` a boolean. */
  private readonly codec: StateCodec<DistinctEntry> = {
    toJson: (e) => [rowToJson(e.row), e.count, e.emitted > 0],
    fromJson: (json) => {
      const [row, count, emitted] = json as [JsonValue[], number, boolean];
      return { row: rowFromJson(row), count, emitted: Number(emitted) };
    },
  };

  constructor(input: PlanNode, uniqueKeys: readonly (readonly number[])[]) {
    super([input], input.fields, uniqueKeys);
    this.rows = memoryBackend.keyed('rows', this.codec);
  }

  override openState(backend: StateBackend): void {
    this.rows = backend.keyed(`${this.id}.rows`, this.codec);
  }

  receive(_port: number, delta: Delta): void {
    const key = encodeValues(delta.row);
    const entry = entryToCount(this.rows, key, delta, 'distinct', newDistinctEntry);
    if (entry === undefined) return;
    entry.count = counted(entry.count, delta.sign, this.rows, 'distinct');
    this.dirty.add(key);
  }

  override flush(): void {
    flushCopies(
      this.dirty,
      this.rows,
      ({ count }) => Number(count > 0),
      ({ count }) => count > 0,
      this.out,
    );
  }

  describe(): string {
    return 'Distinct (state: a count per distinct row)';
  }
}

const newDistinctEntry = (row: Row): DistinctEntry => ({ row, count: 0, emitted: 0 });

/**
 * The entry of `key` whose copies `delta` counts, made by `fresh` at its row's first copy. Undefined for the
 * retraction of a row whose entry expired (`table.exec.state.ttl`): nothing to count. Throws for the retraction of a
 * row the state never saw (`what` names the state).
 */
function entryToCount<E>(
  rows: KeyedState<E>,
  key: string,
  delta: Delta,
  what: string,
  fresh: (row: Row) => E,
): E | undefined {
  const entry = rows.get(key);
  if (entry !== undefined) return entry;
  if (delta.sign < 0) {
    if (rows.expiring === true) return undefined;
    throw retractedUnknown(what);
  }
  const made = fresh(delta.row);
  rows.set(key, made);
  return made;
}

/**
 * `count` plus `sign`. Below zero the state took back a copy it never saw (throws, `what` naming the state) — or,
 * where entries expire, one counted before its entry expired: then zero.
 */
function counted<E>(count: number, sign: number, rows: KeyedState<E>, what: string): number {
  const next = count + sign;
  if (next >= 0) return next;
  if (rows.expiring !== true) throw retractedUnknown(what);
  return 0;
}

/**
 * Emits the changes of the rows in `dirty` (their keys): for each, as many retractions or additions as the copies the
 * result holds now (`copies`) differ from those emitted — retractions first (see {@link DistinctNode}) — and forgets
 * the rows no input holds any more (not `held`).
 */
function flushCopies<E extends { readonly row: Row; emitted: number }>(
  dirty: Set<string>,
  rows: KeyedState<E>,
  copies: (entry: E) => number,
  held: (entry: E) => boolean,
  out: (delta: Delta) => void,
): void {
  if (dirty.size === 0) return;
  const added: Row[] = [];
  for (const key of dirty) {
    const entry = rows.get(key)!;
    const now = copies(entry);
    for (let i = now; i < entry.emitted; i++) out({ sign: -1, row: entry.row });
    for (let i = entry.emitted; i < now; i++) added.push(entry.row);
    entry.emitted = now;
    if (!held(entry)) rows.delete(key);
  }
  dirty.clear();
  for (const row of added) out({ sign: 1, row });
}

/**
 * A row of INTERSECT / EXCEPT: how many copies of it each side holds, and how many copies were emitted (without ALL
 * 0 or 1).
 */
interface CompareEntry {
  readonly row: Row;
  readonly counts: [number, number];
  emitted: number;
}

const newCompareEntry = (row: Row): CompareEntry => ({ row, counts: [0, 0], emitted: 0 });

/**
 * `INTERSECT` / `EXCEPT` of two inputs (a chain nests them, left to right): each row once while the first input holds
 * it and the second does too (INTERSECT) or does not (EXCEPT). With `ALL`, a row's copies: as many as both inputs
 * hold (the fewer of the two counts, INTERSECT ALL), or as many more as the first holds than the second (EXCEPT ALL),
 * as SQL's set operations count them. Rows are compared whole, NULL equal to NULL. The copies are counted per row
 * and side; changes go out at the end of each batch, retractions first, as {@link DistinctNode}'s.
 */
export class SetCompareNode extends PlanNode {
  private rows: KeyedState<CompareEntry>;
  private readonly dirty = new Set<string>();
  /** `[row, left, right, emitted]`: `emitted` a boolean without ALL (as stored before ALL was built), else a count. */
  private readonly codec: StateCodec<CompareEntry> = {
    toJson: (e) => [rowToJson(e.row), e.counts[0], e.counts[1], this.all ? e.emitted : e.emitted > 0],
    fromJson: (json) => {
      const [row, left, right, emitted] = json as [JsonValue[], number, number, boolean | number];
      return { row: rowFromJson(row), counts: [left, right], emitted: Number(emitted) };
    },
  };

  constructor(
    left: PlanNode,
    right: PlanNode,
    fields: readonly Field[],
    private readonly op: 'intersect' | 'except',
    /** `INTERSECT ALL` / `EXCEPT ALL`: copies kept. */
    private readonly all = false,
  ) {
    // Its rows are rows of the first input (without ALL once each): that input's keys stay keys.
    super([left, right], fields, all ? left.uniqueKeys : [fields.map((_, i) => i), ...left.uniqueKeys]);
    this.rows = memoryBackend.keyed('rows', this.codec);
  }

  override openState(backend: StateBackend): void {
    this.rows = backend.keyed(`${this.id}.rows`, this.codec);
  }

  receive(port: number, delta: Delta): void {
    const key = encodeValues(delta.row);
    const entry = entryToCount(this.rows, key, delta, this.op, newCompareEntry);
    if (entry === undefined) return;
    const side = port === 0 ? 0 : 1;
    entry.counts[side] = counted(entry.counts[side], delta.sign, this.rows, this.op);
    this.dirty.add(key);
  }

  /** The copies of a row the result holds, by its counts on the two sides. */
  private copies(left: number, right: number): number {
    if (this.op === 'intersect') return this.all ? Math.min(left, right) : Number(left > 0 && right > 0);
    return this.all ? Math.max(left - right, 0) : Number(left > 0 && right === 0);
  }

  override flush(): void {
    flushCopies(
      this.dirty,
      this.rows,
      ({ counts: [left, right] }) => this.copies(left, right),
      ({ counts: [left, right] }) => left > 0 || right > 0,
      this.out,
    );
  }

  describe(): string {
    return `${this.op === 'intersect' ? 'Intersect' : 'Except'}${this.all ? ' All' : ''} (state: a count per distinct row and side)`;
  }
}

/**
 * Flink's ChangelogNormalize, after the scan of a source whose retractions may carry the key alone (a PostgreSQL
 * table without REPLICA IDENTITY FULL sends the old row's key, its other columns NULL): keeps each live row by the
 * table's primary key, and retracts the row it keeps — the one the query saw — whatever the retraction carried.
 *
 * It also makes the stream exact while a table's snapshot runs beside the log, where the source cannot
 * (docs/02-snapshots.md): a row read again after the log delivered it replaces the row kept, and a retraction of a
 * key it does not keep — a change of a row whose chunk was not delivered yet — takes back nothing.
 */
export class NormalizeNode extends PlanNode {
  private rows: KeyedState<Row>;
  private readonly codec: StateCodec<Row> = {
    toJson: (row) => rowToJson(row),
    fromJson: (json) => rowFromJson(json as JsonValue[]),
  };

  constructor(
    input: PlanNode,
    private readonly key: readonly number[],
  ) {
    super([input], input.fields, input.uniqueKeys);
    this.rows = memoryBackend.keyed('rows', this.codec);
  }

  override openState(backend: StateBackend): void {
    this.rows = backend.keyed(`${this.id}.rows`, this.codec);
  }

  private keyOf(row: Row): string {
    return encodeValues(this.key.map((i) => row[i] ?? null));
  }

  receive(_port: number, delta: Delta): void {
    const key = this.keyOf(delta.row);
    if (delta.sign > 0) {
      const old = this.rows.peek(key);
      // An insert of a key that is live (a snapshot row met again) replaces it: take the old one back first.
      if (old !== undefined) this.out({ sign: -1, row: old });
      this.rows.set(key, delta.row);
      this.out(delta);
      return;
    }
    const old = this.rows.peek(key);
    // Not kept: never passed on (see above), or expired (table.exec.state.ttl).
    if (old === undefined) return;
    this.rows.delete(key);
    this.out({ sign: -1, row: old });
  }

  describe(): string {
    return 'ChangelogNormalize (state: the last row per primary key)';
  }
}
