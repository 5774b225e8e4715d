import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createConnection, type Connection } from 'mysql2/promise';
import { MysqlChunkWorker, type MysqlChunkItem } from '../src/connectors/mysql/mysql-remote-chunks.js';
import { readServerInfo } from '../src/connectors/mysql/mysql-preflight.js';
import { readTableSchemas } from '../src/connectors/mysql/mysql-schema-reader.js';
import type { MysqlHost } from '../src/connectors/mysql/mysql-hosts.js';
import type { MysqlTable } from '../src/connectors/mysql/mysql-schema-reader.js';
import type { EmbeddedServer } from '../src/embedded/embedded-server.js';
import { startMariadbTopology, type MariadbTopology } from './harness/mariadb-topology.js';
import { mysqlConnect } from './harness/faults.js';
import { freePort } from './harness/nats-server.js';

/**
 * A scale-out snapshot reader reads a chunk on the server the capture reads the binlog of (the item names its
 * identity): with several hosts it finds that server among them — after a failover the capture moved on, and
 * the readers must follow. The replica holds one row the primary lacks (written with sql_log_bin = 0), so the
 * rows read tell which server answered.
 */
describe('snapshot reader: the chunk is read on the server the capture reads', () => {
  let topology: MariadbTopology;
  let replica: EmbeddedServer;
  let table: MysqlTable;
  const identities = new Map<EmbeddedServer, string>();
  const hostOf = (server: EmbeddedServer): MysqlHost => ({ host: server.host, port: server.port });
  const connect = (host: MysqlHost): Promise<Connection> =>
    createConnection({
      host: host.host,
      port: host.port,
      user: topology.user,
      password: topology.password,
      connectTimeout: 3_000,
      supportBigNumbers: true,
      bigNumberStrings: true,
      dateStrings: true,
      charset: 'utf8mb4',
    });
  const item = (server: EmbeddedServer): MysqlChunkItem => ({
    server: identities.get(server)!,
    table,
    lo: null,
    hi: null,
  });

  beforeAll(async () => {
    topology = await startMariadbTopology(1);
    replica = topology.replicas[0]!;
    const primary = await mysqlConnect(topology.primary.url);
    try {
      await primary.query('CREATE DATABASE shop');
      await primary.query('USE shop');
      await primary.query('CREATE TABLE shop.items (id INT PRIMARY KEY, v VARCHAR(20))');
      await primary.query("INSERT INTO shop.items SELECT seq, CONCAT('v', seq) FROM seq_1_to_100");
      table = (await readTableSchemas(primary, [{ namespace: 'shop', name: 'items' }])).get('shop.items')!;
    } finally {
      await primary.end();
    }
    await topology.caughtUp(replica);
    const onReplica = await mysqlConnect(replica.url);
    try {
      await onReplica.query("SET sql_log_bin = 0; INSERT INTO shop.items VALUES (101, 'only on the replica')");
    } finally {
      await onReplica.end();
    }
    for (const server of [topology.primary, replica]) {
      const conn = await connect(hostOf(server));
      identities.set(server, (await readServerInfo(conn)).identity);
      await conn.end();
    }
    expect(identities.get(topology.primary)).not.toBe(identities.get(replica));
  }, 180_000);

  afterAll(async () => {
    await topology?.stop();
  });

  it('finds the named server among the hosts, and follows when the item names another', async () => {
    const worker = new MysqlChunkWorker([hostOf(replica), hostOf(topology.primary)], connect);
    try {
      const fromPrimary = await worker.read(item(topology.primary));
      expect(fromPrimary.rows).toHaveLength(100);
      // The capture moved to the replica (a failover): the next item names it.
      const fromReplica = await worker.read(item(replica));
      expect(fromReplica.rows).toHaveLength(101);
      expect(fromReplica.rows.some((row) => row[1] === 'only on the replica')).toBe(true);
    } finally {
      await worker.close();
    }
  });

  it('passes over a host that does not answer', async () => {
    const dead: MysqlHost = { host: '127.0.0.1', port: await freePort() };
    const worker = new MysqlChunkWorker([dead, hostOf(topology.primary)], connect);
    try {
      expect((await worker.read(item(topology.primary))).rows).toHaveLength(100);
    } finally {
      await worker.close();
    }
  });

  it('refuses with PIPELINE_STATE_MISMATCH, naming what it found, when no host is that server', async () => {
    const worker = new MysqlChunkWorker([hostOf(replica)], connect);
    try {
      const error = await worker.read(item(topology.primary)).catch((e: unknown) => e);
      expect(error).toMatchObject({ code: 'PIPELINE_STATE_MISMATCH' });
      expect(String((error as Error).message)).toContain(identities.get(replica)!);
      expect(String((error as { hint?: string }).hint)).toContain('source.hostname');
    } finally {
      await worker.close();
    }
  });
});
