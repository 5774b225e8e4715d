import type { Value } from '../../core/data-type.js';
import {
  floorDiv,
  formatTimestamp,
  instantToLocal,
  localToInstant,
  parseTimestamp,
} from '../../transform/expression/temporal.js';
import type { Delta } from './changelog.js';
import { PlanNode, type Field } from './nodes.js';

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
    const time = delta.row[this.timeField];
    if (time === null || time === undefined) return;
    let micros = parseTimestamp(String(time));
    if (micros === undefined) return;
    if (this.zoned) micros = instantToLocal(micros, this.timeZone);
    const ms = Number(floorDiv(micros, 1000n));
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
    const endMs = startMs + lengthMs;
    const timeMicros = BigInt(endMs - 1) * 1000n;
    this.lastStart = startMs;
    this.lastLength = lengthMs;
    this.lastValues = [
      this.format(startMs),
      this.format(endMs),
      this.zoned ? formatTimestamp(localToInstant(timeMicros, this.timeZone), 3, 'Z') : formatTimestamp(timeMicros, 3),
    ];
    return this.lastValues;
  }

  private format(ms: number): string {
    return formatTimestamp(BigInt(ms) * 1000n, 3);
  }

  /** It passes on new rows. */
  override keepsRows(): boolean {
    return false;
  }

  describe(): string {
    return `Window ${this.text}`;
  }
}

function mod(a: number, b: number): number {
  const r = a % b;
  return r < 0 ? r + b : r;
}
