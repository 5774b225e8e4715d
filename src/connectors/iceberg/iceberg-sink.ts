import type { ChangeEvent, SchemaChangeEvent } from '../../core/change-event.js';
import { SchemaChangeFailedError, TributaryError, asTributaryError } from '../../core/errors.js';
import type { OptionValues } from '../../core/option-spec.js';
import type { Checkpoint, Sink } from '../../core/sink.js';
import { tableIdToString, type TableId, type TableSchema } from '../../core/table-schema.js';
import type { TableLayout } from '../../core/table-layout.js';
import type { ValidationCheck } from '../../core/validation-check.js';
import type { Logger } from '../../core/logger.js';
import { ChangeBuffer } from '../sink-kit/change-buffer.js';
import { tableKey } from '../sink-kit/schema-tracker.js';
import { writeBuffered } from '../sink-kit/buffered-write.js';
import { IcebergCheckpoints } from './iceberg-checkpoint.js';
import { compactTable } from './iceberg-compaction.js';
import { IcebergParquetWriter } from './iceberg-parquet-writer.js';
import { icebergCatalog, type HadoopCatalog } from './iceberg-catalog.js';
import { icebergSinkConfig, type IcebergSinkConfig } from './iceberg-sink-config.js';
import type { PartitionRequest } from './iceberg-partition.js';
import {
  defaultSpec,
  evolveSchema,
  newTableMetadata,
  withPartitioning,
  type TableMetadata,
} from './iceberg-table-metadata.js';
import { IcebergTable, type StagedCommit } from './iceberg-table.js';
import { mkdir } from 'node:fs/promises';

export interface IcebergSinkContext {
  readonly log: Logger;
  /** The layout a transform's `partition-keys` give a sink table (identity partition fields). */
  readonly tableLayout?: (table: TableId) => TableLayout | undefined;
}

/**
 * The Iceberg sink (`type: iceberg`): Iceberg format v2 tables in a filesystem (Hadoop) catalog, upserts
 * merged on read (a data file and an equality-delete file per table and checkpoint). Each checkpoint becomes
 * one snapshot per table it changed, whose summary carries the pipeline's checkpoint id, so `open` reads the
 * position back from the tables and a restart never commits a checkpoint twice (see {@link IcebergCheckpoints}).
 * Data and delete files are written as events are applied; nothing is visible to readers before `commit`
 * publishes the new metadata version.
 */
export function icebergSink(options: OptionValues, context: IcebergSinkContext): Sink {
  return new IcebergSink(icebergSinkConfig(options), context);
}

/** SINK_SCHEMA_MISMATCH: an existing table cannot take the source table's schema. */
function tableMismatch(table: string, problem: string): TributaryError {
  return new TributaryError(
    'SINK_SCHEMA_MISMATCH',
    `iceberg table ${table} does not fit the source table: ${problem}`,
    {
      hint: 'route the table to another name, or move the existing Iceberg table away so that the sink creates it anew',
    },
  );
}

class IcebergSink implements Sink {
  private readonly catalog: HadoopCatalog;
  private readonly buffer = new ChangeBuffer();
  private readonly tables = new Map<string, IcebergTable>();
  private writer: IcebergParquetWriter | undefined;
  private checkpoints: IcebergCheckpoints | undefined;
  private applied = 0;
  private failed = false;
  /** Commits that changed a table, and the tables changed since the last scheduled maintenance. */
  private commits = 0;
  private readonly touched = new Set<IcebergTable>();
  readonly maxTablesPerCommit: number;

  constructor(
    private readonly config: IcebergSinkConfig,
    private readonly context: IcebergSinkContext,
  ) {
    this.catalog = icebergCatalog(config);
    this.maxTablesPerCommit = config.commitMaxTables;
  }

  async validate(): Promise<void> {
    try {
      await mkdir(this.config.warehouse, { recursive: true });
    } catch (error) {
      throw new TributaryError(
        'ICEBERG_WAREHOUSE_UNUSABLE',
        `cannot use ${this.config.warehouse}: ${(error as Error).message}`,
        {
          hint: 'set sink option `warehouse` to a directory this user may create and write',
          cause: error,
        },
      );
    }
  }

  async savedCheckpoint(pipeline: string): Promise<Checkpoint | null> {
    return new IcebergCheckpoints(this.catalog, pipeline).latest(false);
  }

  /** Read-only: whether each existing table can take its source schema, as the first write will check it. */
  async checkTables(schemas: readonly TableSchema[]): Promise<ValidationCheck[]> {
    const checks: ValidationCheck[] = [];
    for (const schema of schemas) {
      const namespace = this.config.namespace ?? schema.id.namespace;
      const name = `${namespace}.${schema.id.name}`;
      const loaded = await this.catalog.load(this.catalog.tableLocation(namespace, schema.id.name));
      if (loaded === undefined) {
        checks.push({ status: 'ok', message: `sink table ${name}: will be created` });
        continue;
      }
      const result = evolveSchema(loaded.metadata, schema);
      if (!('problem' in result)) {
        checks.push({
          status: 'ok',
          message: `sink table ${name}: fits (Iceberg format v${loaded.metadata['format-version']})`,
        });
        continue;
      }
      const error = tableMismatch(name, result.problem);
      checks.push({
        status: 'error',
        code: error.code,
        message: error.message,
        ...(error.hint ? { fix: error.hint } : {}),
      });
    }
    return checks;
  }

  async open(pipeline: string): Promise<Checkpoint | null> {
    this.buffer.reset();
    this.tables.clear();
    this.touched.clear();
    this.failed = false;
    this.applied = 0;
    await this.validate();
    this.writer ??= await IcebergParquetWriter.open();
    this.checkpoints = new IcebergCheckpoints(this.catalog, pipeline);
    const checkpoint = await this.checkpoints.latest(true);
    if (checkpoint !== null) this.context.log.info(`iceberg: resuming after checkpoint ${checkpoint.id}`);
    return checkpoint;
  }

  async write(events: readonly ChangeEvent[]): Promise<void> {
    this.assertUsable();
    await writeBuffered(
      this.buffer,
      events,
      () => this.applyBuffered(),
      (error) => this.fail(error),
    );
  }

  pending(): number {
    return this.buffer.pending() + this.applied;
  }

  async commit(checkpoint: Checkpoint): Promise<void> {
    this.assertUsable();
    let changed: IcebergTable[];
    try {
      await this.applyBuffered();
      changed = [...this.tables.values()].filter((t) => !t.unchanged);
      this.applied = 0;
      // A checkpoint that changed no table moves only the position: not stored, so a restart re-reads events
      // that change nothing here.
      if (changed.length === 0) return;
      const checkpoints = this.checkpoints!;
      const file = await checkpoints.saveFile(checkpoint);
      // Every table's files and metadata are written before the first is published (see IcebergCheckpoints).
      const staged: StagedCommit[] = changed.map((table) => table.plan(this.catalog));
      const summary = checkpoints.summary(checkpoint, file, staged);
      for (const [i, table] of changed.entries()) await table.stage(this.catalog, staged[i]!, summary);
      for (const [i, table] of changed.entries()) {
        const commit = staged[i]!;
        await this.catalog.publish(commit.location, commit.version, commit.staged);
        table.published((await this.catalog.load(commit.location))!);
      }
      await checkpoints.prune(file);
    } catch (error) {
      throw this.fail(error);
    }
    await this.maintain(changed);
  }

  /**
   * Scheduled maintenance, in the commit path after the checkpoint is published — so it never runs beside a
   * write of this sink: every `compaction.every-checkpoints` commits, the tables changed since the last one are
   * compacted; every `expire-snapshots.every-checkpoints`, their old snapshots expire. A failure is logged and
   * the pipeline goes on (the checkpoint is committed; the next run of the schedule tries again).
   */
  private async maintain(changed: readonly IcebergTable[]): Promise<void> {
    const { compactEvery, expireEvery, retainSnapshots } = this.config;
    for (const table of changed) this.touched.add(table);
    this.commits++;
    const compact = compactEvery > 0 && this.commits % compactEvery === 0;
    const expire = expireEvery > 0 && this.commits % expireEvery === 0;
    if (!compact && !expire) return;
    for (const table of this.touched) {
      try {
        const started = Date.now();
        const result = await compactTable(this.catalog, table.location, table.name, {
          retainSnapshots,
          rewrite: compact,
        });
        this.context.log.info(
          `iceberg: ${compact ? 'compacted' : 'expired snapshots of'} ${table.name}` +
            (result.rows === undefined
              ? ''
              : `: ${result.dataFilesBefore} data and ${result.deleteFilesBefore} delete files rewritten, ${result.rows} rows`) +
            `, ${result.snapshotsExpired} snapshots expired, ${result.filesRemoved} files removed (${Date.now() - started} ms)`,
        );
      } catch (error) {
        this.context.log.warn(`iceberg: maintenance of ${table.name} failed: ${(error as Error).message}`);
      }
      const loaded = await this.catalog.load(table.location);
      if (loaded !== undefined) table.published(loaded);
    }
    this.touched.clear();
  }

  close(): Promise<void> {
    this.writer?.close();
    this.writer = undefined;
    this.buffer.reset();
    this.tables.clear();
    this.catalog.close();
    return Promise.resolve();
  }

  /** Applies what is buffered: schema changes to the tables' pending metadata, rows as files. */
  private async applyBuffered(): Promise<void> {
    const writer = this.writer;
    if (writer === undefined) throw new TributaryError('INTERNAL', 'iceberg sink: write() or commit() before open()');
    const count = this.buffer.pending();
    for (const step of this.buffer.drain()) {
      if (step.kind === 'schema') await this.applySchema(step.event, step.previous);
      else await (await this.table(step.changes.table)).addChanges(step.changes, writer);
    }
    this.applied += count;
  }

  private async applySchema(
    event: SchemaChangeEvent,
    previous: SchemaChangeEvent['schema'] | undefined,
  ): Promise<void> {
    const refuse = (why: string): never => {
      throw new SchemaChangeFailedError(event, previous, `${tableIdToString(event.table)}: ${why}`, {
        hint: 'see docs/connectors/iceberg.md (schema changes)',
      });
    };
    switch (event.change) {
      case 'renameTable':
      case 'dropTable':
        return refuse(`the iceberg sink does not ${event.change === 'dropTable' ? 'drop' : 'rename'} tables`);
      case 'truncateTable':
        (await this.table(event.table)).truncate();
        return;
      default: {
        const table = await this.table(event.table, event);
        const result = evolveSchema(table.metadata, event.schema, event.renamedColumns);
        if ('problem' in result && event.change === 'createTable') throw tableMismatch(table.name, result.problem);
        if ('problem' in result) return refuse(result.problem);
        table.metadata = result.metadata;
      }
    }
  }

  /** The table a sink table id names, loaded from the catalog or (for a createTable) created in memory. */
  private async table(id: TableId, create?: SchemaChangeEvent): Promise<IcebergTable> {
    const namespace = this.config.namespace ?? id.namespace;
    const key = tableKey({ namespace, name: id.name });
    const known = this.tables.get(key);
    if (known !== undefined) return known;
    const location = this.catalog.tableLocation(namespace, id.name);
    const loaded = await this.catalog.load(location);
    let metadata = loaded?.metadata;
    if (metadata === undefined) {
      if (create === undefined)
        throw new TributaryError('INTERNAL', `iceberg sink: rows of ${tableIdToString(id)} before its table`);
      metadata = this.partitioned(newTableMetadata(new URL(`file://${location}`).href, create.schema), id, create);
      const spec = defaultSpec(metadata);
      this.context.log.info(
        `iceberg: creating table ${namespace}.${id.name} in ${location}` +
          (spec.fields.length === 0
            ? ''
            : `, partitioned by ${spec.fields.map((f) => `${f.transform}(${f.name})`).join(', ')}`),
      );
    }
    const target = this.config.targetFileSize;
    if (target !== undefined && metadata.properties['write.target-file-size-bytes'] !== String(target)) {
      metadata = {
        ...metadata,
        properties: { ...metadata.properties, 'write.target-file-size-bytes': String(target) },
      };
    }
    const table = new IcebergTable(`${namespace}.${id.name}`, location, metadata, loaded);
    this.tables.set(key, table);
    return table;
  }

  /** The partition requests of a table the sink creates: the transform's `partition-keys`, else `partition-by`. */
  private partitionRequests(id: TableId, schema: TableSchema): readonly PartitionRequest[] {
    const keys = this.context.tableLayout?.(id)?.partitionKeys;
    if (keys !== undefined && keys.length > 0) return keys.map((source) => ({ source, transform: 'identity' }));
    const columns = new Set(schema.columns.map((c) => c.name));
    return this.config.partitionBy.every((p) => columns.has(p.source)) ? this.config.partitionBy : [];
  }

  private partitioned(metadata: TableMetadata, id: TableId, create: SchemaChangeEvent): TableMetadata {
    const result = withPartitioning(metadata, this.partitionRequests(id, create.schema));
    if (!('problem' in result)) return result;
    throw new TributaryError('CONFIG_INVALID', `iceberg table ${tableIdToString(id)}: ${result.problem}`, {
      hint: "change sink option partition-by or the transform's partition-keys (see docs/connectors/iceberg.md)",
    });
  }

  private fail(error: unknown): TributaryError {
    this.failed = true;
    this.tables.clear();
    this.touched.clear();
    this.applied = 0;
    if (error instanceof TributaryError) return error;
    const code = (error as NodeJS.ErrnoException).code;
    if (code === 'ENOSPC' || code === 'EDQUOT') {
      return new TributaryError('SINK_OUT_OF_RESOURCES', `iceberg: ${(error as Error).message}`, { cause: error });
    }
    if (code === 'EACCES' || code === 'EPERM' || code === 'EROFS') {
      return new TributaryError('ICEBERG_WAREHOUSE_UNUSABLE', `iceberg: ${(error as Error).message}`, {
        hint: 'the warehouse directory must be writable by this user',
        cause: error,
      });
    }
    return asTributaryError(error, 'SINK_WRITE_FAILED');
  }

  private assertUsable(): void {
    if (this.failed) {
      throw new TributaryError(
        'INTERNAL',
        'iceberg sink: a commit failed; close and re-open the sink to replay from the last checkpoint',
      );
    }
  }
}
