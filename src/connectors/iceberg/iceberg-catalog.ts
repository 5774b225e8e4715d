import { randomUUID } from 'node:crypto';
import { link, mkdir, readFile, readdir, rename, stat, unlink, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { TributaryError } from '../../core/errors.js';
import type { TableMetadata } from './iceberg-table-metadata.js';

/** A table as the catalog found it: its current metadata and which version file holds it. */
export interface LoadedTable {
  readonly location: string;
  readonly version: number;
  readonly metadata: TableMetadata;
}

/**
 * Iceberg's filesystem catalog, laid out as Hadoop's `HadoopCatalog` lays it out, so that engines that open a
 * Hadoop catalog (Spark, Flink, Trino with `iceberg.catalog.type=hadoop`, ClickHouse, icebird) open these
 * tables: `<warehouse>/<namespace>/<table>/metadata/v<N>.metadata.json`, the newest N in
 * `metadata/version-hint.text`, data and delete files in `<table>/data/`.
 *
 * A commit is the creation of `v<N+1>.metadata.json`, atomically and only if absent (a hard link of a fully
 * written file: no reader ever sees half a file, and of two writers only one wins), then the version hint is
 * replaced by a rename. Readers that find a hint behind a newer version file look one further, as Hadoop does.
 */
export class HadoopCatalog {
  constructor(readonly warehouse: string) {}

  tableLocation(namespace: string, name: string): string {
    return join(this.warehouse, namespace, name);
  }

  /** The table at `location`, or undefined when it has no metadata yet. */
  async load(location: string): Promise<LoadedTable | undefined> {
    const metadataDir = join(location, 'metadata');
    let version: number;
    try {
      version = Number.parseInt(await readFile(join(metadataDir, 'version-hint.text'), 'utf8'), 10);
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error;
      if (!(await exists(versionFile(location, 1)))) return undefined;
      version = 1;
    }
    if (!Number.isInteger(version) || version < 1) {
      throw new TributaryError(
        'ICEBERG_METADATA_INVALID',
        `${metadataDir}/version-hint.text does not hold a version number`,
        {
          hint: 'write the number N of the newest metadata/vN.metadata.json into it, or delete it',
        },
      );
    }
    while (await exists(versionFile(location, version + 1))) version++;
    const text = await readFile(versionFile(location, version), 'utf8');
    return { location, version, metadata: JSON.parse(text) as TableMetadata };
  }

  /** A new path for a staged metadata file: beside the version files, under a name no reader looks for. */
  stagedPath(location: string): string {
    return join(location, 'metadata', `staged-${randomUUID()}.metadata.json`);
  }

  /** Writes `metadata` to the staged path `path`; {@link publish} makes it a version of the table. */
  async stage(path: string, metadata: TableMetadata): Promise<void> {
    await mkdir(dirname(path), { recursive: true });
    await writeFile(path, JSON.stringify(metadata, null, 1));
  }

  /**
   * Makes the staged file `staged` version `version` of the table: the commit. Idempotent: publishing again
   * what is already published succeeds. ICEBERG_COMMIT_CONFLICT when another writer committed that version.
   */
  async publish(location: string, version: number, staged: string): Promise<void> {
    const target = versionFile(location, version);
    try {
      await link(staged, target);
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
      const [a, b] = await Promise.all([stat(staged).catch(() => undefined), stat(target)]);
      if (a === undefined || a.ino !== b.ino) {
        throw new TributaryError('ICEBERG_COMMIT_CONFLICT', `${target} was written by another writer`, {
          hint: 'only one pipeline may write an Iceberg table; stop the other writer, then restart this pipeline',
        });
      }
    }
    await unlink(staged).catch(() => undefined);
    const hint = join(location, 'metadata', `version-hint.text.${randomUUID()}.tmp`);
    await writeFile(hint, String(version));
    await rename(hint, join(location, 'metadata', 'version-hint.text'));
  }

  /** Locations of every table under the warehouse (`<namespace>/<table>/metadata/` exists). */
  async tables(): Promise<string[]> {
    const found: string[] = [];
    for (const namespace of await subdirectories(this.warehouse)) {
      for (const table of await subdirectories(join(this.warehouse, namespace))) {
        if (await exists(join(this.warehouse, namespace, table, 'metadata'))) {
          found.push(join(this.warehouse, namespace, table));
        }
      }
    }
    return found;
  }
}

export function versionFile(location: string, version: number): string {
  return join(location, 'metadata', `v${version}.metadata.json`);
}

/** The URI other engines open a file by. */
export function fileUri(path: string): string {
  return pathToFileURL(path).href;
}

async function exists(path: string): Promise<boolean> {
  return stat(path).then(
    () => true,
    () => false,
  );
}

async function subdirectories(dir: string): Promise<string[]> {
  try {
    const entries = await readdir(dir, { withFileTypes: true });
    return entries.filter((e) => e.isDirectory() && !e.name.startsWith('.')).map((e) => e.name);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return [];
    throw error;
  }
}
