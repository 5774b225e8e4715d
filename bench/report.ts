/** The bench suite's results: per-run records, medians, the JSON file and the markdown table. */
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { median } from './measure.js';

export type WorkloadId = 'floor' | `snapshot-${number}-x${number}` | 'binlog-insert' | 'binlog-mixed';

export interface RunRecord {
  readonly repetition: number;
  /** Wall seconds of the measured interval (see the workload's description). */
  readonly seconds: number;
  /** CPU seconds (user + system) of the client side: the external clients for the floor, the pipeline otherwise. */
  readonly cpuSeconds?: number | undefined;
  /** Peak RSS, MB, of the client side (the larger client process for the floor). */
  readonly maxRssMb?: number | undefined;
  /** CPU seconds of mariadbd and of PostgreSQL (postmaster and backends) during the interval. */
  readonly serverCpuSeconds?: { readonly mariadb?: number | undefined; readonly postgres?: number | undefined };
  /** Workload-specific figures (checkpoints, source insert time …). */
  readonly detail?: Record<string, number | string | boolean>;
}

export interface WorkloadResult {
  readonly id: WorkloadId;
  readonly label: string;
  /** Rows (or row changes) the workload moves. */
  readonly rows: number;
  readonly description: string;
  readonly runs: RunRecord[];
  readonly failures: { readonly repetition: number; readonly error: string }[];
}

export interface WorkloadSummary {
  readonly id: WorkloadId;
  readonly label: string;
  readonly rows: number;
  readonly runsOk: number;
  readonly runsFailed: number;
  readonly medianSeconds: number | null;
  readonly rowsPerSecond: number | null;
  /** floor rows/s ÷ this workload's rows/s: how many times the floor pipe's time per row. */
  readonly ratioToFloor: number | null;
  readonly medianCpuSeconds: number | null;
  readonly medianMaxRssMb: number | null;
  readonly medianServerCpuSeconds: number | null;
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
  readonly tributary: string;
  readonly gitCommit: string | null;
}

export interface BenchConfig {
  readonly mode: 'quick' | 'full' | 'custom';
  readonly rows: number;
  readonly repetitions: number;
  readonly chunkSizes: readonly number[];
  /** Snapshot readers (pipeline.parallelism) tried for each chunk size. */
  readonly readers: readonly number[];
  readonly transactionRows: number;
  readonly pollMs: number;
}

export interface BenchData {
  readonly avgRowTextBytes: number;
  readonly sourceFillSeconds: number;
}

export interface BenchReport {
  readonly environment: BenchEnvironment;
  readonly config: BenchConfig;
  readonly data: BenchData;
  readonly summary: WorkloadSummary[];
  readonly workloads: WorkloadResult[];
  readonly notes: string[];
}

const orNull = (value: number, digits: number): number | null => (Number.isFinite(value) ? round(value, digits) : null);

export function summarize(workloads: readonly WorkloadResult[]): WorkloadSummary[] {
  const rate = (w: WorkloadResult): number => w.rows / median(w.runs.map((r) => r.seconds));
  const floor = workloads.find((w) => w.id === 'floor');
  const floorRate = floor ? rate(floor) : Number.NaN;
  return workloads.map((w) => {
    const seconds = median(w.runs.map((r) => r.seconds));
    const rowsPerSecond = rate(w);
    const serverCpu = w.runs.map((r) => {
      const s = r.serverCpuSeconds;
      return s?.mariadb !== undefined && s.postgres !== undefined ? s.mariadb + s.postgres : Number.NaN;
    });
    return {
      id: w.id,
      label: w.label,
      rows: w.rows,
      runsOk: w.runs.length,
      runsFailed: w.failures.length,
      medianSeconds: orNull(seconds, 3),
      rowsPerSecond: orNull(rowsPerSecond, 0),
      ratioToFloor: orNull(floorRate / rowsPerSecond, 3),
      medianCpuSeconds: orNull(median(w.runs.map((r) => r.cpuSeconds ?? Number.NaN)), 3),
      medianMaxRssMb: orNull(median(w.runs.map((r) => r.maxRssMb ?? Number.NaN)), 1),
      medianServerCpuSeconds: orNull(median(serverCpu), 2),
      allSeconds: w.runs.map((r) => round(r.seconds, 3)),
    };
  });
}

export function round(value: number, digits: number): number {
  const f = 10 ** digits;
  return Math.round(value * f) / f;
}

const fmt = (value: number | null, digits: number): string =>
  value === null
    ? '—'
    : value.toLocaleString('en-US', { minimumFractionDigits: digits, maximumFractionDigits: digits });

/** The results table as markdown (also printed to the terminal). */
export function markdownTable(summary: readonly WorkloadSummary[]): string {
  const header = [
    'workload',
    'rows',
    'median s',
    'rows/s',
    '× floor',
    'CPU s',
    'peak RSS MB',
    'server CPU s',
    'runs s',
  ];
  const rows = summary.map((s) => [
    s.label + (s.runsFailed > 0 ? ` (${s.runsFailed} failed)` : ''),
    fmt(s.rows, 0),
    fmt(s.medianSeconds, 2),
    fmt(s.rowsPerSecond === null ? null : Math.round(s.rowsPerSecond), 0),
    fmt(s.ratioToFloor, 2),
    fmt(s.medianCpuSeconds, 2),
    fmt(s.medianMaxRssMb, 0),
    fmt(s.medianServerCpuSeconds, 2),
    s.allSeconds.map((v) => v.toFixed(2)).join(' / ') || '—',
  ]);
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)));
  const right = [false, true, true, true, true, true, true, true, false];
  const line = (cells: string[]): string =>
    `| ${cells.map((c, i) => (right[i] ? c.padStart(widths[i]!) : c.padEnd(widths[i]!))).join(' | ')} |`;
  const rule = `| ${widths.map((w, i) => (right[i] ? '-'.repeat(w - 1) + ':' : '-'.repeat(w))).join(' | ')} |`;
  return [line(header), rule, ...rows.map(line)].join('\n');
}

const shortCommit = (commit: string): string => commit.slice(0, 10) + (commit.endsWith('+dirty') ? '+dirty' : '');

export function markdownReport(report: BenchReport): string {
  const { environment: env, config, data } = report;
  return [
    `# Tributary bench — ${env.date}, ${env.host}`,
    '',
    `${config.rows.toLocaleString('en-US')} rows of ~${Math.round(data.avgRowTextBytes)} bytes (as tab-separated text), ` +
      `${config.repetitions} repetitions, medians (${config.mode} mode). ` +
      `Machine: ${env.cpus} × ${env.cpuModel}, ${env.memoryGb} GB; Node ${env.node}; MariaDB ${env.mariadb}; ` +
      `PostgreSQL ${env.postgres}; Tributary ${env.tributary}${env.gitCommit ? ` at ${shortCommit(env.gitCommit)}` : ''}.`,
    '',
    markdownTable(report.summary),
    '',
    ...report.notes.map((n) => `- ${n}`),
    '',
  ].join('\n');
}

/** Writes `<dir>/<date>-<host><suffix>.json` and `<dir>/latest.md`; returns their paths. */
export async function writeReport(dir: string, report: BenchReport, suffix: string): Promise<string[]> {
  await mkdir(dir, { recursive: true });
  const host = report.environment.host.replace(/[^A-Za-z0-9._-]/g, '_') || 'node-svc';
  const json = join(dir, `${report.environment.date}-${host}${suffix}.json`);
  const md = join(dir, 'latest.md');
  await writeFile(json, JSON.stringify(report, null, 2) + '\n');
  await writeFile(md, markdownReport(report));
  return [json, md];
}
