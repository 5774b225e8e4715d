import type { Connection } from 'mysql2/promise';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startEmbeddedMariadb } from '../src/embedded/embedded-mariadb.js';
import type { EmbeddedServer } from '../src/embedded/embedded-server.js';
import { startCli, writePipelineFile } from './harness/cli-process.js';
import { freshPostgresDatabase, uniqueName, type FreshPostgresDatabase } from './harness/databases.js';
import {
  ITEMS_DDL,
  compareItems,
  faultPipelineYaml,
  formatResumePosition,
  mysqlConnect,
  report,
  sinkCheckpoint,
  startFaultPipeline,
  waitForEqual,
  type SinkCheckpoint,
} from './harness/faults.js';
import { testTempDir } from './harness/temp-dirs.js';

/**
 * Issue 4, "Server identity changed": a pipeline that has a checkpoint from MariaDB A is pointed at another
 * MariaDB (same pipeline name, state directory and sink). Binlog positions of A mean nothing on another
 * server, so the run must stop before anything moves with PIPELINE_STATE_MISMATCH and a fix — and the sink
 * must stay exactly as A left it. MariaDB has no server_uuid: Tributary identifies it by `server-id:<n>`.
 *
 * All servers are private to this file. startEmbeddedMariadb starts every server with --server-id=1 and has
 * no option for another id; a server gets another id with SET GLOBAL server_id (dynamic in MariaDB), or
 * keeps 1 — the id nearly every stand-alone MariaDB has. Three servers:
 * - A, which the pipeline reads first;
 * - B, A's twin: the same statements with different values of the same size, so the rows differ but A's
 *   position is an event boundary in B's binlog too;
 * - C, with a history of its own, in whose binlog A's position falls inside an event;
 * - D, a fresh server (a replacement) whose binlog is shorter than A's position: it never wrote that position,
 *   so this is PIPELINE_STATE_MISMATCH too, not SOURCE_BINLOG_PURGED ("the server no longer has it").
 */
const PIPELINE = 'identity';
/** How long a run against the wrong server may go on before it counts as "did not stop". */
const RUN_LIMIT_MS = 10_000;

interface BinlogPoint {
  readonly file: string;
  readonly pos: number;
}

async function masterStatus(conn: Connection): Promise<BinlogPoint> {
  const [rows] = (await conn.query('SHOW MASTER STATUS')) as unknown as [{ File: string; Position: number }[]];
  return { file: rows[0]!.File, pos: Number(rows[0]!.Position) };
}

/** Whether an event of `point.file` starts at `point.pos` (or the file ends there). */
async function isEventBoundary(conn: Connection, point: BinlogPoint): Promise<boolean> {
  const [rows] = (await conn.query(`SHOW BINLOG EVENTS IN '${point.file}'`)) as unknown as [
    { Pos: number; End_log_pos: number }[],
  ];
  return rows.some((r) => Number(r.Pos) === point.pos || Number(r.End_log_pos) === point.pos);
}

describe('server identity changed: a checkpoint of MariaDB A resumed against another MariaDB', () => {
  const db = uniqueName('ident');
  const table = `${db}.items`;
  const servers: Record<'a' | 'b' | 'c' | 'd', EmbeddedServer | undefined> = {
    a: undefined,
    b: undefined,
    c: undefined,
    d: undefined,
  };
  const conns: Partial<Record<'a' | 'b' | 'c' | 'd', Connection>> = {};
  let sink: FreshPostgresDatabase;
  let stateDir: string;
  let checkpointOfA: SinkCheckpoint | null;
  const sinkQuery = () => sink.query.bind(sink);

  beforeAll(async () => {
    // One after the other: concurrent mariadb-install-db runs sometimes fail on each other's temporary tables.
    servers.a = await startEmbeddedMariadb();
    servers.b = await startEmbeddedMariadb();
    servers.c = await startEmbeddedMariadb();
    servers.d = await startEmbeddedMariadb();
    const { a, b, c, d } = servers;
    conns.a = await mysqlConnect(a.url);
    conns.b = await mysqlConnect(b.url);
    conns.c = await mysqlConnect(c.url);
    conns.d = await mysqlConnect(d.url);
    await conns.d.query(`CREATE DATABASE ${db}`);
    await conns.d.query(`CREATE TABLE ${table} ${ITEMS_DDL}`);
    sink = await freshPostgresDatabase('ident');
    for (const [conn, tag, rows] of [
      [conns.a, 'A', 500],
      [conns.b, 'B', 500],
      [conns.c, 'C', 3_000],
    ] as const) {
      await conn.query(`CREATE DATABASE ${db}`);
      await conn.query(`CREATE TABLE ${table} ${ITEMS_DDL}`);
      await conn.query(
        `INSERT INTO ${table} SELECT seq, seq % 97, CONCAT('${tag}-row-', seq), seq * 1.0001, 0, NULL FROM ${db}.seq_1_to_${rows}`,
      );
    }
  });

  afterAll(async () => {
    await Promise.allSettled(Object.values(conns).map((c) => c.end()));
    await Promise.allSettled(
      Object.values(servers)
        .filter((s) => s !== undefined)
        .map((s) => s.stop()),
    );
    await sink?.drop();
  });

  /**
   * Runs `tributary run` against `server` with A's state and sink (killed after RUN_LIMIT_MS if it does not
   * stop by itself); returns how it ended, the error it printed, and what became of the sink.
   */
  async function runAgainst(server: EmbeddedServer): Promise<{ exit: number | string; output: string; error: string }> {
    const before = { checkpoint: await sinkCheckpoint(sinkQuery(), PIPELINE), rows: await sinkRows() };
    const { yaml, env } = await faultPipelineYaml({
      name: PIPELINE,
      tables: table,
      mysqlUrl: server.url,
      sinkUrl: sink.url,
      stateDir,
    });
    const file = await writePipelineFile(await testTempDir('tributary-identity'), yaml);
    const cli = startCli(['run', file], env);
    const timer = setTimeout(() => cli.child.kill('SIGKILL'), RUN_LIMIT_MS);
    const exit = await cli.exited;
    clearTimeout(timer);
    const output = cli.output();
    expect(output).not.toContain(env['FAULT_MYSQL_PASSWORD']);
    const error =
      /\[[A-Z_]+\].*(\n\s+fix:.*)?/.exec(output)?.[0].replace(/\n\s*/g, ' | ') ??
      `no error: still running after ${RUN_LIMIT_MS / 1000} s (${/resuming binlog at .*/.exec(output)?.[0] ?? '?'})`;
    const after = { checkpoint: await sinkCheckpoint(sinkQuery(), PIPELINE), rows: await sinkRows() };
    const vsA = await compareItems(conns.a!, sinkQuery(), [table]);
    report(
      `identity, resumed against ${server === servers.b ? 'B' : server === servers.c ? 'C' : 'D'}: exit ${exit}; ${error}\n` +
        `  sink checkpoint ${before.checkpoint?.id} (${formatResumePosition(before.checkpoint?.position ?? {})}) → ` +
        `${after.checkpoint?.id} (${formatResumePosition(after.checkpoint?.position ?? {})}); sink vs A: ${vsA.summary()}`,
    );
    // Nothing written: the same rows and the same checkpoint row as before the run.
    expect(after.rows === before.rows, `the sink's rows changed:\n${vsA.summary()}`).toBe(true);
    expect(after.checkpoint, 'the sink committed a checkpoint').toEqual(before.checkpoint);
    return { exit, output, error };
  }

  async function sinkRows(): Promise<string> {
    return JSON.stringify(await sink.query(`SELECT * FROM ${table} ORDER BY id`));
  }

  it('a pipeline reads A to a checkpoint and stops; B (A twin) and C then go their own ways', async () => {
    const pipeline = await startFaultPipeline({
      name: PIPELINE,
      tables: table,
      mysqlUrl: servers.a!.url,
      sinkUrl: sink.url,
    });
    stateDir = pipeline.stateDir;
    await waitForEqual(conns.a!, sinkQuery(), [table], { message: 'the snapshot of A' });
    await conns.a!.query(`UPDATE ${table} SET val = 'A-changed', rev = 2 WHERE id <= 10`);
    await conns.b!.query(`UPDATE ${table} SET val = 'B-changed', rev = 2 WHERE id <= 10`);
    const comparison = await waitForEqual(conns.a!, sinkQuery(), [table], { message: 'a binlog change of A' });
    expect((await pipeline.stop()).outcome).toBe('stopped');
    checkpointOfA = await sinkCheckpoint(sinkQuery(), PIPELINE);
    expect(checkpointOfA?.position['serverUuid']).toBe('server-id:1');
    const atA = await masterStatus(conns.a!);
    expect(checkpointOfA?.position.binlog).toMatchObject(atA);
    // Preconditions: A's position is an event boundary on B, and inside an event on C.
    expect(await masterStatus(conns.b!), 'B is not A-shaped').toEqual(atA);
    expect((await masterStatus(conns.c!)).pos, "C's binlog is shorter than A's").toBeGreaterThan(atA.pos);
    expect(await isEventBoundary(conns.c!, atA), "A's position is an event boundary on C").toBe(false);
    // Changes after A's position, on B and C only.
    for (const conn of [conns.b!, conns.c!]) {
      await conn.query(`INSERT INTO ${table} VALUES (100000, 1, 'not on A', 1, 3, NULL)`);
      await conn.query(`DELETE FROM ${table} WHERE id = 20`);
    }
    report(
      `identity: A read to checkpoint ${checkpointOfA?.id} at ${JSON.stringify(checkpointOfA?.position.binlog)}; ${comparison.summary()}`,
    );
  });

  it('another server_id: PIPELINE_STATE_MISMATCH with the fix, and nothing written to the sink', async () => {
    await conns.b!.query('SET GLOBAL server_id = 2');
    try {
      const { exit, output } = await runAgainst(servers.b!);
      expect(exit, output).toBe(1);
      expect(output).toMatch(/\[PIPELINE_STATE_MISMATCH\] .*server-id:1.*server-id:2/);
      expect(output).toMatch(/\n\s+fix: .*--reset/);
    } finally {
      await conns.b!.query('SET GLOBAL server_id = 1');
    }
  });

  // The same server_id: the fingerprint of the events before the saved position (their CRC32s) tells them apart.
  it('the same server_id (1), A position inside an event on C: PIPELINE_STATE_MISMATCH, nothing written', async () => {
    const { exit, output } = await runAgainst(servers.c!);
    expect(exit, output).toBe(1);
    expect(output).toMatch(/\[PIPELINE_STATE_MISMATCH\]/);
  });

  // B repeats A's transactions (same GTIDs, same event sizes) up to the saved position: only the bytes differ.
  it('the same server_id (1), A position an event boundary on B: PIPELINE_STATE_MISMATCH, nothing written', async () => {
    const { exit, output } = await runAgainst(servers.b!);
    expect(exit, output).toBe(1);
    expect(output).toMatch(/\[PIPELINE_STATE_MISMATCH\]/);
  });

  // D is a fresh server with server_id 1 (a replacement): its binlog ends before A's position.
  it("the same server_id (1), A position beyond the end of D's binlog: PIPELINE_STATE_MISMATCH, not SOURCE_BINLOG_PURGED", async () => {
    const atA = checkpointOfA!.position.binlog!;
    const [logs] = (await conns.d!.query('SHOW BINARY LOGS')) as unknown as [{ Log_name: string; File_size: number }[]];
    const same = logs.find((l) => l.Log_name === atA.file);
    expect(same === undefined || Number(same.File_size) < atA.pos, "D's binlog reaches A's position").toBe(true);
    const { exit, output } = await runAgainst(servers.d!);
    expect(exit, output).toBe(1);
    expect(output).toMatch(/\[PIPELINE_STATE_MISMATCH\] .*not in this server's binlog/);
    expect(output).not.toContain('SOURCE_BINLOG_PURGED');
    expect(output).toMatch(/\n\s+fix: .*--reset/);
  });
});
