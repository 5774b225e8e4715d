import { VARCHAR, type DuckDBConnection } from '@duckdb/node-api';
import type {
  ChecksumTable,
  ChunkChecksum,
  Column,
  DataType,
  KeyBound,
  TableChecksums,
  TableId,
} from '../../core/index.js';
import { qualifiedName, type DuckdbTableName } from './duckdb-ddl.js';
import { quoteIdent } from '../sink-kit/sql-text.js';
import { duckdbType } from './duckdb-types.js';

/**
 * {@link TableChecksums} on DuckDB: the canonical row text (see the contract) built in SQL from the sink's
 * column types (`duckdbType`), hashed with `md5` and summed per chunk by DuckDB, on the sink's connection.
 */
export function duckdbChecksums(
  connection: DuckDBConnection,
  nameOf: (id: TableId) => DuckdbTableName,
): TableChecksums {
  const query = async (sql: string, params: string[]): Promise<unknown[][]> =>
    (
      await connection.runAndReadAll(
        sql,
        params,
        params.map(() => VARCHAR),
      )
    ).getRows();
  const from = (table: ChecksumTable) => qualifiedName(nameOf(table.table));
  const keyText = (table: ChecksumTable) =>
    `concat_ws(',', ${table.key.map((k) => canonical(column(table, k))).join(', ')})`;
  return {
    async keyBoundaries(table, chunkSize) {
      const w = where(table, null, null);
      const rows = await query(
        `SELECT k FROM (SELECT ${keyText(table)} AS k, row_number() OVER (ORDER BY ${table.key.map(quoteIdent).join(', ')}) AS rn ` +
          `FROM ${from(table)}${w.sql}) x WHERE rn % ${Math.max(1, Math.floor(chunkSize))} = 0 ORDER BY rn`,
        w.params,
      );
      return rows.map(([k]) => (table.key.length === 1 ? [String(k)] : String(k).split(',')));
    },
    async chunk(table, lo, hi) {
      const w = where(table, lo, hi);
      const [row] = await query(
        `SELECT count(*)::VARCHAR, sum(('0x' || substr(h, 1, 15))::UBIGINT)::VARCHAR, ` +
          `sum(('0x' || substr(h, 16, 15))::UBIGINT)::VARCHAR ` +
          `FROM (SELECT md5(${rowText(table)}) AS h FROM ${from(table)}${w.sql}) x`,
        w.params,
      );
      return checksumOf(row);
    },
    async rowHashes(table, lo, hi) {
      const w = where(table, lo, hi);
      const rows = await query(
        `SELECT ${keyText(table)}, md5(${rowText(table)}) FROM ${from(table)}${w.sql}`,
        w.params,
      );
      return new Map(rows.map(([k, h]) => [String(k), String(h)]));
    },
    close: () => Promise.resolve(),
  };
}

/** The aggregates are cast to VARCHAR in SQL: text or NULL (an empty chunk's sums). */
function checksumOf(row: unknown[] | undefined): ChunkChecksum {
  const text = (value: unknown) => (typeof value === 'string' ? value : '0');
  return { rows: Number(text(row?.[0])), sum: `${text(row?.[1])}:${text(row?.[2])}` };
}

function column(table: ChecksumTable, name: string): Column {
  const found = table.columns.find((c) => c.name === name);
  if (!found) throw new Error(`verify: key column ${name} is not among the compared columns`);
  return found;
}

function canonical(col: Column): string {
  return canonicalOf(quoteIdent(col.name), col.type);
}

function canonicalOf(c: string, type: DataType): string {
  switch (type.kind) {
    case 'boolean':
      return `CASE WHEN ${c} IS NULL THEN NULL WHEN ${c} THEN '1' ELSE '0' END`;
    case 'binary':
    case 'varbinary':
    case 'bytes':
      return `upper(hex(${c}))`;
    case 'date':
      return `strftime(${c}, '%Y-%m-%d')`;
    case 'timestamp':
      return `strftime(${c}, '%Y-%m-%d %H:%M:%S.%f')`;
    case 'timestamptz':
      return `strftime(timezone('UTC', ${c}), '%Y-%m-%d %H:%M:%S.%f')`;
    default:
      return `CAST(${c} AS VARCHAR)`;
  }
}

function rowText(table: ChecksumTable): string {
  const parts = table.columns.map((col) => {
    const e = canonical(col);
    return `coalesce(CAST(strlen(${e}) AS VARCHAR) || ':' || ${e}, 'N')`;
  });
  return `concat_ws(',', ${parts.join(', ')})`;
}

/** A placeholder cast to the key column's own DuckDB type, so the comparison is exact. */
function keyParam(n: number, type: DataType): string {
  switch (type.kind) {
    case 'binary':
    case 'varbinary':
    case 'bytes':
      return `unhex($${n})`;
    case 'timestamptz':
      return `CAST($${n} || '+00' AS TIMESTAMPTZ)`;
    default:
      return `CAST($${n} AS ${duckdbType(type)})`;
  }
}

function where(table: ChecksumTable, lo: KeyBound, hi: KeyBound): { sql: string; params: string[] } {
  const conditions: string[] = [];
  const params: string[] = [];
  for (const f of table.filter ?? []) {
    params.push(f.value);
    conditions.push(`CAST(${quoteIdent(f.column)} AS VARCHAR) = $${params.length}`);
  }
  const keyCols = table.key.map((k) => column(table, k));
  const tuple = (cols: readonly string[]) => (cols.length === 1 ? cols[0]! : `(${cols.join(', ')})`);
  const keys = tuple(keyCols.map((c) => quoteIdent(c.name)));
  const bound = (values: readonly string[]) =>
    tuple(
      keyCols.map((c, i) => {
        params.push(values[i]!);
        return keyParam(params.length, c.type);
      }),
    );
  if (lo) conditions.push(`${keys} > ${bound(lo)}`);
  if (hi) conditions.push(`${keys} <= ${bound(hi)}`);
  return { sql: conditions.length === 0 ? '' : ` WHERE ${conditions.join(' AND ')}`, params };
}
