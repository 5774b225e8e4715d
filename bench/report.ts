/** The bench suite's results: per-run records, medians, and the JSON, markdown and SVG files. */
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { renderChart } from './chart.js';
import { median } from './measure.js';
import type { BenchConfig, Group } from './options.js';
import type { TargetResult } from './targets.js';

export interface RunRecord {
  readonly repetition: number;
  /** Wall seconds of the measured interval (see the workload's description). */
  readonly seconds: number;
  /** CPU seconds (user + system) of the client side: the external tool, or the pipeline's process. */
  readonly cpuSeconds?: number | undefined;
  /** Peak RSS, MB, of the client side (the larger process for a pipe of external clients). */
  readonly maxRssMb?: number | undefined;
  /** CPU seconds of mariadbd and of PostgreSQL (postmaster and backends) during the interval. */
  readonly serverCpuSeconds?: { readonly mariadb?: number | undefined; readonly postgres?: number | undefined };
  /** Figures summarized by their median, like the seconds (latency percentiles). */
  readonly metrics?: Record<string, number>;
  /** Workload-specific figures kept in the JSON (checkpoints, source statement time …). */
  readonly detail?: Record<string, number | string | boolean>;
}

export interface WorkloadResult {
  readonly id: string;
  readonly group: Group;
  readonly label: string;
  /** Rows (or row changes) the workload moves; set by the run when only it knows the exact count. */
  rows: number;
  readonly description: string;
  /** A Tributary figure, or a reference tool's. */
  readonly ours: boolean;
  /** The reference workloads measured on the same data in the same repetitions. */
  readonly references: readonly string[];
  readonly runs: RunRecord[];
  readonly failures: { readonly repetition: number; readonly error: string }[];
  /** Why the workload did not run at all (a tool is missing). */
  skipped?: string;
}

export interface Ratio {
  readonly reference: string;
  readonly referenceLabel: string;
  /** Ours ÷ reference, per row: the reference's rows/s ÷ ours. Below 1: faster than the reference. */
  readonly ratio: number | null;
}

export interface WorkloadSummary {
  readonly id: string;
  readonly group: Group;
  readonly label: string;
  readonly ours: boolean;
  readonly rows: number;
  readonly runsOk: number;
  readonly runsFailed: number;
  readonly skipped: string | null;
  readonly medianSeconds: number | null;
  readonly rowsPerSecond: number | null;
  readonly ratios: readonly Ratio[];
  readonly medianCpuSeconds: number | null;
  readonly medianMaxRssMb: number | null;
  readonly medianServerCpuSeconds: number | null;
  readonly metrics: Record<string, number | null>;
  readonly allSeconds: number[];
}

export interface BenchEnvironment {
  readonly date: string;
  readonly host: string;
  readonly cpus: number;
  readonly cpuModel: string;
  readonly memoryGb: number;
  readonly node: string;
  readonly mariadb: string;
  readonly postgres: string;
  readonly pgloader: string | null;
  readonly tributary: string;
  readonly gitCommit: string | null;
  /** Load average over the last minute when the suite started: shows a machine shared with other work. */
  readonly loadAverageAtStart: number;
  /** `--note`: the conditions of the run ("taken under load"). */
  readonly note: string | null;
}

export interface BenchReport {
  readonly environment: BenchEnvironment;
  readonly config: BenchConfig;
  /** Bytes per row, fill times, the binlog range … */
  readonly data: Record<string, number | string>;
  readonly summary: WorkloadSummary[];
  readonly targets: TargetResult[];
  readonly workloads: WorkloadResult[];
  readonly notes: string[];
}

export function round(value: number, digits: number): number {
  const f = 10 ** digits;
  return Math.round(value * f) / f;
}

const orNull = (value: number, digits: number): number | null => (Number.isFinite(value) ? round(value, digits) : null);

export function summarize(workloads: readonly WorkloadResult[]): WorkloadSummary[] {
  const rate = (w: WorkloadResult): number => w.rows / median(w.runs.map((r) => r.seconds));
  const byId = new Map(workloads.map((w) => [w.id, w]));
  return workloads.map((w) => {
    const rowsPerSecond = rate(w);
    const serverCpu = w.runs.map((r) => {
      const s = r.serverCpuSeconds;
      return s?.mariadb !== undefined && s.postgres !== undefined ? s.mariadb + s.postgres : Number.NaN;
    });
    const metricNames = [...new Set(w.runs.flatMap((r) => Object.keys(r.metrics ?? {})))];
    return {
      id: w.id,
      group: w.group,
      label: w.label,
      ours: w.ours,
      rows: w.rows,
      runsOk: w.runs.length,
      runsFailed: w.failures.length,
      skipped: w.skipped ?? null,
      medianSeconds: orNull(median(w.runs.map((r) => r.seconds)), 3),
      rowsPerSecond: orNull(rowsPerSecond, 0),
      ratios: w.references.map((id) => {
        const reference = byId.get(id);
        return {
          reference: id,
          referenceLabel: reference?.label ?? id,
          ratio: reference ? orNull(rate(reference) / rowsPerSecond, 3) : null,
        };
      }),
      medianCpuSeconds: orNull(median(w.runs.map((r) => r.cpuSeconds ?? Number.NaN)), 3),
      medianMaxRssMb: orNull(median(w.runs.map((r) => r.maxRssMb ?? Number.NaN)), 1),
      medianServerCpuSeconds: orNull(median(serverCpu), 2),
      metrics: Object.fromEntries(
        metricNames.map((name) => [name, orNull(median(w.runs.map((r) => r.metrics?.[name] ?? Number.NaN)), 1)]),
      ),
      allSeconds: w.runs.map((r) => round(r.seconds, 3)),
    };
  });
}

export const fmt = (value: number | null | undefined, digits: number): string =>
  value === null || value === undefined
    ? '—'
    : value.toLocaleString('en-US', { minimumFractionDigits: digits, maximumFractionDigits: digits });

/** The short name of a reference in the ratio column: `floor`, `pgloader`, `mariadb-binlog`. */
export const referenceName = (id: string): string => id.replace(/-(narrow|wide|orders|events|10m)$/, '');

function table(header: string[], right: boolean[], rows: string[][]): string {
  const escape = (cell: string): string => cell.replace(/\|/g, '\\|');
  const cells = rows.map((r) => r.map(escape));
  const widths = header.map((h, i) => Math.max(h.length, ...cells.map((r) => r[i]!.length)));
  const line = (row: string[]): string =>
    `| ${row.map((c, i) => (right[i] ? c.padStart(widths[i]!) : c.padEnd(widths[i]!))).join(' | ')} |`;
  const rule = `| ${widths.map((w, i) => (right[i] ? '-'.repeat(w - 1) + ':' : '-'.repeat(w))).join(' | ')} |`;
  return [line(header), rule, ...cells.map(line)].join('\n');
}

/** The results table as markdown (also printed to the terminal). */
export function markdownTable(summary: readonly WorkloadSummary[]): string {
  const header = ['workload', 'rows', 'median s', 'rows/s', '× reference', 'CPU s', 'peak RSS MB', 'server CPU s'];
  const rows = summary.map((s) => [
    s.label +
      (s.skipped !== null ? ` (skipped: ${s.skipped})` : '') +
      (s.runsFailed > 0 ? ` (${s.runsFailed} failed)` : ''),
    fmt(s.rows, 0),
    fmt(s.medianSeconds, 2),
    fmt(s.rowsPerSecond, 0),
    s.ratios.map((r) => `${fmt(r.ratio, 2)} × ${referenceName(r.reference)}`).join(', ') || (s.ours ? '' : 'reference'),
    fmt(s.medianCpuSeconds, 2),
    fmt(s.medianMaxRssMb, 0),
    fmt(s.medianServerCpuSeconds, 2),
  ]);
  return table(header, [false, true, true, true, false, true, true, true], rows);
}

function latencyTable(summary: readonly WorkloadSummary[]): string | undefined {
  const rows = summary
    .filter((s) => s.metrics['p99Ms'] !== undefined || s.group === 'latency')
    .map((s) => [s.label, fmt(s.rowsPerSecond, 0), ...['p50Ms', 'p99Ms', 'maxMs'].map((m) => fmt(s.metrics[m], 0))]);
  if (rows.length === 0) return undefined;
  return table(['workload', 'rows/s written', 'p50 ms', 'p99 ms', 'max ms'], [false, true, true, true, true], rows);
}

function targetTable(targets: readonly TargetResult[]): string | undefined {
  if (targets.length === 0) return undefined;
  const rows = targets.map((t) => [t.target, t.label, t.measured, t.met === null ? '—' : t.met ? 'met' : 'not met']);
  return table(['target', 'workload', 'measured', 'met?'], [false, false, true, false], rows);
}

function runsTable(summary: readonly WorkloadSummary[]): string {
  const rows = summary.map((s) => [
    s.label,
    s.allSeconds.map((v) => v.toFixed(2)).join(' / ') || '—',
    ...(s.runsFailed > 0 ? [`${s.runsFailed} failed`] : ['']),
  ]);
  return table(['workload', 'runs s (in order)', 'failures'], [false, false, false], rows);
}

const shortCommit = (commit: string): string => commit.slice(0, 10) + (commit.endsWith('+dirty') ? '+dirty' : '');

export function markdownReport(report: BenchReport, chartFile: string): string {
  const { environment: env, config } = report;
  const latency = latencyTable(report.summary);
  const targets = targetTable(report.targets);
  return [
    `# Tributary bench — ${env.date}, ${env.host}`,
    '',
    `${config.mode} mode: ${config.rows.toLocaleString('en-US')} rows per table, ${config.repetitions} ` +
      `repetitions, medians. Machine: ${env.cpus} × ${env.cpuModel}, ${env.memoryGb} GB, load average ` +
      `${env.loadAverageAtStart.toFixed(2)} at the start; Node ${env.node}; MariaDB ${env.mariadb}; PostgreSQL ` +
      `${env.postgres}; pgloader ${env.pgloader ?? 'not available'}; Tributary ${env.tributary}` +
      `${env.gitCommit ? ` at ${shortCommit(env.gitCommit)}` : ''}.` +
      (config.sink !== 'postgres'
        ? ` Tributary's pipelines write to ${config.sink}.`
        : config.writeMode === 'upsert'
          ? ''
          : ` Tributary's PostgreSQL sink in write-mode ${config.writeMode}.`) +
      (config.sinkOptions.length > 0
        ? ` Sink options: ${config.sinkOptions.map(([key, value]) => `${key}: ${value}`).join(', ')}.`
        : ''),
    '',
    `![chart](${chartFile})`,
    '',
    markdownTable(report.summary),
    '',
    ...(targets ? ['## Targets', '', targets, ''] : []),
    ...(latency ? ['## Commit-to-visible latency', '', latency, ''] : []),
    '## Every run',
    '',
    runsTable(report.summary),
    '',
    ...report.notes.map((n) => `- ${n}`),
    '',
  ].join('\n');
}

/**
 * Writes `<dir>/<date>-<host><suffix>.{json,md,svg}` and the same markdown and chart as `latest.md` /
 * `latest.svg`; returns their paths.
 */
export async function writeReport(dir: string, report: BenchReport, suffix: string): Promise<string[]> {
  await mkdir(dir, { recursive: true });
  const host = report.environment.host.replace(/[^A-Za-z0-9._-]/g, '_') || 'node-svc';
  const base = `${report.environment.date}-${host}${suffix}`;
  const svg = renderChart(report);
  const files: [string, string][] = [
    [`${base}.json`, JSON.stringify(report, null, 2) + '\n'],
    [`${base}.md`, markdownReport(report, `${base}.svg`)],
    [`${base}.svg`, svg],
    ['latest.md', markdownReport(report, 'latest.svg')],
    ['latest.svg', svg],
  ];
  for (const [name, text] of files) await writeFile(join(dir, name), text);
  return files.map(([name]) => join(dir, name));
}
