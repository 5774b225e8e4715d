import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DuckDBTimestampTZValue } from '@duckdb/node-api';
import { duckdbSink } from '../src/connectors/duckdb/duckdb-sink.js';
import { createLogger } from '../src/runtime/logger.js';
import { readDuckdbTable } from './harness/duckdb-table-text.js';
import { sinkConformance } from './harness/sink-conformance.js';

const log = createLogger({ write: () => undefined, timestamps: false });

sinkConformance('duckdb', async () => {
  DuckDBTimestampTZValue.timezoneOffsetInMinutes = 0;
  const dir = await mkdtemp(join(tmpdir(), 'tributary-duckdb-conformance-'));
  const path = join(dir, 'warehouse.duckdb');
  return {
    sink: (options = {}) => duckdbSink({ path, ...options }, { log }),
    read: (id) => readDuckdbTable(path, id),
    close: () => rm(dir, { recursive: true, force: true }),
  };
});
