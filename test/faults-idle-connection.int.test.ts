import type { Connection } from 'mysql2/promise';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  freshPostgresDatabase,
  mysqlAdmin,
  uniqueName,
  waitFor,
  type FreshPostgresDatabase,
} from './harness/databases.js';
import { createItemsTable, startFaultPipeline, waitForEqual, type FaultPipeline } from './harness/faults.js';

/**
 * Issue 10: source connections that sit idle while the pipeline streams (the one the source keeps for schema
 * reads, the snapshot readers') and that the server ends — `KILL`, a proxy's idle timeout — must not stop the
 * pipeline or crash the process (mysql2 emits 'error' on a connection reset; the source listens). The pipeline
 * goes on, retrying if a dead connection is used, and the target ends equal to the source.
 */
describe('a source connection ended by the server while idle', () => {
  const db = uniqueName('idleconn');
  const table = `${db}.items`;
  let source: Connection;
  let sink: FreshPostgresDatabase;
  let pipeline: FaultPipeline | undefined;

  beforeAll(async () => {
    source = await mysqlAdmin();
    await source.query(`CREATE DATABASE ${db}`);
    await createItemsTable(source, table, 200);
    sink = await freshPostgresDatabase('idleconn');
  });

  afterAll(async () => {
    await pipeline?.stop().catch(() => undefined);
    await source?.query(`DROP DATABASE IF EXISTS ${db}`);
    await source?.end();
    await sink?.drop();
  });

  it('is reported and replaced: the pipeline keeps streaming, DDL included, and loses nothing', async () => {
    pipeline = await startFaultPipeline({ name: 'idle-connection', tables: table, sinkUrl: sink.url });
    const stopIf = () => pipeline?.endedWith();
    await waitForEqual(source, sink.query.bind(sink), [table], { timeoutMs: 120_000, message: 'the snapshot', stopIf });

    // Every idle connection of the pipeline (the binlog dump is not idle; our own is spared).
    const [rows] = await source.query(
      "SELECT ID AS id FROM information_schema.PROCESSLIST WHERE COMMAND = 'Sleep' AND ID <> CONNECTION_ID()",
    );
    const idle = (rows as { id: number }[]).map((r) => r.id);
    expect(idle.length, 'the pipeline holds no idle source connection').toBeGreaterThan(0);
    for (const id of idle) await source.query(`KILL CONNECTION ${id}`).catch(() => undefined);
    await waitFor(
      async () => {
        const [left] = await source.query(
          `SELECT 1 FROM information_schema.PROCESSLIST WHERE ID IN (${idle.join(', ')})`,
        );
        return (left as unknown[]).length === 0;
      },
      { timeoutMs: 60_000, message: 'the killed connections to go' },
    );

    await source.query(
      `INSERT INTO ${table} (id, grp, val, amount, rev, updated) VALUES (1001, 1, 'after', 1, 1, NOW(6))`,
    );
    await source.query(`ALTER TABLE ${table} MODIFY val VARCHAR(80)`);
    await source.query(`UPDATE ${table} SET val = 'after the alter', rev = 2 WHERE id = 1001`);
    await waitForEqual(source, sink.query.bind(sink), [table], { timeoutMs: 120_000, message: 'the changes', stopIf });
    expect(pipeline.endedWith()).toBeUndefined();
  });
});
