import { randomBytes } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import type { Connection, RowDataPacket } from 'mysql2/promise';
import { startEmbeddedMariadb } from '../../src/embedded/embedded-mariadb.js';
import type { EmbeddedServer } from '../../src/embedded/embedded-server.js';
import { waitFor } from './databases.js';
import { mysqlConnect } from './faults.js';

/**
 * A MariaDB replication topology on private ports: a primary (server_id 1) and replicas (server_id 2, 3, …),
 * each replicating from the primary by GTID (`MASTER_USE_GTID = slave_pos`), all with `log_slave_updates` and
 * `gtid_strict_mode` on, so every server's binlog holds every transaction under the same GTID.
 */
export interface MariadbTopology {
  readonly primary: EmbeddedServer;
  readonly replicas: readonly EmbeddedServer[];
  /** A user with every privilege on every server (created on the primary, replicated), for pipelines. */
  readonly user: string;
  readonly password: string;
  /** `mysql://user:password@host:port` of `server` for {@link user}. */
  urlOf(server: EmbeddedServer): string;
  /** Resolves once `replica` has applied every transaction the primary has committed so far. */
  caughtUp(replica: EmbeddedServer, timeoutMs?: number): Promise<void>;
  /** `@@gtid_binlog_pos` of a server. */
  gtidBinlogPos(server: EmbeddedServer): Promise<string>;
  /** Ends the server's process with SIGKILL (a crash: no clean shutdown); its data stays. */
  kill(server: EmbeddedServer): Promise<void>;
  /** Stops every server and removes their data. */
  stop(): Promise<void>;
}

export async function startMariadbTopology(replicaCount: number): Promise<MariadbTopology> {
  const servers: EmbeddedServer[] = [];
  try {
    const common = ['--log-slave-updates=ON', '--gtid-strict-mode=ON', '--slave-net-timeout=5'];
    servers.push(await startEmbeddedMariadb({ extraArgs: ['--server-id=1', ...common] }));
    for (let i = 0; i < replicaCount; i++) {
      servers.push(await startEmbeddedMariadb({ extraArgs: [`--server-id=${i + 2}`, ...common] }));
    }
    const [primary, ...replicas] = servers as [EmbeddedServer, ...EmbeddedServer[]];
    const user = 'tributary';
    const password = randomBytes(9).toString('hex');
    // Before the replicas start: the account reaches them by replication, as the same user on every server.
    await withConnection(primary, async (conn) => {
      await conn.query(`CREATE USER '${user}'@'%' IDENTIFIED BY '${password}'`);
      await conn.query(`GRANT ALL PRIVILEGES ON *.* TO '${user}'@'%'`);
    });
    for (const replica of replicas) {
      await withConnection(replica, async (conn) => {
        await conn.query(
          `CHANGE MASTER TO MASTER_HOST = ?, MASTER_PORT = ?, MASTER_USER = ?, MASTER_PASSWORD = ?, ` +
            'MASTER_USE_GTID = slave_pos, MASTER_CONNECT_RETRY = 1',
          [primary.host, primary.port, primary.user, primary.password],
        );
        await conn.query('START SLAVE');
      });
    }
    const gtidBinlogPos = (server: EmbeddedServer) =>
      withConnection(server, async (conn) => {
        const [rows] = await conn.query<RowDataPacket[]>('SELECT @@GLOBAL.gtid_binlog_pos AS pos');
        return String(rows[0]?.['pos'] ?? '');
      });
    const caughtUp = async (replica: EmbeddedServer, timeoutMs = 120_000) => {
      const target = await gtidBinlogPos(primary);
      await withConnection(replica, async (conn) => {
        await waitFor(
          async () => {
            const [rows] = await conn.query<RowDataPacket[]>('SELECT MASTER_GTID_WAIT(?, 1) AS r', [target]);
            return Number(rows[0]?.['r']) === 0;
          },
          { timeoutMs, message: `replica ${replica.port} to reach ${target}` },
        );
      });
    };
    for (const replica of replicas) await caughtUp(replica);
    return {
      primary,
      replicas,
      user,
      password,
      urlOf: (server) => `mysql://${user}:${password}@${server.host}:${server.port}`,
      caughtUp,
      gtidBinlogPos,
      kill: async (server) => {
        const pid = Number((await readFile(join(dirname(server.dataDir), 'mariadbd.pid'), 'utf8')).trim());
        process.kill(pid, 'SIGKILL');
        // Gone once its port refuses connections.
        await waitFor(
          async () => {
            try {
              await (await mysqlConnect(server.url)).end();
              return false;
            } catch {
              return true;
            }
          },
          { timeoutMs: 30_000, message: `the server on port ${server.port} to die` },
        );
      },
      stop: async () => {
        await Promise.allSettled(servers.map((s) => s.stop()));
      },
    };
  } catch (error) {
    await Promise.allSettled(servers.map((s) => s.stop()));
    throw error;
  }
}

async function withConnection<T>(server: EmbeddedServer, use: (conn: Connection) => Promise<T>): Promise<T> {
  const conn = await mysqlConnect(server.url);
  try {
    return await use(conn);
  } finally {
    await conn.end().catch(() => undefined);
  }
}
