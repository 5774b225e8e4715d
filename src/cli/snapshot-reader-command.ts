import type { Logger } from '../runtime/logger.js';
import { runSnapshotReader } from '../scale-out/snapshot-reader.js';
import { loadPipelineDef } from './load-pipeline-def.js';

/** After a stop signal, the process exits by this time whatever hangs (an unacknowledged item goes to another reader). */
const HARD_EXIT_MS = 10_000;

/**
 * `tributary run pipeline.yaml --role snapshot-reader`: reads snapshot chunks the capture hands out, until
 * SIGINT/SIGTERM (the chunk in hand is finished or left to another reader).
 */
export async function snapshotReaderCommand(file: string, options: { readonly log: Logger }): Promise<number> {
  const { log } = options;
  const def = await loadPipelineDef(file);
  const controller = new AbortController();
  const onSignal = (signal: NodeJS.Signals) => {
    if (controller.signal.aborted) process.exit(130);
    log.info(`${signal}: stopping the snapshot reader`);
    controller.abort();
    setTimeout(() => process.exit(130), HARD_EXIT_MS).unref();
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  try {
    log.info(`snapshot reader of pipeline ${def.pipeline.name}: waiting for chunks`);
    await runSnapshotReader(def, { log, signal: controller.signal });
    return 0;
  } finally {
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
  }
}
