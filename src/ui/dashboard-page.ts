import type { PipelineStatus } from '../runtime/pipeline-metrics.js';
import type { ScaleOutStatus } from '../scale-out/cluster-status.js';
import type { HistoryPoint } from './status-history.js';

/**
 * The dashboard, rendered on the server: the whole page works without JavaScript (reload to update), and the
 * live updates replace each section's inner HTML with the same renderer's output ({@link dashboardSections}),
 * so there is one template, not a second one in the browser.
 */
export function dashboardPage(
  status: PipelineStatus,
  history: readonly HistoryPoint[],
  pipelineFile: string,
  scaleOut?: ScaleOutView,
): string {
  const sections = dashboardSections(status, history, scaleOut);
  const section = (id: keyof typeof sections, title: string) =>
    sections[id] === undefined
      ? ''
      : `<section aria-labelledby="${id}-title"><h2 id="${id}-title">${title}</h2><div id="${id}" aria-live="polite">${sections[id]}</div></section>`;
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>${esc(status.pipeline)} · Tributary</title>
<link rel="stylesheet" href="dashboard.css">
</head>
<body>
<header>
<h1>Pipeline <span id="pipeline-name">${esc(status.pipeline)}</span></h1>
<p>Tributary dashboard · <span id="live-state">static page (reload to update)</span> ·
<a href="metrics">Prometheus metrics</a> · <a href="api/status">status JSON</a></p>
</header>
<main>
${section('summary', 'State')}
${section('workers', 'Scale-out: apply workers')}
${section('readers', 'Scale-out: snapshot readers')}
${section('snapshot', 'Snapshot')}
${section('charts', 'Throughput and lag')}
${section('checkpoints', 'Checkpoints')}
${section('tables', 'Tables')}
${section('schema-changes', 'Schema changes applied')}
${section('errors', 'Errors')}
<section aria-labelledby="file-title"><h2 id="file-title">Pipeline file</h2>
<p>Secrets are shown as <code>***</code>.</p>
<pre id="pipeline-file">${esc(pipelineFile)}</pre></section>
</main>
<script src="dashboard.js" defer></script>
</body>
</html>
`;
}

/**
 * The cluster view of a scale-out pipeline, when the page shows one (the capture's and the apply workers'
 * dashboards): undefined inside until the lease bucket was first read.
 */
export interface ScaleOutView {
  readonly current: () => ScaleOutStatus | undefined;
  /** `scale-out.snapshot.readers`: the page has a snapshot readers section with `remote`. */
  readonly snapshotReaders?: 'local' | 'remote';
}

/**
 * The parts of the page that change, by element id (`workers` only with a scale-out view, `readers` only when
 * its snapshot readers are remote).
 */
export function dashboardSections(status: PipelineStatus, history: readonly HistoryPoint[], scaleOut?: ScaleOutView) {
  return {
    summary: summary(status),
    workers: scaleOut === undefined ? undefined : workers(scaleOut.current()),
    readers: scaleOut?.snapshotReaders === 'remote' ? readers(scaleOut.current()) : undefined,
    snapshot: snapshot(status),
    charts: charts(history),
    checkpoints: checkpoints(status),
    tables: tables(status),
    'schema-changes': schemaChanges(status),
    errors: errors(status),
  };
}

function summary(s: PipelineStatus): string {
  const lag = s.lagSeconds === null ? '—' : `${fixed(s.lagSeconds, 1)} s`;
  const lagBytes = s.lagBytes === null ? '' : `, ${count(s.lagBytes)} bytes`;
  return dl([
    ['State', `<span id="state" data-state="${esc(s.state)}">${esc(s.state)}</span>`],
    ['Phase', `<span id="phase">${esc(s.phase)}</span>`],
    ['Log position', `<code id="position">${esc(s.logPosition ?? '—')}</code>`],
    ['Lag', `<span id="lag">${esc(lag + lagBytes)}</span>`],
    ['Rows read from the source', `<span id="rows-in">${count(s.rowsIn)}</span>`],
    ['Rows handed to the sink', `<span id="rows-out">${count(s.rowsOut)}</span>`],
    ['Waiting for', esc(s.watchdog?.waitingFor ?? '—')],
    ['Started', `<time datetime="${esc(s.startedAt)}">${esc(s.startedAt)}</time>`],
  ]);
}

function workers(s: ScaleOutStatus | undefined): string {
  if (s === undefined) return '<p id="workers-state" data-state="unknown">Reading the lease bucket…</p>';
  const up = s.workers.filter((w) => w.up);
  const unleased = s.partitions.filter((p) => p.worker === null).length;
  const lagOf = (id: string) =>
    s.partitions.filter((p) => p.worker === id).reduce((sum, p) => sum + (p.lagMessages ?? 0), 0);
  const head = `<p id="workers-state" data-state="${up.length > 0 ? 'up' : 'none'}">Stream <code>${esc(s.stream)}</code>${s.streamLastSeq === null ? '' : ` (last sequence ${count(s.streamLastSeq)})`}: ${count(up.length)} ${up.length === 1 ? 'worker' : 'workers'} up, ${count(s.partitionCount)} partitions, ${unleased === 0 ? 'all leased' : `<strong>${count(unleased)} not leased</strong>`}; read at <time datetime="${esc(s.at)}">${esc(s.at)}</time>.${s.error === null ? '' : ` <strong>Last read failed:</strong> ${esc(s.error)}`}</p>`;
  const workerRows = s.workers
    .map(
      (w) =>
        `<tr data-worker="${esc(w.id)}" data-up="${w.up}"><th scope="row">${esc(w.id)}</th><td>${w.up ? 'up' : 'down'}</td><td>${esc(w.host)}${w.pid ? ` / ${w.pid}` : ''}</td><td>${fixed(w.heartbeatAgeSeconds, 1)} s</td><td class="partitions">${esc(w.partitions.join(', ') || '—')}</td><td>${count(w.rowsApplied)}</td><td>${fixed(w.rowsPerSecond, 1)}</td><td>${w.up ? count(lagOf(w.id)) : '—'}</td></tr>`,
    )
    .join('');
  const workerTable =
    s.workers.length === 0
      ? '<p>No apply worker has a heartbeat in the lease bucket.</p>'
      : `<table id="worker-table"><caption>Workers (a heartbeat every ${fixed(s.leaseTtlMs / 5000, 1)} s; gone after ${fixed(s.leaseTtlMs / 1000, 1)} s without one)</caption><thead><tr><th scope="col">worker</th><th scope="col">state</th><th scope="col">host / pid</th><th scope="col">heartbeat age</th><th scope="col">partitions</th><th scope="col">rows applied</th><th scope="col">rows/s</th><th scope="col">lag (messages)</th></tr></thead><tbody>${workerRows}</tbody></table>`;
  const partitionRows = s.partitions
    .map(
      (p) =>
        `<tr data-partition="${p.partition}"><th scope="row">${p.partition}</th><td>${p.worker === null ? '<strong>none</strong>' : esc(p.worker)}</td><td>${p.position === null ? '—' : count(p.position)}</td><td>${p.lagMessages === null ? '—' : count(p.lagMessages)}</td><td>${p.rowsApplied === null ? '—' : count(p.rowsApplied)}</td></tr>`,
    )
    .join('');
  return `${head}${workerTable}<table id="partition-table"><caption>Partitions</caption><thead><tr><th scope="col">partition</th><th scope="col">worker</th><th scope="col">position (stream sequence)</th><th scope="col">lag (messages)</th><th scope="col">rows applied</th></tr></thead><tbody>${partitionRows}</tbody></table>`;
}

function readers(s: ScaleOutStatus | undefined): string {
  if (s === undefined) return '<p id="readers-state" data-state="unknown">Reading the lease bucket…</p>';
  const up = s.readers.filter((r) => r.up);
  const q = s.snapshotQueue;
  const queue =
    q === null
      ? 'not created yet'
      : `${count(q.waiting)} ${q.waiting === 1 ? 'chunk' : 'chunks'} waiting, ${count(q.inFlight)} in flight${q.redelivered > 0 ? ` (${count(q.redelivered)} redelivered)` : ''}`;
  const head = `<p id="readers-state" data-state="${up.length > 0 ? 'up' : 'none'}">${count(up.length)} ${up.length === 1 ? 'reader' : 'readers'} up; work queue <code>${esc(s.stream)}_chunks</code>: <span id="snapshot-queue">${queue}</span>; read at <time datetime="${esc(s.at)}">${esc(s.at)}</time>.</p>`;
  if (s.readers.length === 0)
    return `${head}<p>No snapshot reader has a heartbeat in the lease bucket: start <code>tributary run &lt;pipeline.yaml&gt; --role snapshot-reader</code>.</p>`;
  const rows = s.readers
    .map(
      (r) =>
        `<tr data-reader="${esc(r.id)}" data-up="${r.up}"><th scope="row">${esc(r.id)}</th><td>${r.up ? 'up' : 'down'}</td><td>${esc(r.host)}${r.pid ? ` / ${r.pid}` : ''}</td><td>${fixed(r.heartbeatAgeSeconds, 1)} s</td><td>${r.startedAt ? `<time datetime="${esc(r.startedAt)}">${esc(r.startedAt)}</time>` : '—'}</td><td>${count(r.chunksRead)}</td><td>${count(r.rowsRead)}</td><td>${fixed(r.rowsPerSecond, 1)}</td><td class="chunk">${r.chunk === null ? '—' : `<code>${esc(r.chunk.id)}</code>${r.chunk.delivery > 1 ? ` (delivery ${r.chunk.delivery})` : ''} since <time datetime="${esc(r.chunk.since)}">${esc(r.chunk.since)}</time>`}</td></tr>`,
    )
    .join('');
  return `${head}<table id="reader-table"><caption>Snapshot readers (a heartbeat every ${fixed(s.leaseTtlMs / 5000, 1)} s; gone after ${fixed(s.leaseTtlMs / 1000, 1)} s without one)</caption><thead><tr><th scope="col">reader</th><th scope="col">state</th><th scope="col">host / pid</th><th scope="col">heartbeat age</th><th scope="col">started</th><th scope="col">chunks read</th><th scope="col">rows read</th><th scope="col">rows/s</th><th scope="col">chunk in hand</th></tr></thead><tbody>${rows}</tbody></table>`;
}

function snapshot(s: PipelineStatus): string {
  const snap = s.snapshot;
  if (snap.tablesTotal === 0 && s.phase !== 'snapshot')
    return `<p id="snapshot-state" data-state="none">No snapshot in this run.</p>`;
  const done = s.phase === 'streaming' || s.phase === 'done';
  const estimate = snap.rowsEstimate;
  // The estimate comes from table statistics: the bar stops at 99 % until the snapshot is done.
  const percent = done ? 100 : estimate ? Math.min(99, Math.floor((snap.rowsRead / estimate) * 100)) : 0;
  const rows = estimate ? `${count(snap.rowsRead)} of ~${count(estimate)} rows` : `${count(snap.rowsRead)} rows`;
  const chunks =
    snap.chunksDone === null
      ? ''
      : `; ${count(snap.chunksDone)}${snap.chunksEstimate !== null && !done ? ` of ~${count(snap.chunksEstimate)}` : ''} chunks`;
  const perTable = s.tables.filter((t) => t.snapshot !== null);
  const rowsHtml = perTable
    .map((t) => {
      const sn = t.snapshot!;
      const tDone = sn.done || done;
      const p = tDone ? 100 : sn.rowsEstimate ? Math.min(99, Math.floor((sn.rowsRead / sn.rowsEstimate) * 100)) : 0;
      return `<tr><th scope="row">${esc(t.table)}</th><td><progress max="100" value="${p}" aria-label="${esc(t.table)} snapshot">${p} %</progress></td><td>${count(sn.rowsRead)}${sn.rowsEstimate !== null ? ` of ~${count(sn.rowsEstimate)}` : ''}</td><td>${tDone ? 'done' : 'reading'}</td></tr>`;
    })
    .join('');
  return `<p id="snapshot-state" data-state="${done ? 'done' : 'running'}">${done ? 'Snapshot done' : 'Snapshot running'}: ${count(snap.tablesDone)} of ${count(snap.tablesTotal)} tables, ${rows}${chunks}.</p>
<p><progress id="snapshot-progress" max="100" value="${percent}" aria-label="snapshot progress">${percent} %</progress> <span id="snapshot-percent">${percent} %</span></p>
${perTable.length === 0 ? '' : `<table><caption>Per table (tables read by this run)</caption><thead><tr><th scope="col">table</th><th scope="col">progress</th><th scope="col">rows</th><th scope="col">state</th></tr></thead><tbody>${rowsHtml}</tbody></table>`}`;
}

function charts(history: readonly HistoryPoint[]): string {
  if (history.length < 2) return '<p>Collecting samples…</p>';
  return `<div class="charts">${chart(
    'Rows per second',
    history,
    [
      { label: 'in', value: (p) => p.inPerSecond, css: 'in' },
      { label: 'out', value: (p) => p.outPerSecond, css: 'out' },
    ],
    'rows/s',
  )}${chart('Lag', history, [{ label: 'lag', value: (p) => p.lagSeconds, css: 'lag' }], 's')}</div>`;
}

interface Series {
  readonly label: string;
  readonly value: (p: HistoryPoint) => number;
  readonly css: string;
}

/** A small line chart in SVG: the last points, scaled to their maximum. */
function chart(title: string, points: readonly HistoryPoint[], series: readonly Series[], unit: string): string {
  const width = 320;
  const height = 90;
  const t0 = points[0]!.at;
  const span = Math.max(1, points[points.length - 1]!.at - t0);
  const max = Math.max(1e-9, ...points.flatMap((p) => series.map((s) => s.value(p))));
  const lines = series
    .map((s) => {
      const coords = points
        .map((p) => `${fixed(((p.at - t0) / span) * width, 1)},${fixed(height - (s.value(p) / max) * height, 1)}`)
        .join(' ');
      return `<polyline class="${s.css}" fill="none" points="${coords}"/>`;
    })
    .join('');
  const latest = points[points.length - 1]!;
  const now = series.map((s) => `${s.label} ${fixed(s.value(latest), 1)} ${unit}`).join(', ');
  const minutes = Math.round(span / 6000) / 10;
  return `<figure><svg role="img" viewBox="0 0 ${width} ${height}" width="${width}" height="${height}" aria-label="${esc(`${title} over the last ${minutes} min; now ${now}`)}">${lines}</svg><figcaption>${esc(title)} (last ${minutes} min, max ${fixed(max, 1)} ${unit}): ${esc(now)}</figcaption></figure>`;
}

function checkpoints(s: PipelineStatus): string {
  const c = s.checkpoints;
  const age = c.lastAt === null ? '—' : `${fixed((Date.parse(s.now) - Date.parse(c.lastAt)) / 1000, 1)} s`;
  return dl([
    ['Committed', `<span id="checkpoint-count">${count(c.count)}</span>`],
    ['Last', c.lastId === null ? '—' : `#${c.lastId} at <time datetime="${esc(c.lastAt!)}">${esc(c.lastAt!)}</time>`],
    ['Age', age],
    ['Duration of the last', c.lastDurationMs === null ? '—' : `${c.lastDurationMs} ms`],
    ['Changes in the last', c.lastSize === null ? '—' : count(c.lastSize)],
    ['Failed while committing', count(c.failures)],
  ]);
}

function tables(s: PipelineStatus): string {
  const list = s.tables.filter((t) => t.rowsIn > 0 || t.rowsOut > 0);
  if (list.length === 0) return '<p>No rows yet.</p>';
  const note = s.tablesCapped
    ? '<p>Tables past the series cap are summed as <code>_other</code> (see docs/operating.md).</p>'
    : '';
  return `${note}<table><thead><tr><th scope="col">table</th><th scope="col">rows read (source table)</th><th scope="col">rows written (sink table)</th></tr></thead><tbody>${list
    .map((t) => `<tr><th scope="row">${esc(t.table)}</th><td>${count(t.rowsIn)}</td><td>${count(t.rowsOut)}</td></tr>`)
    .join('')}</tbody></table>`;
}

function schemaChanges(s: PipelineStatus): string {
  if (s.schemaChanges.total === 0) return '<p>None so far.</p>';
  const items = [...s.schemaChanges.recent]
    .reverse()
    .map(
      (c) =>
        `<li><time datetime="${esc(c.at)}">${esc(c.at)}</time> <strong>${esc(c.table)}</strong>: ${esc(c.change)}${c.ddl ? ` — <code>${esc(c.ddl)}</code>` : ''}</li>`,
    )
    .join('');
  return `<p>${count(s.schemaChanges.total)} in all; the latest first:</p><ul id="schema-change-list">${items}</ul>`;
}

function errors(s: PipelineStatus): string {
  if (s.errors.recent.length === 0) return '<p>None.</p>';
  const items = [...s.errors.recent]
    .reverse()
    .map(
      (e) =>
        `<li><time datetime="${esc(e.at)}">${esc(e.at)}</time> <code>[${esc(e.code)}]</code> ${esc(e.message)}${e.retryable ? ' (retried)' : ''}${e.fix ? `<br>fix: ${esc(e.fix)}` : ''}</li>`,
    )
    .join('');
  return `<ul id="error-list">${items}</ul><p>Codes are explained in docs/errors.md.</p>`;
}

function dl(rows: readonly (readonly [string, string])[]): string {
  return `<dl>${rows.map(([k, v]) => `<dt>${esc(k)}</dt><dd>${v}</dd>`).join('')}</dl>`;
}

function count(n: number): string {
  return n.toLocaleString('en-US');
}

function fixed(n: number, digits: number): string {
  return Number.isFinite(n) ? n.toFixed(digits) : '0';
}

/** HTML-escapes text for element content and attribute values. */
export function esc(text: string): string {
  return text.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}
