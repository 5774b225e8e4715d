import type { Connection, RowDataPacket } from 'mysql2/promise';
import { TributaryError } from '../../core/index.js';
import {
  addMysqlGtid,
  formatMysqlGtidSet,
  missingMysqlGtids,
  parseMysqlGtidSet,
  type MysqlGtidSet,
} from './protocol/gtid-set.js';

/**
 * The GTID state a checkpoint carries next to its file/position: which transactions the pipeline has applied,
 * named the same on every server of a replication topology (binlog files and positions are not).
 *
 * - MariaDB: the GTID position, one `domain-server-sequence` per replication domain (`0-1-120,1-5-17`), as
 *   `@@gtid_binlog_pos` prints it. With `gtid_strict_mode` sequences only grow within a domain, so a server
 *   whose sequence of a domain is lower has not applied everything the checkpoint has.
 * - MySQL: the executed GTID set (`uuid:1-120`), as `@@gtid_executed` prints it.
 *
 * Which of the two a text is follows from its form (a MySQL set has `:`).
 */
export type GtidFlavor = 'mariadb' | 'mysql';

/** MariaDB GTID position: domain → the last GTID of that domain. */
export type MariadbGtidPos = ReadonlyMap<number, { readonly server: number; readonly seq: bigint }>;

export function gtidFlavorOf(state: string): GtidFlavor {
  return state.includes(':') ? 'mysql' : 'mariadb';
}

/** Parses `0-1-120,1-5-17` (empty text: no domain); throws on bad text. */
export function parseMariadbGtidPos(text: string): MariadbGtidPos {
  const pos = new Map<number, { server: number; seq: bigint }>();
  for (const raw of text.split(',')) {
    const part = raw.trim();
    if (part === '') continue;
    const match = /^(\d+)-(\d+)-(\d+)$/.exec(part);
    if (!match) throw new Error(`'${part}' is not a MariaDB GTID (domain-server-sequence)`);
    const domain = Number(match[1]);
    if (pos.has(domain)) throw new Error(`domain ${domain} appears twice in '${text}'`);
    pos.set(domain, { server: Number(match[2]), seq: BigInt(match[3]!) });
  }
  return pos;
}

export function formatMariadbGtidPos(pos: MariadbGtidPos): string {
  return [...pos.keys()]
    .sort((a, b) => a - b)
    .map((domain) => {
      const { server, seq } = pos.get(domain)!;
      return `${domain}-${server}-${seq}`;
    })
    .join(',');
}

/**
 * A GTID state as `flavor` writes it, or a problem: for `scan.startup.specific-offset.gtid-set` and saved
 * states. Normalized (sorted domains / uuids).
 */
export function normalizeGtidState(text: string, flavor: GtidFlavor): { state: string } | { problem: string } {
  try {
    if (gtidFlavorOf(text) !== flavor && text.trim() !== '') {
      return {
        problem:
          flavor === 'mariadb'
            ? `'${text}' is a MySQL GTID set (uuid:n), but the server is MariaDB (GTIDs are domain-server-sequence)`
            : `'${text}' is a MariaDB GTID position (domain-server-sequence), but the server is MySQL (GTIDs are uuid:n)`,
      };
    }
    return {
      state:
        flavor === 'mariadb'
          ? formatMariadbGtidPos(parseMariadbGtidPos(text))
          : formatMysqlGtidSet(parseMysqlGtidSet(text)),
    };
  } catch (error) {
    return { problem: error instanceof Error ? error.message : String(error) };
  }
}

/**
 * Follows the GTID state through the binlog: seeded with the state at the stream's start, it takes the GTID
 * of every transaction that commits. Without a seed it stays unknown: a partial state would name transactions
 * that were applied as missing, and a server would send them again.
 */
export class GtidTracker {
  private mariadb: Map<number, { server: number; seq: bigint }> | undefined;
  private mysql: MysqlGtidSet | undefined;
  private text: string | undefined;

  /** `seed` '' is a known, empty state (a server without transactions yet): the first GTID tells its flavour. */
  constructor(seed: string | undefined) {
    this.known = seed !== undefined;
    if (seed === undefined || seed.trim() === '') return;
    if (gtidFlavorOf(seed) === 'mariadb') this.mariadb = new Map(parseMariadbGtidPos(seed));
    else this.mysql = parseMysqlGtidSet(seed);
  }

  private readonly known: boolean;

  /** Notes that the transaction with this GTID (`domain-server-seq` or `uuid:gno`) committed. */
  commit(gtid: string | undefined): void {
    if (gtid === undefined || !this.known) return;
    const mariadb = /^(\d+)-(\d+)-(\d+)$/.exec(gtid);
    if (mariadb && this.mysql === undefined) {
      this.mariadb ??= new Map();
      this.mariadb.set(Number(mariadb[1]), { server: Number(mariadb[2]), seq: BigInt(mariadb[3]!) });
      this.text = undefined;
      return;
    }
    const mysql = /^([0-9a-f-]{32,36}):(\d+)$/i.exec(gtid);
    if (mysql && this.mariadb === undefined) {
      const gno = BigInt(mysql[2]!);
      if (gno === 0n) return; // anonymous (gtid_mode OFF): not a GTID
      this.mysql = addMysqlGtid(this.mysql ?? new Map(), mysql[1]!, gno);
      this.text = undefined;
    }
  }

  /** The state after the last commit, or undefined when it is not known. */
  get state(): string | undefined {
    if (!this.known) return undefined;
    if (this.text !== undefined) return this.text;
    if (this.mariadb) return (this.text = formatMariadbGtidPos(this.mariadb));
    if (this.mysql) return (this.text = formatMysqlGtidSet(this.mysql));
    return (this.text = '');
  }
}

/**
 * What `server` lacks of `checkpoint` (both states of one flavour), in words; undefined when it has all of it.
 * MariaDB compares sequences per domain; MySQL asks whether the server's set contains the checkpoint's.
 */
export function gtidsMissing(server: string, checkpoint: string): string | undefined {
  if (gtidFlavorOf(checkpoint) === 'mysql') {
    const missing = missingMysqlGtids(parseMysqlGtidSet(server), parseMysqlGtidSet(checkpoint));
    return missing.size === 0 ? undefined : `it lacks ${formatMysqlGtidSet(missing)}`;
  }
  const have = parseMariadbGtidPos(server);
  const behind: string[] = [];
  for (const [domain, want] of parseMariadbGtidPos(checkpoint)) {
    const own = have.get(domain);
    if (own === undefined) behind.push(`domain ${domain}: none of its ${want.seq} transactions`);
    else if (own.seq < want.seq) {
      behind.push(`domain ${domain}: at ${domain}-${own.server}-${own.seq}, ${want.seq - own.seq} behind`);
    }
  }
  return behind.length === 0 ? undefined : behind.join('; ');
}

/** The server's GTID settings and state, for the resume decision and `validate`. */
export interface ServerGtids {
  /** MariaDB `@@gtid_binlog_pos`, MySQL `@@gtid_executed`; undefined when MySQL's gtid_mode is not ON. */
  readonly state: string | undefined;
  /** MariaDB `gtid_strict_mode`; MySQL `enforce_gtid_consistency`. */
  readonly strict: boolean;
  readonly logReplicaUpdates: boolean;
  /** The server replicates from another (SHOW SLAVE STATUS has a row). */
  readonly isReplica: boolean;
  /** MySQL's gtid_mode (MariaDB always writes GTIDs: 'ON'). */
  readonly mode: string;
}

export async function readServerGtids(conn: Connection, flavor: GtidFlavor): Promise<ServerGtids> {
  const isReplica = await replicates(conn);
  if (flavor === 'mariadb') {
    const [rows] = await conn.query<RowDataPacket[]>(
      'SELECT @@GLOBAL.gtid_binlog_pos AS state, @@GLOBAL.gtid_strict_mode AS strict, @@GLOBAL.log_slave_updates AS lsu',
    );
    const row = rows[0] ?? ({} as RowDataPacket);
    return {
      state: String(row['state'] ?? ''),
      strict: Number(row['strict']) === 1,
      logReplicaUpdates: Number(row['lsu']) === 1,
      isReplica,
      mode: 'ON',
    };
  }
  const [rows] = await conn.query<RowDataPacket[]>(
    'SELECT @@GLOBAL.gtid_mode AS mode, @@GLOBAL.gtid_executed AS state, @@GLOBAL.enforce_gtid_consistency AS strict, @@GLOBAL.log_slave_updates AS lsu',
  );
  const row = rows[0] ?? ({} as RowDataPacket);
  const mode = String(row['mode'] ?? 'OFF').toUpperCase();
  return {
    state: mode === 'ON' ? String(row['state'] ?? '').replace(/\s+/g, '') : undefined,
    strict: ['1', 'ON'].includes(String(row['strict']).toUpperCase()),
    logReplicaUpdates: Number(row['lsu']) === 1,
    isReplica,
    mode,
  };
}

async function replicates(conn: Connection): Promise<boolean> {
  try {
    const [rows] = await conn.query<RowDataPacket[]>('SHOW SLAVE STATUS');
    return rows.length > 0;
  } catch {
    return false; // no privilege to ask: say nothing about it
  }
}

/**
 * MariaDB: the GTID position at binlog `file`:`pos` (`BINLOG_GTID_POS`), or undefined when the server cannot
 * tell (not an event boundary, the file is gone). MySQL has no such function: undefined.
 */
export async function gtidStateAt(
  conn: Connection,
  flavor: GtidFlavor,
  at: { readonly file: string; readonly pos: number },
): Promise<string | undefined> {
  if (flavor !== 'mariadb' || at.file === '') return undefined;
  const [rows] = await conn.query<RowDataPacket[]>('SELECT BINLOG_GTID_POS(?, ?) AS pos', [at.file, at.pos]);
  const pos = rows[0]?.['pos'] as string | null | undefined;
  return pos === null || pos === undefined ? undefined : String(pos);
}

/**
 * Refuses a server that has not applied every transaction of the checkpoint's GTID state (a stale replica):
 * reading it would skip nothing now but deliver the missing transactions later, out of order, or never.
 */
export function checkNotBehind(server: ServerGtids, checkpoint: string, where: string, what = 'the checkpoint'): void {
  if (server.state === undefined) {
    throw new TributaryError(
      'SOURCE_GTID_BEHIND',
      `${where} cannot resume by GTID: its gtid_mode is ${server.mode}, so its binlog names no transaction by GTID`,
      {
        hint: `point the pipeline at a server with gtid_mode=ON that has applied ${checkpoint}, or run with --reset to start over with a new snapshot`,
      },
    );
  }
  const missing = gtidsMissing(server.state, checkpoint);
  if (missing === undefined) return;
  throw new TributaryError(
    'SOURCE_GTID_BEHIND',
    `${where} is behind ${what} (${checkpoint}): its binlog ends at ${server.state || '(no GTID)'}, so ${missing}. ` +
      'A stale replica (replication stopped or lagging), or a server promoted before it had caught up',
    {
      hint:
        `let it catch up (START SLAVE, then SELECT MASTER_GTID_WAIT('${checkpoint}') on it) or point the pipeline at ` +
        'the primary or an up-to-date replica (source.hostname / source.hosts); --reset would skip these transactions only to re-snapshot everything',
    },
  );
}

/**
 * SHOW MASTER STATUS (MySQL 8.4: SHOW BINARY LOG STATUS) in one row: the binlog end and, on MySQL, the
 * executed GTID set at exactly that point (MariaDB has no such column: see {@link gtidStateAt}).
 */
export async function binlogStatus(
  conn: Connection,
): Promise<{ readonly file: string; readonly pos: number; readonly executedGtidSet?: string }> {
  let rows: RowDataPacket[];
  try {
    [rows] = await conn.query<RowDataPacket[]>('SHOW MASTER STATUS');
  } catch (error) {
    if ((error as { errno?: number }).errno !== 1064) throw error;
    [rows] = await conn.query<RowDataPacket[]>('SHOW BINARY LOG STATUS');
  }
  const row = rows[0];
  if (!row) {
    throw new TributaryError('SOURCE_BINLOG_DISABLED', 'the server reports no binlog position: binary logging is off', {
      hint: 'set log_bin=mysql-bin and server_id=1 in the server configuration and restart it',
    });
  }
  const executed: unknown = row['Executed_Gtid_Set'];
  return {
    file: String(row['File']),
    pos: Number(row['Position']),
    ...(typeof executed === 'string' ? { executedGtidSet: executed } : {}),
  };
}
