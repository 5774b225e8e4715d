import { composePipeline } from '../composer/pipeline-composer.js';
import type { TableVerification } from '../composer/pipeline-verify.js';
import { plural } from '../core/index.js';
import type { Logger } from '../runtime/logger.js';
import { formatTable } from './format-table.js';
import { loadPipelineDef } from './load-pipeline-def.js';

export interface VerifyCommandOptions {
  readonly log: Logger;
  readonly chunkSize?: number;
  readonly recheckWaitMs?: number;
  /** Write the differing rows again from the source (through the running pipeline if it runs), then verify again. */
  readonly repair?: boolean;
}

/**
 * `tributary verify pipeline.yaml`: compares every captured source table with its rows in the sink by chunked
 * checksums computed on both servers, without stopping the pipeline; prints a summary table and the differing
 * keys; exit code 1 when anything differs, 0 when all is equal. With `--repair`: writes the differing rows
 * again from the source, verifies again, and exits by that second result.
 */
export async function verifyCommand(file: string, options: VerifyCommandOptions): Promise<number> {
  const def = await loadPipelineDef(file);
  const pipeline = composePipeline(def, { log: options.log });
  const out = (line: string) => process.stdout.write(line + '\n');
  // A differing chunk is checked again once the pipeline had time to commit what was in flight.
  const recheckWaitMs = options.recheckWaitMs ?? Math.max(2000, 2 * def.pipeline.checkpointIntervalMs + 1000);
  const started = Date.now();
  const verifyOptions = {
    recheckWaitMs,
    ...(options.chunkSize === undefined ? {} : { chunkSize: options.chunkSize }),
    onProgress: (line: string) => options.log.info(line),
  };
  if (!options.repair) return printResults(await pipeline.verify(verifyOptions), started, recheckWaitMs, out);

  const report = await pipeline.repair(verifyOptions);
  const before = printResults(report.found, started, recheckWaitMs, out);
  if (before === 0) {
    out('nothing to repair');
    return 0;
  }
  out('');
  for (const r of report.repaired) {
    out(
      `repaired ${r.source} → ${r.sink}: ${plural(r.upserted, 'row')} written from the source, ${plural(r.deleted, 'row')} deleted`,
    );
  }
  if (report.live) out('(read again and committed by the running pipeline; verified again:)');
  if (report.checkpointId !== undefined) out(`(committed up to checkpoint ${report.checkpointId}; verified again:)`);
  out('');
  return printResults(report.after, started, recheckWaitMs, out);
}

/** Prints the summary table and the differing keys; returns the exit code (1 when anything differs). */
function printResults(
  results: readonly TableVerification[],
  started: number,
  recheckWaitMs: number,
  out: (line: string) => void,
): number {
  const differs = (r: TableVerification) => r.differingChunks > 0 || r.differingKeys > 0;
  out(
    formatTable(
      results.map((r) => ({
        'source table': r.source,
        'sink table': r.sink,
        'source rows': r.sourceRows,
        'sink rows': r.sinkRows,
        chunks: r.chunks,
        'differing chunks': r.differingChunks,
        'differing keys': r.differingKeys,
        result: differs(r) ? 'DIFFERENT' : 'equal',
        ms: r.ms,
      })),
    ),
  );
  for (const r of results) {
    if (r.skippedColumns.length > 0)
      out(
        `${r.source}: not compared: ${r.skippedColumns.join(', ')} (floating point, JSON or TIME, or not in the sink)`,
      );
    const list = (kind: string, keys: readonly string[]) => {
      if (keys.length > 0) out(`${r.source} → ${r.sink}: ${kind}: ${keys.join('; ')}`);
    };
    list('missing in the sink (key)', r.missing);
    list('only in the sink (key)', r.extra);
    list('different (key)', r.changed);
    if (differs(r) && r.differingKeys === 0)
      out(`${r.source}: chunk checksums differ but no key differs (text keys ordered differently by the two servers?)`);
  }
  const different = results.filter(differs);
  out(
    different.length === 0
      ? `all ${plural(results.length, 'table')} equal (${Date.now() - started} ms)`
      : `${plural(different.length, 'table')} of ${results.length} differ (checked again after ${recheckWaitMs} ms to let changes in flight arrive)`,
  );
  return different.length === 0 ? 0 : 1;
}
