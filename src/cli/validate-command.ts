import { composePipeline } from '../composer/pipeline-composer.js';
import { plural, tableIdToString, type ValidationCheck } from '../core/index.js';
import type { Logger } from '../runtime/logger.js';
import { loadPipelineDef } from './load-pipeline-def.js';

const MARK: Record<ValidationCheck['status'], string> = { ok: 'ok   ', warning: 'warn ', error: 'error' };

/**
 * `tributary validate pipeline.yaml`: every check that `run` makes before moving data, and nothing more,
 * printed as a checklist — each check ok, warning or error, with the fix. Exit 1 when any is an error.
 */
export async function validateCommand(file: string, options: { log: Logger }): Promise<number> {
  const def = await loadPipelineDef(file);
  const pipeline = composePipeline(def, { log: options.log });
  const out = (line: string) => process.stdout.write(line + '\n');
  out(`${file}: checking`);
  let errors = 0;
  let warnings = 0;
  const onCheck = (check: ValidationCheck) => {
    if (check.status === 'error') errors++;
    if (check.status === 'warning') warnings++;
    const code = check.status !== 'ok' && check.code ? `[${check.code}] ` : '';
    out(`  ${MARK[check.status]} ${code}${check.message}`);
    if (check.fix && check.status !== 'ok') out(`        fix: ${check.fix}`);
  };
  let report;
  try {
    report = await pipeline.validate({ onCheck });
  } catch (error) {
    // Errors found by a check are in the checklist already, with their fix.
    if (errors === 0) throw error;
    out(`${file}: not valid — ${plural(errors, 'error')}${warnings > 0 ? `, ${plural(warnings, 'warning')}` : ''}`);
    return 1;
  }
  for (const table of report.source.tables)
    out(
      `  table ${tableIdToString(table.id)} (${plural(table.columns.length, 'column')}, key ${table.primaryKey.join(', ')})`,
    );
  out(`${file}: valid${warnings > 0 ? ` — ${plural(warnings, 'warning')}` : ''}`);
  return 0;
}
