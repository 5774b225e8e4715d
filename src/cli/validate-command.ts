import { composePipeline } from '../composer/pipeline-composer.js';
import { plural, tableIdToString } from '../core/index.js';
import type { Logger } from '../runtime/logger.js';
import { loadPipelineDef } from './load-pipeline-def.js';

/** `tributary validate pipeline.yaml`: every check that `run` makes before moving data, and nothing more. */
export async function validateCommand(file: string, options: { log: Logger }): Promise<number> {
  const def = await loadPipelineDef(file);
  const pipeline = composePipeline(def, { log: options.log });
  const { source, warnings } = await pipeline.validate();
  const out = (line: string) => process.stdout.write(line + '\n');
  out(`${file}: valid`);
  for (const check of source.checks) out(`  ok  ${check}`);
  for (const table of source.tables)
    out(
      `  table ${tableIdToString(table.id)} (${plural(table.columns.length, 'column')}, key ${table.primaryKey.join(', ')})`,
    );
  for (const warning of warnings) out(`  warn ${warning}`);
  return 0;
}
