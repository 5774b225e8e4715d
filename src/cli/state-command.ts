import { composePipeline } from '../composer/pipeline-composer.js';
import { plural } from '../core/index.js';
import type { Logger } from '../runtime/logger.js';
import { loadPipelineDef } from './load-pipeline-def.js';

/**
 * `tributary state pipeline.yaml`: the checkpoint `run` would resume from — the sink's, as `run` reads it (the
 * state directory's copy when the sink keeps none or cannot be reached, and then it says so) — and the
 * savepoints that `run --from-savepoint` can resume from.
 */
export async function stateCommand(file: string, options: { log: Logger }): Promise<number> {
  const def = await loadPipelineDef(file);
  const pipeline = composePipeline(def, { log: options.log });
  const store = pipeline.stateStore();
  const out = (line: string) => process.stdout.write(line + '\n');
  const name = def.pipeline.name;
  const { checkpoint, from, sinkError, local } = await pipeline.lastCheckpoint();

  if (from === 'sink') {
    if (checkpoint) {
      out(
        `pipeline ${name}: last checkpoint ${checkpoint.id} at ${checkpoint.committedAt}, read from the sink (${def.sink.type}) — where run resumes:`,
      );
    } else {
      out(`pipeline ${name}: the sink (${def.sink.type}) holds no checkpoint — a run starts with a new snapshot`);
      if (local) {
        out(
          `  (${store.dir} has checkpoint ${local.id} of ${local.committedAt}, which run ignores: the sink's is authoritative)`,
        );
      }
    }
  } else if (sinkError) {
    out(`pipeline ${name}: the sink could not be read (${sinkError.code}: ${sinkError.message})`);
    out(
      checkpoint
        ? `showing the copy in ${store.dir}, which may be one checkpoint behind the sink's: checkpoint ${checkpoint.id} at ${checkpoint.committedAt} (in full: ${store.dir}/checkpoint.json):`
        : `no checkpoint in ${store.dir} either`,
    );
  } else {
    out(
      checkpoint
        ? `pipeline ${name}: last checkpoint ${checkpoint.id} at ${checkpoint.committedAt}, from ${store.dir}/checkpoint.json (the sink keeps none):`
        : `pipeline ${name}: no checkpoint in ${store.dir} (a first run takes a snapshot)`,
    );
  }
  if (checkpoint) out(JSON.stringify(outline(checkpoint.position), null, 2));

  const savepoints = await store.listSavepoints();
  out(
    savepoints.length === 0 ? `no savepoints in ${store.dir} (a clean stop writes one)` : `savepoints in ${store.dir}:`,
  );
  for (const { file: path, checkpoint: sp } of savepoints) out(`  ${sp.id}  ${sp.committedAt}  ${path}`);
  const archived = await store.archivedSavepointDirs();
  if (archived.length > 0) {
    out(`${plural(archived.length, 'folder')} of savepoints from before a --reset (resume from one by its file path):`);
    for (const dir of archived) out(`  ${dir}`);
  }
  return 0;
}

/**
 * The position, readable: objects down to three levels and arrays of scalars in full, what is deeper by its size
 * (a position may carry the schema of every captured table).
 */
function outline(value: unknown, depth = 0): unknown {
  if (value === null || typeof value !== 'object') return value;
  if (Array.isArray(value)) {
    if (depth >= 2 && value.some((v) => v !== null && typeof v === 'object'))
      return `[${plural(value.length, 'item')}]`;
    if (value.length > 20)
      return [...value.slice(0, 20).map((v) => outline(v, depth + 1)), `… ${value.length - 20} more`];
    return value.map((v) => outline(v, depth + 1));
  }
  const entries = Object.entries(value);
  if (depth >= 3) return `{${plural(entries.length, 'entry', 'entries')}}`;
  return Object.fromEntries(entries.map(([k, v]) => [k, outline(v, depth + 1)]));
}
