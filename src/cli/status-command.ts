import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { composePipeline } from '../composer/pipeline-composer.js';
import { DEFAULT_HTTP_PORT, HTTP_PORT_ATTEMPTS } from '../config/pipeline-options.js';
import { plural } from '../core/index.js';
import type { Logger } from '../runtime/logger.js';
import type { PipelineStatus } from '../runtime/pipeline-metrics.js';
import { formatTable } from './format-table.js';
import { loadPipelineDef } from './load-pipeline-def.js';
import { HTTP_TOKEN_ENV } from '../ui/http-access.js';
import type { PipelineDef } from '../config/pipeline-def.js';
import type { ScaleOutStatus } from '../scale-out/cluster-status.js';
import { captureDef } from '../scale-out/scale-out-roles.js';
import { asTributaryError } from '../core/errors.js';

/** The file in the state directory where `run` notes its dashboard's URL (removed when it stops). */
export const HTTP_ADDRESS_FILE = 'http-address';

export interface StatusCommandOptions {
  readonly log: Logger;
  /** Ask this address instead of the file's `http.*`. */
  readonly http?: { readonly host: string; readonly port: number };
  readonly json?: boolean;
}

/**
 * `tributary status pipeline.yaml`: the running pipeline's state from its `/api/status` — at the address `run`
 * noted in the state directory, else the file's `http.host` / `http.port` and the ports after it that `run`
 * falls back to, accepting only an answer for this pipeline's name — or, when none answers, the saved state.
 */
export async function statusCommand(file: string, options: StatusCommandOptions): Promise<number> {
  const def = await loadPipelineDef(file);
  const name = def.pipeline.name;
  const out = (line: string) => process.stdout.write(line + '\n');
  const token = def.pipeline.http?.token ?? (process.env[HTTP_TOKEN_ENV] || undefined);
  if (def.scaleOut !== undefined) return await scaleOutStatus(def, options, token, out);
  const status = await findRunning(def.pipeline.stateDir, name, options.http ?? def.pipeline.http, token);
  if (status) {
    if (options.json) out(JSON.stringify(status.status, null, 2));
    else for (const line of describeStatus(status.status, status.url)) out(line);
    return 0;
  }
  const pipeline = composePipeline(def, { log: options.log });
  const { checkpoint, from, sinkError } = await pipeline.lastCheckpoint();
  if (options.json) {
    out(JSON.stringify({ pipeline: name, state: 'not running', checkpoint, from }, null, 2));
    return 0;
  }
  out(`pipeline ${name}: not running (no dashboard answered for it)`);
  if (sinkError)
    out(`  the sink could not be read (${sinkError.code}: ${sinkError.message}); the state directory's copy:`);
  out(
    checkpoint
      ? `  last checkpoint ${checkpoint.id} at ${checkpoint.committedAt} (from the ${from === 'sink' ? `sink, ${def.sink.type}` : 'state directory'}): a run resumes there`
      : '  no checkpoint: a run starts with a snapshot',
  );
  out('  details: tributary state ' + file);
  return 0;
}

/**
 * A scale-out pipeline: the capture's state from its dashboard (as for one process, under the name
 * `<name>-capture`), and the apply workers, their partitions and lag (and the snapshot readers, when remote) read
 * from the lease bucket in NATS.
 */
async function scaleOutStatus(
  def: PipelineDef,
  options: StatusCommandOptions,
  token: string | undefined,
  out: (line: string) => void,
): Promise<number> {
  const capture = captureDef(def);
  const running = await findRunning(
    capture.pipeline.stateDir,
    capture.pipeline.name,
    options.http ?? def.pipeline.http,
    token,
  );
  let cluster: ScaleOutStatus | undefined;
  let failure: string | undefined;
  // Loaded here, not at start-up: only a scale-out pipeline needs the NATS client.
  const { readScaleOutStatus } = await import('../scale-out/cluster-monitor.js');
  try {
    cluster = await readScaleOutStatus(def, options.log);
  } catch (error) {
    failure = asTributaryError(error).format();
  }
  if (options.json) {
    const { scaleOut: _shown, ...captureStatus } = (running?.status ?? {}) as PipelineStatus & { scaleOut?: unknown };
    out(
      JSON.stringify(
        {
          pipeline: def.pipeline.name,
          capture: running ? captureStatus : { state: 'not running' },
          scaleOut: cluster ?? null,
          ...(failure === undefined ? {} : { error: failure }),
        },
        null,
        2,
      ),
    );
    return failure === undefined ? 0 : 1;
  }
  if (running) for (const line of describeStatus(running.status, running.url)) out(line);
  else out(`capture ${capture.pipeline.name}: not running (no dashboard answered for it)`);
  if (cluster) for (const line of describeScaleOut(cluster)) out(line);
  else out(`apply workers: unknown (${failure})`);
  return failure === undefined ? 0 : 1;
}

/** The apply workers and partitions (and the snapshot readers, when remote) of a scale-out pipeline, for a terminal. */
export function describeScaleOut(s: ScaleOutStatus): string[] {
  const up = s.workers.filter((w) => w.up);
  const unleased = s.partitions.filter((p) => p.worker === null).map((p) => p.partition);
  const lines = [
    `scale-out: stream ${s.stream}${s.streamLastSeq === null ? '' : ` (last sequence ${s.streamLastSeq})`}, ${plural(up.length, 'apply worker')} up, ${plural(s.partitionCount, 'partition')}${unleased.length === 0 ? ', all leased' : `; not leased: ${unleased.join(', ')}`}`,
  ];
  const lagOf = (id: string) =>
    s.partitions.filter((p) => p.worker === id).reduce((sum, p) => sum + (p.lagMessages ?? 0), 0);
  if (s.workers.length > 0) {
    lines.push(
      formatTable(
        s.workers.map((w) => ({
          worker: w.id,
          state: w.up ? 'up' : 'down',
          'host/pid': `${w.host}${w.pid ? `/${w.pid}` : ''}`,
          heartbeat: `${w.heartbeatAgeSeconds.toFixed(1)} s ago`,
          partitions: w.partitions.join(',') || '-',
          'rows applied': w.rowsApplied,
          'rows/s': w.rowsPerSecond,
          'lag (messages)': w.up ? lagOf(w.id) : null,
        })),
      ),
    );
  }
  lines.push(
    formatTable(
      s.partitions.map((p) => ({
        partition: p.partition,
        worker: p.worker ?? '(none)',
        position: p.position,
        'lag (messages)': p.lagMessages,
        'rows applied': p.rowsApplied,
      })),
    ),
  );
  if (s.snapshotReaders === 'remote') lines.push(...describeSnapshotReaders(s));
  return lines;
}

/** The snapshot readers and the work queue of a scale-out pipeline with `snapshot.readers: remote`. */
function describeSnapshotReaders(s: ScaleOutStatus): string[] {
  const up = s.readers.filter((r) => r.up);
  const q = s.snapshotQueue;
  const lines = [
    `snapshot readers: ${plural(up.length, 'reader')} up; work queue ${s.stream}_chunks: ${q === null ? 'not created yet' : `${q.waiting} waiting, ${q.inFlight} in flight${q.redelivered > 0 ? ` (${q.redelivered} redelivered)` : ''}`}`,
  ];
  if (s.readers.length > 0) {
    lines.push(
      formatTable(
        s.readers.map((r) => ({
          reader: r.id,
          state: r.up ? 'up' : 'down',
          'host/pid': `${r.host}${r.pid ? `/${r.pid}` : ''}`,
          heartbeat: `${r.heartbeatAgeSeconds.toFixed(1)} s ago`,
          started: r.startedAt || null,
          chunks: r.chunksRead,
          rows: r.rowsRead,
          'rows/s': r.rowsPerSecond,
          'chunk in hand':
            r.chunk === null ? '-' : `${r.chunk.id}${r.chunk.delivery > 1 ? ` (delivery ${r.chunk.delivery})` : ''}`,
        })),
      ),
    );
  }
  return lines;
}

async function findRunning(
  stateDir: string,
  name: string,
  http: { readonly host: string; readonly port: number } | undefined,
  token: string | undefined,
): Promise<{ status: PipelineStatus; url: string } | undefined> {
  const candidates: string[] = [];
  const noted = await readFile(join(stateDir, HTTP_ADDRESS_FILE), 'utf8').catch(() => undefined);
  if (noted?.trim()) candidates.push(noted.trim());
  const host = http?.host === '0.0.0.0' || http?.host === undefined ? '127.0.0.1' : http.host;
  const port = http?.port ?? DEFAULT_HTTP_PORT;
  const shown = host.includes(':') ? `[${host}]` : host;
  if (port !== 0) for (let i = 0; i <= HTTP_PORT_ATTEMPTS; i++) candidates.push(`http://${shown}:${port + i}/`);
  for (const url of candidates) {
    try {
      const response = await fetch(new URL('api/status', url), {
        signal: AbortSignal.timeout(2000),
        ...(token === undefined ? {} : { headers: { authorization: `Bearer ${token}` } }),
      });
      if (!response.ok) continue;
      const status = (await response.json()) as PipelineStatus;
      if (status.pipeline === name) return { status, url };
    } catch {
      // nothing there: the next candidate
    }
  }
  return undefined;
}

/** The status for a terminal. */
export function describeStatus(s: PipelineStatus, url: string): string[] {
  const lines = [`pipeline ${s.pipeline}: ${s.state}, ${s.phase} (dashboard ${url})`];
  lines.push(
    `  since ${s.startedAt}; binlog ${s.logPosition ?? '—'}, lag ${s.lagSeconds === null ? '—' : `${s.lagSeconds.toFixed(1)} s`}${s.lagBytes === null ? '' : ` (${formatBytes(s.lagBytes)} of binlog behind)`}`,
  );
  lines.push(`  rows read ${s.rowsIn.toLocaleString('en-US')}, written ${s.rowsOut.toLocaleString('en-US')}`);
  const snap = s.snapshot;
  if (snap.tablesTotal > 0) {
    const estimate = snap.rowsEstimate === null ? '' : ` of ~${snap.rowsEstimate.toLocaleString('en-US')}`;
    lines.push(
      `  snapshot: ${snap.tablesDone} of ${plural(snap.tablesTotal, 'table')} done, ${snap.rowsRead.toLocaleString('en-US')}${estimate} rows`,
    );
  }
  const c = s.checkpoints;
  lines.push(
    c.lastId === null
      ? '  no checkpoint yet'
      : `  checkpoint ${c.lastId} at ${c.lastAt} (${c.lastDurationMs} ms, ${plural(c.lastSize ?? 0, 'change')}); ${plural(c.count, 'checkpoint')} this run, ${c.failures} failed`,
  );
  if (s.schemaChanges.total > 0) {
    lines.push(`  ${plural(s.schemaChanges.total, 'schema change')} applied, the latest:`);
    for (const change of s.schemaChanges.recent.slice(-5))
      lines.push(`    ${change.at} ${change.table}: ${change.change}`);
  }
  if (s.errors.recent.length > 0) {
    lines.push(
      `  errors: ${Object.entries(s.errors.byCode)
        .map(([code, n]) => `${code} ×${n}`)
        .join(', ')}; the last:`,
    );
    const last = s.errors.recent[s.errors.recent.length - 1]!;
    lines.push(`    [${last.code}] ${last.message}${last.fix ? `\n    fix: ${last.fix}` : ''}`);
  }
  const tables = s.tables.filter((t) => t.rowsIn > 0 || t.rowsOut > 0 || t.snapshot);
  if (tables.length > 0 && tables.length <= 30) {
    lines.push(
      formatTable(
        tables.map((t) => ({
          table: t.table,
          'rows read': t.rowsIn,
          'rows written': t.rowsOut,
          snapshot: t.snapshot ? (t.snapshot.done ? 'done' : `${t.snapshot.rowsRead} read`) : '',
        })),
      ),
    );
  } else if (tables.length > 30) {
    lines.push(`  ${plural(tables.length, 'table')}: see the dashboard or --json`);
  }
  return lines;
}

/** `512 B`, `3.4 MiB`: binlog bytes for humans. */
export function formatBytes(bytes: number): string {
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
  let value = bytes;
  let unit = 0;
  while (value >= 1024 && unit < units.length - 1) {
    value /= 1024;
    unit++;
  }
  return unit === 0 ? `${bytes} B` : `${value.toFixed(1)} ${units[unit]}`;
}
