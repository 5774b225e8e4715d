import type { Row, Value } from '../../core/data-type.js';
import type { Comparator } from '../../transform/expression/coercion.js';
import type { Compiled, EvalContext } from '../../transform/expression/eval-context.js';
import { encodeValues, rowFromJson, rowToJson, type Delta, type JsonValue } from './changelog.js';
import {
  memoryBackend,
  type KeyedMapState,
  type KeyedState,
  type StateBackend,
  type StateCodec,
} from './keyed-state.js';
import type { RankFunction } from '../sql-ast.js';
import { COUNTED_ROW_CODEC, countRow, PlanNode, type CountedRow, type Field } from './nodes.js';

/** One `ORDER BY` item of a Top-N: its value per row, how values compare, and the direction. */
export interface SortKey {
  readonly expr: Compiled;
  /** How two non-NULL values compare (the expression's type's order). */
  readonly compare: Comparator;
  readonly descending: boolean;
  /** Where NULL goes: Flink's default is first ascending, last descending. */
  readonly nullsFirst: boolean;
}

/** A row with its sort values and its identity (the tie-break), while a partition is ranked. */
interface Ranked {
  readonly row: Row;
  readonly id: string;
  readonly keys: readonly Value[];
}

/** Multiset difference: `before`'s rows not in `after` to `retracted`, `after`'s not in `before` to `added`. */
function diff(before: readonly Row[], after: readonly Row[], retracted: Row[], added: Row[]): void {
  const left = new Map<string, number>();
  for (const row of before) {
    const id = encodeValues(row);
    left.set(id, (left.get(id) ?? 0) + 1);
  }
  for (const row of after) {
    const id = encodeValues(row);
    const n = left.get(id) ?? 0;
    if (n > 0) left.set(id, n - 1);
    else added.push(row);
  }
  for (const row of before) {
    const id = encodeValues(row);
    const n = left.get(id) ?? 0;
    if (n > 0) {
      left.set(id, n - 1);
      retracted.push(row);
    }
  }
}

/**
 * What a batch did to a partition whose top may have changed: the rows added (each copy), and the rows retracted
 * (by identity, with how many copies) since that was first seen.
 */
interface PartitionChanges {
  readonly added: Ranked[];
  readonly removed: Map<string, number>;
}

/**
 * Top-N (Flink's Rank): per partition, the first `limit` rows in the sort order — `ROW_NUMBER() OVER (PARTITION BY
 * … ORDER BY …) AS rn … WHERE rn <= N`, or `ORDER BY … LIMIT N` (one partition). Rows that sort alike are ordered
 * by their values (encoded), so the ranks are the same in every run.
 *
 * The state keeps every row of each partition (a map state entry per distinct row, with its count: a row leaving
 * the top pulls the next one up) and, per partition, the rows it emitted in rank order. A change below the top of a
 * full partition only updates the state; one that may change the top is noted, and at the end of the batch (`flush`)
 * the new top is made from the old one and the noted changes — or, when a row left the top and none of those takes
 * its place, by reading the partition's rows. It is compared with what was emitted: with the rank as a column
 * (`rankFn`), every position whose row changed is retracted and emitted again with its rank; without it, the rows
 * that left the top are retracted and those that entered it emitted. Retractions go first, as the aggregate's do.
 */
export class TopNNode extends PlanNode {
  private rows: KeyedMapState<CountedRow>;
  private top: KeyedState<Row[]>;
  /** The partitions whose top may have changed in this batch, and how. */
  private readonly changed = new Map<string, PartitionChanges>();
  private readonly ctx: EvalContext = { row: [], op: 'read', image: 'after', tsMs: 0, nowMs: Date.now() };
  private readonly topCodec: StateCodec<Row[]> = {
    toJson: (rows) => rows.map(rowToJson),
    fromJson: (json) => (json as JsonValue[][]).map(rowFromJson),
  };

  constructor(
    input: PlanNode,
    fields: readonly Field[],
    uniqueKeys: readonly (readonly number[])[],
    /** The input fields the rows are partitioned by (none: one partition). */
    private readonly partition: readonly number[],
    private readonly sort: readonly SortKey[],
    private readonly limit: number,
    /**
     * The rank each row goes out with (a BIGINT after the input's columns): ROW_NUMBER (its position), RANK or
     * DENSE_RANK (ties alike; the top is every row ranked `limit` or better). Undefined: no rank (ORDER BY … LIMIT).
     */
    private readonly rankFn: RankFunction | undefined,
    private readonly text: string,
  ) {
    super([input], fields, uniqueKeys);
    this.rows = memoryBackend.keyedMap('rows', COUNTED_ROW_CODEC);
    this.top = memoryBackend.keyed('top', this.topCodec);
  }

  override openState(backend: StateBackend): void {
    this.rows = backend.keyedMap(`${this.id}.rows`, COUNTED_ROW_CODEC);
    this.top = backend.keyed(`${this.id}.top`, this.topCodec);
  }

  receive(_port: number, delta: Delta): void {
    const { row } = delta;
    const partition = encodeValues(this.partition.map((i) => row[i] ?? null));
    const id = encodeValues(row);
    if (!countRow(this.rows, partition, id, delta, 'rank')) return; // expired (table.exec.state.ttl)
    let changed = this.changed.get(partition);
    if (delta.sign > 0) {
      if (changed === undefined) {
        const top = this.top.peek(partition);
        const ranked = this.ranked(row, id);
        // Below the last row of a full top (for RANK and DENSE_RANK: after its sort values, as a tie ranks alike).
        if (top !== undefined && top.length >= this.limit) {
          const last = this.ranked(top.at(-1)!);
          if (this.ties ? this.compareKeys(ranked, last) > 0 : this.compare(ranked, last) >= 0) return;
        }
        changed = { added: [], removed: new Map() };
        this.changed.set(partition, changed);
        changed.added.push(ranked);
        return;
      }
      changed.added.push(this.ranked(row, id));
      return;
    }
    if (changed === undefined) {
      if (this.top.peek(partition)?.some((r) => encodeValues(r) === id) !== true) return;
      changed = { added: [], removed: new Map() };
      this.changed.set(partition, changed);
    }
    changed.removed.set(id, (changed.removed.get(id) ?? 0) + 1);
  }

  override flush(): void {
    if (this.changed.size === 0) return;
    const retracted: Row[] = [];
    const added: Row[] = [];
    for (const [partition, changed] of this.changed) {
      const before = this.top.peek(partition) ?? [];
      const after = (this.ties ? undefined : this.fromChanges(before, changed)) ?? this.rank(partition);
      if (this.ties) {
        // Ranks follow from the rows before in the top: the rows whose rank (or row) changed go out again.
        const ranked = (rows: readonly Row[]) => this.ranks(rows).map((rank, i) => [...rows[i]!, BigInt(rank)]);
        diff(ranked(before), ranked(after), retracted, added);
      } else if (this.rankFn === 'ROW_NUMBER') {
        for (let i = 0; i < Math.max(before.length, after.length); i++) {
          const was = before[i];
          const is = after[i];
          if (was !== undefined && is !== undefined && encodeValues(was) === encodeValues(is)) continue;
          const rank = BigInt(i + 1);
          if (was !== undefined) retracted.push([...was, rank]);
          if (is !== undefined) added.push([...is, rank]);
        }
      } else {
        diff(before, after, retracted, added);
      }
      if (after.length === 0) this.top.delete(partition);
      else this.top.set(partition, after);
    }
    this.changed.clear();
    for (const row of retracted) this.out({ sign: -1, row });
    for (const row of added) this.out({ sign: 1, row });
  }

  /**
   * The partition's new top from its old top and the batch's changes, without reading its other rows — when that
   * is enough: the old top with the rows retracted taken out and the rows added put in, of those sorting no later
   * than the old top's last row (every row not among them sorts after it), at least `limit`; or all of them when the
   * old top held the whole partition. Undefined otherwise (a row of the top left and no new one takes its place: the
   * partition is read). So a top whose rows change their values (an aggregate's counts) costs the top, not the
   * partition.
   */
  private fromChanges(before: readonly Row[], changed: PartitionChanges): Row[] | undefined {
    const removed = new Map(changed.removed);
    const candidates: Ranked[] = [];
    for (const ranked of [...before.map((row) => this.ranked(row)), ...changed.added]) {
      const n = removed.get(ranked.id) ?? 0;
      if (n > 0) removed.set(ranked.id, n - 1);
      else candidates.push(ranked);
    }
    const whole = before.length < this.limit;
    const last = before.length === 0 ? undefined : this.ranked(before.at(-1)!);
    const kept = whole || last === undefined ? candidates : candidates.filter((c) => this.compare(c, last) <= 0);
    if (!whole && kept.length < this.limit) return undefined;
    kept.sort((a, b) => this.compare(a, b));
    return kept.slice(0, this.limit).map((r) => r.row);
  }

  /** The first `limit` rows of the partition in the sort order, each copy of a row counted. */
  private rank(partition: string): Row[] {
    const all: Ranked[] = [];
    for (const [id, entry] of this.rows.entries(partition)) {
      const ranked = this.ranked(entry.row, id);
      for (let copy = 0; copy < entry.count; copy++) all.push(ranked);
    }
    all.sort((a, b) => this.compare(a, b));
    if (!this.ties) return all.slice(0, this.limit).map((r) => r.row);
    // RANK / DENSE_RANK: every row ranked `limit` or better (ties at the edge all in).
    const rows = all.map((r) => r.row);
    const ranks = this.ranks(rows);
    let end = 0;
    while (end < rows.length && ranks[end]! <= this.limit) end++;
    return rows.slice(0, end);
  }

  /** The RANK or DENSE_RANK of each of `rows`, a prefix of a partition in the sort order. */
  private ranks(rows: readonly Row[]): number[] {
    const ranks: number[] = [];
    let previous: Ranked | undefined;
    for (let i = 0; i < rows.length; i++) {
      const ranked = this.ranked(rows[i]!);
      if (previous === undefined || this.compareKeys(previous, ranked) !== 0) {
        ranks.push(this.rankFn === 'DENSE_RANK' ? (ranks.at(-1) ?? 0) + 1 : i + 1);
      } else ranks.push(ranks.at(-1)!);
      previous = ranked;
    }
    return ranks;
  }

  /** Whether rows that sort alike share a rank (RANK, DENSE_RANK). */
  private get ties(): boolean {
    return this.rankFn === 'RANK' || this.rankFn === 'DENSE_RANK';
  }

  private ranked(row: Row, id = encodeValues(row)): Ranked {
    this.ctx.row = row;
    return { row, id, keys: this.sort.map((s) => s.expr.evaluate(this.ctx)) };
  }

  private compare(a: Ranked, b: Ranked): number {
    const c = this.compareKeys(a, b);
    if (c !== 0) return c;
    return a.id < b.id ? -1 : a.id > b.id ? 1 : 0;
  }

  /** The sort order without the tie-break. */
  private compareKeys(a: Ranked, b: Ranked): number {
    for (let i = 0; i < this.sort.length; i++) {
      const { compare, descending, nullsFirst } = this.sort[i]!;
      const x = a.keys[i] ?? null;
      const y = b.keys[i] ?? null;
      let c: number;
      if (x === null || y === null) c = x === y ? 0 : (x === null) === nullsFirst ? -1 : 1;
      else c = descending ? compare(y, x) : compare(x, y);
      if (c !== 0) return c;
    }
    return 0;
  }

  override label(i: number): string {
    return this.rankFn !== undefined && i === this.fields.length - 1 ? this.rankFn : super.label(i);
  }

  describe(): string {
    return `${this.text} (state: every row per partition, and its top ${this.limit})`;
  }
}
