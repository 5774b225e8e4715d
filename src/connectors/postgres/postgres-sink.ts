import pg from 'pg';
import type { ChangeEvent } from '../../core/change-event.js';
import { TributaryError } from '../../core/errors.js';
import type { OptionValues } from '../../core/option-spec.js';
import type { Checkpoint, Sink } from '../../core/sink.js';
import { PostgresChangeBuffer } from './postgres-change-buffer.js';
import { PostgresCheckpointStore } from './postgres-checkpoint-store.js';
import { displayName } from './postgres-ddl.js';
import { classifyPostgresError, type PostgresErrorPhase } from './postgres-errors.js';
import { describePostgresTarget, postgresSinkConfig, type PostgresSinkConfig } from './postgres-sink-config.js';
import { PostgresTargetTables } from './postgres-target-tables.js';
import { PostgresWriter } from './postgres-writer.js';
import type { Logger } from '../../runtime/logger.js';

/** How long connecting (TCP, TLS, authentication) may take before it counts as unreachable. */
const CONNECT_TIMEOUT_MS = 10_000;

export interface PostgresSinkContext {
  /** Receives notable events (connected, server version, warnings); never a secret. */
  readonly log: Logger;
}

/**
 * The PostgreSQL sink (`type: postgres`) in merge mode. Events are buffered and collapsed per primary key;
 * `commit` applies every table's net changes and upserts the checkpoint row in ONE transaction, so after a
 * crash `open` returns exactly the checkpoint whose effects are in the database. Schema changes run in the
 * same transaction, before the rows that follow them. One connection per sink.
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
  private client: pg.Client | undefined;
  /** Clients whose connection failed or ended; per client, so a late 'end' of a closed one cannot taint its successor. */
  private readonly lost = new WeakSet<pg.Client>();
  private tables: PostgresTargetTables | undefined;
  private writer: PostgresWriter | undefined;
  private checkpoints: PostgresCheckpointStore | undefined;
  private readonly buffer = new PostgresChangeBuffer();
  /** Set when a commit failed: its events are gone, so only a re-open (and replay) may follow. */
  private failed = false;
  private readonly target: string;

  constructor(
    private readonly config: PostgresSinkConfig,
    private readonly context: PostgresSinkContext,
  ) {
    this.target = describePostgresTarget(config);
  }

  async validate(): Promise<void> {
    const client = await this.connect('validate');
    try {
      await this.checkServer(client);
    } catch (error) {
      throw this.classify(error, 'validate');
    }
  }

  async open(pipeline: string): Promise<Checkpoint | null> {
    this.buffer.reset();
    this.failed = false;
    // Table facts are re-checked at each open (someone may have changed the sink meanwhile); staging tables
    // are only lost with a rolled-back transaction or the connection, which reset them already.
    this.tables?.forgetAll();
    const client = await this.connect('connect');
    const store = this.checkpoints!;
    try {
      await this.tables!.ensureSchema(this.config.checkpointSchema);
      await client.query(store.createSql());
      return await store.load(pipeline);
    } catch (error) {
      throw this.classify(error, 'checkpoint', displayName(store.table));
    }
  }

  write(events: readonly ChangeEvent[]): Promise<void> {
    try {
      this.assertUsable();
      this.buffer.add(events);
      return Promise.resolve();
    } catch (error) {
      return Promise.reject(error instanceof Error ? error : new Error(String(error)));
    }
  }

  pending(): number {
    return this.buffer.pending();
  }

  async commit(checkpoint: Checkpoint): Promise<void> {
    this.assertUsable();
    const client = this.client;
    if (client === undefined || this.writer === undefined || this.checkpoints === undefined) {
      throw new TributaryError('INTERNAL', 'postgres sink: commit() before open()');
    }
    const steps = this.buffer.drain();
    try {
      await client.query('BEGIN');
      await this.writer.apply(steps);
      await this.checkpoints.save(checkpoint);
      await client.query('COMMIT');
    } catch (error) {
      this.failed = true;
      const table = this.writer.currentTable;
      this.writer.reset();
      this.tables?.forgetAll();
      if (!this.lost.has(client)) await client.query('ROLLBACK').catch(() => undefined);
      throw this.classify(error, 'write', table);
    }
  }

  /** Deletes the pipeline's checkpoint row; the sink tables keep their rows (a re-run upserts over them). */
  async reset(pipeline: string): Promise<void> {
    await this.open(pipeline);
    try {
      await this.checkpoints!.remove(pipeline);
    } catch (error) {
      throw this.classify(error, 'checkpoint', displayName(this.checkpoints!.table));
    }
  }

  async close(): Promise<void> {
    const client = this.client;
    this.client = undefined;
    this.tables = undefined;
    this.writer = undefined;
    this.checkpoints = undefined;
    this.buffer.reset();
    if (client !== undefined) await client.end().catch(() => undefined);
  }

  private assertUsable(): void {
    if (this.failed) {
      throw new TributaryError(
        'INTERNAL',
        'postgres sink: a commit failed; close and re-open the sink to replay from the last checkpoint',
      );
    }
  }

  /** The sink's one connection, opened on first use with the session settings the writer relies on. */
  private async connect(phase: PostgresErrorPhase): Promise<pg.Client> {
    if (this.client !== undefined && !this.lost.has(this.client)) return this.client;
    if (this.client !== undefined) await this.close();
    const config = this.config;
    const client = new pg.Client({
      host: config.hostname,
      port: config.port,
      user: config.username,
      password: config.password,
      database: config.database,
      ssl: config.ssl === 'disable' ? false : config.ssl === 'require' ? { rejectUnauthorized: false } : true,
      application_name: 'tributary',
      keepAlive: true,
    });
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
    try {
      await connectWithin(client, CONNECT_TIMEOUT_MS);
      await client.query(
        'SET statement_timeout = 0; SET lock_timeout = 0; SET idle_in_transaction_session_timeout = 0',
      );
    } catch (error) {
      await client.end().catch(() => undefined);
      throw this.classify(error, phase);
    }
    this.client = client;
    this.tables = new PostgresTargetTables(client, config.schema);
    this.writer = new PostgresWriter(client, this.tables);
    this.checkpoints = new PostgresCheckpointStore(client, {
      schema: config.checkpointSchema,
      table: config.checkpointTable,
    });
    return client;
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
    const checkpoint = await client.query<{ ok: boolean }>(
      "SELECT has_table_privilege(c.oid, 'SELECT, INSERT, UPDATE') AS ok FROM pg_class c " +
        'JOIN pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname = $1 AND c.relname = $2',
      [this.config.checkpointSchema, this.config.checkpointTable],
    );
    if (checkpoint.rows[0]?.ok === false) {
      const table = `${this.config.checkpointSchema}.${this.config.checkpointTable}`;
      throw new TributaryError(
        'SINK_PRIVILEGES_MISSING',
        `role ${role} may not read and write the checkpoint table ${table}`,
        {
          hint: `GRANT SELECT, INSERT, UPDATE ON ${table} TO "${role}", or change sink option \`checkpoint.table\``,
        },
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
      connectionLost: this.client !== undefined && this.lost.has(this.client),
      ...(table === undefined ? {} : { table }),
    });
  }
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
