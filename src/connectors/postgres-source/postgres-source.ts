import type pg from 'pg';
import {
  dataChange,
  plural,
  tableIdToString,
  TributaryError,
  type ChangeBatch,
  type ChangeEvent,
  type Column,
  type OptionValues,
  type SchemaChangeEvent,
  type SourceInfo,
  type Source,
  type SourceDescription,
  type SourcePosition,
  type SourceProgress,
  type TableSchema,
  type Value,
  type ValidationCheck,
} from '../../core/index.js';
import { parseTableSelectors, type TableSelector } from '../../config/table-selector.js';
import type { SourceContext } from '../registry.js';
import { formatLsn, parseLsn, type Lsn } from './pg-lsn.js';
import { PgReplicationStream } from './pg-replication-stream.js';
import { decodePgoutput, UNCHANGED_TOAST, type RelationMessage, type TupleData } from './pgoutput-decoder.js';
import {
  listPgTables,
  PgTypeCatalog,
  quoteIdent,
  quoteTable,
  readPgTables,
  type PgTable,
} from './postgres-source-catalog.js';
import { postgresSourceConfig, type PostgresSourceConfig } from './postgres-source-config.js';
import { classifySourceError, connectSource } from './postgres-source-connection.js';
import { isPostgresPosition, type PostgresPosition } from './postgres-source-position.js';
import { convertRow, PgSnapshotReader } from './postgres-source-snapshot.js';

/** Changes per batch while streaming (the runtime commits by its own triggers; this bounds one batch's memory). */
const STREAM_BATCH_EVENTS = 4096;

export function postgresSource(options: OptionValues, context: SourceContext): Source {
  return new PostgresSource(postgresSourceConfig(options, context.pipelineName), context);
}

/** What the stream knows of one relation (by oid): its table, the columns pgoutput sends and their converters. */
interface StreamRelation {
  readonly oid: number;
  readonly captured: boolean;
  readonly table: PgTable;
}

/**
 * The `postgres` source: logical replication with pgoutput. A pipeline without a checkpoint creates the slot
 * (exporting its snapshot), reads the captured tables in chunks inside that snapshot with parallel readers, then
 * streams the slot from its consistent point — so every change after the snapshot arrives once. The slot's
 * `confirmed_flush_lsn` advances only to positions the runtime reports committed ({@link Source.committed}).
 */
export class PostgresSource implements Source {
  private readonly log: SourceContext['log'];
  private readonly include: readonly TableSelector[];
  private readonly types = new PgTypeCatalog();
  private meta: pg.Client | undefined;
  private replication: pg.Client | undefined;
  private stream: PgReplicationStream | undefined;
  private readers: pg.Client[] = [];
  private tables = new Map<string, PgTable>();
  private position: PostgresPosition | undefined;
  private snapshotId: string | undefined;
  private systemId: string | undefined;
  private committedLsn: Lsn = 0n;
  private receivedLsn: Lsn = 0n;
  private heartbeat: NodeJS.Timeout | undefined;
  private maxTables = Infinity;
  private closed = false;
  private readonly progressState = {
    phase: 'starting' as SourceProgress['phase'],
    tablesDone: 0,
    tablesTotal: 0,
    rowsRead: 0,
    rowsEstimate: 0,
    chunksRead: 0,
    lagMs: 0,
    rowsByTable: new Map<string, number>(),
  };

  constructor(
    private readonly config: PostgresSourceConfig,
    private readonly context: SourceContext,
  ) {
    this.log = context.log;
    this.include = context.include.length > 0 ? context.include : parseTableSelectors(config.flinkTables ?? '');
  }

  private isCaptured(namespace: string, name: string): boolean {
    return (
      this.include.some((s) => s.matches(namespace, name)) &&
      !this.context.exclude.some((s) => s.matches(namespace, name))
    );
  }

  // ---- validate ----

  async validate(): Promise<SourceDescription> {
    const client = await connectSource(this.config);
    try {
      const checks: string[] = [];
      const warnings: ValidationCheck[] = [];
      const settings = await this.query<{ name: string; setting: string }>(
        client,
        `SELECT name, setting FROM pg_settings WHERE name IN ('wal_level', 'max_replication_slots', 'max_wal_senders', 'server_version_num', 'max_slot_wal_keep_size')`,
      );
      const setting = (name: string) => settings.find((s) => s.name === name)?.setting;
      if (setting('wal_level') !== 'logical') {
        throw new TributaryError('SOURCE_WAL_LEVEL', `wal_level is ${setting('wal_level')}, not logical`, {
          hint: "set wal_level = logical in postgresql.conf (ALTER SYSTEM SET wal_level = 'logical') and restart the server",
        });
      }
      checks.push('wal_level=logical');
      if (Number(setting('server_version_num')) < 100000) {
        throw new TributaryError('SOURCE_PROTOCOL', `PostgreSQL ${setting('server_version_num')} has no pgoutput`, {
          hint: 'PostgreSQL 10 or later is needed',
        });
      }
      const role = (
        await this.query<{ rolreplication: string; rolsuper: string; can_create: string }>(
          client,
          `SELECT r.rolreplication, r.rolsuper, has_database_privilege(current_user, current_database(), 'CREATE') AS can_create
           FROM pg_roles r WHERE r.rolname = current_user`,
        )
      )[0];
      // `scan.startup.mode: snapshot` reads the tables only: no slot, no publication, no REPLICATION.
      const streams = this.config.startupMode !== 'snapshot';
      if (streams && (!role || (role.rolreplication !== 't' && role.rolsuper !== 't'))) {
        throw new TributaryError(
          'SOURCE_PRIVILEGES_MISSING',
          `role ${this.config.user} has neither REPLICATION nor SUPERUSER`,
          { hint: `ALTER ROLE ${this.config.user} REPLICATION; (see docs/connectors/postgres.md#source-privileges)` },
        );
      }
      if (streams) checks.push(`role ${this.config.user} has ${role?.rolsuper === 't' ? 'SUPERUSER' : 'REPLICATION'}`);
      const tables = await this.resolveTables(client);
      checks.push(`${plural(tables.size, 'table')} captured, each with a key and supported types`);
      for (const table of tables.values()) {
        const name = tableIdToString(table.schema.id);
        if (table.replicaIdentity !== 'f' && table.types.some((t) => isToastable(t.type.kind))) {
          warnings.push({
            status: 'warning',
            message: `${name} has REPLICA IDENTITY ${replicaIdentityName(table.replicaIdentity)}: an update that leaves a large (TOASTed) value unchanged does not carry it, so the source reads the current value by key`,
            fix: `ALTER TABLE ${quoteTable(table.schema.id)} REPLICA IDENTITY FULL; makes every update carry the whole old row (exact, costs WAL)`,
          });
        }
      }
      const grants = await this.query<{ table: string }>(
        client,
        `SELECT t FROM unnest($1::text[]) AS t WHERE NOT has_table_privilege(current_user, t, 'SELECT')`,
        [[...tables.values()].map((t) => quoteTable(t.schema.id))],
      );
      if (grants.length > 0) {
        throw new TributaryError('SOURCE_PRIVILEGES_MISSING', `no SELECT on ${grants.map((g) => g.table).join(', ')}`, {
          hint: `GRANT SELECT ON ${grants.map((g) => g.table).join(', ')} TO ${this.config.user};`,
        });
      }
      checks.push('SELECT on every captured table');
      if (!streams) return { tables: [...tables.values()].map((t) => t.schema), checks, warnings };
      const publication = await this.query<{ puballtables: string }>(
        client,
        'SELECT puballtables FROM pg_publication WHERE pubname = $1',
        [this.config.publicationName],
      );
      if (publication.length === 0) {
        const need = this.config.publicationMode === 'all_tables' ? role?.rolsuper === 't' : role?.can_create === 't';
        if (!need) {
          throw new TributaryError(
            'SOURCE_PRIVILEGES_MISSING',
            `publication ${this.config.publicationName} is missing and role ${this.config.user} cannot create it`,
            {
              hint:
                this.config.publicationMode === 'all_tables'
                  ? `create it as a superuser: CREATE PUBLICATION ${this.config.publicationName} FOR ALL TABLES;`
                  : `GRANT CREATE ON DATABASE ${this.config.database} TO ${this.config.user}; (and own the captured tables), or create it: CREATE PUBLICATION ${this.config.publicationName} FOR TABLE …;`,
            },
          );
        }
        checks.push(`publication ${this.config.publicationName} will be created (${this.config.publicationMode})`);
      } else {
        checks.push(`publication ${this.config.publicationName} exists`);
      }
      const slot = await this.query<{ wal_status: string | null; plugin: string }>(
        client,
        'SELECT wal_status, plugin FROM pg_replication_slots WHERE slot_name = $1',
        [this.config.slotName],
      );
      if (slot[0]?.wal_status === 'lost') {
        warnings.push({
          status: 'warning',
          code: 'SOURCE_SLOT_LOST',
          message: `slot ${this.config.slotName} is invalidated (wal_status lost)`,
          fix: 'tributary run --reset drops and recreates it with a new snapshot',
        });
      }
      checks.push(slot.length ? `slot ${this.config.slotName} exists` : `slot ${this.config.slotName} will be created`);
      return { tables: [...tables.values()].map((t) => t.schema), checks, warnings };
    } finally {
      await client.end().catch(() => undefined);
    }
  }

  /** The captured tables, read from the catalog; throws for none, an unsupported type or a missing key. */
  private async resolveTables(client: pg.Client): Promise<Map<string, PgTable>> {
    const all = await listPgTables(client);
    const wanted = all.filter((t) => this.isCaptured(t.id.namespace, t.id.name));
    if (wanted.length === 0) {
      throw new TributaryError(
        'SOURCE_NO_TABLES',
        `no table of database ${this.config.database} matches source.tables (${this.include.map((s) => s.source).join(', ')})`,
        {
          hint: `patterns are regular expressions on schema.table; tables of the database include: ${
            all
              .slice(0, 5)
              .map((t) => tableIdToString(t.id))
              .join(', ') || '(none)'
          }`,
        },
      );
    }
    const tables = await readPgTables(client, wanted, this.types);
    for (const table of tables.values()) {
      const name = tableIdToString(table.schema.id);
      if (table.problems.length > 0) {
        throw new TributaryError('SOURCE_UNSUPPORTED_TYPE', `${name}: ${table.problems.join('; ')}`, {
          hint: `leave ${name} out with source.tables.exclude, or change the column's type (docs/type-mapping.md lists what is supported)`,
        });
      }
      if (table.schema.primaryKey.length === 0) {
        throw new TributaryError('SOURCE_NO_PRIMARY_KEY', `${name} has no primary key and no replica identity index`, {
          hint: `add a primary key, or ALTER TABLE ${quoteTable(table.schema.id)} REPLICA IDENTITY USING INDEX <a unique index on NOT NULL columns>`,
        });
      }
      if (table.replicaIdentity === 'n') {
        throw new TributaryError(
          'SOURCE_NO_PRIMARY_KEY',
          `${name} has REPLICA IDENTITY NOTHING: updates and deletes carry no key`,
          {
            hint: `ALTER TABLE ${quoteTable(table.schema.id)} REPLICA IDENTITY DEFAULT; (or FULL)`,
          },
        );
      }
    }
    return tables;
  }

  private async query<R>(client: pg.Client, text: string, values?: unknown[]): Promise<R[]> {
    try {
      return (await client.query(text, values)).rows as R[];
    } catch (error) {
      throw classifySourceError(error, this.config, 'query');
    }
  }

  // ---- open ----

  limitBatchTables(maxTables: number): void {
    this.maxTables = Math.max(1, maxTables);
  }

  async checkResume(position: SourcePosition): Promise<string> {
    const client = await connectSource(this.config);
    try {
      return await this.checkSlot(client, position);
    } finally {
      await client.end().catch(() => undefined);
    }
  }

  /** The slot of a saved position must exist, be valid, and not have confirmed beyond the position. */
  private async checkSlot(client: pg.Client, position: SourcePosition): Promise<string> {
    if (!isPostgresPosition(position)) {
      throw new TributaryError('PIPELINE_STATE_MISMATCH', 'the checkpoint was not written by a postgres source', {
        hint: 'start this pipeline over with `tributary run --reset`',
      });
    }
    const slot = (
      await this.query<{ confirmed_flush_lsn: string | null; wal_status: string | null; plugin: string }>(
        client,
        'SELECT confirmed_flush_lsn::text, wal_status, plugin FROM pg_replication_slots WHERE slot_name = $1 AND database = current_database()',
        [position.slot],
      )
    )[0];
    if (!slot) {
      throw new TributaryError('SOURCE_SLOT_LOST', `replication slot ${position.slot} of this pipeline is gone`, {
        hint: 'the changes since the checkpoint cannot be read any more; `tributary run --reset` takes a new snapshot',
      });
    }
    if (slot.wal_status === 'lost') {
      throw new TributaryError(
        'SOURCE_SLOT_LOST',
        `replication slot ${position.slot} was invalidated: the server removed WAL it still needed (max_slot_wal_keep_size)`,
        {
          hint: '`tributary run --reset` takes a new snapshot; raise max_slot_wal_keep_size (or keep the pipeline running)',
        },
      );
    }
    if (slot.confirmed_flush_lsn && parseLsn(slot.confirmed_flush_lsn) > parseLsn(position.lsn)) {
      throw new TributaryError(
        'SOURCE_SLOT_LOST',
        `replication slot ${position.slot} has confirmed ${slot.confirmed_flush_lsn}, past the checkpoint's ${position.lsn}: the changes between are gone`,
        { hint: 'resume from the latest checkpoint (not an older savepoint), or `tributary run --reset`' },
      );
    }
    return `slot ${position.slot} holds the changes from ${position.lsn}`;
  }

  async open(resume: SourcePosition | null): Promise<void> {
    this.meta = await connectSource(this.config);
    this.tables = await this.resolveTables(this.meta);
    this.progressState.tablesTotal = this.tables.size;
    if (this.config.startupMode === 'snapshot') {
      // Snapshot only: one REPEATABLE READ snapshot exported from the metadata connection; no slot.
      await this.query(this.meta, 'BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY');
      this.snapshotId = (await this.query<{ id: string }>(this.meta, 'SELECT pg_export_snapshot() AS id'))[0]!.id;
      this.position = { kind: 'postgres', slot: '', lsn: '0/0', skip: 0, snapshot: { tablesDone: [] } };
      return;
    }
    await this.ensurePublication(this.meta);
    this.replication = await connectSource(this.config, {
      replication: true,
      applicationName: 'tributary-replication',
    });
    const system = (await this.query<{ systemid: string }>(this.replication, 'IDENTIFY_SYSTEM'))[0];
    this.systemId = system?.systemid;
    if (resume !== null) {
      const message = await this.checkSlot(this.meta, resume);
      const position = resume as PostgresPosition;
      if (position.systemId && this.systemId && position.systemId !== this.systemId) {
        throw new TributaryError(
          'PIPELINE_STATE_MISMATCH',
          `the checkpoint belongs to PostgreSQL system ${position.systemId}, this server is ${this.systemId}`,
          { hint: 'point the source at the server the pipeline was reading, or `tributary run --reset`' },
        );
      }
      this.log.info(message);
      // Tables that match `tables` now and did not when the position was taken (a widened pattern) are
      // snapshotted now — the publication covers them since ensurePublication — then streamed from the position.
      const captured = position.capturedTables === undefined ? undefined : new Set(position.capturedTables);
      const added = captured ? [...this.tables.keys()].filter((key) => !captured.has(key)) : [];
      const all = [...this.tables.keys()];
      if (added.length > 0) {
        this.log.info(`newly captured ${added.join(', ')}: snapshotting ${added.length === 1 ? 'it' : 'them'}`);
        const tablesDone = position.snapshot?.tablesDone ?? all.filter((key) => captured!.has(key));
        this.position = { ...position, snapshot: { tablesDone }, capturedTables: all };
      } else {
        this.position = { ...position, capturedTables: all };
      }
      if (this.position.snapshot) {
        // The exported snapshot died with the previous run: the tables not done are read again in a new
        // snapshot, later than the slot's point; streaming from the slot's point replays the changes in between
        // over them, which the sink's upserts by key make converge (docs/connectors/postgres.md).
        await this.query(this.meta, 'BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY');
        this.snapshotId = (await this.query<{ id: string }>(this.meta, 'SELECT pg_export_snapshot() AS id'))[0]!.id;
      }
    } else {
      const existing = await this.query<{ active: string }>(
        this.meta,
        'SELECT active FROM pg_replication_slots WHERE slot_name = $1',
        [this.config.slotName],
      );
      if (existing.length > 0) {
        this.log.warn(
          `slot ${this.config.slotName} exists but the pipeline has no checkpoint: dropping and creating it anew`,
        );
        await this.query(this.meta, 'SELECT pg_drop_replication_slot($1)', [this.config.slotName]);
      }
      const snapshot = this.config.startupMode === 'initial';
      const created = (
        await this.query<{ consistent_point: string; snapshot_name: string | null }>(
          this.replication,
          `CREATE_REPLICATION_SLOT "${this.config.slotName}" LOGICAL pgoutput ${snapshot ? 'EXPORT_SNAPSHOT' : 'NOEXPORT_SNAPSHOT'}`,
        )
      )[0]!;
      this.log.info(`created slot ${this.config.slotName} at ${created.consistent_point}`);
      this.snapshotId = created.snapshot_name ?? undefined;
      this.position = {
        kind: 'postgres',
        slot: this.config.slotName,
        lsn: created.consistent_point,
        skip: 0,
        ...(snapshot ? { snapshot: { tablesDone: [] } } : {}),
        ...(this.systemId ? { systemId: this.systemId } : {}),
        capturedTables: [...this.tables.keys()],
      };
    }
    this.committedLsn = parseLsn(this.position.lsn);
    this.receivedLsn = this.committedLsn;
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

  // ---- batches ----

  async *batches(): AsyncGenerator<ChangeBatch> {
    if (!this.position) throw new TributaryError('INTERNAL', 'postgres source: batches() before open()');
    const start: ChangeEvent[] = [...this.tables.values()].map((t) => schemaEvent(t.schema, 'createTable', 0));
    yield { events: start, position: this.position, caughtUp: false };
    if (this.position.snapshot) yield* this.snapshot();
    if (this.config.startupMode === 'snapshot') {
      this.progressState.phase = 'done';
      return;
    }
    yield* this.streamChanges();
  }

  private async *snapshot(): AsyncGenerator<ChangeBatch> {
    const position = this.position!;
    const done = new Set(position.snapshot?.tablesDone ?? []);
    const pending = [...this.tables.values()].filter((t) => !done.has(tableIdToString(t.schema.id)));
    this.progressState.phase = 'snapshot';
    this.progressState.tablesDone = done.size;
    this.progressState.rowsEstimate = pending.reduce((n, t) => n + (t.rowsEstimate ?? 0), 0);
    const count = Math.max(1, this.context.parallelism);
    for (let i = 0; i < count; i++)
      this.readers.push(await connectSource(this.config, { applicationName: 'tributary-snapshot' }));
    const reader = new PgSnapshotReader(this.readers, this.config.chunkSize);
    try {
      await reader.begin(this.snapshotId!);
      // Every reader holds the snapshot now; the exporting transaction (if the metadata connection has one) may end.
      await this.meta?.query('COMMIT').catch(() => undefined);
      for (const table of pending) {
        const name = tableIdToString(table.schema.id);
        const chunks = await reader.chunks(table);
        let left = chunks.length;
        for await (const events of reader.read(chunks)) {
          left--;
          this.progressState.rowsRead += events.length;
          this.progressState.chunksRead++;
          this.progressState.rowsByTable.set(name, (this.progressState.rowsByTable.get(name) ?? 0) + events.length);
          if (left === 0) done.add(name);
          this.position = { ...position, snapshot: { tablesDone: [...done] } };
          for (let i = 0; i < events.length || i === 0; i += STREAM_BATCH_EVENTS) {
            const last = i + STREAM_BATCH_EVENTS >= events.length;
            // Only the last piece of a chunk carries the table as done; the earlier ones resume before it.
            yield {
              events: events.slice(i, i + STREAM_BATCH_EVENTS),
              position: last
                ? this.position
                : { ...position, snapshot: { tablesDone: [...done].filter((d) => d !== name || left > 0) } },
              caughtUp: false,
            };
          }
        }
        this.progressState.tablesDone++;
        this.log.info(`snapshot of ${name}: ${plural(this.progressState.rowsByTable.get(name) ?? 0, 'row')}`);
      }
    } finally {
      await reader.end();
      await Promise.all(this.readers.map((r) => r.end().catch(() => undefined)));
      this.readers = [];
    }
    const { snapshot: _done, ...streaming } = this.position!;
    this.position = streaming;
    yield { events: [], position: this.position, caughtUp: true };
  }

  private async *streamChanges(): AsyncGenerator<ChangeBatch> {
    const replication = this.replication!;
    const stream = new PgReplicationStream(replication);
    this.stream = stream;
    const position = this.position!;
    stream.start(position.slot, parseLsn(position.lsn), this.config.publicationName);
    this.progressState.phase = 'streaming';
    this.heartbeat = setInterval(
      () => stream.sendStatus(this.receivedLsn, this.committedLsn, true),
      this.config.heartbeatMs,
    );
    this.heartbeat.unref();
    const relations = new Map<number, StreamRelation>();
    /** Changes of the transaction in progress seen so far (delivered, or skipped on resume). */
    let seen = 0;
    let skip = position.skip;
    let lastCommit = position.lsn;
    let inTransaction = false;
    let txTsMs = 0;
    let txFinalLsn = 0n;
    let txId = '';
    let events: ChangeEvent[] = [];
    let tablesInBatch = new Set<string>();
    const currentPosition = (): PostgresPosition => ({
      ...this.position!,
      lsn: lastCommit,
      skip: inTransaction ? seen : 0,
    });
    const flush = (caughtUp: boolean): ChangeBatch => {
      const batch = { events, position: currentPosition(), caughtUp };
      this.position = batch.position;
      events = [];
      tablesInBatch = new Set();
      return batch;
    };
    try {
      for (;;) {
        let frame;
        try {
          frame = await stream.next();
        } catch (error) {
          throw this.streamError(error);
        }
        if (frame === null) {
          if (this.closed) return;
          throw new TributaryError('SOURCE_CONNECTION_LOST', 'the server ended the replication stream', {
            hint: 'the pipeline reconnects and resumes from its last checkpoint',
          });
        }
        if (frame.kind === 'keepalive') {
          if (frame.walEnd > this.receivedLsn) this.receivedLsn = frame.walEnd;
          if (frame.replyRequested) stream.sendStatus(this.receivedLsn, this.committedLsn, false);
          // Idle (nothing in flight): everything before the server's position is delivered, so the position may
          // move there; once committed, the slot releases the WAL before it.
          if (!inTransaction && frame.walEnd > parseLsn(lastCommit)) {
            lastCommit = formatLsn(frame.walEnd);
            this.progressState.lagMs = 0;
          }
        } else {
          if (frame.walEnd > this.receivedLsn) this.receivedLsn = frame.walEnd;
          const message = decodePgoutput(frame.data);
          switch (message.tag) {
            case 'begin':
              inTransaction = true;
              seen = 0;
              txTsMs = message.tsMs;
              txFinalLsn = message.finalLsn;
              txId = String(message.xid);
              break;
            case 'commit':
              inTransaction = false;
              seen = 0;
              skip = 0;
              lastCommit = formatLsn(message.endLsn);
              this.progressState.lagMs = Math.max(0, Date.now() - message.tsMs);
              break;
            case 'relation':
              await this.onRelation(message, relations, events, txTsMs);
              break;
            case 'insert':
            case 'update':
            case 'delete': {
              const relation = relations.get(message.relation);
              if (!relation?.captured) break;
              const name = tableIdToString(relation.table.schema.id);
              if (!tablesInBatch.has(name) && tablesInBatch.size >= this.maxTables && events.length > 0)
                yield flush(false);
              seen++;
              if (seen <= skip) break;
              tablesInBatch.add(name);
              await this.toEvents(message, relation.table, name, events, {
                tsMs: txTsMs,
                txId,
                position: changePosition(txFinalLsn, seen),
              });
              break;
            }
            case 'truncate':
              for (const oid of message.relations) {
                const relation = relations.get(oid);
                if (!relation?.captured) continue;
                seen++;
                if (seen <= skip) continue;
                events.push({
                  ...schemaEvent(relation.table.schema, 'truncateTable', txTsMs),
                  source: { tsMs: txTsMs, txId, position: changePosition(txFinalLsn, seen) },
                });
              }
              break;
            default:
              // type, origin, message: nothing to deliver (logical messages will carry snapshot watermarks).
              break;
          }
        }
        // Hand over what is there when the socket has nothing more buffered (or the batch is full), and a moved
        // position (a commit, a keepalive while idle) even without changes.
        if (events.length >= STREAM_BATCH_EVENTS || (stream.buffered === 0 && events.length > 0)) {
          yield flush(stream.buffered === 0);
        } else if (stream.buffered === 0 && !inTransaction && lastCommit !== this.position!.lsn) {
          yield flush(true);
        }
      }
    } finally {
      clearInterval(this.heartbeat);
      this.heartbeat = undefined;
    }
  }

  private streamError(error: unknown): TributaryError {
    const code = (error as { code?: unknown } | null)?.code;
    const text = error instanceof Error ? error.message : String(error);
    if (code === '55000' || code === '42704') {
      return new TributaryError('SOURCE_SLOT_LOST', `replication slot ${this.position?.slot}: ${text}`, {
        hint: '`tributary run --reset` takes a new snapshot; raise max_slot_wal_keep_size (or keep the pipeline running)',
        cause: error,
      });
    }
    return classifySourceError(error, this.config, 'stream');
  }

  /**
   * A Relation message precedes the first change of a table in this session and follows every change of its
   * columns: the table's columns as the rows after it have them. A capture table whose columns differ from the
   * schema announced gets a `refreshTable` (a table new to the pipeline — a publication FOR ALL TABLES — a
   * `createTable`), as the `mysql` source emits after DDL.
   */
  private async onRelation(
    message: RelationMessage,
    relations: Map<number, StreamRelation>,
    out: ChangeEvent[],
    tsMs: number,
  ): Promise<void> {
    const captured = this.isCaptured(message.namespace, message.name);
    const key = `${message.namespace}.${message.name}`;
    const previous = relations.get(message.oid)?.table ?? this.tables.get(key);
    await this.types.load(
      this.meta!,
      message.columns.map((c) => c.typeOid),
    );
    const columns: Column[] = [];
    const types = [];
    for (const c of message.columns) {
      const mapped = this.types.columnType(c.typeOid, c.typmod);
      if (typeof mapped === 'string') {
        if (!captured) {
          relations.set(message.oid, { oid: message.oid, captured: false, table: previous ?? emptyTable(message) });
          return;
        }
        throw new TributaryError('SOURCE_UNSUPPORTED_TYPE', `${key}.${c.name}: ${mapped}`, {
          hint: `leave ${key} out with source.tables.exclude, or change the column's type`,
        });
      }
      const before = previous?.schema.columns.find((p) => p.name === c.name);
      types.push(mapped);
      columns.push({
        name: c.name,
        type: mapped.type,
        nullable: before?.nullable ?? !c.key,
        sourceType: mapped.sourceType,
        ...(before?.defaultValue !== undefined && sameType(before, mapped.type)
          ? { defaultValue: before.defaultValue }
          : {}),
      });
    }
    const names = new Set(columns.map((c) => c.name));
    const primaryKey =
      previous && previous.schema.primaryKey.every((k) => names.has(k))
        ? previous.schema.primaryKey
        : message.replicaIdentity === 'f'
          ? []
          : message.columns.filter((c) => c.key).map((c) => c.name);
    const schema: TableSchema = { id: { namespace: message.namespace, name: message.name }, columns, primaryKey };
    const table: PgTable = {
      oid: message.oid,
      schema,
      types,
      replicaIdentity: message.replicaIdentity,
      problems: [],
      rowsEstimate: undefined,
    };
    relations.set(message.oid, { oid: message.oid, captured, table });
    if (!captured) return;
    if (!previous) {
      this.tables.set(key, table);
      this.position = { ...this.position!, capturedTables: [...this.tables.keys()] };
      out.push(schemaEvent(schema, 'createTable', tsMs));
      this.log.info(`new table ${key} captured from the replication stream`);
    } else if (!sameColumns(previous.schema, schema)) {
      this.tables.set(key, table);
      out.push(schemaEvent(schema, 'refreshTable', tsMs));
      this.log.info(`schema of ${key} changed (columns ${schema.columns.map((c) => c.name).join(', ')})`);
    }
  }

  private async toEvents(
    message: Extract<ReturnType<typeof decodePgoutput>, { tag: 'insert' | 'update' | 'delete' }>,
    table: PgTable,
    name: string,
    out: ChangeEvent[],
    info: SourceInfo,
  ): Promise<void> {
    if (message.tag === 'insert') {
      out.push(
        dataChange(table.schema.id, 'insert', null, convertRow(this.plain(message.after, name), table, name), info),
      );
      return;
    }
    if (message.tag === 'delete') {
      out.push(dataChange(table.schema.id, 'delete', this.imageOf(message.before, table, name), null, info));
      return;
    }
    let afterTexts = message.after;
    if (afterTexts.some((v) => v === UNCHANGED_TOAST)) {
      const resolved = await this.resolveToast(message.after, message.before, message.beforeKind, table, name);
      if (resolved === null) {
        // The row is gone from the table now: its delete follows later in the stream. Deliver the state it will
        // reach (deleted) rather than a row with a value we cannot know.
        const before = message.before
          ? this.imageOf(message.before, table, name)
          : this.keyImage(message.after, table, name);
        out.push(dataChange(table.schema.id, 'delete', before, null, info));
        return;
      }
      afterTexts = resolved;
    }
    const after = convertRow(afterTexts as readonly (string | null)[], table, name);
    const before = message.before
      ? this.imageOf(message.before, table, name)
      : this.keyImage(message.after, table, name);
    out.push(dataChange(table.schema.id, 'update', before, after, info));
  }

  /** A tuple without unchanged-TOAST markers (inserts never have them). */
  private plain(tuple: TupleData, name: string): (string | null)[] {
    return tuple.map((v) => {
      if (v === UNCHANGED_TOAST)
        throw new TributaryError('SOURCE_PROTOCOL', `${name}: unexpected unchanged TOAST value`);
      return v;
    });
  }

  /**
   * The before image of an update or delete: the whole old row under REPLICA IDENTITY FULL, else the key with
   * the other columns NULL (pgoutput sends nothing more).
   */
  private imageOf(tuple: TupleData, table: PgTable, name: string): Value[] {
    return convertRow(
      tuple.map((v) => (v === UNCHANGED_TOAST ? null : v)),
      table,
      name,
    );
  }

  /** The key of a row (the other columns NULL): the before image of an update that did not change the key. */
  private keyImage(tuple: TupleData, table: PgTable, name: string): Value[] {
    const keys = new Set(table.schema.primaryKey);
    return convertRow(
      tuple.map((v, i) => (keys.has(table.schema.columns[i]!.name) && v !== UNCHANGED_TOAST ? v : null)),
      table,
      name,
    );
  }

  /**
   * Fills the unchanged TOAST values of an update: from the old row under REPLICA IDENTITY FULL (exact), else
   * by reading the current row by key (the value now — later changes of it follow in the stream). Null when the
   * row no longer exists.
   */
  private async resolveToast(
    after: TupleData,
    before: TupleData | null,
    beforeKind: 'key' | 'old' | null,
    table: PgTable,
    name: string,
  ): Promise<(string | null)[] | null> {
    const filled: TupleValue2[] = after.map((v, i) =>
      v === UNCHANGED_TOAST && beforeKind === 'old' && before && before[i] !== UNCHANGED_TOAST ? before[i]! : v,
    );
    const missing = filled.map((v, i) => (v === UNCHANGED_TOAST ? i : -1)).filter((i) => i >= 0);
    if (missing.length === 0) return filled as (string | null)[];
    const keyIndexes = table.schema.primaryKey.map((k) => table.schema.columns.findIndex((c) => c.name === k));
    const keyValues = keyIndexes.map((i) => filled[i]);
    if (keyValues.some((v) => v === UNCHANGED_TOAST || v === null || v === undefined)) {
      throw new TributaryError(
        'SOURCE_PROTOCOL',
        `${name}: an update left a TOASTed key column unchanged; its value is not in the stream`,
        {
          hint: `ALTER TABLE ${quoteTable(table.schema.id)} REPLICA IDENTITY FULL;`,
        },
      );
    }
    const columns = missing.map((i) => quoteIdent(table.schema.columns[i]!.name)).join(', ');
    const where = table.schema.primaryKey.map((k, i) => `${quoteIdent(k)} = $${i + 1}`).join(' AND ');
    const rows = await this.query<Record<string, string | null>>(
      this.meta!,
      `SELECT ${columns} FROM ${quoteTable(table.schema.id)} WHERE ${where}`,
      keyValues,
    );
    if (rows.length === 0) return null;
    const row = rows[0]!;
    for (const i of missing) filled[i] = row[table.schema.columns[i]!.name] ?? null;
    return filled as (string | null)[];
  }

  committed(position: SourcePosition): void {
    if (!isPostgresPosition(position) || position.snapshot || !position.slot) return;
    const lsn = parseLsn(position.lsn);
    if (lsn <= this.committedLsn) return;
    this.committedLsn = lsn;
    this.stream?.sendStatus(this.receivedLsn > lsn ? this.receivedLsn : lsn, lsn, false);
  }

  progress(): SourceProgress {
    const p = this.progressState;
    return {
      phase: p.phase,
      snapshotTablesDone: p.tablesDone,
      snapshotTablesTotal: p.tablesTotal,
      snapshotRowsRead: p.rowsRead,
      ...(p.rowsEstimate > 0 ? { snapshotRowsEstimate: p.rowsEstimate } : {}),
      snapshotRowsByTable: p.rowsByTable,
      snapshotChunksRead: p.chunksRead,
      snapshotChunkSize: this.config.chunkSize,
      logPosition: this.position
        ? `${this.position.lsn}${this.position.skip ? `+${plural(this.position.skip, 'change')}` : ''}`
        : '',
      lagMs: p.lagMs,
    };
  }

  async close(): Promise<void> {
    this.closed = true;
    clearInterval(this.heartbeat);
    this.heartbeat = undefined;
    this.stream?.close();
    const clients = [this.replication, this.meta, ...this.readers];
    this.replication = undefined;
    this.meta = undefined;
    this.readers = [];
    await Promise.all(clients.map(async (c) => c?.end().catch(() => undefined)));
  }
}

type TupleValue2 = TupleData[number];

/**
 * A change's place in the log ({@link SourceInfo.position}): its transaction's commit LSN (16 hex digits) and its
 * index in the transaction (10 digits), so that text order is commit order.
 */
function changePosition(commitLsn: Lsn, index: number): string {
  return `${commitLsn.toString(16).toUpperCase().padStart(16, '0')}:${String(index).padStart(10, '0')}`;
}

function isToastable(kind: string): boolean {
  return kind === 'string' || kind === 'json' || kind === 'bytes' || kind === 'varchar' || kind === 'decimal';
}

function replicaIdentityName(code: string): string {
  return code === 'f' ? 'FULL' : code === 'i' ? 'USING INDEX' : code === 'n' ? 'NOTHING' : 'DEFAULT';
}

function schemaEvent(schema: TableSchema, change: SchemaChangeEvent['change'], tsMs: number): SchemaChangeEvent {
  return { kind: 'schema', table: schema.id, change, schema, source: { tsMs } };
}

function sameType(column: Column, type: Column['type']): boolean {
  return JSON.stringify(column.type) === JSON.stringify(type);
}

function sameColumns(a: TableSchema, b: TableSchema): boolean {
  return (
    a.columns.length === b.columns.length &&
    a.columns.every((c, i) => c.name === b.columns[i]!.name && sameType(c, b.columns[i]!.type))
  );
}

function emptyTable(message: RelationMessage): PgTable {
  return {
    oid: message.oid,
    schema: { id: { namespace: message.namespace, name: message.name }, columns: [], primaryKey: [] },
    types: [],
    replicaIdentity: message.replicaIdentity,
    problems: [],
    rowsEstimate: undefined,
  };
}
