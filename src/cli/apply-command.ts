import type { Logger } from '../runtime/logger.js';
import { PipelineMetrics } from '../runtime/pipeline-metrics.js';
import { runApplyWorker } from '../scale-out/apply-worker.js';
import { startScaleOutMonitor } from '../scale-out/cluster-monitor.js';
import { loadPipelineDef } from './load-pipeline-def.js';
import { dashboardToken, dashboardWanted, startRunDashboard, type HttpOption } from './run-dashboard.js';

/** After a stop signal, the process exits by this time whatever hangs (each partition's final checkpoint is bounded). */
const HARD_EXIT_MS = 25_000;

/**
 * `tributary run pipeline.yaml --role apply`: an apply worker of a scale-out pipeline, until SIGINT/SIGTERM,
 * when it stops its partitions (final checkpoints), releases their leases and exits 0. Its dashboard (as
 * `run`'s, same `--http` / `--no-http` / `pipeline.http`) shows the cluster view and its own rows per table;
 * `/healthz` and `/readyz` answer for the worker.
 */
export async function applyCommand(
  file: string,
  options: { readonly log: Logger; readonly http?: HttpOption },
): Promise<number> {
  const { log } = options;
  const def = await loadPipelineDef(file);
  const token = dashboardToken(def, options.http, log);
  const controller = new AbortController();
  const onSignal = (signal: NodeJS.Signals) => {
    if (controller.signal.aborted) {
      log.warn(`${signal} again: exiting now; the partitions resume from their last checkpoints`);
      process.exit(130);
    }
    log.info(`${signal}: stopping the partitions and releasing their leases`);
    controller.abort();
    setTimeout(() => process.exit(130), HARD_EXIT_MS).unref();
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  const metrics = new PipelineMetrics(`${def.pipeline.name}-apply`);
  const monitor = dashboardWanted(def, options.http) ? startScaleOutMonitor(def, { log }) : undefined;
  const dashboard = await startRunDashboard({
    file,
    def,
    http: options.http,
    token,
    metrics,
    log,
    ...(monitor === undefined ? {} : { scaleOut: monitor }),
  });
  try {
    await runApplyWorker(def, {
      log,
      signal: controller.signal,
      metrics,
      onPartitions: (partitions) => log.info(`partitions applied here: ${partitions.join(', ') || 'none'}`),
    });
    log.info('apply worker stopped');
    return 0;
  } finally {
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
    await dashboard?.close();
    await monitor?.close();
  }
}
