import { createHash } from 'node:crypto';
import pg from 'pg';
import type { ChangeEvent } from '../../core/change-event.js';
import { countEvents, type StreamEvent } from '../../core/packed-rows.js';
import { SchemaChangeFailedError, TributaryError } from '../../core/errors.js';
import type { OptionValues } from '../../core/option-spec.js';
import type { Checkpoint, Sink } from '../../core/sink.js';
import type { TableChecksums } from '../../core/table-checksums.js';
import type { TableId, TableSchema } from '../../core/table-schema.js';
import type { TableLayout } from '../../core/table-layout.js';
import type { ValidationCheck } from '../../core/validation-check.js';
import { readCatalogTable } from './postgres-catalog.js';
import { PostgresAppendWriter } from './postgres-append-writer.js';
import { PostgresChangelogTables } from './postgres-changelog-tables.js';
import { fencedError, PostgresCheckpointStore } from './postgres-checkpoint-store.js';
import { displayName, qualifiedName, type PostgresTableName } from './postgres-ddl.js';
import { classifyPostgresError, type PostgresErrorPhase } from './postgres-errors.js';
import { PostgresMergeWriter } from './postgres-merge-writer.js';
import type { PostgresModeWriter } from './postgres-mode-writer.js';
import { describePostgresTarget, postgresSinkConfig, type PostgresSinkConfig } from './postgres-sink-config.js';
import { pgSslOption, postgresTlsFailure } from './postgres-tls.js';
import { PostgresStagingTables } from './postgres-staging-tables.js';
import { PostgresTargetTables } from './postgres-target-tables.js';
import { PostgresUpsertWriter } from './postgres-upsert-writer.js';
import { logCheckpointWrite } from '../../core/checkpoint-chunks.js';
import type { Logger } from '../../core/logger.js';
import { redeclareBefore } from '../sink-kit/schema-tracker.js';
import { closeWithin, startSocketDeadline, type CountingSocket } from '../socket-deadline.js';
import { postgresChecksums } from './postgres-checksums.js';

/** How long a polite Terminate may take before the socket is simply destroyed. */
const END_TIMEOUT_MS = 2000;
/** TCP keep-alive probes start after this much idleness, so a dead peer is noticed between statements too. */
const KEEPALIVE_IDLE_MS = 10_000;

export interface PostgresSinkContext {
  /** Receives notable events (connected, server version, warnings); never a secret. */
  readonly log: Logger;
  /** The layout (transform `partition-keys`, `table-options`) of each sink table that has one, for creating it. */
  readonly tableLayout?: (table: TableId) => TableLayout | undefined;
  /** A scale-out apply worker's fencing token: see `SinkContext.fenceToken` and {@link PostgresCheckpointStore.raiseFence}. */
  readonly fenceToken?: bigint;
}

/** What one connection works with; rebuilt with each new connection. */
interface Session {
  readonly client: pg.Client;
  readonly tables: PostgresTargetTables;
  readonly staging: PostgresStagingTables;
  readonly checkpoints: PostgresCheckpointStore;
  readonly writer: PostgresModeWriter;
  /** Set in append mode: its last `_seq` is committed with each checkpoint. */
  readonly append: PostgresAppendWriter | undefined;
}

/**
 * The PostgreSQL sink (`type: postgres`). One connection and one open transaction at a time: the first
 * `write` after a commit begins it, each `write` applies (upsert), stages (merge) or appends (append) its batch
 * inside it as the sink option `write-mode` says, and `commit` completes the data, upserts the checkpoint row
 * and commits — so after a crash `open` returns exactly the checkpoint whose effects are in the database.
 * Schema changes run in the same transaction, between the rows before and after them, each inside a savepoint:
 * a write that holds one waits for it, and a change that fails is rolled back to its savepoint and reported
 * by that write as SINK_SCHEMA_CHANGE_FAILED, the transaction going on (see `Sink.write`). Any other error
 * rolls the transaction back, and the sink then refuses work until it is re-opened (and the runtime replays).
 *
 * Throws CONFIG_INVALID at once for bad options; everything else surfaces from the methods.
 */
export function postgresSink(options: OptionValues, context: PostgresSinkContext): Sink {
  const config = postgresSinkConfig(options);
  context.log.addSecret(config.password);
  if (typeof options['url'] === 'string') context.log.addSecret(options['url']);
  return new PostgresSink(config, context);
}

class PostgresSink implements Sink {
  private session: Session | undefined;
  /** Clients whose connection failed or ended; per client, so a late 'end' of a closed one cannot taint its successor. */
  private readonly lost = new WeakSet<pg.Client>();
  /** A transaction is open on the session's connection (begun by a write or commit, not yet ended). */
  private inTransaction = false;
  /** Events written since the last commit. */
  private count = 0;
  /** The batch being written (see {@link write}); undefined when none is. */
  private inflight: Promise<void> | undefined;
  /** Set when a write or commit failed: its transaction is gone, so only a re-open (and replay) may follow. */
  private failed = false;
  private readonly target: string;
  readonly maxTablesPerCommit: number;
  /** Upsert mode writes packed snapshot reads from their bytes (PostgresUpsertWriter); the other modes do not. */
  readonly writePacked?: (events: readonly StreamEvent[]) => Promise<void>;

  constructor(
    private readonly config: PostgresSinkConfig,
    private readonly context: PostgresSinkContext,
  ) {
    this.target = describePostgresTarget(config);
    this.maxTablesPerCommit = config.commitMaxTables;
    if (config.writeMode === 'upsert') this.writePacked = (events) => this.writeEvents(events);
  }

  async validate(): Promise<void> {
    const { client } = await this.connect('validate');
    try {
      await this.checkServer(client);
    } catch (error) {
      throw this.classify(error, 'validate');
    }
  }

  async savedCheckpoint(pipeline: string): Promise<Checkpoint | null> {
    const { client, checkpoints } = await this.connect('validate');
    try {
      const table = await readCatalogTable(client, checkpoints.table);
      if (table === undefined) return null;
      const has = (name: string) => table.columns.some((c) => c.name === name);
      return (
        (await checkpoints.load(pipeline, false, { operators: has('operators'), bulk: has('bulk') }))?.checkpoint ??
        null
      );
    } catch (error) {
      throw this.classify(error, 'checkpoint', displayName(checkpoints.table));
    }
  }

  /** Upsert and merge mode: the target tables as the first write checks them. Append mode writes changelogs, which it creates or extends. */
  async checkTables(schemas: readonly TableSchema[]): Promise<ValidationCheck[]> {
    if (this.config.writeMode === 'append') return [];
    const { tables } = await this.connect('validate');
    try {
      // One catalog query for all of them: 10,000 tables must not cost 10,000 round trips before the start.
      await tables.prefetch(schemas.map((schema) => tables.nameOf(schema.id)));
      const checks: ValidationCheck[] = [];
      for (const schema of schemas) checks.push(await tables.check(schema));
      return checks;
    } catch (error) {
      throw this.classify(error, 'validate');
    }
  }

  async open(pipeline: string): Promise<Checkpoint | null> {
    await this.settle().catch(() => undefined);
    this.failed = false;
    this.count = 0;
    const session = await this.connect('connect');
    if (this.inTransaction) {
      this.inTransaction = false;
      await session.client.query('ROLLBACK').catch(() => undefined);
      session.staging.forget();
    }
    // Table facts are re-checked at each open (someone may have changed the sink meanwhile); staging tables
    // are only lost with a rolled-back transaction or the connection, which forget them already.
    session.tables.forgetAll();
    session.writer.restart();
    const store = session.checkpoints;
    try {
      await createConcurrently(async () => {
        await session.tables.ensureSchema(this.config.checkpointSchema);
        await session.client.query(store.createSql());
      });
      const token = this.context.fenceToken;
      await store.ensureColumns(session.append !== undefined, token !== undefined);
      await store.preferLz4();
      // The fence first, committed on its own: every commit of an earlier owner is then either in what load()
      // reads, or refused.
      if (token !== undefined) {
        await this.endEarlierOwners(session, pipeline, token);
        const fence = await store.raiseFence(pipeline, token);
        if (fence > token) throw fencedError(pipeline, token, 'open');
        this.context.log.debug(`postgres: ${pipeline} fenced with token ${token}`);
      }
      const stored = await store.load(pipeline, session.append !== undefined);
      session.append?.start(stored?.lastSeq ?? 0);
      return stored?.checkpoint ?? null;
    } catch (error) {
      throw this.classify(error, 'checkpoint', displayName(store.table));
    }
  }

  /**
   * A fenced pipeline's sessions carry a mark of the pipeline in `application_name`; a new owner ends the
   * sessions of earlier owners before it raises the fence. An owner cut off while its transaction was open (its
   * process frozen, its host paused) keeps that transaction — and the row locks of what it wrote — for as long
   * as its connection lives, and the new owner would wait behind them: the stall a takeover must not have. Only
   * an owner whose token is not below the stored fence does this (checked without taking a lock), so a stale
   * one that wakes up cannot end its successor's session for good: it is refused at its fence.
   */
  private async endEarlierOwners(session: Session, pipeline: string, token: bigint): Promise<void> {
    const stored = await session.checkpoints.storedFence(pipeline);
    if (stored !== undefined && stored > token) throw fencedError(pipeline, token, 'open');
    const mark = fenceMark(pipeline);
    await session.client.query("SELECT set_config('application_name', $1, false)", [mark]);
    const others = await session.client.query<{ pid: number }>(
      'SELECT pid FROM pg_stat_activity WHERE application_name = $1 AND pid <> pg_backend_pid()',
      [mark],
    );
    for (const { pid } of others.rows) {
      try {
        await session.client.query('SELECT pg_terminate_backend($1)', [pid]);
        this.context.log.info(
          `postgres: ended session ${pid} of an earlier owner of ${pipeline} (cut off while it held a transaction)`,
        );
      } catch (error) {
        // Another role's session (a superuser's): the open waits behind it, as without this step.
        this.context.log.warn(
          `postgres: could not end session ${pid} of an earlier owner of ${pipeline}: ${(error as Error).message}`,
        );
      }
    }
  }

  /**
   * Starts writing the batch inside the open transaction and returns without waiting for it, so that the
   * source prepares the next batch while PostgreSQL works on this one; one batch is in flight at a time. Its
   * error, if any, is thrown by the next `write` or `commit` — except for a batch with a schema event, which
   * is waited for, so that a schema change that fails is reported by its own write.
   */
  write(events: readonly ChangeEvent[]): Promise<void> {
    return this.writeEvents(events);
  }

  private async writeEvents(events: readonly StreamEvent[]): Promise<void> {
    await this.settle();
    const session = this.usable('write');
    if (events.length === 0) return;
    this.count += countEvents(events);
    const work = this.writeNow(session, events);
    if (events.some((event) => event.kind === 'schema')) return work;
    work.catch(() => undefined); // observed by the next settle()
    this.inflight = work;
  }

  pending(): number {
    return this.count;
  }

  async commit(checkpoint: Checkpoint): Promise<void> {
    await this.settle();
    const session = this.usable('commit');
    try {
      await this.begin(session);
      await session.writer.flush();
      await session.checkpoints.save(checkpoint, session.append?.lastSeq, this.context.fenceToken);
      await session.client.query('COMMIT');
      this.inTransaction = false;
      this.count = 0;
      session.checkpoints.committed();
      logCheckpointWrite(this.context.log, 'postgres', checkpoint.id, session.checkpoints.lastWrite);
      // Between transactions: the next commit truncates every staging table the session keeps (see trim()).
      await session.staging.trim(this.maxTablesPerCommit);
    } catch (error) {
      throw await this.fail(session, error);
    }
  }

  /** Deletes the pipeline's checkpoint row; the sink tables keep their rows (a re-run upserts over them). */
  async reset(pipeline: string): Promise<void> {
    await this.open(pipeline);
    const store = this.session!.checkpoints;
    try {
      await store.remove(pipeline);
    } catch (error) {
      throw this.classify(error, 'checkpoint', displayName(store.table));
    }
  }

  async truncateTargets(pipeline: string, tables: readonly TableId[]): Promise<string[]> {
    await this.open(pipeline);
    const { client, tables: targets } = this.session!;
    const names = tables.map((id) => targets.nameOf(id));
    try {
      const existing: PostgresTableName[] = [];
      for (const name of names) {
        const found = await client.query<{ t: string | null }>('SELECT to_regclass($1)::text AS t', [
          qualifiedName(name),
        ]);
        if (found.rows[0]?.t != null && !existing.some((e) => qualifiedName(e) === qualifiedName(name))) {
          existing.push(name);
        }
      }
      if (existing.length > 0) await client.query(`TRUNCATE ${existing.map(qualifiedName).join(', ')}`);
      return existing.map(displayName);
    } catch (error) {
      throw this.classify(error, 'write');
    }
  }

  /** On the sink's own session: close the sink when done (the checksums' close is a no-op). */
  async checksums(): Promise<TableChecksums> {
    const { client } = await this.connect('connect');
    const checksums = await postgresChecksums(() => Promise.resolve(client));
    return { ...checksums, close: () => Promise.resolve() };
  }

  async close(): Promise<void> {
    const session = this.session;
    const work = this.inflight;
    this.session = undefined;
    this.inflight = undefined;
    this.inTransaction = false;
    this.count = 0;
    // Ending the connection rolls back a transaction still open, and fails a batch still in flight.
    if (session !== undefined) await endClient(session.client);
    await work?.catch(() => undefined);
  }

  /** The open session, if the sink may take work. */
  private usable(method: string): Session {
    if (this.failed) {
      throw new TributaryError(
        'INTERNAL',
        'postgres sink: a write or commit failed; close and re-open the sink to replay from the last checkpoint',
      );
    }
    if (this.session === undefined) throw new TributaryError('INTERNAL', `postgres sink: ${method}() before open()`);
    return this.session;
  }

  private async writeNow(session: Session, events: readonly StreamEvent[]): Promise<void> {
    try {
      await this.begin(session);
      if (!events.some((event) => event.kind === 'schema')) {
        await session.writer.write(events);
        return;
      }
      // One catalog query for every table a batch of createTable events (the start of every run) checks; not
      // when other schema changes could change a table between the query and its check.
      if (events.every((event) => event.kind !== 'schema' || event.change === 'createTable')) {
        await session.tables.prefetchCreating(
          events.flatMap((event) => (event.kind === 'schema' ? [event.schema] : [])),
        );
      }
      // Each schema event alone: when it fails, every row before it is written, none after it.
      let start = 0;
      for (const [i, event] of events.entries()) {
        if (event.kind !== 'schema') continue;
        if (i > start) await session.writer.write(events.slice(start, i));
        start = i + 1;
        await this.writeSchemaEvent(session, events, i);
      }
      if (start < events.length) await session.writer.write(events.slice(start));
    } catch (error) {
      if (error instanceof SchemaChangeFailedError) throw error;
      throw await this.fail(session, error);
    }
  }

  /** Applies `events[index]`; when it fails and is undone, the events from it on are not written. */
  private async writeSchemaEvent(session: Session, events: readonly StreamEvent[], index: number): Promise<void> {
    try {
      await session.writer.write([events[index]!]);
    } catch (error) {
      if (!(error instanceof SchemaChangeFailedError)) throw error;
      this.count -= countEvents(events.slice(index));
      const redeclare = redeclareBefore(error);
      if (redeclare !== undefined) await session.writer.write([redeclare]); // an error here ends the transaction
      throw error;
    }
  }

  /** Waits for the batch in flight; throws its error (the transaction is then rolled back already). */
  private async settle(): Promise<void> {
    const work = this.inflight;
    this.inflight = undefined;
    if (work !== undefined) await work;
  }

  private async begin(session: Session): Promise<void> {
    if (this.inTransaction) return;
    await session.client.query('BEGIN');
    this.inTransaction = true;
  }

  /** Rolls back after an error and returns the error to throw; the sink refuses work until re-opened. */
  private async fail(session: Session, error: unknown): Promise<TributaryError> {
    this.failed = true;
    const table = session.writer.currentTable;
    session.writer.rollback();
    session.staging.forget();
    session.tables.forgetAll();
    if (this.inTransaction && !this.lost.has(session.client)) {
      await session.client.query('ROLLBACK').catch(() => undefined);
    }
    this.inTransaction = false;
    this.count = 0;
    return this.classify(error, 'write', table);
  }

  /** The sink's session, connected on first use with the session settings the writers rely on. */
  private async connect(phase: PostgresErrorPhase): Promise<Session> {
    if (this.session !== undefined && !this.lost.has(this.session.client)) return this.session;
    if (this.session !== undefined) await this.close();
    const config = this.config;
    const ssl = await pgSslOption(config.tls, config.hostname, config.port, config.connectTimeoutMs);
    const client = new pg.Client({
      host: config.hostname,
      port: config.port,
      user: config.username,
      password: config.password,
      database: config.database,
      ssl,
      application_name: 'tributary',
      keepAlive: true,
      keepAliveInitialDelayMillis: KEEPALIVE_IDLE_MS,
    });
    watchStatements(client, config.readTimeoutMs, this.target);
    client.on('error', (error: Error & { code?: string }) => {
      // Without a listener a dropped connection would crash the process; the next call reports it.
      this.lost.add(client);
      this.context.log.warn(
        `postgres: connection to ${this.target} lost${error.code === undefined ? '' : ` (${error.code})`}`,
      );
    });
    client.on('end', () => {
      this.lost.add(client);
    });
    let serverVersion: number;
    try {
      await connectWithin(client, config.connectTimeoutMs);
      await client.query(
        'SET statement_timeout = 0; SET lock_timeout = 0; SET idle_in_transaction_session_timeout = 0',
      );
      const version = await client.query<{ v: number }>("SELECT current_setting('server_version_num')::int AS v");
      serverVersion = version.rows[0]?.v ?? 0;
    } catch (error) {
      await endClient(client);
      const tls = await postgresTlsFailure(
        error,
        config.tls,
        config.hostname,
        config.port,
        this.target,
        config.connectTimeoutMs,
      );
      throw tls ?? this.classify(error, phase);
    }
    this.session = newSession(client, config, serverVersion, this.context.tableLayout);
    this.inTransaction = false;
    return this.session;
  }

  /** Version, standby, and the privileges that creating the checkpoint table and sink tables needs. */
  private async checkServer(client: pg.Client): Promise<void> {
    const info = await client.query<{ version: string; standby: boolean; create_schema: boolean }>(
      "SELECT current_setting('server_version') AS version, pg_is_in_recovery() AS standby, " +
        "has_database_privilege(current_database(), 'CREATE') AS create_schema",
    );
    const server = info.rows[0];
    if (server === undefined) throw new TributaryError('INTERNAL', 'postgres sink: the server returned no version');
    this.context.log.info(`postgres: connected to ${this.target} (PostgreSQL ${server.version})`);
    if (server.standby) {
      throw new TributaryError('SINK_PRIVILEGES_MISSING', `PostgreSQL at ${this.target} is a read-only standby`, {
        hint: 'point sink option `hostname` (or `url`) at the primary server',
      });
    }
    const role = this.config.username;
    const schemas = [...new Set([this.config.schema, this.config.checkpointSchema])];
    const found = await client.query<{ nspname: string; can_create: boolean; can_use: boolean }>(
      "SELECT nspname, has_schema_privilege(oid, 'CREATE') AS can_create, has_schema_privilege(oid, 'USAGE') AS can_use " +
        'FROM pg_namespace WHERE nspname = ANY($1)',
      [schemas],
    );
    for (const schema of schemas) {
      const row = found.rows.find((r) => r.nspname === schema);
      const option = schema === this.config.schema ? '`schema`' : '`checkpoint.schema`';
      if (row === undefined && !server.create_schema) {
        throw new TributaryError(
          'SINK_PRIVILEGES_MISSING',
          `schema ${schema} does not exist and role ${role} may not create schemas in database ${this.config.database}`,
          {
            hint: `run CREATE SCHEMA "${schema}" AUTHORIZATION "${role}" or GRANT CREATE ON DATABASE "${this.config.database}" TO "${role}" as an administrator, or change sink option ${option}`,
          },
        );
      }
      if (row !== undefined && !(row.can_create && row.can_use)) {
        throw new TributaryError('SINK_PRIVILEGES_MISSING', `role ${role} may not create tables in schema ${schema}`, {
          hint: `GRANT USAGE, CREATE ON SCHEMA "${schema}" TO "${role}", or change sink option ${option}`,
        });
      }
    }
    // The checkpoint table and the table of its chunks, where someone else created them. (has_table_privilege
    // with a list is true when any one of them is held: each privilege is asked alone.)
    const chunkTable = `${this.config.checkpointTable}_chunks`;
    const tables = await client.query<{ relname: string; ok: boolean }>(
      "SELECT c.relname, has_table_privilege(c.oid, 'SELECT') AND has_table_privilege(c.oid, 'INSERT') AND " +
        "has_table_privilege(c.oid, CASE WHEN c.relname = $2 THEN 'UPDATE' ELSE 'DELETE' END) AS ok FROM pg_class c " +
        'JOIN pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname = $1 AND c.relname IN ($2, $3)',
      [this.config.checkpointSchema, this.config.checkpointTable, chunkTable],
    );
    for (const { relname, ok } of tables.rows) {
      if (ok) continue;
      const table = `${this.config.checkpointSchema}.${relname}`;
      const grant = relname === chunkTable ? 'SELECT, INSERT, DELETE' : 'SELECT, INSERT, UPDATE';
      throw new TributaryError(
        'SINK_PRIVILEGES_MISSING',
        `role ${role} may not read and write the checkpoint table ${table}`,
        { hint: `GRANT ${grant} ON ${table} TO "${role}", or change sink option \`checkpoint.table\`` },
      );
    }
    if (!server.create_schema) {
      this.context.log.warn(
        `postgres: role ${role} may not create schemas; sink tables must go to existing schemas (sink option \`schema\` or routes)`,
      );
    }
  }

  private classify(error: unknown, phase: PostgresErrorPhase, table?: string): TributaryError {
    return classifyPostgresError(error, {
      phase,
      target: this.target,
      username: this.config.username,
      database: this.config.database,
      password: this.config.password,
      connectionLost: this.session !== undefined && this.lost.has(this.session.client),
      ...(table === undefined ? {} : { table }),
    });
  }
}

/** The tables, staging tables, checkpoint store and mode writer of a new connection. */
function newSession(
  client: pg.Client,
  config: PostgresSinkConfig,
  serverVersion: number,
  layoutOf?: (table: TableId) => TableLayout | undefined,
): Session {
  const tables = new PostgresTargetTables(client, config.schema, layoutOf);
  const staging = new PostgresStagingTables(client);
  const checkpoints = new PostgresCheckpointStore(client, {
    schema: config.checkpointSchema,
    table: config.checkpointTable,
  });
  switch (config.writeMode) {
    case 'upsert':
      return {
        client,
        tables,
        staging,
        checkpoints,
        writer: new PostgresUpsertWriter(client, tables, staging, config.bufferMaxRows),
        append: undefined,
      };
    case 'merge': {
      const writer = new PostgresMergeWriter(client, tables, staging, serverVersion);
      return { client, tables, staging, checkpoints, writer, append: undefined };
    }
    case 'append': {
      const append = new PostgresAppendWriter(
        client,
        new PostgresChangelogTables(client, tables, config.appendTableSuffix),
      );
      return { client, tables, staging, checkpoints, writer: append, append };
    }
  }
}

/** pg internals read here (pg 8.23, lib/client.js): the query in flight and those queued behind it. */
interface PgQueryState {
  readonly _activeQuery: unknown;
  readonly _queryQueue: readonly unknown[];
}

/**
 * Fails the statement in flight with SINK_TIMEOUT when no byte has moved on the connection for `timeoutMs`
 * (a half-open or stalled link): the socket is destroyed with that error, pg hands it to the query, and the
 * client counts as lost. A connection idle between statements never expires.
 */
function watchStatements(client: pg.Client, timeoutMs: number, target: string): void {
  const state = client as unknown as PgQueryState;
  const deadline = startSocketDeadline({
    socket: () => client.connection.stream as unknown as CountingSocket,
    busy: () => (state._activeQuery ?? undefined) !== undefined || state._queryQueue.length > 0,
    timeoutMs,
    onExpire: (silentMs) =>
      client.connection.stream.destroy(
        new TributaryError(
          'SINK_TIMEOUT',
          `PostgreSQL at ${target} did not answer for ${Math.round(silentMs / 1000)} s while a statement was running`,
          {
            hint:
              'transient: the pipeline reconnects and replays from its last checkpoint. The link or the server stalled; ' +
              'if statements legitimately take longer without an answer, raise sink option `read.timeout`',
          },
        ),
      ),
  });
  client.connection.stream.once('close', () => deadline.stop());
}

/** Ends the client politely, or destroys its socket when the server does not answer in time. Never throws. */
async function endClient(client: pg.Client): Promise<void> {
  await closeWithin(
    () => client.end(),
    () => client.connection.stream.destroy(),
    END_TIMEOUT_MS,
  );
}

/**
 * `client.connect()` with a deadline of our own, whose error carries the errno-style code ETIMEDOUT (the
 * driver's own timeout error has no code, and errors are classified by code only).
 */
async function connectWithin(client: pg.Client, ms: number): Promise<void> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => {
      // A server that accepted the socket but never answers would keep a graceful end() waiting forever.
      client.connection.stream.destroy();
      reject(Object.assign(new Error(`no answer within ${ms / 1000} s`), { code: 'ETIMEDOUT' }));
    }, ms);
  });
  try {
    await Promise.race([client.connect(), timeout]);
  } finally {
    clearTimeout(timer);
  }
}

/**
 * Runs `create` (CREATE … IF NOT EXISTS statements) again when another session created the same object at the
 * same moment: PostgreSQL's IF NOT EXISTS checks the catalog before inserting into it, so two pipelines opening
 * one fresh database together can see a unique violation (23505) or "already exists" (42P07, 42P06, 42710 for
 * the table's row type) from the loser; the next attempt finds the objects and passes.
 */
const CONCURRENT_CREATE_CODES = new Set(['23505', '42P07', '42P06', '42710']);

async function createConcurrently(create: () => Promise<void>): Promise<void> {
  for (let attempt = 1; ; attempt++) {
    try {
      await create();
      return;
    } catch (error) {
      const code = (error as { code?: unknown }).code;
      if (attempt >= 3 || !CONCURRENT_CREATE_CODES.has(String(code))) throw error;
    }
  }
}

/**
 * `application_name` of a fenced pipeline's sessions: `tributary <pipeline>` (the pipeline cut to fit the 63
 * bytes PostgreSQL keeps, with a hash of the whole name when cut).
 */
export function fenceMark(pipeline: string): string {
  const mark = `tributary ${pipeline}`;
  if (Buffer.byteLength(mark) <= 63) return mark;
  const hash = createHash('sha256').update(pipeline).digest('hex').slice(0, 12);
  return `tributary ${Buffer.from(pipeline)
    .subarray(0, 36)
    .toString('utf8')
    .replace(/\uFFFD+$/, '')} ${hash}`;
}
