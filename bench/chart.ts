/**
 * The results as one SVG of horizontal bar panels, drawn by hand (no charting dependency): time per row
 * relative to the reference, throughput, latency percentiles and peak memory, one bar per workload (named by
 * its id, as in the JSON and `--only`). A red tick on a bar's row marks
 * its target; a bar is green when its target is met, red when not, blue (Tributary) or grey (a reference)
 * when it has none.
 */
import type { BenchReport, WorkloadSummary } from './report.js';
import { fmt, referenceName } from './report.js';
import { isMet, targetFor, type Metric } from './targets.js';

interface Bar {
  readonly label: string;
  readonly value: number | null;
  readonly text: string;
  readonly color: string;
  readonly target?: number;
}

interface Panel {
  readonly title: string;
  readonly bars: readonly Bar[];
  /** A dashed line across the panel (1.0 for ratios). */
  readonly line?: { readonly value: number; readonly label: string };
}

const WIDTH = 960;
const LABEL_X = 12;
const BAR_X = 330;
const BAR_END = 850;
const ROW = 22;
const COLORS = { ours: '#3b6fb6', reference: '#9a9a9a', met: '#2e8b57', notMet: '#c0392b', target: '#c0392b' };

const escapeXml = (text: string): string =>
  text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');

const compact = (value: number): string =>
  value >= 1e6
    ? `${(value / 1e6).toFixed(value >= 1e7 ? 0 : 2)}M`
    : value >= 1e4
      ? `${Math.round(value / 1e3)}k`
      : value >= 100 || Number.isInteger(value)
        ? String(Math.round(value))
        : value.toFixed(2);

/** A round step for about four gridlines up to `max`. */
function gridStep(max: number): number {
  const raw = max / 4;
  const magnitude = 10 ** Math.floor(Math.log10(raw));
  return ([1, 2, 5, 10].map((m) => m * magnitude).find((s) => s >= raw) ?? raw) || 1;
}

/** The target a summary's figure is held to in this panel, and whether it is met. */
function targetOf(s: WorkloadSummary, value: number | null, metric: Metric | undefined) {
  const target = metric === undefined ? undefined : targetFor(s, metric);
  if (target === undefined) return {};
  return { target: target.threshold, met: value === null ? undefined : isMet(target, value) };
}

function color(ours: boolean, met: boolean | undefined): string {
  if (met !== undefined) return met ? COLORS.met : COLORS.notMet;
  return ours ? COLORS.ours : COLORS.reference;
}

function bar(
  s: WorkloadSummary,
  label: string,
  value: number | null,
  format: (value: number) => string,
  metric?: Metric,
  missing = 'failed',
): Bar {
  const { target, met } = targetOf(s, value, metric);
  const note = s.skipped !== null ? 'skipped' : value === null ? missing : format(value);
  return { label, value, text: note, color: color(s.ours, met), ...(target === undefined ? {} : { target }) };
}

function panels(report: BenchReport): Panel[] {
  const summary = report.summary;
  const ours = summary.filter((s) => s.ours);
  const ratios = ours.flatMap((s) =>
    s.ratios.map((r) => {
      const label = `${s.id} vs ${referenceName(r.reference)}`;
      return bar({ ...s, ratios: [r] }, label, r.ratio, (v) => `${fmt(v, 2)}×`, 'ratio', 'no reference figure');
    }),
  );
  const rates = summary
    .filter((s) => s.group !== 'latency')
    .map((s) => bar(s, s.id, s.rowsPerSecond, (v) => `${compact(v)} rows/s`, 'rate'));
  const latency = summary
    .filter((s) => s.group === 'latency')
    .flatMap((s) => [
      bar(s, `${s.id}: p50`, s.metrics['p50Ms'] ?? null, (v) => `${Math.round(v)} ms`),
      bar(s, `${s.id}: p99`, s.metrics['p99Ms'] ?? null, (v) => `${Math.round(v)} ms`, 'p99'),
    ]);
  const memory = ours.map((s) => bar(s, s.id, s.medianMaxRssMb, (v) => `${Math.round(v)} MB`, 'rss'));
  const result: Panel[] = [];
  if (ratios.length > 0) {
    result.push({
      title: 'Time per row relative to the reference, same data, same run (lower is better)',
      bars: ratios,
      line: { value: 1, label: '= reference' },
    });
  }
  if (rates.length > 0) result.push({ title: 'Throughput, rows/s (higher is better)', bars: rates });
  if (latency.length > 0) result.push({ title: 'Commit-to-visible latency, ms (lower is better)', bars: latency });
  if (memory.length > 0)
    result.push({ title: 'Peak RSS of the Tributary process, MB (lower is better)', bars: memory });
  return result;
}

function renderPanel(panel: Panel, top: number): { svg: string[]; height: number } {
  const values = panel.bars.flatMap((b) => [b.value ?? 0, b.target ?? 0]).concat(panel.line?.value ?? 0);
  const step = gridStep(Math.max(...values, 1e-9) * 1.05);
  const max = Math.ceil((Math.max(...values, 1e-9) * 1.05) / step) * step;
  const x = (value: number): number => BAR_X + (value / max) * (BAR_END - BAR_X);
  const svg: string[] = [`<text x="${LABEL_X}" y="${top + 14}" class="title">${escapeXml(panel.title)}</text>`];
  const bodyTop = top + 34;
  const bodyBottom = bodyTop + panel.bars.length * ROW;
  for (let v = 0; v <= max + step / 2; v += step) {
    svg.push(`<line x1="${x(v)}" y1="${bodyTop}" x2="${x(v)}" y2="${bodyBottom}" class="grid"/>`);
    svg.push(`<text x="${x(v)}" y="${bodyBottom + 13}" class="axis">${escapeXml(compact(v))}</text>`);
  }
  panel.bars.forEach((b, i) => {
    const y = bodyTop + i * ROW;
    svg.push(`<text x="${LABEL_X}" y="${y + 15}" class="label">${escapeXml(b.label)}</text>`);
    const end = b.value === null ? BAR_X : x(b.value);
    if (b.value !== null) {
      svg.push(`<rect x="${BAR_X}" y="${y + 4}" width="${Math.max(1, end - BAR_X)}" height="14" fill="${b.color}"/>`);
    }
    if (b.target !== undefined) {
      const tx = x(b.target);
      svg.push(`<line x1="${tx}" y1="${y + 1}" x2="${tx}" y2="${y + 21}" class="target"/>`);
    }
    svg.push(`<text x="${end + 5}" y="${y + 15}" class="value">${escapeXml(b.text)}</text>`);
  });
  if (panel.line) {
    const lx = x(panel.line.value);
    svg.push(`<line x1="${lx}" y1="${bodyTop - 4}" x2="${lx}" y2="${bodyBottom}" class="reference"/>`);
    svg.push(`<text x="${lx + 4}" y="${bodyTop - 4}" class="axis-left">${escapeXml(panel.line.label)}</text>`);
  }
  return { svg, height: bodyBottom + 24 - top };
}

export function renderChart(report: BenchReport): string {
  const env = report.environment;
  const subtitle =
    `${report.config.mode} mode, ${report.config.rows.toLocaleString('en-US')} rows, medians of ` +
    `${report.config.repetitions}; ${env.host}, ${env.cpus} × ${env.cpuModel}, load ${env.loadAverageAtStart.toFixed(2)} ` +
    `at start; ${env.date}`;
  const body: string[] = [];
  const shift = env.note ? 18 : 0;
  let y = 76 + shift;
  for (const panel of panels(report)) {
    const rendered = renderPanel(panel, y);
    body.push(...rendered.svg);
    y += rendered.height + 12;
  }
  const legend = [
    [COLORS.ours, 'Tributary'],
    [COLORS.reference, 'reference tool'],
    [COLORS.met, 'target met'],
    [COLORS.notMet, 'target not met'],
  ]
    .map(([fill, text], i) => {
      const lx = LABEL_X + i * 150;
      return (
        `<rect x="${lx}" y="${50 + shift}" width="12" height="12" fill="${fill}"/>` +
        `<text x="${lx + 17}" y="${60 + shift}" class="label">${text}</text>`
      );
    })
    .join('');
  const targetLegend =
    `<line x1="${LABEL_X + 610}" y1="${48 + shift}" x2="${LABEL_X + 610}" y2="${64 + shift}" class="target"/>` +
    `<text x="${LABEL_X + 617}" y="${60 + shift}" class="label">target</text>`;
  return [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${WIDTH}" height="${y}" viewBox="0 0 ${WIDTH} ${y}" font-family="DejaVu Sans, Helvetica, Arial, sans-serif">`,
    '<style>.title{font-size:14px;font-weight:bold;fill:#222}.label{font-size:12px;fill:#222}' +
      '.value{font-size:12px;fill:#222;paint-order:stroke;stroke:#fff;stroke-width:3px}.axis{font-size:10px;fill:#777;text-anchor:middle}' +
      '.axis-left{font-size:10px;fill:#555}.note{font-size:12px;font-weight:bold;fill:#c0392b}' +
      '.grid{stroke:#e3e3e3;stroke-width:1}' +
      `.target{stroke:${COLORS.target};stroke-width:2.5}.reference{stroke:#444;stroke-width:1;stroke-dasharray:4 3}</style>`,
    `<rect width="${WIDTH}" height="${y}" fill="#fff"/>`,
    `<text x="${LABEL_X}" y="20" font-size="16" font-weight="bold" fill="#111">Tributary bench</text>`,
    `<text x="${LABEL_X}" y="38" font-size="12" fill="#555">${escapeXml(subtitle)}</text>`,
    ...(env.note ? [`<text x="${LABEL_X}" y="56" class="note">${escapeXml(env.note)}</text>`] : []),
    legend + targetLegend,
    ...body,
    '</svg>',
    '',
  ].join('\n');
}
