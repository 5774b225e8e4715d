import type { PipelineStatus } from '../runtime/pipeline-metrics.js';

/** One point of the dashboard's charts. */
export interface HistoryPoint {
  /** ms since the epoch */
  readonly at: number;
  /** Rows per second read from the source and handed to the sink since the previous point. */
  readonly inPerSecond: number;
  readonly outPerSecond: number;
  readonly lagSeconds: number;
}

/**
 * The last minutes of throughput and lag, sampled by the HTTP server (not by the pipeline), so a page opened
 * late still draws its charts. A ring of at most `capacity` points.
 */
export class StatusHistory {
  private readonly points: HistoryPoint[] = [];
  private previous: { at: number; rowsIn: number; rowsOut: number } | undefined;

  constructor(private readonly capacity = 150) {}

  add(status: PipelineStatus, at = Date.now()): void {
    const prev = this.previous;
    this.previous = { at, rowsIn: status.rowsIn, rowsOut: status.rowsOut };
    if (!prev || at <= prev.at) return;
    const seconds = (at - prev.at) / 1000;
    this.points.push({
      at,
      inPerSecond: Math.max(0, status.rowsIn - prev.rowsIn) / seconds,
      outPerSecond: Math.max(0, status.rowsOut - prev.rowsOut) / seconds,
      lagSeconds: status.lagSeconds ?? 0,
    });
    if (this.points.length > this.capacity) this.points.shift();
  }

  list(): readonly HistoryPoint[] {
    return this.points;
  }
}
