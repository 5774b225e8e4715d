import { avroContainerFile, type AvroField, type AvroRecord, type AvroType } from './iceberg-avro.js';
import type { PartitionValue } from './iceberg-partition.js';

/**
 * Manifests and manifest lists of Iceberg format version 2, as the table spec defines them ("Manifests",
 * "Manifest Lists"): the Avro schemas with their field ids, only the required fields and the optional ones
 * Tributary fills (`equality_ids`). Column statistics are optional and not written: readers then open every
 * file, which a merge-on-read table does anyway.
 */

/** `content` of a data file entry: rows, position deletes or equality deletes. */
export const enum FileContent {
  Data = 0,
  PositionDeletes = 1,
  EqualityDeletes = 2,
}

/** `status` of a manifest entry. */
export const enum EntryStatus {
  Existing = 0,
  Added = 1,
  Deleted = 2,
}

/** One data or delete file as a manifest records it. */
export interface DataFile {
  readonly content: FileContent;
  /** An absolute URI (`file:///…`), as other engines open it. */
  readonly path: string;
  readonly recordCount: number;
  readonly sizeInBytes: number;
  /** Partition values in partition-spec field order (empty for an unpartitioned table). */
  readonly partition: readonly PartitionValue[];
  /** The partition spec the file was written with. */
  readonly specId: number;
  /** Field ids of the key columns of an equality delete file. */
  readonly equalityIds?: readonly number[];
}

export interface ManifestEntry {
  readonly status: EntryStatus;
  readonly snapshotId: bigint;
  /** Written explicitly rather than inherited, so that a reader needs no inheritance rules. */
  readonly sequenceNumber: bigint;
  readonly fileSequenceNumber: bigint;
  readonly file: DataFile;
}

/** A partition field of the spec as the manifest's `r102` struct holds it. */
export interface PartitionFieldType {
  readonly name: string;
  readonly fieldId: number;
  readonly avroType: 'int' | 'long' | 'string' | 'boolean' | 'bytes';
}

const optional = (type: AvroType): AvroType => ['null', type];

function manifestEntrySchema(partition: readonly PartitionFieldType[]): AvroRecord {
  const partitionFields: AvroField[] = partition.map((p) => ({
    name: p.name,
    type: optional(p.avroType),
    'field-id': p.fieldId,
  }));
  return {
    type: 'record',
    name: 'manifest_entry',
    fields: [
      { name: 'status', type: 'int', 'field-id': 0 },
      { name: 'snapshot_id', type: optional('long'), 'field-id': 1 },
      { name: 'sequence_number', type: optional('long'), 'field-id': 3 },
      { name: 'file_sequence_number', type: optional('long'), 'field-id': 4 },
      {
        name: 'data_file',
        'field-id': 2,
        type: {
          type: 'record',
          name: 'r2',
          fields: [
            { name: 'content', type: 'int', 'field-id': 134 },
            { name: 'file_path', type: 'string', 'field-id': 100 },
            { name: 'file_format', type: 'string', 'field-id': 101 },
            { name: 'partition', type: { type: 'record', name: 'r102', fields: partitionFields }, 'field-id': 102 },
            { name: 'record_count', type: 'long', 'field-id': 103 },
            { name: 'file_size_in_bytes', type: 'long', 'field-id': 104 },
            {
              name: 'equality_ids',
              type: optional({ type: 'array', items: 'int', 'element-id': 136 }),
              'field-id': 135,
            },
          ],
        },
      },
    ],
  };
}

/**
 * A manifest file: entries of one content kind (data, or deletes) and one partition spec. `header` carries the
 * key-value metadata the spec requires (schema, partition spec and its id, format version, content).
 */
export function manifestFile(
  entries: readonly ManifestEntry[],
  partition: readonly PartitionFieldType[],
  header: Readonly<Record<string, string>>,
): Buffer {
  const records = entries.map((entry) => ({
    status: entry.status,
    snapshot_id: entry.snapshotId,
    sequence_number: entry.sequenceNumber,
    file_sequence_number: entry.fileSequenceNumber,
    data_file: {
      content: entry.file.content,
      file_path: entry.file.path,
      file_format: 'PARQUET',
      partition: Object.fromEntries(partition.map((p, i) => [p.name, entry.file.partition[i] ?? null])),
      record_count: entry.file.recordCount,
      file_size_in_bytes: entry.file.sizeInBytes,
      equality_ids: entry.file.equalityIds ?? null,
    },
  }));
  return avroContainerFile(manifestEntrySchema(partition), records, header);
}

/** One manifest as the manifest list records it. */
export interface ManifestFileEntry {
  readonly path: string;
  readonly length: number;
  readonly partitionSpecId: number;
  /** 0: data files, 1: delete files. */
  readonly content: 0 | 1;
  readonly sequenceNumber: bigint;
  readonly minSequenceNumber: bigint;
  readonly addedSnapshotId: bigint;
  readonly addedFilesCount: number;
  readonly existingFilesCount: number;
  readonly deletedFilesCount: number;
  readonly addedRowsCount: number;
  readonly existingRowsCount: number;
  readonly deletedRowsCount: number;
  /** Per partition field of the manifest's spec: whether a null occurs, and the bounds (single-value bytes). */
  readonly partitions?: readonly FieldSummary[];
}

/** `field_summary` of the manifest list (spec, "Manifest Lists"). */
export interface FieldSummary {
  readonly containsNull: boolean;
  readonly lowerBound: Uint8Array | null;
  readonly upperBound: Uint8Array | null;
}

const MANIFEST_FILE_SCHEMA: AvroRecord = {
  type: 'record',
  name: 'manifest_file',
  fields: [
    { name: 'manifest_path', type: 'string', 'field-id': 500 },
    { name: 'manifest_length', type: 'long', 'field-id': 501 },
    { name: 'partition_spec_id', type: 'int', 'field-id': 502 },
    { name: 'content', type: 'int', 'field-id': 517 },
    { name: 'sequence_number', type: 'long', 'field-id': 515 },
    { name: 'min_sequence_number', type: 'long', 'field-id': 516 },
    { name: 'added_snapshot_id', type: 'long', 'field-id': 503 },
    { name: 'added_files_count', type: 'int', 'field-id': 504 },
    { name: 'existing_files_count', type: 'int', 'field-id': 505 },
    { name: 'deleted_files_count', type: 'int', 'field-id': 506 },
    { name: 'added_rows_count', type: 'long', 'field-id': 512 },
    { name: 'existing_rows_count', type: 'long', 'field-id': 513 },
    { name: 'deleted_rows_count', type: 'long', 'field-id': 514 },
    {
      name: 'partitions',
      'field-id': 507,
      type: optional({
        type: 'array',
        'element-id': 508,
        items: {
          type: 'record',
          name: 'r508',
          fields: [
            { name: 'contains_null', type: 'boolean', 'field-id': 509 },
            { name: 'contains_nan', type: optional('boolean'), 'field-id': 518 },
            { name: 'lower_bound', type: optional('bytes'), 'field-id': 510 },
            { name: 'upper_bound', type: optional('bytes'), 'field-id': 511 },
          ],
        },
      }),
    },
  ],
};

/** The manifest list of one snapshot: every manifest whose files are live in it. */
export function manifestListFile(
  manifests: readonly ManifestFileEntry[],
  header: Readonly<Record<string, string>>,
): Buffer {
  const records = manifests.map((m) => ({
    manifest_path: m.path,
    manifest_length: m.length,
    partition_spec_id: m.partitionSpecId,
    content: m.content,
    sequence_number: m.sequenceNumber,
    min_sequence_number: m.minSequenceNumber,
    added_snapshot_id: m.addedSnapshotId,
    added_files_count: m.addedFilesCount,
    existing_files_count: m.existingFilesCount,
    deleted_files_count: m.deletedFilesCount,
    added_rows_count: m.addedRowsCount,
    existing_rows_count: m.existingRowsCount,
    deleted_rows_count: m.deletedRowsCount,
    partitions:
      m.partitions?.map((p) => ({
        contains_null: p.containsNull,
        contains_nan: null,
        lower_bound: p.lowerBound,
        upper_bound: p.upperBound,
      })) ?? null,
  }));
  return avroContainerFile(MANIFEST_FILE_SCHEMA, records, header);
}
