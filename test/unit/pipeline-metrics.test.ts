import { describe, expect, it } from 'vitest';
import type { ChangeEvent } from '../../src/core/change-event.js';
import { TributaryError } from '../../src/core/errors.js';
import { tableId, type TableSchema } from '../../src/core/table-schema.js';
import { parseHostPort } from '../../src/cli/main.js';
import { createLogger } from '../../src/runtime/logger.js';
import { OTHER_TABLES, PipelineMetrics } from '../../src/runtime/pipeline-metrics.js';
import { maskPipelineFile } from '../../src/ui/masked-pipeline-file.js';
import { prometheusRegistry } from '../../src/ui/prometheus-exporter.js';

const row = (db: string, table: string): ChangeEvent => ({
  kind: 'data',
  table: tableId(db, table),
  op: 'insert',
  before: null,
  after: [1n],
  source: { tsMs: 1 },
});

const addColumn = (db: string, table: string, change: 'addColumn' | 'createTable' = 'addColumn'): ChangeEvent => ({
  kind: 'schema',
  table: tableId(db, table),
  change,
  schema: { id: tableId(db, table), columns: [], primaryKey: [] } as unknown as TableSchema,
  ddl: `ALTER TABLE ${table} ADD COLUMN c INT`,
  source: { tsMs: 1 },
});

describe('PipelineMetrics', () => {
  it('counts data rows per table, not schema events', () => {
    const m = new PipelineMetrics('p');
    m.sourceBatch([row('a', 't'), row('a', 't'), addColumn('a', 't'), row('a', 'u'), row('a', 't')]);
    expect(m.rowsIn.get('a.t')).toBe(3);
    expect(m.rowsIn.get('a.u')).toBe(1);
    expect(m.rowsIn.total()).toBe(4);
  });

  it('keeps per-table series for the first tables only and sums the rest into _other, losing no row', () => {
    const m = new PipelineMetrics('p', { maxTableSeries: 3 });
    const events = Array.from({ length: 10 }, (_, i) => row('db', `t${i}`));
    m.sourceBatch(events);
    m.sourceBatch(events);
    const entries = [...m.rowsIn.entries()];
    expect(entries).toHaveLength(4);
    expect(m.rowsIn.get(OTHER_TABLES)).toBe(14);
    expect(m.rowsIn.total()).toBe(20);
    expect(m.status().tablesCapped).toBe(true);
  });

  it('lists applied schema changes (not table creations) and errors with their fix', () => {
    const m = new PipelineMetrics('p');
    m.sinkBatch([addColumn('a', 't', 'createTable'), addColumn('a', 't')]);
    m.failed(new TributaryError('SINK_UNREACHABLE', 'connection refused', { hint: 'start PostgreSQL' }), true);
    const status = m.status();
    expect(status.schemaChanges.total).toBe(1);
    expect(status.schemaChanges.recent[0]).toMatchObject({ table: 'a.t', change: 'addColumn' });
    expect(status.errors.byCode).toEqual({ SINK_UNREACHABLE: 1 });
    expect(status.errors.recent[0]).toMatchObject({ code: 'SINK_UNREACHABLE', fix: 'start PostgreSQL' });
    expect(status.checkpoints.failures).toBe(1);
  });

  it('exports the figures in Prometheus text format, counters equal to the totals at every scrape', async () => {
    const m = new PipelineMetrics('p');
    const registry = prometheusRegistry(m);
    m.sourceBatch([row('a', 't'), row('a', 't')]);
    m.checkpointCommitted(1, 40, 2);
    expect(await registry.metrics()).toContain('tributary_source_rows_total{table="a.t",pipeline="p"} 2');
    m.sourceBatch([row('a', 't')]);
    m.checkpointCommitted(2, 10, 1);
    const text = await registry.metrics();
    expect(text).toContain('tributary_source_rows_total{table="a.t",pipeline="p"} 3');
    expect(text).toContain('tributary_checkpoints_total{pipeline="p"} 2');
    expect(text).toContain('tributary_checkpoint_duration_seconds_count{pipeline="p"} 2');
  });
});

describe('the pipeline file on the dashboard', () => {
  it('masks registered secrets and password-like keys, but shows ${VAR} references', () => {
    const log = createLogger({ write: () => {} });
    log.addSecret('postgres://u:hunter22@db/x');
    const text = [
      'source:',
      '  password: s3cret!',
      '  token: ${API_TOKEN}',
      'sink:',
      '  url: postgres://u:hunter22@db/x',
      '  hostname: db',
    ].join('\n');
    const masked = maskPipelineFile(text, log);
    expect(masked).not.toContain('s3cret');
    expect(masked).not.toContain('hunter22');
    expect(masked).toContain('  password: ***');
    expect(masked).toContain('  token: ${API_TOKEN}');
    expect(masked).toContain('  hostname: db');
  });
});

describe('--http', () => {
  it('takes host:port, [v6]:port and :port', () => {
    expect(parseHostPort('0.0.0.0:9000')).toEqual({ host: '0.0.0.0', port: 9000 });
    expect(parseHostPort('[::1]:0')).toEqual({ host: '::1', port: 0 });
    expect(parseHostPort(':8470')).toEqual({ host: '127.0.0.1', port: 8470 });
    expect(parseHostPort('8470')).toBeUndefined();
    expect(parseHostPort('h:99999')).toBeUndefined();
  });
});
