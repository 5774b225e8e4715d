import { randomUUID } from 'node:crypto';
import { mkdir, readdir, readFile, rename, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import {
  asTributaryError,
  ERROR_CODES,
  type ErrorCode,
  TributaryError,
  tableIdToString,
  type RepairOutcome,
  type RepairRequest,
  type Source,
} from '../core/index.js';
import type { Logger } from './logger.js';

/**
 * `verify --repair` of a running pipeline talks to it through files in the state directory (no network
 * endpoint, so nothing to authenticate: whoever can write the state directory can already reset the pipeline):
 *
 *   repairs/<id>.request.json   written by verify (atomically: a temporary name, then rename)
 *   repairs/<id>.taken.json     the running pipeline took it (renamed) and handed it to its source
 *   repairs/<id>.done.json      every table's repair committed with a checkpoint: what was written
 *   repairs/<id>.failed.json    the code, message and hint of why not
 */
const REPAIRS_DIR = 'repairs';
/** How often the running pipeline looks for requests, and verify for the answer. */
export const REPAIR_POLL_MS = 500;

/** What a repair request file holds. */
export interface RepairRequestFile {
  readonly id: string;
  readonly tables: readonly { readonly table: RepairRequest['table']; readonly chunks: RepairRequest['chunks'] }[];
}

/** What a done file holds: per source table, what was written. */
export interface RepairDoneFile {
  readonly tables: readonly ({ readonly table: string } & RepairOutcome)[];
}

interface RepairFailedFile {
  readonly code: string;
  readonly message: string;
  readonly hint?: string;
}

/**
 * The running pipeline's side: looks for request files every {@link REPAIR_POLL_MS} and hands each to the
 * current attempt's source ({@link Source.repair}); writes the done or failed file when it settles. A request
 * waits while no attempt runs (between retries).
 */
export function startRepairInbox(
  stateDir: string,
  currentSource: () => Source | undefined,
  log: Logger,
): { stop(): Promise<void> } {
  const dir = join(stateDir, REPAIRS_DIR);
  const inFlight = new Set<Promise<void>>();
  let stopped = false;
  let polling: Promise<void> = Promise.resolve();

  const take = async (): Promise<void> => {
    const source = currentSource();
    if (!source) return;
    let names: string[];
    try {
      names = await readdir(dir);
    } catch {
      return; // no repairs directory: nothing asked
    }
    for (const name of names.filter((n) => n.endsWith('.request.json'))) {
      const id = name.slice(0, -'.request.json'.length);
      const taken = join(dir, `${id}.taken.json`);
      try {
        await rename(join(dir, name), taken);
      } catch {
        continue; // another process took it
      }
      const work = serve(id, taken, source).finally(() => inFlight.delete(work));
      inFlight.add(work);
    }
  };

  const serve = async (id: string, file: string, source: Source): Promise<void> => {
    try {
      const request = JSON.parse(await readFile(file, 'utf8')) as RepairRequestFile;
      if (!source.repair) {
        throw new TributaryError('CONFIG_INVALID', "this pipeline's source cannot repair while it runs", {
          hint: 'stop the pipeline, run verify --repair, then start it again',
        });
      }
      const chunks = request.tables.reduce((n, t) => n + t.chunks.length, 0);
      log.info(`verify --repair: reading ${chunks} chunk(s) of ${request.tables.length} table(s) again beside the log`);
      const outcomes = await Promise.all(
        request.tables.map(async (t) => ({
          table: tableIdToString(t.table),
          ...(await source.repair!({ table: t.table, chunks: t.chunks })),
        })),
      );
      const done: RepairDoneFile = { tables: outcomes };
      await writeAtomically(join(dir, `${id}.done.json`), done);
      log.info(
        `verify --repair: committed ${outcomes.map((o) => `${o.table}: ${o.upserted} written, ${o.deleted} deleted`).join('; ')}`,
      );
    } catch (error) {
      const failure = asTributaryError(error);
      const body: RepairFailedFile = {
        code: failure.code,
        message: failure.message,
        ...(failure.hint ? { hint: failure.hint } : {}),
      };
      await writeAtomically(join(dir, `${id}.failed.json`), body).catch(() => undefined);
      log.warn(`verify --repair: ${failure.format()}`);
    } finally {
      await rm(file, { force: true }).catch(() => undefined);
    }
  };

  const timer = setInterval(() => {
    if (stopped) return;
    polling = polling.then(take).catch(() => undefined);
  }, REPAIR_POLL_MS);
  timer.unref();
  return {
    async stop() {
      stopped = true;
      clearInterval(timer);
      await polling;
      // The source's close rejects the repairs in flight (REPAIR_INTERRUPTED): their failed files get written.
      await Promise.allSettled([...inFlight]);
    },
  };
}

/**
 * verify's side: asks the running pipeline on `stateDir` to repair `tables`, and waits for its answer while
 * `alive()` says the pipeline still runs. Resolves with what was written; throws the pipeline's error.
 */
export async function requestRepair(
  stateDir: string,
  tables: RepairRequestFile['tables'],
  alive: () => Promise<boolean>,
): Promise<RepairDoneFile> {
  const dir = join(stateDir, REPAIRS_DIR);
  await mkdir(dir, { recursive: true });
  const id = `${Date.now()}-${randomUUID().slice(0, 8)}`;
  const request: RepairRequestFile = { id, tables };
  await writeAtomically(join(dir, `${id}.request.json`), request);
  const answer = async (suffix: string): Promise<string | undefined> =>
    readFile(join(dir, `${id}.${suffix}.json`), 'utf8').catch(() => undefined);
  for (;;) {
    await new Promise((resolve) => setTimeout(resolve, REPAIR_POLL_MS / 2));
    const done = await answer('done');
    if (done !== undefined) {
      await rm(join(dir, `${id}.done.json`), { force: true });
      return JSON.parse(done) as RepairDoneFile;
    }
    const failed = await answer('failed');
    if (failed !== undefined) {
      await rm(join(dir, `${id}.failed.json`), { force: true });
      const body = JSON.parse(failed) as RepairFailedFile;
      throw new TributaryError(
        body.code in ERROR_CODES ? (body.code as ErrorCode) : 'REPAIR_INTERRUPTED',
        `the running pipeline did not repair: ${body.message}`,
        body.hint ? { hint: body.hint } : {},
      );
    }
    if (!(await alive())) {
      const untaken = await rm(join(dir, `${id}.request.json`)).then(
        () => true,
        () => false,
      );
      throw new TributaryError(
        'REPAIR_INTERRUPTED',
        untaken
          ? 'the pipeline stopped before it took the repair request'
          : 'the pipeline stopped before the repair was committed',
        { hint: 'run verify --repair again (with the pipeline running, or stopped)' },
      );
    }
  }
}

async function writeAtomically(file: string, body: unknown): Promise<void> {
  await writeFile(`${file}.tmp`, JSON.stringify(body));
  await rename(`${file}.tmp`, file);
}
