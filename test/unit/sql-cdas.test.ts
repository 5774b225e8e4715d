import { describe, expect, it } from 'vitest';
import { SqlSession } from '../../src/composer/sql-job.js';
import { buildSyncJob } from '../../src/composer/sql-sync-job.js';
import { createLogger } from '../../src/runtime/logger.js';
import { SqlError } from '../../src/sql/sql-error.js';
import type { SyncStatement } from '../../src/sql/sql-ast.js';
import { thrown } from '../harness/thrown.js';

const log = createLogger({ level: 'error', write: () => {} });

const CATALOGS = `
CREATE CATALOG mysql WITH ('type' = 'mysql-cdc', 'hostname' = 'h', 'port' = '3307', 'username' = 'u', 'password' = 'p');
CREATE CATALOG pg WITH ('type' = 'jdbc', 'base-url' = 'jdbc:postgresql://pg:5433', 'default-database' = 'dw',
  'username' = 'pu', 'password' = 'pp');
`;

function job(script: string) {
  const { session, statements } = SqlSession.parse(script);
  let sync: SyncStatement | undefined;
  for (const s of statements) {
    if (s.kind === 'sync') sync = s;
    else session.declare(s);
  }
  return buildSyncJob(session, sync!, { log });
}

function errorOf(script: string): SqlError {
  return thrown(() => job(script), SqlError);
}

describe('CREATE DATABASE … AS DATABASE (CDAS) and CREATE TABLE … AS TABLE', () => {
  it('compiles CDAS into the source capturing the matching tables, a route into the target schema, the sink', () => {
    const { def, explain } = job(
      `${CATALOGS} CREATE DATABASE IF NOT EXISTS pg.shop_copy AS DATABASE mysql.shop
         INCLUDING TABLES 'orders|item.*' EXCLUDING TABLES 'item_tmp';`,
    );
    expect(def.source.type).toBe('mysql');
    expect(def.source.options['hostname']).toBe('h');
    expect(def.source.options['port']).toBe(3307);
    expect(def.source.options['tables']).toBe('shop.(?:orders|item.*)');
    expect(def.source.options['tables.exclude']).toBe('shop.(?:item_tmp)');
    expect(def.sink.type).toBe('postgres');
    expect([def.sink.options['hostname'], def.sink.options['port'], def.sink.options['database']]).toEqual([
      'pg',
      5433,
      'dw',
    ]);
    expect(def.routes).toHaveLength(1);
    const route = def.routes[0]!;
    expect(route.sinkTable).toBe('shop_copy.<>');
    expect(route.replaceSymbol).toBe('<>');
    expect(route.sourceTable.matches('shop', 'orders')).toBe(true);
    expect(route.sourceTable.matches('shop', 'items')).toBe(true);
    expect(route.sourceTable.matches('shop', 'customers')).toBe(false);
    expect(route.sourceTable.matches('shop2', 'orders')).toBe(false);
    expect(explain).toContain('Sync database mysql.shop → pg.shop_copy');
  });

  it('INCLUDING ALL TABLES, a target declared by WITH instead of a catalog, and pipeline settings from SET', () => {
    const { def } = job(
      `${CATALOGS} SET 'pipeline.name' = 'copy'; SET 'execution.checkpointing.interval' = '2s';
       CREATE DATABASE replica WITH ('connector' = 'jdbc', 'url' = 'jdbc:postgresql://x:5432/y', 'username' = 'a')
       AS DATABASE mysql.shop INCLUDING ALL TABLES;`,
    );
    expect(def.source.options['tables']).toBe('shop.(?:.*)');
    expect(def.routes[0]!.sinkTable).toBe('replica.<>');
    expect(def.sink.options['hostname']).toBe('x');
    expect(def.pipeline.name).toBe('copy');
  });

  it('CTAS AS TABLE: one source table (or shards by a pattern) into one target table', () => {
    const { def } = job(
      `${CATALOGS} CREATE TABLE IF NOT EXISTS pg.public.users AS TABLE mysql.\`db[0-9]+\`.\`user[0-9]+\`;`,
    );
    expect(def.routes[0]!.sinkTable).toBe('public.users');
    expect(def.routes[0]!.sourceTable.matches('db1', 'user07')).toBe(true);
    const declared = job(
      `CREATE TABLE src (id INT) WITH ('connector' = 'mysql-cdc', 'hostname' = 'h', 'username' = 'u',
         'database-name' = 'shop', 'table-name' = 'orders');
       CREATE TABLE copy WITH ('connector' = 'jdbc', 'url' = 'jdbc:postgresql://x:5432/y', 'table-name' = 'ods.orders')
       AS TABLE src;`,
    ).def;
    expect(declared.source.options['tables']).toBe('shop.orders');
    expect(declared.routes[0]!.sinkTable).toBe('ods.orders');
  });

  it('says what is wrong: an unknown catalog, a sink catalog as source, a hint, a missing INCLUDING', () => {
    expect(errorOf(`${CATALOGS} CREATE DATABASE pg.x AS DATABASE nope.shop INCLUDING ALL TABLES;`).message).toContain(
      'unknown catalog nope',
    );
    expect(errorOf(`${CATALOGS} CREATE DATABASE pg.x AS DATABASE pg.shop INCLUDING ALL TABLES;`).message).toContain(
      'cannot be read from',
    );
    expect(
      errorOf(
        `${CATALOGS} CREATE DATABASE pg.x AS DATABASE mysql.shop INCLUDING ALL TABLES /*+ OPTIONS('server-id'='1') */;`,
      ).message,
    ).toContain('hints');
    expect(errorOf(`${CATALOGS} CREATE DATABASE pg.x AS DATABASE mysql.shop;`).message).toContain('INCLUDING');
    expect(errorOf(`CREATE CATALOG c WITH ('type' = 'oracle');`).message).toContain("unknown catalog type 'oracle'");
    expect(errorOf(`${CATALOGS} CREATE DATABASE x AS DATABASE mysql.shop INCLUDING ALL TABLES;`).message).toContain(
      "no catalog and no 'connector'",
    );
  });
});
