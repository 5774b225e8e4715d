import { mkdir, readFile, rename, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { TributaryError, type Checkpoint } from '../core/index.js';

/**
 * The embedded state store: one directory per pipeline (`state.dir`) holding the last checkpoint as
 * JSON. The sink's own copy, committed in the same transaction as the data, is authoritative where the
 * sink has one; this copy serves sinks without transactions and `tributary state` inspection. Writes are
 * atomic (write a temp file, then rename), so a crash leaves the previous checkpoint intact.
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
      throw stateDirError(this.dir, error);
    }
  }

  async load(): Promise<Checkpoint | null> {
    let text: string;
    try {
      text = await readFile(this.file, 'utf8');
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ENOENT') return null;
      throw stateDirError(this.dir, error);
    }
    try {
      return JSON.parse(text) as Checkpoint;
    } catch (error) {
      throw new TributaryError('STATE_CORRUPT', `state file ${this.file} is not valid JSON`, {
        cause: error,
        hint: 'restore it from a backup, or delete it to start the pipeline from scratch (a full re-snapshot)',
      });
    }
  }

  async clear(): Promise<void> {
    await rm(this.file, { force: true });
  }

  async save(checkpoint: Checkpoint): Promise<void> {
    const tmp = `${this.file}.tmp`;
    try {
      await writeFile(tmp, JSON.stringify(checkpoint, null, 2));
      await rename(tmp, this.file);
    } catch (error) {
      throw stateDirError(this.dir, error);
    }
  }
}

function stateDirError(dir: string, error: unknown): TributaryError {
  const code = (error as NodeJS.ErrnoException).code ?? 'unknown';
  const reason =
    code === 'ENOSPC' ? 'the disk is full' : code === 'EACCES' || code === 'EPERM' ? 'permission denied' : code;
  return new TributaryError('STATE_DIR_UNWRITABLE', `cannot write the state directory ${dir}: ${reason}`, {
    cause: error,
    hint: 'free disk space or fix the permissions, or point pipeline.state.dir at a writable directory',
  });
}
