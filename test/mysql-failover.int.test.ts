import type { Connection } from 'mysql2/promise';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { composePipeline } from '../src/composer/pipeline-composer.js';
import { parsePipelineYaml } from '../src/config/load-pipeline.js';
import { knownTypes, optionSpecsFor } from '../src/connectors/registry.js';
import { TributaryError } from '../src/core/index.js';
import { createLogger } from '../src/runtime/logger.js';
import type { EmbeddedServer } from '../src/embedded/embedded-server.js';
import { freshPostgresDatabase, uniqueName, waitFor, type FreshPostgresDatabase } from './harness/databases.js';
import {
  createItemsTable,
  describeWriter,
  faultPipelineYaml,
  installRevisionAudit,
  mysqlConnect,
  readRevisionAudit,
  report,
  seededRandom,
  seedFromEnv,
  sinkCheckpoint,
  startFaultPipeline,
  startWriter,
  waitForEqual,
  type FaultPipeline,
  type SinkQuery,
  type Writer,
} from './harness/faults.js';
import { startMariadbTopology, type MariadbTopology } from './harness/mariadb-topology.js';

/**
 * Issue 20, failover: a MariaDB primary and two GTID replicas (log_slave_updates, gtid_strict_mode). A pipeline
 * lists several hosts and reads the first; while a writer commits on the primary, that server is killed
 * (SIGKILL). The pipeline moves on to the next host and resumes there by GTID: no new snapshot, the target
 * equals the source, no row image applied twice nor out of order. A replica stopped behind the checkpoint is
 * refused (SOURCE_GTID_BEHIND). The time from the kill to the first change committed from the new server is
 * reported, not asserted.
 */
const SEED = seedFromEnv('TRIBUTARY_FAULT_SEED');
const ROWS = 2_000;

describe('failover: resume by GTID on another server of the topology', () => {
  const db = uniqueName('failover');
  // One table per failover test: each writer counts revisions from 1, which the revision audit compares per row.
  const tables = { r2: `${db}.items_r2`, primary: `${db}.items_primary` };
  let topology: MariadbTopology;
  let primary: Connection;
  const sinks: FreshPostgresDatabase[] = [];
  const pipelines: FaultPipeline[] = [];
  let writer: Writer | undefined;

  beforeAll(async () => {
    topology = await startMariadbTopology(2);
    primary = await mysqlConnect(topology.primary.url);
    await primary.query(`CREATE DATABASE ${db}`);
    for (const table of Object.values(tables)) await createItemsTable(primary, table, ROWS);
    for (const replica of topology.replicas) await topology.caughtUp(replica);
  }, 300_000);

  afterAll(async () => {
    await writer?.stop();
    for (const pipeline of pipelines) await pipeline.stop().catch(() => undefined);
    await primary?.end().catch(() => undefined);
    await topology?.stop();
    for (const sink of sinks) await sink.drop();
  }, 120_000);

  async function newSink(): Promise<{ sink: FreshPostgresDatabase; query: SinkQuery }> {
    const sink = await freshPostgresDatabase('failover');
    sinks.push(sink);
    const query: SinkQuery = sink.query.bind(sink);
    await installRevisionAudit(query, db);
    return { sink, query };
  }

  /** `hosts:`; one server is a topology too when `resumeByGtid` says so (several are by default). */
  function hostsYaml(servers: readonly EmbeddedServer[], resumeByGtid = servers.length > 1): string {
    return (
      `  hosts: ${servers.map((s) => `${s.host}:${s.port}`).join(',')}\n  heartbeat.interval: 1s` +
      (resumeByGtid && servers.length === 1 ? '\n  failover.resume-by-gtid: true' : '')
    );
  }

  async function maxId(table: string): Promise<number> {
    const [rows] = await primary.query(`SELECT COALESCE(MAX(id), 0) AS m FROM ${table}`);
    return Number((rows as { m: number | string }[])[0]!.m);
  }

  /** The sequence number of domain 0 in a checkpoint's GTID state (-1 without one). */
  function seqOf(position: Record<string, unknown> | undefined): number {
    const state = (position?.['binlog'] as { gtidState?: string } | undefined)?.gtidState ?? '';
    const match = /(?:^|,)0-\d+-(\d+)/.exec(state);
    return match ? Number(match[1]) : -1;
  }

  /**
   * Runs a pipeline over `hosts` until its snapshot is done and it streams from `hosts[0]`, kills `hosts[0]`
   * with a writer running on the primary, and waits until the pipeline applies changes from `expectOn`. Returns
   * the milliseconds from the kill to the first change committed from there.
   */
  async function failOver(
    name: string,
    table: string,
    hosts: readonly EmbeddedServer[],
    expectOn: EmbeddedServer,
    serverId: number,
  ) {
    const { query } = await newSink();
    const pipeline = await startFaultPipeline({
      name,
      tables: table,
      mysqlUrl: topology.urlOf(hosts[0]!),
      sinkUrl: (sinks[sinks.length - 1] as FreshPostgresDatabase).url,
      sourceYaml: hostsYaml(hosts),
      checkpointInterval: '200ms',
    });
    pipelines.push(pipeline);
    const stopIf = () => {
      const how = pipeline.endedWith();
      return how === undefined ? undefined : `the pipeline ended by itself: ${how}`;
    };
    await waitForEqual(primary, query, [table], { timeoutMs: 180_000, stopIf, message: 'the snapshot' });
    const first = await sinkCheckpoint(query, name);
    expect(first?.position['serverUuid']).toBe(
      `server-id:${hosts[0] === topology.primary ? 1 : serverIdOf(hosts[0]!)}`,
    );

    writer = startWriter({
      connect: () => mysqlConnect(topology.primary.url),
      tables: [table],
      random: seededRandom(SEED + serverId),
      maxId: await maxId(table),
    });
    await writer.committed(150);
    // The pipeline keeps up with the first server before it dies.
    await waitFor(async () => seqOf((await sinkCheckpoint(query, name))?.position) > 0, {
      message: 'a streamed checkpoint',
    });
    const logsBefore = pipeline.logs.length;
    const atKill = seqOf((await sinkCheckpoint(query, name))?.position);
    const killedAt = Date.now();
    await topology.kill(hosts[0]!);
    let firstChangeMs = -1;
    await waitFor(
      async () => {
        const checkpoint = await sinkCheckpoint(query, name);
        if (checkpoint?.position['serverUuid'] !== `server-id:${serverId}` || seqOf(checkpoint.position) <= atKill) {
          return false;
        }
        firstChangeMs = Date.now() - killedAt;
        return true;
      },
      { timeoutMs: 120_000, intervalMs: 20, message: `a change applied from ${expectOn.port}` },
    );
    await writer.committed(150);
    const stats = await writer.stop();
    writer = undefined;
    if (expectOn !== topology.primary) await topology.caughtUp(expectOn);
    const comparison = await waitForEqual(primary, query, [table], {
      timeoutMs: 180_000,
      stopIf,
      message: 'the target to equal the source after the failover',
    });
    const logs = pipeline.logs.slice(logsBefore);
    expect(logs.some((l) => l.includes(`switched to ${expectOn.host}:${expectOn.port}`))).toBe(true);
    expect(logs.some((l) => /the binlog resumes by GTID 0-1-\d+/.test(l))).toBe(true);
    // No new snapshot: every attempt after the kill resumed from a checkpoint in the binlog.
    expect(logs.filter((l) => /starting at |snapshot of /.test(l))).toEqual([]);
    const final = await sinkCheckpoint(query, name);
    expect(final?.position['snapshot']).toBeUndefined();
    const audit = await readRevisionAudit(query);
    expect(audit.regressions, audit.samples.join('\n')).toBe(0);
    // Nothing doubled: no row image was applied twice.
    expect(audit.sameRevision).toBe(0);
    expect(pipeline.ended()).toBe(false);
    await pipeline.stop();
    report(
      `failover ${name}: killed ${hosts[0]!.port}, first change from ${expectOn.port} (server_id ${serverId}) applied ` +
        `${firstChangeMs} ms after the kill; writer ${describeWriter(stats)}; ${comparison.summary()}; ` +
        `${audit.applies} row images applied, ${audit.sameRevision} twice, ${audit.regressions} out of order`,
    );
    return { name, table, query, firstChangeMs };
  }

  function serverIdOf(server: EmbeddedServer): number {
    return server === topology.primary ? 1 : topology.replicas.indexOf(server) + 2;
  }

  let onPrimary: { name: string; table: string; query: SinkQuery } | undefined;

  it('replica 1 killed: the pipeline moves to replica 2 and resumes by GTID', async () => {
    const [replica1, replica2] = topology.replicas as [EmbeddedServer, EmbeddedServer];
    await failOver('failover-r2', tables.r2, [replica1, replica2], replica2, serverIdOf(replica2));
  }, 600_000);

  it('replica 2 killed: the pipeline moves to the primary and resumes by GTID', async () => {
    const replica2 = topology.replicas[1]!;
    onPrimary = await failOver('failover-primary', tables.primary, [replica2, topology.primary], topology.primary, 1);
  }, 600_000);

  it('a replica stopped behind the checkpoint is refused with SOURCE_GTID_BEHIND', async () => {
    expect(onPrimary, 'the previous test left a pipeline on the primary').toBeDefined();
    const { name, table, query } = onPrimary!;
    const replica1 = topology.replicas[0]!;
    // Replica 1 comes back and catches up, then stops replicating; the primary goes on.
    await replica1.pause();
    await replica1.resume();
    await topology.caughtUp(replica1);
    const stale = await mysqlConnect(replica1.url);
    try {
      await stale.query('STOP SLAVE');
    } finally {
      await stale.end();
    }
    writer = startWriter({
      connect: () => mysqlConnect(topology.primary.url),
      tables: [table],
      random: seededRandom(SEED + 7),
      maxId: await maxId(table),
    });
    await writer.committed(50);
    await writer.stop();
    writer = undefined;
    // The pipeline catches up on the primary: its checkpoint is now ahead of replica 1.
    const ahead = await startFaultPipeline({
      name,
      tables: table,
      mysqlUrl: topology.urlOf(topology.primary),
      sinkUrl: sinks[1]!.url,
      sourceYaml: hostsYaml([topology.primary]),
      checkpointInterval: '200ms',
    });
    pipelines.push(ahead);
    await waitForEqual(primary, query, [table], { timeoutMs: 120_000, message: 'the pipeline to catch up' });
    await ahead.stop();
    const before = await sinkCheckpoint(query, name);

    const runOn = async (resumeByGtid: boolean): Promise<unknown> => {
      const run = await startFaultPipeline({
        name,
        tables: table,
        mysqlUrl: topology.urlOf(replica1),
        sinkUrl: sinks[1]!.url,
        sourceYaml: hostsYaml([replica1], resumeByGtid),
        maxRetries: 0,
      });
      pipelines.push(run);
      return await run.done.then(
        () => undefined,
        (error: unknown) => error,
      );
    };
    // One host is not a topology unless the option says so: another server's checkpoint stops the run.
    const mismatch = await runOn(false);
    expect((mismatch as TributaryError | undefined)?.code, String(mismatch)).toBe('PIPELINE_STATE_MISMATCH');
    expect((mismatch as TributaryError).hint).toContain('source.failover.resume-by-gtid: true');
    const failure = await runOn(true);
    expect(failure).toBeInstanceOf(TributaryError);
    expect((failure as TributaryError).code).toBe('SOURCE_GTID_BEHIND');
    expect((failure as TributaryError).message).toMatch(/domain 0: at 0-1-\d+, \d+ behind/);
    expect((await sinkCheckpoint(query, name))?.id).toBe(before?.id);

    // With the primary listed after it, the stale replica is skipped.
    const skipped = await startFaultPipeline({
      name,
      tables: table,
      mysqlUrl: topology.urlOf(replica1),
      sinkUrl: sinks[1]!.url,
      sourceYaml: hostsYaml([replica1, topology.primary]),
    });
    pipelines.push(skipped);
    await waitFor(
      () => skipped.logs.some((l) => l.includes(`switched to ${topology.primary.host}:${topology.primary.port}`)),
      {
        message: 'the switch to the primary',
      },
    );
    expect(skipped.logs.some((l) => l.includes('[SOURCE_GTID_BEHIND]'))).toBe(true);
    await skipped.stop();
    report(`stale replica refused: ${(failure as TributaryError).message}`);
  }, 600_000);
  it('scan.startup.specific-offset.gtid-set: the first change is that of the first transaction after the state', async () => {
    const gtidTable = `${db}.items_gtid`;
    await createItemsTable(primary, gtidTable, 10);
    const state = await topology.gtidBinlogPos(topology.primary);
    await primary.query(
      `INSERT INTO ${gtidTable} VALUES (11, 1, 'after', 1.5, 1, NOW(6)), (12, 1, 'after', 2.5, 2, NOW(6))`,
    );
    await primary.query(`UPDATE ${gtidTable} SET val = 'changed', rev = 3 WHERE id = 5`);
    const { sink, query } = await newSink();
    const pipeline = await startFaultPipeline({
      name: 'failover-gtid-start',
      tables: gtidTable,
      mysqlUrl: topology.urlOf(topology.primary),
      sinkUrl: sink.url,
      sourceYaml: `  scan.startup.mode: specific-offset\n  scan.startup.specific-offset.gtid-set: '${state}'`,
    });
    pipelines.push(pipeline);
    const ids = async () =>
      (await query<{ id: string }>(`SELECT id::text AS id FROM ${gtidTable}`).catch(() => []))
        .map((r) => Number(r.id))
        .sort((x, y) => x - y);
    await waitFor(async () => (await ids()).length === 3, { message: 'the changes after the GTID state' });
    expect(await ids()).toEqual([5, 11, 12]);
    expect(pipeline.logs.some((l) => l.includes(`starting at GTID ${state}`))).toBe(true);
    await pipeline.stop();

    // Started by GTID on an idle server: its heartbeat tells where it stands, and the checkpoint moves from the
    // GTID state alone to that file/position (which a restart then resumes from).
    const idle = await startFaultPipeline({
      name: 'failover-gtid-idle',
      tables: gtidTable,
      mysqlUrl: topology.urlOf(topology.primary),
      sinkUrl: sink.url,
      sourceYaml:
        `  scan.startup.mode: specific-offset\n  heartbeat.interval: 1s\n` +
        `  scan.startup.specific-offset.gtid-set: '${await topology.gtidBinlogPos(topology.primary)}'`,
    });
    pipelines.push(idle);
    const [status] = (await primary.query('SHOW MASTER STATUS')) as unknown as [{ File: string; Position: number }[]];
    await waitFor(
      async () => {
        const binlog = (await sinkCheckpoint(query, 'failover-gtid-idle'))?.position.binlog;
        return binlog?.file === status[0]!.File && binlog.pos === Number(status[0]!.Position);
      },
      { message: "the idle server's heartbeat position in the checkpoint" },
    );
    await idle.stop();
    await primary.query(`INSERT INTO ${gtidTable} VALUES (13, 1, 'later', 3.5, 4, NOW(6))`);
    const again = await startFaultPipeline({
      name: 'failover-gtid-idle',
      tables: gtidTable,
      mysqlUrl: topology.urlOf(topology.primary),
      sinkUrl: sink.url,
      sourceYaml: '  heartbeat.interval: 1s',
    });
    pipelines.push(again);
    await waitFor(async () => (await ids()).includes(13), { message: 'the change after the restart' });
    expect(again.logs.some((l) => l.includes(`resuming binlog at ${status[0]!.File}:${status[0]!.Position}`))).toBe(
      true,
    );
    await again.stop();

    // A state the server has not reached, and one of the other flavour, are refused before anything is read.
    const [domain, server, seq] = state.split('-');
    for (const [gtidSet, code] of [
      [`${domain}-${server}-${Number(seq) + 1000}`, 'SOURCE_GTID_BEHIND'],
      ['3e11fa47-71ca-11e1-9e33-c80aa9429562:1-5', 'CONFIG_INVALID'],
    ] as const) {
      const refused = await startFaultPipeline({
        name: uniqueName('gtid_start'),
        tables: gtidTable,
        mysqlUrl: topology.urlOf(topology.primary),
        sinkUrl: sink.url,
        sourceYaml: `  scan.startup.mode: specific-offset\n  scan.startup.specific-offset.gtid-set: '${gtidSet}'`,
        maxRetries: 0,
      });
      pipelines.push(refused);
      const failure = await refused.done.then(
        () => undefined,
        (error: unknown) => error,
      );
      expect((failure as TributaryError | undefined)?.code, String(failure)).toBe(code);
    }
  }, 300_000);

  it('validate says what holds on a replica: log_slave_updates, GTIDs with or without strict mode', async () => {
    const replica1 = topology.replicas[0]!;
    const report = async () => {
      const { yaml, env } = await faultPipelineYaml({
        name: uniqueName('failover_validate'),
        tables: tables.r2,
        mysqlUrl: topology.urlOf(replica1),
        sinkUrl: sinks[0]!.url,
      });
      const def = parsePipelineYaml(yaml, { file: 'pipeline.yaml', env, optionSpecsFor, knownTypes });
      return await composePipeline(def, { log: createLogger({ write: () => {} }) }).validate();
    };
    const strict = await report();
    const messages = strict.checks.map((c) => `${c.status} ${c.message}`);
    expect(messages).toContainEqual(expect.stringMatching(/^ok .* is a replica with log_slave_updates ON/));
    expect(messages).toContainEqual(
      expect.stringMatching(/^ok .*GTIDs with gtid_strict_mode: a checkpoint also resumes/),
    );
    const admin = await mysqlConnect(replica1.url);
    try {
      await admin.query('SET GLOBAL gtid_strict_mode = OFF');
      const loose = await report();
      const warning = loose.checks.find((c) => c.message.includes('gtid_strict_mode is OFF'));
      expect(warning?.status).toBe('warning');
      expect(warning?.fix).toContain('SET GLOBAL gtid_strict_mode = ON');
    } finally {
      await admin.query('SET GLOBAL gtid_strict_mode = ON');
      await admin.end();
    }
  }, 120_000);
});
