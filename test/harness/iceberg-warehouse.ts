import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, vi } from 'vitest';
import { icebergSink } from '../../src/connectors/iceberg/iceberg-sink.js';
import type { OptionValues } from '../../src/core/option-spec.js';
import type { Checkpoint, Sink } from '../../src/core/sink.js';
import { tableId, type TableSchema } from '../../src/core/table-schema.js';
import { silentLogger } from '../../src/runtime/logger.js';

/** Two tables of one shape, for driving the iceberg sink directly. */
export const orders: TableSchema = {
  id: tableId('shop', 'orders'),
  columns: [
    { name: 'id', type: { kind: 'int64' }, nullable: false },
    { name: 'customer', type: { kind: 'varchar', length: 32 }, nullable: true },
  ],
  primaryKey: ['id'],
};
export const customers: TableSchema = { ...orders, id: tableId('shop', 'customers') };

export interface IcebergWarehouse {
  /** This test's warehouse directory. */
  readonly warehouse: string;
  /** An iceberg sink on the warehouse with the file's options and `options`; closed after the test. */
  readonly sink: (options?: OptionValues) => Sink;
  /** {@link sink}, opened for `pipeline`, with the checkpoint it returned. */
  readonly open: (pipeline?: string) => Promise<{ sink: Sink; checkpoint: Checkpoint | null }>;
}

/**
 * For the unit tests of the iceberg sink: a new, empty warehouse directory for every test of the calling file
 * (named `tributary-iceberg-<name>-…`), and the sinks it opens there closed, mocks restored and the directory
 * removed after each. `options` are sink options every sink of the file gets beside `warehouse`.
 */
export function icebergWarehousePerTest(name: string, options: OptionValues = {}): IcebergWarehouse {
  let warehouse = '';
  let sinks: Sink[] = [];
  beforeEach(async () => {
    warehouse = await mkdtemp(join(tmpdir(), `tributary-iceberg-${name}-`));
  });
  afterEach(async () => {
    vi.restoreAllMocks();
    for (const sink of sinks) await sink.close();
    sinks = [];
    await rm(warehouse, { recursive: true, force: true });
  });
  const sink = (more: OptionValues = {}): Sink => {
    const created = icebergSink({ warehouse, ...options, ...more }, { log: silentLogger });
    sinks.push(created);
    return created;
  };
  return {
    get warehouse() {
      return warehouse;
    },
    sink,
    open: async (pipeline = 'p') => {
      const opened = sink();
      return { sink: opened, checkpoint: await opened.open(pipeline) };
    },
  };
}
