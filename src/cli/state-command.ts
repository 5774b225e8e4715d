import { composePipeline } from '../composer/pipeline-composer.js';
import type { Logger } from '../runtime/logger.js';
import { loadPipelineDef } from './load-pipeline-def.js';

/**
 * `tributary state pipeline.yaml`: the last checkpoint in the embedded state store and the savepoints
 * that `run --from-savepoint` can resume from. (The sink's own checkpoint record is authoritative; after a
 * crash the local copy may be one checkpoint behind.)
 */
export async function stateCommand(file: string, options: { log: Logger }): Promise<number> {
  const def = await loadPipelineDef(file);
  const store = composePipeline(def, { log: options.log }).stateStore();
  const out = (line: string) => process.stdout.write(line + '\n');
  const checkpoint = await store.load();
  if (!checkpoint) {
    out(`pipeline ${def.pipeline.name}: no checkpoint in ${store.dir} (a first run takes a snapshot)`);
    return 0;
  }
  out(`pipeline ${def.pipeline.name}, state in ${store.dir}`);
  out(`last checkpoint ${checkpoint.id} at ${checkpoint.committedAt}:`);
  out(JSON.stringify(checkpoint.position, null, 2));
  const savepoints = await store.listSavepoints();
  out(savepoints.length === 0 ? 'no savepoints (a clean stop writes one)' : 'savepoints:');
  for (const { file: path, checkpoint: sp } of savepoints) out(`  ${sp.id}  ${sp.committedAt}  ${path}`);
  return 0;
}
