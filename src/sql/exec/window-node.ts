import type { Row, Value } from '../../core/data-type.js';
import {
  floorDiv,
  formatTimestamp,
  instantToLocal,
  localToInstant,
  parseTimestamp,
} from '../../transform/expression/temporal.js';
import { encodeValues, type Delta } from './changelog.js';
import { memoryBackend, type KeyedMapState, type StateBackend } from './keyed-state.js';
import { COUNTED_ROW_CODEC, countRow, PlanNode, type CountedRow, type Field } from './nodes.js';

/** How a window TVF cuts time: its function and durations (ms). */
export interface WindowSpec {
  readonly fn: 'tumble' | 'hop' | 'cumulate';
  readonly sizeMs: number;
  /** HOP's slide, CUMULATE's step; TUMBLE: the size. */
  readonly stepMs: number;
  readonly offsetMs: number;
}

/**
 * A window table-valued function (Flink's TUMBLE, HOP, CUMULATE) over a change stream: each change of a row is
 * passed on once per window its time column falls in, with `window_start`, `window_end` (TIMESTAMP(3), the end
 * excluded) and `window_time` (the end less 1 ms) added. Stateless: a retraction finds the same windows as the row
 * it retracts, so an aggregate grouped by the window stays exact when rows are updated, deleted or arrive late —
 * no row is dropped for lateness, and a window's result is updated in place rather than emitted once. A row whose
 * time is NULL is in no window. A TIMESTAMP_LTZ time is cut by the wall clock of the session's time zone, as Flink
 * does (a day window starts at local midnight).
 */
export class WindowNode extends PlanNode {
  private readonly zoned: boolean;
  /** The last window's values, by its start and length (rows of one window often come in runs). */
  private lastStart = Number.NaN;
  private lastLength = Number.NaN;
  private lastValues: readonly Value[] = [];

  constructor(
    input: PlanNode,
    fields: readonly Field[],
    uniqueKeys: readonly (readonly number[])[],
    private readonly spec: WindowSpec,
    /** The position of the time column among the input's fields. */
    private readonly timeField: number,
    private readonly timeZone: string,
    private readonly text: string,
  ) {
    super([input], fields, uniqueKeys);
    this.zoned = input.fields[timeField]!.type.kind === 'timestamptz';
  }

  receive(_port: number, delta: Delta): void {
    const ms = timeMs(delta.row[this.timeField], this.zoned, this.timeZone);
    if (ms === undefined) return;
    const { fn, sizeMs, stepMs, offsetMs } = this.spec;
    if (fn === 'tumble') {
      this.emit(delta, ms - mod(ms - offsetMs, sizeMs), sizeMs);
    } else if (fn === 'hop') {
      const last = ms - mod(ms - offsetMs, stepMs);
      for (let start = last - sizeMs + stepMs; start <= last; start += stepMs) this.emit(delta, start, sizeMs);
    } else {
      const base = ms - mod(ms - offsetMs, sizeMs);
      for (let end = base + stepMs * (Math.floor((ms - base) / stepMs) + 1); end <= base + sizeMs; end += stepMs) {
        this.emit(delta, base, end - base);
      }
    }
  }

  private emit(delta: Delta, startMs: number, lengthMs: number): void {
    this.out({ sign: delta.sign, row: [...delta.row, ...this.windowValues(startMs, lengthMs)] });
  }

  private windowValues(startMs: number, lengthMs: number): readonly Value[] {
    if (startMs === this.lastStart && lengthMs === this.lastLength) return this.lastValues;
    this.lastStart = startMs;
    this.lastLength = lengthMs;
    this.lastValues = windowValues(startMs, startMs + lengthMs, this.zoned, this.timeZone);
    return this.lastValues;
  }

  /** It passes on new rows. */
  override keepsRows(): boolean {
    return false;
  }

  describe(): string {
    return `Window ${this.text}`;
  }
}

/**
 * A row's time as the windows cut it: milliseconds of the wall clock (a TIMESTAMP_LTZ's in `timeZone`); undefined
 * when NULL (the row is in no window).
 */
function timeMs(time: Value | undefined, zoned: boolean, timeZone: string): number | undefined {
  if (time === null || time === undefined) return undefined;
  let micros = parseTimestamp(String(time));
  if (micros === undefined) return undefined;
  if (zoned) micros = instantToLocal(micros, timeZone);
  return Number(floorDiv(micros, 1000n));
}

/** A window's start, end (excluded) and time (the end less 1 ms, a TIMESTAMP_LTZ's as an instant). */
function windowValues(startMs: number, endMs: number, zoned: boolean, timeZone: string): readonly Value[] {
  const timeMicros = BigInt(endMs - 1) * 1000n;
  return [
    formatTimestamp(BigInt(startMs) * 1000n, 3),
    formatTimestamp(BigInt(endMs) * 1000n, 3),
    zoned ? formatTimestamp(localToInstant(timeMicros, timeZone), 3, 'Z') : formatTimestamp(timeMicros, 3),
  ];
}

/** Where a row of a partition is: its session's bounds, with the row and its copies. */
interface Placed {
  readonly row: Row;
  readonly count: number;
  readonly start: number;
  readonly end: number;
}

/**
 * Flink's session windows (`GROUP BY SESSION(ts, INTERVAL …), k`) over a change stream: the rows of a partition (the
 * other GROUP BY columns) whose times lie less than the gap apart, in a chain, are one session, from the first time
 * to the last time plus the gap. Each row goes out with its session's `window_start`, `window_end` and `window_time`
 * added, as the window TVF's rows do. Unlike those windows a session depends on the other rows: a row that comes
 * between two sessions joins them, and one that leaves may split one. So the node keeps every row of a partition (a
 * map state entry per distinct row), places the partition's rows again at the end of each batch that changed it, and
 * retracts and emits again the rows whose session moved — retractions first. A row whose time is NULL is in no
 * session. Each change costs a read of its partition.
 */
export class SessionNode extends PlanNode {
  private rows: KeyedMapState<CountedRow>;
  /** The partitions changed in this batch: where their rows were before it. */
  private readonly before = new Map<string, Map<string, Placed>>();
  private readonly zoned: boolean;

  constructor(
    input: PlanNode,
    fields: readonly Field[],
    uniqueKeys: readonly (readonly number[])[],
    private readonly gapMs: number,
    /** The position of the time column among the input's fields. */
    private readonly timeField: number,
    /** The input fields the sessions are partitioned by (none: one partition). */
    private readonly partition: readonly number[],
    private readonly timeZone: string,
    private readonly text: string,
  ) {
    super([input], fields, uniqueKeys);
    this.zoned = input.fields[timeField]!.type.kind === 'timestamptz';
    this.rows = memoryBackend.keyedMap('rows', COUNTED_ROW_CODEC);
  }

  override openState(backend: StateBackend): void {
    this.rows = backend.keyedMap(`${this.id}.rows`, COUNTED_ROW_CODEC);
  }

  receive(_port: number, delta: Delta): void {
    const { row } = delta;
    if (timeMs(row[this.timeField], this.zoned, this.timeZone) === undefined) return;
    const partition = encodeValues(this.partition.map((i) => row[i] ?? null));
    if (!this.before.has(partition)) this.before.set(partition, this.place(partition));
    countRow(this.rows, partition, encodeValues(row), delta, 'session window');
  }

  override flush(): void {
    if (this.before.size === 0) return;
    const retracted: Row[] = [];
    const added: Row[] = [];
    const copies = (into: Row[], placed: Placed, n: number) => {
      const row = [...placed.row, ...windowValues(placed.start, placed.end, this.zoned, this.timeZone)];
      for (let i = 0; i < n; i++) into.push(row);
    };
    for (const [partition, before] of this.before) {
      const after = this.place(partition);
      for (const [id, was] of before) {
        const now = after.get(id);
        if (now !== undefined && now.start === was.start && now.end === was.end) {
          if (now.count < was.count) copies(retracted, was, was.count - now.count);
          else if (now.count > was.count) copies(added, now, now.count - was.count);
        } else {
          copies(retracted, was, was.count);
          if (now !== undefined) copies(added, now, now.count);
        }
      }
      for (const [id, now] of after) if (!before.has(id)) copies(added, now, now.count);
    }
    this.before.clear();
    for (const row of retracted) this.out({ sign: -1, row });
    for (const row of added) this.out({ sign: 1, row });
  }

  /** The rows of `partition` with their sessions' bounds, by row. */
  private place(partition: string): Map<string, Placed> {
    const timed: { id: string; entry: CountedRow; ms: number }[] = [];
    for (const [id, entry] of this.rows.entries(partition)) {
      timed.push({ id, entry, ms: timeMs(entry.row[this.timeField], this.zoned, this.timeZone)! });
    }
    timed.sort((a, b) => a.ms - b.ms);
    const placed = new Map<string, Placed>();
    for (let i = 0; i < timed.length;) {
      // One session: the times from timed[i] on, each less than the gap after the one before.
      let j = i + 1;
      while (j < timed.length && timed[j]!.ms < timed[j - 1]!.ms + this.gapMs) j++;
      const start = timed[i]!.ms;
      const end = timed[j - 1]!.ms + this.gapMs;
      for (let k = i; k < j; k++) {
        const { id, entry } = timed[k]!;
        placed.set(id, { row: entry.row, count: entry.count, start, end });
      }
      i = j;
    }
    return placed;
  }

  describe(): string {
    return `SessionWindow ${this.text} (state: every row per partition)`;
  }
}

function mod(a: number, b: number): number {
  const r = a % b;
  return r < 0 ? r + b : r;
}
