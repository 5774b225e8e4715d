import { resolve } from 'node:path';
import { TributaryError } from '../../core/errors.js';
import type { OptionSpec, OptionValues } from '../../core/option-spec.js';
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
  ...commitOptions,
];

export interface IcebergSinkConfig {
  /** Absolute path of the warehouse directory. */
  readonly warehouse: string;
  readonly namespace: string | undefined;
  readonly commitMaxTables: number;
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
  return {
    warehouse: resolve(warehouse),
    namespace: namespace === '' ? undefined : namespace,
    commitMaxTables: commitMaxTablesOf(values),
  };
}
