import type { OptionSpec, OptionValues, Sink, Source, TableId, TableLayout } from '../core/index.js';
import type { TableSelector } from '../config/table-selector.js';
import type { Logger } from '../runtime/logger.js';
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

/** What every source factory receives besides its options. */
export interface SourceContext {
  readonly log: Logger;
  readonly pipelineName: string;
  /** How many snapshot chunks a source reads at once. */
  readonly parallelism: number;
  readonly include: readonly TableSelector[];
  readonly exclude: readonly TableSelector[];
}

export interface SinkContext {
  readonly log: Logger;
  readonly pipelineName: string;
  /** The layout that the transforms' `partition-keys` / `table-options` give a sink table, for creating it. */
  readonly tableLayout?: (table: TableId) => TableLayout | undefined;
}

interface SourceEntry {
  readonly options: readonly OptionSpec[];
  /** Loaded on first use, so a pipeline pays only for the drivers it uses. */
  readonly load: () => Promise<(options: OptionValues, context: SourceContext) => Source>;
  /** The option holding table patterns, parsed into `include`. */
  readonly tablesOption: string;
  readonly excludeOption?: string;
}

interface SinkEntry {
  readonly options: readonly OptionSpec[];
  readonly load: () => Promise<(options: OptionValues, context: SinkContext) => Sink>;
  /** Why the sink cannot partition tables by a transform's `partition-keys`; undefined when it can. */
  readonly noPartitions?: string;
  /** Why the sink does not use the `table-options` pair `key=value`, or undefined when it does. */
  readonly ignoredTableOption: (key: string, value: string) => string | undefined;
}

/** Connectors by the pipeline file's `type:`. Option specs are static (tiny); implementations load lazily. */
export const sources: Readonly<Record<string, SourceEntry>> = {
  mysql: {
    options: mysqlSourceOptionSpecs,
    load: async () => (await import('./mysql/mysql-source.js')).mysqlSource,
    tablesOption: 'tables',
    excludeOption: 'tables.exclude',
  },
  postgres: {
    options: postgresSourceOptionSpecs,
    load: async () => (await import('./postgres-source/postgres-source.js')).postgresSource,
    tablesOption: 'tables',
    excludeOption: 'tables.exclude',
  },
  nats: {
    options: natsSourceOptions,
    load: async () => (await import('./nats/nats-source.js')).natsSource,
    tablesOption: 'tables',
    excludeOption: 'tables.exclude',
  },
  kafka: {
    options: kafkaSourceOptions,
    load: async () => (await import('./kafka/kafka-source.js')).kafkaSource,
    tablesOption: 'tables',
    excludeOption: 'tables.exclude',
  },
};

export const sinks: Readonly<Record<string, SinkEntry>> = {
  postgres: {
    options: postgresSinkOptions,
    load: async () => (await import('./postgres/postgres-sink.js')).postgresSink,
    ignoredTableOption: postgresIgnoredTableOption,
  },
  duckdb: {
    options: duckdbSinkOptions,
    load: async () => (await import('./duckdb/duckdb-sink.js')).duckdbSink,
    noPartitions: 'DuckDB has no table partitions',
    ignoredTableOption: (key) =>
      key.toLowerCase() === 'comment' ? undefined : 'DuckDB tables take no options but a comment',
  },
  iceberg: {
    options: icebergSinkOptions,
    load: async () => (await import('./iceberg/iceberg-sink.js')).icebergSink,
    ignoredTableOption: () => 'the iceberg sink takes no table options yet',
  },
  nats: {
    options: natsSinkOptions,
    load: async () => (await import('./nats/nats-sink.js')).natsSink,
    noPartitions: 'a JetStream sink writes subjects, not tables (its `partitions` option splits a table by key hash)',
    ignoredTableOption: () => 'a JetStream sink creates no tables',
  },
  kafka: {
    options: kafkaSinkOptions,
    load: async () => (await import('./kafka/kafka-sink.js')).kafkaSink,
    noPartitions: 'a Kafka sink writes topics, not tables (records are partitioned by their key)',
    ignoredTableOption: () => 'a Kafka sink creates no tables',
  },
};

export function optionSpecsFor(type: string, role: 'source' | 'sink'): readonly OptionSpec[] | undefined {
  return (role === 'source' ? sources[type] : sinks[type])?.options;
}

export function knownTypes(role: 'source' | 'sink'): string[] {
  return Object.keys(role === 'source' ? sources : sinks);
}
