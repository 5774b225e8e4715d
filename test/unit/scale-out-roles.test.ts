import { describe, expect, it } from 'vitest';
import { ConfigError } from '../../src/config/config-error.js';
import { parsePipelineYaml } from '../../src/config/load-pipeline.js';
import { knownTypes, optionSpecsFor } from '../../src/connectors/registry.js';
import { fencingEpochMs, fencingToken } from '../../src/scale-out/partition-leases.js';
import { applyDef, captureDef, captureSnapshotReaders, scaleOutSettings } from '../../src/scale-out/scale-out-roles.js';

const yaml = (scaleOut: string) => `source:
  type: mysql
  hostname: db1
  username: cdc
  password: pw
  tables: shop.orders
sink:
  type: postgres
  url: postgres://app@pg/warehouse
transform:
  - source-table: shop.orders
    projection: id, total
${scaleOut}
pipeline:
  name: shop
  state.dir: /var/lib/tributary/shop
`;
const parse = (scaleOut: string) =>
  parsePipelineYaml(yaml(scaleOut), { file: 'shop.yaml', env: {}, optionSpecsFor, knownTypes });

describe('the scale-out: block and the roles of one pipeline file', () => {
  const def = parse(`scale-out:
  servers: nats://a:4222,nats://b:4222
  partitions: 12
  replicas: 3
  lease.ttl: 5s
  token: t0ken`);

  it('reads the block with its defaults', () => {
    expect(scaleOutSettings(def)).toEqual({
      connection: { servers: 'nats://a:4222,nats://b:4222', token: 't0ken', 'connect.timeout': 10_000 },
      stream: 'tributary_shop',
      partitions: 12,
      replicas: 3,
      leaseTtlMs: 5_000,
      leaseBucket: 'tributary_shop_leases',
      snapshotReaders: 'local',
      snapshotInFlight: 8,
      snapshotAckWaitMs: 30_000,
    });
  });

  it('capture: the source into the partitioned stream, no transforms, its own name and state', () => {
    const capture = captureDef(def);
    expect(capture.source).toBe(def.source);
    expect(capture.sink.type).toBe('nats');
    expect(capture.sink.options).toMatchObject({ stream: 'tributary_shop', partitions: 12, replicas: 3 });
    expect(capture.transforms).toEqual([]);
    expect([capture.pipeline.name, capture.pipeline.stateDir]).toEqual([
      'shop-capture',
      '/var/lib/tributary/shop/capture',
    ]);
  });

  it('apply: one partition of the stream through the transforms into the sink, checkpointed per partition', () => {
    const apply = applyDef(def, 7);
    expect(apply.source.type).toBe('nats');
    expect(apply.source.options).toMatchObject({ stream: 'tributary_shop', partition: 7, token: 't0ken' });
    expect(apply.sink).toBe(def.sink);
    expect(apply.transforms).toBe(def.transforms);
    expect([apply.pipeline.name, apply.pipeline.stateDir]).toEqual(['shop-p7', '/var/lib/tributary/shop/p7']);
  });

  it('a mistake in the block is reported like any other option', () => {
    expect(() => parse('scale-out:\n  servers: nats://a:4222\n  partition: 4')).toThrow(ConfigError);
    expect(() => parse('scale-out:\n  partitions: 4')).toThrow(/servers/);
  });

  it('a file without the block runs in one process; a role asks for the block', () => {
    const single = parse('');
    expect(single.scaleOut).toBeUndefined();
    expect(() => captureDef(single)).toThrow(/scale-out/);
  });

  it('snapshot.readers: remote hands a MySQL source to the readers; a PostgreSQL capture warns and reads locally', () => {
    const remote = parse('scale-out:\n  servers: nats://a:4222\n  snapshot.readers: remote');
    const warnings: string[] = [];
    expect(captureSnapshotReaders(remote, (m) => warnings.push(m))).toBe('remote');
    expect(warnings).toEqual([]);
    const postgres = { ...remote, source: { type: 'postgres', options: remote.source.options } };
    expect(captureSnapshotReaders(postgres, (m) => warnings.push(m))).toBe('local');
    expect(warnings).toHaveLength(1);
    expect(warnings[0]).toMatch(/not supported for a postgres source.*snapshot\.readers: local/);
    const local = parse('scale-out:\n  servers: nats://a:4222');
    expect(captureSnapshotReaders({ ...local, source: postgres.source }, (m) => warnings.push(m))).toBe('local');
    expect(warnings).toHaveLength(1);
  });

  it('fencing tokens: a later lease revision, or any revision of a bucket created later, is larger', () => {
    const created = Date.parse('2026-12-04T18:00:00.123Z');
    expect(fencingToken(created, 42)).toBeLessThan(fencingToken(created, 43));
    // A recreated bucket starts again at revision 1, a millisecond later at least.
    expect(fencingToken(created, Number.MAX_SAFE_INTEGER)).toBeLessThan(fencingToken(created + 1, 1));
  });

  it("the floor of a bucket's fencing epoch: what an earlier release's creator wrote into its description, else its created", () => {
    const created = '2026-12-05T05:37:49.352123Z';
    const description = 'Tributary partition leases and worker heartbeats (fencing epoch 1796449069329)';
    expect(fencingEpochMs({ created, config: { description } })).toBe(1796449069329);
    // A bucket of an older Tributary (no epoch written): its creation time, as before.
    expect(fencingEpochMs({ created, config: {} })).toBe(Date.parse(created));
    expect(fencingEpochMs({ created, config: { description: 'someone else' } })).toBe(Date.parse(created));
  });
});
