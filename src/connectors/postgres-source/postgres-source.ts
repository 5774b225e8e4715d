import type pg from 'pg';
import {
  dataChange,
  plural,
  tableIdToString,
  TributaryError,
  withOptionDefaults,
  type ChangeBatch,
  type ChangeEvent,
  type OptionValues,
  type SchemaChangeEvent,
  type SourceInfo,
  type Source,
  type SourceDescription,
  type SourcePosition,
  type SourceProgress,
  type TableSchema,
} from '../../core/index.js';
import { parseTableSelectors, type TableSelector } from '../../core/table-selector.js';
import type { SourceContext } from '../../core/connector.js';
import { addTables, changeIndexText, DblogMerge, startSnapshot, type SnapshotProgress } from '../source-kit/index.js';
import { formatLsn, parseLsn, type Lsn } from './pg-lsn.js';
import { PgReplicationStream } from './pg-replication-stream.js';
import type { RelationMessage } from './pgoutput-decoder.js';
import {
  listPgTables,
  PgTypeCatalog,
  quoteIdent,
  quoteTable,
  readPgTables,
  type PgTable,
} from './postgres-source-catalog.js';
import {
  postgresSourceConfig,
  postgresSourceOptionSpecs,
  type PostgresSourceConfig,
  type PostgresSourceOptions,
} from './postgres-source-config.js';
import { PostgresSourceChecks } from './postgres-source-checks.js';
import { emptyTable, relationTable, sameColumns } from './postgres-relation.js';
import { resolveToast } from './postgres-toast.js';
import { classifySourceError, connectSource } from './postgres-source-connection.js';
import { postgresSourceDialect } from './postgres-source-dialect.js';
import { isPostgresPosition, type PostgresPosition } from './postgres-source-position.js';
import { convertRow } from './postgres-source-snapshot.js';
import { WalReader } from './postgres-wal-reader.js';
import type { WalRowChange, WalStep } from './postgres-wal-step.js';

/** The first server version whose pgoutput streams transactions in progress (protocol 2, `streaming 'on'`). */
const STREAMING_SERVER_VERSION = 140000;

export function postgresSource(options: OptionValues, context: SourceContext): Source {
  const typed: PostgresSourceOptions = withOptionDefaults(postgresSourceOptionSpecs, options);
  return new PostgresSource(postgresSourceConfig(typed, context.pipelineName), context);
}

/** What the stream knows of one relation (by oid): its table as the Relation message announced it. */
interface StreamRelation {
  readonly captured: boolean;
  readonly table: PgTable;
}

/**
 * The `postgres` source: logical replication with pgoutput, merged with a chunked snapshot by the source kit's
 * {@link DblogMerge}. The slot streams from its creation point at once; snapshot chunks are read beside it
 * between watermarks written into the WAL (postgres-source-snapshot.ts), so the snapshot resumes by chunk and
 * tables found while running (CREATE TABLE) are snapshotted live. The slot's `confirmed_flush_lsn` advances only
 * to positions the runtime reports committed ({@link Source.committed}).
 */
export class PostgresSource implements Source {
  private readonly log: SourceContext['log'];
  private readonly include: readonly TableSelector[];
  private readonly types = new PgTypeCatalog();
  private readonly merge: DblogMerge<Lsn, WalStep, PgTable>;
  private readonly checks: PostgresSourceChecks;
  private meta: pg.Client | undefined;
  private replication: pg.Client | undefined;
  private walReader: WalReader | undefined;
  private tables = new Map<string, PgTable>();
  private readonly relations = new Map<number, StreamRelation>();
  private slot = '';
  private systemId: string | undefined;
  private committedLsn: Lsn = 0n;
  private opened = false;
  private closed = false;
  private lagMs = 0;
  /** Looks for new tables matching `tables` while streaming (see discoverTables). */
  private discovery: NodeJS.Timeout | undefined;
  private discovering = false;
  /**
   * Tables announced by discovery whose step has not come through the stream yet, and those found not capturable
   * (no key, an unsupported type): not announced again.
   */
  private readonly announced = new Set<string>();
  private readonly notCapturable = new Set<string>();

  // Resume position of what has been emitted: the end of the last transaction delivered completely, and how many
  // changes of the transaction in progress were (a batch may end inside a large transaction).
  private lastCommit: Lsn = 0n;
  private inTransaction = false;
  private seen = 0;
  /** Changes of the first transaction after `lastCommit` delivered before the restart. */
  private skip = 0;
  private txTsMs = 0;
  private txId = '';
  private txFinalLsn: Lsn = 0n;

  constructor(
    private readonly config: PostgresSourceConfig,
    private readonly context: SourceContext,
  ) {
    this.log = context.log;
    this.include = context.include.length > 0 ? context.include : parseTableSelectors(config.flinkTables ?? '');
    this.checks = new PostgresSourceChecks(config, this.include, context.exclude, this.types);
    this.merge = new DblogMerge({
      log: context.log,
      logName: 'WAL',
      tableFor: (key) => this.tables.get(key),
      chunkSize: config.chunkSize,
      parallelism: context.parallelism,
      rowsPerSecond: config.snapshotRowsPerSecond,
      applyStep: (step, out) => this.applyStep(step, out),
      position: () => this.position(),
      snapshotError: (error) => classifySourceError(error, config, 'query'),
    });
  }

  private isCaptured(namespace: string, name: string): boolean {
    return this.checks.isCaptured(namespace, name);
  }

  validate(): Promise<SourceDescription> {
    return this.checks.validate();
  }

  private resolveTables(client: pg.Client): Promise<Map<string, PgTable>> {
    return this.checks.resolveTables(client);
  }

  private query<R>(client: pg.Client, text: string, values?: unknown[]): Promise<R[]> {
    return this.checks.query<R>(client, text, values);
  }

  private checkSlot(client: pg.Client, position: SourcePosition): Promise<string> {
    return this.checks.checkSlot(client, position);
  }

  // ---- open ----

  async checkResume(position: SourcePosition): Promise<string> {
    const client = await connectSource(this.config);
    try {
      return await this.checkSlot(client, position);
    } finally {
      await client.end().catch(() => undefined);
    }
  }

  async open(resume: SourcePosition | null): Promise<void> {
    this.meta = await connectSource(this.config);
    this.tables = await this.resolveTables(this.meta);
    const snapshotOnly = this.config.startupMode === 'snapshot';
    let snapshot: SnapshotProgress | undefined;
    if (snapshotOnly) {
      // A restart goes on with the chunks not delivered (each chunk is consistent on its own).
      snapshot =
        resume !== null && isPostgresPosition(resume)
          ? savedSnapshot(resume, [...this.tables.keys()])
          : startSnapshot([...this.tables.keys()].sort());
    } else {
      await this.ensurePublication(this.meta);
      this.replication = await connectSource(this.config, {
        replication: true,
        applicationName: 'tributary-replication',
      });
      const system = (await this.query<{ systemid: string }>(this.replication, 'IDENTIFY_SYSTEM'))[0];
      this.systemId = system?.systemid;
      snapshot = resume !== null ? await this.resumeAt(resume) : await this.createSlot();
    }
    this.committedLsn = this.lastCommit;
    const dialect = postgresSourceDialect({
      connect: () => connectSource(this.config, { applicationName: 'tributary-snapshot' }),
      watermarkPrefix: snapshotOnly ? undefined : this.messagePrefix(),
      openLog: (from) => this.openLog(from),
    });
    await this.merge.start({ dialect, logPosition: this.lastCommit, snapshotOnly, snapshot });
    this.opened = true;
    if (!snapshotOnly) {
      this.discovery = setInterval(() => void this.discoverTables(), this.config.heartbeatMs);
      this.discovery.unref();
    }
  }

  /** Checks the saved position's slot and server; returns the snapshot left (with tables matched since). */
  private async resumeAt(resume: SourcePosition): Promise<SnapshotProgress | undefined> {
    const message = await this.checkSlot(this.meta!, resume);
    const position = resume as PostgresPosition;
    if (position.systemId && this.systemId && position.systemId !== this.systemId) {
      throw new TributaryError(
        'PIPELINE_STATE_MISMATCH',
        `the checkpoint belongs to PostgreSQL system ${position.systemId}, this server is ${this.systemId}`,
        { hint: 'point the source at the server the pipeline was reading, or `tributary run --reset`' },
      );
    }
    this.log.info(message);
    this.slot = position.slot;
    this.lastCommit = parseLsn(position.lsn);
    this.skip = position.skip;
    let snapshot = savedSnapshot(position, [...this.tables.keys()]);
    // Tables that match `tables` now and did not when the position was taken (a widened pattern) are snapshotted
    // beside the stream — the publication covers them since ensurePublication.
    if (position.capturedTables !== undefined && this.config.startupMode !== 'latest-offset') {
      const known = new Set(position.capturedTables);
      const added = [...this.tables.keys()].filter((key) => !known.has(key)).sort();
      if (added.length > 0)
        this.log.info(`${plural(added.length, 'new table')} matched since the last run: ${added.join(', ')}`);
      snapshot = addTables(snapshot, added);
    }
    if (snapshot)
      this.log.info(`resuming at ${position.lsn}, ${plural(snapshot.tables.length, 'table')} left to snapshot`);
    return snapshot;
  }

  /** A first run: a new slot (an old one without checkpoint is dropped); every table to snapshot under `initial`. */
  private async createSlot(): Promise<SnapshotProgress | undefined> {
    const existing = await this.query<{ active: string }>(
      this.meta!,
      'SELECT active FROM pg_replication_slots WHERE slot_name = $1',
      [this.config.slotName],
    );
    if (existing.length > 0) {
      this.log.warn(
        `slot ${this.config.slotName} exists but the pipeline has no checkpoint: dropping and creating it anew`,
      );
      await this.query(this.meta!, 'SELECT pg_drop_replication_slot($1)', [this.config.slotName]);
    }
    const created = (
      await this.query<{ consistent_point: string }>(
        this.replication!,
        `CREATE_REPLICATION_SLOT "${this.config.slotName}" LOGICAL pgoutput NOEXPORT_SNAPSHOT`,
      )
    )[0]!;
    this.log.info(`created slot ${this.config.slotName} at ${created.consistent_point}`);
    this.slot = this.config.slotName;
    this.lastCommit = parseLsn(created.consistent_point);
    return this.config.startupMode === 'initial' ? startSnapshot([...this.tables.keys()].sort()) : undefined;
  }

  private async openLog(from: Lsn): Promise<WalReader> {
    const version = await this.query<{ v: number }>(
      this.meta!,
      "SELECT current_setting('server_version_num')::int AS v",
    );
    // Protocol 2 streams large transactions in progress (PostgreSQL 14+); the reader buffers them to the commit.
    const streaming = (version[0]?.v ?? 0) >= STREAMING_SERVER_VERSION;
    const stream = new PgReplicationStream(this.replication!);
    stream.start(this.slot, from, this.config.publicationName, streaming);
    this.walReader = new WalReader({
      stream,
      relationFor: (oid) => {
        const relation = this.relations.get(oid);
        return relation?.captured ? relation.table : undefined;
      },
      messagePrefix: this.messagePrefix(),
      committed: () => this.committedLsn,
      heartbeatMs: this.config.heartbeatMs,
      streamError: (error) => this.streamError(error),
    });
    return this.walReader;
  }

  /** The prefix of this pipeline's logical messages (watermarks, tables found). */
  private messagePrefix(): string {
    return `tributary:${this.config.slotName}`;
  }

  /** Creates the publication when missing; under `filtered`, adds captured tables an existing one lacks. */
  private async ensurePublication(client: pg.Client): Promise<void> {
    const name = this.config.publicationName;
    const existing = await this.query<{ puballtables: string }>(
      client,
      'SELECT puballtables FROM pg_publication WHERE pubname = $1',
      [name],
    );
    const tables = [...this.tables.values()].map((t) => quoteTable(t.schema.id));
    if (existing.length === 0) {
      const target = this.config.publicationMode === 'all_tables' ? 'FOR ALL TABLES' : `FOR TABLE ${tables.join(', ')}`;
      await this.query(client, `CREATE PUBLICATION ${quoteIdent(name)} ${target}`);
      this.log.info(`created publication ${name} ${target}`);
      return;
    }
    if (existing[0]!.puballtables === 't') return;
    const members = await this.query<{ schemaname: string; tablename: string }>(
      client,
      'SELECT schemaname, tablename FROM pg_publication_tables WHERE pubname = $1',
      [name],
    );
    const have = new Set(members.map((m) => `${m.schemaname}.${m.tablename}`));
    const missing = [...this.tables.values()].filter((t) => !have.has(tableIdToString(t.schema.id)));
    if (missing.length > 0) {
      await this.query(
        client,
        `ALTER PUBLICATION ${quoteIdent(name)} ADD TABLE ${missing.map((t) => quoteTable(t.schema.id)).join(', ')}`,
      );
      this.log.info(`added ${missing.map((t) => tableIdToString(t.schema.id)).join(', ')} to publication ${name}`);
    }
  }

  /**
   * Tables that start matching `tables` while the source runs (CREATE TABLE, a rename): added to the
   * publication when this role owns it (`filtered`; FOR ALL TABLES has them already), then announced by a
   * logical message written after that, which the stream delivers in order as a step that captures the table
   * and schedules its snapshot beside the stream. A row of the table committed after the publication change may
   * come before the message: its Relation message captures the table then (onRelation).
   */
  private async discoverTables(): Promise<void> {
    const meta = this.meta;
    if (this.discovering || this.closed || !meta || !this.merge.streaming) return;
    this.discovering = true;
    try {
      const found = (await listPgTables(meta))
        .map((t) => tableIdToString(t.id))
        .filter((key) => !this.tables.has(key) && !this.announced.has(key) && !this.notCapturable.has(key))
        .filter((key) => {
          const dot = key.indexOf('.');
          return this.isCaptured(key.slice(0, dot), key.slice(dot + 1));
        });
      if (found.length === 0) return;
      const publication = (
        await this.query<{ puballtables: string; owned: string }>(
          meta,
          `SELECT puballtables, pubowner = (SELECT oid FROM pg_roles WHERE rolname = current_user) AS owned
           FROM pg_publication WHERE pubname = $1`,
          [this.config.publicationName],
        )
      )[0];
      for (const key of found) {
        const dot = key.indexOf('.');
        const id = { namespace: key.slice(0, dot), name: key.slice(dot + 1) };
        if (publication?.puballtables !== 't') {
          if (publication?.owned !== 't') {
            this.log.warn(
              `${key} matches source.tables but is not in publication ${this.config.publicationName}, which this role does not own: ALTER PUBLICATION ${quoteIdent(this.config.publicationName)} ADD TABLE ${quoteTable(id)};`,
            );
            this.announced.add(key);
            continue;
          }
          await meta
            .query(`ALTER PUBLICATION ${quoteIdent(this.config.publicationName)} ADD TABLE ${quoteTable(id)}`)
            .catch((error: Error & { code?: string }) => {
              if (error.code !== '42710') throw error; // a member already (added by hand meanwhile)
            });
        }
        this.announced.add(key);
        await this.query(meta, 'SELECT pg_logical_emit_message(false, $1, $2)', [this.messagePrefix(), `add ${key}`]);
        this.log.info(`new table ${key} matches source.tables: capturing it`);
      }
    } catch (error) {
      this.log.warn(
        `looking for new tables failed (trying again): ${error instanceof Error ? error.message : String(error)}`,
      );
    } finally {
      this.discovering = false;
    }
  }

  // ---- the stream's steps ----

  limitBatchTables(maxTables: number): void {
    this.merge.limitBatchTables(maxTables);
  }

  async *batches(): AsyncGenerator<ChangeBatch> {
    if (!this.opened) throw new TributaryError('INTERNAL', 'postgres source: batches() before open()');
    yield* this.merge.batches([...this.tables.values()].map((t) => schemaEvent(t.schema, 'createTable', 0)));
  }

  /** Applies one step in order (the merge has emitted the chunks that go before it): changes and position. */
  private async applyStep(step: WalStep, out: ChangeEvent[]): Promise<void> {
    switch (step.kind) {
      case 'begin':
        this.inTransaction = true;
        this.seen = 0;
        this.txTsMs = step.tsMs;
        this.txFinalLsn = step.start;
        this.txId = String(step.xid);
        return;
      case 'rows':
        for (const change of step.changes) {
          this.seen++;
          if (this.seen <= this.skip) continue;
          await this.emitChange(change, step.pgTable, step.table, out);
        }
        return;
      case 'commit':
        this.inTransaction = false;
        this.seen = 0;
        this.skip = 0;
        this.lastCommit = step.endLsn;
        this.lagMs = Math.max(0, Date.now() - step.tsMs);
        return;
      case 'ddl':
        switch (step.change.type) {
          case 'relation':
            await this.onRelation(step.change.message, out);
            return;
          case 'truncate':
            this.onTruncate(step.change.relations, out);
            return;
          case 'table-added':
            await this.onTableAdded(step.change.table, out);
            return;
        }
        return;
      case 'advance':
        // Outside a transaction everything before the position was delivered: a restart may begin there.
        if (!this.inTransaction && step.end > this.lastCommit) this.lastCommit = step.end;
        return;
      case 'idle':
        this.lagMs = 0;
        return;
    }
  }

  private info(): SourceInfo {
    return { tsMs: this.txTsMs, txId: this.txId, position: changePosition(this.txFinalLsn, this.seen) };
  }

  private async emitChange(change: WalRowChange, table: PgTable, name: string, out: ChangeEvent[]): Promise<void> {
    const id = table.schema.id;
    if (change.op === 'insert') {
      out.push(dataChange(id, 'insert', null, change.after, this.info()));
      return;
    }
    if (change.op === 'delete') {
      out.push(dataChange(id, 'delete', change.before, null, this.info()));
      return;
    }
    let after = change.after;
    if (change.toast) {
      const resolved = await resolveToast(
        (text, values) => this.query(this.meta!, text, values),

        change.toast.after,
        change.toast.before,
        change.toast.beforeKind,
        table,
        name,
      );
      if (resolved === null) {
        // The row is gone from the table now: its delete follows later in the stream. Deliver the state it will
        // reach (deleted) rather than a row with a value we cannot know.
        out.push(dataChange(id, 'delete', change.before, null, this.info()));
        return;
      }
      after = convertRow(resolved, table, name);
    }
    out.push(dataChange(id, 'update', change.before, after, this.info()));
  }

  /** TRUNCATE of captured tables: a `truncateTable` event each; chunks read across it are read again. */
  private onTruncate(oids: readonly number[], out: ChangeEvent[]): void {
    for (const oid of oids) {
      const relation = this.relations.get(oid);
      if (!relation?.captured) continue;
      this.seen++;
      if (this.seen <= this.skip) continue;
      const key = tableIdToString(relation.table.schema.id);
      const current = this.tables.get(key);
      // A new object: the kit reads a chunk again when its table changed while it was read (its rows may predate
      // the truncate).
      if (current) this.tables.set(key, { ...current });
      out.push({ ...schemaEvent(relation.table.schema, 'truncateTable', this.txTsMs), source: this.info() });
    }
  }

  /** A table announced by discovery: its schema from the catalog now, and its snapshot beside the stream. */
  private async onTableAdded(key: string, out: ChangeEvent[]): Promise<void> {
    this.announced.delete(key);
    if (this.tables.has(key)) return; // its Relation message came first
    const dot = key.indexOf('.');
    const listed = (await listPgTables(this.meta!)).filter(
      (t) => t.id.namespace === key.slice(0, dot) && t.id.name === key.slice(dot + 1),
    );
    const table = (await readPgTables(this.meta!, listed, this.types)).get(key);
    if (!table) return; // dropped meanwhile
    if (table.problems.length > 0 || table.schema.primaryKey.length === 0) {
      this.notCapturable.add(key);
      this.log.warn(
        `new table ${key} is not captured: ${table.problems.length > 0 ? table.problems.join('; ') : 'it has no primary key'}`,
      );
      return;
    }
    this.captureTable(key, table, out, this.txTsMs);
  }

  /** A table new to the pipeline: its schema event, and its snapshot (empty or not, it is exact). */
  private captureTable(key: string, table: PgTable, out: ChangeEvent[], tsMs: number): void {
    this.tables.set(key, table);
    out.push(schemaEvent(table.schema, 'createTable', tsMs));
    if (this.config.startupMode !== 'latest-offset') this.merge.addTable(key);
  }

  private streamError(error: unknown): TributaryError {
    const code = (error as { code?: unknown } | null)?.code;
    const text = error instanceof Error ? error.message : String(error);
    if (code === '55000' || code === '42704') {
      return new TributaryError('SOURCE_SLOT_LOST', `replication slot ${this.slot}: ${text}`, {
        hint: '`tributary run --reset` takes a new snapshot; raise max_slot_wal_keep_size (or keep the pipeline running)',
        cause: error,
      });
    }
    return classifySourceError(error, this.config, 'stream');
  }

  /**
   * A Relation message precedes the first change of a table in this session and follows every change of its
   * columns: the table's columns as the rows after it have them. A capture table whose columns differ from the
   * schema announced gets a `refreshTable` (a table new to the pipeline — a publication FOR ALL TABLES, or a row before discovery's
   * message — a `createTable` and a snapshot), as the `mysql` source emits after DDL.
   */
  private async onRelation(message: RelationMessage, out: ChangeEvent[]): Promise<void> {
    const relations = this.relations;
    const tsMs = this.txTsMs;
    const captured = this.isCaptured(message.namespace, message.name);
    const key = `${message.namespace}.${message.name}`;
    const previous = relations.get(message.oid)?.table ?? this.tables.get(key);
    await this.types.load(
      this.meta!,
      message.columns.map((c) => c.typeOid),
    );
    const table = relationTable(message, previous, this.types);
    if (typeof table === 'string') {
      if (!captured) {
        relations.set(message.oid, { captured: false, table: previous ?? emptyTable(message) });
        return;
      }
      throw new TributaryError('SOURCE_UNSUPPORTED_TYPE', `${key}.${table}`, {
        hint: `leave ${key} out with source.tables.exclude, or change the column's type`,
      });
    }
    const { schema } = table;
    relations.set(message.oid, { captured, table });
    if (!captured) return;
    if (!previous) {
      this.captureTable(key, table, out, tsMs);
      this.log.info(`new table ${key} captured from the replication stream`);
    } else if (!sameColumns(previous.schema, schema)) {
      this.tables.set(key, table);
      out.push(schemaEvent(schema, 'refreshTable', tsMs));
      this.log.info(`schema of ${key} changed (columns ${schema.columns.map((c) => c.name).join(', ')})`);
    }
  }

  committed(position: SourcePosition): void {
    if (!isPostgresPosition(position) || !position.slot) return;
    // Safe during the snapshot too: a restart streams from the position and reads the chunks not delivered.
    const lsn = parseLsn(position.lsn);
    if (lsn <= this.committedLsn) return;
    this.committedLsn = lsn;
    this.walReader?.confirm(lsn);
  }

  private position(): PostgresPosition {
    const snapshot = this.merge.snapshot;
    return {
      kind: 'postgres',
      slot: this.slot,
      lsn: formatLsn(this.lastCommit),
      skip: this.inTransaction ? this.seen : 0,
      ...(snapshot ? { snapshot } : {}),
      ...(this.systemId ? { systemId: this.systemId } : {}),
      capturedTables: [...this.tables.keys()].sort(),
    };
  }

  progress(): SourceProgress {
    const estimates = new Map<string, number>();
    for (const [key, table] of this.tables)
      if (table.rowsEstimate !== undefined) estimates.set(key, table.rowsEstimate);
    const skip = this.inTransaction ? this.seen : 0;
    return {
      phase: !this.opened ? 'starting' : this.merge.snapshot ? 'snapshot' : this.merge.streaming ? 'streaming' : 'done',
      ...this.merge.snapshotProgress(estimates),
      logPosition: this.opened ? `${formatLsn(this.lastCommit)}${skip ? `+${plural(skip, 'change')}` : ''}` : '',
      lagMs: this.lagMs,
    };
  }

  async close(): Promise<void> {
    this.closed = true;
    clearInterval(this.discovery);
    this.discovery = undefined;
    await this.merge.close();
    const clients = [this.replication, this.meta];
    this.replication = undefined;
    this.meta = undefined;
    this.walReader = undefined;
    await Promise.all(clients.map(async (c) => c?.end().catch(() => undefined)));
  }
}

/**
 * The snapshot left at a saved position. A checkpoint of an earlier release lists the tables done
 * (`tablesDone`): the others are read again by chunks.
 */
function savedSnapshot(position: PostgresPosition, tables: readonly string[]): SnapshotProgress | undefined {
  const saved = position.snapshot;
  if (!saved) return undefined;
  if ('tablesDone' in saved) {
    const done = new Set(saved.tablesDone);
    return startSnapshot(tables.filter((t) => !done.has(t)).sort());
  }
  return saved;
}

/**
 * A change's place in the log ({@link SourceInfo.position}): its transaction's commit LSN (16 hex digits) and its
 * index in the transaction (10 digits), so that text order is commit order.
 */
function changePosition(commitLsn: Lsn, index: number): string {
  return `${commitLsn.toString(16).toUpperCase().padStart(16, '0')}:${changeIndexText(index)}`;
}

function schemaEvent(schema: TableSchema, change: SchemaChangeEvent['change'], tsMs: number): SchemaChangeEvent {
  return { kind: 'schema', table: schema.id, change, schema, source: { tsMs } };
}
