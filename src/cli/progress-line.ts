import { plural, type SourceProgress } from '../core/index.js';

/** What the progress line compares with: the previous tick's rows and when it was taken. */
export interface ProgressSample {
  readonly rowsRead: number;
  readonly atMs: number;
}

/** The figures the runner adds: changes committed so far and in how many checkpoints. */
export interface CommitTotals {
  readonly events: number;
  readonly checkpoints: number;
}

/**
 * The info-level progress line `tributary run` prints every interval. During a snapshot: rows read of the
 * source's estimate, the percentage, the rate over the last interval and the time left at that rate (the estimate
 * comes from table statistics, so the percentage stops at 99 % until the snapshot is done); while streaming: the
 * binlog position and lag. Both end with the changes committed so far.
 */
export function progressLine(
  p: SourceProgress,
  previous: ProgressSample | undefined,
  nowMs: number,
  totals: CommitTotals,
): string {
  const committed = `${plural(totals.events, 'change')} committed in ${plural(totals.checkpoints, 'checkpoint')}`;
  if (p.phase !== 'snapshot') {
    const bytes = p.lagBytes === undefined ? '' : ` (${count(p.lagBytes)} bytes)`;
    return `${p.phase}: binlog ${p.logPosition}, lag ${Math.round(p.lagMs / 1000)} s${bytes}; ${committed}`;
  }
  const parts: string[] = [];
  const estimate = p.snapshotRowsEstimate;
  if (estimate !== undefined && estimate > 0) {
    const percent = Math.min(99, Math.floor((p.snapshotRowsRead / estimate) * 100));
    parts.push(`${count(p.snapshotRowsRead)} of ~${count(estimate)} rows (${percent} %)`);
  } else {
    parts.push(plural(p.snapshotRowsRead, 'row'));
  }
  const seconds = previous === undefined ? 0 : (nowMs - previous.atMs) / 1000;
  if (previous !== undefined && seconds > 0) {
    const rate = Math.max(0, p.snapshotRowsRead - previous.rowsRead) / seconds;
    parts.push(`${count(Math.round(rate))} rows/s`);
    if (estimate !== undefined && rate > 0) {
      const left = Math.max(0, estimate - p.snapshotRowsRead);
      parts.push(`ETA ${duration(left / rate)}`);
    }
  }
  const tables = `${p.snapshotTablesDone}/${plural(p.snapshotTablesTotal, 'table')} done`;
  return `snapshot: ${parts.join(', ')}; ${tables}; binlog ${p.logPosition}; ${committed}`;
}

/**
 * The per-table detail (debug level): one line per table being snapshotted — started and not done — up to
 * {@link DETAIL_TABLES}, then one line for the rest: with 10,000 tables to go, 10,000 lines every 10 s would
 * be most of the log.
 */
export function progressDetail(p: SourceProgress): string[] {
  const tables = p.snapshotTables ?? [];
  const started = tables.filter((t) => t.rowsRead > 0);
  const lines = started
    .slice(0, DETAIL_TABLES)
    .map((t) =>
      t.rowsEstimate === undefined
        ? `  ${t.table}: ${plural(t.rowsRead, 'row')}`
        : `  ${t.table}: ${count(t.rowsRead)} of ~${count(t.rowsEstimate)} rows`,
    );
  const more = started.length - lines.length;
  const waiting = tables.length - started.length;
  if (more > 0 || waiting > 0) {
    const parts = [
      ...(more > 0 ? [`${count(more)} more being read`] : []),
      ...(waiting > 0 ? [`${count(waiting)} not started`] : []),
    ];
    const rest = more + waiting;
    lines.push(`  … ${count(rest)} ${rest === 1 ? 'table' : 'tables'} more: ${parts.join(', ')}`);
  }
  return lines;
}

/** At most this many tables are detailed one per line. */
const DETAIL_TABLES = 20;

function count(n: number): string {
  return n.toLocaleString('en-US');
}

/** `42 s`, `3 min 20 s`, `2 h 5 min`. */
function duration(seconds: number): string {
  const s = Math.round(seconds);
  if (s < 60) return `${s} s`;
  if (s < 3600) return `${Math.floor(s / 60)} min ${s % 60} s`;
  return `${Math.floor(s / 3600)} h ${Math.floor((s % 3600) / 60)} min`;
}

/** What the live display compares with: rows per snapshot table and changes committed, some seconds ago. */
export interface DisplaySample {
  readonly atMs: number;
  readonly tableRows: ReadonlyMap<string, number>;
  readonly rowsRead: number;
  readonly events: number;
}

export function displaySample(p: SourceProgress, nowMs: number, totals: CommitTotals): DisplaySample {
  return {
    atMs: nowMs,
    tableRows: new Map((p.snapshotTables ?? []).map((t) => [t.table, t.rowsRead])),
    rowsRead: p.snapshotRowsRead,
    events: totals.events,
  };
}

/** At most this many tables get a bar; the rest are one summary line. */
export const DISPLAY_TABLES = 8;
const BAR_WIDTH = 20;

/**
 * `run`'s live display on a terminal, redrawn in place every second (see live-region.ts): during a snapshot a
 * header (tables done, rows of the estimate, rate, ETA), then a bar per table being read — its percentage of
 * the row estimate (at most 99 % until the table is done), chunks done of the estimate (from rows and
 * `chunk.size`, hence `~`), rows, and ETA at the table's own rate since `previous` — up to
 * {@link DISPLAY_TABLES}, then a line for the rest; the last line gives the binlog position, the lag and the
 * changes committed. While streaming, that last line alone, with the rate of committed changes. Every line is
 * cut to `width` columns so the terminal never wraps one (which would break the redraw).
 */
export function progressDisplay(
  p: SourceProgress,
  previous: DisplaySample | undefined,
  nowMs: number,
  totals: CommitTotals,
  width: number,
): string[] {
  const seconds = previous === undefined ? 0 : (nowMs - previous.atMs) / 1000;
  const rate = (now: number, before: number | undefined) =>
    seconds > 0 && before !== undefined ? Math.max(0, now - before) / seconds : undefined;
  const committed = `${plural(totals.events, 'change')} committed in ${plural(totals.checkpoints, 'checkpoint')}`;
  const lag = `lag ${Math.round(p.lagMs / 1000)} s${p.lagBytes === undefined ? '' : ` (${count(p.lagBytes)} bytes)`}`;
  const lines: string[] = [];
  if (p.phase === 'snapshot') {
    const parts = [`snapshot: ${p.snapshotTablesDone} of ${plural(p.snapshotTablesTotal, 'table')} done`];
    const estimate = p.snapshotRowsEstimate;
    parts.push(
      estimate !== undefined && estimate > 0
        ? `${count(p.snapshotRowsRead)} of ~${count(estimate)} rows (${percentOf(p.snapshotRowsRead, estimate)} %)`
        : plural(p.snapshotRowsRead, 'row'),
    );
    const total = rate(p.snapshotRowsRead, previous?.rowsRead);
    if (total !== undefined) {
      parts.push(`${count(Math.round(total))} rows/s`);
      if (estimate !== undefined && total > 0)
        parts.push(`ETA ${duration(Math.max(0, estimate - p.snapshotRowsRead) / total)}`);
    }
    lines.push(parts.join(' · '));
    const tables = p.snapshotTables ?? [];
    const reading = tables.filter((t) => t.rowsRead > 0);
    const shown = reading.slice(0, DISPLAY_TABLES);
    const nameWidth = Math.min(30, Math.max(0, ...shown.map((t) => t.table.length)));
    for (const t of shown) {
      const name = t.table.length > nameWidth ? t.table.slice(0, nameWidth - 1) + '…' : t.table.padEnd(nameWidth);
      const cells = [name];
      if (t.rowsEstimate !== undefined && t.rowsEstimate > 0) {
        const percent = percentOf(t.rowsRead, t.rowsEstimate);
        const filled = Math.round((percent / 100) * BAR_WIDTH);
        cells.push(`${'█'.repeat(filled)}${'░'.repeat(BAR_WIDTH - filled)} ${String(percent).padStart(2)} %`);
        if (p.snapshotChunkSize !== undefined && p.snapshotChunkSize > 0) {
          const chunks = Math.max(1, Math.ceil(t.rowsEstimate / p.snapshotChunkSize));
          cells.push(
            `chunk ~${count(Math.min(chunks, Math.floor(t.rowsRead / p.snapshotChunkSize)))} of ~${count(chunks)}`,
          );
        }
        cells.push(`${count(t.rowsRead)} of ~${count(t.rowsEstimate)} rows`);
        const own = rate(t.rowsRead, previous?.tableRows.get(t.table));
        if (own !== undefined && own > 0) cells.push(`ETA ${duration(Math.max(0, t.rowsEstimate - t.rowsRead) / own)}`);
      } else {
        cells.push(plural(t.rowsRead, 'row'));
      }
      lines.push(`  ${cells.join('  ')}`);
    }
    const more = reading.length - shown.length;
    const waiting = tables.length - reading.length;
    if (more > 0 || waiting > 0) {
      const rest = [
        ...(more > 0 ? [`${count(more)} being read`] : []),
        ...(waiting > 0 ? [`${count(waiting)} not started`] : []),
      ];
      lines.push(`  … ${plural(more + waiting, 'table')} more: ${rest.join(', ')}`);
    }
    lines.push(`binlog ${p.logPosition} · ${lag} · ${committed}`);
  } else {
    const changes = rate(totals.events, previous?.events);
    lines.push(
      [
        `${p.phase}: binlog ${p.logPosition}`,
        lag,
        ...(changes === undefined ? [] : [`${count(Math.round(changes))} changes/s`]),
        committed,
      ].join(' · '),
    );
  }
  return lines.map((line) => fit(line, width));
}

function percentOf(part: number, whole: number): number {
  return Math.min(99, Math.floor((part / whole) * 100));
}

/** Cut to `width` columns (one column per code point: the display uses no wide characters of its own). */
function fit(line: string, width: number): string {
  const chars = [...line];
  return chars.length <= width ? line : chars.slice(0, Math.max(1, width - 1)).join('') + '…';
}
