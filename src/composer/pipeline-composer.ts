import { dirname, join } from 'node:path';
import {
  asTributaryError,
  plural,
  TributaryError,
  type StreamEvent,
  type Checkpoint,
  type Operator,
  type RemoteChunks,
  type RepairChunk,
  type Sink,
  type TableChecksums,
  type TableId,
  type TableLayout,
  type TableSchema,
  tableIdToString,
  type ValidationCheck,
} from '../core/index.js';
import type { PipelineDef } from '../config/pipeline-def.js';
import { parseTableSelectors } from '../core/table-selector.js';
import { sinks, sources } from '../connectors/registry.js';
import { runPipeline, type PipelineParts, type RunResult } from '../runtime/pipeline-runner.js';
import type { Logger } from '../runtime/logger.js';
import { StateStore } from '../runtime/state-store.js';
import { describeMerge, keyCollisionFix } from '../transform/key-collision.js';
import { resolveRoute } from '../transform/route.js';
import { TransformOperator, type KeyCollisionNotice } from '../transform/transform-operator.js';
import { BUILTIN_FUNCTIONS } from '../transform/expression/builtin-functions.js';
import { loadUserFunctions, type UserFunction } from '../transform/expression/user-function.js';
import type { TransformRules } from '../transform/rules.js';
import { createWatchdogState, type WatchdogState } from '../runtime/watchdog.js';
import { PipelineMetrics } from '../runtime/pipeline-metrics.js';
import { evolvingTransform } from '../transform/schema-evolution/evolving-transform.js';
import { acceptedSchemaChanges } from '../transform/schema-evolution/schema-change-types.js';
import { schemaEvolutionOperator } from '../transform/schema-evolution/schema-evolution-operator.js';
import { validatePipeline, type ValidateOptions, type ValidationReport } from './pipeline-validation.js';
import {
  planVerification,
  verifyTable,
  type TableVerification,
  type VerifyOptions,
  type VerifyPlan,
} from './pipeline-verify.js';
import { checkRepairable, TableRepairer, type TableRepair } from './pipeline-repair.js';
import { liveHeartbeat, startRunHeartbeat } from '../runtime/run-heartbeat.js';
import { requestRepair, startRepairInbox } from '../runtime/repair-inbox.js';

export interface ComposeOptions {
  readonly log: Logger;
  /** Commit at the latest after this many buffered events (bounds sink memory). */
  readonly maxPendingEvents?: number;
  /** After a caught-up batch, commit once no batch came for this long (`RunOptions.caughtUpLingerMs`; 0: at once). */
  readonly caughtUpLingerMs?: number;
  /** Process the next batches while the sink commits (`RunOptions.overlapCommits`; a SQL job). */
  readonly overlapCommits?: boolean;
  readonly maxRetries?: number;
  /** The longest delay between retried attempts (default 30 s). */
  readonly retryMaxDelayMs?: number;
  /**
   * The stages between source and sink, built anew for each attempt, instead of the transform and
   * schema-evolution stages of the definition (a streaming SQL job brings its own).
   */
  readonly operators?: () => Operator[];
  /** Snapshot chunks read by scale-out snapshot readers (the capture role with `snapshot.readers: remote`). */
  readonly remoteChunks?: RemoteChunks;
  /** The sink's fencing token (a scale-out apply worker's partition lease): see `SinkContext.fenceToken`. */
  readonly sinkFenceToken?: bigint;
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
  /**
   * `verify --repair`: verifies, has the differing rows written again from the source, then verifies again.
   * While a pipeline runs on this state directory, the running pipeline reads the differing chunks again
   * beside its log and commits them with its own checkpoints (see repair-inbox.ts). Otherwise the rows are
   * written here (see {@link TableRepairer}) in sink transactions (per table, at most 10,000 rows each), each
   * committed with the sink's checkpoint (same position, next id); refused before the first checkpoint, and
   * with PIPELINE_RUNNING when a pipeline starts meanwhile.
   */
  repair(options?: VerifyOptions): Promise<RepairReport>;
}

/** What {@link Pipeline.repair} found, did, and found after. */
export interface RepairReport {
  readonly found: readonly TableVerification[];
  readonly repaired: readonly ({ readonly source: string; readonly sink: string } & TableRepair)[];
  /** The id of the last checkpoint committed with the repair; undefined when nothing needed repair. */
  readonly checkpointId: number | undefined;
  /** The running pipeline made the repair (its own checkpoints carry it). */
  readonly live?: boolean;
  readonly after: readonly TableVerification[];
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

/** `verify --repair` commits at the latest after this many repaired rows. */
const REPAIR_COMMIT_EVENTS = 10_000;

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
  // Pass-through families (`jdbc.properties.password`, `debezium.database.password`) may carry secrets too.
  for (const [key, value] of [...Object.entries(def.source.options), ...Object.entries(def.sink.options)]) {
    if (typeof value === 'string' && value !== '' && /(password|secret|credential)/i.test(key)) log.addSecret(value);
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
      ...(options.remoteChunks ? { remoteChunks: options.remoteChunks } : {}),
    });
  const layouts = tableLayouts(def);
  const createSink = async () =>
    (await sinkEntry.load())(def.sink.options, {
      log: log.child('sink'),
      pipelineName: name,
      tableLayout: layouts.layoutOf,
      ...(options.sinkFenceToken === undefined ? {} : { fenceToken: options.sinkFenceToken }),
    });
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
  // Flink CDC's source option `schema-change.enabled: false`: no schema change reaches the sink tables.
  const schemaChangeBehavior =
    def.source.options['schema-change.enabled'] === false ? 'ignore' : def.pipeline.schemaChangeBehavior;
  // Expressions run in Flink's `pipeline.local-time-zone` (the system zone by default), and may call the
  // user-defined functions, imported once before validate or run needs them.
  const timeZone = def.pipeline.localTimeZone;
  let functions: ReadonlyMap<string, UserFunction> | undefined;
  const loadFunctions = async (): Promise<void> => {
    if (functions !== undefined || def.userDefinedFunctions === undefined) return;
    const baseDir = def.file === undefined ? process.cwd() : dirname(def.file);
    functions = await loadUserFunctions(def.userDefinedFunctions, baseDir, new Set(BUILTIN_FUNCTIONS.keys()));
  };
  const transformRules = (): TransformRules => ({
    transforms: def.transforms,
    routes: def.routes,
    ...(timeZone === undefined ? {} : { timeZone }),
    ...(functions === undefined ? {} : { functions }),
  });
  // The schema-evolution stage needs to know each routed event's source table: one operator holds both.
  const custom = options.operators;
  const createOperators = (checkCollisions = true): Operator[] =>
    custom?.() ?? [
      layouts.observing(
        evolvingTransform(
          new TransformOperator(
            transformRules(),
            checkCollisions && collisionMode !== 'ignore' ? { onKeyCollision } : {},
          ),
          schemaEvolutionOperator({
            ...(schemaChangeBehavior === undefined ? {} : { behavior: schemaChangeBehavior }),
            accepted,
          }),
        ),
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
  /**
   * Compares every captured source table with its sink rows; `repairOf` gives, per table, what to do with the
   * keys of each chunk that still differs.
   */
  const compare = async (
    verifyOptions: VerifyOptions,
    repairOf?: (
      plan: VerifyPlan,
      schema: TableSchema,
      sourceSums: TableChecksums,
    ) => NonNullable<VerifyOptions['onDifference']>,
    afterTable?: () => Promise<void>,
  ): Promise<TableVerification[]> => {
    const source = await createSource();
    const sink = await createSink();
    let sourceSums: TableChecksums | undefined;
    let sinkSums: TableChecksums | undefined;
    try {
      if (!source.checksums || !sink.checksums) {
        throw new TributaryError(
          'CONFIG_INVALID',
          `verify compares a ${def.source.type} source with a postgres or duckdb sink; this pipeline's ${!source.checksums ? `source (${def.source.type})` : `sink (${def.sink.type})`} cannot compute checksums`,
          { hint: 'compare the tables yourself, e.g. with SELECT count(*) on both sides' },
        );
      }
      const { tables } = await source.validate();
      sourceSums = await source.checksums();
      sinkSums = await sink.checksums();
      const results: TableVerification[] = [];
      for (const schema of tables) {
        const plan = planVerification(schema, createOperators(false)[0]!);
        const onDifference = repairOf?.(plan, schema, sourceSums);
        results.push(
          await verifyTable(plan, sourceSums, sinkSums, {
            ...verifyOptions,
            ...(onDifference ? { onDifference } : {}),
          }),
        );
        await afterTable?.();
        verifyOptions.onProgress?.(`verified ${results.length} of ${tables.length} tables`);
      }
      return results;
    } finally {
      await Promise.allSettled([sourceSums?.close(), sinkSums?.close()]);
      await Promise.allSettled([source.close(), sink.close()]);
    }
  };
  /** A repair racing a running pipeline could write a row older than the one the pipeline just wrote. */
  const refuseWhileRunning = async (): Promise<void> => {
    const beat = await liveHeartbeat(store.dir);
    if (beat === undefined) return;
    throw new TributaryError(
      'PIPELINE_RUNNING',
      `pipeline ${name} is running (process ${beat.pid} on ${beat.host}, started ${beat.startedAt}; ` +
        `${join(store.dir, 'running.json')})`,
      {
        hint: 'stop the pipeline (Ctrl-C, or SIGTERM), run verify --repair, then start it again: it resumes where it stopped',
      },
    );
  };
  /**
   * `verify --repair` while the pipeline runs: the differing chunks are handed to the running pipeline, whose
   * source reads them again beside the log (a snapshot window each, so no change racing the repair is undone)
   * and commits them with its next checkpoint; then verify runs again.
   */
  const repairWhileRunning = async (verifyOptions: VerifyOptions): Promise<RepairReport> => {
    const requests = new Map<string, { table: TableId; sink: string; chunks: RepairChunk[] }>();
    const found = await compare(verifyOptions, (plan) => (difference) => {
      const key = tableIdToString(plan.source.table);
      const entry = requests.get(key) ?? {
        table: plan.source.table,
        sink: tableIdToString(plan.sink.table),
        chunks: [],
      };
      requests.set(key, entry);
      entry.chunks.push({ lo: difference.lo, hi: difference.hi, onlyInSink: difference.onlyInSink });
      return Promise.resolve();
    });
    if (requests.size === 0) return { found, repaired: [], checkpointId: undefined, after: found, live: true };
    const chunks = [...requests.values()].reduce((n, r) => n + r.chunks.length, 0);
    verifyOptions.onProgress?.(
      `pipeline ${name} is running: asking it to read ${plural(chunks, 'differing chunk')} again beside the log`,
    );
    const done = await requestRepair(
      store.dir,
      [...requests.values()].map(({ table, chunks }) => ({ table, chunks })),
      async () => (await liveHeartbeat(store.dir)) !== undefined,
    );
    const repaired = done.tables.map((t) => ({
      source: t.table,
      sink: requests.get(t.table)?.sink ?? t.table,
      upserted: t.upserted,
      deleted: t.deleted,
    }));
    verifyOptions.onProgress?.('the running pipeline committed the repair; verifying again');
    return { found, repaired, checkpointId: undefined, after: await compare(verifyOptions), live: true };
  };
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
    verify: (verifyOptions = {}) => compare(verifyOptions),
    async repair(verifyOptions = {}) {
      checkRepairable(def.sink.type, def.sink.options);
      if ((await liveHeartbeat(store.dir)) !== undefined) return repairWhileRunning(verifyOptions);
      await refuseWhileRunning();
      const sink = await createSink();
      try {
        const checkpoint = await sink.open(name);
        if (checkpoint === null) {
          throw new TributaryError(
            'CONFIG_INVALID',
            `verify --repair: pipeline ${name} has no checkpoint in the sink yet (it never committed)`,
            { hint: 'run the pipeline until its snapshot is done, stop it, then repair' },
          );
        }
        // Committed in pieces (each table, and every REPAIR_COMMIT_EVENTS rows), each with the sink's checkpoint
        // unchanged but for its id: no transaction grows with the size of the difference.
        let checkpointId: number | undefined;
        const commitRepair = async (): Promise<void> => {
          if (sink.pending() === 0) return;
          // A pipeline started meanwhile would race the repair: give up before committing more.
          await refuseWhileRunning();
          const next: Checkpoint = {
            ...checkpoint,
            id: (checkpointId ?? checkpoint.id) + 1,
            committedAt: new Date().toISOString(),
          };
          await sink.commit(next);
          checkpointId = next.id;
          await store.save(next).catch((error: unknown) => {
            log.warn(`verify --repair: the state directory's copy of the checkpoint was not updated: ${String(error)}`);
          });
        };
        const repairers: { plan: VerifyPlan; repairer: TableRepairer }[] = [];
        const found = await compare(
          verifyOptions,
          (plan, schema, sourceSums) => {
            const repairer = new TableRepairer(plan, schema, createOperators(false)[0]!, sourceSums, sink);
            repairers.push({ plan, repairer });
            return async (difference) => {
              await repairer.repair(difference);
              if (sink.pending() >= REPAIR_COMMIT_EVENTS) await commitRepair();
            };
          },
          commitRepair,
        );
        const repaired = repairers
          .map(({ plan, repairer }) => ({
            source: tableIdToString(plan.source.table),
            sink: tableIdToString(plan.sink.table),
            ...repairer.result(),
          }))
          .filter((r) => r.upserted + r.deleted > 0);
        if (checkpointId !== undefined) {
          verifyOptions.onProgress?.(`repair committed up to checkpoint ${checkpointId}; verifying again`);
        }
        const after = repaired.length > 0 ? await compare(verifyOptions) : found;
        return { found, repaired, checkpointId, after };
      } finally {
        await sink.close().catch(() => undefined);
      }
    },
    async validate(validateOptions = {}) {
      await loadFunctions();
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
            configWarnings: layoutWarnings(def, sinkEntry),
            rules: transformRules(),
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
      await loadFunctions();
      if (runOptions.reset) {
        const targets = runOptions.truncateTargets ? await targetTables() : undefined;
        await resetState(store, createSink, name, log, targets);
      }
      const startFrom = runOptions.fromSavepoint ? await store.loadSavepoint(runOptions.fromSavepoint) : undefined;
      const heartbeat = startRunHeartbeat(store.dir);
      const repairs = startRepairInbox(store.dir, () => metrics.source, log);
      try {
        return await runPipeline({
          name,
          stateStore: store,
          log,
          checkpointIntervalMs: def.pipeline.checkpointIntervalMs,
          maxIdenticalFailures: def.pipeline.maxIdenticalFailures,
          ...(def.pipeline.packedReads === false ? { packedReads: false } : {}),
          watchdog,
          metrics,
          ...(options.maxPendingEvents ? { maxPendingEvents: options.maxPendingEvents } : {}),
          ...(options.caughtUpLingerMs ? { caughtUpLingerMs: options.caughtUpLingerMs } : {}),
          ...(options.overlapCommits ? { overlapCommits: true } : {}),
          ...(options.maxRetries !== undefined ? { maxRetries: options.maxRetries } : {}),
          ...(options.retryMaxDelayMs !== undefined ? { retryMaxDelayMs: options.retryMaxDelayMs } : {}),
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
      } finally {
        await repairs.stop();
        await heartbeat.stop();
      }
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

/**
 * The layout of each sink table from the transforms' `partition-keys` and `table-options`: the first transform
 * rule that selects a source table gives the layout of the sink table it is routed to. Learnt from the source's
 * createTable events as they pass (every run starts with them), so the sink has it when it creates the table.
 */
function tableLayouts(def: PipelineDef): {
  layoutOf: (table: TableId) => TableLayout | undefined;
  observing: (inner: Operator) => Operator;
} {
  const rules = def.transforms.filter((t) => t.partitionKeys !== undefined || t.tableOptions !== undefined);
  const known = new Map<string, TableLayout>();
  const observe = (events: readonly StreamEvent[]) => {
    if (rules.length === 0) return;
    for (const event of events) {
      if (event.kind !== 'schema' || event.change !== 'createTable') continue;
      const rule = def.transforms.find((t) => t.sourceTable.matches(event.table.namespace, event.table.name));
      if (rule === undefined || (rule.partitionKeys === undefined && rule.tableOptions === undefined)) continue;
      known.set(tableIdToString(resolveRoute(def.routes, event.table)), {
        ...(rule.partitionKeys === undefined ? {} : { partitionKeys: rule.partitionKeys }),
        ...(rule.tableOptions === undefined ? {} : { options: rule.tableOptions }),
      });
    }
  };
  return {
    layoutOf: (table) => known.get(tableIdToString(table)),
    observing: (inner) => ({
      process: (events) => {
        observe(events);
        return inner.process(events);
      },
      ...(inner.processPacked === undefined
        ? {}
        : {
            processPacked: (events) => {
              observe(events);
              return inner.processPacked!(events);
            },
          }),
      ...(inner.snapshotState === undefined ? {} : { snapshotState: () => inner.snapshotState!() }),
      ...(inner.restoreState === undefined ? {} : { restoreState: (state) => inner.restoreState!(state) }),
      ...(inner.checkpointCommitted === undefined ? {} : { checkpointCommitted: () => inner.checkpointCommitted!() }),
      ...(inner.close === undefined ? {} : { close: () => inner.close!() }),
      ...(inner.schemaChangeFailed === undefined
        ? {}
        : { schemaChangeFailed: (event) => inner.schemaChangeFailed!(event) }),
    }),
  };
}

/** `partition-keys` and `table-options` that the sink has no notion of: one warning each. */
function layoutWarnings(def: PipelineDef, sink: (typeof sinks)[string]): ValidationCheck[] {
  const warnings: ValidationCheck[] = [];
  def.transforms.forEach((rule, index) => {
    if (rule.partitionKeys !== undefined && sink.noPartitions !== undefined) {
      warnings.push({
        status: 'warning',
        message: `transform[${index}].partition-keys is ignored by the ${def.sink.type} sink: ${sink.noPartitions}`,
        fix: 'remove partition-keys, or write to a sink that partitions tables (postgres)',
      });
    }
    for (const [key, value] of Object.entries(rule.tableOptions ?? {})) {
      const reason = sink.ignoredTableOption(key, value);
      if (reason === undefined) continue;
      warnings.push({
        status: 'warning',
        message: `transform[${index}].table-options ${key} is ignored by the ${def.sink.type} sink: ${reason}`,
        fix: `remove ${key} from table-options (see docs/connectors/${def.sink.type}.md)`,
      });
    }
  });
  return warnings;
}
