import type pg from 'pg';
import type { PostgresTableName } from './postgres-ddl.js';

/** A column of an existing PostgreSQL table, as the catalog describes it. */
export interface CatalogColumn {
  readonly name: string;
  /** `format_type` of the column: a type name that can be written in DDL and casts. */
  readonly type: string;
  readonly notNull: boolean;
  readonly hasDefault: boolean;
}

export interface CatalogIndex {
  /** The index name: what a unique violation reports as its `constraint`. */
  readonly name: string;
  readonly columns: readonly string[];
}

/** An existing relation: its kind (`r` table, `p` partitioned table, …), columns and unique keys. */
export interface CatalogTable {
  readonly relkind: string;
  readonly columns: readonly CatalogColumn[];
  /** The valid, non-partial unique indexes on plain columns (primary key included). */
  readonly uniqueIndexes: readonly CatalogIndex[];
}

const SELECT_TABLE = `
SELECT n.nspname, c.relname, c.relkind,
  (SELECT json_agg(json_build_object('name', a.attname, 'type', format_type(a.atttypid, a.atttypmod),
                                     'notNull', a.attnotnull, 'hasDefault', a.atthasdef) ORDER BY a.attnum)
     FROM pg_attribute a WHERE a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped) AS columns,
  (SELECT json_agg(json_build_object('name', u.name, 'columns', u.cols)) FROM (
     SELECT min(ic.relname::text) AS name, array_agg(a.attname::text ORDER BY k.ord) AS cols
       FROM pg_index i
       CROSS JOIN LATERAL unnest(i.indkey::int2[]) WITH ORDINALITY AS k(attnum, ord)
       JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = k.attnum
       JOIN pg_class ic ON ic.oid = i.indexrelid
      WHERE i.indrelid = c.oid AND i.indisunique AND i.indisvalid AND i.indpred IS NULL AND i.indexprs IS NULL
      GROUP BY i.indexrelid) u) AS unique_indexes
FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace`;

const READ_TABLE_SQL = `${SELECT_TABLE}
WHERE n.nspname = $1 AND c.relname = $2`;

const READ_TABLES_SQL = `${SELECT_TABLE}
WHERE (n.nspname, c.relname) IN (SELECT * FROM unnest($1::text[], $2::text[]))`;

interface CatalogRow {
  nspname: string;
  relname: string;
  relkind: string;
  columns: CatalogColumn[] | null;
  unique_indexes: CatalogIndex[] | null;
}

const tableOf = (row: CatalogRow): CatalogTable => ({
  relkind: row.relkind,
  columns: row.columns ?? [],
  uniqueIndexes: row.unique_indexes ?? [],
});

/**
 * What the catalog knows of each of `names`, in one query (the tables a batch of createTable events checks, so
 * that 10,000 tables cost one round trip rather than 10,000); keyed by `schema\0table`, absent when missing.
 */
export async function readCatalogTables(
  client: pg.Client,
  names: readonly PostgresTableName[],
): Promise<Map<string, CatalogTable>> {
  const result = await client.query<CatalogRow>(READ_TABLES_SQL, [
    names.map((n) => n.schema),
    names.map((n) => n.table),
  ]);
  return new Map(result.rows.map((row) => [`${row.nspname}\u0000${row.relname}`, tableOf(row)]));
}

/** What the catalog knows of `name` (in the current transaction), or undefined when no such relation exists. */
export async function readCatalogTable(client: pg.Client, name: PostgresTableName): Promise<CatalogTable | undefined> {
  const result = await client.query<CatalogRow>(READ_TABLE_SQL, [name.schema, name.table]);
  const row = result.rows[0];
  return row === undefined ? undefined : tableOf(row);
}
