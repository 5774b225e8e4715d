import type { DataType, Row, Value } from '../../core/data-type.js';
import type { TributaryError } from '../../core/errors.js';
import type { Compiled, EvalContext } from '../../transform/expression/eval-context.js';
import { createAccumulator, type Accumulator, type AggregateSpec } from './aggregates.js';
import {
  encodeValue,
  rowFromJson,
  rowToJson,
  rowToJsonText,
  RowJson,
  positionsKey,
  valueKey,
  valuesKey,
  type Delta,
  type Emit,
  type JsonValue,
} from './changelog.js';
import {
  memoryBackend,
  stateMismatchesSource,
  type StateKey,
  type KeyedMapState,
  type KeyedState,
  type StateBackend,
  type StateCodec,
} from './keyed-state.js';

/** A column of a stream between operators. */
export interface Field {
  readonly name: string;
  /** The table alias that qualifies it (`c` of `c.id`), for name resolution. */
  readonly qualifier?: string;
  readonly type: DataType;
  readonly nullable: boolean;
  /** `scan#column` when the field is a source column passed through unchanged (for key derivation). */
  readonly origin?: string;
}

/**
 * A node of a query's operator graph. Changes flow from the scans to the sink: `receive` takes one change from
 * input `port` (0, or 1 for a join's right input) and passes what it causes to `out`. `flush` (called at the
 * end of each batch, inputs first) lets a node that collects changes (the aggregate) emit them.
 */
export abstract class PlanNode {
  out: Emit = () => {};
  /** Index in the graph (EXPLAIN, state). */
  id = 0;
  /** The node `out` passes the changes to (set when it is added to the graph); none: the sink. */
  consumer: PlanNode | undefined;

  constructor(
    readonly inputs: readonly PlanNode[],
    readonly fields: readonly Field[],
    /** Sets of field indexes on which the stream's rows are unique (at any moment). */
    readonly uniqueKeys: readonly (readonly number[])[],
  ) {}

  abstract receive(port: number, delta: Delta): void;
  abstract describe(): string;
  /** Field `i` as EXPLAIN names it. */
  label(i: number): string {
    const field = this.fields[i]!;
    return field.qualifier === undefined ? field.name : `${field.qualifier}.${field.name}`;
  }
  flush(): void {}
  /**
   * Whether the node may hold on to a row it receives after `receive` returns (stores it, or passes it on to a
   * node or sink that may): else its input may pass every row in one array, overwritten for the next. Yes unless
   * a node says otherwise.
   */
  keepsRows(): boolean {
    return true;
  }
  /** Takes the node's keyed state (if it has any) from `backend`; called once, before the first change. */
  openState(_backend: StateBackend): void {}
}

const context = (): EvalContext => ({ row: [], op: 'read', image: 'after', tsMs: 0, nowMs: Date.now() });

/**
 * Where a scan's metadata column (`METADATA FROM 'table_name'`) takes its value: the source table's namespace (a
 * MySQL database, a PostgreSQL schema), its name, or a constant (postgres-cdc's database).
 */
export type ScanMetadata =
  | { readonly from: 'namespace' | 'name'; readonly key: string }
  | { readonly from: 'constant'; readonly key: string; readonly value: string };

/**
 * A source table: rows arrive from the SQL operator with the columns the query reads (`fields`, the planner's
 * projection pushdown: the declared columns some node reads, and the primary key), in that order and their types.
 */
export class ScanNode extends PlanNode {
  constructor(
    readonly table: string,
    readonly alias: string,
    /** Every column the table declares (the operator checks them all against the source's). */
    readonly declared: readonly Field[],
    /** The positions in `declared` of the columns read, ascending: `fields` are these. */
    readonly columns: readonly number[],
    uniqueKeys: readonly (readonly number[])[],
    /**
     * Whether an update's old row may carry the key alone, its other columns NULL (postgres-cdc without REPLICA
     * IDENTITY FULL): then it is never taken for the new row unchanged, whatever the columns read hold.
     */
    readonly keyOnlyBefore = false,
    /** Per declared column, where a metadata column takes its value (undefined: from the source row). */
    readonly metadata: readonly (ScanMetadata | undefined)[] = [],
  ) {
    super(
      [],
      columns.map((i) => declared[i]!),
      uniqueKeys,
    );
  }

  receive(_port: number, delta: Delta): void {
    this.out(delta);
  }

  describe(): string {
    const narrowed = this.columns.length < this.declared.length;
    const metadata = this.columns
      .filter((i) => this.metadata[i] !== undefined)
      .map((i) => `${this.declared[i]!.name} = METADATA ${this.metadata[i]!.key}`);
    return `Scan ${this.table}${this.alias === this.table ? '' : ` AS ${this.alias}`} [${this.fields.map((f) => f.name).join(', ')}]${narrowed ? ` (${this.columns.length} of ${this.declared.length} columns)` : ''}${metadata.length === 0 ? '' : ` (${metadata.join(', ')})`}`;
  }
}

export class FilterNode extends PlanNode {
  private readonly ctx = context();

  constructor(
    input: PlanNode,
    private readonly condition: Compiled,
    private readonly text: string,
  ) {
    super([input], input.fields, input.uniqueKeys);
  }

  receive(_port: number, delta: Delta): void {
    this.ctx.row = delta.row;
    if (this.condition.evaluate(this.ctx) === true) this.out(delta);
  }

  /** It passes its rows on as they are. */
  override keepsRows(): boolean {
    return this.consumer?.keepsRows() ?? true;
  }

  describe(): string {
    return `Filter ${this.text}`;
  }
}

export class ProjectNode extends PlanNode {
  private readonly ctx = context();

  constructor(
    input: PlanNode,
    fields: readonly Field[],
    uniqueKeys: readonly (readonly number[])[],
    private readonly exprs: readonly Compiled[],
    private readonly texts: readonly string[],
    /**
     * Per column, the input column it passes on unchanged (or converted by a cast, the same value for the same
     * input), undefined for one it computes.
     */
    readonly passes: readonly (number | undefined)[] = [],
  ) {
    super([input], fields, uniqueKeys);
  }

  receive(_port: number, delta: Delta): void {
    const row = this.apply(delta.row);
    this.out(delta.update === true ? { sign: delta.sign, row, update: true } : { sign: delta.sign, row });
  }

  /** The row it makes of an input row. */
  apply(input: Row): Row {
    this.ctx.row = input;
    return this.exprs.map((e) => e.evaluate(this.ctx));
  }

  /** It passes on new rows of the values it computes. */
  override keepsRows(): boolean {
    return false;
  }

  describe(): string {
    return `Project ${this.texts.map((t, i) => `${t} AS ${this.fields[i]!.name}`).join(', ')}`;
  }
}

/** One stored row of a join side: how many copies, and (outer sides) how many rows of the other side match it. */
export interface JoinEntry {
  readonly row: Row;
  count: number;
  matches: number;
}

/**
 * An aggregate folded into an inner join as one of its sides (the planner's `aggregatingSide`): a GROUP BY whose
 * group key is that side's join key — a table eager aggregation aggregates below its joins, or a subquery's GROUP BY
 * joined by its key. The join keeps the groups' accumulators by join key as that side's state instead of the
 * aggregate keeping them and the join keeping its rows again: one state, no changes passed between the two.
 */
export interface AggregatingSide {
  readonly side: 0 | 1;
  /** The aggregate's input: the rows that side takes. */
  readonly input: PlanNode;
  readonly keys: readonly Compiled[];
  readonly args: readonly (Compiled | undefined)[];
  readonly specs: readonly AggregateSpec[];
  /** The aggregate's row (its group key's values, then its results) as that side's row (the projections above it). */
  readonly project: (row: Row) => Row;
  /** What EXPLAIN says of it. */
  readonly text: string;
}

const NO_ENTRIES: readonly JoinEntry[] = [];

/**
 * A regular equi-join of two change streams with retractions (inner, left, right, full): each side's rows are
 * kept by join key, each row an entry of its own (join key, row key); a change on one side is joined with the
 * other side's rows of its key, and writes its own row's entry alone. Outer sides emit the row padded with NULLs
 * while it has no match, and retract that padded row when the first match comes. Rows whose key has a NULL never
 * match (SQL's `=`).
 */
export class JoinNode extends PlanNode {
  private sides!: [KeyedMapState<JoinEntry, StateKey>, KeyedMapState<JoinEntry, StateKey>];
  private readonly ctx = context();
  private readonly widths: [number, number];
  /**
   * The one array every row passed on is written into, when the node that reads them keeps none (an aggregate):
   * no array per row of a fan-out. Undefined: a new array per row. Decided at the first row (the graph is whole).
   */
  private scratch: Value[] | undefined;
  private scratchDecided = false;
  /** The groups of the side that aggregates its input (see {@link AggregatingSide}), by join key. */
  private groups: GroupTable | undefined;
  /** The context its input rows are read in (the join's own is for its rows and the keys). */
  private readonly inputCtx = context();
  /** Its row with NULL results: the side's row of a group as far as its join key goes. */
  private readonly keysOnly: Value[] = [];

  constructor(
    left: PlanNode,
    right: PlanNode,
    fields: readonly Field[],
    uniqueKeys: readonly (readonly number[])[],
    readonly type: 'inner' | 'left' | 'right' | 'full',
    private readonly keys: readonly [readonly Compiled[], readonly Compiled[]],
    private readonly residual: Compiled | undefined,
    private readonly text: string,
    /**
     * The positions of the joined row (left's columns, then right's) that the join passes on, ascending — the
     * columns read above it (projection pushdown); undefined: all. `fields` are these.
     */
    private readonly output?: readonly number[],
    /** A side whose aggregate the join computes itself: `left` or `right` is then that aggregate's row as a side. */
    private readonly aggregating?: AggregatingSide,
  ) {
    super(
      aggregating === undefined
        ? [left, right]
        : aggregating.side === 0
          ? [aggregating.input, right]
          : [left, aggregating.input],
      fields,
      uniqueKeys,
    );
    this.widths = [left.fields.length, right.fields.length];
    this.rowKeys = [left.uniqueKeys[0], right.uniqueKeys[0]];
    if (aggregating !== undefined) {
      this.keysOnly = new Array<Value>(aggregating.keys.length + aggregating.specs.length).fill(null);
    }
    this.openState(memoryBackend);
  }

  /**
   * Per side, the fields a stored row is identified by: a unique key of that input when it has one (a
   * retraction repeats the row it retracts, and at most one row per key is live), else the whole row.
   */
  private readonly rowKeys: [readonly number[] | undefined, readonly number[] | undefined];
  /** Per side, whether its input passes an update as the new row alone (see {@link takesUpdates}). */
  private readonly updates: [boolean, boolean] = [false, false];

  /**
   * Lets input `side` pass a row's update as the new row alone (`update: true`, no retraction before it): the planner
   * says so for an inner join's side whose join key is a function of its row key, fed by an aggregate by that key (a
   * table aggregated below the join, src/sql/eager-aggregation.ts). The stored row is the old one.
   */
  takesUpdates(side: number): void {
    this.updates[side] = true;
  }

  private rowKey(side: number, row: Row): StateKey {
    const key = this.rowKeys[side];
    // One value as a number where it can be (the sides' states have number keys): all of them, or none.
    return key === undefined ? valuesKey(row) : positionsKey(row, key);
  }

  private outer(side: number): boolean {
    return this.type === 'full' || (side === 0 ? this.type === 'left' : this.type === 'right');
  }

  private key(side: number, row: Row): StateKey | undefined {
    this.ctx.row = row;
    const keys = this.keys[side]!;
    if (keys.length === 1) {
      const v = keys[0]!.evaluate(this.ctx);
      return v === null ? undefined : valueKey(v);
    }
    // encodeValues of the key's values, without the array.
    let key = '';
    for (const k of keys) {
      const v = k.evaluate(this.ctx);
      if (v === null) return undefined;
      key += encodeValue(v) + '|';
    }
    return key;
  }

  private combine(side: number, own: Row, other: Row): Row {
    return side === 0 ? this.joined(own, other) : this.joined(other, own);
  }

  private pad(side: number, row: Row): Row {
    return side === 0 ? this.joined(row, null) : this.joined(null, row);
  }

  /** The row passed on for a left and a right row (null: that side padded with NULLs): its output columns only. */
  private joined(left: Row | null, right: Row | null): Row {
    if (!this.scratchDecided) {
      this.scratchDecided = true;
      if (this.consumer?.keepsRows() === false) this.scratch = new Array<Value>(this.fields.length).fill(null);
    }
    const output = this.output;
    if (this.scratch === undefined && output === undefined) {
      if (left !== null && right !== null) return concat(left, right);
      const nulls = new Array<Value>(this.widths[left === null ? 0 : 1]).fill(null);
      return left === null ? [...nulls, ...right!] : [...left, ...nulls];
    }
    const row = this.scratch ?? new Array<Value>(output!.length);
    const lw = this.widths[0];
    for (let i = 0; i < row.length; i++) {
      const p = output === undefined ? i : output[i]!;
      row[i] = p < lw ? (left === null ? null : left[p]!) : right === null ? null : right[p - lw]!;
    }
    return row;
  }

  /** Whether a change of `side` and a row of the other side meet the ON clause's terms other than the keys. */
  private matches(side: number, own: Row, other: Row): boolean {
    if (this.residual === undefined) return true;
    // The residual reads the whole joined row, whatever the join passes on.
    this.ctx.row = side === 0 ? concat(own, other) : concat(other, own);
    return this.residual.evaluate(this.ctx) === true;
  }

  private emit(sign: 1 | -1, row: Row, times: number): void {
    for (let i = 0; i < times; i++) this.out({ sign, row });
  }

  /**
   * Joins a change of `side` with the other side's `entries` of `key` when that side is outer: each match is
   * counted on the other side's entry (written back), and its NULL-padded row retracted at its first match and
   * emitted again after its last. Returns the matches of the change's row.
   */
  private joinCounting(
    side: number,
    key: StateKey,
    sign: 1 | -1,
    row: Row,
    entries: ReadonlyMap<StateKey, JoinEntry>,
  ): number {
    const otherSide = 1 - side;
    const other = this.sides[otherSide]!;
    let matches = 0;
    for (const [sub, entry] of entries) {
      if (!this.matches(side, row, entry.row)) continue;
      matches += entry.count;
      // Each row built just before it is passed on: the rows may share one array (see `scratch`).
      if (sign > 0) {
        if (entry.matches === 0) this.emit(-1, this.pad(otherSide, entry.row), entry.count);
        entry.matches++;
        other.put(key, sub, entry);
        this.emit(1, this.combine(side, row, entry.row), entry.count);
      } else {
        this.emit(-1, this.combine(side, row, entry.row), entry.count);
        entry.matches--;
        other.put(key, sub, entry);
        if (entry.matches === 0) this.emit(1, this.pad(otherSide, entry.row), entry.count);
      }
    }
    return matches;
  }

  receive(side: number, delta: Delta): void {
    if (side === this.aggregating?.side) return this.aggregate(delta);
    if (delta.update === true && this.updates[side] && this.replace(side, delta.row)) return;
    const { sign, row } = delta;
    const key = this.key(side, row);
    if (key === undefined) {
      if (this.outer(side)) this.out({ sign, row: this.pad(side, row) });
      return;
    }
    const otherSide = 1 - side;
    // Only an outer side's rows count their matches (to pad a row that has none): an inner side is read only.
    const countsMatches = this.outer(otherSide);
    const other = this.sides[otherSide]!;
    let matches = 0;
    if (!countsMatches) {
      // The other side's entries are only read: no sub keys, no [sub, entry] pair per row.
      for (const entry of this.entriesOf(otherSide, key)) {
        if (!this.matches(side, row, entry.row)) continue;
        matches += entry.count;
        this.emit(sign, this.combine(side, row, entry.row), entry.count);
      }
    } else {
      matches = this.joinCounting(side, key, sign, row, other.entries(key));
    }
    if (this.outer(side) && matches === 0) this.out({ sign, row: this.pad(side, row) });
    const own = this.sides[side]!;
    const rowKey = this.rowKey(side, row);
    const unique = this.rowKeys[side] !== undefined;
    if (unique && sign < 0) {
      // Its entry has count 1 (see below), and its match count is of no use once it goes: it is removed, the state
      // checking that it was there (on disk, an entry only the file holds is checked by the checkpoint's write).
      if (!own.removeHeld(key, rowKey) && own.expiring !== true) throw retractedUnknown('join'); // else: the row expired (table.exec.state.ttl)
      return;
    }
    // A side unique on its row key holds at most one live row per key: a row added is new (count 1), and the state
    // is not read for it (on disk, a read that would find nothing).
    const entry = sign > 0 && unique ? undefined : own.get(key, rowKey);
    if (sign > 0) {
      if (entry === undefined) {
        own.put(key, rowKey, { row, count: 1, matches });
      } else {
        entry.count++;
        own.put(key, rowKey, entry);
      }
    } else {
      if (entry === undefined) {
        if (own.expiring === true) return; // the row expired (table.exec.state.ttl)
        throw retractedUnknown('join');
      }
      if (--entry.count === 0) own.remove(key, rowKey);
      else own.put(key, rowKey, entry);
    }
  }

  /**
   * An update of a stored row of `side` (see {@link takesUpdates}): each match's joined row retracted with the old
   * row and passed on with the new one, and the new row stored in the old one's place. False when no row of its key
   * is stored (it is then added as any row is).
   */
  private replace(side: number, row: Row): boolean {
    const key = this.key(side, row);
    if (key === undefined) return false;
    const own = this.sides[side]!;
    const rowKey = this.rowKey(side, row);
    const old = own.get(key, rowKey);
    if (old === undefined) return false;
    for (const entry of this.entriesOf(1 - side, key)) {
      // Each row built just before it is passed on: the rows may share one array (see `scratch`).
      if (this.matches(side, old.row, entry.row)) this.emit(-1, this.combine(side, old.row, entry.row), entry.count);
      if (this.matches(side, row, entry.row)) this.emit(1, this.combine(side, row, entry.row), entry.count);
    }
    own.put(key, rowKey, { row, count: 1, matches: old.matches });
    return true;
  }

  /**
   * The rows of `side` stored under join key `key`. A side that aggregates its input has one at most: its group's row
   * as last passed on — a group changed in this batch passes its new row on at the batch's end ({@link flush}), so
   * until then the rows joined with it are joined with the old one.
   */
  private entriesOf(side: number, key: StateKey): Iterable<JoinEntry> {
    if (side !== this.aggregating?.side) return this.sides[side]!.entries(key).values();
    const row = this.groups!.state.peek(key)?.emitted;
    return row === null || row === undefined ? NO_ENTRIES : [{ row, count: 1, matches: 0 }];
  }

  /**
   * A row of the side that aggregates its input, added to its group's accumulators (the group is found by its join
   * key, which its group key determines). Nothing passes on until the batch's end ({@link flush}). A row whose join
   * key is NULL never joins (inner join): it is not counted.
   */
  private aggregate(delta: Delta): void {
    // Its input is the aggregate's, which no planner rule lets pass an update as the new row alone.
    if (delta.update === true) throw new Error('an aggregating join side was passed an update without its retraction');
    const aggregating = this.aggregating!;
    const side = aggregating.side;
    const ctx = this.inputCtx;
    ctx.row = delta.row;
    const keysOnly = this.keysOnly;
    for (let i = 0; i < aggregating.keys.length; i++) keysOnly[i] = aggregating.keys[i]!.evaluate(ctx);
    const key = this.key(side, aggregating.project(keysOnly));
    if (key === undefined) return;
    const group = this.groups!.find(key, keysOnly, delta.sign, aggregating.keys.length);
    if (group === undefined) return;
    // Counted here rather than by the group table: the accumulators' and arguments' calls stay of one kind per node.
    group.rows += delta.sign;
    const expiring = this.groups!.state.expiring;
    for (let i = 0; i < aggregating.args.length; i++) {
      const arg = aggregating.args[i];
      group.accumulators[i]!.add(arg === undefined ? 0 : arg.evaluate(ctx), delta.sign, expiring);
    }
  }

  /**
   * The side that aggregates its input passes on the groups changed in this batch: for each row of the other side
   * under a group's key, the group's old row joined with it retracted and its new row joined with it passed on; a group
   * left without rows is forgotten. A group's changes go on together (an AggregateNode passes all its retractions
   * first, for a sink's upsert by key): the rows a key of this join's rows tells apart are each one row of the other
   * side with one group, so no other group's row shares a key with them. An aggregate above finds the new row's group
   * as the one of the old row just before, and the other side's rows are looked up once.
   */
  override flush(): void {
    const aggregating = this.aggregating;
    if (aggregating === undefined) return;
    this.groups!.drain((group, key) => {
      const row = group.rows > 0 ? aggregating.project(groupRow(group)) : null;
      if (row === null ? group.emitted !== null : group.emitted === null || !sameValues(row, group.emitted)) {
        this.replaceAll(aggregating.side, key, group.emitted, row);
        group.emitted = row;
      }
    });
  }

  /** For each row of the other side under `key`: `old` of `side` joined with it retracted, `row` joined with it passed on. */
  private replaceAll(side: number, key: StateKey, old: Row | null, row: Row | null): void {
    for (const entry of this.entriesOf(1 - side, key)) {
      // Each row built just before it is passed on: the rows may share one array (see `scratch`).
      if (old !== null && this.matches(side, old, entry.row)) {
        this.emit(-1, this.combine(side, old, entry.row), entry.count);
      }
      if (row !== null && this.matches(side, row, entry.row)) {
        this.emit(1, this.combine(side, row, entry.row), entry.count);
      }
    }
  }

  describe(): string {
    const passes = this.output === undefined ? '' : ` → [${this.fields.map((_, i) => this.label(i)).join(', ')}]`;
    const aggregating = this.aggregating;
    const state =
      aggregating === undefined
        ? 'rows by join key, per side'
        : `${aggregating.side === 0 ? 'right' : 'left'} rows by join key; ${aggregating.side === 0 ? 'left' : 'right'}: ${aggregating.text} aggregated here, accumulators by join key`;
    return `${this.type === 'inner' ? 'Join' : `${this.type[0]!.toUpperCase()}${this.type.slice(1)}OuterJoin`} ON ${this.text}${passes} (state: ${state})`;
  }

  override openState(backend: StateBackend): void {
    const codec = (side: number) =>
      joinEntryCodec(
        this.inputs[side]!.fields.map((f) => f.type),
        this.rowKeys[side] !== undefined && !this.outer(side),
      );
    const aggregating = this.aggregating?.side;
    // The side that aggregates its input keeps groups (under its name) instead: no rows of its own.
    const sideState = (side: number, name: string) =>
      (aggregating === side ? memoryBackend : backend).keyedMap<JoinEntry, StateKey>(`${this.id}.${name}`, codec(side));
    this.sides = [sideState(0, 'left'), sideState(1, 'right')];
    if (this.aggregating !== undefined) {
      const { project, specs } = this.aggregating;
      const state = backend.keyed<Group, StateKey>(
        `${this.id}.${aggregating === 0 ? 'left' : 'right'}`,
        groupCodec(specs, (group) => project(groupRow(group))),
      );
      this.groups = new GroupTable(state, specs, 'join');
    }
  }
}

/**
 * How a join side's entries are stored: `[row, count, matches]`; or, on a side unique on its row key that is not
 * outer (`rowOnly`), the row alone — its count is always 1 there and its match count never read: the value of each
 * of seed 004's orders a third shorter (`[274019,4000]` instead of `[[274019,4000],1,1]`). Both forms read back (a
 * state written before the row-only form has the first): a row's first value is never an array. Its keys are number
 * keys (`StateCodec.numberKeys`): a join key or row key of one integer is that number.
 */
export function joinEntryCodec(types: readonly DataType[], rowOnly: boolean): StateCodec<JoinEntry> {
  const rows = new RowJson(types);
  return {
    // The entry object and its two counts, which the row-only text leaves out, as their pieces counted in the other
    // form (3 × PIECE_BYTES, and `,1,0]`'s characters): the cache's budget holds as many entries as before.
    extraBytes: rowOnly ? 100 : 0,
    numberKeys: true,
    toJson: (e) => (rowOnly ? rows.toJson(e.row) : [rows.toJson(e.row), e.count, e.matches]),
    toText: (e) => (rowOnly ? rows.toText(e.row) : `[${rows.toText(e.row)},${e.count},${e.matches}]`),
    fromJson: (json) => {
      const values = json as JsonValue[];
      if (!Array.isArray(values[0])) return { row: rows.fromJson(values), count: 1, matches: 0 };
      const [row, count, matches] = json as [JsonValue[], number, number];
      return { row: rows.fromJson(row), count, matches };
    },
  };
}

interface Group {
  /** Its GROUP BY values (those of its last row added, where the state keys it by its unique key alone). */
  key: Row;
  /** Rows in the group now. */
  rows: number;
  readonly accumulators: Accumulator[];
  /** The row last emitted for the group (null: none). */
  emitted: Row | null;
  /** Whether the group is among the aggregate's changed groups of this batch (never stored: see the codec). */
  changed?: boolean;
}

/**
 * An aggregate's groups in a keyed state (an {@link AggregateNode}'s, or those of a join side that aggregates its
 * input; each counts rows into a group itself, so that its calls of the accumulators stay of few kinds), and the
 * groups changed in this batch with their keys, each once (marked `changed`): a list and a mark, not a
 * Map emptied at every batch — its set was a fifth of `receive`'s cost. Their values stay in the state's memory until
 * the batch ends, so a key's group is one object all batch long.
 */
class GroupTable {
  private dirty: Group[] = [];
  private dirtyKeys: StateKey[] = [];

  constructor(
    public state: KeyedState<Group, StateKey>,
    private readonly specs: readonly AggregateSpec[],
    /** The node, as the error of a retraction it never saw names it. */
    private readonly what: string,
  ) {}

  /** Takes the groups from `state` (the node's state opened). */
  open(state: KeyedState<Group, StateKey>): void {
    this.state = state;
    this.dirty = [];
    this.dirtyKeys = [];
  }

  /**
   * The group of `key` for a change of `sign`, marked changed: for a row added, a new one of key values `values` (the
   * first `width`, copied) if it has none. Undefined for a retraction of a group `table.exec.state.ttl` dropped; one
   * of a group never seen throws.
   */
  find(key: StateKey, values: readonly Value[], sign: 1 | -1, width = values.length): Group | undefined {
    let group = this.state.get(key);
    if (group === undefined) {
      if (sign < 0) {
        if (this.state.expiring === true) return undefined;
        throw retractedUnknown(this.what);
      }
      group = {
        key: values.slice(0, width),
        rows: 0,
        accumulators: this.specs.map((s) => createAccumulator(s)),
        emitted: null,
        changed: false,
      };
      this.state.set(key, group);
    }
    if (group.changed !== true) {
      group.changed = true;
      this.dirty.push(group);
      this.dirtyKeys.push(key);
    }
    return group;
  }

  /**
   * Passes each group changed since the last call to `visit`, with its key, then forgets it if it has no rows left. A
   * group with more rows taken back than counted stops the job (a pre-aggregated table's rows are not kept one by one
   * to check each).
   */
  drain(visit: (group: Group, key: StateKey) => void): void {
    if (this.dirty.length === 0) return;
    const { dirty, dirtyKeys } = this;
    this.dirty = [];
    this.dirtyKeys = [];
    for (let i = 0; i < dirty.length; i++) {
      const group = dirty[i]!;
      group.changed = false;
      if (group.rows < 0 && this.state.expiring !== true) throw retractedUnknown(this.what);
      visit(group, dirtyKeys[i]!);
      if (group.rows <= 0) this.state.delete(dirtyKeys[i]!);
    }
  }
}

/**
 * GROUP BY with retraction-safe aggregates. Changes are applied to the groups' accumulators as they come; at
 * the end of each batch (`flush`) every group that changed emits its new row — first all retractions of the
 * rows emitted before, then all new rows, so that a downstream upsert by key never sees a new row before the
 * retraction of an old one with the same key. A group that lost its last row is retracted and forgotten.
 */
export class AggregateNode extends PlanNode {
  private readonly groups: GroupTable;
  private readonly ctx = context();
  /**
   * The group of the last change in this batch and its key's values: the rows a join emits for one change (all
   * orders of a site) mostly fall into one group, found again without its key text or a state lookup. Forgotten
   * at the end of the batch (the state may then drop the value, or the group may be deleted).
   */
  private last: Group | undefined;
  /**
   * Whether a group's new row comes after a retraction of the row it replaces (Flink's -U before +U). The planner
   * turns it off where the result goes to a sink keyed by group-key columns alone (see `upsertUpdates` in the
   * planner): the new row replaces the old one there by its key, so the retraction would only cost the sink's buffer
   * a delete it takes back at once. A group that loses its last row is retracted either way.
   */
  retractsUpdates = true;
  private lastValues: Value[];
  /** The current change's key values (swapped with {@link lastValues}: no array per change). */
  private keyValues: Value[];
  /**
   * The positions of the group key that key a group in the state: its unique key (the planner's: a table's primary
   * key among the GROUP BY columns makes that table's other columns functions of it, so `GROUP BY c.id, c.name` is
   * keyed by `c.id`, a number, instead of the text of both) — or undefined: all of them. A group keeps the values of
   * the other columns its rows came with last ({@link receive}).
   */
  private stateKey: readonly number[] | undefined;
  /** The group key's unique key when shorter than the group key (undefined: it is the whole group key). */
  private readonly uniqueKey: readonly number[] | undefined;

  constructor(
    input: PlanNode,
    fields: readonly Field[],
    uniqueKeys: readonly (readonly number[])[],
    private readonly keys: readonly Compiled[],
    private readonly args: readonly (Compiled | undefined)[],
    private readonly specs: readonly AggregateSpec[],
    private readonly keyTexts: readonly string[],
  ) {
    super([input], fields, uniqueKeys);
    this.codec = groupCodec(specs, groupRow);
    this.groups = new GroupTable(memoryBackend.keyed<Group, StateKey>('groups', this.codec), specs, 'aggregate');
    this.lastValues = new Array<Value>(keys.length).fill(null);
    this.keyValues = new Array<Value>(keys.length).fill(null);
    const unique = uniqueKeys[0];
    this.uniqueKey = unique !== undefined && unique.length < keys.length ? unique : undefined;
    this.stateKey = this.uniqueKey;
  }

  /**
   * Keys each group by all its GROUP BY values (`all`), as before the state was keyed by the group's unique key — a
   * job whose saved state was written that way goes on with it (its plan says so: `QueryPlan.explainKeyedByAll`) — or
   * by its unique key again.
   */
  keyByAllValues(all: boolean): void {
    this.stateKey = all ? undefined : this.uniqueKey;
  }

  /** Whether the group key has a shorter unique key to key the state by (see {@link stateKey}). */
  get hasShorterKey(): boolean {
    return this.uniqueKey !== undefined;
  }

  /** The state key of a group of key `values`. */
  private keyOf(values: readonly Value[]): StateKey {
    return this.stateKey === undefined ? valuesKey(values) : positionsKey(values, this.stateKey);
  }

  private readonly codec: StateCodec<Group>;

  override openState(backend: StateBackend): void {
    this.last = undefined;
    this.groups.open(backend.keyed<Group, StateKey>(`${this.id}.groups`, this.codec));
  }

  receive(_port: number, delta: Delta): void {
    const ctx = this.ctx;
    ctx.row = delta.row;
    const values = this.keyValues;
    let same = this.last !== undefined;
    for (let i = 0; i < this.keys.length; i++) {
      const value = this.keys[i]!.evaluate(ctx);
      // Equal by === is equal as encoded (the converse need not hold: then the group is looked up below).
      if (same && value !== this.lastValues[i]) same = false;
      values[i] = value;
    }
    let group: Group | undefined;
    if (same) {
      group = this.last!;
    } else {
      group = this.groups.find(this.keyOf(values), values, delta.sign);
      if (group === undefined) return;
      // Keyed by its unique key, a group takes the other GROUP BY values of the rows that come to it: those of its
      // key's row in the source (a customer's new segment), once the join has passed on the rows joined with it.
      if (this.stateKey !== undefined && delta.sign > 0 && !sameValues(values, group.key)) {
        group.key = [...values];
      }
      this.last = group;
      this.keyValues = this.lastValues;
      this.lastValues = values;
    }
    group.rows += delta.sign;
    const expiring = this.groups.state.expiring;
    for (let i = 0; i < this.args.length; i++) {
      const arg = this.args[i];
      group.accumulators[i]!.add(arg === undefined ? 0 : arg.evaluate(ctx), delta.sign, expiring);
    }
  }

  override flush(): void {
    this.last = undefined;
    const added: Delta[] = [];
    this.groups.drain((group) => {
      const row = group.rows > 0 ? groupRow(group) : null;
      if (row !== null && group.emitted !== null && sameValues(row, group.emitted)) return;
      // A group's new row replaces its old one without a retraction where the planner says so (retractsUpdates) —
      // unless its GROUP BY values changed (keyed by its unique key, see `stateKey`): a sink keyed by those would
      // keep the old row.
      const replaces =
        row !== null &&
        group.emitted !== null &&
        !this.retractsUpdates &&
        (this.stateKey === undefined || samePrefix(group.key, group.emitted));
      if (group.emitted !== null && !replaces) this.out({ sign: -1, row: group.emitted });
      if (row !== null) added.push(replaces ? { sign: 1, row, update: true } : { sign: 1, row });
      group.emitted = row;
    });
    for (const delta of added) this.out(delta);
  }

  /** It reads a row's key and arguments, and keeps values (copied), never the row. */
  override keepsRows(): boolean {
    return false;
  }

  /** What it computes, for a join that computes it itself (the planner's `aggregatingSide`). */
  get grouping(): {
    readonly keys: readonly Compiled[];
    readonly args: readonly (Compiled | undefined)[];
    readonly specs: readonly AggregateSpec[];
    readonly text: string;
  } {
    const text = `${this.specs.map((s) => s.text).join(', ')} BY ${this.keyTexts.join(', ')}`;
    return { keys: this.keys, args: this.args, specs: this.specs, text };
  }

  /** How many of its row's first columns are the group's key (the aggregates' results follow). */
  get groupKeyWidth(): number {
    return this.keys.length;
  }

  override label(i: number): string {
    return i < this.keyTexts.length ? this.keyTexts[i]! : this.specs[i - this.keyTexts.length]!.text;
  }

  describe(): string {
    const aggs = this.specs.map((s) => s.text).join(', ');
    const keyedBy = this.stateKey === undefined ? '' : ` by ${this.stateKey.map((i) => this.keyTexts[i]).join(', ')}`;
    return `GroupAggregate ${this.keyTexts.length === 0 ? '(no GROUP BY)' : `BY ${this.keyTexts.join(', ')}`}: ${aggs} (state: accumulators per group${keyedBy})`;
  }
}

function concat(a: Row, b: Row): Row {
  const row = new Array<Value>(a.length + b.length);
  for (let i = 0; i < a.length; i++) row[i] = a[i]!;
  for (let i = 0; i < b.length; i++) row[a.length + i] = b[i]!;
  return row;
}

/** A group's row: its key's values, then its aggregates' results (one array, built in place). */
function groupRow(group: Group): Row {
  const { key, accumulators } = group;
  const row = new Array<Value>(key.length + accumulators.length);
  for (let i = 0; i < key.length; i++) row[i] = key[i]!;
  for (let i = 0; i < accumulators.length; i++) row[key.length + i] = accumulators[i]!.result();
  return row;
}

/**
 * A group as `[key, rows, accumulators]`. Its emitted row is not stored: a group is serialised between batches (at a
 * checkpoint, or leaving the cache at a batch's end), after its node's flush set it to the group's row (`rowOf`) — or
 * to null, and then the group has no rows and is deleted — so it is read back as that. That is two fifths of a group's
 * text, and every changed group is serialised at each checkpoint. A group stored with its emitted row (the form
 * before) still reads. A group of one integer key (GROUP BY an id) is keyed by that number.
 */
function groupCodec(specs: readonly AggregateSpec[], rowOf: (group: Group) => Row): StateCodec<Group> {
  return {
    numberKeys: true,
    toJson: (g) => [rowToJson(g.key), g.rows, g.accumulators.map((a) => a.toJson())],
    // As JSON.stringify(toJson(g)), without the objects in between.
    toText: (g) => {
      let text = `[${rowToJsonText(g.key)},${g.rows},[`;
      for (let i = 0; i < g.accumulators.length; i++) {
        if (i > 0) text += ',';
        text += JSON.stringify(g.accumulators[i]!.toJson());
      }
      return `${text}]]`;
    },
    fromJson: (json) => {
      const [key, rows, accs, emitted] = json as [JsonValue[], number, unknown[], (JsonValue[] | null)?];
      const group: Group = {
        key: rowFromJson(key),
        rows,
        accumulators: specs.map((s, i) => createAccumulator(s, accs[i])),
        emitted: null,
        changed: false,
      };
      if (emitted !== undefined) group.emitted = emitted === null ? null : rowFromJson(emitted);
      else if (rows > 0) group.emitted = rowOf(group);
      return group;
    },
  };
}

/** Whether two rows of one type hold the same values (as their `encodeValues` are equal). */
function sameValues(a: Row, b: Row): boolean {
  return a.length === b.length && samePrefix(a, b);
}

/** Whether `a` and the first `a.length` values of `b` are equal as encoded. */
function samePrefix(a: Row, b: Row): boolean {
  for (let i = 0; i < a.length; i++) {
    const x = a[i];
    const y = b[i];
    if (x === y) continue;
    // Two strings, bigints or booleans that differ by === differ as encoded: no texts to build (a count that
    // changed). Numbers may not (NaN), nor values of different types (1 and 1n), nor bytes.
    const type = typeof x;
    if (type === typeof y && (type === 'string' || type === 'bigint' || type === 'boolean')) return false;
    if (encodeValue(x ?? null) !== encodeValue(y ?? null)) return false;
  }
  return true;
}

export function retractedUnknown(what: string): TributaryError {
  return stateMismatchesSource(`the ${what} state was asked to take back a row it never saw`);
}

/** A distinct row kept in a map state with its copies (a partition's rows of a Top-N, of a session window). */
export interface CountedRow {
  readonly row: Row;
  count: number;
}

export const COUNTED_ROW_CODEC: StateCodec<CountedRow> = {
  toJson: (e) => [rowToJson(e.row), e.count],
  fromJson: (json) => {
    const [row, count] = json as [JsonValue[], number];
    return { row: rowFromJson(row), count };
  },
};

/**
 * Counts `delta`'s row (`id`, its encoding) one copy up or down under `key`, its entry removed at none. Returns false
 * for a retraction of a row the state no longer has because it expired (`table.exec.state.ttl`): nothing changed;
 * throws for one it never had (`what` names the state).
 */
export function countRow(
  rows: KeyedMapState<CountedRow>,
  key: string,
  id: string,
  delta: Delta,
  what: string,
): boolean {
  const entry = rows.get(key, id);
  if (delta.sign > 0) {
    if (entry === undefined) rows.put(key, id, { row: delta.row, count: 1 });
    else {
      entry.count++;
      rows.put(key, id, entry);
    }
    return true;
  }
  if (entry === undefined) {
    if (rows.expiring === true) return false;
    throw retractedUnknown(what);
  }
  if (--entry.count === 0) rows.remove(key, id);
  else rows.put(key, id, entry);
  return true;
}
