import { join, resolve } from 'node:path';
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
    key: 'catalog',
    type: 'enum',
    values: ['hadoop', 'sqlite'],
    default: 'hadoop',
    description:
      "Where a table's current metadata is recorded: `hadoop`, the filesystem catalog (`version-hint.text` beside " +
      "the metadata), or `sqlite`, Iceberg's JDBC catalog layout (`iceberg_tables`) in a SQLite file, committed by " +
      'a compare-and-swap of `metadata_location`.',
  },
  {
    key: 'catalog.sqlite-file',
    type: 'string',
    description:
      'The SQLite file of `catalog: sqlite` (created if missing), relative to the working directory. Default: ' +
      '`<warehouse>/iceberg_catalog.db`.',
  },
  {
    key: 'catalog.name',
    type: 'string',
    default: 'tributary',
    description:
      "The `catalog_name` of the JDBC catalog's rows (`catalog: sqlite`), as engines are configured with it.",
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
  {
    key: 'compaction.every-checkpoints',
    type: 'integer',
    min: 0,
    default: 0,
    description:
      'Compact, while the pipeline runs, every table the pipeline changed since the last compaction, after every ' +
      'this many checkpoints that changed a table (in the commit path, after the checkpoint is published, so never ' +
      'beside a write); it also expires snapshots. 0: never (run `tributary compact`).',
  },
  {
    key: 'expire-snapshots.every-checkpoints',
    type: 'integer',
    min: 0,
    default: 0,
    description:
      'Expire snapshots (keep `expire-snapshots.retain`) and delete the files no remaining snapshot refers to, ' +
      'after every this many checkpoints that changed a table, without rewriting data. 0: only with a compaction.',
  },
  {
    key: 'expire-snapshots.retain',
    type: 'integer',
    min: 1,
    default: 10,
    description:
      'How many of the newest snapshots of a table a scheduled compaction or expiry keeps (readers of older ones ' +
      'lose their files). `tributary compact` has its own `--retain-snapshots`.',
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
  readonly catalog: 'hadoop' | 'sqlite';
  readonly catalogFile: string;
  readonly catalogName: string;
  readonly compactEvery: number;
  readonly expireEvery: number;
  readonly retainSnapshots: number;
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
    catalog: text('catalog', 'hadoop') === 'sqlite' ? 'sqlite' : 'hadoop',
    catalogFile: resolve(text('catalog.sqlite-file', join(warehouse, 'iceberg_catalog.db'))),
    catalogName: text('catalog.name', 'tributary'),
    compactEvery: integer(values, 'compaction.every-checkpoints', 0),
    expireEvery: integer(values, 'expire-snapshots.every-checkpoints', 0),
    retainSnapshots: Math.max(1, integer(values, 'expire-snapshots.retain', 10)),
    targetFileSize:
      typeof values['write.target-file-size-bytes'] === 'number' ? values['write.target-file-size-bytes'] : undefined,
    warehouse: resolve(warehouse),
    namespace: namespace === '' ? undefined : namespace,
    commitMaxTables: commitMaxTablesOf(values),
  };
}

function integer(values: OptionValues, key: string, fallback: number): number {
  const value = values[key];
  return typeof value === 'number' && Number.isFinite(value) ? Math.floor(value) : fallback;
}
