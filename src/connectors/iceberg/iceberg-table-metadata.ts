import { randomUUID } from 'node:crypto';
import type { ColumnRename } from '../../core/change-event.js';
import type { TableSchema } from '../../core/table-schema.js';
import { buildPartitionSpec, type PartitionRequest, type PartitionSpec } from './iceberg-partition.js';
import { canPromote, icebergType } from './iceberg-types.js';

/** A field of an Iceberg schema (table metadata JSON, format version 2). */
export interface IcebergField {
  readonly id: number;
  readonly name: string;
  readonly required: boolean;
  readonly type: string;
}

export interface IcebergSchema {
  readonly type: 'struct';
  readonly 'schema-id': number;
  readonly 'identifier-field-ids': readonly number[];
  readonly fields: readonly IcebergField[];
}

export interface IcebergSnapshot {
  readonly 'snapshot-id': number;
  readonly 'parent-snapshot-id'?: number;
  readonly 'sequence-number': number;
  readonly 'timestamp-ms': number;
  readonly 'manifest-list': string;
  readonly summary: Readonly<Record<string, string>>;
  readonly 'schema-id': number;
}

/** The table metadata file (`vN.metadata.json`), as much of it as this sink reads and writes. */
export interface TableMetadata {
  readonly 'format-version': 2;
  readonly 'table-uuid': string;
  readonly location: string;
  readonly 'last-sequence-number': number;
  readonly 'last-updated-ms': number;
  readonly 'last-column-id': number;
  readonly schemas: readonly IcebergSchema[];
  readonly 'current-schema-id': number;
  readonly 'partition-specs': readonly PartitionSpec[];
  readonly 'default-spec-id': number;
  readonly 'last-partition-id': number;
  readonly properties: Readonly<Record<string, string>>;
  readonly 'current-snapshot-id': number;
  readonly snapshots: readonly IcebergSnapshot[];
  readonly 'snapshot-log': readonly { 'timestamp-ms': number; 'snapshot-id': number }[];
  readonly 'metadata-log': readonly { 'timestamp-ms': number; 'metadata-file': string }[];
  readonly 'sort-orders': readonly { 'order-id': number; fields: readonly unknown[] }[];
  readonly 'default-sort-order-id': number;
  readonly refs: Readonly<Record<string, { 'snapshot-id': number; type: 'branch' }>>;
}

export function currentSchema(metadata: TableMetadata): IcebergSchema {
  const schema = metadata.schemas.find((s) => s['schema-id'] === metadata['current-schema-id']);
  if (schema === undefined) throw new Error(`table metadata of ${metadata.location} has no current schema`);
  return schema;
}

export function currentSnapshot(metadata: TableMetadata): IcebergSnapshot | undefined {
  return metadata.snapshots.find((s) => s['snapshot-id'] === metadata['current-snapshot-id']);
}

/** Iceberg's default of `write.target-file-size-bytes`: 512 MiB. */
export const DEFAULT_TARGET_FILE_SIZE = 536_870_912;

/** The table property `write.target-file-size-bytes`: the size the sink and the compaction split files at. */
export function targetFileSize(metadata: TableMetadata): number {
  const value = Number(metadata.properties['write.target-file-size-bytes']);
  return Number.isFinite(value) && value > 0 ? value : DEFAULT_TARGET_FILE_SIZE;
}

/** The spec new data files are written with. */
export function defaultSpec(metadata: TableMetadata): PartitionSpec {
  const spec = metadata['partition-specs'].find((s) => s['spec-id'] === metadata['default-spec-id']);
  if (spec === undefined) throw new Error(`table metadata of ${metadata.location} has no default partition spec`);
  return spec;
}

export function specById(metadata: TableMetadata, id: number): PartitionSpec {
  const spec = metadata['partition-specs'].find((s) => s['spec-id'] === id);
  if (spec === undefined) throw new Error(`table metadata of ${metadata.location} has no partition spec ${id}`);
  return spec;
}

/**
 * The spec equality-delete files are written with. The default spec when every partition source column is a key
 * column (the key alone then gives the partition of the rows it deletes, so each delete file goes to the partition
 * of the rows it hides, as Flink's upsert writer requires); otherwise the unpartitioned spec: a delete file of an
 * unpartitioned spec is a global delete (spec, "Scan Planning"), which hides the key's older rows in every
 * partition — needed because a delete event carries only the key, and an update may move a row between partitions.
 */
export function deleteSpec(metadata: TableMetadata): PartitionSpec {
  const spec = defaultSpec(metadata);
  const keys = currentSchema(metadata)['identifier-field-ids'];
  if (spec.fields.every((f) => keys.includes(f['source-id']))) return spec;
  const unpartitioned = metadata['partition-specs'].find((s) => s.fields.length === 0);
  if (unpartitioned === undefined) throw new Error(`table metadata of ${metadata.location} has no unpartitioned spec`);
  return unpartitioned;
}

/**
 * A new table partitioned by `partition`: spec 0 stays unpartitioned (for global equality deletes, see
 * {@link deleteSpec}) and spec 1, field ids from 1000, becomes the default. Or why the spec cannot be built.
 */
export function withPartitioning(
  metadata: TableMetadata,
  partition: readonly PartitionRequest[],
): TableMetadata | { problem: string } {
  if (partition.length === 0) return metadata;
  const spec = buildPartitionSpec(partition, currentSchema(metadata), 1, metadata['last-partition-id']);
  if ('problem' in spec) return spec;
  return {
    ...metadata,
    'partition-specs': [...metadata['partition-specs'], spec],
    'default-spec-id': 1,
    'last-partition-id': Math.max(metadata['last-partition-id'], ...spec.fields.map((f) => f['field-id'])),
  };
}

/** A new empty table: schema 0 from `schema`, unpartitioned, no snapshot. */
export function newTableMetadata(location: string, schema: TableSchema): TableMetadata {
  const fields = schema.columns.map((column, i) => fieldOf(i + 1, column.name, schema, column.nullable));
  return {
    'format-version': 2,
    'table-uuid': randomUUID(),
    location,
    'last-sequence-number': 0,
    'last-updated-ms': Date.now(),
    'last-column-id': fields.length,
    schemas: [{ type: 'struct', 'schema-id': 0, 'identifier-field-ids': identifierIds(fields, schema), fields }],
    'current-schema-id': 0,
    'partition-specs': [{ 'spec-id': 0, fields: [] }],
    'default-spec-id': 0,
    'last-partition-id': 999,
    properties: { 'write.format.default': 'parquet', 'write.upsert.enabled': 'true' },
    'current-snapshot-id': -1,
    snapshots: [],
    'snapshot-log': [],
    'metadata-log': [],
    'sort-orders': [{ 'order-id': 0, fields: [] }],
    'default-sort-order-id': 0,
    refs: {},
  };
}

function fieldOf(id: number, name: string, schema: TableSchema, nullable: boolean): IcebergField {
  const column = schema.columns.find((c) => c.name === name)!;
  // Identifier fields must be required (spec, "Identifier Field IDs"); the key is never null anyway.
  const required = schema.primaryKey.includes(name) || !nullable;
  return { id, name, required, type: icebergType(column.type).iceberg };
}

function identifierIds(fields: readonly IcebergField[], schema: TableSchema): number[] {
  return schema.primaryKey.map((name) => fields.find((f) => f.name === name)!.id);
}

/** Why the table cannot take `schema` in place, or the evolved metadata (unchanged when the schema is the same). */
export type EvolveResult = { readonly metadata: TableMetadata } | { readonly problem: string };

/**
 * The table with `schema` as its current schema, as Iceberg's schema evolution allows: a column keeps its field
 * id when its name stays (or `renames` renames it), a new column gets a new id (never reused), a dropped
 * column leaves the schema, and a type may only be promoted (int → long, float → double, wider decimal).
 */
export function evolveSchema(
  metadata: TableMetadata,
  schema: TableSchema,
  renames: readonly ColumnRename[] = [],
): EvolveResult {
  const current = currentSchema(metadata);
  let lastId = metadata['last-column-id'];
  const fields: IcebergField[] = [];
  for (const column of schema.columns) {
    const oldName = renames.find((r) => r.to === column.name)?.from ?? column.name;
    const existing = current.fields.find((f) => f.name === oldName);
    const type = icebergType(column.type).iceberg;
    if (existing === undefined) {
      fields.push({ id: ++lastId, name: column.name, required: schema.primaryKey.includes(column.name), type });
      continue;
    }
    if (!canPromote(existing.type, type)) {
      return {
        problem: `column ${column.name} would change type from ${existing.type} to ${type}, which Iceberg cannot do in place`,
      };
    }
    fields.push({ ...existing, name: column.name, type, required: existing.required && !column.nullable });
  }
  const same =
    fields.length === current.fields.length &&
    fields.every((f, i) => JSON.stringify(f) === JSON.stringify(current.fields[i]));
  if (same) return { metadata };
  const keyIds = identifierIds(fields, schema);
  if (
    keyIds.some((id) => !current['identifier-field-ids'].includes(id)) ||
    keyIds.length !== current['identifier-field-ids'].length
  ) {
    return { problem: 'the primary key would change; an Iceberg table keeps its identifier fields' };
  }
  const schemaId = Math.max(...metadata.schemas.map((s) => s['schema-id'])) + 1;
  return {
    metadata: {
      ...metadata,
      'last-column-id': lastId,
      schemas: [...metadata.schemas, { type: 'struct', 'schema-id': schemaId, 'identifier-field-ids': keyIds, fields }],
      'current-schema-id': schemaId,
    },
  };
}

/** The metadata after committing `snapshot`, which becomes the current snapshot of branch `main`. */
export function withSnapshot(
  metadata: TableMetadata,
  snapshot: IcebergSnapshot,
  previousFile: string | undefined,
): TableMetadata {
  return {
    ...metadata,
    'last-sequence-number': snapshot['sequence-number'],
    'last-updated-ms': snapshot['timestamp-ms'],
    'current-snapshot-id': snapshot['snapshot-id'],
    snapshots: [...metadata.snapshots, snapshot],
    'snapshot-log': [
      ...metadata['snapshot-log'],
      { 'timestamp-ms': snapshot['timestamp-ms'], 'snapshot-id': snapshot['snapshot-id'] },
    ],
    'metadata-log':
      previousFile === undefined
        ? metadata['metadata-log']
        : [...metadata['metadata-log'], { 'timestamp-ms': metadata['last-updated-ms'], 'metadata-file': previousFile }],
    refs: { ...metadata.refs, main: { 'snapshot-id': snapshot['snapshot-id'], type: 'branch' } },
  };
}
