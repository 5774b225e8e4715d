import { TributaryError, plural } from '../core/index.js';
import type { Logger } from '../runtime/logger.js';
import { loadPipelineDef } from './load-pipeline-def.js';

/**
 * `tributary compact pipeline.yaml`: rewrites each Iceberg table the pipeline writes into one data file without
 * delete files, expires old snapshots and removes the files no snapshot refers to (docs/connectors/iceberg.md,
 * "Compaction"). Only for `type: iceberg` sinks; run it while the pipeline is stopped.
 */
export async function compactCommand(
  file: string,
  options: { log: Logger; table?: string; retainSnapshots?: number },
): Promise<number> {
  const def = await loadPipelineDef(file);
  if (def.sink.type !== 'iceberg') {
    throw new TributaryError(
      'CONFIG_INVALID',
      `tributary compact works on iceberg sinks; this sink is ${def.sink.type}`,
      {
        hint: 'compaction is Iceberg table maintenance: the other sinks have nothing to compact',
      },
    );
  }
  const { compactPipelineTables } = await import('../connectors/iceberg/iceberg-compaction.js');
  const { icebergSinkConfig } = await import('../connectors/iceberg/iceberg-sink-config.js');
  const { icebergCatalog } = await import('../connectors/iceberg/iceberg-catalog.js');
  const config = icebergSinkConfig(def.sink.options);
  const warehouse = config.warehouse;
  const catalog = icebergCatalog(config);
  let results;
  try {
    results = await compactPipelineTables(warehouse, def.pipeline.name, {
      catalog,
      ...(options.table === undefined ? {} : { only: options.table }),
      ...(options.retainSnapshots === undefined ? {} : { retainSnapshots: options.retainSnapshots }),
    });
  } finally {
    catalog.close();
  }
  const out = (line: string) => process.stdout.write(line + '\n');
  if (results.length === 0) out(`no Iceberg table in ${warehouse} holds a checkpoint of pipeline ${def.pipeline.name}`);
  for (const r of results) {
    const rewritten =
      r.rows === undefined
        ? 'nothing to rewrite'
        : `${plural(r.dataFilesBefore, 'data file')} + ${plural(r.deleteFilesBefore, 'delete file')} → ${plural(r.rows, 'row')} in one data file`;
    out(
      `${r.table}: ${rewritten}; ${plural(r.snapshotsExpired, 'snapshot')} expired, ${plural(r.filesRemoved, 'file')} removed`,
    );
  }
  return 0;
}
