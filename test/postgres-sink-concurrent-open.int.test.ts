import { afterAll, describe, expect, it } from 'vitest';
import { postgresSink } from '../src/connectors/postgres/postgres-sink.js';
import type { Sink } from '../src/core/sink.js';
import { createLogger } from '../src/runtime/logger.js';
import { freshPostgresDatabase, type FreshPostgresDatabase } from './harness/databases.js';

/**
 * Several pipelines started together against one fresh database all create the checkpoint schema and tables
 * with CREATE … IF NOT EXISTS; PostgreSQL lets the loser of that race fail with a unique violation (23505).
 * Every pipeline must open (found by two SQL jobs started at the same moment).
 */
describe('postgres sink: pipelines opening one fresh database at the same moment', () => {
  const databases: FreshPostgresDatabase[] = [];
  const sinks: Sink[] = [];
  const log = createLogger({ write: () => undefined, timestamps: false });

  afterAll(async () => {
    for (const sink of sinks) await sink.close();
    for (const db of databases) await db.drop();
  });

  it('all open, each with no checkpoint, and the checkpoint tables exist once', async () => {
    for (let round = 0; round < 5; round++) {
      const db = await freshPostgresDatabase(`pgrace${round}`);
      databases.push(db);
      const opened = await Promise.all(
        Array.from({ length: 4 }, async (_, i) => {
          const sink = postgresSink({ url: db.url }, { log });
          sinks.push(sink);
          return await sink.open(`race-${i}`);
        }),
      );
      expect(opened).toEqual([null, null, null, null]);
      const tables = await db.query<{ table_name: string }>(
        `SELECT table_name FROM information_schema.tables WHERE table_schema = 'tributary' ORDER BY 1`,
      );
      expect(tables.map((t) => t.table_name)).toEqual(['checkpoints', 'checkpoints_chunks']);
    }
  });
});
