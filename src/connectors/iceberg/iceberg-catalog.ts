import { randomUUID } from 'node:crypto';
import { link, mkdir, readFile, readdir, rename, stat, unlink, writeFile } from 'node:fs/promises';
import Database from 'better-sqlite3';
import { mkdirSync } from 'node:fs';
import { dirname, join, relative, sep } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { TributaryError } from '../../core/errors.js';
import type { TableMetadata } from './iceberg-table-metadata.js';
import type { IcebergSinkConfig } from './iceberg-sink-config.js';

/** A table as the catalog found it: its current metadata and which version file holds it. */
export interface LoadedTable {
  readonly location: string;
  readonly version: number;
  readonly metadata: TableMetadata;
  /** The metadata file (a path), for the next version's `metadata-log`. */
  readonly file: string;
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
    return { location, version, metadata: JSON.parse(text) as TableMetadata, file: versionFile(location, version) };
  }

  /**
   * A new path for a staged metadata file: beside the version files, under a name no reader looks for. Not
   * ending in `.metadata.json`: engines that find the current version by listing `metadata/*.metadata.json`
   * (ClickHouse does, ignoring `version-hint.text`) refuse a name there that holds no version number, and a
   * staged file an interrupted commit left would make the table unreadable to them until compaction.
   */
  stagedPath(location: string, _version: number): string {
    return join(location, 'metadata', `staged-${randomUUID()}.json`);
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
    await linkVersion(location, version, staged);
    await unlink(staged).catch(() => undefined);
    const hint = join(location, 'metadata', `version-hint.text.${randomUUID()}.tmp`);
    await writeFile(hint, String(version));
    await rename(hint, join(location, 'metadata', 'version-hint.text'));
  }

  /** What the sink's messages call the catalog. */
  describe(): string {
    return `filesystem catalog ${this.warehouse}`;
  }

  close(): void {}

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

/**
 * Creates `v<version>.metadata.json` as a hard link of the staged file: atomic, refused when the file exists.
 * Idempotent (the same staged file linked again succeeds); ICEBERG_COMMIT_CONFLICT when another writer's file
 * holds that version.
 */
async function linkVersion(location: string, version: number, staged: string): Promise<void> {
  const target = versionFile(location, version);
  try {
    await link(staged, target);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
    const [a, b] = await Promise.all([stat(staged).catch(() => undefined), stat(target)]);
    if (a === undefined || a.ino !== b.ino) throw conflict(target);
  }
}

function conflict(what: string): TributaryError {
  return new TributaryError('ICEBERG_COMMIT_CONFLICT', `${what} was written by another writer`, {
    hint: 'only one pipeline may write an Iceberg table; stop the other writer, then restart this pipeline',
  });
}

/**
 * Iceberg's JDBC catalog, in a SQLite database, laid out as Iceberg's `JdbcCatalog` lays it out (schema version
 * V1): a row per table in `iceberg_tables (catalog_name, table_namespace, table_name, metadata_location,
 * previous_metadata_location, iceberg_type)` and namespace properties in `iceberg_namespace_properties`, so that
 * engines configured with `type=jdbc, uri=jdbc:sqlite:<file>` open the tables. Files are laid out as in the
 * filesystem catalog (without `version-hint.text`: the row is the table's only pointer). A commit is an atomic
 * compare-and-swap of `metadata_location` (an `UPDATE … WHERE metadata_location = <the version it builds on>`,
 * or the `INSERT` of the first version), after the version file is linked as in the filesystem catalog.
 */
export class SqliteJdbcCatalog extends HadoopCatalog {
  private handle: Database.Database | undefined;

  constructor(
    warehouse: string,
    readonly file: string,
    readonly catalogName: string,
  ) {
    super(warehouse);
  }

  /** The database, opened (and its tables created) on first use, again after {@link close}. */
  private get db(): Database.Database {
    if (this.handle !== undefined) return this.handle;
    mkdirSync(dirname(this.file), { recursive: true });
    const db = new Database(this.file);
    this.handle = db;
    db.pragma('journal_mode = WAL');
    db.pragma('busy_timeout = 5000');
    db.exec(
      `CREATE TABLE IF NOT EXISTS iceberg_tables (catalog_name VARCHAR(255) NOT NULL, table_namespace VARCHAR(255) NOT NULL, ` +
        `table_name VARCHAR(255) NOT NULL, metadata_location VARCHAR(1000), previous_metadata_location VARCHAR(1000), ` +
        `iceberg_type VARCHAR(5), PRIMARY KEY (catalog_name, table_namespace, table_name));` +
        `CREATE TABLE IF NOT EXISTS iceberg_namespace_properties (catalog_name VARCHAR(255) NOT NULL, ` +
        `namespace VARCHAR(255) NOT NULL, property_key VARCHAR(255), property_value VARCHAR(1000), ` +
        `PRIMARY KEY (catalog_name, namespace, property_key));`,
    );
    return db;
  }

  override describe(): string {
    return `JDBC catalog ${this.catalogName} in SQLite ${this.file}`;
  }

  override close(): void {
    this.handle?.close();
    this.handle = undefined;
  }

  /** Namespace and name of the table at `location` (`<warehouse>/<namespace>/<table>`). */
  private identifier(location: string): [string, string] {
    const parts = relative(this.warehouse, location).split(sep);
    return [parts[0] ?? '', parts.slice(1).join('.')];
  }

  /** The staged metadata file is the version's file: `v<N>-<uuid>.metadata.json`, made current by the row. */
  override stagedPath(location: string, version: number): string {
    return join(location, 'metadata', `v${version}-${randomUUID()}.metadata.json`);
  }

  private row(namespace: string, name: string): string | undefined {
    const row = this.db
      .prepare(
        'SELECT metadata_location FROM iceberg_tables WHERE catalog_name = ? AND table_namespace = ? AND table_name = ?',
      )
      .get(this.catalogName, namespace, name) as { metadata_location: string | null } | undefined;
    return row?.metadata_location ?? undefined;
  }

  override async load(location: string): Promise<LoadedTable | undefined> {
    const [namespace, name] = this.identifier(location);
    const uri = this.row(namespace, name);
    if (uri === undefined) return undefined;
    const path = fileURLToPath(uri);
    const metadata = JSON.parse(await readFile(path, 'utf8')) as TableMetadata;
    return { location, version: versionOf(uri), metadata, file: path };
  }

  /**
   * Makes the staged file the table's metadata: compare-and-swap of `metadata_location` from the file of version
   * `version - 1` (the INSERT of the row for version 1). Idempotent; ICEBERG_COMMIT_CONFLICT when the row moved.
   */
  override publish(location: string, version: number, staged: string): Promise<void> {
    const [namespace, name] = this.identifier(location);
    const next = fileUri(staged);
    const swap = this.db.transaction((): boolean => {
      const current = this.row(namespace, name);
      if (current === next) return true; // published already (a roll-forward)
      if (version === 1) {
        if (current !== undefined) return false;
        this.db
          .prepare(
            'INSERT OR IGNORE INTO iceberg_namespace_properties (catalog_name, namespace, property_key, property_value) VALUES (?, ?, ?, ?)',
          )
          .run(this.catalogName, namespace, 'exists', 'true');
        this.db
          .prepare(
            'INSERT INTO iceberg_tables (catalog_name, table_namespace, table_name, metadata_location, previous_metadata_location, iceberg_type) ' +
              "VALUES (?, ?, ?, ?, NULL, 'TABLE')",
          )
          .run(this.catalogName, namespace, name, next);
        return true;
      }
      if (current === undefined || versionOf(current) !== version - 1) return false;
      return (
        this.db
          .prepare(
            'UPDATE iceberg_tables SET metadata_location = ?, previous_metadata_location = ? ' +
              'WHERE catalog_name = ? AND table_namespace = ? AND table_name = ? AND metadata_location = ?',
          )
          .run(next, current, this.catalogName, namespace, name, current).changes === 1
      );
    });
    if (!swap.immediate()) return Promise.reject(conflict(`${namespace}.${name} in ${this.describe()}`));
    return Promise.resolve();
  }

  override async tables(): Promise<string[]> {
    const rows = this.db
      .prepare(
        'SELECT table_namespace, table_name FROM iceberg_tables WHERE catalog_name = ? AND metadata_location IS NOT NULL',
      )
      .all(this.catalogName) as { table_namespace: string; table_name: string }[];
    return Promise.resolve(rows.map((r) => this.tableLocation(r.table_namespace, r.table_name)));
  }
}

/** N of a metadata file `vN.metadata.json` or `vN-<uuid>.metadata.json`. */
function versionOf(uri: string): number {
  const version = Number(/v(\d+)(?:-[0-9a-f-]+)?\.metadata\.json$/.exec(uri)?.[1] ?? Number.NaN);
  if (!Number.isInteger(version)) {
    throw new TributaryError('ICEBERG_METADATA_INVALID', `metadata ${uri} is not named vN[-uuid].metadata.json`, {
      hint: 'this table was committed by another writer; route the sink table to another name',
    });
  }
  return version;
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

/** The catalog the sink (and `tributary compact`) commits through. Here rather than in the sink's
 * config: the registry loads that config's option specs at start-up, and better-sqlite3 need not come with them. */
export function icebergCatalog(config: IcebergSinkConfig): HadoopCatalog {
  return config.catalog === 'sqlite'
    ? new SqliteJdbcCatalog(config.warehouse, config.catalogFile, config.catalogName)
    : new HadoopCatalog(config.warehouse);
}
