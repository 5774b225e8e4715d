import type { OptionSpec } from '../core/option-spec.js';
import { timeZoneProblem } from '../core/time-zone.js';
import { DEFAULT_SCHEMA_CHANGE_BEHAVIOR } from '../transform/schema-evolution/schema-change-behavior.js';
import {
  ROUTE_MODES,
  ROUTE_KEY_COLLISION_MODES,
  SCHEMA_CHANGE_BEHAVIORS,
  type PipelineOptions,
  type RouteKeyCollision,
  type RouteMode,
  type SchemaChangeBehavior,
} from './pipeline-def.js';

/** Default of `pipeline.http.port`: the dashboard and `/metrics`. */
export const DEFAULT_HTTP_PORT = 8470;

/** When `http.port` is taken, this many ports after it are tried. */
export const HTTP_PORT_ATTEMPTS = 20;

/** A pipeline name that is used as it is for the state directory and the checkpoint row. */
export const PIPELINE_NAME = /^[A-Za-z0-9][A-Za-z0-9_.-]*$/;

/**
 * The identifier of a pipeline named `name` (Flink CDC's `pipeline.name` is free text, e.g. `Sync MySQL
 * Database to Doris`): the name itself when it already is one (so pipelines named so keep their checkpoints),
 * otherwise every run of other characters becomes `-`, leading and trailing `-` go, at most 48 characters are
 * kept, and `-` plus 8 hex digits of the name's FNV-1a hash are appended, so that two names that differ only in
 * spaces or punctuation (`a b`, `a/b`) do not share checkpoints. Stable across versions: documented in
 * docs/pipeline-file.md.
 */
export function pipelineIdentifier(name: string): string {
  if (PIPELINE_NAME.test(name)) return name;
  const base = name
    .replace(/[^A-Za-z0-9_.-]+/g, '-')
    .replace(/^[^A-Za-z0-9]+/, '')
    .slice(0, 48)
    .replace(/-+$/, '');
  return `${base === '' ? 'pipeline' : base}-${fnv1a(name)}`;
}

/** 32-bit FNV-1a of the UTF-8 bytes, as 8 hex digits. */
function fnv1a(text: string): string {
  let hash = 0x811c9dc5;
  for (const byte of new TextEncoder().encode(text)) {
    hash ^= byte;
    hash = Math.imul(hash, 0x01000193) >>> 0;
  }
  return hash.toString(16).padStart(8, '0');
}

const RUNTIME = 'Tributary is one process without a Flink runtime';

/** The options of the `pipeline:` block, for validation and for the docs. */
export function pipelineOptionSpecs(): OptionSpec[] {
  return [
    {
      key: 'name',
      type: 'string',
      description:
        'The pipeline name, free text as in Flink CDC. It identifies the pipeline: its checkpoints in the sink and its state directory. A name of letters, digits, `_`, `.`, `-` is used as it is; any other is turned into one (see pipeline-file.md). Default: the file name without `.yaml`.',
    },
    {
      key: 'local-time-zone',
      type: 'string',
      check: timeZoneProblem,
      description:
        "The session time zone (a region such as `Europe/Berlin` or an offset such as `+08:00`; default: the zone of the process, Flink CDC's `systemDefault`), used where a MySQL `TIMESTAMP` (an instant) becomes a zone-less timestamp or text in a transform expression. Values delivered to the sinks are instants either way.",
    },
    {
      key: 'route-mode',
      type: 'enum',
      values: ROUTE_MODES,
      description:
        "`FIRST_MATCH`: a source table goes to the first route that selects it. `ALL_MATCH` (Flink CDC's default): to every route that selects it — Tributary sends a table to one sink table only, so with `ALL_MATCH` a table that several routes select is an error of `validate`. Not set: first match, and `validate` warns about tables that several routes select.",
    },
    {
      key: 'execution.runtime-mode',
      type: 'enum',
      values: ['STREAMING', 'BATCH'],
      description:
        '`STREAMING` (the default) is what Tributary does. `BATCH` is rejected: write `scan.startup.mode: snapshot` in the source instead (a snapshot, then the pipeline stops).',
    },
    {
      key: 'schema.operator.uid',
      type: 'string',
      description: "Flink CDC's schema operator id (deprecated there).",
      ignored: `${RUNTIME}: there are no operator ids`,
    },
    {
      key: 'operator.uid.prefix',
      type: 'string',
      description: "Prefix of Flink CDC's operator ids.",
      ignored: `${RUNTIME}: there are no operator ids; the pipeline's state is keyed by \`name\``,
    },
    {
      key: 'schema-operator.rpc-timeout',
      type: 'duration',
      description: "How long Flink CDC's schema operator waits for a sink to apply a schema change.",
      ignored: `${RUNTIME}: a schema change is applied by the sink in the same step, bounded by the sink's read.timeout`,
    },
    {
      key: 'sink.partitioning.strategy',
      type: 'enum',
      values: ['SINK_DEFINED', 'PRIMARY_KEY', 'TABLE_ID'],
      description: 'How Flink CDC spreads change events over parallel sink writers.',
      ignored: 'there is one sink writer, which keeps the source order per table',
    },
    {
      key: 'transform.decimal.precision.mode',
      type: 'enum',
      values: ['UP_TO_19', 'UP_TO_38'],
      description: "The largest DECIMAL precision of Flink CDC's transform expressions.",
      ignored:
        'transform expressions keep decimals exact (precision up to 65, as MySQL), so there is no limit to choose',
    },
    {
      key: 'checkpoint.interval',
      type: 'duration',
      default: '3s',
      description: 'How often a checkpoint commits the sink together with the source position (`500ms`, `3s`, `1min`).',
    },
    {
      key: 'state.dir',
      type: 'string',
      description: 'Directory for local state, relative to the working directory. Default: `./.tributary/<name>`.',
    },
    {
      key: 'retry.max-identical-failures',
      type: 'integer',
      min: 1,
      default: 8,
      description:
        'After this many identical failures in a row — same error code and SQLSTATE, no checkpoint committed between, ' +
        'not a server being unreachable — the pipeline stops with the error instead of retrying it forever. From the ' +
        'second one on (the first for SINK_OUT_OF_RESOURCES) each retry halves the tables and events per transaction. ' +
        'See docs/03-checkpoints.md.',
    },
    { key: 'parallelism', type: 'integer', default: 1, description: 'Number of parallel writers (at least 1).' },
    {
      key: 'snapshot.packed-reads',
      type: 'boolean',
      default: true,
      description:
        'Snapshot rows stay in the bytes the source read them in (MySQL/MariaDB text-protocol rows) as far as a sink that writes from them (the PostgreSQL sink in upsert mode), when no projection, filter or schema mapping reads their values (routes do not): no JS value per field. The target data is the same byte for byte. `false` decodes every row (the general path), e.g. to compare the two. See docs/02-snapshots.md.',
    },
    {
      key: 'schema.change.behavior',
      type: 'enum',
      values: SCHEMA_CHANGE_BEHAVIORS,
      description:
        'What a source schema change does to the sink table: `evolve` (applied as is), `try_evolve` (applied when the sink can), ' +
        '`lenient` (columns added and widened, never dropped; no truncate or drop), `ignore` (the sink table keeps its first schema), ' +
        `\`exception\` (the pipeline stops). Default: \`${DEFAULT_SCHEMA_CHANGE_BEHAVIOR}\`, as in Flink CDC 3; see docs/04-schema-evolution.md.`,
    },
    {
      key: 'route.key-collision',
      type: 'enum',
      values: ROUTE_KEY_COLLISION_MODES,
      description:
        'Several source tables routed to one sink table whose key does not tell them apart (no `__table_name__` in the key): ' +
        '`warn` (validate and run say so, and whether their keys overlap), `fail` (`ROUTE_KEY_COLLISION` before anything moves), `ignore`. ' +
        'Default: `warn`.',
    },
    {
      key: 'watchdog.timeout',
      type: 'duration',
      default: '5min',
      description:
        'When neither a batch arrives from the source nor a checkpoint completes for this long, the pipeline logs what it was waiting for and restarts from its last checkpoint (PIPELINE_STALLED). A caught-up source is not a stall: its heartbeats count as batches. `0` turns the watchdog off. See docs/03-checkpoints.md#stalls-and-timeouts.',
    },
    {
      key: 'http.enabled',
      type: 'boolean',
      default: true,
      description:
        '`tributary run` serves the dashboard, `/metrics` (Prometheus), `/healthz`, `/readyz` and `/api/status` over HTTP. `false` (or `run --no-http`) turns it off. See docs/operating.md.',
    },
    {
      key: 'http.host',
      type: 'string',
      default: '127.0.0.1',
      description:
        'The address the HTTP server listens on. The default serves this machine only; `0.0.0.0` serves every interface and then needs `http.token`.',
    },
    {
      key: 'http.token',
      type: 'secret',
      description:
        'A token the HTTP server requires (`Authorization: Bearer <token>`, or open the dashboard once with `?token=<token>`, which sets a cookie); `/healthz` and `/readyz` stay open. Required when `http.host` is not a loopback address (`run` refuses to start without one). Default: the environment variable `TRIBUTARY_HTTP_TOKEN`. At least 16 characters. See docs/security.md.',
    },
    {
      key: 'http.port',
      type: 'integer',
      default: DEFAULT_HTTP_PORT,
      min: 0,
      description: `The HTTP server's port. When it is taken, the next free one of the ${HTTP_PORT_ATTEMPTS} ports after it is used (\`run\` prints the URL); \`0\`: any free port.`,
    },
  ];
}

/**
 * Builds PipelineOptions from validated values; returns the problems of values that are well-typed but out
 * of range, keyed by option.
 */
export function pipelineOptions(
  values: { readonly [key: string]: string | number | boolean | undefined },
  defaultName: string,
): { options: PipelineOptions; problems: { key: string; message: string }[] } {
  const problems: { key: string; message: string }[] = [];
  const written = values['name'];
  const displayName = typeof written === 'string' && written.trim() !== '' ? written.trim() : defaultName;
  const name = pipelineIdentifier(displayName);
  if (values['execution.runtime-mode'] === 'BATCH') {
    problems.push({
      key: 'execution.runtime-mode',
      message:
        'BATCH is not a mode of Tributary — remove it and write `scan.startup.mode: snapshot` under source: (a snapshot, then the pipeline stops)',
    });
  }
  const localTimeZone = values['local-time-zone'];
  const routeMode = values['route-mode'] as RouteMode | undefined;
  const checkpointIntervalMs = typeof values['checkpoint.interval'] === 'number' ? values['checkpoint.interval'] : 3000;
  if (checkpointIntervalMs <= 0) {
    problems.push({
      key: 'checkpoint.interval',
      message: 'must be longer than 0 — write e.g. `checkpoint.interval: 3s`',
    });
  }
  const parallelism = typeof values['parallelism'] === 'number' ? values['parallelism'] : 1;
  if (parallelism < 1)
    problems.push({ key: 'parallelism', message: `must be at least 1, got ${parallelism} — write \`parallelism: 1\`` });
  const stateDir =
    typeof values['state.dir'] === 'string' && values['state.dir'] !== ''
      ? values['state.dir']
      : `./.tributary/${name}`;
  if (typeof values['http.port'] === 'number' && values['http.port'] > 65535)
    problems.push({ key: 'http.port', message: `must be a port number up to 65535, got ${values['http.port']}` });
  const watchdogTimeoutMs = typeof values['watchdog.timeout'] === 'number' ? values['watchdog.timeout'] : 300_000;
  const behavior = values['schema.change.behavior'] as SchemaChangeBehavior | undefined;
  const keyCollision = values['route.key-collision'] as RouteKeyCollision | undefined;
  const maxIdentical = values['retry.max-identical-failures'];
  const maxIdenticalFailures = typeof maxIdentical === 'number' && maxIdentical >= 1 ? maxIdentical : 8;
  const http = {
    enabled: values['http.enabled'] !== false,
    host: typeof values['http.host'] === 'string' && values['http.host'] !== '' ? values['http.host'] : '127.0.0.1',
    port: typeof values['http.port'] === 'number' ? values['http.port'] : DEFAULT_HTTP_PORT,
    ...(typeof values['http.token'] === 'string' && values['http.token'] !== '' ? { token: values['http.token'] } : {}),
  };
  return {
    options: {
      name,
      ...(name === displayName ? {} : { displayName }),
      ...(typeof localTimeZone === 'string' ? { localTimeZone: localTimeZone.trim() } : {}),
      ...(routeMode === undefined ? {} : { routeMode }),
      checkpointIntervalMs,
      stateDir,
      parallelism,
      maxIdenticalFailures,
      watchdogTimeoutMs,
      ...(values['snapshot.packed-reads'] === false ? { packedReads: false as const } : {}),
      // Only when it differs from the defaults, which `run` applies otherwise (the def stays as before).
      ...(http.enabled && http.host === '127.0.0.1' && http.port === DEFAULT_HTTP_PORT ? {} : { http }),
      ...(behavior === undefined ? {} : { schemaChangeBehavior: behavior }),
      ...(keyCollision === undefined ? {} : { routeKeyCollision: keyCollision }),
    },
    problems,
  };
}
