import type { Connection } from 'mysql2/promise';
import { TributaryError, type ValidationCheck } from '../../core/index.js';
import type { Logger } from '../../core/logger.js';
import { checkNotBehind, gtidFlavorOf, gtidStateAt, readServerGtids, type GtidFlavor } from './mysql-gtid.js';
import { formatHost, hostsToTry, type MysqlHost } from './mysql-hosts.js';
import { endMysqlConnection } from './mysql-errors.js';
import { formatBinlogOffset, type BinlogOffset, type MysqlPosition } from './mysql-offset.js';
import type { ServerInfo } from './mysql-preflight.js';

/**
 * Failover: which server of the topology the source reads, and whether a checkpoint resumes there by its
 * binlog file/position (the fast path, on the server that wrote it) or by its GTID state (any other server
 * that has applied every transaction of it).
 */

/** Errors after which the next host of the list is tried. */
const TRY_NEXT: ReadonlySet<string> = new Set([
  'SOURCE_UNREACHABLE',
  'SOURCE_CONNECTION_LOST',
  'SOURCE_TIMEOUT',
  'SOURCE_GTID_BEHIND',
  'PIPELINE_STATE_MISMATCH',
  'SOURCE_BINLOG_PURGED',
]);

/** The position a saved checkpoint can be read from on the server it now talks to. */
const BY_GTID_INSTEAD: ReadonlySet<string> = new Set(['PIPELINE_STATE_MISMATCH', 'SOURCE_BINLOG_PURGED']);

export interface ServerChoice<T> {
  readonly host: MysqlHost;
  readonly conn: Connection;
  readonly server: ServerInfo;
  readonly result: T;
}

export interface ChooseServerOptions<T> {
  readonly hosts: readonly MysqlHost[];
  /** `host:port` to try first (the checkpoint's). */
  readonly preferred: string | undefined;
  readonly log: Logger;
  /** Makes `host` the source's server (its configuration and endpoint). */
  readonly use: (host: MysqlHost) => void;
  /** Connects to the server in use; throws TributaryErrors. */
  readonly connect: () => Promise<Connection>;
  readonly serverInfo: (conn: Connection) => Promise<ServerInfo>;
  /** What must hold on the server before it is chosen (the resume plan); throws TributaryErrors. */
  readonly check: (conn: Connection, server: ServerInfo, host: MysqlHost) => Promise<T>;
  /** Classifies an error of `check` / `serverInfo` (mysqlError). */
  readonly classify: (error: unknown) => TributaryError;
}

/**
 * Connects to the first host that answers and passes `check`, in the order of {@link hostsToTry}. With one
 * host its error is thrown as it is; with several, each failure that another server may not have (unreachable,
 * lost, stale, not the checkpoint's binlog) is logged and the next host tried. When none is left, the first
 * retryable failure is thrown (the run is retried, a server may come back), else the first failure.
 */
export async function chooseServer<T>(options: ChooseServerOptions<T>): Promise<ServerChoice<T>> {
  const order = hostsToTry(options.hosts, options.preferred);
  const failures: TributaryError[] = [];
  for (const [i, host] of order.entries()) {
    options.use(host);
    try {
      const conn = await options.connect();
      try {
        const server = await options.serverInfo(conn);
        const result = await options.check(conn, server, host);
        if (failures.length > 0) {
          options.log.warn(
            `source: switched to ${formatHost(host)} (${server.version}, server_id ${server.serverId}) after ` +
              `${failures.length} other ${failures.length === 1 ? 'host' : 'hosts'} failed`,
          );
        }
        return { host, conn, server, result };
      } catch (error) {
        await endMysqlConnection(conn);
        throw options.classify(error);
      }
    } catch (error) {
      const failure = error instanceof TributaryError ? error : options.classify(error);
      if (order.length === 1 || !TRY_NEXT.has(failure.code)) throw failure;
      failures.push(failure);
      const next = order[i + 1];
      options.log.warn(
        `source: ${formatHost(host)} cannot be read: [${failure.code}] ${failure.message}; ` +
          (next ? `trying ${formatHost(next)}` : 'no other host left'),
      );
    }
  }
  throw failures.find((f) => f.retryable) ?? failures[0]!;
}

export interface ResumePlanOptions {
  readonly conn: Connection;
  readonly resume: MysqlPosition;
  readonly server: ServerInfo;
  /** `host:port`, for messages. */
  readonly where: string;
  /** Proves that the saved file/position is this server's (identity, binlog, fingerprint); throws otherwise. */
  readonly samePosition: () => Promise<void>;
  /** `failover.resume-by-gtid`: whether another server may take the checkpoint by GTID. */
  readonly byGtidAllowed: boolean;
  readonly log: Logger;
}

/**
 * Where a saved checkpoint resumes on this server. Its file/position when the server proves to be the one that
 * wrote them (the fast path; a checkpoint of an older version gets its GTID state here, MariaDB). Otherwise —
 * another server's binlog (PIPELINE_STATE_MISMATCH), or one that no longer has the position — by the
 * checkpoint's GTID state, after checking that the server has applied all of it (SOURCE_GTID_BEHIND if not).
 * The returned offset has file '' when it resumes by GTID (see BinlogOffset).
 */
export async function planResume(options: ResumePlanOptions): Promise<BinlogOffset> {
  const { conn, resume, server } = options;
  const saved = resume.binlog;
  const state = saved.gtidState;
  const usable = state !== undefined && (state === '' || gtidFlavorOf(state) === server.flavor);
  if (saved.file === '' && state !== undefined) {
    return await byGtid(options, 'the checkpoint names its position by GTID only');
  }
  try {
    await options.samePosition();
  } catch (error) {
    if (!(error instanceof TributaryError) || !BY_GTID_INSTEAD.has(error.code) || !usable) throw error;
    if (!options.byGtidAllowed) {
      throw new TributaryError(error.code, error.message, {
        cause: error,
        hint:
          `${error.hint ?? ''}. If this server is another member of the replication topology the checkpoint was read ` +
          'from (a failover), set source.failover.resume-by-gtid: true (or list the servers in source.hosts) to ' +
          `resume here by the checkpoint's GTID state ${state}`,
      });
    }
    return await byGtid(options, error.message);
  }
  if (state !== undefined) return saved;
  const at = await gtidStateAt(conn, server.flavor, saved).catch(() => undefined);
  return at === undefined ? saved : { ...saved, gtidState: at };
}

async function byGtid(options: ResumePlanOptions, reason: string): Promise<BinlogOffset> {
  const { conn, resume, server, where } = options;
  const state = resume.binlog.gtidState!;
  checkNotBehind(await readServerGtids(conn, server.flavor), state, where);
  const offset: BinlogOffset = { file: '', pos: 4, skipRows: resume.binlog.skipRows, gtidState: state };
  options.log.info(
    `${where} is not where the checkpoint's file/position ${formatBinlogOffset(resume.binlog)} can be read ` +
      `(${reason}); it has every transaction of the checkpoint, so the binlog resumes by ${formatBinlogOffset(offset)}`,
  );
  return offset;
}

/**
 * What `validate` says about failover: whether a checkpoint of this server can be resumed on another server
 * of its topology (GTIDs), and what reading a replica needs. One server's settings; `where` names it.
 */
export async function gtidGuarantees(
  conn: Connection,
  flavor: GtidFlavor,
  where: string,
): Promise<{ checks: string[]; warnings: ValidationCheck[] }> {
  const gtids = await readServerGtids(conn, flavor);
  const checks: string[] = [];
  const warnings: ValidationCheck[] = [];
  const warn = (message: string, fix: string): void => {
    warnings.push({ status: 'warning', message, fix });
  };
  if (gtids.isReplica && !gtids.logReplicaUpdates) {
    warn(
      `${where} is a replica with log_slave_updates OFF: the transactions it replicates are not in its binlog, so the pipeline would not see them`,
      'set log_slave_updates=ON (MySQL 8: log_replica_updates) in the server configuration and restart it, or read the primary',
    );
  } else if (gtids.isReplica) {
    checks.push(
      `${where} is a replica with log_slave_updates ON: its binlog holds the primary's transactions, behind the primary by the replica's lag`,
    );
  }
  if (gtids.state === undefined) {
    warn(
      `${where}: gtid_mode is ${gtids.mode}: checkpoints hold only a binlog file and position, which are valid on this server alone. ` +
        'Resume works here; after a failover to another server the pipeline stops (PIPELINE_STATE_MISMATCH) and needs --reset',
      'enable GTIDs (gtid_mode=ON, enforce_gtid_consistency=ON) on every server of the topology',
    );
    return { checks, warnings };
  }
  if (gtids.strict) {
    checks.push(
      `${where}: GTIDs ${flavor === 'mariadb' ? 'with gtid_strict_mode' : 'with enforce_gtid_consistency'}: a checkpoint also resumes on any other server of the topology that has applied it (by GTID; file/position on this one)`,
    );
  } else {
    warn(
      flavor === 'mariadb'
        ? `${where}: gtid_strict_mode is OFF: a resume on another server by GTID relies on sequence numbers growing within a replication domain, which only strict mode enforces; a server with out-of-order GTIDs could be taken as up to date`
        : `${where}: enforce_gtid_consistency is OFF: a resume on another server by GTID may miss statements that cannot be logged with a GTID`,
      flavor === 'mariadb'
        ? 'SET GLOBAL gtid_strict_mode = ON, and gtid_strict_mode = ON in the configuration of every server of the topology'
        : 'enforce_gtid_consistency=ON on every server of the topology',
    );
  }
  return { checks, warnings };
}

/** Refuses a startup GTID state the server has not reached; the message names the option. */
export async function checkStartupGtidState(conn: Connection, flavor: GtidFlavor, state: string, where: string) {
  checkNotBehind(await readServerGtids(conn, flavor), state, where, 'source.scan.startup.specific-offset.gtid-set');
}
