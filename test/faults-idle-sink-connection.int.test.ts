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
 * Issue 13: PostgreSQL ends an idle connection with 57P01 ("terminating connection due to administrator
 * command") on `pg_terminate_backend`, a `DROP DATABASE … WITH (FORCE)` or a fast shutdown. An idle `pg` client or
 * pooled client without an 'error' listener turns that into an uncaught exception, which fails a test run after
 * every test passed. Here both the pipeline's sink connection and the harness's pooled one are terminated while
 * idle: the process goes on, the sink reports the loss and reconnects, the pool opens a new client, and the target
 * ends equal to the source.
 */
describe('PostgreSQL connections terminated while idle (57P01)', () => {
  const db = uniqueName('idlesink');
  const table = `${db}.items`;
  let source: Connection;
  let sink: FreshPostgresDatabase;
  let pipeline: FaultPipeline | undefined;
  const uncaught: unknown[] = [];
  const onUncaught = (error: unknown) => uncaught.push(error);

  beforeAll(async () => {
    process.on('uncaughtException', onUncaught);
    source = await mysqlAdmin();
    await source.query(`CREATE DATABASE ${db}`);
    await createItemsTable(source, table, 300);
    sink = await freshPostgresDatabase('idlesink');
  });

  afterAll(async () => {
    process.off('uncaughtException', onUncaught);
    await pipeline?.stop().catch(() => undefined);
    await source?.query(`DROP DATABASE IF EXISTS ${db}`);
    await source?.end();
    await sink?.drop();
  });

  it('are reported, not thrown: the sink reconnects, the harness pool replaces its client, nothing is lost', async () => {
    pipeline = await startFaultPipeline({ name: 'idle-sink-connection', tables: table, sinkUrl: sink.url });
    const stopIf = () => pipeline?.endedWith();
    const query = sink.query.bind(sink);
    await waitForEqual(source, query, [table], { timeoutMs: 120_000, message: 'the snapshot', stopIf });

    // Caught up: the sink's connection sits idle between commits, and so does the harness pool's client.
    const [{ pid: poolPid } = { pid: 0 }] = await sink.query<{ pid: number }>('SELECT pg_backend_pid() AS pid');
    const sinkPids = (
      await sink.query<{ pid: number }>(
        "SELECT pid FROM pg_stat_activity WHERE application_name = 'tributary' AND datname = current_database()",
      )
    ).map((r) => r.pid);
    expect(sinkPids.length, 'the pipeline holds a sink connection').toBeGreaterThan(0);
    const logsBefore = pipeline.logs.length;
    const terminator = await freshPostgresDatabase('idlesink_terminator');
    try {
      for (const pid of [...sinkPids, poolPid]) await terminator.query('SELECT pg_terminate_backend($1)', [pid]);
      await waitFor(
        async () =>
          (await terminator.query('SELECT 1 FROM pg_stat_activity WHERE pid = ANY($1)', [[...sinkPids, poolPid]]))
            .length === 0,
        { timeoutMs: 60_000, message: 'the terminated backends to go' },
      );
    } finally {
      await terminator.drop();
    }
    // The sink's client got its 57P01 while idle: reported on the pipeline's log, not thrown.
    const reported = () => pipeline!.logs.slice(logsBefore).some((line) => line.includes('57P01'));
    await waitFor(() => reported() || uncaught.length > 0, {
      timeoutMs: 30_000,
      message: 'the lost sink connection (57P01) to be reported',
    });
    expect(uncaught).toEqual([]);
    expect(reported()).toBe(true);

    await source.query(
      `INSERT INTO ${table} (id, grp, val, amount, rev, updated) VALUES (1001, 1, 'after', 1, 1, NOW(6))`,
    );
    await source.query(`UPDATE ${table} SET val = 'changed after the termination', rev = rev + 1 WHERE id <= 10`);
    await source.query(`DELETE FROM ${table} WHERE id BETWEEN 11 AND 20`);
    // The harness pool answers again on a new client; the pipeline wrote the changes on a new connection.
    await waitForEqual(source, query, [table], { timeoutMs: 120_000, message: 'the changes', stopIf });
    const [after] = await sink.query<{ pid: number }>('SELECT pg_backend_pid() AS pid');
    expect(after?.pid).not.toBe(poolPid);
    expect(pipeline.endedWith()).toBeUndefined();
    expect(uncaught).toEqual([]);
  });
});
