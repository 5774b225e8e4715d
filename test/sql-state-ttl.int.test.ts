import { join } from 'node:path';
import Database from 'better-sqlite3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Connection } from 'mysql2/promise';
import {
  freshPostgresDatabase,
  mysqlAdmin,
  uniqueName,
  waitFor,
  type FreshPostgresDatabase,
} from './harness/databases.js';
import { mysqlRows, textRows } from './harness/compare.js';
import { jdbcOptions, mysqlCdcOptions, startSqlJob, type RunningSqlJob } from './harness/sql-jobs.js';
import { testTempDir } from './harness/temp-dirs.js';

/**
 * `SET 'table.exec.state.ttl'` applied: a GROUP BY over a MariaDB table into PostgreSQL, with a TTL of 3 s. A group
 * nobody writes to for longer is deleted from the job's state file at a checkpoint (while the other group, kept
 * busy, stays); its result row stays in the sink; a later row of that group starts it from zero — the documented
 * consequence: the sink then says 1 where the source has 3.
 */
describe('table.exec.state.ttl against MariaDB and PostgreSQL', () => {
  const db = uniqueName('sqlttl');
  let source: Connection;
  let sink: FreshPostgresDatabase;
  let job: RunningSqlJob | undefined;
  let stateDir: string;

  const result = async () =>
    textRows(await sink.query('SELECT g, n::text AS n FROM group_counts ORDER BY g').catch(() => []));
  const expectResult = async (expected: string[][], when: string) => {
    let actual: string[][] = [];
    await waitFor(async () => JSON.stringify((actual = await result())) === JSON.stringify(expected), {
      timeoutMs: 60_000,
      intervalMs: 200,
      message: `the result ${JSON.stringify(expected)} ${when}`,
    }).catch((error: unknown) => {
      console.log('actual', JSON.stringify(actual), '\n', job?.logs.slice(-8).join('\n'));
      throw error;
    });
  };
  /** The group keys the job's state file holds (as of its last committed checkpoint). */
  const stateGroups = () => {
    const file = new Database(join(stateDir, 'sql-state.sqlite'), { readonly: true, fileMustExist: true });
    try {
      return file
        .prepare<[], { key: string }>("SELECT key FROM entries WHERE ns LIKE '%.groups' ORDER BY key")
        .all()
        .map((r) => r.key);
    } finally {
      file.close();
    }
  };

  beforeAll(async () => {
    source = await mysqlAdmin();
    await source.query(`CREATE DATABASE ${db};
      CREATE TABLE ${db}.events (id INT PRIMARY KEY, g VARCHAR(10) NOT NULL);
      INSERT INTO ${db}.events VALUES (1, 'idle'), (2, 'idle'), (3, 'busy');`);
    sink = await freshPostgresDatabase('sqlttlsink');
    stateDir = await testTempDir('sql-ttl-state');
  });

  afterAll(async () => {
    await job?.stop().catch(() => undefined);
    await source?.query(`DROP DATABASE IF EXISTS ${db}`);
    await source?.end();
    await sink?.drop();
  });

  it('drops the state of an idle group; a late row of it starts the group anew', async () => {
    job = startSqlJob(`
      CREATE TABLE events (id INT, g STRING, PRIMARY KEY (id) NOT ENFORCED) WITH (${mysqlCdcOptions(db, 'events')});
      CREATE TABLE group_counts (g STRING, n BIGINT, PRIMARY KEY (g) NOT ENFORCED) WITH (${jdbcOptions(sink.url, 'group_counts')});
      SET 'pipeline.name' = '${db}';
      SET 'state.dir' = '${stateDir}';
      SET 'execution.checkpointing.interval' = '200ms';
      SET 'table.exec.state.ttl' = '3 s';
      INSERT INTO group_counts SELECT g, COUNT(*) FROM events GROUP BY g;
    `);
    await expectResult(
      [
        ['busy', '1'],
        ['idle', '2'],
      ],
      'after the snapshot',
    );
    await waitFor(() => stateGroups().length === 2, { message: 'the state file to hold both groups' });

    // Keep writing to 'busy' (each write a checkpoint) until the state holds that group alone: 'idle' expired.
    let next = 100;
    await waitFor(
      async () => {
        await source.query(`INSERT INTO ${db}.events VALUES (${next++}, 'busy')`);
        return stateGroups().length === 1;
      },
      { timeoutMs: 60_000, intervalMs: 250, message: "the 'idle' group to leave the state file" },
    );
    expect(stateGroups()[0]).toContain('busy');
    const busy = String((await mysqlRows(source, `SELECT COUNT(*) FROM ${db}.events WHERE g = 'busy'`))[0]![0]);
    // Expiry retracts nothing: the result row of the idle group stays as it was.
    await expectResult(
      [
        ['busy', busy],
        ['idle', '2'],
      ],
      'after the idle group expired',
    );

    // A late row of the expired group starts it from zero: 1, where the source has 3 (Flink's TTL does the same).
    await source.query(`INSERT INTO ${db}.events VALUES (4, 'idle')`);
    await expectResult(
      [
        ['busy', busy],
        ['idle', '1'],
      ],
      'after a late row of the expired group',
    );
    expect(await mysqlRows(source, `SELECT COUNT(*) FROM ${db}.events WHERE g = 'idle'`)).toEqual([['3']]);
    await job.stop();
    job = undefined;
  });
});
