/** The performance targets, checked against a run's summary ("met" / "not met"). */
import { fmt, type WorkloadSummary } from './report.js';

export interface TargetResult {
  readonly target: string;
  readonly workload: string;
  readonly label: string;
  /** The figure compared, formatted. */
  readonly measured: string;
  readonly value: number | null;
  /** null: not measured (the workload failed). */
  readonly met: boolean | null;
}

/** Which figure of a summary a target holds: the chart draws the target on that figure's panel. */
export type Metric = 'ratio' | 'rate' | 'p99' | 'rss';

export interface Target {
  readonly target: string;
  readonly metric: Metric;
  readonly threshold: number;
  /** Met when the value is at most (`max`), below (`below`) or at least (`min`) the threshold. */
  readonly kind: 'max' | 'below' | 'min';
  /** Which workloads it applies to. */
  readonly applies: (s: WorkloadSummary) => boolean;
  readonly value: (s: WorkloadSummary) => number | null | undefined;
  readonly format: (value: number) => string;
}

export function isMet(target: Target, value: number): boolean {
  if (target.kind === 'max') return value <= target.threshold;
  if (target.kind === 'below') return value < target.threshold;
  return value >= target.threshold;
}

/** The target a summary's figure is held to, if any. */
export const targetFor = (s: WorkloadSummary, metric: Metric): Target | undefined =>
  TARGETS.find((t) => t.metric === metric && t.applies(s));

const ratioTo =
  (reference: string) =>
  (s: WorkloadSummary): number | null | undefined =>
    s.ratios.find((r) => r.reference.startsWith(reference))?.ratio;

function minRate(target: string, ids: readonly string[], threshold: number): Target {
  return {
    target,
    metric: 'rate',
    threshold,
    kind: 'min',
    applies: (s) => ids.includes(s.id),
    value: (s) => s.rowsPerSecond,
    format: (v) => `${fmt(v, 0)} rows/s`,
  };
}

export const TARGETS: readonly Target[] = [
  {
    target: 'snapshot ≤ 1.25 × floor',
    metric: 'ratio',
    threshold: 1.25,
    kind: 'max',
    applies: (s) => s.ours && s.id.startsWith('snapshot-') && s.ratios.some((r) => r.reference.startsWith('floor')),
    value: ratioTo('floor'),
    format: (v) => `${fmt(v, 2)} × floor`,
  },
  {
    target: 'binlog decode faster than mariadb-binlog --verbose',
    metric: 'ratio',
    threshold: 1,
    kind: 'below',
    applies: (s) => s.id === 'binlog-decode',
    value: ratioTo('mariadb-binlog'),
    format: (v) => `${fmt(v, 2)} × mariadb-binlog`,
  },
  // Streaming (the source's statements on the same cores) and catch-up (apply alone).
  minRate('apply inserts ≥ 150k rows/s', ['binlog-insert', 'binlog-catchup-insert'], 150_000),
  minRate('apply mixed ≥ 80k rows/s', ['binlog-mixed', 'binlog-catchup-mixed'], 80_000),
  // Issue 16: 1,000 tables × 1,000 rows (`--tables 1000 --rows 1000000`).
  minRate('many tables snapshot ≥ 150k rows/s', ['many-tables-snapshot'], 150_000),
  {
    target: 'p99 latency at 10k rows/s < 1 s',
    metric: 'p99',
    threshold: 1000,
    kind: 'below',
    applies: (s) => s.id.startsWith('latency-10k-'),
    value: (s) => s.metrics['p99Ms'],
    format: (v) => `${fmt(v, 0)} ms`,
  },
  {
    target: 'peak RSS < 512 MB',
    metric: 'rss',
    threshold: 512,
    kind: 'below',
    applies: (s) => s.id === 'snapshot-10m' || s.id === 'big-transaction',
    value: (s) => s.medianMaxRssMb,
    format: (v) => `${fmt(v, 0)} MB`,
  },
];

export function evaluateTargets(summary: readonly WorkloadSummary[]): TargetResult[] {
  return TARGETS.flatMap((t) =>
    summary.filter(t.applies).map((s) => {
      const value = t.value(s) ?? null;
      return {
        target: t.target,
        workload: s.id,
        label: s.label,
        measured: value === null ? '—' : t.format(value),
        value,
        met: value === null ? null : isMet(t, value),
      };
    }),
  );
}
