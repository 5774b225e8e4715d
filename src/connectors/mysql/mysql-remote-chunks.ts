import type { Connection } from 'mysql2/promise';
import { TributaryError, type RemoteChunks, type Row, type Value } from '../../core/index.js';
import { decodedRows, type ChunkReader } from '../source-kit/index.js';
import type { ChunkRange } from './mysql-chunk-splitter.js';
import type { SnapshotChunk } from './mysql-snapshot-reader.js';
import { MysqlSnapshotReader } from './mysql-snapshot-reader.js';
import { endMysqlConnection } from './mysql-errors.js';
import type { LogPoint } from './mysql-log-point.js';
import { formatHost, type MysqlHost } from './mysql-hosts.js';
import { readServerInfo, type ServerInfo } from './mysql-preflight.js';
import type { MysqlTable } from './mysql-schema-reader.js';

/**
 * Snapshot chunks of a MySQL/MariaDB source read by scale-out snapshot readers: what the capture hands out
 * (the table as the capture knows it at its binlog position, the key range, the server the watermarks must
 * come from) and what a reader sends back (the rows and the chunk's low and high binlog watermarks — exactly
 * what a local {@link MysqlSnapshotReader} produces, so the capture's DBLog merge reconciles it the same way).
 */
export interface MysqlChunkItem {
  /** The server identity (server_uuid, or server_id on MariaDB): binlog positions are that server's. */
  readonly server: string;
  readonly table: MysqlTable;
  readonly lo: Value[] | null;
  readonly hi: Value[] | null;
}

export interface MysqlChunkResult {
  readonly low: LogPoint;
  readonly high: LogPoint;
  readonly rows: Row[];
}

/**
 * The capture's chunk reader over `remote`: each chunk is one work item. Detached (the source kit does not hold
 * the binlog while it waits: see ChunkReader.detached). Closing it abandons the items it waits for.
 */
export function remoteChunkReader(remote: RemoteChunks, server: string): ChunkReader<LogPoint, MysqlTable> {
  const controller = new AbortController();
  return {
    detached: true,
    async readChunk(range: ChunkRange, onHigh: (high: LogPoint) => void): Promise<SnapshotChunk> {
      const item: MysqlChunkItem = { server, table: range.table, lo: range.lo, hi: range.hi };
      const result = checkResult(await remote.read(item, controller.signal));
      onHigh(result.high);
      return { range, rows: result.rows, low: result.low, high: result.high };
    },
    close(): Promise<void> {
      controller.abort();
      return Promise.resolve();
    },
  };
}

/**
 * A snapshot reader's side: reads items on one connection of its own (opened on the first item, opened again
 * after a failure) to the server the capture reads the binlog of — the chunk's watermarks are that server's
 * binlog positions. With several `hosts` (a replication topology) it connects to the one whose identity the item
 * names, so readers follow the capture through a failover: the server it used last first, then the others in
 * the order written.
 */
export class MysqlChunkWorker {
  private session: { conn: Connection; server: ServerInfo; reader: MysqlSnapshotReader; host: MysqlHost } | undefined;
  /** The host the last session was on: tried first next time. */
  private lastHost: MysqlHost | undefined;

  constructor(
    private readonly hosts: readonly MysqlHost[],
    private readonly connect: (host: MysqlHost) => Promise<Connection>,
  ) {}

  async read(raw: unknown): Promise<MysqlChunkResult> {
    const item = checkItem(raw);
    const session = await this.open(item.server);
    try {
      const range: ChunkRange = { table: item.table, lo: item.lo, hi: item.hi };
      const chunk = await session.reader.readChunk(range);
      return { low: chunk.low, high: chunk.high, rows: [...decodedRows(chunk.rows)] };
    } catch (error) {
      await this.close();
      throw error;
    }
  }

  async close(): Promise<void> {
    const session = this.session;
    this.session = undefined;
    if (session) await endMysqlConnection(session.conn);
  }

  /** A session on the server with `identity`: the open one if it is that server, else the first host that is. */
  private async open(identity: string): Promise<NonNullable<MysqlChunkWorker['session']>> {
    if (this.session?.server.identity === identity) return this.session;
    await this.close();
    const last = this.lastHost;
    const order = last ? [last, ...this.hosts.filter((h) => h !== last)] : [...this.hosts];
    const seen: string[] = [];
    let unreachable: Error | undefined;
    for (const host of order) {
      let conn: Connection;
      try {
        conn = await this.connect(host);
      } catch (error) {
        unreachable ??= error instanceof Error ? error : new Error(String(error));
        seen.push(`${formatHost(host)} (unreachable)`);
        continue;
      }
      try {
        const server = await readServerInfo(conn);
        if (server.identity !== identity) {
          seen.push(`${formatHost(host)} (server ${server.identity})`);
          await endMysqlConnection(conn);
          continue;
        }
        const reader = new MysqlSnapshotReader(conn, server.flavor);
        await reader.prepare();
        this.session = { conn, server, reader, host };
        this.lastHost = host;
        return this.session;
      } catch (error) {
        await endMysqlConnection(conn);
        throw error;
      }
    }
    // No host reachable at all: the connection error (retryable) says more than a mismatch would.
    if (unreachable !== undefined && seen.every((s) => s.endsWith('(unreachable)'))) throw unreachable;
    throw new TributaryError(
      'PIPELINE_STATE_MISMATCH',
      `no server this snapshot reader may read is the one the capture reads the binlog of (server ${identity}): ${seen.join(', ')}`,
      {
        hint: "list in source.hostname (or source.hosts) of the snapshot readers the server the capture reads — with a replication topology, every server of it (the chunk watermarks are that server's binlog positions)",
      },
    );
  }
}

function checkItem(raw: unknown): MysqlChunkItem {
  const item = raw as Partial<MysqlChunkItem> | null;
  if (
    item === null ||
    typeof item !== 'object' ||
    typeof item.server !== 'string' ||
    typeof item.table?.schema !== 'object' ||
    !(item.lo === null || Array.isArray(item.lo)) ||
    !(item.hi === null || Array.isArray(item.hi))
  ) {
    throw badMessage('work item');
  }
  return item as MysqlChunkItem;
}

function checkResult(raw: unknown): MysqlChunkResult {
  const result = raw as Partial<MysqlChunkResult> | null;
  if (
    result === null ||
    typeof result !== 'object' ||
    !isLogPoint(result.low) ||
    !isLogPoint(result.high) ||
    !Array.isArray(result.rows)
  ) {
    throw badMessage('result');
  }
  return result as MysqlChunkResult;
}

function isLogPoint(point: unknown): point is LogPoint {
  const p = point as Partial<LogPoint> | null;
  return p !== null && typeof p === 'object' && typeof p.file === 'string' && typeof p.pos === 'number';
}

function badMessage(what: string): TributaryError {
  return new TributaryError('STATE_CORRUPT', `a snapshot chunk ${what} is not a MySQL chunk's`, {
    hint: 'capture and snapshot readers must run the same pipeline file (source type mysql) and Tributary version',
  });
}
