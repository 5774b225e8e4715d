import { composePipeline } from '../composer/pipeline-composer.js';
import type { Logger } from '../runtime/logger.js';
import { plural, type Source } from '../core/index.js';
import {
  displaySample,
  progressDetail,
  progressDisplay,
  progressLine,
  type DisplaySample,
  type ProgressSample,
} from './progress-line.js';
import type { LiveRegion } from './live-region.js';
import { loadPipelineDef } from './load-pipeline-def.js';
import { checkBeforeRun } from './startup-checks.js';
import { captureDef, captureSnapshotReaders, scaleOutSettings } from '../scale-out/scale-out-roles.js';
import { dashboardToken, dashboardWanted, startRunDashboard } from './run-dashboard.js';

/** How often `run` prints its progress line. */
const PROGRESS_INTERVAL_MS = 10_000;
/** How often the live display on a terminal is redrawn, and over how many redraws its rates are taken. */
const DISPLAY_INTERVAL_MS = 1000;
const DISPLAY_RATE_TICKS = 5;

export interface RunCommandOptions {
  readonly log: Logger;
  readonly reset: boolean;
  /** With `reset`: empty the sink tables first (the CLI asks for --yes). */
  readonly truncateTargets?: boolean;
  readonly fromSavepoint?: string;
  /** `--http host:port` (overrides `pipeline.http.*`), or false for `--no-http`. */
  readonly http?: { readonly host: string; readonly port: number } | false;
  /** On a terminal: the live display (progress bars) instead of the progress line every 10 s. */
  readonly live?: LiveRegion;
  /** `--role capture`: the capture role of a scale-out pipeline (source → the JetStream stream). */
  readonly role?: 'capture';
}

/**
 * After a stop signal, the process exits by this time whatever hangs (final checkpoint bound 10 s + goodbyes),
 * inside the 30 s orchestrators commonly allow before SIGKILL.
 */
const HARD_EXIT_MS = 25_000;

/**
 * `tributary run pipeline.yaml`: validates, then runs until SIGINT/SIGTERM, when it takes a final checkpoint
 * and exits 0. A second signal exits at once (the last checkpoint still holds; nothing is lost).
 */
export async function runCommand(file: string, options: RunCommandOptions): Promise<number> {
  const { log } = options;
  const loaded = await loadPipelineDef(file);
  const def = options.role === 'capture' ? captureDef(loaded) : loaded;
  // `snapshot.readers: remote`: the capture hands its snapshot chunks to snapshot readers (docs/scale-out.md).
  const settings = options.role === 'capture' ? scaleOutSettings(loaded) : undefined;
  const remoteChunks =
    settings !== undefined && captureSnapshotReaders(loaded, (message) => log.warn(message)) === 'remote'
      ? // Loaded only here: the NATS client is a scale-out pipeline's, not every run's (issue 16).
        new (await import('../scale-out/snapshot-queue.js')).SnapshotWorkQueue(
          settings,
          log.child('snapshot'),
          def.pipeline.name,
        )
      : undefined;
  const pipeline = composePipeline(def, { log, ...(remoteChunks ? { remoteChunks } : {}) });
  // A server beyond loopback without a token stops the run here, before anything connects.
  const httpTokenValue = dashboardToken(def, options.http, log);
  const controller = new AbortController();
  const onSignal = (signal: NodeJS.Signals) => {
    if (controller.signal.aborted) {
      log.warn(`${signal} again: exiting now; the pipeline resumes from its last checkpoint`);
      process.exit(130);
    }
    log.info(`${signal}: taking a final checkpoint and stopping`);
    controller.abort();
    // The runner bounds the final checkpoint and the goodbyes; this is the backstop for anything else.
    setTimeout(() => {
      log.warn(
        `still running ${HARD_EXIT_MS / 1000} s after ${signal}: exiting now; the pipeline resumes from its last checkpoint`,
      );
      process.exit(130);
    }, HARD_EXIT_MS).unref();
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  try {
    return await validateAndRun();
  } finally {
    await remoteChunks?.close();
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
  }

  async function validateAndRun(): Promise<number> {
    // The checkpoint this run resumes from (the saved one, or the savepoint asked for) is checked; none with --reset.
    const report = await checkBeforeRun(pipeline, {
      ignoreSavedState: options.reset,
      ...(options.fromSavepoint === undefined ? {} : { fromSavepoint: options.fromSavepoint }),
      signal: controller.signal,
      log,
    });
    if (report === undefined) {
      log.info(`pipeline ${def.pipeline.name} stopped before it started`);
      return 0;
    }
    const { source, checks } = report;
    for (const check of checks) {
      if (check.status === 'warning')
        log.warn(`${check.code ? `[${check.code}] ` : ''}${check.message}${check.fix ? `\n  fix: ${check.fix}` : ''}`);
    }
    log.info(
      `pipeline ${def.pipeline.displayName === undefined ? def.pipeline.name : `"${def.pipeline.displayName}" (state and checkpoints as ${def.pipeline.name})`}: ${plural(source.tables.length, 'source table')}, checkpoint every ${def.pipeline.checkpointIntervalMs} ms`,
    );

    if (controller.signal.aborted) {
      // Stopped while the checks ran: nothing was started, and the last checkpoint (if any) still holds.
      log.info(`pipeline ${def.pipeline.name} stopped before it started`);
      return 0;
    }

    // The capture's dashboard shows the cluster: every apply worker, its partitions and their lag.
    const monitor =
      options.role === 'capture' && dashboardWanted(def, options.http)
        ? (await import('../scale-out/cluster-monitor.js')).startScaleOutMonitor(loaded, { log })
        : undefined;
    const dashboard = await startRunDashboard({
      file,
      def,
      http: options.http,
      token: httpTokenValue,
      metrics: pipeline.metrics,
      log,
      noteDir: pipeline.stateStore().dir,
      ...(monitor === undefined ? {} : { scaleOut: monitor }),
    });
    let current: Source | undefined;
    let checkpoints = 0;
    let events = 0;
    let previous: ProgressSample | undefined;
    const live = options.live;
    let samples: DisplaySample[] = [];
    const ticker = live
      ? setInterval(() => {
          if (!current) return;
          const p = current.progress();
          const now = Date.now();
          const totals = { events, checkpoints };
          live.draw(progressDisplay(p, samples[0], now, totals, live.columns));
          samples = [...samples, displaySample(p, now, totals)].slice(-DISPLAY_RATE_TICKS);
        }, DISPLAY_INTERVAL_MS)
      : setInterval(() => {
          if (!current) return;
          const p = current.progress();
          const now = Date.now();
          log.info(progressLine(p, previous, now, { events, checkpoints }));
          for (const line of progressDetail(p)) log.debug(line);
          previous = { rowsRead: p.snapshotRowsRead, atMs: now };
        }, PROGRESS_INTERVAL_MS);
    try {
      const result = await pipeline.run({
        signal: controller.signal,
        reset: options.reset,
        truncateTargets: options.truncateTargets === true,
        ...(options.fromSavepoint ? { fromSavepoint: options.fromSavepoint } : {}),
        onStart: (parts) => {
          current = parts.source;
          previous = undefined; // a retry's source counts its rows from zero
          samples = [];
        },
        onCheckpoint: (_checkpoint, stats) => {
          checkpoints++;
          events += stats.events;
        },
      });
      log.info(
        `pipeline ${def.pipeline.name} ${result.outcome}; last checkpoint ${result.lastCheckpoint?.id ?? 'none'}`,
      );
      return 0;
    } finally {
      clearInterval(ticker);
      live?.stop();
      await dashboard?.close();
      await monitor?.close();
    }
  }
}
