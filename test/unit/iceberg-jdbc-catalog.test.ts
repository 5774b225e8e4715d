import Database from 'better-sqlite3';
import { readdir } from 'node:fs/promises';
import { basename, join } from 'node:path';
import { describe, expect, it, vi } from 'vitest';
import { SqliteJdbcCatalog } from '../../src/connectors/iceberg/iceberg-catalog.js';
import { compactPipelineTables } from '../../src/connectors/iceberg/iceberg-compaction.js';
import { icebergRowsText } from '../harness/iceberg-reader.js';
import { customers, icebergWarehousePerTest, orders } from '../harness/iceberg-warehouse.js';
import { checkpoint, del, ins, schemaEvent, upd } from '../harness/sink-events.js';

// Parquet files written and read through DuckDB take seconds on a loaded 2-core machine: a give-up bound, not
// an expectation.
vi.setConfig({ testTimeout: 60_000 });

/**
 * The JDBC catalog in SQLite: Iceberg's `iceberg_tables` / `iceberg_namespace_properties` layout, a commit as a
 * compare-and-swap of `metadata_location`, the table read by icebird from the metadata file the row names.
 */
const lake = icebergWarehousePerTest('jdbc', { catalog: 'sqlite', 'catalog.name': 'lake' });
const open = () => lake.open('p');
interface CatalogRow {
  table_namespace: string;
  table_name: string;
  metadata_location: string;
  previous_metadata_location: string | null;
  iceberg_type: string;
}
const rows = (): CatalogRow[] => {
  const db = new Database(join(lake.warehouse, 'iceberg_catalog.db'), { readonly: true });
  try {
    return db
      .prepare("SELECT * FROM iceberg_tables WHERE catalog_name = 'lake' ORDER BY table_name")
      .all() as CatalogRow[];
  } finally {
    db.close();
  }
};
/** icebird reads the table from the metadata file the catalog row names. */
const read = (table: string) => {
  const row = rows().find((r) => r.table_name === table)!;
  return icebergRowsText(join(lake.warehouse, 'shop', table), ['id', 'customer'], {}, basename(row.metadata_location));
};

describe('iceberg sink with the JDBC catalog in SQLite', () => {
  it('commits by compare-and-swap of metadata_location; icebird reads what the row names; resumes', async () => {
    const { sink, checkpoint: first } = await open();
    expect(first).toBeNull();
    await sink.write([schemaEvent(orders), ins(orders, [1n, 'ann']), ins(orders, [2n, 'bob'])]);
    await sink.commit(checkpoint('p', { at: 1 }));
    const [v1] = rows();
    expect(v1).toMatchObject({ table_namespace: 'shop', table_name: 'orders', iceberg_type: 'TABLE' });
    expect(v1!.previous_metadata_location).toBeNull();
    expect(v1!.metadata_location).toMatch(/^file:\/\/.*\/shop\/orders\/metadata\/v1-[0-9a-f-]+\.metadata\.json$/);
    await sink.write([upd(orders, [1n, 'ann'], [1n, 'amy']), del(orders, [2n, 'bob'])]);
    const last = checkpoint('p', { at: 2 });
    await sink.commit(last);
    const [v2] = rows();
    expect(v2!.previous_metadata_location).toBe(v1!.metadata_location);
    expect(await read('orders')).toEqual([['1', 'amy']]);
    // The row is the only pointer: no version hint beside the metadata.
    expect(await readdir(join(lake.warehouse, 'shop', 'orders', 'metadata'))).not.toContain('version-hint.text');
    const db = new Database(join(lake.warehouse, 'iceberg_catalog.db'), { readonly: true });
    expect(
      db.prepare('SELECT namespace, property_key, property_value FROM iceberg_namespace_properties').all(),
    ).toEqual([{ namespace: 'shop', property_key: 'exists', property_value: 'true' }]);
    db.close();
    await sink.close();

    const again = await open();
    expect(again.checkpoint).toMatchObject({ id: last.id, position: { at: 2 } });

    // tributary compact through the same catalog.
    const catalog = new SqliteJdbcCatalog(lake.warehouse, join(lake.warehouse, 'iceberg_catalog.db'), 'lake');
    const [result] = await compactPipelineTables(lake.warehouse, 'p', { catalog });
    catalog.close();
    expect(result).toMatchObject({ table: 'shop.orders', rows: 1 });
    expect(await read('orders')).toEqual([['1', 'amy']]);
  });

  it('refuses a commit when another writer moved metadata_location (ICEBERG_COMMIT_CONFLICT)', async () => {
    const { sink } = await open();
    await sink.write([schemaEvent(orders), ins(orders, [1n, 'ann'])]);
    await sink.commit(checkpoint('p', { at: 1 }));
    await sink.write([ins(orders, [2n, 'bob'])]);
    await sink.commit(checkpoint('p', { at: 2 }));
    // Another writer swaps the pointer back (as a second engine committing its own version would move it).
    const db = new Database(join(lake.warehouse, 'iceberg_catalog.db'));
    const [row] = rows();
    db.prepare('UPDATE iceberg_tables SET metadata_location = ? WHERE table_name = ?').run(
      row!.metadata_location.replace(/v2-[0-9a-f-]+/, 'v7-00000000-0000-0000-0000-000000000000'),
      'orders',
    );
    db.close();
    await sink.write([ins(orders, [3n, 'cy'])]);
    await expect(sink.commit(checkpoint('p', { at: 3 }))).rejects.toMatchObject({ code: 'ICEBERG_COMMIT_CONFLICT' });
  });

  it('completes a two-table checkpoint whose commit died after the first swap', async () => {
    const { sink } = await open();
    await sink.write([
      schemaEvent(orders),
      schemaEvent(customers),
      ins(orders, [1n, 'o1']),
      ins(customers, [1n, 'c1']),
    ]);
    await sink.commit(checkpoint('p', { at: 1 }));
    await sink.write([ins(orders, [2n, 'o2']), ins(customers, [2n, 'c2'])]);
    const interrupted = checkpoint('p', { at: 2 });
    // The process "dies" between the first and the second swap (a second connection does the real swaps).
    const real = new SqliteJdbcCatalog(lake.warehouse, join(lake.warehouse, 'iceberg_catalog.db'), 'lake');
    const publish = real.publish.bind(real);
    let calls = 0;
    vi.spyOn(SqliteJdbcCatalog.prototype, 'publish').mockImplementation((location, version, staged) =>
      ++calls === 2 ? Promise.reject(new Error('killed')) : publish(location, version, staged),
    );
    await expect(sink.commit(interrupted)).rejects.toThrow('killed');
    vi.restoreAllMocks();
    real.close();
    expect([(await read('orders')).length, (await read('customers')).length].sort()).toEqual([1, 2]);
    const reopened = await open();
    expect(reopened.checkpoint).toMatchObject({ id: interrupted.id });
    expect(await read('orders')).toHaveLength(2);
    expect(await read('customers')).toHaveLength(2);
  });
});
