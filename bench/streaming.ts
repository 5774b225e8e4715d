/**
 * The shared shape of the binlog workloads: an `initial` pipeline that is already streaming, changes made on
 * the source, and the time until the target shows them.
 */
import { performance } from 'node:perf_hooks';
import { setTimeout as sleep } from 'node:timers/promises';
import type pg from 'pg';
import { pollUntil, say, type Bench } from './context.js';
import type { PipelineProcess } from './pipeline-process.js';
import { round, type RunRecord } from './report.js';
import { pgTableExists } from './tables.js';

export interface Streaming {
  /** The running pipeline process (another one after `start()`). */
  readonly pipeline: PipelineProcess;
  /** A connection to the target database. */
  readonly sink: pg.Client;
  /** Stops the pipeline cleanly (its last changes are committed) and waits for its process to exit. */
  stop(): Promise<void>;
  /** Starts the pipeline again in a new process, from its checkpoint; resolves once it reports started. */
  start(): Promise<void>;
}

export interface StreamingSpec {
  readonly name: string;
  readonly tables: string;
  readonly database: string;
  readonly checkpointInterval?: string;
  /** Holds once the pipeline has created its target tables (the initial snapshot is done). */
  readonly ready: (sink: pg.Client, pipeline: PipelineProcess) => Promise<boolean>;
}

/** A pipeline on one source table, ready once the target table exists. */
export function oneTable(table: string, name: string, database: string, checkpointInterval?: string): StreamingSpec {
  return {
    name,
    tables: table,
    database,
    ready: (sink) => pgTableExists(sink, table),
    ...(checkpointInterval === undefined ? {} : { checkpointInterval }),
  };
}

/** Starts the pipeline, waits until `ready`, runs `body`, then stops the pipeline and drops its database. */
export async function withStreamingPipeline(
  bench: Bench,
  spec: StreamingSpec,
  body: (streaming: Streaming, stateDir: string) => Promise<void>,
): Promise<void> {
  await bench.withTarget(spec.database, async (stateDir) => {
    const sink = await bench.pgConnect(spec.database);
    let pipeline: PipelineProcess | undefined;
    const stop = async (): Promise<void> => {
      const stopping = pipeline;
      pipeline = undefined;
      if (!stopping) return;
      const done = await stopping.stop().catch((error: unknown) => error as Error);
      if (done instanceof Error && stopping.failure === undefined) say(`  ${spec.name}: ${done.message}`);
      await stopping.exit();
    };
    const start = async (): Promise<PipelineProcess> => {
      const started = bench.startPipeline({ ...spec, mode: 'initial', stateDir });
      pipeline = started;
      await Promise.race([started.started, started.done]);
      return started;
    };
    try {
      await bench.settle();
      const running = await start();
      await Promise.race([running.firstCheckpoint, running.done, sleep(5_000)]);
      await pollUntil(() => spec.ready(sink, running), 'the target tables', 600, running);
      await body(
        {
          get pipeline() {
            if (!pipeline) throw new Error(`${spec.name}: the pipeline is stopped`);
            return pipeline;
          },
          sink,
          stop,
          start: async () => void (await start()),
        },
        stateDir,
      );
    } finally {
      await stop();
      await sink.end();
    }
  });
}

export interface Changes {
  /** Makes the changes on the source. */
  readonly apply: () => Promise<void>;
  /** Holds once the target shows the last change (commits are applied in order: it implies all of them). */
  readonly visible: () => Promise<boolean>;
  readonly what: string;
  readonly rows: number;
  /** Proves the target equals the source afterwards (outside the timed interval). */
  readonly verify: () => Promise<void>;
}

/**
 * Times `changes` from the first source statement until the target shows the last one, with the pipeline
 * process's CPU seconds and peak RSS and the servers' CPU over that interval.
 */
export async function measureChanges(
  bench: Bench,
  streaming: Streaming,
  repetition: number,
  changes: Changes,
): Promise<RunRecord> {
  const { pipeline } = streaming;
  const usage0 = await pipeline.usage();
  const serverCpu = await bench.serverCpuMeter();
  const started = performance.now();
  await changes.apply();
  const sourceSeconds = (performance.now() - started) / 1000;
  return await untilVisible(bench, pipeline, repetition, changes, { started, sourceSeconds, serverCpu, usage0 });
}

/**
 * Catch-up apply: the pipeline is stopped while `changes` are made on the source (untimed), then started again;
 * timed from the moment the new process reports it has opened source and sink until the target shows the last
 * change. This is the apply rate alone — reading the backlog from the binlog, transforming, writing — without
 * sharing the machine with the source's own statements (the measurement of {@link measureChanges} includes them).
 */
export async function measureCatchUp(
  bench: Bench,
  streaming: Streaming,
  repetition: number,
  changes: Changes,
): Promise<RunRecord> {
  await streaming.stop();
  const written = performance.now();
  await changes.apply();
  const sourceSeconds = (performance.now() - written) / 1000;
  await bench.settle();
  const serverCpu = await bench.serverCpuMeter();
  // From the moment the new process has opened its source and sink (process start-up and connecting excluded).
  await streaming.start();
  const started = performance.now();
  return await untilVisible(bench, streaming.pipeline, repetition, changes, { started, sourceSeconds, serverCpu });
}

/** Polls until `changes` are visible, then records the interval since `started`, the usage and the checksum. */
async function untilVisible(
  bench: Bench,
  pipeline: PipelineProcess,
  repetition: number,
  changes: Changes,
  from: {
    started: number;
    sourceSeconds: number;
    serverCpu: () => Promise<RunRecord['serverCpuSeconds']>;
    /** The process's usage when the interval began; absent for a process started in it. */
    usage0?: { cpuSeconds: number };
  },
): Promise<RunRecord> {
  const poll = await pollUntil(
    changes.visible,
    changes.what,
    bench.timeoutSeconds(changes.rows),
    pipeline,
    bench.config.pollMs,
  );
  const usage = await pipeline.usage();
  const serverCpuSeconds = await from.serverCpu();
  await changes.verify();
  return {
    repetition,
    seconds: (poll.at - from.started) / 1000,
    cpuSeconds: usage.cpuSeconds - (from.usage0?.cpuSeconds ?? 0),
    maxRssMb: usage.maxRssMb,
    serverCpuSeconds,
    detail: {
      sourceSeconds: round(from.sourceSeconds, 3),
      pollQueries: poll.queries,
      pollQuerySeconds: round(poll.querySeconds, 3),
    },
  };
}
