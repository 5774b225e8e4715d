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
