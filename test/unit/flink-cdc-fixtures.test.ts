import { readdirSync, readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { parsePipelineYaml } from '../../src/config/load-pipeline.js';
import { knownTypes, optionSpecsFor, sources } from '../../src/connectors/registry.js';
import { pipelineOptionSpecs } from '../../src/config/pipeline-options.js';

/**
 * The Flink CDC compatibility suite (fixtures/flink-cdc/): pipeline files written in the style of Flink CDC's
 * documentation load unchanged (their sink block aside); test/flink-cdc-compat.int.test.ts runs some of them.
 */
const DIR = new URL('../../fixtures/flink-cdc/', import.meta.url);
const FILES = readdirSync(DIR).filter((f) => f.endsWith('.yaml'));
const env = {
  MYSQL_HOST: '127.0.0.1',
  MYSQL_PORT: '3306',
  MYSQL_USER: 'cdc',
  MYSQL_PASSWORD: 'pw',
  SINK_URL: 'postgres://postgres@127.0.0.1:5432/warehouse',
};

function load(file: string) {
  return parsePipelineYaml(readFileSync(new URL(file, DIR), 'utf8'), { file, env, optionSpecsFor, knownTypes });
}

describe('fixtures/flink-cdc: Flink CDC documentation-style pipeline files', () => {
  it('has the files of the suite', () => {
    expect(FILES.length).toBeGreaterThanOrEqual(7);
  });

  it.each(FILES)('%s loads without a problem', (file) => {
    expect(() => load(file)).not.toThrow();
  });

  it('connector-options.yaml writes every option of the mysql source and of the pipeline block', () => {
    const text = readFileSync(new URL('connector-options.yaml', DIR), 'utf8');
    const keys = new Set([...text.matchAll(/^ {2}([a-z][\w.-]*):/gm)].map((m) => m[1]));
    const wildcard = (key: string) => key.endsWith('.*') && [...keys].some((k) => k?.startsWith(key.slice(0, -1)));
    const missing = [...sources['mysql']!.options.map((s) => s.key), ...pipelineOptionSpecs().map((s) => s.key)].filter(
      (key) => !keys.has(key) && !wildcard(key),
    );
    // Written in the other fixtures: the specific-offset ones, the chunk key of key-less tables, the state options;
    // Tributary's own options (not Flink CDC's) such as the dashboard's `http.*` and TLS's `ssl-*` (Flink CDC files
    // set TLS through jdbc.properties.*).
    expect(missing.sort()).toEqual(
      [
        'checkpoint.interval',
        'failover.resume-by-gtid',
        'hosts',
        'http.enabled',
        'http.host',
        'http.port',
        'http.token',
        'read.timeout',
        'retry.max-identical-failures',
        'route.key-collision',
        'scan.incremental.snapshot.chunk.key-column',
        'scan.snapshot.rows-per-second',
        'scan.startup.specific-offset.file',
        'scan.startup.specific-offset.gtid-set',
        'scan.startup.specific-offset.pos',
        'scan.startup.specific-offset.skip-events',
        'scan.startup.specific-offset.skip-rows',
        'snapshot.packed-reads',
        'ssl-ca',
        'ssl-cert',
        'ssl-key',
        'ssl-mode',
        'state.dir',
        'watchdog.timeout',
        'zero-date.handling',
      ].sort(),
    );
    const def = load('connector-options.yaml');
    expect(def.pipeline.displayName).toBe('MySQL to PostgreSQL, every option');
    expect(def.ignoredOptions?.map((o) => `${o.block}.${o.key}`)).toEqual([
      'source.scan.snapshot.fetch.size',
      'source.connect.max-retries',
      'source.connection.pool.size',
      'source.debezium.*',
      'source.scan.incremental.close-idle-reader.enabled',
      'source.scan.binlog.newly-added-table.enabled',
      'source.scan.parse.online.schema.changes.enabled',
      'source.include-comments.enabled',
      'source.use.legacy.json.format',
      'source.scan.incremental.snapshot.unbounded-chunk-first.enabled',
      'source.scan.incremental.snapshot.backfill.skip',
      'source.chunk-meta.group.size',
      'source.chunk-key.even-distribution.factor.upper-bound',
      'source.chunk-key.even-distribution.factor.lower-bound',
      'pipeline.schema.operator.uid',
      'pipeline.operator.uid.prefix',
      'pipeline.schema-operator.rpc-timeout',
      'pipeline.sink.partitioning.strategy',
      'pipeline.transform.decimal.precision.mode',
    ]);
  });

  it('quickstart: the free-text name becomes a stable identifier', () => {
    const def = load('quickstart-mysql-to-postgres.yaml');
    expect(def.pipeline.displayName).toBe('Sync MySQL Database to Doris');
    expect(def.pipeline.name).toMatch(/^Sync-MySQL-Database-to-Doris-[0-9a-f]{8}$/);
    expect(def.source.options['server-id']).toBe('5400-5404');
  });
});
