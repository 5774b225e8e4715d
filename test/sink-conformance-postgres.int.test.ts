import { describe } from 'vitest';
import { postgresSink } from '../src/connectors/postgres/postgres-sink.js';
import { createLogger } from '../src/runtime/logger.js';
import { freshPostgresDatabase } from './harness/databases.js';
import { readPostgresTable } from './harness/postgres-table-text.js';
import { sinkConformance } from './harness/sink-conformance.js';

const log = createLogger({ write: () => undefined, timestamps: false });

describe.each(['upsert', 'merge'] as const)('postgres, write-mode %s', (mode) => {
  sinkConformance(`postgres (write-mode ${mode})`, async () => {
    const db = await freshPostgresDatabase(`conformance_${mode}`);
    return {
      sink: (options = {}) => postgresSink({ url: db.url, 'write-mode': mode, ...options }, { log }),
      read: (id) => readPostgresTable(db, id),
      close: () => db.drop(),
    };
  });
});
