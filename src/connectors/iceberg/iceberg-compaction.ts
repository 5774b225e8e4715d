import { DuckDBInstance } from '@duckdb/node-api';
import { randomInt, randomUUID } from 'node:crypto';
import { readFile, readdir, unlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { TributaryError } from '../../core/errors.js';
import { readAvroContainerFile } from './iceberg-avro.js';
import { HadoopCatalog, fileUri } from './iceberg-catalog.js';
import { IcebergCheckpoints, SUMMARY } from './iceberg-checkpoint.js';
import { EntryStatus, FileContent, manifestListFile, type DataFile } from './iceberg-manifest.js';
import { tupleKey, type PartitionValue } from './iceberg-partition.js';
import {
  currentSchema,
  currentSnapshot,
  specById,
  targetFileSize,
  withSnapshot,
  type TableMetadata,
} from './iceberg-table-metadata.js';
import { copyInFiles, type WrittenFile } from './iceberg-parquet-writer.js';
import { writeManifest } from './iceberg-table.js';

/** What a compaction did, for the command's report and the bench. */
export interface CompactionResult {
  readonly table: string;
  readonly dataFilesBefore: number;
  readonly deleteFilesBefore: number;
  /** Live rows, now in one data file per partition (or more, split at the target file size); undefined when nothing needed rewriting. */
  readonly rows: number | undefined;
  readonly snapshotsExpired: number;
  readonly filesRemoved: number;
}

interface LiveFile {
  readonly path: string;
  readonly content: FileContent;
  readonly sequence: bigint;
  readonly specId: number;
  readonly partition: PartitionValue[];
}

const quote = (name: string): string => `"${name.replaceAll('"', '""')}"`;
const literal = (text: string): string => `'${text.replaceAll("'", "''")}'`;

/**
 * Rewrites the table `namespace.name` of the warehouse into one data file without deletes — the rows an
 * engine reads now, merged on read (a data row survives unless an equality delete with a higher sequence
 * number matches its key) — and commits that as a `replace` snapshot that keeps the current snapshot's
 * Tributary checkpoint in its summary, so a pipeline resumes as before. Then it expires all snapshots but the
 * newest `retainSnapshots` and deletes the data, delete and manifest files no retained snapshot refers to.
 *
 * Run it while no pipeline writes the table: a commit between would fail with ICEBERG_COMMIT_CONFLICT on one
 * side. An interrupted checkpoint of the table's pipeline is completed first, so it cannot be lost.
 */
export async function compactIcebergTable(
  warehouse: string,
  namespace: string,
  name: string,
  options: CompactionOptions = {},
): Promise<CompactionResult> {
  const catalog = new HadoopCatalog(warehouse);
  return compactTable(catalog, catalog.tableLocation(namespace, name), `${namespace}.${name}`, options);
}

export interface CompactionOptions {
  /** Snapshots to keep (the newest); at least 1, the default. */
  readonly retainSnapshots?: number;
  /** False: only expire snapshots and delete unreferenced files, rewrite no data. */
  readonly rewrite?: boolean;
}

/** {@link compactIcebergTable} of the table at `location` of `catalog` (`display` names it in messages). */
export async function compactTable(
  catalog: HadoopCatalog,
  location: string,
  display: string,
  options: CompactionOptions = {},
): Promise<CompactionResult> {
  let loaded = await catalog.load(location);
  if (loaded === undefined) {
    throw new TributaryError('ICEBERG_METADATA_INVALID', `${display}: no Iceberg table at ${location}`, {
      hint: 'name a table of the warehouse as namespace.table',
    });
  }
  const pipeline = currentSnapshot(loaded.metadata)?.summary[SUMMARY.pipeline];
  if (pipeline !== undefined) {
    await new IcebergCheckpoints(catalog, pipeline).latest(true);
    loaded = (await catalog.load(location))!;
  }
  const metadata = loaded.metadata;
  const parent = currentSnapshot(metadata);
  const files = parent === undefined ? [] : await liveFiles(metadata, parent['manifest-list']);
  const data = files.filter((f) => f.content === FileContent.Data);
  const deletes = files.filter((f) => f.content !== FileContent.Data);
  let rows: number | undefined;
  let next: TableMetadata = metadata;
  if (options.rewrite !== false && parent !== undefined && (deletes.length > 0 || data.length > 1)) {
    const sequence = metadata['last-sequence-number'] + 1;
    const snapshotId = randomInt(1, 2 ** 47) * 64 + randomInt(0, 64);
    const schema = currentSchema(metadata);
    const newFiles: DataFile[] = [];
    // One rewrite per partition: the live rows of a partition's data files keep their partition tuple.
    const groups = new Map<string, LiveFile[]>();
    for (const file of data) {
      const key = `${file.specId}:${tupleKey(file.partition)}`;
      groups.set(key, [...(groups.get(key) ?? []), file]);
    }
    rows = data.length > 0 ? 0 : undefined;
    for (const group of groups.values()) {
      const first = group[0]!;
      // Deletes of the same partition, and global ones (an unpartitioned spec).
      const applying = deletes.filter(
        (d) =>
          specById(metadata, d.specId).fields.length === 0 ||
          (d.specId === first.specId && tupleKey(d.partition) === tupleKey(first.partition)),
      );
      const pathFor = () => join(location, 'data', `${randomUUID()}-compacted.parquet`);
      const written = await rewrite(metadata, group, applying, pathFor);
      for (const file of written.files) {
        rows = (rows ?? 0) + file.rows;
        newFiles.push({
          content: FileContent.Data,
          path: fileUri(file.path),
          recordCount: file.rows,
          sizeInBytes: file.size,
          partition: first.partition,
          specId: first.specId,
        });
      }
    }
    const manifests = [];
    for (const specId of new Set(newFiles.map((f) => f.specId))) {
      manifests.push(
        await writeManifest(
          join(location, 'metadata'),
          metadata,
          newFiles.filter((f) => f.specId === specId),
          0,
          BigInt(snapshotId),
          BigInt(sequence),
        ),
      );
    }
    const listPath = join(location, 'metadata', `snap-${snapshotId}-1-${randomUUID()}.avro`);
    await writeFile(
      listPath,
      manifestListFile(manifests, {
        'snapshot-id': String(snapshotId),
        'parent-snapshot-id': String(parent['snapshot-id']),
        'sequence-number': String(sequence),
        'format-version': '2',
      }),
    );
    const kept = Object.fromEntries(Object.entries(parent.summary).filter(([key]) => key.startsWith('tributary.')));
    next = withSnapshot(
      metadata,
      {
        'snapshot-id': snapshotId,
        'parent-snapshot-id': parent['snapshot-id'],
        'sequence-number': sequence,
        'timestamp-ms': Date.now(),
        'manifest-list': fileUri(listPath),
        summary: {
          operation: 'replace',
          'added-data-files': String(newFiles.length),
          'deleted-data-files': String(data.length),
          'removed-delete-files': String(deletes.length),
          'added-records': String(rows ?? 0),
          ...kept,
        },
        'schema-id': schema['schema-id'],
      },
      fileUri(loaded.file),
    );
  }
  // Expiry: only the newest snapshots stay in the metadata.
  const retain = Math.max(1, options.retainSnapshots ?? 1);
  const retained = next.snapshots.slice(-retain);
  const expired = next.snapshots.length - retained.length;
  if (expired > 0) {
    const ids = new Set(retained.map((s) => s['snapshot-id']));
    next = {
      ...next,
      snapshots: retained,
      'snapshot-log': next['snapshot-log'].filter((e) => ids.has(e['snapshot-id'])),
    };
  }
  if (next !== metadata) {
    const staged = catalog.stagedPath(location, loaded.version + 1);
    await catalog.stage(staged, next);
    await catalog.publish(location, loaded.version + 1, staged);
  }
  const filesRemoved = await removeUnreferenced(location, next);
  return {
    table: display,
    dataFilesBefore: data.length,
    deleteFilesBefore: deletes.length,
    rows,
    snapshotsExpired: expired,
    filesRemoved,
  };
}

/** The live files of a snapshot, from its manifest list and manifests, with their partition tuples. */
async function liveFiles(metadata: TableMetadata, manifestList: string): Promise<LiveFile[]> {
  const files: LiveFile[] = [];
  for (const manifest of readAvroContainerFile(await readFile(fileURLToPath(manifestList)))) {
    const specId = Number(manifest['partition_spec_id'] ?? 0);
    const spec = specById(metadata, specId);
    for (const entry of readAvroContainerFile(await readFile(fileURLToPath(manifest['manifest_path'] as string)))) {
      if (entry['status'] === EntryStatus.Deleted) continue;
      const file = entry['data_file'] as Record<string, unknown>;
      const partition = (file['partition'] ?? {}) as Record<string, PartitionValue>;
      files.push({
        path: fileURLToPath(file['file_path'] as string),
        content: file['content'] as FileContent,
        sequence: entry['sequence_number'] as bigint,
        specId,
        partition: spec.fields.map((f) => partition[f.name] ?? null),
      });
    }
  }
  return files;
}

/**
 * The number of rows a merge-on-read scan of the table's current snapshot returns, computed as the compaction
 * computes them (DuckDB reads the Parquet files; equality deletes as an anti-join). For the bench.
 */
export async function countLiveRows(warehouse: string, namespace: string, name: string): Promise<number> {
  const catalog = new HadoopCatalog(warehouse);
  const loaded = await catalog.load(catalog.tableLocation(namespace, name));
  const snapshot = loaded === undefined ? undefined : currentSnapshot(loaded.metadata);
  if (loaded === undefined || snapshot === undefined) return 0;
  const files = await liveFiles(loaded.metadata, snapshot['manifest-list']);
  const data = files.filter((f) => f.content === FileContent.Data);
  if (data.length === 0) return 0;
  const result = await rewrite(
    loaded.metadata,
    data,
    files.filter((f) => f.content !== FileContent.Data),
    undefined,
  );
  return result.rows;
}

/**
 * Merges `data` with `deletes` in DuckDB and writes the live rows to files at paths `pathFor` gives (if given),
 * split at the table's `write.target-file-size-bytes`; returns their number and the files.
 */
async function rewrite(
  metadata: TableMetadata,
  data: readonly LiveFile[],
  deletes: readonly LiveFile[],
  pathFor: (() => string) | undefined,
): Promise<{ rows: number; files: WrittenFile[] }> {
  const schema = currentSchema(metadata);
  const keys = schema['identifier-field-ids'].map((id) => schema.fields.find((f) => f.id === id)!.name);
  const instance = await DuckDBInstance.create(':memory:');
  const connection = await instance.connect();
  try {
    const sequences = [...data, ...deletes].map((f) => `(${literal(f.path)}, ${f.sequence})`).join(', ');
    await connection.run(`CREATE TABLE seqs AS SELECT * FROM (VALUES ${sequences}) v(file, seq)`);
    const list = (files: readonly LiveFile[]) => `[${files.map((f) => literal(f.path)).join(', ')}]`;
    await connection.run(
      `CREATE TABLE d AS SELECT p.*, s.seq AS __tributary_seq FROM read_parquet(${list(data)}, union_by_name = true, filename = '__tributary_file') p ` +
        `JOIN seqs s ON s.file = p.__tributary_file`,
    );
    const present = new Set(
      (await connection.runAndReadAll('SELECT column_name FROM (DESCRIBE d)'))
        .getRowsJson()
        .map(([n]) => (typeof n === 'string' ? n : '')),
    );
    let where = 'TRUE';
    if (deletes.length > 0) {
      await connection.run(
        `CREATE TABLE e AS SELECT ${keys.map(quote).join(', ')}, s.seq AS __tributary_seq FROM read_parquet(${list(deletes)}, filename = '__tributary_file') p ` +
          `JOIN seqs s ON s.file = p.__tributary_file`,
      );
      const match = keys.map((k) => `e.${quote(k)} = d.${quote(k)}`).join(' AND ');
      where = `NOT EXISTS (SELECT 1 FROM e WHERE ${match} AND e.__tributary_seq > d.__tributary_seq)`;
    }
    // Columns added after a file was written are absent from it: null, as a reader sees them.
    const select = schema.fields.map((f) => (present.has(f.name) ? `d.${quote(f.name)}` : `NULL AS ${quote(f.name)}`));
    const fieldIds = schema.fields.map((f) => `${literal(f.name)}: ${f.id}`);
    await connection.run(`CREATE TABLE live AS SELECT ${select.join(', ')} FROM d WHERE ${where}`);
    const count = Number((await connection.runAndReadAll('SELECT count(*) FROM live')).getRowsJson()[0]?.[0]);
    if (pathFor === undefined || count === 0) return { rows: count, files: [] };
    const files = await copyInFiles(
      connection,
      'live',
      '*',
      count,
      `FORMAT parquet, COMPRESSION zstd, FIELD_IDS {${fieldIds.join(', ')}}, ` +
        `KV_METADATA {'iceberg.schema': ${literal(JSON.stringify(schema))}}`,
      pathFor,
      targetFileSize(metadata),
    );
    return { rows: count, files };
  } finally {
    connection.closeSync();
    instance.closeSync();
  }
}

/**
 * Deletes the table's data, delete and manifest files that no snapshot of `metadata` refers to, and staged
 * metadata files of interrupted commits.
 */
async function removeUnreferenced(location: string, metadata: TableMetadata): Promise<number> {
  const referenced = new Set<string>();
  for (const snapshot of metadata.snapshots) {
    const list = fileURLToPath(snapshot['manifest-list']);
    referenced.add(list);
    for (const manifest of readAvroContainerFile(await readFile(list))) {
      const path = fileURLToPath(manifest['manifest_path'] as string);
      referenced.add(path);
      for (const entry of readAvroContainerFile(await readFile(path))) {
        referenced.add(fileURLToPath((entry['data_file'] as Record<string, unknown>)['file_path'] as string));
      }
    }
  }
  let removed = 0;
  for (const [dir, suffix] of [
    ['data', '.parquet'],
    ['metadata', '.avro'],
  ] as const) {
    const names = await readdir(join(location, dir)).catch(() => [] as string[]);
    for (const name of names) {
      const path = join(location, dir, name);
      // Staged metadata of commits that never became a version (the latest checkpoint was completed first).
      const staged = dir === 'metadata' && name.startsWith('staged-');
      if (!staged && (!name.endsWith(suffix) || referenced.has(path))) continue;
      await unlink(path);
      removed++;
    }
  }
  return removed;
}

/**
 * Compacts every table of the warehouse whose current snapshot was committed by `pipeline` (or only
 * `only`, `namespace.table`), for `tributary compact`. Run it while the pipeline is stopped.
 */
export async function compactPipelineTables(
  warehouse: string,
  pipeline: string,
  options: { readonly only?: string; readonly retainSnapshots?: number; readonly catalog?: HadoopCatalog } = {},
): Promise<CompactionResult[]> {
  const catalog = options.catalog ?? new HadoopCatalog(warehouse);
  const results: CompactionResult[] = [];
  for (const location of await catalog.tables()) {
    const table = await catalog.load(location);
    if (table === undefined) continue;
    const [namespace = '', name = ''] = location.slice(warehouse.length + 1).split(/[/\\]/);
    if (options.only !== undefined) {
      if (options.only !== `${namespace}.${name}`) continue;
    } else if (currentSnapshot(table.metadata)?.summary[SUMMARY.pipeline] !== pipeline) {
      continue;
    }
    results.push(
      await compactTable(catalog, location, `${namespace}.${name}`, {
        ...(options.retainSnapshots === undefined ? {} : { retainSnapshots: options.retainSnapshots }),
      }),
    );
  }
  if (options.only !== undefined && results.length === 0) {
    throw new TributaryError('CONFIG_INVALID', `no Iceberg table ${options.only} in ${warehouse}`, {
      hint: 'name a table as namespace.table, as it is laid out under the warehouse directory',
    });
  }
  return results;
}
