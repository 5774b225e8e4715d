import type pg from 'pg';
import { tableIdToString, type Column, type TableId, type TableSchema } from '../../core/index.js';
import { pgColumnType, TYPE_CATALOG_SQL, type PgColumnType, type PgTypeRow } from './postgres-source-types.js';

/** A captured table as the catalog describes it. */
export interface PgTable {
  readonly oid: number;
  readonly schema: TableSchema;
  /** Per column of `schema.columns`: how its text is converted. */
  readonly types: readonly PgColumnType[];
  /** `relreplident`: d (default: the primary key), n (nothing), f (full), i (an index). */
  readonly replicaIdentity: string;
  /** Why a column cannot be captured (unsupported types), empty when every one can. */
  readonly problems: readonly string[];
  /** Rows, as the planner estimates them (`reltuples`), for progress. */
  readonly rowsEstimate: number | undefined;
}

/** The ordinary tables of the database (not the system's), as `schema.table` ids with their oids. */
export async function listPgTables(client: pg.Client): Promise<{ id: TableId; oid: number }[]> {
  const result = await client.query<{ oid: string; nspname: string; relname: string }>(
    `SELECT c.oid::int8 AS oid, n.nspname, c.relname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
     WHERE c.relkind = 'r' AND n.nspname NOT IN ('pg_catalog', 'information_schema')
       AND n.nspname NOT LIKE 'pg\\_toast%' AND n.nspname NOT LIKE 'pg\\_temp%'
     ORDER BY n.nspname, c.relname`,
  );
  return result.rows.map((r) => ({ id: { namespace: r.nspname, name: r.relname }, oid: Number(r.oid) }));
}

/** Type catalog rows by oid, growing as relations need more (enums, domains, arrays resolve recursively). */
export class PgTypeCatalog {
  private readonly rows = new Map<number, PgTypeRow>();

  get(oid: number): PgTypeRow | undefined {
    return this.rows.get(oid);
  }

  /** Reads the rows of `oids` not known yet, and of their element and base types. */
  async load(client: pg.Client, oids: Iterable<number>): Promise<void> {
    let missing = [...new Set(oids)].filter((oid) => !this.rows.has(oid));
    while (missing.length > 0) {
      const result = await client.query<{
        oid: string;
        name: string;
        namespace: string;
        typtype: string;
        category: string;
        elem: string;
        base_type: string;
        base_typmod: number;
        enum_labels: string[] | null;
      }>(TYPE_CATALOG_SQL, [missing]);
      const next = new Set<number>();
      for (const r of result.rows) {
        const row: PgTypeRow = {
          oid: Number(r.oid),
          name: r.name,
          namespace: r.namespace,
          typtype: r.typtype,
          category: r.category,
          elem: Number(r.elem),
          baseType: Number(r.base_type),
          baseTypmod: Number(r.base_typmod),
          enumLabels: parseTextArray(r.enum_labels),
        };
        this.rows.set(row.oid, row);
        for (const ref of [row.elem, row.baseType]) if (ref !== 0 && !this.rows.has(ref)) next.add(ref);
      }
      for (const oid of missing) if (!this.rows.has(oid)) next.delete(oid);
      missing = [...next];
    }
  }

  columnType(oid: number, typmod: number): PgColumnType | string {
    return pgColumnType(oid, typmod, (o) => this.rows.get(o));
  }
}

/** node-postgres parses `text[]` only with its type parsers; this source reads every value as text. */
function parseTextArray(value: string[] | string | null): string[] | null {
  if (value === null || Array.isArray(value)) return value;
  const items: string[] = [];
  const inner = value.slice(1, -1);
  let i = 0;
  while (i < inner.length) {
    let item = '';
    if (inner[i] === '"') {
      i++;
      while (i < inner.length && inner[i] !== '"') {
        if (inner[i] === '\\') i++;
        item += inner[i] ?? '';
        i++;
      }
      i++;
    } else {
      while (i < inner.length && inner[i] !== ',') item += inner[i++];
    }
    items.push(item);
    i++; // the comma
  }
  return items;
}

/**
 * Reads the schemas of `tables` (by oid): columns in attnum order without generated columns (pgoutput does not
 * send them, so the snapshot leaves them out too), nullability, and the key — the primary key, or else the
 * replica identity index.
 */
export async function readPgTables(
  client: pg.Client,
  tables: readonly { id: TableId; oid: number }[],
  types: PgTypeCatalog,
): Promise<Map<string, PgTable>> {
  const oids = tables.map((t) => t.oid);
  const out = new Map<string, PgTable>();
  if (oids.length === 0) return out;
  const columns = await client.query<{
    relid: string;
    attname: string;
    atttypid: string;
    atttypmod: number;
    attnotnull: boolean | string;
  }>(
    `SELECT a.attrelid::int8 AS relid, a.attname, a.atttypid::int8 AS atttypid, a.atttypmod, a.attnotnull
     FROM pg_attribute a WHERE a.attrelid = ANY($1::oid[]) AND a.attnum > 0 AND NOT a.attisdropped
       AND a.attgenerated = '' ORDER BY a.attrelid, a.attnum`,
    [oids],
  );
  const keys = await client.query<{ relid: string; attname: string; primary: boolean | string }>(
    `SELECT i.indrelid::int8 AS relid, a.attname, i.indisprimary AS primary
     FROM pg_index i CROSS JOIN LATERAL unnest(i.indkey) WITH ORDINALITY AS k(attnum, ord)
     JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = k.attnum
     WHERE i.indrelid = ANY($1::oid[]) AND (i.indisprimary OR i.indisreplident)
     ORDER BY i.indrelid, i.indisprimary DESC, k.ord`,
    [oids],
  );
  const rels = await client.query<{ oid: string; relreplident: string; reltuples: string }>(
    `SELECT oid::int8 AS oid, relreplident, reltuples FROM pg_class WHERE oid = ANY($1::oid[])`,
    [oids],
  );
  await types.load(
    client,
    columns.rows.map((c) => Number(c.atttypid)),
  );
  for (const table of tables) {
    const own = columns.rows.filter((c) => Number(c.relid) === table.oid);
    if (own.length === 0) continue;
    const rel = rels.rows.find((r) => Number(r.oid) === table.oid);
    const problems: string[] = [];
    const cols: Column[] = [];
    const colTypes: PgColumnType[] = [];
    for (const c of own) {
      const mapped = types.columnType(Number(c.atttypid), Number(c.atttypmod));
      if (typeof mapped === 'string') {
        problems.push(`column ${c.attname}: ${mapped}`);
        continue;
      }
      colTypes.push(mapped);
      cols.push({
        name: c.attname,
        type: mapped.type,
        nullable: !(c.attnotnull === true || c.attnotnull === 't'),
        sourceType: mapped.sourceType,
      });
    }
    const keyRows = keys.rows.filter((k) => Number(k.relid) === table.oid);
    const hasPrimary = keyRows.some((k) => k.primary === true || k.primary === 't');
    const primaryKey = keyRows
      .filter((k) => (k.primary === true || k.primary === 't') === hasPrimary)
      .map((k) => k.attname);
    const estimate = rel ? Number(rel.reltuples) : NaN;
    out.set(tableIdToString(table.id), {
      oid: table.oid,
      schema: { id: table.id, columns: cols, primaryKey },
      types: colTypes,
      replicaIdentity: rel?.relreplident ?? 'd',
      problems,
      rowsEstimate: Number.isFinite(estimate) && estimate >= 0 ? estimate : undefined,
    });
  }
  return out;
}

/** `"schema"."table"` */
export function quoteTable(id: TableId): string {
  return `${quoteIdent(id.namespace)}.${quoteIdent(id.name)}`;
}

export function quoteIdent(name: string): string {
  return `"${name.replace(/"/g, '""')}"`;
}
