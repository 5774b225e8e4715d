import {
  TributaryError,
  withOptionDefaults,
  type Connector,
  type OptionSpec,
  type OptionValues,
  type Sink,
  type SinkConnector,
  type SinkContext,
  type Source,
  type SourceConnector,
  type SourceContext,
} from '../core/index.js';
import { duckdbSinkOptions } from './duckdb/duckdb-sink-config.js';
import { icebergSinkOptions } from './iceberg/iceberg-sink-config.js';
import { mysqlSourceOptionSpecs } from './mysql/mysql-source-config.js';
import { kafkaSinkOptions } from './kafka/kafka-sink-config.js';
import { kafkaSourceOptions } from './kafka/kafka-source-config.js';
import { natsSinkOptions } from './nats/nats-sink-config.js';
import { natsSourceOptions } from './nats/nats-source-config.js';
import { postgresSinkOptions } from './postgres/postgres-sink-config.js';
import { postgresSourceOptionSpecs } from './postgres-source/postgres-source-config.js';
import { postgresIgnoredTableOption } from './postgres/postgres-table-layout.js';

/** The contexts live in core (`src/core/connector.ts`); re-exported for the registry's users. */
export type { SinkContext, SourceContext } from '../core/index.js';

/** A registered source as the composer uses it: its specs, its table options and a lazily loaded factory. */
export interface SourceEntry {
  readonly options: readonly OptionSpec[];
  /** Loaded on first use, so a pipeline pays only for the drivers it uses. */
  readonly load: () => Promise<(options: OptionValues, context: SourceContext) => Source>;
  /** The option holding table patterns, parsed into `include`. */
  readonly tablesOption: string;
  readonly excludeOption?: string;
}

export interface SinkEntry {
  readonly options: readonly OptionSpec[];
  readonly load: () => Promise<(options: OptionValues, context: SinkContext) => Sink>;
  /** Why the sink cannot partition tables by a transform's `partition-keys`; undefined when it can. */
  readonly noPartitions?: string;
  /** Why the sink does not use the `table-options` pair `key=value`, or undefined when it does. */
  readonly ignoredTableOption: (key: string, value: string) => string | undefined;
}

/**
 * The built-in connectors, declared with `defineConnector`'s shape. Option specs are static (tiny);
 * implementations load lazily.
 */
const builtIns: readonly Connector[] = [
  {
    kind: 'source',
    type: 'mysql',
    options: mysqlSourceOptionSpecs,
    load: async () => (await import('./mysql/mysql-source.js')).mysqlSource,
    excludeOption: 'tables.exclude',
  },
  {
    kind: 'source',
    type: 'postgres',
    options: postgresSourceOptionSpecs,
    load: async () => (await import('./postgres-source/postgres-source.js')).postgresSource,
    excludeOption: 'tables.exclude',
  },
  {
    kind: 'source',
    type: 'nats',
    options: natsSourceOptions,
    load: async () => (await import('./nats/nats-source.js')).natsSource,
    excludeOption: 'tables.exclude',
  },
  {
    kind: 'source',
    type: 'kafka',
    options: kafkaSourceOptions,
    load: async () => (await import('./kafka/kafka-source.js')).kafkaSource,
    excludeOption: 'tables.exclude',
  },
  {
    kind: 'sink',
    type: 'postgres',
    options: postgresSinkOptions,
    load: async () => (await import('./postgres/postgres-sink.js')).postgresSink,
    ignoredTableOption: postgresIgnoredTableOption,
  },
  {
    kind: 'sink',
    type: 'duckdb',
    options: duckdbSinkOptions,
    load: async () => (await import('./duckdb/duckdb-sink.js')).duckdbSink,
    noPartitions: 'DuckDB has no table partitions',
    ignoredTableOption: (key) =>
      key.toLowerCase() === 'comment' ? undefined : 'DuckDB tables take no options but a comment',
  },
  {
    kind: 'sink',
    type: 'iceberg',
    options: icebergSinkOptions,
    load: async () => (await import('./iceberg/iceberg-sink.js')).icebergSink,
    ignoredTableOption: () => 'the iceberg sink takes no table options yet',
  },
  {
    kind: 'sink',
    type: 'nats',
    options: natsSinkOptions,
    load: async () => (await import('./nats/nats-sink.js')).natsSink,
    noPartitions: 'a JetStream sink writes subjects, not tables (its `partitions` option splits a table by key hash)',
    ignoredTableOption: () => 'a JetStream sink creates no tables',
  },
  {
    kind: 'sink',
    type: 'kafka',
    options: kafkaSinkOptions,
    load: async () => (await import('./kafka/kafka-sink.js')).kafkaSink,
    noPartitions: 'a Kafka sink writes topics, not tables (records are partitioned by their key)',
    ignoredTableOption: () => 'a Kafka sink creates no tables',
  },
];

const sourceEntries: Record<string, SourceEntry> = {};
const sinkEntries: Record<string, SinkEntry> = {};

/** Sources by the pipeline file's `type:`: the built-ins and those a library user registered. */
export const sources: Readonly<Record<string, SourceEntry>> = sourceEntries;
/** Sinks by the pipeline file's `type:`. */
export const sinks: Readonly<Record<string, SinkEntry>> = sinkEntries;

/**
 * Adds a connector made with `defineConnector`, so pipeline files (and pipelines built in code) can name its
 * `type:`. Register before loading the pipeline file: the loader checks options against the specs. A type that
 * is taken for the same kind is refused (CONNECTOR_DUPLICATE), built-ins included.
 */
export function registerConnector<const Specs extends readonly OptionSpec[]>(
  connector: SourceConnector<Specs> | SinkConnector<Specs>,
): void {
  const entries: Record<string, unknown> = connector.kind === 'source' ? sourceEntries : sinkEntries;
  if (Object.hasOwn(entries, connector.type)) {
    throw new TributaryError(
      'CONNECTOR_DUPLICATE',
      `a ${connector.kind} of type ${connector.type} is registered already`,
      {
        hint: `give the connector another type than ${Object.keys(entries).join(', ')}`,
      },
    );
  }
  const specs = connector.options;
  // `open` gets its defaults from the specs, so a connector declares each default once: in its spec.
  const factory = async <C>(c: {
    readonly open?: (o: never, context: C) => unknown;
    readonly load?: () => Promise<(o: never, context: C) => unknown>;
  }) => {
    const open = (c.open ?? (await c.load!())) as (options: OptionValues, context: C) => never;
    return (options: OptionValues, context: C) => open(withOptionDefaults(specs, options), context);
  };
  if (connector.kind === 'source') {
    sourceEntries[connector.type] = {
      options: specs,
      load: () => factory<SourceContext>(connector),
      tablesOption: connector.tablesOption ?? 'tables',
      ...(connector.excludeOption === undefined ? {} : { excludeOption: connector.excludeOption }),
    };
  } else {
    sinkEntries[connector.type] = {
      options: specs,
      load: () => factory<SinkContext>(connector),
      ...(connector.noPartitions === undefined ? {} : { noPartitions: connector.noPartitions }),
      ignoredTableOption: connector.ignoredTableOption ?? (() => undefined),
    };
  }
}

for (const connector of builtIns) registerConnector(connector);

export function optionSpecsFor(type: string, role: 'source' | 'sink'): readonly OptionSpec[] | undefined {
  return (role === 'source' ? sources[type] : sinks[type])?.options;
}

export function knownTypes(role: 'source' | 'sink'): string[] {
  return Object.keys(role === 'source' ? sources : sinks);
}
