import { randomInt, randomUUID } from 'node:crypto';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { TableChanges } from '../sink-kit/change-buffer.js';
import { readAvroContainerFile } from './iceberg-avro.js';
import type { HadoopCatalog } from './iceberg-catalog.js';
import { fileUri, type LoadedTable } from './iceberg-catalog.js';
import {
  EntryStatus,
  FileContent,
  manifestFile,
  manifestListFile,
  type DataFile,
  type ManifestFileEntry,
  type PartitionFieldType,
} from './iceberg-manifest.js';
import type { Row } from '../../core/data-type.js';
import type { IcebergParquetWriter, ParquetColumn } from './iceberg-parquet-writer.js';
import {
  Partitioner,
  avroTypeOf,
  compareValues,
  resultType,
  singleValueBytes,
  tupleKey,
  type PartitionSpec,
  type PartitionValue,
} from './iceberg-partition.js';
import {
  currentSchema,
  currentSnapshot,
  defaultSpec,
  deleteSpec,
  specById,
  targetFileSize,
  withSnapshot,
  type TableMetadata,
} from './iceberg-table-metadata.js';
import type { FieldSummary } from './iceberg-manifest.js';

/** A table's commit, staged: what {@link HadoopCatalog.publish} needs to make it the table's next version. */
export interface StagedCommit {
  readonly location: string;
  readonly version: number;
  readonly staged: string;
}

/**
 * One Iceberg table while a checkpoint is being written: the committed state it started from, the schema changes
 * and the data and delete files written since (in `data/`, invisible until the commit is published). Upserts
 * merge on read, as Flink's upsert writer does: each run of changes becomes a data file of the new rows and an
 * equality-delete file of the keys of every changed or deleted row, which hides the older rows of those keys
 * (equality deletes apply to data files of lower sequence numbers only, so the new rows stay visible).
 */
export class IcebergTable {
  /** The metadata the next snapshot builds on: the committed one plus schema changes. */
  metadata: TableMetadata;
  private readonly dataFiles: DataFile[] = [];
  private readonly deleteFiles: DataFile[] = [];
  /** Set by a truncate: the next snapshot starts from no files at all. */
  private truncated = false;

  constructor(
    readonly name: string,
    readonly location: string,
    metadata: TableMetadata,
    private committed: LoadedTable | undefined,
  ) {
    this.metadata = metadata;
  }

  /** True when the table has nothing to commit. */
  get unchanged(): boolean {
    return (
      this.dataFiles.length === 0 &&
      this.deleteFiles.length === 0 &&
      !this.truncated &&
      this.committed?.metadata === this.metadata
    );
  }

  truncate(): void {
    this.dataFiles.length = 0;
    this.deleteFiles.length = 0;
    this.truncated = true;
  }

  /**
   * Writes the data files and the equality-delete files of one run of changes: one of each per partition of the
   * table's default spec that the run touches (deletes per partition, or one global delete file when the
   * partition is not a function of the key alone; see {@link deleteSpec}).
   */
  async addChanges(changes: TableChanges, writer: IcebergParquetWriter): Promise<void> {
    const schema = currentSchema(this.metadata);
    const fields = schema.fields;
    const columns: ParquetColumn[] = changes.schema.columns.map((column, index) => {
      const field = fields.find((f) => f.name === column.name);
      if (field === undefined) throw new Error(`${this.name}: column ${column.name} is not in the Iceberg schema`);
      return { name: column.name, fieldId: field.id, type: column.type, index };
    });
    const names = changes.schema.columns.map((c) => c.name);
    const keyColumns = changes.keyIndexes.map((index) => columns[index]!);
    const dataDir = join(this.location, 'data');
    await mkdir(dataDir, { recursive: true });
    // A table without rows needs no deletes: nothing older is there to hide.
    const hasRows = !this.truncated && (this.dataFiles.length > 0 || currentSnapshot(this.metadata) !== undefined);
    const keys = hasRows ? [...changes.upserts.values(), ...changes.deletes.values()] : [];
    const forDeletes = deleteSpec(this.metadata);
    const targetBytes = targetFileSize(this.metadata);
    for (const group of partitioned(keys, new Partitioner(forDeletes, schema, names))) {
      const pathFor = () => join(dataDir, `${randomUUID()}-deletes.parquet`);
      for (const written of await writer.write(pathFor, keyColumns, group.rows, this.name, { targetBytes })) {
        this.deleteFiles.push({
          content: FileContent.EqualityDeletes,
          path: fileUri(written.path),
          recordCount: written.rows,
          sizeInBytes: written.size,
          partition: group.tuple,
          specId: forDeletes['spec-id'],
          equalityIds: keyColumns.map((c) => c.fieldId),
        });
      }
    }
    const forData = defaultSpec(this.metadata);
    const icebergSchema = JSON.stringify(schema);
    for (const group of partitioned(changes.upserts.values(), new Partitioner(forData, schema, names))) {
      const pathFor = () => join(dataDir, `${randomUUID()}-data.parquet`);
      for (const written of await writer.write(pathFor, columns, group.rows, this.name, {
        icebergSchema,
        targetBytes,
      })) {
        this.dataFiles.push({
          content: FileContent.Data,
          path: fileUri(written.path),
          recordCount: written.rows,
          sizeInBytes: written.size,
          partition: group.tuple,
          specId: forData['spec-id'],
        });
      }
    }
  }

  /**
   * Writes the manifests, the manifest list and the metadata of the next snapshot, whose summary carries
   * `summary` (the checkpoint), and stages the metadata file; nothing is visible until it is published.
   */
  /** Where the next commit of this table will be staged, and the version it will become. */
  plan(catalog: HadoopCatalog): StagedCommit {
    return {
      location: this.location,
      version: (this.committed?.version ?? 0) + 1,
      staged: catalog.stagedPath(this.location, (this.committed?.version ?? 0) + 1),
    };
  }

  async stage(catalog: HadoopCatalog, plan: StagedCommit, summary: Readonly<Record<string, string>>): Promise<void> {
    const metadata = this.metadata;
    const sequence = metadata['last-sequence-number'] + 1;
    const snapshotId = randomInt(1, 2 ** 47) * 64 + randomInt(0, 64);
    const metadataDir = join(this.location, 'metadata');
    await mkdir(metadataDir, { recursive: true });
    const schema = currentSchema(metadata);
    const manifests: ManifestFileEntry[] = this.truncated ? [] : await this.liveManifests();
    for (const [files, content] of [
      [this.dataFiles, 0],
      [this.deleteFiles, 1],
    ] as const) {
      for (const specId of new Set(files.map((f) => f.specId))) {
        const ofSpec = files.filter((f) => f.specId === specId);
        manifests.push(
          await writeManifest(metadataDir, metadata, ofSpec, content, BigInt(snapshotId), BigInt(sequence)),
        );
      }
    }
    const parent = currentSnapshot(metadata);
    const listPath = join(metadataDir, `snap-${snapshotId}-1-${randomUUID()}.avro`);
    await writeFile(
      listPath,
      manifestListFile(manifests, {
        'snapshot-id': String(snapshotId),
        'parent-snapshot-id': String(parent?.['snapshot-id'] ?? 'null'),
        'sequence-number': String(sequence),
        'format-version': '2',
      }),
    );
    const added = this.dataFiles.reduce((sum, f) => sum + f.recordCount, 0);
    const deletes = this.deleteFiles.reduce((sum, f) => sum + f.recordCount, 0);
    const next = withSnapshot(
      metadata,
      {
        'snapshot-id': snapshotId,
        ...(parent === undefined ? {} : { 'parent-snapshot-id': parent['snapshot-id'] }),
        'sequence-number': sequence,
        'timestamp-ms': Date.now(),
        'manifest-list': fileUri(listPath),
        summary: {
          operation: this.truncated ? 'overwrite' : this.deleteFiles.length > 0 ? 'overwrite' : 'append',
          'added-data-files': String(this.dataFiles.length),
          'added-records': String(added),
          'added-delete-files': String(this.deleteFiles.length),
          'added-equality-delete-files': String(this.deleteFiles.length),
          'added-equality-deletes': String(deletes),
          ...summary,
        },
        'schema-id': schema['schema-id'],
      },
      this.committed === undefined ? undefined : fileUri(this.committed.file),
    );
    await catalog.stage(plan.staged, next);
  }

  /** After the commit was published: the next checkpoint builds on it. */
  published(loaded: LoadedTable): void {
    this.committed = loaded;
    this.metadata = loaded.metadata;
    this.dataFiles.length = 0;
    this.deleteFiles.length = 0;
    this.truncated = false;
  }

  /** The manifests of the current snapshot, read from its manifest list. */
  private async liveManifests(): Promise<ManifestFileEntry[]> {
    const snapshot = currentSnapshot(this.metadata);
    if (snapshot === undefined) return [];
    const records = readAvroContainerFile(await readFile(fileURLToPath(snapshot['manifest-list'])));
    return records.map((r) => ({
      path: r['manifest_path'] as string,
      length: Number(r['manifest_length']),
      partitionSpecId: r['partition_spec_id'] as number,
      content: r['content'] as 0 | 1,
      sequenceNumber: r['sequence_number'] as bigint,
      minSequenceNumber: r['min_sequence_number'] as bigint,
      addedSnapshotId: r['added_snapshot_id'] as bigint,
      addedFilesCount: r['added_files_count'] as number,
      existingFilesCount: r['existing_files_count'] as number,
      deletedFilesCount: r['deleted_files_count'] as number,
      addedRowsCount: Number(r['added_rows_count']),
      existingRowsCount: Number(r['existing_rows_count']),
      deletedRowsCount: Number(r['deleted_rows_count']),
      ...(Array.isArray(r['partitions'])
        ? {
            partitions: (r['partitions'] as Record<string, unknown>[]).map((p) => ({
              containsNull: p['contains_null'] === true,
              lowerBound: (p['lower_bound'] as Uint8Array | null) ?? null,
              upperBound: (p['upper_bound'] as Uint8Array | null) ?? null,
            })),
          }
        : {}),
    }));
  }
}

/** Rows grouped by their partition tuple under `partitioner` (one group, the empty tuple, when unpartitioned). */
function partitioned(rows: Iterable<Row>, partitioner: Partitioner): { tuple: PartitionValue[]; rows: Row[] }[] {
  const groups = new Map<string, { tuple: PartitionValue[]; rows: Row[] }>();
  for (const row of rows) {
    const tuple = partitioner.tuple(row);
    const key = tupleKey(tuple);
    let group = groups.get(key);
    if (group === undefined) groups.set(key, (group = { tuple, rows: [] }));
    group.rows.push(row);
  }
  return [...groups.values()];
}

/** The manifest file entries' partition struct types under `spec` of the table's current schema. */
export function partitionFieldTypes(metadata: TableMetadata, spec: PartitionSpec): PartitionFieldType[] {
  const schema = currentSchema(metadata);
  return spec.fields.map((f) => ({
    name: f.name,
    fieldId: f['field-id'],
    avroType: avroTypeOf(resultType(f, schema)),
  }));
}

/**
 * Writes a manifest of `files` (all of one content kind and one partition spec) added by snapshot `snapshotId`
 * with sequence number `sequence`; returns its manifest-list entry with the partition summaries.
 */
export async function writeManifest(
  metadataDir: string,
  metadata: TableMetadata,
  files: readonly DataFile[],
  content: 0 | 1,
  snapshotId: bigint,
  sequence: bigint,
): Promise<ManifestFileEntry> {
  const schema = currentSchema(metadata);
  const spec = specById(metadata, files[0]?.specId ?? metadata['default-spec-id']);
  const bytes = manifestFile(
    files.map((file) => ({
      status: EntryStatus.Added,
      snapshotId,
      sequenceNumber: sequence,
      fileSequenceNumber: sequence,
      file,
    })),
    partitionFieldTypes(metadata, spec),
    {
      schema: JSON.stringify(schema),
      'schema-id': String(schema['schema-id']),
      'partition-spec': JSON.stringify(spec.fields),
      'partition-spec-id': String(spec['spec-id']),
      'format-version': '2',
      content: content === 0 ? 'data' : 'deletes',
    },
  );
  const path = join(metadataDir, `${randomUUID()}-m${content}.avro`);
  await writeFile(path, bytes);
  return {
    path: fileUri(path),
    length: bytes.length,
    partitionSpecId: spec['spec-id'],
    content,
    sequenceNumber: sequence,
    minSequenceNumber: sequence,
    addedSnapshotId: snapshotId,
    addedFilesCount: files.length,
    existingFilesCount: 0,
    deletedFilesCount: 0,
    addedRowsCount: files.reduce((sum, f) => sum + f.recordCount, 0),
    existingRowsCount: 0,
    deletedRowsCount: 0,
    partitions: spec.fields.map((field, i): FieldSummary => {
      const type = resultType(field, schema);
      const values = files.map((f) => f.partition[i] ?? null);
      const present = values.filter((v): v is Exclude<PartitionValue, null> => v !== null);
      if (present.length === 0) return { containsNull: true, lowerBound: null, upperBound: null };
      const sorted = [...present].sort(compareValues);
      return {
        containsNull: present.length < values.length,
        lowerBound: singleValueBytes(type, sorted[0]!),
        upperBound: singleValueBytes(type, sorted[sorted.length - 1]!),
      };
    }),
  };
}
