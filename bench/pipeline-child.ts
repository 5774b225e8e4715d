/**
 * Runs one Tributary pipeline in a process of its own, for the bench suite (bench/suite.ts forks it), so that
 * the CPU time and the peak RSS it reports belong to that one run: `process.resourceUsage().maxRSS` is a
 * high-water mark of the whole process and would otherwise carry over from run to run.
 *
 * Protocol over the IPC channel: the parent sends `run`; the child answers `started` once the source and sink
 * are open, `checkpoint` per commit, `usage` to each `usage` request, and `done` (or `failed`) at the end.
 * `stop` aborts the pipeline (it ends with a final checkpoint, outcome `stopped`).
 */
import { performance } from 'node:perf_hooks';
import { boundHeapGrowth } from '../src/cli/heap-growth.js';
import { composePipeline, createLogger, knownTypes, optionSpecsFor, parsePipelineYaml } from '../src/index.js';
import type { LogLevel } from '../src/index.js';

export interface RunRequest {
  readonly type: 'run';
  readonly name: string;
  readonly yaml: string;
  readonly env: Record<string, string>;
  readonly logLevel: LogLevel;
}

export type ParentMessage = RunRequest | { readonly type: 'stop' } | { readonly type: 'usage' };

/** CPU seconds since the run began and the process's peak RSS so far. */
export interface ChildUsage {
  readonly cpuSeconds: number;
  readonly maxRssMb: number;
  readonly elapsedSeconds: number;
}

export type ChildMessage =
  | { readonly type: 'started' }
  | { readonly type: 'checkpoint'; readonly events: number; readonly durationMs: number }
  | ({ readonly type: 'usage' } & ChildUsage)
  | ({
      readonly type: 'done';
      readonly outcome: 'stopped' | 'finished';
      readonly eventsApplied: number;
      readonly checkpoints: number;
    } & ChildUsage)
  | { readonly type: 'failed'; readonly message: string };

function send(message: ChildMessage): Promise<void> {
  return new Promise((resolve) => {
    if (process.send === undefined) resolve();
    else process.send(message, undefined, {}, () => resolve());
  });
}

async function run(request: RunRequest): Promise<void> {
  const log = createLogger({ level: request.logLevel });
  const def = parsePipelineYaml(request.yaml, {
    file: `${request.name}.yaml`,
    env: request.env,
    optionSpecsFor,
    knownTypes,
  });
  const pipeline = composePipeline(def, { log, maxRetries: 0 });
  const controller = new AbortController();
  const cpuStart = process.cpuUsage();
  const started = performance.now();
  const usage = (): ChildUsage => {
    const cpu = process.cpuUsage(cpuStart);
    return {
      cpuSeconds: (cpu.user + cpu.system) / 1e6,
      maxRssMb: process.resourceUsage().maxRSS / 1024,
      elapsedSeconds: (performance.now() - started) / 1000,
    };
  };
  process.on('message', (message: ParentMessage) => {
    if (message.type === 'stop') controller.abort();
    else if (message.type === 'usage') void send({ type: 'usage', ...usage() });
  });
  let checkpoints = 0;
  const result = await pipeline.run({
    signal: controller.signal,
    onStart: () => void send({ type: 'started' }),
    onCheckpoint: (_checkpoint, stats) => {
      checkpoints++;
      void send({ type: 'checkpoint', events: stats.events, durationMs: stats.durationMs });
    },
  });
  await send({ type: 'done', outcome: result.outcome, eventsApplied: result.eventsApplied, checkpoints, ...usage() });
}

// The heap growth bin/tributary.js allows (see there); its young generation comes with the child's execArgv.
boundHeapGrowth();

process.once('message', (message: ParentMessage) => {
  if (message.type !== 'run') return;
  run(message).then(
    () => process.disconnect?.(),
    async (error: unknown) => {
      process.exitCode = 1;
      await send({ type: 'failed', message: error instanceof Error ? (error.stack ?? error.message) : String(error) });
      process.disconnect?.();
    },
  );
});
