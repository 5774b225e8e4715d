import { resolve } from 'node:path';
import { TributaryError } from '../../core/errors.js';
import type { OptionSpec, OptionValues } from '../../core/option-spec.js';
import { parsePartitionBy, type PartitionRequest } from './iceberg-partition.js';
import { commitMaxTablesOf, commitOptions, optionText } from '../sink-kit/sink-options.js';

/** The options of `type: iceberg` sinks. Validation and the connector reference derive from these. */
export const icebergSinkOptions: readonly OptionSpec[] = [
  {
    key: 'warehouse',
    type: 'string',
    required: true,
    description:
      'The warehouse directory of the filesystem (Hadoop) catalog, e.g. `./lake`, created if missing; relative to ' +
      'the working directory. A table `shop.orders` lives in `<warehouse>/shop/orders/`.',
  },
  {
    key: 'namespace',
    type: 'string',
    description:
      "Iceberg namespace for every sink table, instead of the table's own namespace (the source database, or " +
      'what a route gives).',
  },
  {
    key: 'partition-by',
    type: 'string',
    description:
      'Partition spec of the tables the sink creates, as Iceberg transforms of columns: e.g. ' +
      '`bucket[16](id), day(created_at)`; transforms `identity` (a bare column name), `bucket[N]`, `truncate[W]`, ' +
      '`year`, `month`, `day`, `hour`. A table that lacks one of the columns is created unpartitioned; a ' +
      "transform's `partition-keys` (identity) take precedence for its tables. Existing tables keep their spec.",
  },
  {
    key: 'write.target-file-size-bytes',
    type: 'integer',
    min: 1,
    description:
      "Iceberg's table property of that name, set on every table the sink writes: data and delete files larger " +
      'than this are split into files of about this size, by the sink at each checkpoint and by the compaction. ' +
      "Unset: the table's own property, else Iceberg's default 536870912 (512 MiB).",
  },
  ...commitOptions,
];

export interface IcebergSinkConfig {
  /** Absolute path of the warehouse directory. */
  readonly warehouse: string;
  readonly namespace: string | undefined;
  readonly commitMaxTables: number;
  /** `partition-by`, parsed; empty when not given. */
  readonly partitionBy: readonly PartitionRequest[];
  /** `write.target-file-size-bytes`; undefined: the table's property. */
  readonly targetFileSize: number | undefined;
}

/** Typed options; CONFIG_INVALID for an empty `warehouse`. */
export function icebergSinkConfig(values: OptionValues): IcebergSinkConfig {
  const text = optionText(values);
  const warehouse = text('warehouse', '');
  if (warehouse === '') {
    throw new TributaryError('CONFIG_INVALID', 'the iceberg sink needs a warehouse directory', {
      hint: 'set sink option `warehouse` (for example ./lake)',
    });
  }
  const namespace = text('namespace', '');
  const partition = parsePartitionBy(text('partition-by', ''));
  if ('problem' in partition) {
    throw new TributaryError('CONFIG_INVALID', `sink option partition-by: ${partition.problem}`, {
      hint: 'write e.g. `partition-by: bucket[16](id), day(created_at)` (see docs/connectors/iceberg.md)',
    });
  }
  return {
    partitionBy: partition.fields,
    targetFileSize:
      typeof values['write.target-file-size-bytes'] === 'number' ? values['write.target-file-size-bytes'] : undefined,
    warehouse: resolve(warehouse),
    namespace: namespace === '' ? undefined : namespace,
    commitMaxTables: commitMaxTablesOf(values),
  };
}
