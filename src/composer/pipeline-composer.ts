import { join } from 'node:path';
import { TributaryError, type Checkpoint, type Operator, type Sink, type SourceDescription } from '../core/index.js';
import type { PipelineDef } from '../config/pipeline-def.js';
import { parseTableSelectors } from '../config/table-selector.js';
import { sinks, sources } from '../connectors/registry.js';
import { runPipeline, type PipelineParts, type RunResult } from '../runtime/pipeline-runner.js';
import type { Logger } from '../runtime/logger.js';
import { StateStore } from '../runtime/state-store.js';
import { createWatchdogState, type WatchdogState } from '../runtime/watchdog.js';
import { TransformOperator } from '../transform/transform-operator.js';
import { evolvingTransform } from '../transform/schema-evolution/evolving-transform.js';
import { acceptedSchemaChanges } from '../transform/schema-evolution/schema-change-types.js';
import { schemaEvolutionOperator } from '../transform/schema-evolution/schema-evolution-operator.js';
import { unmatchedRoutes, unmatchedSelectors } from '../transform/route.js';

export interface ComposeOptions {
  readonly log: Logger;
  /** Commit at the latest after this many buffered events (bounds sink memory). */
  readonly maxPendingEvents?: number;
  readonly maxRetries?: number;
}

export interface RunPipelineOptions {
  readonly signal?: AbortSignal;
  /** Forget the saved position and start over (a new snapshot). */
  readonly reset?: boolean;
  /** Resume from this savepoint (a checkpoint id or a savepoint file) instead of the last checkpoint. */
  readonly fromSavepoint?: string;
  readonly onCheckpoint?: (checkpoint: Checkpoint, stats: { events: number; durationMs: number }) => void;
  readonly onStart?: (parts: PipelineParts) => void;
}

/** A pipeline built from its definition: the same objects whether it came from YAML or from code. */
export interface Pipeline {
  readonly def: PipelineDef;
  /** Connects to source and sink and checks everything a user can get wrong, before anything moves. */
  validate(): Promise<{ source: SourceDescription; warnings: string[] }>;
  run(options?: RunPipelineOptions): Promise<RunResult>;
  stateStore(): StateStore;
  /** The watchdog's view of the running pipeline (what it waits for, stalls so far), for status and metrics. */
  readonly watchdog: WatchdogState;
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
  // The schema-evolution stage needs to know each routed event's source table: one operator holds both.
  const createOperators = (): Operator[] => [
    evolvingTransform(
      new TransformOperator({ transforms: def.transforms, routes: def.routes }),
      schemaEvolutionOperator({
        ...(def.pipeline.schemaChangeBehavior === undefined ? {} : { behavior: def.pipeline.schemaChangeBehavior }),
        accepted,
      }),
    ),
  ];

  const watchdog = createWatchdogState(def.pipeline.watchdogTimeoutMs);
  return {
    def,
    stateStore: () => store,
    watchdog,
    async validate() {
      const source = await createSource();
      const sink = await createSink();
      try {
        const description = await source.validate();
        await sink.validate();
        await store.ensureWritable();
        const captured = description.tables.map((t) => t.id);
        const warnings = [
          ...unmatchedSelectors(include, captured).map(
            (s) => `source.tables pattern ${s.source} matches no table (yet)`,
          ),
          ...unmatchedSelectors(
            def.transforms.map((t) => t.sourceTable),
            captured,
          ).map((s) => `transform source-table ${s.source} matches no captured table`),
          ...unmatchedRoutes(def.routes, captured).map(
            (route) => `route ${route.sourceTable.source} → ${route.sinkTable} matches no captured table`,
          ),
        ];
        // Building the output schemas proves the transforms fit the tables (key columns exist …) and that
        // shards routed to one sink table can be merged (compatible types, one primary key).
        const operator = createOperators()[0]!;
        operator.process(
          description.tables.map((schema) => ({
            kind: 'schema',
            table: schema.id,
            change: 'createTable',
            schema,
            source: { tsMs: 0 },
          })),
        );
        return { source: description, warnings };
      } finally {
        await Promise.allSettled([source.close(), sink.close()]);
      }
    },
    async run(runOptions = {}) {
      await store.ensureWritable();
      if (runOptions.reset) await resetState(store, createSink, name, log);
      const startFrom = runOptions.fromSavepoint ? await store.loadSavepoint(runOptions.fromSavepoint) : undefined;
      return runPipeline({
        name,
        stateStore: store,
        log,
        checkpointIntervalMs: def.pipeline.checkpointIntervalMs,
        watchdog,
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
): Promise<void> {
  const sink = await createSink();
  try {
    await sink.open(name);
    await sink.reset?.(name);
  } finally {
    await sink.close();
  }
  await store.clear();
  log.info(`state of pipeline ${name} cleared: starting over with a new snapshot`);
}
