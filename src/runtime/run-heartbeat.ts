import { readFile, rename, rm, writeFile } from 'node:fs/promises';
import { hostname } from 'node:os';
import { join } from 'node:path';

/** How often a running pipeline rewrites its heartbeat file. */
export const HEARTBEAT_INTERVAL_MS = 5000;
/** A heartbeat older than this is a pipeline that died without removing it. */
export const HEARTBEAT_STALE_MS = 3 * HEARTBEAT_INTERVAL_MS;

/** What `running.json` in the state directory says while a pipeline runs. */
export interface RunHeartbeat {
  readonly pid: number;
  readonly host: string;
  readonly startedAt: string;
  readonly heartbeatAt: string;
}

/**
 * Marks the state directory as in use by a running pipeline: `running.json` with this process and a time
 * rewritten every {@link HEARTBEAT_INTERVAL_MS}, removed by `stop()`. `verify --repair` refuses to write while
 * one is fresh (see {@link liveHeartbeat}). A failure to write it never stops the pipeline.
 */
export function startRunHeartbeat(dir: string): { stop(): Promise<void> } {
  const file = join(dir, 'running.json');
  const startedAt = new Date().toISOString();
  let writing: Promise<void> = Promise.resolve();
  const beat = () => {
    const body: RunHeartbeat = { pid: process.pid, host: hostname(), startedAt, heartbeatAt: new Date().toISOString() };
    writing = writing.then(() =>
      writeFile(`${file}.tmp`, JSON.stringify(body))
        .then(() => rename(`${file}.tmp`, file))
        .catch(() => undefined),
    );
  };
  beat();
  const timer = setInterval(beat, HEARTBEAT_INTERVAL_MS);
  timer.unref();
  return {
    async stop() {
      clearInterval(timer);
      await writing;
      await rm(file, { force: true }).catch(() => undefined);
    },
  };
}

/**
 * The heartbeat of a pipeline running on this state directory, or undefined when none is: no file, a time
 * older than {@link HEARTBEAT_STALE_MS}, or a process of this host that no longer exists.
 */
export async function liveHeartbeat(dir: string, now = Date.now()): Promise<RunHeartbeat | undefined> {
  let beat: RunHeartbeat;
  try {
    beat = JSON.parse(await readFile(join(dir, 'running.json'), 'utf8')) as RunHeartbeat;
  } catch {
    return undefined;
  }
  const at = Date.parse(beat.heartbeatAt);
  if (!Number.isFinite(at) || now - at > HEARTBEAT_STALE_MS) return undefined;
  if (beat.host === hostname() && beat.pid !== process.pid && !processExists(beat.pid)) return undefined;
  return beat;
}

function processExists(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}
