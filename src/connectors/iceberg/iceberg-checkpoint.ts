import { randomUUID } from 'node:crypto';
import { mkdir, readFile, readdir, rename, unlink, writeFile } from 'node:fs/promises';
import { basename, join } from 'node:path';
import { TributaryError } from '../../core/errors.js';
import type { Checkpoint } from '../../core/sink.js';
import type { HadoopCatalog } from './iceberg-catalog.js';
import { currentSnapshot } from './iceberg-table-metadata.js';
import type { StagedCommit } from './iceberg-table.js';

/** Snapshot summary keys of a Tributary commit (strings, as the summary holds only strings). */
export const SUMMARY = {
  pipeline: 'tributary.pipeline',
  checkpointId: 'tributary.checkpoint-id',
  /** The file (under the warehouse) holding the whole checkpoint: position and operator state. */
  checkpointFile: 'tributary.checkpoint-file',
  /** Every table the checkpoint commits, with the staged metadata that becomes its next version. */
  tables: 'tributary.checkpoint-tables',
} as const;

/**
 * The checkpoints of a pipeline, kept in the tables themselves: each snapshot a checkpoint commits carries
 * the pipeline, the checkpoint id and the list of every table of that checkpoint in its summary. The tables of
 * one checkpoint are published one after the other (there is no transaction across tables); a crash between
 * two leaves a checkpoint whose first table is published, and {@link latestCheckpoint} publishes the rest from
 * their staged files before it answers. So the answer is the newest checkpoint whose every table holds it.
 */
export class IcebergCheckpoints {
  constructor(
    private readonly catalog: HadoopCatalog,
    private readonly pipeline: string,
  ) {}

  private get dir(): string {
    return join(this.catalog.warehouse, '.tributary', this.pipeline.replace(/[^A-Za-z0-9_.-]/g, '_'));
  }

  /** Writes the checkpoint's position and operator state; returns the path the summaries refer to. */
  async saveFile(checkpoint: Checkpoint): Promise<string> {
    await mkdir(this.dir, { recursive: true });
    const path = join(this.dir, `checkpoint-${checkpoint.id}-${randomUUID()}.json`);
    const temporary = `${path}.tmp`;
    await writeFile(temporary, JSON.stringify(checkpoint));
    await rename(temporary, path);
    return path;
  }

  summary(checkpoint: Checkpoint, file: string, tables: readonly StagedCommit[]): Record<string, string> {
    return {
      [SUMMARY.pipeline]: this.pipeline,
      [SUMMARY.checkpointId]: String(checkpoint.id),
      [SUMMARY.checkpointFile]: file,
      [SUMMARY.tables]: JSON.stringify(tables),
    };
  }

  /**
   * The newest checkpoint of the pipeline held by any table's current snapshot, after publishing whatever
   * of its tables a crash left staged. `publish` false: only read (for `validate`). Null when no table holds one.
   */
  async latest(publish: boolean): Promise<Checkpoint | null> {
    let newest: { id: number; summary: Readonly<Record<string, string>> } | undefined;
    for (const location of await this.catalog.tables()) {
      const table = await this.catalog.load(location);
      const summary = table === undefined ? undefined : currentSnapshot(table.metadata)?.summary;
      if (summary?.[SUMMARY.pipeline] !== this.pipeline) continue;
      const id = Number(summary[SUMMARY.checkpointId]);
      if (newest === undefined || id > newest.id) newest = { id, summary };
    }
    if (newest === undefined) return null;
    if (publish) {
      const tables = JSON.parse(newest.summary[SUMMARY.tables] ?? '[]') as StagedCommit[];
      for (const staged of tables) {
        const table = await this.catalog.load(staged.location);
        if (table !== undefined && table.version >= staged.version) continue;
        await this.catalog.publish(staged.location, staged.version, staged.staged).catch((error: unknown) => {
          throw new TributaryError(
            'ICEBERG_METADATA_INVALID',
            `checkpoint ${newest.id} of ${staged.location} cannot be completed: ${(error as Error).message}`,
            {
              hint: 'the staged metadata file of an interrupted commit is gone; restore it, or reset the pipeline',
              cause: error,
            },
          );
        });
      }
    }
    const file = newest.summary[SUMMARY.checkpointFile] ?? '';
    const checkpoint = JSON.parse(await readFile(file, 'utf8')) as Checkpoint;
    return checkpoint;
  }

  /** Deletes the checkpoint files older than `keep` (the one just committed). */
  async prune(keep: string): Promise<void> {
    for (const name of await readdir(this.dir).catch(() => [] as string[])) {
      if (name !== basename(keep)) await unlink(join(this.dir, name)).catch(() => undefined);
    }
  }
}
