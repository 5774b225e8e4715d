import type pg from 'pg';
import {
  plural,
  tableIdToString,
  TributaryError,
  type SourceDescription,
  type SourcePosition,
  type ValidationCheck,
} from '../../core/index.js';
import type { TableSelector } from '../../core/table-selector.js';
import { parseLsn } from './pg-lsn.js';
import { listPgTables, quoteTable, readPgTables, type PgTable, type PgTypeCatalog } from './postgres-source-catalog.js';
import type { PostgresSourceConfig } from './postgres-source-config.js';
import { classifySourceError, connectSource } from './postgres-source-connection.js';
import { isPostgresPosition } from './postgres-source-position.js';

/**
 * What the `postgres` source checks before it reads: the server settings, privileges, publication and slot
 * (`validate`), the captured tables and their keys, and a saved position's slot.
 */
export class PostgresSourceChecks {
  constructor(
    private readonly config: PostgresSourceConfig,
    private readonly include: readonly TableSelector[],
    private readonly exclude: readonly TableSelector[],
    private readonly types: PgTypeCatalog,
  ) {}

  isCaptured(namespace: string, name: string): boolean {
    return (
      this.include.some((s) => s.matches(namespace, name)) && !this.exclude.some((s) => s.matches(namespace, name))
    );
  }

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
  async resolveTables(client: pg.Client): Promise<Map<string, PgTable>> {
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

  async query<R>(client: pg.Client, text: string, values?: unknown[]): Promise<R[]> {
    try {
      return (await client.query(text, values)).rows as R[];
    } catch (error) {
      throw classifySourceError(error, this.config, 'query');
    }
  }

  /** The slot of a saved position must exist, be valid, and not have confirmed beyond the position. */
  async checkSlot(client: pg.Client, position: SourcePosition): Promise<string> {
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
}

function isToastable(kind: string): boolean {
  return kind === 'string' || kind === 'json' || kind === 'bytes' || kind === 'varchar' || kind === 'decimal';
}

function replicaIdentityName(code: string): string {
  return code === 'f' ? 'FULL' : code === 'i' ? 'USING INDEX' : code === 'n' ? 'NOTHING' : 'DEFAULT';
}
