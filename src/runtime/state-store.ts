import { mkdir, readdir, readFile, rename, rm, stat, writeFile } from 'node:fs/promises';
import { dirname, isAbsolute, join } from 'node:path';
import { TributaryError, type Checkpoint } from '../core/index.js';

/**
 * The embedded state store: one directory per pipeline (`state.dir`) holding the last checkpoint as
 * JSON. The sink's own copy, committed in the same transaction as the data, is authoritative where the
 * sink has one; this copy serves sinks without transactions and `tributary state` inspection. Writes are
 * atomic (write a temp file, then rename), so a crash leaves the previous checkpoint intact.
 *
 * Savepoints are checkpoints kept on purpose: the final checkpoint of a clean stop is written to
 * `savepoints/`, and `tributary run --from-savepoint` resumes from one of them.
 */
export class StateStore {
  readonly dir: string;

  constructor(dir: string) {
    this.dir = dir;
  }

  private get file(): string {
    return join(this.dir, 'checkpoint.json');
  }

  /** Creates the directory and proves it writable before the pipeline moves anything. */
  async ensureWritable(): Promise<void> {
    try {
      await mkdir(this.dir, { recursive: true });
      const probe = join(this.dir, '.write-test');
      await writeFile(probe, 'ok');
    } catch (error) {
      throw stateDirError(this.dir, await realMkdirError(this.dir, error));
    }
  }

  async load(): Promise<Checkpoint | null> {
    try {
      return await readCheckpoint(this.file);
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ENOENT') return null;
      if (error instanceof TributaryError) throw error;
      throw stateDirError(this.dir, error);
    }
  }

  async clear(): Promise<void> {
    await rm(this.file, { force: true });
  }

  /** Writes `checkpoint` as a savepoint and returns its file. */
  async saveSavepoint(checkpoint: Checkpoint): Promise<string> {
    const dir = join(this.dir, 'savepoints');
    const file = join(dir, `savepoint-${String(checkpoint.id).padStart(8, '0')}.json`);
    try {
      await mkdir(dir, { recursive: true });
      await writeAtomically(file, JSON.stringify(checkpoint, null, 2));
    } catch (error) {
      throw stateDirError(this.dir, error);
    }
    return file;
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
    for (const name of names) result.push({ file: join(dir, name), checkpoint: await readCheckpoint(join(dir, name)) });
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
      return await readCheckpoint(file);
    } catch (error) {
      if (error instanceof TributaryError) throw error;
      throw new TributaryError('STATE_CORRUPT', `savepoint ${ref} not found (${file})`, {
        cause: error,
        hint: 'list the savepoints with `tributary state <pipeline.yaml>`',
      });
    }
  }

  async save(checkpoint: Checkpoint): Promise<void> {
    try {
      await writeAtomically(this.file, JSON.stringify(checkpoint, null, 2));
    } catch (error) {
      throw stateDirError(this.dir, error);
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
            : code;
  return new TributaryError('STATE_DIR_UNWRITABLE', `cannot write the state directory ${dir}: ${reason}`, {
    cause: error,
    hint: 'free disk space or fix the permissions, or point pipeline.state.dir at a writable directory',
  });
}

/** Recursive mkdir reports ENOENT where the real cause is EROFS or EACCES: create the first missing level alone. */
async function realMkdirError(dir: string, error: unknown): Promise<unknown> {
  if ((error as NodeJS.ErrnoException).code !== 'ENOENT') return error;
  let path = dir;
  for (;;) {
    const parent = dirname(path);
    if (parent === path) return error;
    try {
      await stat(parent);
      break;
    } catch {
      path = parent;
    }
  }
  try {
    await mkdir(path);
    return error;
  } catch (real) {
    return real;
  }
}

async function writeAtomically(file: string, text: string): Promise<void> {
  const tmp = `${file}.tmp`;
  await writeFile(tmp, text);
  await rename(tmp, file);
}

async function readCheckpoint(file: string): Promise<Checkpoint> {
  const text = await readFile(file, 'utf8');
  try {
    return JSON.parse(text) as Checkpoint;
  } catch (error) {
    throw new TributaryError('STATE_CORRUPT', `${file} is not valid JSON`, {
      cause: error,
      hint: 'restore it from a backup, or delete it to start the pipeline from scratch (a full re-snapshot)',
    });
  }
}
