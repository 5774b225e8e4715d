/**
 * The Iceberg sink, measured: rows/s into an Iceberg table (snapshot-like inserts, then rounds of upserts and
 * deletes, one checkpoint each), files per checkpoint, and how long a merge-on-read scan takes as equality
 * deletes pile up — before and after compaction — with two readers: icebird (the tests' independent reader)
 * and DuckDB reading the Parquet files with the merge as an anti-join (what the compaction runs). No database:
 * events are made in memory, so the figures are the sink's own cost.
 * Run: `npm run bench:iceberg -- [--rows N] [--batch N] [--rounds N] [--changes N] [--partition-by 'bucket[8](id)']`.
 */
import { mkdtemp, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { compactIcebergTable, countLiveRows } from '../src/connectors/iceberg/iceberg-compaction.js';
import { icebergSink } from '../src/connectors/iceberg/iceberg-sink.js';
import { dataChange, type ChangeEvent } from '../src/core/change-event.js';
import type { Row } from '../src/core/data-type.js';
import { silentLogger } from '../src/runtime/logger.js';
import { readIcebergTable } from '../test/harness/iceberg-reader.js';
import { CREATE_ORDERS, numberArg, ORDERS_TABLE, stringArg } from './standalone.js';

const ROWS = numberArg('rows', 100_000);
const BATCH = numberArg('batch', 10_000);
const ROUNDS = numberArg('rounds', 10);
const CHANGES = numberArg('changes', 1_000);
const PARTITION_BY = stringArg('partition-by', '');

const source = { tsMs: 0 };
const row = (id: number, version: number): Row => [
  BigInt(id),
  `customer-${id % 997}`,
  `${id}.${String(version % 10000).padStart(4, '0')}`,
  `2024-01-01 10:00:00.${String(version % 1_000_000).padStart(6, '0')}`,
  'ünïcödé note',
];
const fmt = (n: number) => Math.round(n).toLocaleString('en-US');
const seconds = (since: bigint) => Number(process.hrtime.bigint() - since) / 1e9;

async function timed<T>(work: () => Promise<T>): Promise<[T, number]> {
  const started = process.hrtime.bigint();
  const result = await work();
  return [result, seconds(started)];
}

async function fileCounts(location: string): Promise<{ data: number; deletes: number; metadata: number }> {
  const data = await readdir(join(location, 'data'));
  const metadata = await readdir(join(location, 'metadata'));
  return {
    data: data.filter((f) => !f.endsWith('-deletes.parquet')).length,
    deletes: data.filter((f) => f.endsWith('-deletes.parquet')).length,
    metadata: metadata.length,
  };
}

async function main(): Promise<void> {
  const warehouse = await mkdtemp(join(tmpdir(), 'tributary-bench-iceberg-'));
  const location = join(warehouse, 'shop', 'orders');
  try {
    const sink = icebergSink(
      { warehouse, ...(PARTITION_BY === '' ? {} : { 'partition-by': PARTITION_BY }) },
      { log: silentLogger },
    );
    await sink.open('bench');
    await sink.write([CREATE_ORDERS]);
    let checkpointId = 0;
    const commit = () =>
      sink.commit({ pipeline: 'bench', id: ++checkpointId, position: { at: checkpointId }, committedAt: '' });

    const [, loadS] = await timed(async () => {
      for (let from = 0; from < ROWS; from += BATCH) {
        const events: ChangeEvent[] = [];
        for (let id = from; id < Math.min(ROWS, from + BATCH); id++) {
          events.push(dataChange(ORDERS_TABLE.id, 'read', null, row(id, 0), source));
        }
        await sink.write(events);
        await commit();
      }
    });
    const afterLoad = await fileCounts(location);
    const loadCheckpoints = checkpointId;
    console.log(
      `Iceberg sink, ${fmt(ROWS)} rows of shop.orders (5 columns), ${fmt(BATCH)} rows per checkpoint, local disk, ` +
        (PARTITION_BY === '' ? 'unpartitioned' : `partition-by ${PARTITION_BY}`),
    );
    console.log(
      `load: ${loadS.toFixed(2)} s, ${fmt(ROWS / loadS)} rows/s; ${loadCheckpoints} checkpoints, ` +
        `${afterLoad.data} data files, ${afterLoad.deletes} delete files (after the first checkpoint every one ` +
        `writes an equality-delete file too), ${afterLoad.metadata} metadata files`,
    );

    const readers = async (label: string) => {
      const [rows, icebirdS] = await timed(() => readIcebergTable(location));
      const [count, duckdbS] = await timed(() => countLiveRows(warehouse, 'shop', 'orders'));
      if (count !== rows.length) throw new Error(`icebird read ${rows.length} rows, the DuckDB merge ${count}`);
      console.log(`| ${label} | ${fmt(rows.length)} | ${icebirdS.toFixed(2)} s | ${duckdbS.toFixed(2)} s |`);
    };
    console.log('\n| table state | rows read | icebird full scan | DuckDB merge-on-read count |');
    console.log('| --- | --- | --- | --- |');
    await readers(`after load (${afterLoad.data} data + ${afterLoad.deletes} delete files)`);

    let nextId = ROWS;
    let changeS = 0;
    let changes = 0;
    for (let round = 1; round <= ROUNDS; round++) {
      const events: ChangeEvent[] = [];
      for (let i = 0; i < CHANGES; i++) {
        const id = (round * 7919 + i * 104_729) % nextId;
        const kind = i % 10;
        if (kind < 7) events.push(dataChange(ORDERS_TABLE.id, 'update', row(id, 0), row(id, round), source));
        else if (kind < 9) events.push(dataChange(ORDERS_TABLE.id, 'insert', null, row(nextId++, round), source));
        else events.push(dataChange(ORDERS_TABLE.id, 'delete', row(id, 0), null, source));
      }
      const [, s] = await timed(async () => {
        await sink.write(events);
        await commit();
      });
      changeS += s;
      changes += events.length;
      if (round % Math.max(1, Math.floor(ROUNDS / 4)) === 0 || round === ROUNDS) {
        const counts = await fileCounts(location);
        await readers(`after ${round} change rounds (${counts.data} data + ${counts.deletes} delete files)`);
      }
    }
    await sink.close();
    console.log(
      `\nchanges: ${ROUNDS} checkpoints of ${fmt(CHANGES)} changes (70% updates, 20% inserts, 10% deletes): ` +
        `${changeS.toFixed(2)} s, ${fmt(changes / changeS)} changes/s, each checkpoint 1 data + 1 delete file per partition it touches + 2 manifests + 1 manifest list + 1 metadata file`,
    );

    const [result, compactS] = await timed(() => compactIcebergTable(warehouse, 'shop', 'orders'));
    const compacted = await fileCounts(location);
    console.log(
      `compaction: ${compactS.toFixed(2)} s — ${result.dataFilesBefore} data + ${result.deleteFilesBefore} delete files → ${compacted.data} data file(s) of ${fmt(result.rows ?? 0)} rows; ` +
        `${result.snapshotsExpired} snapshots expired, ${result.filesRemoved} files removed`,
    );
    console.log('\n| table state | rows read | icebird full scan | DuckDB merge-on-read count |');
    console.log('| --- | --- | --- | --- |');
    await readers(`after compaction (${compacted.data} data files)`);
  } finally {
    await rm(warehouse, { recursive: true, force: true });
  }
}

await main();
