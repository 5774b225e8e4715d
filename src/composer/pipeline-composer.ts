import { join } from 'node:path';
import {
  asTributaryError,
  TributaryError,
  type Checkpoint,
  type Operator,
  type Sink,
  type TableChecksums,
  type TableId,
  tableIdToString,
} from '../core/index.js';
import type { PipelineDef } from '../config/pipeline-def.js';
import { parseTableSelectors } from '../config/table-selector.js';
import { sinks, sources } from '../connectors/registry.js';
import { runPipeline, type PipelineParts, type RunResult } from '../runtime/pipeline-runner.js';
import type { Logger } from '../runtime/logger.js';
import { StateStore } from '../runtime/state-store.js';
import { describeMerge, keyCollisionFix } from '../transform/key-collision.js';
import { TransformOperator, type KeyCollisionNotice } from '../transform/transform-operator.js';
import { createWatchdogState, type WatchdogState } from '../runtime/watchdog.js';
import { PipelineMetrics } from '../runtime/pipeline-metrics.js';
import { evolvingTransform } from '../transform/schema-evolution/evolving-transform.js';
import { acceptedSchemaChanges } from '../transform/schema-evolution/schema-change-types.js';
import { schemaEvolutionOperator } from '../transform/schema-evolution/schema-evolution-operator.js';
import { validatePipeline, type ValidateOptions, type ValidationReport } from './pipeline-validation.js';
import { planVerification, verifyTable, type TableVerification, type VerifyOptions } from './pipeline-verify.js';

export interface ComposeOptions {
  readonly log: Logger;
  /** Commit at the latest after this many buffered events (bounds sink memory). */
  readonly maxPendingEvents?: number;
  readonly maxRetries?: number;
}

export interface RunPipelineOptions {
  readonly signal?: AbortSignal;
  /** Forget the saved position and start over (a new snapshot); savepoints are set aside. */
  readonly reset?: boolean;
  /** With `reset`: empty the pipeline's sink tables first, so the new snapshot is all they hold. */
  readonly truncateTargets?: boolean;
  /** Resume from this savepoint (a checkpoint id or a savepoint file) instead of the last checkpoint. */
  readonly fromSavepoint?: string;
  readonly onCheckpoint?: (checkpoint: Checkpoint, stats: { events: number; durationMs: number }) => void;
  readonly onStart?: (parts: PipelineParts) => void;
}

/** A pipeline built from its definition: the same objects whether it came from YAML or from code. */
export interface Pipeline {
  readonly def: PipelineDef;
  /**
   * Connects to source and sink and checks everything a user can get wrong, before anything moves: what `run`
   * checks before its first row (see {@link validatePipeline}). Throws the first error found.
   */
  validate(options?: ValidateOptions): Promise<ValidationReport>;
  run(options?: RunPipelineOptions): Promise<RunResult>;
  stateStore(): StateStore;
  /** The watchdog's view of the running pipeline (what it waits for, stalls so far), for status and metrics. */
  readonly watchdog: WatchdogState;
  /** What the running pipeline reports (rows per table, snapshot progress, checkpoints, errors), for the dashboard. */
  readonly metrics: PipelineMetrics;
  /**
   * The checkpoint `run` would resume from: the sink's (authoritative), or — for a sink that keeps none, or
   * when the sink cannot be reached — the state directory's copy, which may be one checkpoint behind. Opening
   * the sink is what `run` does first (it creates the checkpoint table if missing); nothing else is written.
   */
  lastCheckpoint(): Promise<LastCheckpoint>;
  /**
   * Compares every captured source table with its rows in the sink, by chunked checksums on both servers
   * (see {@link verifyTable}); reads only, while the pipeline may run. Throws CONFIG_INVALID when the source or
   * the sink cannot compute checksums.
   */
  verify(options?: VerifyOptions): Promise<TableVerification[]>;
}

/** What {@link Pipeline.lastCheckpoint} found, and where. */
export interface LastCheckpoint {
  readonly checkpoint: Checkpoint | null;
  /** `sink`: read from the sink; `state-dir`: from the embedded state store. */
  readonly from: 'sink' | 'state-dir';
  /** Why the sink was not read, when `from` is `state-dir` because of a failure. */
  readonly sinkError?: TributaryError;
  /** The state directory's own copy, when it differs from what the sink holds. */
  readonly local: Checkpoint | null;
}

export function composePipeline(def: PipelineDef, options: ComposeOptions): Pipeline {
  const { log } = options;
  const sourceEntry = sources[def.source.type];
  const sinkEntry = sinks[def.sink.type];
  if (!sourceEntry || !sinkEntry) {
    throw new TributaryError(
      'CONNECTOR_UNKNOWN',
      `unknown connector type ${!sourceEntry ? def.source.type : def.sink.type}`,
      {
        hint: `source types: ${Object.keys(sources).join(', ')}; sink types: ${Object.keys(sinks).join(', ')}`,
      },
    );
  }
  for (const spec of [...sourceEntry.options, ...sinkEntry.options]) {
    if (spec.type !== 'secret') continue;
    log.addSecret(String(def.source.options[spec.key] ?? def.sink.options[spec.key] ?? ''));
  }
  const selectorText = (key: string | undefined) => (key ? def.source.options[key] : undefined);
  const include = parseTableSelectors(String(selectorText(sourceEntry.tablesOption) ?? ''));
  const excludeText = selectorText(sourceEntry.excludeOption);
  const exclude = excludeText === undefined ? [] : parseTableSelectors(String(excludeText));
  const name = def.pipeline.name;
  const store = new StateStore(def.pipeline.stateDir ?? join('.tributary', name));

  const createSource = async () =>
    (await sourceEntry.load())(def.source.options, {
      log: log.child('source'),
      pipelineName: name,
      parallelism: def.pipeline.parallelism,
      include,
      exclude,
    });
  const createSink = async () =>
    (await sinkEntry.load())(def.sink.options, { log: log.child('sink'), pipelineName: name });
  const sinkText = (key: string) => (typeof def.sink.options[key] === 'string' ? def.sink.options[key] : undefined);
  const accepted = acceptedSchemaChanges(sinkText('include.schema.changes'), sinkText('exclude.schema.changes'));
  // Merged tables whose key does not tell them apart: validate reports them with their key overlap; the run's
  // transform stage reports those it meets that validate did not (a run from code, a shard created later).
  const collisionMode = def.pipeline.routeKeyCollision ?? 'warn';
  const reportedCollisions = new Set<string>();
  const onKeyCollision = (notice: KeyCollisionNotice) => {
    const tables = [...notice.others, notice.table];
    const keys = tables.map((t) => `${tableIdToString(notice.sinkTable)}\u0000${tableIdToString(t)}`);
    const message = describeMerge(tables, notice.sinkTable, notice.key);
    const fix = keyCollisionFix(tables, notice.sinkTable, notice.key);
    if (collisionMode === 'fail') throw new TributaryError('ROUTE_KEY_COLLISION', message, { hint: fix });
    if (keys.every((k) => reportedCollisions.has(k))) return;
    for (const k of keys) reportedCollisions.add(k);
    log.warn(`[ROUTE_KEY_COLLISION] ${message}\n  fix: ${fix}`);
  };
  // The schema-evolution stage needs to know each routed event's source table: one operator holds both.
  const createOperators = (checkCollisions = true): Operator[] => [
    evolvingTransform(
      new TransformOperator(
        { transforms: def.transforms, routes: def.routes },
        checkCollisions && collisionMode !== 'ignore' ? { onKeyCollision } : {},
      ),
      schemaEvolutionOperator({
        ...(def.pipeline.schemaChangeBehavior === undefined ? {} : { behavior: def.pipeline.schemaChangeBehavior }),
        accepted,
      }),
    ),
  ];

  /** The sink tables the pipeline writes to: the captured tables' output after transforms and routes. */
  const targetTables = async (): Promise<TableId[]> => {
    const source = await createSource();
    try {
      const { tables } = await source.validate();
      const out = createOperators()[0]!.process(
        tables.map((schema) => ({
          kind: 'schema',
          table: schema.id,
          change: 'createTable',
          schema,
          source: { tsMs: 0 },
        })),
      );
      const ids = new Map<string, TableId>();
      for (const event of out) if (event.kind === 'schema') ids.set(tableIdToString(event.table), event.table);
      return [...ids.values()];
    } finally {
      await source.close().catch(() => undefined);
    }
  };

  const watchdog = createWatchdogState(def.pipeline.watchdogTimeoutMs);
  const metrics = new PipelineMetrics(name, {
    watchdog: () => ({ waitingFor: watchdog.waitingFor, stalls: watchdog.stalls }),
  });
  return {
    def,
    stateStore: () => store,
    watchdog,
    metrics,
    async lastCheckpoint() {
      const local = await store.load();
      let sink: Sink | undefined;
      try {
        sink = await createSink();
        if (sink.keepsCheckpoints === false) return { checkpoint: local, from: 'state-dir', local };
        return { checkpoint: await sink.open(name), from: 'sink', local };
      } catch (error) {
        return { checkpoint: local, from: 'state-dir', sinkError: asTributaryError(error), local };
      } finally {
        await sink?.close().catch(() => undefined);
      }
    },
    async verify(verifyOptions = {}) {
      const source = await createSource();
      const sink = await createSink();
      let sourceSums: TableChecksums | undefined;
      let sinkSums: TableChecksums | undefined;
      try {
        if (!source.checksums || !sink.checksums) {
          throw new TributaryError(
            'CONFIG_INVALID',
            `verify compares a ${def.source.type} source with a postgres sink; this pipeline's ${!source.checksums ? `source (${def.source.type})` : `sink (${def.sink.type})`} cannot compute checksums`,
            { hint: 'compare the tables yourself, e.g. with SELECT count(*) on both sides' },
          );
        }
        const { tables } = await source.validate();
        sourceSums = await source.checksums();
        sinkSums = await sink.checksums();
        const results: TableVerification[] = [];
        for (const schema of tables) {
          const plan = planVerification(schema, createOperators(false)[0]!);
          results.push(await verifyTable(plan, sourceSums, sinkSums, verifyOptions));
          verifyOptions.onProgress?.(`verified ${results.length} of ${tables.length} tables`);
        }
        return results;
      } finally {
        await Promise.allSettled([sourceSums?.close(), sinkSums?.close()]);
        await Promise.allSettled([source.close(), sink.close()]);
      }
    },
    async validate(validateOptions = {}) {
      const source = await createSource();
      const sink = await createSink();
      try {
        return await validatePipeline(
          {
            def,
            source,
            sink,
            store,
            include,
            operators: () => createOperators(false),
            log,
            reportedCollisions,
          },
          validateOptions,
        );
      } finally {
        await Promise.allSettled([source.close(), sink.close()]);
      }
    },
    async run(runOptions = {}) {
      await store.ensureWritable();
      if (runOptions.reset) {
        const targets = runOptions.truncateTargets ? await targetTables() : undefined;
        await resetState(store, createSink, name, log, targets);
      }
      const startFrom = runOptions.fromSavepoint ? await store.loadSavepoint(runOptions.fromSavepoint) : undefined;
      return runPipeline({
        name,
        stateStore: store,
        log,
        checkpointIntervalMs: def.pipeline.checkpointIntervalMs,
        maxIdenticalFailures: def.pipeline.maxIdenticalFailures,
        watchdog,
        metrics,
        ...(options.maxPendingEvents ? { maxPendingEvents: options.maxPendingEvents } : {}),
        ...(options.maxRetries !== undefined ? { maxRetries: options.maxRetries } : {}),
        ...(runOptions.signal ? { signal: runOptions.signal } : {}),
        ...(runOptions.onCheckpoint ? { onCheckpoint: runOptions.onCheckpoint } : {}),
        ...(runOptions.onStart ? { onStart: runOptions.onStart } : {}),
        ...(startFrom ? { startFrom } : {}),
        createParts: async () => ({
          source: await createSource(),
          sink: await createSink(),
          operators: createOperators(),
        }),
      });
    },
  };
}

async function resetState(
  store: StateStore,
  createSink: () => Promise<Sink>,
  name: string,
  log: Logger,
  truncate: readonly TableId[] | undefined,
): Promise<void> {
  const sink = await createSink();
  try {
    await sink.open(name);
    await sink.reset?.(name);
    // After the checkpoint is gone, never before: emptied tables under the old checkpoint would make a run
    // without --reset resume past rows that are no longer there.
    if (truncate !== undefined) {
      if (!sink.truncateTargets) {
        throw new TributaryError('CONFIG_INVALID', 'this sink cannot truncate its tables (--truncate-targets)', {
          hint: 'empty the sink tables yourself, then run with --reset alone',
        });
      }
      const emptied = await sink.truncateTargets(name, truncate);
      log.info(
        `--truncate-targets: emptied ${emptied.length === 0 ? 'no table (none exists yet)' : emptied.join(', ')}`,
      );
    }
  } finally {
    await sink.close();
  }
  await store.clear();
  const archived = await store.archiveSavepoints();
  log.info(
    `state of pipeline ${name} cleared: starting over with a new snapshot` +
      (archived === undefined ? '' : `; the savepoints of before are set aside in ${archived}`),
  );
}
