import type pg from 'pg';
import type { ChecksumTable, ChunkChecksum, Column, DataType, KeyBound, TableChecksums } from '../../core/index.js';

/**
 * {@link TableChecksums} on PostgreSQL: the same canonical row text as the source builds (see the contract),
 * from the sink's column types (`docs/type-mapping.md`), hashed with `md5` and summed per chunk by the server.
 */
export async function postgresChecksums(connect: () => Promise<pg.Client>): Promise<TableChecksums> {
  const client = await connect();
  const query = async <T extends pg.QueryResultRow>(sql: string, params: unknown[]): Promise<T[]> =>
    (await client.query<T>(sql, params)).rows;
  return {
    async keyBoundaries(table, chunkSize) {
      const w = where(table, null, null);
      const rows = await query<{ k: string }>(
        `SELECT k FROM (SELECT concat_ws(',', ${table.key.map((k) => canonical(column(table, k))).join(', ')}) AS k, ` +
          `row_number() OVER (ORDER BY ${table.key.map(quote).join(', ')}) AS rn FROM ${from(table)}${w.sql}) x ` +
          `WHERE rn % $${w.params.length + 1} = 0 ORDER BY rn`,
        [...w.params, chunkSize],
      );
      // (Only the source's boundaries are used; split like the source's for completeness.)
      return rows.map((r) => (table.key.length === 1 ? [r.k] : r.k.split(',')));
    },
    async chunk(table, lo, hi) {
      const w = where(table, lo, hi);
      const [row] = await query<{ n: string; a: string | null; b: string | null }>(
        `SELECT count(*) AS n, sum(('x' || lpad(substr(h, 1, 15), 16, '0'))::bit(64)::bigint)::text AS a, ` +
          `sum(('x' || lpad(substr(h, 16, 15), 16, '0'))::bit(64)::bigint)::text AS b ` +
          `FROM (SELECT md5(${rowText(table)}) AS h FROM ${from(table)}${w.sql}) x`,
        w.params,
      );
      return checksumOf(row);
    },
    async rowHashes(table, lo, hi) {
      const w = where(table, lo, hi);
      const rows = await query<{ k: string; h: string }>(
        `SELECT concat_ws(',', ${table.key.map((k) => canonical(column(table, k))).join(', ')}) AS k, ` +
          `md5(${rowText(table)}) AS h FROM ${from(table)}${w.sql}`,
        w.params,
      );
      return new Map(rows.map((r) => [r.k, r.h]));
    },
    async close() {
      await client.end().catch(() => undefined);
    },
  };
}

function checksumOf(row: { n: string; a: string | null; b: string | null } | undefined): ChunkChecksum {
  return { rows: Number(row?.n ?? 0), sum: `${row?.a ?? 0}:${row?.b ?? 0}` };
}

function column(table: ChecksumTable, name: string): Column {
  const found = table.columns.find((c) => c.name === name);
  if (!found) throw new Error(`verify: key column ${name} is not among the compared columns`);
  return found;
}

function quote(name: string): string {
  return '"' + name.replace(/"/g, '""') + '"';
}

function from(table: ChecksumTable): string {
  return `${quote(table.table.namespace)}.${quote(table.table.name)}`;
}

function canonical(col: Column): string {
  const c = quote(col.name);
  return canonicalOf(c, col.type);
}

function canonicalOf(c: string, type: DataType): string {
  switch (type.kind) {
    case 'boolean':
      return `CASE WHEN ${c} IS NULL THEN NULL WHEN ${c} THEN '1' ELSE '0' END`;
    case 'binary':
    case 'varbinary':
    case 'bytes':
      return `upper(encode(${c}, 'hex'))`;
    case 'date':
      return `to_char(${c}, 'YYYY-MM-DD')`;
    case 'timestamp':
      return `to_char(${c}, 'YYYY-MM-DD HH24:MI:SS.US')`;
    case 'timestamptz':
      return `to_char(${c} AT TIME ZONE 'UTC', 'YYYY-MM-DD HH24:MI:SS.US')`;
    default:
      return `${c}::text`;
  }
}

function rowText(table: ChecksumTable): string {
  const parts = table.columns.map((col) => {
    const e = canonical(col);
    return `coalesce(octet_length(${e})::text || ':' || ${e}, 'N')`;
  });
  return `concat_ws(',', ${parts.join(', ')})`;
}

/**
 * A placeholder that takes the key column's own type: an untyped parameter (PostgreSQL infers it from the
 * column, so the comparison is exact and the primary key's index serves the range; a cast to another type such
 * as numeric would compare through the column's cast and scan the table).
 */
function keyParam(n: number, type: DataType): string {
  switch (type.kind) {
    case 'binary':
    case 'varbinary':
    case 'bytes':
      return `decode($${n}, 'hex')`;
    default:
      return `$${n}`;
  }
}

/** The canonical key text as a parameter value: instants carry their zone (UTC). */
function keyValue(text: string, type: DataType): string {
  return type.kind === 'timestamptz' ? `${text}+00` : text;
}

function where(table: ChecksumTable, lo: KeyBound, hi: KeyBound): { sql: string; params: unknown[] } {
  const conditions: string[] = [];
  const params: unknown[] = [];
  for (const f of table.filter ?? []) {
    params.push(f.value);
    conditions.push(`${quote(f.column)}::text = $${params.length}`);
  }
  const keyCols = table.key.map((k) => column(table, k));
  const tuple = (cols: readonly string[]) => (cols.length === 1 ? cols[0]! : `(${cols.join(', ')})`);
  const keys = tuple(keyCols.map((c) => quote(c.name)));
  const bound = (values: readonly string[]) =>
    tuple(
      keyCols.map((c, i) => {
        params.push(keyValue(values[i]!, c.type));
        return keyParam(params.length, c.type);
      }),
    );
  if (lo) conditions.push(`${keys} > ${bound(lo)}`);
  if (hi) conditions.push(`${keys} <= ${bound(hi)}`);
  return { sql: conditions.length === 0 ? '' : ` WHERE ${conditions.join(' AND ')}`, params };
}
