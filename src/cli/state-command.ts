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
  out(`last checkpoint ${checkpoint.id} at ${checkpoint.committedAt} (in full: ${store.dir}/checkpoint.json):`);
  out(JSON.stringify(outline(checkpoint.position), null, 2));
  const savepoints = await store.listSavepoints();
  out(savepoints.length === 0 ? 'no savepoints (a clean stop writes one)' : 'savepoints:');
  for (const { file: path, checkpoint: sp } of savepoints) out(`  ${sp.id}  ${sp.committedAt}  ${path}`);
  return 0;
}

/**
 * The position, readable: objects down to three levels and arrays of scalars in full, what is deeper by its size
 * (a position may carry the schema of every captured table).
 */
function outline(value: unknown, depth = 0): unknown {
  if (value === null || typeof value !== 'object') return value;
  if (Array.isArray(value)) {
    if (depth >= 2 && value.some((v) => v !== null && typeof v === 'object')) return `[${value.length} items]`;
    if (value.length > 20)
      return [...value.slice(0, 20).map((v) => outline(v, depth + 1)), `… ${value.length - 20} more`];
    return value.map((v) => outline(v, depth + 1));
  }
  const entries = Object.entries(value);
  if (depth >= 3) return `{${entries.length} entries}`;
  return Object.fromEntries(entries.map(([k, v]) => [k, outline(v, depth + 1)]));
}
