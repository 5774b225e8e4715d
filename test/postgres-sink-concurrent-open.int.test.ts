import { afterAll, describe, expect, it } from 'vitest';
import { postgresSink } from '../src/connectors/postgres/postgres-sink.js';
import type { Sink } from '../src/core/sink.js';
import { tableId, type TableSchema } from '../src/core/table-schema.js';
import { createLogger } from '../src/runtime/logger.js';
import { freshPostgresDatabase, type FreshPostgresDatabase } from './harness/databases.js';
import { checkpoint, ins, schemaEvent, student } from './harness/sink-events.js';

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

  /**
   * Scale-out apply workers (one pipeline per partition) write the same new sink tables at once. The loser of
   * the CREATE race waits for the winner's commit and then failed on the catalog's unique index, which cost
   * it its whole transaction and a logged retry; it must instead find the table and go on.
   */
  it.each([
    ['one new table in a new schema', 1],
    ['three new tables in one write', 3],
  ])('writers creating the same tables at once all commit without an error: %s', async (_, count) => {
    const db = await freshPostgresDatabase(`pgcreate${count}`);
    databases.push(db);
    const tables: TableSchema[] = Array.from({ length: count }, (_, t) => ({
      ...student,
      id: tableId('shop', `student_${t}`),
    }));
    const writers = 4;
    await Promise.all(
      Array.from({ length: writers }, async (_, w) => {
        const sink = postgresSink({ url: db.url }, { log });
        sinks.push(sink);
        await sink.open(`create-${w}`);
        await sink.write([
          ...tables.map((table) => schemaEvent(table)),
          ...tables.flatMap((table) => [1, 2, 3].map((i) => ins(table, [w * 10 + i, `w${w}`, i, '1']))),
        ]);
        await sink.commit(checkpoint(`create-${w}`, { w }));
      }),
    );
    for (const table of tables) {
      const rows = await db.query<{ n: string }>(`SELECT count(*) AS n FROM shop.${table.id.name}`);
      expect(Number(rows[0]?.n)).toBe(writers * 3);
    }
  });
});
