import type { IgnoredOption, OptionValues } from '../core/option-spec.js';
import type { Projection } from '../transform/projection.js';
import type { UserFunctionDef } from '../transform/expression/user-function.js';
import type { ConverterAfterTransform, Filter, RouteRule, TransformRule } from '../transform/rules.js';
import type { SchemaChangeBehavior } from '../transform/schema-evolution/schema-change-behavior.js';
import type { TableSelector } from '../core/table-selector.js';

/**
 * One pipeline, validated: what the YAML file says, or what a library user builds in code. Everything in it
 * has been checked (options typed, patterns compiled, projection parsed); nothing has been connected to.
 */
export interface PipelineDef {
  readonly source: ConnectorDef;
  readonly sink: ConnectorDef;
  /** In the order written; for each source table the first rule that selects it applies. */
  readonly transforms: readonly TransformDef[];
  /** In the order written; for each source table the first route that selects it applies. */
  readonly routes: readonly RouteDef[];
  readonly pipeline: PipelineOptions;
  /**
   * Flink CDC options the file sets that have no effect here (accepted so the file loads unchanged): `validate`
   * and `run` print one warning for each.
   */
  readonly ignoredOptions?: readonly IgnoredOption[];
  /**
   * `pipeline.user-defined-function`: JavaScript modules whose `eval` expressions may call by `name`.
   * Loaded (relative to the pipeline file's folder) when the pipeline is composed.
   */
  readonly userDefinedFunctions?: readonly UserFunctionDef[];
  /**
   * `scale-out:`: NATS connection options plus `stream`, `partitions`, `replicas`, `lease.ttl` — how the
   * `capture` and `apply` roles of `tributary run --role` meet (docs/scale-out.md). Without `--role` it is unused.
   */
  readonly scaleOut?: OptionValues;
  /** The file it was read from, when it was. */
  readonly file?: string;
}

/** A source or sink: its `type:` (the registry key) and its options, validated against its OptionSpecs. */
export interface ConnectorDef {
  readonly type: string;
  /** The optional display `name:` of the block (Flink CDC allows one). */
  readonly name?: string;
  /**
   * By option key as written (`scan.startup.mode`): integers and durations (in ms) as numbers, booleans as
   * booleans, everything else as strings; defaults filled in. Holds secrets: never print it as it is.
   */
  readonly options: OptionValues;
}

export interface TransformDef extends TransformRule {
  readonly sourceTable: TableSelector;
  readonly projection?: Projection;
  /** The row filter, parsed (see TransformOperator for how updates cross it). */
  readonly filter?: Filter;
  readonly converterAfterTransform?: ConverterAfterTransform;
  readonly primaryKeys?: readonly string[];
  /** `partition-keys`: output columns the sink partitions a table it creates by (where it has partitions). */
  readonly partitionKeys?: readonly string[];
  /** `table-options`: `key=value` pairs for the sink's CREATE TABLE (PostgreSQL: storage parameters, comment). */
  readonly tableOptions?: Readonly<Record<string, string>>;
  readonly description?: string;
}

export interface RouteDef extends RouteRule {
  readonly sourceTable: TableSelector;
  /** `schema.table` (or `database.table`) of the sink. */
  readonly sinkTable: string;
  readonly replaceSymbol?: string;
  readonly description?: string;
}

/** Flink CDC's `schema.change.behavior` values (applied by the schema-evolution stage of src/transform). */
export {
  SCHEMA_CHANGE_BEHAVIORS,
  type SchemaChangeBehavior,
} from '../transform/schema-evolution/schema-change-behavior.js';

export interface PipelineOptions {
  /**
   * Identifies the pipeline's checkpoints and state: `pipeline.name` itself when it is an identifier (letters,
   * digits, `_ . -`), otherwise derived from it by {@link pipelineIdentifier}; defaults to the file's base name.
   */
  readonly name: string;
  /** `pipeline.name` as written (free text, as in Flink CDC), when it differs from `name`. */
  readonly displayName?: string;
  /**
   * `local-time-zone` (a zone id; the process's zone when not set): the session time zone in which a
   * `TIMESTAMP_LTZ` value (MySQL `TIMESTAMP`) becomes a zone-less timestamp or text in an expression.
   */
  readonly localTimeZone?: string;
  /**
   * `route-mode`: `FIRST_MATCH` (a source table goes to the first route that selects it) or `ALL_MATCH` (Flink
   * CDC's default: to every route that selects it). Unset: first match, and `validate` warns about tables that
   * several routes select.
   */
  readonly routeMode?: RouteMode;
  readonly checkpointIntervalMs: number;
  /** As written (relative paths are relative to the working directory); default `./.tributary/<name>`. */
  readonly stateDir: string;
  readonly parallelism: number;
  /** `watchdog.timeout`: restart an attempt after this long without a batch or a checkpoint (0: off). */
  readonly watchdogTimeoutMs: number;
  /** Set only when the file says; `lenient` (as in Flink CDC 3) applies otherwise. */
  readonly schemaChangeBehavior?: SchemaChangeBehavior;
  /**
   * Tables merged into one sink table whose key does not tell them apart (`route.key-collision`): `warn`
   * (the default), `fail` (ROUTE_KEY_COLLISION before anything moves) or `ignore`.
   */
  readonly routeKeyCollision?: RouteKeyCollision;
  /** `retry.max-identical-failures`: stop after this many identical failures in a row (see RetryPolicy). */
  readonly maxIdenticalFailures: number;
  /** `snapshot.packed-reads: false` (set only then): every snapshot row is decoded (see RunOptions.packedReads). */
  readonly packedReads?: false;
  /** `http.*`: the dashboard / metrics server of `tributary run`. */
  readonly http?: {
    readonly enabled: boolean;
    readonly host: string;
    readonly port: number;
    /** `http.token`: the token the server requires (a secret). */
    readonly token?: string;
  };
}

export const ROUTE_KEY_COLLISION_MODES = ['warn', 'fail', 'ignore'] as const;
export type RouteKeyCollision = (typeof ROUTE_KEY_COLLISION_MODES)[number];

export const ROUTE_MODES = ['ALL_MATCH', 'FIRST_MATCH'] as const;
export type RouteMode = (typeof ROUTE_MODES)[number];
