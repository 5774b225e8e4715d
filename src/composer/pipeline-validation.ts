import {
  asTributaryError,
  plural,
  tableIdToString,
  TributaryError,
  type ChangeEvent,
  type Checkpoint,
  type Operator,
  type Sink,
  type Source,
  type SourceDescription,
  type TableId,
  type TableSchema,
  type ValidationCheck,
} from '../core/index.js';
import type { PipelineDef } from '../config/pipeline-def.js';
import type { TableSelector } from '../core/table-selector.js';
import type { Logger } from '../runtime/logger.js';
import { restoreOperators } from '../runtime/pipeline-runner.js';
import type { StateStore } from '../runtime/state-store.js';
import { describeKeyCollision, keyCollisionFix, keyCollisions, type KeyCollision } from '../transform/key-collision.js';
import { unmatchedRoutes, unmatchedSelectors } from '../transform/route.js';
import type { TransformRules } from '../transform/rules.js';
import { planTable } from '../transform/table-plan.js';

export interface ValidateOptions {
  /** Receives each check as it is made: `tributary validate` prints them as its checklist. */
  readonly onCheck?: (check: ValidationCheck) => void;
  /** The run will not resume from the saved checkpoint (`--reset`): do not check it. */
  readonly ignoreSavedState?: boolean;
  /** The run resumes from this savepoint (`--from-savepoint`: an id or a file): check it instead. */
  readonly fromSavepoint?: string;
}

/** What `validate` found. It throws the first error instead, after every check that could still be made. */
export interface ValidationReport {
  readonly source: SourceDescription;
  /** The warnings' messages (they are also in `checks`). */
  readonly warnings: string[];
  /** Every check made, in order: ok and warnings. */
  readonly checks: readonly ValidationCheck[];
}

/** The parts `validatePipeline` works with; the composer builds them. */
export interface ValidationParts {
  readonly def: PipelineDef;
  readonly source: Source;
  readonly sink: Sink;
  readonly store: StateStore;
  readonly include: readonly TableSelector[];
  /** A fresh route/transform + schema-evolution stage, as the run builds it. */
  readonly operators: () => Operator[];
  /** The transform rules as the run applies them (time zone, user-defined functions); from `def` when absent. */
  readonly rules?: TransformRules;
  readonly log: Logger;
  /** Warnings about the file that the composer found (options of the transforms a sink ignores). */
  readonly configWarnings?: readonly ValidationCheck[];
  /** `sink\0source` of each merged table reported here, so that the run does not report it again. */
  readonly reportedCollisions?: Set<string>;
}

/**
 * Every check `run` makes before its first row, in the order `run` meets them: the source (server settings,
 * privileges, tables, keys), the sink, the state directory, the saved checkpoint against the source (same
 * server, still in its binlog), the transforms and routes against the tables, merged tables whose keys
 * collide, and each sink table that exists against what the run will write into it. A failing check that
 * later ones depend on stops there; independent ones still run, so one pass reports every error it can.
 */
export async function validatePipeline(
  parts: ValidationParts,
  options: ValidateOptions = {},
): Promise<ValidationReport> {
  const { def, source, sink, store } = parts;
  const checks: ValidationCheck[] = [];
  const errors: TributaryError[] = [];
  const report = (check: ValidationCheck) => {
    checks.push(check);
    options.onCheck?.(check);
  };
  const ok = (message: string) => report({ status: 'ok', message });
  const warn = (message: string, fix?: string, code?: TributaryError['code']) =>
    report({
      status: 'warning',
      message,
      ...(fix === undefined ? {} : { fix }),
      ...(code === undefined ? {} : { code }),
    });
  const fail = (thrown: unknown): TributaryError => {
    const error = asTributaryError(thrown);
    errors.push(error);
    report({
      status: 'error',
      code: error.code,
      message: error.message,
      ...(error.hint === undefined ? {} : { fix: error.hint }),
    });
    return error;
  };

  for (const ignored of def.ignoredOptions ?? []) {
    const family = ignored.key.endsWith('.*') ? ` (${ignored.written.join(', ')})` : '';
    warn(
      `${ignored.block}.${ignored.key}${family} is accepted for Flink CDC compatibility and ignored: ${ignored.reason}`,
      'nothing to change; remove it to silence this warning (docs/coming-from-flink-cdc.md)',
    );
  }

  for (const w of parts.configWarnings ?? []) report(w);

  let description: SourceDescription;
  try {
    description = await source.validate();
  } catch (error) {
    throw fail(error);
  }
  for (const line of description.checks) ok(line);
  for (const w of description.warnings ?? []) report(w);

  let sinkReady = true;
  try {
    await sink.validate();
    ok(`sink ${def.sink.type}: reachable, may create and write its tables`);
  } catch (error) {
    sinkReady = false;
    fail(error);
  }
  try {
    await store.ensureWritable();
    ok(`state directory ${store.dir} writable`);
  } catch (error) {
    fail(error);
  }

  const captured = description.tables.map((t) => t.id);
  for (const s of unmatchedSelectors(parts.include, captured))
    warn(`source.tables pattern ${s.source} matches no table (yet)`);
  for (const s of unmatchedSelectors(
    def.transforms.map((t) => t.sourceTable),
    captured,
  )) {
    warn(`transform source-table ${s.source} matches no captured table`);
  }
  for (const route of unmatchedRoutes(def.routes, captured)) {
    warn(`route ${route.sourceTable.source} → ${route.sinkTable} matches no captured table`);
  }
  const routeMode = routeModeCheck(def, captured);
  if (routeMode instanceof TributaryError) fail(routeMode);
  else if (routeMode !== undefined) warn(routeMode.message, routeMode.fix);

  const checkpoint = options.ignoreSavedState
    ? null
    : await savedState(parts, sinkReady, options.fromSavepoint, ok, warn, fail);

  // Building the output schemas proves the transforms fit the tables (key columns exist …) and that shards
  // routed to one sink table can be merged (compatible types, one primary key); restored as the run restores it,
  // the schema-evolution stage announces each sink table as it really is.
  let created: TableSchema[] | undefined;
  try {
    const operator = parts.operators()[0]!;
    restoreOperators([operator], checkpoint, parts.log);
    created = firstCreates(
      operator.process(
        description.tables.map((schema) => ({
          kind: 'schema',
          table: schema.id,
          change: 'createTable',
          schema,
          source: { tsMs: 0 },
        })),
      ),
    );
    ok(`transforms and routes fit the tables: ${plural(created.length, 'sink table')}`);
    await checkKeyCollisions(parts, description.tables, report, fail);
  } catch (error) {
    fail(error);
  }

  if (created !== undefined && sinkReady && sink.checkTables) {
    try {
      for (const check of await sink.checkTables(created)) {
        if (check.status === 'error') {
          fail(
            new TributaryError(
              check.code ?? 'SINK_SCHEMA_MISMATCH',
              check.message,
              check.fix ? { hint: check.fix } : {},
            ),
          );
        } else report(check);
      }
    } catch (error) {
      fail(error);
    }
  }

  if (errors.length > 0) throw errors[0]!;
  return {
    source: description,
    warnings: checks.filter((c) => c.status === 'warning').map((c) => c.message),
    checks,
  };
}

/**
 * The checkpoint the run would resume from — the sink's, or for a sink without checkpoints the state
 * directory's — checked against the source as the run's `open` will check it.
 */
async function savedState(
  parts: ValidationParts,
  sinkReady: boolean,
  fromSavepoint: string | undefined,
  ok: (message: string) => void,
  warn: (message: string, fix?: string) => void,
  fail: (error: unknown) => TributaryError,
): Promise<Checkpoint | null> {
  const { sink, store, source } = parts;
  const name = parts.def.pipeline.name;
  let checkpoint: Checkpoint | null;
  try {
    const local = fromSavepoint === undefined ? await store.load() : null;
    if (fromSavepoint !== undefined) checkpoint = await store.loadSavepoint(fromSavepoint);
    else if (sink.keepsCheckpoints === false) checkpoint = local;
    else if (!sinkReady) return null;
    else if (sink.savedCheckpoint === undefined) return null;
    else {
      checkpoint = await sink.savedCheckpoint(name);
      if (checkpoint === null && local !== null) {
        warn(
          `the sink holds no checkpoint of pipeline ${name}, though ${store.dir} has checkpoint ${local.id}: the sink is authoritative, so the run starts over (a new snapshot)`,
          'nothing to do if that is meant; otherwise point the sink at the database the pipeline wrote to',
        );
      }
    }
  } catch (error) {
    fail(error);
    return null;
  }
  if (checkpoint === null) {
    ok(`no saved checkpoint of pipeline ${name}: the run starts as source.scan.startup.mode says`);
    return null;
  }
  if (source.checkResume === undefined) return checkpoint;
  try {
    const found = await source.checkResume(checkpoint.position);
    const what = fromSavepoint === undefined ? 'saved checkpoint' : 'savepoint';
    ok(`${what} ${checkpoint.id} (${checkpoint.committedAt}): ${found}`);
  } catch (error) {
    fail(error);
  }
  return checkpoint;
}

/** Shards merged into one sink table whose key does not tell them apart: a warning, or ROUTE_KEY_COLLISION. */
async function checkKeyCollisions(
  parts: ValidationParts,
  tables: readonly TableSchema[],
  report: (check: ValidationCheck) => void,
  fail: (error: unknown) => TributaryError,
): Promise<void> {
  const mode = parts.def.pipeline.routeKeyCollision ?? 'warn';
  if (mode === 'ignore') return;
  const rules = parts.rules ?? { transforms: parts.def.transforms, routes: parts.def.routes };
  const collisions = keyCollisions(tables.map((schema) => planTable(schema, rules)));
  for (const collision of collisions) {
    const message = `${describeKeyCollision(collision)}${await overlapText(parts.source, collision)}`;
    const fix = keyCollisionFix(collision.tables, collision.sinkTable, collision.key);
    for (const t of collision.tables) {
      parts.reportedCollisions?.add(`${tableIdToString(collision.sinkTable)}\u0000${tableIdToString(t)}`);
    }
    if (mode === 'fail') fail(new TributaryError('ROUTE_KEY_COLLISION', message, { hint: fix }));
    else report({ status: 'warning', code: 'ROUTE_KEY_COLLISION', message, fix });
  }
}

/** `; db.a and db.b both hold id 1..500 …` — what the source can tell of the colliding tables' keys. */
async function overlapText(source: Source, collision: KeyCollision): Promise<string> {
  if (source.keyOverlaps === undefined || collision.sourceKeys.some((k) => k.length === 0)) return '';
  const overlaps = (
    await source.keyOverlaps(collision.tables.map((table, i) => ({ table, columns: collision.sourceKeys[i]! })))
  ).filter((o) =>
    collision.pairs.some(
      ([i, j]) =>
        tableIdToString(collision.tables[i]!) === tableIdToString(o.a) &&
        tableIdToString(collision.tables[j]!) === tableIdToString(o.b),
    ),
  );
  const overlapping = overlaps.filter((o) => o.overlapping === true);
  if (overlapping.length > 0) {
    const shown = overlapping.slice(0, 3).map((o) => o.description);
    const more = overlapping.length > 3 ? ` (and ${overlapping.length - 3} more pairs)` : '';
    const counted = overlapping.some((o) => (o.commonKeys ?? 0) > 0);
    return `. ${counted ? 'Their keys overlap now, so rows are lost' : 'Their key ranges overlap'}: ${shown.join('; ')}${more}`;
  }
  if (overlaps.some((o) => o.overlapping === undefined)) return '. Whether their keys overlap now was not checked';
  const shown = overlaps.slice(0, 2).map((o) => o.description);
  return `. No key is in two tables yet: ${shown.join('; ')}`;
}

/** The schema of the first createTable of each sink table in `events`: what the run's first write checks. */
function firstCreates(events: readonly ChangeEvent[]): TableSchema[] {
  const seen = new Map<string, TableSchema>();
  for (const event of events) {
    if (event.kind !== 'schema' || event.change !== 'createTable') continue;
    const key = tableIdToString(event.table);
    if (!seen.has(key)) seen.set(key, event.schema);
  }
  return [...seen.values()];
}

/**
 * Tables that several routes select: Flink CDC's `route-mode: ALL_MATCH` (its default) sends them to every
 * such route, Tributary to the first only. Written as ALL_MATCH: an error; not written: a warning.
 */
export function routeModeCheck(
  def: PipelineDef,
  captured: readonly TableId[],
): TributaryError | { message: string; fix: string } | undefined {
  const mode = def.pipeline.routeMode;
  if (mode === 'FIRST_MATCH') return undefined;
  const several = captured
    .map((table) => ({ table, routes: def.routes.filter((r) => r.sourceTable.matches(table.namespace, table.name)) }))
    .filter((t) => t.routes.length > 1);
  if (several.length === 0) return undefined;
  const first = several[0]!;
  const shown = `${plural(several.length, 'table')} (${several
    .slice(0, 3)
    .map((t) => tableIdToString(t.table))
    .join(
      ', ',
    )}${several.length > 3 ? ', …' : ''}) selected by several routes; ${tableIdToString(first.table)} by ${first.routes
    .map((r) => `${r.sourceTable.source} → ${r.sinkTable}`)
    .join(' and ')}`;
  if (mode === 'ALL_MATCH') {
    return new TributaryError(
      'CONFIG_INVALID',
      `pipeline.route-mode is ALL_MATCH, and ${shown}: Tributary sends a table to one sink table only`,
      {
        hint: 'write `route-mode: FIRST_MATCH` under pipeline: (the first route wins), or narrow the routes so that each table matches one',
      },
    );
  }
  return {
    message: `${shown}: each goes to its first route only (Flink CDC's default route-mode ALL_MATCH would send it to every one)`,
    fix: 'write `route-mode: FIRST_MATCH` under pipeline: to say so, or narrow the routes so that each table matches one',
  };
}
