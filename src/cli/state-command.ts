import { composePipeline } from '../composer/pipeline-composer.js';
import type { Logger } from '../runtime/logger.js';
import { loadPipelineDef } from './load-pipeline-def.js';

/** `tributary state pipeline.yaml`: the last checkpoint the embedded state store holds. */
export async function stateCommand(file: string, options: { log: Logger }): Promise<number> {
  const def = await loadPipelineDef(file);
  const store = composePipeline(def, { log: options.log }).stateStore();
  const checkpoint = await store.load();
  if (!checkpoint) {
    process.stdout.write(
      `pipeline ${def.pipeline.name}: no checkpoint in ${store.dir} (a first run takes a snapshot)\n`,
    );
    return 0;
  }
  process.stdout.write(`${JSON.stringify(checkpoint, null, 2)}\n`);
  return 0;
}
