import type { OptionSpec, OptionValues } from '../core/option-spec.js';
import type { ConfigReader, Entry } from './config-reader.js';
import type { ConnectorLookup } from './connector-block.js';
import { readOptions } from './read-options.js';

/** The options of the `scale-out:` block that are not NATS connection options. */
export const scaleOutOwnOptions: readonly OptionSpec[] = [
  {
    key: 'stream',
    type: 'string',
    pattern: { regex: /^[A-Za-z0-9_-]+$/, description: 'letters, digits, `_` and `-` (JetStream stream names)' },
    description: 'The JetStream stream between capture and apply workers. Default: `tributary_<pipeline name>`.',
  },
  {
    key: 'partitions',
    type: 'integer',
    min: 1,
    default: 8,
    description:
      'Key-hash partitions of every table: the unit of work an apply worker leases. More partitions than workers lets the work spread evenly; changing it needs a new stream (`stream`) and `run --reset` of both roles.',
  },
  {
    key: 'replicas',
    type: 'integer',
    min: 1,
    default: 1,
    description:
      'Replicas of the stream and of the lease bucket when they are created: 3 on a three-server JetStream cluster survives the loss of one server.',
  },
  {
    key: 'lease.ttl',
    type: 'duration',
    default: '10s',
    description:
      'How long a partition lease lives without a heartbeat (sent every third of it): a worker that died loses its partitions after this long. A worker that cannot renew its leases for half of it stops applying them.',
  },
  {
    key: 'snapshot.readers',
    type: 'enum',
    values: ['local', 'remote'],
    default: 'local',
    description:
      '`local`: the capture reads the snapshot chunks itself (`pipeline.parallelism` connections). `remote`: it hands each chunk out as a work item on the JetStream work queue `<stream>_chunks`, read by `tributary run … --role snapshot-reader` processes on any machine, while it keeps reading the binlog.',
  },
  {
    key: 'snapshot.in-flight',
    type: 'integer',
    min: 1,
    default: 8,
    description:
      "With `snapshot.readers: remote`: chunks handed out and not yet merged, at most (their rows wait in the capture's memory until the binlog reaches their watermark). At least the number of readers, for every reader to have work.",
  },
  {
    key: 'snapshot.ack-wait',
    type: 'duration',
    default: '30s',
    description:
      'With `snapshot.readers: remote`: a chunk a reader took is handed to another reader when the first has not reported progress for this long (it died, or lost NATS). A reader reports every third of it while it reads.',
  },
];

/** NATS connection options the block takes, as a `nats` sink takes them (servers, credentials, TLS). */
const CONNECTION_KEYS = /^(servers|username|password|token|credentials|tls\..*|connect\.timeout)$/;

/** The option specs of the `scale-out:` block, or undefined when no `nats` connector is registered. */
export function scaleOutOptionSpecs(lookup: ConnectorLookup): readonly OptionSpec[] | undefined {
  const nats = lookup.optionSpecsFor('nats', 'sink');
  if (nats === undefined) return undefined;
  return [...nats.filter((s) => CONNECTION_KEYS.test(s.key)), ...scaleOutOwnOptions];
}

/** The NATS connection options of a `scale-out:` block's values (what a `nats` source or sink is given). */
export function scaleOutConnection(options: OptionValues): OptionValues {
  return Object.fromEntries(Object.entries(options).filter(([key]) => CONNECTION_KEYS.test(key)));
}

/** Reads the `scale-out:` block: NATS connection options plus {@link scaleOutOwnOptions}. */
export function readScaleOut(reader: ConfigReader, block: Entry, lookup: ConnectorLookup): OptionValues | undefined {
  const specs = scaleOutOptionSpecs(lookup);
  if (specs === undefined) {
    reader.report(block.keyNode, 'scale-out', 'scale-out needs the nats connector, which is not registered here');
    return undefined;
  }
  const entries = reader.entries(block.value, 'scale-out', 'the scale-out options (`servers: nats://…`, …)');
  if (entries === undefined) return undefined;
  return readOptions(reader, entries, specs, { path: 'scale-out', at: block.keyNode, owner: 'scale-out' });
}
