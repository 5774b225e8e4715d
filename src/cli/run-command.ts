import { composePipeline } from '../composer/pipeline-composer.js';
import type { Logger } from '../runtime/logger.js';
import type { Source } from '../core/index.js';
import { loadPipelineDef } from './load-pipeline-def.js';

export interface RunCommandOptions {
  readonly log: Logger;
  readonly reset: boolean;
  readonly fromSavepoint?: string;
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
  const def = await loadPipelineDef(file);
  const pipeline = composePipeline(def, { log });
  const { source, warnings } = await pipeline.validate();
  for (const warning of warnings) log.warn(warning);
  log.info(
    `pipeline ${def.pipeline.name}: ${source.tables.length} source table(s), checkpoint every ${def.pipeline.checkpointIntervalMs} ms`,
  );

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

  let current: Source | undefined;
  let checkpoints = 0;
  let events = 0;
  const ticker = setInterval(() => {
    if (!current) return;
    const p = current.progress();
    const snapshot =
      p.phase === 'snapshot'
        ? ` snapshot ${p.snapshotTablesDone}/${p.snapshotTablesTotal} tables, ${p.snapshotRowsRead} rows;`
        : '';
    log.info(
      `${p.phase}:${snapshot} binlog ${p.logPosition}, lag ${Math.round(p.lagMs / 1000)} s; ${events} changes applied in ${checkpoints} checkpoints`,
    );
  }, 10_000);
  try {
    const result = await pipeline.run({
      signal: controller.signal,
      reset: options.reset,
      ...(options.fromSavepoint ? { fromSavepoint: options.fromSavepoint } : {}),
      onStart: (parts) => (current = parts.source),
      onCheckpoint: (_checkpoint, stats) => {
        checkpoints++;
        events += stats.events;
      },
    });
    log.info(`pipeline ${def.pipeline.name} ${result.outcome}; last checkpoint ${result.lastCheckpoint?.id ?? 'none'}`);
    return 0;
  } finally {
    clearInterval(ticker);
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
  }
}
