import { join } from 'node:path';
import { TributaryError } from '../core/errors.js';
import type { OptionValues } from '../core/option-spec.js';
import type { PipelineDef } from '../config/pipeline-def.js';
import { scaleOutConnection } from '../config/scale-out-block.js';

/** The roles of `tributary run --role`: one pipeline file, split at a JetStream stream. */
export const SCALE_OUT_ROLES = ['capture', 'apply', 'snapshot-reader'] as const;
export type ScaleOutRole = (typeof SCALE_OUT_ROLES)[number];

/** The `scale-out:` block of a pipeline, with its defaults. */
export interface ScaleOutSettings {
  /** NATS connection options (servers, credentials, TLS), as a `nats` source or sink takes them. */
  readonly connection: OptionValues;
  readonly stream: string;
  readonly partitions: number;
  readonly replicas: number;
  readonly leaseTtlMs: number;
  /** The KV bucket of partition leases and worker heartbeats. */
  readonly leaseBucket: string;
  /** Who reads the snapshot chunks: the capture itself, or snapshot readers through a work queue. */
  readonly snapshotReaders: 'local' | 'remote';
  readonly snapshotInFlight: number;
  readonly snapshotAckWaitMs: number;
}

export function scaleOutSettings(def: PipelineDef): ScaleOutSettings {
  const options = def.scaleOut;
  if (options === undefined) {
    throw new TributaryError('CONFIG_INVALID', `pipeline ${def.pipeline.name} has no scale-out: block`, {
      hint: 'add a scale-out: block with `servers: nats://…` (docs/scale-out.md), or run without --role',
    });
  }
  const stream =
    typeof options['stream'] === 'string'
      ? options['stream']
      : `tributary_${def.pipeline.name.replace(/[^A-Za-z0-9_-]/g, '_')}`;
  return {
    connection: scaleOutConnection(options),
    stream,
    partitions: Number(options['partitions'] ?? 8),
    replicas: Number(options['replicas'] ?? 1),
    leaseTtlMs: Number(options['lease.ttl'] ?? 10_000),
    leaseBucket: `${stream}_leases`,
    snapshotReaders: options['snapshot.readers'] === 'remote' ? 'remote' : 'local',
    snapshotInFlight: Number(options['snapshot.in-flight'] ?? 8),
    snapshotAckWaitMs: Number(options['snapshot.ack-wait'] ?? 30_000),
  };
}

/** Source types whose snapshot chunks `--role snapshot-reader` processes can read (`Source.readChunkItem`). */
const REMOTE_SNAPSHOT_SOURCES: ReadonlySet<string> = new Set(['mysql']);

/**
 * Who reads the capture's snapshot chunks: `remote` (snapshot readers) only when the block asks for it and the
 * source supports it. For another source (PostgreSQL) the capture reads its snapshot itself, and `warn` says so
 * — the readers would refuse such a source with CONFIG_INVALID, and no chunk would ever be read.
 */
export function captureSnapshotReaders(def: PipelineDef, warn: (message: string) => void): 'local' | 'remote' {
  if (scaleOutSettings(def).snapshotReaders !== 'remote') return 'local';
  if (REMOTE_SNAPSHOT_SOURCES.has(def.source.type)) return 'remote';
  warn(
    `scale-out.snapshot.readers: remote is not supported for a ${def.source.type} source (MySQL/MariaDB only): ` +
      'the capture reads the snapshot itself; set snapshot.readers: local (or remove it) to silence this',
  );
  return 'local';
}

/**
 * The capture role: the pipeline's source (and its table selection) into the stream, every table split into
 * `partitions` key-hash partitions, with neither transforms nor routes (the apply workers run those). Its
 * checkpoints live in the stream (checkpoint messages), its state under `<state.dir>/capture`.
 */
export function captureDef(def: PipelineDef): PipelineDef {
  const settings = scaleOutSettings(def);
  return {
    ...def,
    sink: {
      type: 'nats',
      options: {
        ...settings.connection,
        stream: settings.stream,
        partitions: settings.partitions,
        replicas: settings.replicas,
        // A BIGINT UNSIGNED above 2^63-1 must not stop the capture: as Decimal(20) it travels exactly.
        'debezium-json.bigint.unsigned.handling.mode': 'precise',
      },
    },
    transforms: [],
    routes: [],
    pipeline: {
      ...def.pipeline,
      name: `${def.pipeline.name}-capture`,
      stateDir: join(def.pipeline.stateDir, 'capture'),
    },
  };
}

/**
 * One partition of the apply role: that partition of the stream through the pipeline's transforms and routes
 * into its sink. Its checkpoint — the stream sequence of the last checkpoint message applied — is committed
 * by the sink with the rows, under the pipeline name `<name>-p<partition>`, so whichever worker leases the
 * partition next resumes exactly there.
 */
export function applyDef(def: PipelineDef, partition: number): PipelineDef {
  const settings = scaleOutSettings(def);
  return {
    ...def,
    source: {
      type: 'nats',
      options: { ...settings.connection, stream: settings.stream, partition, 'fetch.max-messages': 1000 },
    },
    pipeline: {
      ...def.pipeline,
      name: `${def.pipeline.name}-p${partition}`,
      stateDir: join(def.pipeline.stateDir, `p${partition}`),
    },
  };
}
