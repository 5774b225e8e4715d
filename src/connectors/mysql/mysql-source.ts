import { createConnection, type Connection } from 'mysql2/promise';
import {
  plural,
  TributaryError,
  tableIdToString,
  type ChangeBatch,
  type ChangeEvent,
  type KeyOverlap,
  type TableKey,
  type OptionValues,
  type Row,
  type Source,
  type SourceDescription,
  type SourcePosition,
  type SourceProgress,
  type TableChecksums,
} from '../../core/index.js';
import type { TableSelector } from '../../config/table-selector.js';
import type { Logger } from '../../runtime/logger.js';
import { verifyFingerprint, type BinlogFingerprint } from './mysql-binlog-fingerprint.js';
import type { BinlogStep } from './mysql-binlog-step.js';
import { openMysqlBinlogReader, type MysqlBinlogReader } from './mysql-binlog-reader.js';
import { endMysqlConnection, mysqlError, type MysqlEndpoint } from './mysql-errors.js';
import { guardPromiseConnection } from './protocol/mysql2-connection-guard.js';
import {
  formatBinlogOffset,
  isMysqlPosition,
  type BinlogOffset,
  type MysqlPosition,
  type SnapshotProgress,
} from './mysql-offset.js';
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
import { describeTls, openWithTls } from './mysql-tls.js';
import { privilegeReport } from './mysql-privileges.js';
import { compareLogPoints, type LogPoint } from './mysql-log-point.js';
import { SnapshotCoordinator, type ChunkTicket } from './mysql-snapshot-coordinator.js';
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
import { BatchTables } from './mysql-batch-tables.js';
import { addTables, markChunkDone, removeTables, startSnapshot } from './mysql-snapshot-progress.js';
import { mysqlChecksums } from './mysql-checksums.js';

export interface MysqlSourceContext {
  readonly log: Logger;
  readonly pipelineName: string;
  /** How many snapshot chunks are read at once (`pipeline.parallelism`). */
  readonly parallelism?: number;
  /** The `tables` option, parsed (and `tables.exclude`). */
  readonly include: readonly TableSelector[];
  readonly exclude: readonly TableSelector[];
}

/** Creates the MySQL/MariaDB source (`type: mysql`): snapshot by primary-key chunks, then the binlog. */
export function mysqlSource(options: OptionValues, context: MysqlSourceContext): Source {
  return new MysqlSource(mysqlSourceConfig(options), context);
}

/** Binlog steps held back while a chunk is being read, before the source stops pulling more. */
const HOLD_LIMIT = 20_000;

/**
 * Reads a consistent snapshot and then the binlog, merged into one stream in source history order per key.
 *
 * The binlog reader starts first and never stops. A chunk is read in its own short consistent snapshot; from
 * the moment a chunk read begins until its rows are in hand, binlog steps are held back, because the chunk's
 * rows must be emitted exactly where its high watermark lies in the binlog: every change ending at or before
 * the watermark goes out before the rows, every later one after them (see {@link ChunkWindow}).
 */
class MysqlSource implements Source {
  private readonly endpoint: MysqlEndpoint;
  private conn: Connection | undefined;
  private server: ServerInfo | undefined;
  private reader: MysqlBinlogReader | undefined;
  /** The captured tables' schemas at the last binlog event processed (see MysqlSchemaHistory). */
  private readonly history: MysqlSchemaHistory;
  private closed = false;

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
  /** End of the last binlog step processed (emitted or held). */
  private readerPos: LogPoint = { file: '', pos: 4 };
  private lastEventTsMs = 0;

  // Snapshot state.
  private snapshot: SnapshotProgress | undefined;
  private coordinator: SnapshotCoordinator | undefined;
  private snapshotTablesTotal = 0;
  /** `db.table` → estimated rows (information_schema statistics) of the tables this run snapshots. */
  private snapshotEstimates = new Map<string, number>();
  /** Binlog steps pulled so far; a chunk ticket remembers the count at its registration. */
  private pulled = 0;
  /** Steps pulled but not yet emitted, each with its pull number. */
  private held: { step: BinlogStep; seq: number }[] = [];
  /** Waiters for the snapshot readers' news (a watermark, rows ready, an error); see {@link waitForWake}. */
  private readonly wakers = new Set<() => void>();
  /** Drop binlog row changes committed before this time (startup mode `timestamp`). */
  private skipBeforeMs = 0;
  /** Snapshot progress moved since the last batch (a batch must carry it even without events). */
  private progressChanged = false;
  /** Distinct tables per batch, at most (see {@link limitBatchTables}). */
  private maxBatchTables = Number.POSITIVE_INFINITY;

  constructor(
    private readonly config: MysqlSourceConfig,
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
    this.ddl = new MysqlDdlFollower({
      history: this.history,
      config,
      log: context.log,
      connection: () => this.conn,
      flavor: () => this.server?.flavor,
      isCaptured: (namespace, name) => this.isCaptured(namespace, name),
      snapshotTable: (key) => this.startTableSnapshot(key),
      forgetSnapshotTable: (key) => (this.snapshot = removeTables(this.snapshot, [key])),
      inSnapshot: (key) => this.snapshot?.tables.some((t) => t.table === key) ?? false,
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
    const conn = await this.connect('checking the saved position');
    try {
      const resume = savedPosition(position);
      const server = await readServerInfo(conn);
      await this.verifyResume(conn, resume, server);
      return `the saved position ${formatBinlogOffset(resume.binlog)} is in this server's binlog${
        resume.binlog.fingerprint && this.config.startupMode !== 'snapshot' ? ' (fingerprint matches)' : ''
      }`;
    } catch (error) {
      throw mysqlError(error, this.endpoint, 'checking the saved position');
    } finally {
      await conn.end().catch(() => {});
    }
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

  async open(resume: SourcePosition | null): Promise<void> {
    const conn = (this.conn = await this.connect('connecting'));
    try {
      this.server = await readServerInfo(conn);
      await checkBinlogSettings(conn);
      const current = await this.discover(conn);
      const saved = resume === null ? undefined : savedPosition(resume).schemas;
      const databases = new Set([...current.values()].map((t) => t.schema.id.namespace));
      for (const table of Object.values(saved?.tables ?? {})) databases.add(table.schema.id.namespace);
      this.history.load(current, await readCharsetDefaults(conn, [...databases]), saved);
      let start: BinlogOffset;
      if (resume !== null && isMysqlPosition(resume)) {
        await this.verifyResume(conn, resume, this.server);
        start = resume.binlog;
        this.snapshot = resume.snapshot;
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
          this.snapshot = addTables(this.snapshot, added);
        }
        this.context.log.info(
          `resuming binlog at ${formatBinlogOffset(start)}${this.snapshot ? `, ${plural(this.snapshot.tables.length, 'table')} left to snapshot` : ''}`,
        );
      } else {
        start = await this.firstOffset(conn);
        if (this.config.startupMode === 'initial' || this.config.startupMode === 'snapshot') {
          this.snapshot = startSnapshot([...this.tables.keys()].sort());
        }
        this.context.log.info(`starting at ${formatBinlogOffset(start)} (${this.config.startupMode})`);
      }
      this.lastEnd = this.readerPos = { file: start.file, pos: start.pos };
      this.lastEndPrint = start.fingerprint;
      this.skipRows = start.skipRows;
      this.gtid = start.gtid;
      this.snapshotTablesTotal = this.snapshot?.tables.length ?? 0;
      if (this.snapshot)
        this.snapshotEstimates = await readRowEstimates(
          conn,
          this.snapshot.tables.map((t) => t.table),
        );

      if (this.config.startupMode !== 'snapshot') {
        this.reader = await openMysqlBinlogReader({
          config: this.config,
          serverId: this.binlogServerId(),
          start: { file: start.file, pos: start.pos },
          fingerprint: start.fingerprint,
          tableFor: (db, table) => this.tables.get(`${db}.${table}`),
          log: this.context.log,
        });
      }
      const flavor = this.server.flavor;
      this.coordinator = new SnapshotCoordinator({
        connect: () => this.connect('opening a snapshot connection'),
        flavor,
        tableFor: (key) => this.tables.get(key),
        chunkSize: this.config.chunkSize,
        parallelism: Math.max(1, this.context.parallelism ?? 1),
        rowsPerSecond: this.config.snapshotRowsPerSecond,
        pulledSteps: () => this.pulled,
        onChange: () => this.wake(),
        log: this.context.log,
      });
      this.coordinator.schedule(this.snapshot);
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
    this.maxBatchTables = Math.max(1, maxTables);
  }

  async *batches(): AsyncGenerator<ChangeBatch> {
    const schemas = [...this.tables.values()].map((t) => tableSchemaEvent(t));
    const slice = Number.isFinite(this.maxBatchTables) ? this.maxBatchTables : Math.max(1, schemas.length);
    for (let start = 0; start === 0 || start < schemas.length; start += slice) {
      yield { events: schemas.slice(start, start + slice), position: this.position(), caughtUp: false };
    }
    if (!this.reader) {
      yield* this.snapshotOnly();
      return;
    }
    let pending: ReturnType<MysqlBinlogReader['next']> | undefined;
    while (!this.closed) {
      this.throwSnapshotError();
      const out: ChangeEvent[] = [];
      const tables = new BatchTables(out, this.maxBatchTables);
      const wasSnapshotting = this.snapshot !== undefined;
      await this.drainHeld(out, tables);
      // Chunks whose watermark the binlog has already passed (or reached, when it is idle).
      for (const ticket of this.readyTickets()) {
        if (tables.full) break;
        if (compareLogPoints(this.readerPos, ticket.high!) >= 0 && this.held.length === 0) this.emitChunk(ticket, out);
      }
      if (out.length > 0 || this.progressChanged) {
        this.progressChanged = false;
        // The snapshot's end is a good moment to commit, whatever else is buffered.
        yield { events: out, position: this.position(), caughtUp: wasSnapshotting && !this.snapshot };
        continue;
      }
      // Stop pulling while too much is held, and after a held DDL: the events behind it must be decoded with
      // the schema the DDL produces, which is read only when the DDL step is emitted.
      if (this.held.length >= HOLD_LIMIT || this.held[this.held.length - 1]?.step.kind === 'ddl') {
        await this.waitForWake().promise;
        continue;
      }
      pending ??= this.reader.next();
      const woke = this.waitForWake();
      const result = await Promise.race([pending, woke.promise]).finally(() => woke.cancel());
      if (result === WOKEN) continue;
      pending = undefined;
      if (result === null) {
        if (this.closed) return;
        // Outside snapshot mode the binlog never ends: the server went away (a restart ends the dump cleanly).
        throw new TributaryError('SOURCE_CONNECTION_LOST', 'the server ended the binlog stream', {
          hint: 'transient: the pipeline reconnects and resumes from its last checkpoint',
        });
      }
      for (const step of result.steps) this.held.push({ step, seq: ++this.pulled });
      await this.drainHeld(out, tables);
      yield {
        events: out,
        position: this.position(),
        caughtUp: result.caughtUp && this.held.length === 0 && !this.coordinator?.busy,
      };
    }
  }

  /** Snapshot-only mode: chunks go out as they are read; each is consistent at its own watermark. */
  private async *snapshotOnly(): AsyncGenerator<ChangeBatch> {
    while (!this.closed && this.snapshot) {
      this.throwSnapshotError();
      const out: ChangeEvent[] = [];
      const tables = new BatchTables(out, this.maxBatchTables);
      for (const ticket of this.readyTickets()) {
        if (tables.full) break;
        this.emitChunk(ticket, out);
      }
      if (out.length > 0 || !this.snapshot || this.progressChanged) {
        this.progressChanged = false;
        yield { events: out, position: this.position(), caughtUp: !this.snapshot };
        continue;
      }
      if (!this.coordinator?.busy) break;
      await this.waitForWake().promise;
    }
    this.throwSnapshotError();
  }

  /** Chunks whose rows are read, in watermark order. */
  private readyTickets(): ChunkTicket[] {
    return (this.coordinator?.tickets ?? [])
      .filter((t) => t.window !== undefined)
      .sort((a, b) => compareLogPoints(a.high!, b.high!));
  }

  /**
   * Emits held binlog steps in order for as long as no chunk still being read could have to go before them:
   * a step pulled after a chunk's registration may lie beyond the chunk's high watermark, so it waits until
   * that watermark is known (MariaDB: when the consistent snapshot starts) and, if it lies beyond, until the
   * chunk's rows are in hand.
   */
  private async drainHeld(out: ChangeEvent[], tables: BatchTables): Promise<void> {
    const unread = (this.coordinator?.tickets ?? []).filter((t) => t.window === undefined);
    let emitted = 0;
    for (const { step, seq } of this.held) {
      if (tables.full) break;
      if (!unread.every((t) => seq <= t.registeredAt || (t.high !== undefined && stepBefore(step, t.high)))) break;
      await this.emitStep(step, out);
      emitted++;
    }
    if (emitted > 0) this.held = this.held.slice(emitted);
  }

  checksums(): Promise<TableChecksums> {
    return mysqlChecksums(() => this.connect('verifying'));
  }

  progress(): SourceProgress {
    const left = this.snapshot?.tables.length ?? 0;
    const estimates = this.snapshotEstimates;
    const byTable = this.coordinator?.rowsReadByTable;
    return {
      phase: this.snapshot ? 'snapshot' : this.reader ? 'streaming' : 'done',
      snapshotTablesDone: this.snapshotTablesTotal - left,
      snapshotTablesTotal: this.snapshotTablesTotal,
      snapshotRowsRead: this.coordinator?.rowsRead ?? 0,
      snapshotChunksRead: this.coordinator?.chunksRead ?? 0,
      ...(byTable ? { snapshotRowsByTable: byTable } : {}),
      snapshotChunkSize: this.config.chunkSize,
      ...(estimates.size === 0 ? {} : { snapshotRowsEstimate: [...estimates.values()].reduce((a, b) => a + b, 0) }),
      ...(this.snapshot
        ? {
            snapshotTables: this.snapshot.tables.map(({ table }) => ({
              table,
              rowsRead: byTable?.get(table) ?? 0,
              rowsEstimate: estimates.get(table),
            })),
          }
        : {}),
      logPosition: `${this.readerPos.file}:${this.readerPos.pos}`,
      lagMs: this.lastEventTsMs ? Math.max(0, Date.now() - this.lastEventTsMs) : 0,
    };
  }

  async close(): Promise<void> {
    this.closed = true;
    this.wake();
    const closing: Promise<void>[] = [];
    if (this.reader) closing.push(this.reader.close());
    if (this.coordinator) closing.push(this.coordinator.close());
    if (this.conn) closing.push(endMysqlConnection(this.conn));
    this.reader = undefined;
    this.coordinator = undefined;
    this.conn = undefined;
    await Promise.allSettled(closing);
  }

  /** Emits a chunk's remaining rows as reads and records it in the snapshot progress. */
  private emitChunk(ticket: ChunkTicket, out: ChangeEvent[]): void {
    const window = ticket.window;
    if (!window) return;
    const { table, lo, hi } = ticket.range;
    const id = table.schema.id;
    const current = this.tables.get(window.tableKey);
    if (current !== table) {
      // The table's schema changed while this chunk was read: its rows have the old shape. Read it again.
      this.context.log.info(`schema of ${tableIdToString(id)} changed during a snapshot chunk: reading it again`);
      if (current) this.coordinator?.retry(ticket, current);
      else this.coordinator?.delivered(ticket);
      return;
    }
    for (const row of window.remainingRows()) {
      out.push({ kind: 'data', table: id, op: 'read', before: null, after: row, source: { tsMs: 0 } });
    }
    const before = this.snapshot?.tables.length ?? 0;
    this.snapshot = markChunkDone(this.snapshot, window.tableKey, lo, hi);
    this.progressChanged = true; // an empty chunk still moves the position
    const left = this.snapshot?.tables.length ?? 0;
    if (left < before) this.logTableDone(tableIdToString(id), left);
    if (before > 0 && !this.snapshot) this.context.log.info('snapshot complete; streaming the binlog');
    this.coordinator?.delivered(ticket);
  }

  /**
   * One line per finished table while there are few; with many (10,000 small tables) the line goes to debug
   * and a count goes to info every {@link TABLES_PER_PROGRESS_LINE} tables.
   */
  private logTableDone(table: string, left: number): void {
    if (this.snapshotTablesTotal <= TABLES_PER_PROGRESS_LINE) {
      this.context.log.info(`snapshot of ${table} done`);
      return;
    }
    this.context.log.debug(`snapshot of ${table} done`);
    const done = this.snapshotTablesTotal - left;
    if (done % TABLES_PER_PROGRESS_LINE === 0 && left > 0) {
      this.context.log.info(`snapshot: ${done} of ${this.snapshotTablesTotal} tables done`);
    }
  }

  // --- the binlog side -----------------------------------------------------------------------------------

  /** Applies one binlog step in order: emits its changes and moves the resume position. */
  private async emitStep(step: BinlogStep, out: ChangeEvent[]): Promise<void> {
    for (const ticket of this.readyTickets()) {
      if (!stepBefore(step, ticket.high!)) this.emitChunk(ticket, out);
    }
    switch (step.kind) {
      case 'begin':
        this.txnStart = step.start;
        this.txnStartPrint = step.fingerprint;
        this.rowsInTxn = 0;
        this.txnGtid = step.gtid;
        this.readerPos = step.start;
        return;
      case 'rows':
        this.readerPos = step.end;
        this.lastEventTsMs = step.tsMs;
        this.emitRows(step, out);
        return;
      case 'commit':
        this.readerPos = this.lastEnd = step.end;
        this.lastEndPrint = step.fingerprint;
        this.gtid = this.txnGtid ?? this.gtid;
        this.txnStart = undefined;
        this.rowsInTxn = 0;
        this.skipRows = 0;
        return;
      case 'ddl':
        this.readerPos = this.lastEnd = step.end;
        this.lastEndPrint = step.fingerprint;
        this.gtid = this.txnGtid ?? this.gtid;
        this.txnStart = undefined;
        this.lastEventTsMs = step.tsMs;
        await this.ddl.follow(step, out);
        return;
      case 'advance':
        this.readerPos = step.end;
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
    const txn = this.txnStart ?? this.lastEnd;
    const base = `${txn.file}:${String(txn.pos).padStart(12, '0')}:`;
    const firstIndex = this.rowsInTxn;
    this.rowsInTxn += changes;
    const source = (i: number) => ({
      tsMs: step.tsMs,
      position: base + String(firstIndex + i).padStart(10, '0'),
      ...(this.txnGtid ? { txId: this.txnGtid } : {}),
    });
    // Changes inside a chunk's window (low, high] are newer than the chunk's copy of those keys.
    for (const ticket of this.readyTickets()) {
      const window = ticket.window!;
      if (window.tableKey === step.table && compareLogPoints(step.end, window.chunk.low) > 0)
        window.noteChanged(step.rows);
    }
    if (this.skipBeforeMs > 0 && step.tsMs < this.skipBeforeMs) return; // before the startup timestamp
    for (let i = first; i < changes; i++) {
      if (pairs) {
        out.push({
          kind: 'data',
          table: id,
          op: 'update',
          before: step.rows[2 * i] as Row,
          after: step.rows[2 * i + 1] as Row,
          source: source(i),
        });
      } else if (step.action === 'insert') {
        out.push({
          kind: 'data',
          table: id,
          op: 'insert',
          before: null,
          after: step.rows[i] as Row,
          source: source(i),
        });
      } else {
        out.push({
          kind: 'data',
          table: id,
          op: 'delete',
          before: step.rows[i] as Row,
          after: null,
          source: source(i),
        });
      }
    }
  }

  /**
   * A table that appears (CREATE, RENAME into the pattern, CREATE … SELECT) is snapshotted beside the binlog:
   * harmless when empty, and exact when it arrived with rows.
   */
  private startTableSnapshot(key: string): void {
    if (this.config.startupMode === 'latest-offset') return;
    this.snapshot = addTables(this.snapshot, [key]);
    this.snapshotTablesTotal++;
    this.coordinator?.schedule(this.snapshot);
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
        ...((inTxn ? this.txnStartPrint : this.lastEndPrint)
          ? { fingerprint: inTxn ? this.txnStartPrint : this.lastEndPrint }
          : {}),
      },
      ...(this.snapshot ? { snapshot: this.snapshot } : {}),
      capturedTables: [...this.tables.keys()].sort(),
      schemas: this.history.save(),
      ...(this.server ? { serverUuid: this.server.identity } : {}),
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

  private async connect(during: string): Promise<Connection> {
    let connection: Connection;
    try {
      connection = await openWithTls(
        this.config.tls,
        (ssl) =>
          createConnection({
            host: this.config.host,
            port: this.config.port,
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
        `${this.config.host}:${this.config.port}`,
      );
    } catch (error) {
      throw mysqlError(error, this.endpoint, during);
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

  private wake(): void {
    const wakers = [...this.wakers];
    this.wakers.clear();
    for (const waker of wakers) waker();
  }

  /**
   * A promise that resolves at the next {@link wake}. `cancel` forgets it: a waiter that lost a race must not
   * stay registered, or every result it was raced against would stay reachable (a leak per binlog batch).
   */
  private waitForWake(): { promise: Promise<typeof WOKEN>; cancel(): void } {
    let waker: () => void = () => {};
    const promise = new Promise<typeof WOKEN>((resolve) => {
      waker = () => resolve(WOKEN);
      this.wakers.add(waker);
    });
    return { promise, cancel: () => this.wakers.delete(waker) };
  }

  private throwSnapshotError(): void {
    const error = this.coordinator?.error;
    if (error) throw mysqlError(error, this.endpoint, 'reading a snapshot chunk');
  }
}

const WOKEN = Symbol('woken');

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
/** Above this many tables to snapshot, finished tables are logged as a count, every this many. */
const TABLES_PER_PROGRESS_LINE = 100;

/** Whether `step` lies at or before `high` in the binlog (so it goes out before a chunk with that watermark). */
function stepBefore(step: BinlogStep, high: LogPoint): boolean {
  switch (step.kind) {
    case 'idle':
      return true;
    case 'begin':
      return compareLogPoints(step.start, high) < 0;
    default:
      return compareLogPoints(step.end, high) <= 0;
  }
}
