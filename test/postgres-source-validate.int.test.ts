import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ChangeBatch, OptionValues } from '../src/core/index.js';
import { isTributaryError } from '../src/core/index.js';
import { parseTableSelectors } from '../src/core/table-selector.js';
import { postgresSource } from '../src/connectors/postgres-source/postgres-source.js';
import { silentLogger } from '../src/runtime/logger.js';
import { freshPostgresDatabase, uniqueName, type FreshPostgresDatabase } from './harness/databases.js';

const codeOf = async (work: () => Promise<unknown>): Promise<string | undefined> => {
  try {
    await work();
    return undefined;
  } catch (error) {
    if (isTributaryError(error)) return error.code;
    throw error;
  }
};

describe('postgres source: validate and resume checks', () => {
  let db: FreshPostgresDatabase;
  const role = uniqueName('pgsrc_plain');

  beforeAll(async () => {
    db = await freshPostgresDatabase('pgsrc_validate');
    await db.query(`CREATE TABLE public.keyed (id int PRIMARY KEY, v text)`);
    await db.query(`CREATE TABLE public.keyless (v text)`);
    await db.query(`CREATE TABLE public.nothing (id int PRIMARY KEY)`);
    await db.query(`ALTER TABLE public.nothing REPLICA IDENTITY NOTHING`);
    await db.query(`CREATE TABLE public.geo (id int PRIMARY KEY, p point)`);
    await db.query(`CREATE ROLE ${role} LOGIN PASSWORD 'pw'`);
  });

  afterAll(async () => {
    await db.query(`SELECT pg_drop_replication_slot('pgsrc_validate_slot')`).catch(() => undefined);
    await db.query(`DROP OWNED BY ${role}`).catch(() => undefined);
    await db.query(`DROP ROLE IF EXISTS ${role}`).catch(() => undefined);
    await db.drop();
  });

  const sourceFor = (tables: string | undefined, extra: OptionValues = {}) => {
    const url = new URL(db.url);
    return postgresSource(
      {
        hostname: url.hostname,
        port: Number(url.port),
        username: decodeURIComponent(url.username),
        password: decodeURIComponent(url.password),
        'database-name': db.name,
        'slot.name': 'pgsrc_validate_slot',
        'publication.name': 'pgsrc_validate_pub',
        ...extra,
      },
      {
        log: silentLogger,
        pipelineName: 'v',
        parallelism: 1,
        include: tables === undefined ? [] : parseTableSelectors(tables),
        exclude: [],
      },
    );
  };

  it('accepts a keyed table and says what it checked', async () => {
    const description = await sourceFor('public.keyed').validate();
    expect(description.tables.map((t) => t.id.name)).toEqual(['keyed']);
    expect(description.checks.join('\n')).toContain('wal_level=logical');
    expect(description.warnings?.map((w) => w.message).join('\n')).toContain('REPLICA IDENTITY DEFAULT');
  });

  it("reads Flink CDC's schema-name and table-name when tables is not written", async () => {
    const description = await sourceFor(undefined, {
      'schema-name': 'pub.*',
      'table-name': 'k.yed, nomatch',
    }).validate();
    expect(description.tables.map((t) => `${t.id.namespace}.${t.id.name}`)).toEqual(['public.keyed']);
  });

  it('refuses a table without a key, one with REPLICA IDENTITY NOTHING, an unsupported type, no tables', async () => {
    expect(await codeOf(() => sourceFor('public.keyless').validate())).toBe('SOURCE_NO_PRIMARY_KEY');
    expect(await codeOf(() => sourceFor('public.nothing').validate())).toBe('SOURCE_NO_PRIMARY_KEY');
    expect(await codeOf(() => sourceFor('public.geo').validate())).toBe('SOURCE_UNSUPPORTED_TYPE');
    expect(await codeOf(() => sourceFor('public.missing').validate())).toBe('SOURCE_NO_TABLES');
  });

  it('refuses a role without REPLICATION', async () => {
    const source = sourceFor('public.keyed', { username: role, password: 'pw' });
    expect(await codeOf(() => source.validate())).toBe('SOURCE_PRIVILEGES_MISSING');
    // A snapshot-only source needs no REPLICATION (but SELECT on the tables).
    await db.query(`GRANT SELECT ON public.keyed TO ${role}`);
    const snapshotOnly = sourceFor('public.keyed', { username: role, password: 'pw', 'scan.startup.mode': 'snapshot' });
    expect((await snapshotOnly.validate()).tables).toHaveLength(1);
  });

  it('stops with SOURCE_SLOT_LOST when the slot of a checkpoint is gone', async () => {
    const source = sourceFor('public.keyed', { 'scan.startup.mode': 'latest-offset' });
    await source.open(null);
    const first: IteratorResult<ChangeBatch> = await source.batches()[Symbol.asyncIterator]().next();
    if (first.done) throw new Error('no first batch');
    const position = first.value.position;
    await source.close();
    expect(await sourceFor('public.keyed').checkResume!(position)).toContain('pgsrc_validate_slot');
    await db.query(`SELECT pg_drop_replication_slot('pgsrc_validate_slot')`);
    const again = sourceFor('public.keyed');
    expect(await codeOf(() => again.open(position))).toBe('SOURCE_SLOT_LOST');
    await again.close();
  });
});
