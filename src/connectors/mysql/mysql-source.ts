import { createConnection, type Connection } from 'mysql2/promise';
import {
  keyBoundValues,
  keyRowOf,
  plural,
  TributaryError,
  tableIdToString,
  type ChangeBatch,
  type ChangeEvent,
  type KeyOverlap,
  type TableKey,
  type OptionValues,
  type RemoteChunks,
  type RepairOutcome,
  type RepairRequest,
  type Row,
  type Source,
  type SourceDescription,
  type SourcePosition,
  type SourceInfo,
  type SourceProgress,
  type TableChecksums,
} from '../../core/index.js';
import type { TableSelector } from '../../core/table-selector.js';
import type { Logger } from '../../core/logger.js';
import { verifyFingerprint, type BinlogFingerprint } from './mysql-binlog-fingerprint.js';
import type { BinlogStep } from './mysql-binlog-step.js';
import { openMysqlBinlogReader } from './mysql-binlog-reader.js';
import { endMysqlConnection, mysqlError, type MysqlEndpoint } from './mysql-errors.js';
import { guardPromiseConnection } from './protocol/mysql2-connection-guard.js';
import { formatBinlogOffset, isMysqlPosition, type BinlogOffset, type MysqlPosition } from './mysql-offset.js';
import {
  checkBinlogSettings,
  checkChunkKeyColumn,
  checkKeys,
  checkOffsetAvailable,
  checkReplicationPrivileges,
  checkSelectPrivilege,
  readServerInfo,
  type ServerInfo,
} from './mysql-preflight.js';
import { compareKeyRanges } from './mysql-key-overlap.js';
import { listTables, readTableSchemas, type MysqlTable } from './mysql-schema-reader.js';
import { mysqlSourceConfig, type MysqlSourceConfig } from './mysql-source-config.js';
import type { LogPoint } from './mysql-log-point.js';
import { mysqlSourceDialect } from './mysql-source-dialect.js';
import { describeTls, openWithTls } from './mysql-tls.js';
import { privilegeReport } from './mysql-privileges.js';
import { readCharsetDefaults } from './ddl/ddl-charset-reader.js';
import {
  checkServerTimeZone,
  checkStartupOptions,
  defaultServerId,
  sourceOptionWarnings,
  startupOffset,
} from './mysql-startup-offset.js';
import { isShadowTableName } from './mysql-online-schema-change.js';
import { MysqlDdlFollower, tableSchemaEvent } from './mysql-ddl-follower.js';
import { MysqlSchemaHistory } from './mysql-schema-history.js';
import { addTables, changeIndexText, DblogMerge, startSnapshot, type SnapshotProgress } from '../source-kit/index.js';
import { mysqlChecksums } from './mysql-checksums.js';
import { chooseServer, gtidGuarantees, planResume } from './mysql-failover.js';
import { formatHost, type MysqlHost } from './mysql-hosts.js';
import { BinlogLagPoller } from './mysql-binlog-lag.js';
import { MysqlChunkWorker, remoteChunkReader } from './mysql-remote-chunks.js';

export interface MysqlSourceContext {
  readonly log: Logger;
  readonly pipelineName: string;
  /** How many snapshot chunks are read at once (`pipeline.parallelism`). */
  readonly parallelism?: number;
  /** The `tables` option, parsed (and `tables.exclude`). */
  readonly include: readonly TableSelector[];
  readonly exclude: readonly TableSelector[];
  /** Snapshot chunks read by scale-out snapshot readers instead of on connections of this source. */
  readonly remoteChunks?: RemoteChunks;
}

/** Creates the MySQL/MariaDB source (`type: mysql`): snapshot by primary-key chunks, then the binlog. */
export function mysqlSource(options: OptionValues, context: MysqlSourceContext): Source {
  return new MysqlSource(mysqlSourceConfig(options), context);
}

/**
 * Reads a consistent snapshot and then the binlog, merged into one stream in source history order per key by
 * the source kit's {@link DblogMerge}: this class gives it the MySQL dialect (mysql-source-dialect.ts) and
 * applies the binlog steps — the resume position inside transactions, GTIDs, fingerprints, DDL.
 */
class MysqlSource implements Source {
  /** The server in use; with several hosts, {@link openTopology} moves both on. */
  private endpoint: MysqlEndpoint;
  private conn: Connection | undefined;
  private server: ServerInfo | undefined;
  /** The DBLog merge of the binlog with the snapshot chunks, and the snapshot progress. */
  private readonly merge: DblogMerge<LogPoint, BinlogStep, MysqlTable>;
  /** The captured tables' schemas at the last binlog event processed (see MysqlSchemaHistory). */
  private readonly history: MysqlSchemaHistory;

  // Resume position of what has been emitted.
  private lastEnd: LogPoint = { file: '', pos: 4 };
  private txnStart: LogPoint | undefined;
  /** The fingerprints of `lastEnd` and `txnStart`: the events before them, checked on resume. */
  private lastEndPrint: BinlogFingerprint | undefined;
  private txnStartPrint: BinlogFingerprint | undefined;
  private rowsInTxn = 0;
  private skipRows = 0;
  /** GTID of the last committed transaction: the one `lastEnd` / `txnStart` follow. */
  private gtid: string | undefined;
  /** GTID of the transaction in progress. */
  private txnGtid: string | undefined;
  /** The GTID state at `lastEnd` / `txnStart` (see mysql-gtid.ts), when known. */
  private gtidState: string | undefined;
  private readonly binlogLag = new BinlogLagPoller(
    () => this.connect('measuring the binlog lag'),
    () => this.context.log,
  );
  private lastEventTsMs = 0;

  /** `db.table` → estimated rows (information_schema statistics) of the tables this run snapshots. */
  private snapshotEstimates = new Map<string, number>();
  /** Drop binlog row changes committed before this time (startup mode `timestamp`). */
  private skipBeforeMs = 0;

  constructor(
    private config: MysqlSourceConfig,
    private readonly context: MysqlSourceContext,
  ) {
    this.endpoint = { host: config.host, port: config.port, user: config.user };
    context.log.addSecret(config.password);
    this.history = new MysqlSchemaHistory({
      isCaptured: (id) => this.isCaptured(id.namespace, id.name),
      server: () => this.server,
      ...(config.chunkKeyColumn === undefined ? {} : { keyOverride: config.chunkKeyColumn }),
      typeOptions: config,
    });
    this.merge = new DblogMerge({
      log: context.log,
      logName: 'binlog',
      tableFor: (key) => this.tables.get(key),
      chunkSize: config.chunkSize,
      // Remote readers: as many chunks out as the queue hands out at once; each reader keeps its own rate cap.
      parallelism: context.remoteChunks?.inFlight ?? context.parallelism ?? 1,
      rowsPerSecond: context.remoteChunks ? undefined : config.snapshotRowsPerSecond,
      applyStep: (step, out) => this.applyStep(step, out),
      position: () => this.position(),
      snapshotError: (error) => mysqlError(error, this.endpoint, 'reading a snapshot chunk'),
    });
    this.ddl = new MysqlDdlFollower({
      history: this.history,
      config,
      log: context.log,
      connection: () => this.conn,
      flavor: () => this.server?.flavor,
      isCaptured: (namespace, name) => this.isCaptured(namespace, name),
      snapshotTable: (key) => this.startTableSnapshot(key),
      forgetSnapshotTable: (key) => this.merge.forgetTable(key),
      inSnapshot: (key) => this.merge.inSnapshot(key),
    });
  }

  /** Turns DDL from the binlog into schema events (see MysqlDdlFollower). */
  private readonly ddl: MysqlDdlFollower;

  /** The captured tables, as the binlog has left them so far. */
  private get tables(): ReadonlyMap<string, MysqlTable> {
    return this.history.tables;
  }

  async validate(): Promise<SourceDescription> {
    const conn = await this.connect('validating the source');
    try {
      const checks: string[] = [];
      const server = await readServerInfo(conn);
      checks.push(`connected to ${server.version} at ${this.endpoint.host}:${this.endpoint.port}`);
      checks.push(await describeTls(conn, this.config.tls));
      checkStartupOptions(this.config);
      const binlog = await checkBinlogSettings(conn);
      checks.push(...binlog.checks);
      const gtid = await gtidGuarantees(conn, server.flavor, `${this.endpoint.host}:${this.endpoint.port}`);
      checks.push(...gtid.checks);
      const zone = await checkServerTimeZone(conn, this.config);
      if (zone.status === 'ok') checks.push(zone.message);
      checks.push(await checkReplicationPrivileges(conn, this.endpoint));
      const tables = await this.discover(conn);
      await checkSelectPrivilege(
        conn,
        [...tables.values()].map((t) => t.schema.id),
        this.endpoint,
      );
      checks.push(`${plural(tables.size, 'table')} matched, each with a key and SELECT granted`);
      const grants = await privilegeReport(conn, this.endpoint, [
        ...new Set([...tables.values()].map((t) => t.schema.id.namespace)),
      ]);
      checks.push(grants.check);
      const warnings = [
        ...grants.warnings,
        ...sourceOptionWarnings(this.config),
        ...(zone.status === 'ok' ? [] : [zone]),
        ...binlog.warnings,
        ...gtid.warnings,
        ...(await checkChunkKeyColumn(conn, tables.values(), this.config.chunkKeyColumn)),
      ];
      return { tables: [...tables.values()].map((t) => t.schema), checks, warnings };
    } catch (error) {
      throw mysqlError(error, this.endpoint, 'validating the source');
    } finally {
      await endMysqlConnection(conn);
    }
  }

  async checkResume(position: SourcePosition): Promise<string> {
    const resume = savedPosition(position);
    const { conn, result } = await this.openTopology(resume, 'checking the saved position');
    await endMysqlConnection(conn);
    const start = result ?? resume.binlog;
    if (start.file === '') {
      return `the saved position resumes on ${this.endpoint.host}:${this.endpoint.port} by ${formatBinlogOffset(start)} (another server of the topology, which has every transaction of it)`;
    }
    return `the saved position ${formatBinlogOffset(resume.binlog)} is in this server's binlog${
      resume.binlog.fingerprint && this.config.startupMode !== 'snapshot' ? ' (fingerprint matches)' : ''
    }`;
  }

  async keyOverlaps(tables: readonly TableKey[]): Promise<KeyOverlap[]> {
    const conn = await this.connect('comparing the keys of merged tables');
    try {
      return await compareKeyRanges(conn, tables);
    } catch (error) {
      throw mysqlError(error, this.endpoint, 'comparing the keys of merged tables');
    } finally {
      await conn.end().catch(() => {});
    }
  }

  /**
   * A saved position can be resumed here: taken from this server (its identity, and the fingerprint of the
   * events before it), and still in its binlog.
   */
  private async verifyResume(conn: Connection, resume: MysqlPosition, server: ServerInfo): Promise<void> {
    if (resume.serverUuid && resume.serverUuid !== server.identity) {
      throw new TributaryError(
        'PIPELINE_STATE_MISMATCH',
        `the saved position belongs to server ${resume.serverUuid}, but ${this.endpoint.host}:${this.endpoint.port} is ${server.identity}`,
        {
          hint: 'point the pipeline at the server it was reading, or run with --reset to start over with a new snapshot',
        },
      );
    }
    const start = resume.binlog;
    await checkOffsetAvailable(conn, start, true);
    if (start.fingerprint && this.config.startupMode !== 'snapshot') {
      const replicaId = this.config.serverId ?? defaultServerId(this.context.pipelineName, server.serverId);
      await verifyFingerprint(this.config, replicaId, start, start.fingerprint);
    }
  }

  /**
   * Connects to the first server of `source.hosts` that can be read (see mysql-failover.ts) and, for a saved
   * position, plans where it resumes there: file/position on the server that wrote it, by GTID on another.
   */
  private async openTopology(
    resume: MysqlPosition | undefined,
    during: string,
  ): Promise<{ conn: Connection; server: ServerInfo; result: BinlogOffset | undefined }> {
    const base = this.config;
    return await chooseServer({
      hosts: base.hosts,
      preferred: resume?.host,
      log: this.context.log,
      use: (host) => {
        this.config = { ...base, host: host.host, port: host.port };
        this.endpoint = { host: host.host, port: host.port, user: base.user };
      },
      connect: () => this.connect(during),
      serverInfo: readServerInfo,
      check: async (conn, server) =>
        resume === undefined
          ? undefined
          : await planResume({
              conn,
              resume,
              server,
              where: `${this.endpoint.host}:${this.endpoint.port}`,
              samePosition: () => this.verifyResume(conn, resume, server),
              byGtidAllowed: base.resumeByGtid,
              log: this.context.log,
            }),
      classify: (error) => mysqlError(error, this.endpoint, during),
    });
  }

  async open(resume: SourcePosition | null): Promise<void> {
    const saved = resume !== null && isMysqlPosition(resume) ? resume : undefined;
    const chosen = await this.openTopology(saved, 'connecting');
    const conn = (this.conn = chosen.conn);
    try {
      this.server = chosen.server;
      await checkBinlogSettings(conn);
      const current = await this.discover(conn);
      const saved = resume === null ? undefined : savedPosition(resume).schemas;
      const databases = new Set([...current.values()].map((t) => t.schema.id.namespace));
      for (const table of Object.values(saved?.tables ?? {})) databases.add(table.schema.id.namespace);
      this.history.load(current, await readCharsetDefaults(conn, [...databases]), saved);
      let start: BinlogOffset;
      let snapshot: SnapshotProgress | undefined;
      if (resume !== null && isMysqlPosition(resume)) {
        start = chosen.result ?? resume.binlog;
        snapshot = resume.snapshot;
        // Tables matched now but not when the position was taken (a widened pattern) are snapshotted while
        // the binlog continues from the saved position for the others.
        if (resume.capturedTables && this.config.startupMode !== 'latest-offset') {
          const known = new Set(resume.capturedTables);
          const added = [...this.tables.keys()].filter((t) => !known.has(t)).sort();
          if (added.length > 0) {
            this.context.log.info(
              `${plural(added.length, 'new table')} matched since the last run: ${added.join(', ')}`,
            );
          }
          snapshot = addTables(snapshot, added);
        }
        this.context.log.info(
          `resuming binlog at ${formatBinlogOffset(start)}${snapshot ? `, ${plural(snapshot.tables.length, 'table')} left to snapshot` : ''}`,
        );
      } else {
        start = await this.firstOffset(conn);
        if (this.config.startupMode === 'initial' || this.config.startupMode === 'snapshot') {
          snapshot = startSnapshot([...this.tables.keys()].sort());
        }
        this.context.log.info(`starting at ${formatBinlogOffset(start)} (${this.config.startupMode})`);
      }
      this.lastEnd = { file: start.file, pos: start.pos };
      this.lastEndPrint = start.fingerprint;
      this.skipRows = start.skipRows;
      this.gtid = start.gtid;
      this.gtidState = start.gtidState;
      if (snapshot)
        this.snapshotEstimates = await readRowEstimates(
          conn,
          snapshot.tables.map((t) => t.table),
        );
      const remote = this.context.remoteChunks;
      const identity = this.server.identity;
      const local = mysqlSourceDialect({
        connect: () => this.connect('opening a snapshot connection'),
        flavor: this.server.flavor,
        pack: this.packed,
        openLog: (from) =>
          openMysqlBinlogReader({
            config: this.config,
            serverId: this.binlogServerId(),
            start: from,
            fingerprint: start.fingerprint,
            gtidState: start.gtidState,
            byGtid: from.file === '' && start.gtidState !== undefined,
            tableFor: (db, table, qualifiedName = `${db}.${table}`) => this.tables.get(qualifiedName),
            log: this.context.log,
          }),
      });
      const dialect = remote
        ? { ...local, openReader: () => Promise.resolve(remoteChunkReader(remote, identity)) }
        : local;
      await this.merge.start({
        dialect,
        logPosition: { file: start.file, pos: start.pos },
        snapshotOnly: this.config.startupMode === 'snapshot',
        snapshot,
      });
    } catch (error) {
      throw mysqlError(error, this.endpoint, 'starting the source');
    }
  }

  /**
   * Batches are cut once they hold events of `maxTables` tables, at positions that are resume points: between
   * the tables' schema events at the start (they do not move the position), after a snapshot chunk (the
   * position records it as delivered), after a binlog step (inside a transaction the position counts the rows
   * emitted, `skipRows`).
   */
  limitBatchTables(maxTables: number): void {
    this.merge.limitBatchTables(maxTables);
  }

  /** Snapshot chunks read here go out as packed runs (chunks read by scale-out readers stay rows). */
  packReads(): void {
    this.packed = true;
  }

  private packed = false;

  async *batches(): AsyncGenerator<ChangeBatch> {
    yield* this.merge.batches([...this.tables.values()].map((t) => tableSchemaEvent(t)));
  }

  /** A scale-out snapshot reader's read of a chunk the capture handed out (see mysql-remote-chunks.ts). */
  readChunkItem(item: unknown): Promise<unknown> {
    this.chunkWorker ??= new MysqlChunkWorker(this.config.hosts, (host) =>
      this.connect('reading a snapshot chunk for the capture', host),
    );
    return this.chunkWorker.read(item).catch((error: unknown) => {
      throw mysqlError(error, this.endpoint, 'reading a snapshot chunk for the capture');
    });
  }

  private chunkWorker: MysqlChunkWorker | undefined;

  checksums(): Promise<TableChecksums> {
    return mysqlChecksums(() => this.connect('verifying'));
  }

  /** `verify --repair` of the running pipeline: the differing chunks read again beside the binlog. */
  repair(request: RepairRequest): Promise<RepairOutcome> {
    const table = this.tables.get(`${request.table.namespace}.${request.table.name}`);
    if (!table) {
      throw new TributaryError('REPAIR_INTERRUPTED', `${tableIdToString(request.table)} is not captured (any more)`, {
        hint: 'run verify --repair again: it compares the tables the pipeline captures now',
      });
    }
    const { schema } = table;
    return this.merge.repair(
      table,
      request.chunks.map((chunk) => ({
        lo: keyBoundValues(schema, schema.primaryKey, chunk.lo),
        hi: keyBoundValues(schema, schema.primaryKey, chunk.hi),
        deletes: chunk.onlyInSink.map((key) => keyRowOf(schema, schema.primaryKey, key)),
      })),
    );
  }

  committed(position: SourcePosition): void {
    this.merge.committed(position);
  }

  progress(): SourceProgress {
    const at = this.merge.logPosition ?? { file: '', pos: 4 };
    return {
      phase: this.merge.snapshot ? 'snapshot' : this.merge.streaming ? 'streaming' : 'done',
      ...this.merge.snapshotProgress(this.snapshotEstimates),
      logPosition: `${at.file}:${at.pos}`,
      lagMs: this.lastEventTsMs ? Math.max(0, Date.now() - this.lastEventTsMs) : 0,
      ...this.binlogLag.progress(this.merge.streaming ? this.merge.logPosition : undefined),
    };
  }

  async close(): Promise<void> {
    const closing = [
      this.merge.close(),
      this.binlogLag.close(),
      ...(this.chunkWorker ? [this.chunkWorker.close()] : []),
      ...(this.conn ? [endMysqlConnection(this.conn)] : []),
    ];
    this.chunkWorker = undefined;
    this.conn = undefined;
    await Promise.allSettled(closing);
  }

  // --- the binlog side -----------------------------------------------------------------------------------

  /**
   * Applies one binlog step in order (the merge has emitted the chunks that go before it): emits its changes
   * and moves the resume position. Synchronous but for a DDL (see `DblogMergeOptions.applyStep`).
   */
  private applyStep(step: BinlogStep, out: ChangeEvent[]): void | Promise<void> {
    switch (step.kind) {
      case 'begin':
        this.txnStart = step.start;
        this.txnStartPrint = step.fingerprint;
        this.rowsInTxn = 0;
        this.txnGtid = step.gtid;
        return;
      case 'rows':
        this.lastEventTsMs = step.tsMs;
        this.emitRows(step, out);
        return;
      case 'commit':
        this.lastEnd = step.end;
        this.lastEndPrint = step.fingerprint;
        this.gtid = this.txnGtid ?? this.gtid;
        this.gtidState = step.gtidState ?? this.gtidState;
        this.txnStart = undefined;
        this.rowsInTxn = 0;
        this.skipRows = 0;
        return;
      case 'ddl':
        this.lastEnd = step.end;
        this.lastEndPrint = step.fingerprint;
        this.gtid = this.txnGtid ?? this.gtid;
        this.gtidState = step.gtidState ?? this.gtidState;
        this.txnStart = undefined;
        this.lastEventTsMs = step.tsMs;
        return this.ddl.follow(step, out);
      case 'advance':
        if (!this.txnStart) {
          this.lastEnd = step.end;
          this.lastEndPrint = step.fingerprint;
        }
        return;
      case 'idle':
        this.lastEventTsMs = 0;
        return;
    }
  }

  private emitRows(step: Extract<BinlogStep, { kind: 'rows' }>, out: ChangeEvent[]): void {
    const table = this.tables.get(step.table);
    if (!table) return;
    const id = table.schema.id;
    const pairs = step.action === 'update';
    const changes = pairs ? step.rows.length / 2 : step.rows.length;
    let first = 0;
    if (this.skipRows > this.rowsInTxn) first = Math.min(changes, this.skipRows - this.rowsInTxn);
    const base = this.positionBase();
    const firstIndex = this.rowsInTxn;
    this.rowsInTxn += changes;
    const tsMs = step.tsMs;
    const txId = this.txnGtid;
    if (this.skipBeforeMs > 0 && step.tsMs < this.skipBeforeMs) return; // before the startup timestamp
    for (let i = first; i < changes; i++) {
      // One object literal of one shape per row (a spread of an optional txId cost two objects more).
      const position = base + changeIndexText(firstIndex + i);
      const source: SourceInfo = txId ? { tsMs, position, txId } : { tsMs, position };
      if (pairs) {
        out.push({
          kind: 'data',
          table: id,
          op: 'update',
          before: step.rows[2 * i] as Row,
          after: step.rows[2 * i + 1] as Row,
          source,
        });
      } else if (step.action === 'insert') {
        out.push({
          kind: 'data',
          table: id,
          op: 'insert',
          before: null,
          after: step.rows[i] as Row,
          source,
        });
      } else {
        out.push({
          kind: 'data',
          table: id,
          op: 'delete',
          before: step.rows[i] as Row,
          after: null,
          source,
        });
      }
    }
  }

  /**
   * The text each change's position starts with: its transaction's start (`file:000000000123:`), made once per
   * transaction rather than once per statement.
   */
  private positionBase(): string {
    const txn = this.txnStart ?? this.lastEnd;
    if (txn !== this.basePoint) {
      this.basePoint = txn;
      this.baseText = `${txn.file}:${String(txn.pos).padStart(12, '0')}:`;
    }
    return this.baseText;
  }

  private basePoint: LogPoint | undefined;
  private baseText = '';

  /**
   * A table that appears with rows (renamed into the pattern, found by reading the schemas) is snapshotted beside
   * the binlog; one created in the binlog needs none (mysql-ddl-follower.ts).
   */
  private startTableSnapshot(key: string): void {
    if (this.config.startupMode === 'latest-offset') return;
    this.merge.addTable(key);
  }

  /** Where a first run starts reading the binlog; startup mode `timestamp` also sets the time to skip to. */
  private async firstOffset(conn: Connection): Promise<BinlogOffset> {
    const { offset, skipBeforeMs } = await startupOffset(conn, this.config);
    this.skipBeforeMs = skipBeforeMs;
    return offset;
  }

  /** The replica server id the binlog connections use. */
  private binlogServerId(): number {
    return this.config.serverId ?? defaultServerId(this.context.pipelineName, this.server?.serverId ?? 0);
  }

  private position(): MysqlPosition {
    const inTxn = this.txnStart !== undefined;
    const at = inTxn ? this.txnStart! : this.lastEnd;
    return {
      kind: 'mysql',
      binlog: {
        file: at.file,
        pos: at.pos,
        skipRows: inTxn ? this.rowsInTxn : 0,
        ...(this.gtid ? { gtid: this.gtid } : {}),
        ...(this.gtidState === undefined ? {} : { gtidState: this.gtidState }),
        ...((inTxn ? this.txnStartPrint : this.lastEndPrint)
          ? { fingerprint: inTxn ? this.txnStartPrint : this.lastEndPrint }
          : {}),
      },
      ...(this.merge.snapshot ? { snapshot: this.merge.snapshot } : {}),
      capturedTables: [...this.tables.keys()].sort(),
      schemas: this.history.save(),
      ...(this.server ? { serverUuid: this.server.identity } : {}),
      ...(this.config.hosts.length > 1 ? { host: formatHost(this.config) } : {}),
    };
  }

  // --- helpers -------------------------------------------------------------------------------------------

  /**
   * Whether `db.table` matches `source.tables` and no exclusion. The helper tables of gh-ost and
   * pt-online-schema-change never are: see mysql-online-schema-change.ts.
   */
  private isCaptured(namespace: string, name: string): boolean {
    return (
      !isShadowTableName(name) &&
      this.context.include.some((s) => s.matches(namespace, name)) &&
      !this.context.exclude.some((s) => s.matches(namespace, name))
    );
  }

  private async discover(conn: Connection, databases?: string[], strict = true): Promise<Map<string, MysqlTable>> {
    const all = await listTables(conn);
    const matched = all.filter(
      (t) => (!databases || databases.includes(t.namespace)) && this.isCaptured(t.namespace, t.name),
    );
    if (strict && matched.length === 0) {
      const sample = all.slice(0, 8).map(tableIdToString).join(', ');
      throw new TributaryError(
        'SOURCE_NO_TABLES',
        `no table matches source.tables (${this.context.include.map((s) => s.source).join(', ')})`,
        {
          hint: `patterns are regular expressions on db.table; tables on the server include: ${sample || '(none)'}`,
        },
      );
    }
    const schemas = await readTableSchemas(conn, matched, this.config.chunkKeyColumn, this.config, this.server?.flavor);
    if (strict) checkKeys(schemas.values(), this.config.chunkKeyColumn);
    return schemas;
  }

  /** A connection to the server in use, or to `host` of the topology (a snapshot reader's). */
  private async connect(during: string, host: MysqlHost = this.config): Promise<Connection> {
    let connection: Connection;
    try {
      connection = await openWithTls(
        this.config.tls,
        (ssl) =>
          createConnection({
            host: host.host,
            port: host.port,
            user: this.config.user,
            password: this.config.password,
            connectTimeout: this.config.connectTimeoutMs,
            ...(ssl === undefined ? {} : { ssl }),
            supportBigNumbers: true,
            bigNumberStrings: true,
            dateStrings: true,
            charset: 'utf8mb4',
          }),
        endMysqlConnection,
        `${host.host}:${host.port}`,
      );
    } catch (error) {
      throw mysqlError(error, { host: host.host, port: host.port, user: this.config.user }, during);
    }
    guardPromiseConnection(connection, { purpose: 'source', readTimeoutMs: this.config.readTimeoutMs });
    // An idle connection (a snapshot reader waiting for its turn, the DDL follower's) that the server drops
    // emits 'error'; without a listener that would crash the process. The next query on it rejects with the
    // connection error, which mysqlError classifies (retryable), so noting it here is enough.
    connection.on('error', (error: Error & { code?: string }) => {
      this.context.log.debug(`mysql: a connection (${during}) was lost: ${error.code ?? error.message}`);
    });
    return connection;
  }
}

/**
 * The server's row estimates (`TABLE_ROWS`: statistics, not counts) of `db.table` keys, for progress lines. One
 * query per database with the schema as a constant, so the server opens only those tables' definitions, not
 * every table it has.
 */
async function readRowEstimates(conn: Connection, tables: readonly string[]): Promise<Map<string, number>> {
  const byDatabase = new Map<string, string[]>();
  for (const key of tables) {
    const dot = key.indexOf('.');
    const names = byDatabase.get(key.slice(0, dot)) ?? [];
    names.push(key.slice(dot + 1));
    byDatabase.set(key.slice(0, dot), names);
  }
  const estimates = new Map<string, number>();
  for (const [database, names] of byDatabase) {
    const [rows] = await conn.query(
      'SELECT TABLE_NAME AS t, TABLE_ROWS AS n FROM information_schema.TABLES WHERE TABLE_SCHEMA = ? ' +
        `AND TABLE_NAME IN (${names.map(() => '?').join(', ')})`,
      [database, ...names],
    );
    for (const row of rows as { t: string; n: string | number | null }[]) {
      if (row.n !== null) estimates.set(`${database}.${row.t}`, Number(row.n));
    }
  }
  return estimates;
}

/** `position` as a MySQL position; STATE_CORRUPT when it is another source's. */
function savedPosition(position: SourcePosition): MysqlPosition {
  if (isMysqlPosition(position)) return position;
  throw new TributaryError('STATE_CORRUPT', 'the saved position is not a MySQL binlog position', {
    hint: 'the state belongs to another source type; use a new pipeline.name or run with --reset',
  });
}
