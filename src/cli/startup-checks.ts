import type { Pipeline } from '../composer/pipeline-composer.js';
import type { ValidateOptions, ValidationReport } from '../composer/pipeline-validation.js';
import { asTributaryError } from '../core/index.js';
import { Backoff, sleep } from '../runtime/backoff.js';
import type { Logger } from '../runtime/logger.js';
import { isTransient } from '../runtime/retry-policy.js';

/**
 * The checks `run` (and `sql -f`) make before the first row. They stop the command at the first error — a mistake in
 * the configuration shows at once — except when the pipeline resumes from a checkpoint and the error is a server
 * or connection away or silent (`SOURCE_UNREACHABLE`, `SINK_TIMEOUT` …): a process restarted after a crash during a
 * failover (a database, a JetStream leader) has a configuration that worked, so it waits for the server as a running
 * pipeline does, with the same backoff (1 s, 2 s … 30 s), until the checks pass or a signal stops it (undefined).
 */
export async function checkBeforeRun(
  pipeline: Pipeline,
  options: ValidateOptions & { readonly signal: AbortSignal; readonly log: Logger },
): Promise<ValidationReport | undefined> {
  const { signal, log, ...validateOptions } = options;
  const backoff = new Backoff();
  for (;;) {
    try {
      return await pipeline.validate(validateOptions);
    } catch (error) {
      const failure = asTributaryError(error);
      const resumes = signal.aborted || !isTransient(failure.code) ? undefined : await resumesFrom(pipeline, options);
      if (resumes === undefined) throw failure;
      const delay = backoff.next();
      log.warn(
        `${failure.format()}\n  the pipeline resumes from ${resumes}, so its configuration has worked: ` +
          `checking again in ${Math.round(delay / 1000)} s (attempt ${backoff.attempts})`,
      );
      await sleep(delay, signal);
      if (signal.aborted) return undefined;
    }
  }
}

/** What the run resumes from — a savepoint named, or the saved checkpoint — or undefined for a first start. */
async function resumesFrom(pipeline: Pipeline, options: ValidateOptions): Promise<string | undefined> {
  if (options.ignoreSavedState) return undefined;
  if (options.fromSavepoint !== undefined) return `savepoint ${options.fromSavepoint}`;
  const saved = await pipeline
    .stateStore()
    .load()
    .catch(() => null);
  return saved === null ? undefined : `checkpoint ${saved.id}`;
}
