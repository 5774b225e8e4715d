import { mkdir, readdir, readFile, rename, rm, stat, writeFile } from 'node:fs/promises';
import { dirname, isAbsolute, join, resolve } from 'node:path';
import { TributaryError, type Checkpoint } from '../core/index.js';
import { ChunkLedger, chunkCheckpoint, joinCheckpoint } from '../core/checkpoint-chunks.js';

/**
 * The embedded state store: one directory per pipeline (`state.dir`) holding the last checkpoint as
 * JSON. The sink's own copy, committed in the same transaction as the data, is authoritative where the
 * sink has one; this copy serves sinks without transactions and `tributary state` inspection. Writes are
 * atomic (write a temp file, then rename), so a crash leaves the previous checkpoint intact.
 *
 * As in the sinks, the bulky parts of a checkpoint (schema history, snapshot progress, operators' state) are
 * content-addressed chunks (src/core/checkpoint-chunks.ts): files in `chunks/`, each written once, listed
 * in order in `checkpoint.json`'s `bulk`; a save writes the chunks no earlier checkpoint wrote, then
 * `checkpoint.json`, then deletes the chunks it no longer lists.
 *
 * Savepoints are checkpoints kept on purpose: the final checkpoint of a clean stop is written to
 * `savepoints/`, whole (they outlive the chunks), and `tributary run --from-savepoint` resumes from one of them.
 */
export class StateStore {
  readonly dir: string;
  /** The chunk files in `chunks/`, read at the first save. */
  private ledger: ChunkLedger | undefined;

  constructor(dir: string) {
    this.dir = dir;
  }

  private get file(): string {
    return join(this.dir, 'checkpoint.json');
  }

  private get chunkDir(): string {
    return join(this.dir, 'chunks');
  }

  /** Creates the directory and proves it writable before the pipeline moves anything. */
  async ensureWritable(): Promise<void> {
    try {
      await makeDirectory(this.dir);
      const probe = join(this.dir, '.write-test');
      await writeFile(probe, 'ok');
    } catch (error) {
      throw stateDirError(this.dir, error);
    }
  }

  async load(): Promise<Checkpoint | null> {
    try {
      return await readCheckpoint(this.file, CHECKPOINT_FILE_HINT, this.chunkDir);
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ENOENT') return null;
      if (error instanceof TributaryError) throw error;
      throw stateDirError(this.dir, error);
    }
  }

  async clear(): Promise<void> {
    await rm(this.file, { force: true });
    await rm(this.chunkDir, { recursive: true, force: true });
    this.ledger = undefined;
  }

  /**
   * Moves the savepoints aside (`savepoints/` → `savepoints-before-reset-<time>/`), so that after `--reset` the
   * list holds only savepoints of the new start, while the old ones stay on disk for an operator who needs one.
   * Returns the directory they went to, or undefined when there were none.
   */
  async archiveSavepoints(now = new Date()): Promise<string | undefined> {
    if ((await this.listSavepoints()).length === 0) return undefined;
    const archive = join(this.dir, `savepoints-before-reset-${now.toISOString().replace(/[:.]/g, '-')}`);
    try {
      await rename(join(this.dir, 'savepoints'), archive);
    } catch (error) {
      throw stateDirError(this.dir, error);
    }
    return archive;
  }

  /** Writes `checkpoint` as a savepoint and returns its file. */
  async saveSavepoint(checkpoint: Checkpoint): Promise<string> {
    const dir = join(this.dir, 'savepoints');
    const file = join(dir, `savepoint-${String(checkpoint.id).padStart(8, '0')}.json`);
    try {
      await makeDirectory(dir);
      await writeAtomically(file, JSON.stringify(checkpoint, null, 2));
    } catch (error) {
      throw stateDirError(this.dir, error);
    }
    return file;
  }

  /** The folders of savepoints that `--reset` set aside (see {@link archiveSavepoints}), oldest first. */
  async archivedSavepointDirs(): Promise<string[]> {
    try {
      return (await readdir(this.dir))
        .filter((n) => n.startsWith('savepoints-before-reset-'))
        .sort()
        .map((n) => join(this.dir, n));
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ENOENT') return [];
      throw stateDirError(this.dir, error);
    }
  }

  /** The savepoints in this state directory, oldest first. */
  async listSavepoints(): Promise<{ file: string; checkpoint: Checkpoint }[]> {
    const dir = join(this.dir, 'savepoints');
    let names: string[];
    try {
      names = (await readdir(dir)).filter((n) => /^savepoint-\d+\.json$/.test(n)).sort();
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ENOENT') return [];
      throw stateDirError(this.dir, error);
    }
    const result: { file: string; checkpoint: Checkpoint }[] = [];
    for (const name of names) {
      result.push({
        file: join(dir, name),
        checkpoint: await readCheckpoint(join(dir, name), SAVEPOINT_FILE_HINT, this.chunkDir),
      });
    }
    return result;
  }

  /** A savepoint by checkpoint id (`12`) or by file path. */
  async loadSavepoint(ref: string): Promise<Checkpoint> {
    const file = /^\d+$/.test(ref)
      ? join(this.dir, 'savepoints', `savepoint-${ref.padStart(8, '0')}.json`)
      : isAbsolute(ref)
        ? ref
        : join(process.cwd(), ref);
    try {
      return await readCheckpoint(file, SAVEPOINT_FILE_HINT, this.chunkDir);
    } catch (error) {
      if (error instanceof TributaryError) throw error;
      if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw stateDirError(this.dir, error);
      const ids = (await this.listSavepoints().catch(() => [])).map((s) => s.checkpoint.id);
      throw new TributaryError('SAVEPOINT_NOT_FOUND', `savepoint ${ref} not found (${file})`, {
        cause: error,
        hint:
          ids.length === 0
            ? `${this.dir} holds no savepoints (a clean stop writes one); run without --from-savepoint to resume from the last checkpoint`
            : `the savepoints in ${this.dir} are: ${ids.join(', ')} (\`tributary state <pipeline.yaml>\` lists them)`,
      });
    }
  }

  /** Writes the new chunks, then `checkpoint.json` (atomically), then deletes the chunks it no longer lists. */
  async save(checkpoint: Checkpoint): Promise<void> {
    try {
      const chunked = chunkCheckpoint(checkpoint);
      this.ledger ??= new ChunkLedger(await this.storedChunks());
      const { write, remove } = this.ledger.plan(chunked);
      if (write.length > 0) await makeDirectory(this.chunkDir);
      for (const [id, text] of write) await writeAtomically(join(this.chunkDir, `${id}.json`), text);
      const stored = chunked.bulk.length === 0 ? chunked.head : { ...chunked.head, bulk: chunked.bulk };
      await writeAtomically(this.file, JSON.stringify(stored, null, 2));
      this.ledger.committed(chunked);
      for (const id of remove) await rm(join(this.chunkDir, `${id}.json`), { force: true });
    } catch (error) {
      this.ledger = undefined;
      throw stateDirError(this.dir, error);
    }
  }

  /** The ids of the chunk files in `chunks/` (a crash may leave some no checkpoint lists: the next save deletes them). */
  private async storedChunks(): Promise<string[]> {
    try {
      return (await readdir(this.chunkDir)).filter((n) => n.endsWith('.json')).map((n) => n.slice(0, -'.json'.length));
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ENOENT') return [];
      throw error;
    }
  }
}

function stateDirError(dir: string, error: unknown): TributaryError {
  const code = (error as NodeJS.ErrnoException).code ?? 'unknown';
  const reason =
    code === 'ENOSPC' || code === 'EDQUOT'
      ? 'the disk is full'
      : code === 'EACCES' || code === 'EPERM'
        ? 'permission denied'
        : code === 'EROFS'
          ? 'the file system is read-only'
          : code === 'ENOTDIR'
            ? 'a part of the path is a file, not a directory'
            : code === 'ENOENT'
              ? 'the file system does not let a directory be created there (a pseudo file system such as /proc?)'
              : code;
  return new TributaryError('STATE_DIR_UNWRITABLE', `cannot write the state directory ${dir}: ${reason}`, {
    cause: error,
    hint: 'free disk space or fix the permissions, or point pipeline.state.dir at a writable directory',
  });
}

/**
 * `mkdir -p`, one level at a time from the deepest existing ancestor. Not `mkdir(dir, { recursive: true })`:
 * that reports ENOENT where the real cause is EROFS or EACCES, and on a pseudo file system such as /proc it
 * loops without end (Node 20), so a `state.dir` there would hang the pipeline instead of failing.
 */
async function makeDirectory(dir: string): Promise<void> {
  const missing: string[] = [];
  let path = resolve(dir);
  for (;;) {
    try {
      await stat(path);
      break;
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error;
      missing.unshift(path);
      const parent = dirname(path);
      if (parent === path) break;
      path = parent;
    }
  }
  for (const level of missing) {
    try {
      await mkdir(level);
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
    }
  }
}

async function writeAtomically(file: string, text: string): Promise<void> {
  const tmp = `${file}.tmp`;
  await writeFile(tmp, text);
  await rename(tmp, file);
}

/**
 * What to do about a corrupt `checkpoint.json`. Deleting it loses nothing: a sink that keeps checkpoints (every
 * sink of this release) holds the authoritative one with its data, and the next run resumes from that.
 */
const CHECKPOINT_FILE_HINT =
  'restore it from a backup, or delete it: the next run resumes from the checkpoint the sink keeps with its data ' +
  '(`tributary state` shows it); to start over with a new snapshot instead, run with --reset';
const SAVEPOINT_FILE_HINT =
  'this savepoint cannot be used: resume from another one (`tributary state` lists them) or from the last checkpoint';

/** A checkpoint file, its `bulk` (if any) joined from the chunk files in `chunkDir`. */
async function readCheckpoint(file: string, hint: string, chunkDir: string): Promise<Checkpoint> {
  const text = await readFile(file, 'utf8');
  let stored: Checkpoint & { bulk?: string[] };
  try {
    stored = JSON.parse(text) as Checkpoint & { bulk?: string[] };
  } catch (error) {
    throw new TributaryError('STATE_CORRUPT', `${file} is not valid JSON`, { cause: error, hint });
  }
  const { bulk, ...head } = stored;
  if (bulk === undefined) return stored;
  const chunks = new Map<string, string>();
  for (const id of new Set(bulk)) {
    const chunk = await readFile(join(chunkDir, `${id}.json`), 'utf8').catch((error: NodeJS.ErrnoException) => {
      if (error.code === 'ENOENT') return undefined;
      throw error;
    });
    if (chunk !== undefined) chunks.set(id, chunk);
  }
  try {
    return joinCheckpoint(head, bulk, (id) => chunks.get(id));
  } catch (error) {
    throw new TributaryError('STATE_CORRUPT', `${file} cannot be read: ${(error as Error).message} (${chunkDir})`, {
      cause: error,
      hint,
    });
  }
}
