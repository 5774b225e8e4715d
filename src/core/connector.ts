import { parseDuration } from './duration.js';
import type { Logger } from './logger.js';
import type { OptionSpec, OptionValues } from './option-spec.js';
import type { Sink } from './sink.js';
import type { Source } from './source.js';
import type { TableLayout } from './table-layout.js';
import type { TableId } from './table-schema.js';
import type { TableSelector } from './table-selector.js';

/** What every source receives besides its options. */
export interface SourceContext {
  readonly log: Logger;
  readonly pipelineName: string;
  /** How many snapshot chunks a source reads at once. */
  readonly parallelism: number;
  /** The tables to capture (the connector's `tables` option, parsed), and those to leave out. */
  readonly include: readonly TableSelector[];
  readonly exclude: readonly TableSelector[];
  /**
   * Snapshot chunks read elsewhere (scale-out `snapshot.readers: remote`): a source that supports it hands each
   * chunk to read to this queue instead of reading it on a connection of its own.
   */
  readonly remoteChunks?: RemoteChunks;
}

/**
 * A queue of snapshot chunks read by other processes (the scale-out snapshot readers). `read` takes a chunk
 * to read as a source describes it (JSON-safe; bigints and bytes allowed) and resolves with what a reader's
 * {@link Source.readChunkItem} returned for it. The queue may deliver an item more than once; `read` resolves
 * once.
 */
export interface RemoteChunks {
  /** Chunks handed out at once. */
  readonly inFlight: number;
  read(item: unknown, signal: AbortSignal): Promise<unknown>;
}

/** What every sink receives besides its options. */
export interface SinkContext {
  readonly log: Logger;
  readonly pipelineName: string;
  /** The layout that the transforms' `partition-keys` / `table-options` give a sink table, for creating it. */
  readonly tableLayout?: (table: TableId) => TableLayout | undefined;
  /**
   * A fencing token (a scale-out apply worker's partition lease, see docs/scale-out.md): any later owner of
   * the pipeline has a larger one. A sink that supports fencing stores it with the pipeline's checkpoint at
   * `open` (keeping the larger of the stored and this one) before it reads the checkpoint, and refuses a
   * commit — and an `open` — with SINK_FENCED (not retryable) once a larger token is stored. Undefined: no
   * fence (one process per pipeline), and nothing changes.
   */
  readonly fenceToken?: bigint;
}

/** The JavaScript value of an option of `spec` after validation: durations in milliseconds. */
type OptionValue<S extends OptionSpec> = S extends { readonly type: 'integer' | 'duration' }
  ? number
  : S extends { readonly type: 'boolean' }
    ? boolean
    : S extends { readonly type: 'enum'; readonly values: readonly (infer V extends string)[] }
      ? V
      : string;

/** Whether an option always has a value: required, or with a default. */
type AlwaysSet<S extends OptionSpec> = S extends { readonly required: true }
  ? true
  : S extends { readonly default: string | number | boolean }
    ? true
    : false;

/**
 * The options a connector's `open` receives, typed from its specs when they are declared `as const`: each key
 * with its value's type, present for sure when required or defaulted (the default is the spec's, declared once).
 * Families (`debezium.*`) and ignored options are left out; a spec list without literal types gives
 * {@link OptionValues}.
 */
export type OptionsOf<Specs extends readonly OptionSpec[]> = string extends Specs[number]['key']
  ? OptionValues
  : {
      readonly [S in Specs[number] as KeyOf<S, true>]: OptionValue<S>;
    } & {
      readonly [S in Specs[number] as KeyOf<S, false>]?: OptionValue<S>;
    };

/** The key of a spec that `open` sees, when whether it is always set is `set`; never for families and ignored options. */
type KeyOf<S extends OptionSpec, Set extends boolean> = S['key'] extends `${string}.*`
  ? never
  : S extends { readonly ignored: string }
    ? never
    : AlwaysSet<S> extends Set
      ? S['key']
      : never;

/** Opens a source or a sink from its validated options. It may connect lazily: `validate` and `run` do. */
export type OpenSource<O> = (options: O, context: SourceContext) => Source;
export type OpenSink<O> = (options: O, context: SinkContext) => Sink;

interface ConnectorBase<Specs extends readonly OptionSpec[]> {
  /** The pipeline file's `type:` (`mysql`, `postgres`, …). */
  readonly type: string;
  /** Its options: validated by the loader, listed by `did you mean`, documented. Defaults are declared here only. */
  readonly options: Specs;
}

/**
 * A source's registration. Give `open`, or `load` to import the implementation on first use (the built-in
 * connectors do, so a pipeline pays only for the drivers it uses).
 */
export type SourceConnector<Specs extends readonly OptionSpec[] = readonly OptionSpec[]> = ConnectorBase<Specs> & {
  readonly kind: 'source';
  /** The option holding table patterns, parsed into the context's `include` (default `tables`). */
  readonly tablesOption?: string;
  /** The option holding the patterns to leave out, parsed into `exclude`. */
  readonly excludeOption?: string;
} & (
    | { readonly open: OpenSource<OptionsOf<Specs>>; readonly load?: never }
    | { readonly load: () => Promise<OpenSource<OptionsOf<Specs>>>; readonly open?: never }
  );

/** A sink's registration; `open` or `load` as for a {@link SourceConnector}. */
export type SinkConnector<Specs extends readonly OptionSpec[] = readonly OptionSpec[]> = ConnectorBase<Specs> & {
  readonly kind: 'sink';
  /** Why the sink cannot partition tables by a transform's `partition-keys`; undefined when it can. */
  readonly noPartitions?: string;
  /** Why the sink does not use the `table-options` pair `key=value`, or undefined when it does (default: all used). */
  readonly ignoredTableOption?: (key: string, value: string) => string | undefined;
} & (
    | { readonly open: OpenSink<OptionsOf<Specs>>; readonly load?: never }
    | { readonly load: () => Promise<OpenSink<OptionsOf<Specs>>>; readonly open?: never }
  );

export type Connector = SourceConnector | SinkConnector;

/**
 * Declares a connector: its `type`, `kind`, option specs and how to open it, with `open`'s options typed from
 * the specs (declare them `as const satisfies readonly OptionSpec[]`). Hand the result to the registry's
 * `registerConnector` to use it from a pipeline file.
 *
 * ```ts
 * const options = [{ key: 'rows', type: 'integer', default: 3, description: 'Rows to emit.' }] as const satisfies readonly OptionSpec[];
 * export const counter = defineConnector({ kind: 'source', type: 'counter', options, open: (o, ctx) => counterSource(o.rows, ctx) });
 * ```
 */
export function defineConnector<const Specs extends readonly OptionSpec[]>(
  connector: SourceConnector<Specs>,
): SourceConnector<Specs>;
export function defineConnector<const Specs extends readonly OptionSpec[]>(
  connector: SinkConnector<Specs>,
): SinkConnector<Specs>;
export function defineConnector(connector: Connector): Connector {
  return connector;
}

/**
 * `values` with every absent option that has a default set to it, converted as the loader converts written
 * values (durations to milliseconds): the options as `open` receives them, also when a pipeline was built in
 * code without the loader. Ignored options and families are left as they are.
 */
export function withOptionDefaults<const Specs extends readonly OptionSpec[]>(
  specs: Specs,
  values: OptionValues,
): OptionsOf<Specs> {
  let out: Record<string, string | number | boolean | undefined> | undefined;
  for (const spec of specs) {
    if (spec.default === undefined || spec.ignored !== undefined || values[spec.key] !== undefined) continue;
    out ??= { ...values };
    out[spec.key] = defaultValue(spec, spec.default);
  }
  // The loader checked the values against the specs; a pipeline built in code is trusted to have done the same.
  return (out ?? values) as OptionsOf<Specs>;
}

function defaultValue(spec: OptionSpec, value: string | number | boolean): string | number | boolean {
  switch (spec.type) {
    case 'integer':
      return Number(value);
    case 'duration':
      return typeof value === 'number' ? value : (parseDuration(String(value)) ?? Number(value));
    case 'boolean':
      return value === true || value === 'true';
    default:
      return String(value);
  }
}
