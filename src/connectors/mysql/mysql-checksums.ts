import type { Connection } from 'mysql2/promise';
import type {
  ChecksumTable,
  ChunkChecksum,
  Column,
  DataType,
  KeyBound,
  Row,
  TableChecksums,
  Value,
} from '../../core/index.js';
import { snapshotValue } from './mysql-types.js';

/** Keys per `WHERE (key) IN (…)` of {@link TableChecksums.readRows}. */
const KEYS_PER_READ = 500;

/**
 * {@link TableChecksums} on MySQL / MariaDB: the canonical row text built in SQL (see the contract), hashed with
 * MD5 and summed per chunk by the server. The session's time zone is UTC, so TIMESTAMP columns print instants.
 */
export async function mysqlChecksums(connect: () => Promise<Connection>): Promise<TableChecksums> {
  const conn = await connect();
  await conn.query("SET time_zone = '+00:00'");
  const query = async <T>(sql: string, params: unknown[]): Promise<T[]> => {
    const [rows] = await conn.query(sql, params);
    return rows as T[];
  };
  return {
    async keyBoundaries(table, chunkSize) {
      // Walks the key index: each bound is the key `chunkSize` rows past the previous one (an index-only range
      // read per chunk; a window function over the table would sort it all first).
      const keys = table.key.map((k) => canonical(column(table, k)));
      const bounds: string[][] = [];
      let lo: KeyBound = null;
      for (;;) {
        const w = where(table, lo, null);
        const [row] = await query<{ k: string }>(
          `SELECT CONCAT_WS(',', ${keys.join(', ')}) AS k FROM ${from(table)}${w.sql} ` +
            `ORDER BY ${table.key.map(quote).join(', ')} LIMIT 1 OFFSET ${Math.max(0, Math.floor(chunkSize) - 1)}`,
          w.params,
        );
        if (!row) return bounds;
        // Key texts hold no comma for numbers, dates and hex; a text key is split back by column count.
        const bound = splitKey(String(row.k), table.key.length);
        bounds.push(bound);
        lo = bound;
      }
    },
    async chunk(table, lo, hi) {
      const w = where(table, lo, hi);
      const [row] = await query<{ n: number; a: string | null; b: string | null }>(
        `SELECT COUNT(*) AS n, SUM(CAST(CONV(SUBSTRING(h, 1, 15), 16, 10) AS UNSIGNED)) AS a, ` +
          `SUM(CAST(CONV(SUBSTRING(h, 16, 15), 16, 10) AS UNSIGNED)) AS b ` +
          `FROM (SELECT MD5(${rowText(table)}) AS h FROM ${from(table)}${w.sql}) x`,
        w.params,
      );
      return checksumOf(row);
    },
    async rowHashes(table, lo, hi) {
      const w = where(table, lo, hi);
      const keys = table.key.map((k) => canonical(column(table, k)));
      const rows = await query<{ k: string; h: string }>(
        `SELECT CONCAT_WS(',', ${keys.join(', ')}) AS k, MD5(${rowText(table)}) AS h FROM ${from(table)}${w.sql}`,
        w.params,
      );
      return new Map(rows.map((r) => [String(r.k), String(r.h)]));
    },
    async readRows(table, schema, keys) {
      const rows = new Map<string, Row>();
      const keyCols = table.key.map((k) => column(table, k));
      const keyText = `CONCAT_WS(',', ${keyCols.map(canonical).join(', ')})`;
      // As the snapshot selects them: FLOAT and DOUBLE as DOUBLE expressions print the value exactly.
      const cols = schema.columns.map((c) =>
        c.type.kind === 'float' || c.type.kind === 'double' ? `${quote(c.name)} + 0e0` : quote(c.name),
      );
      const tuple = (parts: readonly string[]) => (parts.length === 1 ? parts[0]! : `(${parts.join(', ')})`);
      for (let first = 0; first < keys.length; first += KEYS_PER_READ) {
        const batch = keys.slice(first, first + KEYS_PER_READ);
        const params: unknown[] = [];
        const lists = batch.map((key) => {
          params.push(...splitKey(key, keyCols.length));
          return tuple(keyCols.map((c) => keyParam(c.type)));
        });
        const [raw] = await conn.query({
          sql:
            `SELECT ${keyText}, ${cols.join(', ')} FROM ${from(table)} ` +
            `WHERE ${tuple(keyCols.map((c) => quote(c.name)))} IN (${lists.join(', ')})`,
          values: params,
          rowsAsArray: true,
          typeCast: false,
        });
        for (const r of raw as (Buffer | null)[][]) {
          const row: Value[] = schema.columns.map((c, i) => snapshotValue(c.type, r[i + 1] ?? null));
          rows.set(String(r[0]), row);
        }
      }
      return rows;
    },
    async close() {
      await conn.end().catch(() => undefined);
    },
  };
}

function checksumOf(row: { n: number; a: string | null; b: string | null } | undefined): ChunkChecksum {
  return { rows: Number(row?.n ?? 0), sum: `${row?.a ?? 0}:${row?.b ?? 0}` };
}

/** `key,text` back into one text per key column (the last column takes the rest). */
export function splitKey(text: string, columns: number): string[] {
  if (columns === 1) return [text];
  const parts = text.split(',');
  return [...parts.slice(0, columns - 1), parts.slice(columns - 1).join(',')];
}

function column(table: ChecksumTable, name: string): Column {
  const found = table.columns.find((c) => c.name === name);
  if (!found) throw new Error(`verify: key column ${name} is not among the compared columns`);
  return found;
}

function quote(name: string): string {
  return '`' + name.replace(/`/g, '``') + '`';
}

function from(table: ChecksumTable): string {
  return `${quote(table.table.namespace)}.${quote(table.table.name)}`;
}

/** The canonical text of one column (see TableChecksums), NULL for NULL. */
function canonical(col: Column): string {
  const c = quote(col.name);
  return canonicalOf(c, col.type);
}

function canonicalOf(c: string, type: DataType): string {
  switch (type.kind) {
    case 'boolean':
      return `IF(${c} IS NULL, NULL, IF(${c} <> 0, '1', '0'))`;
    case 'bit':
      return `LPAD(BIN(${c}), ${type.length}, '0')`;
    case 'binary':
    case 'varbinary':
    case 'bytes':
      return `HEX(${c})`;
    case 'date':
      return `DATE_FORMAT(${c}, '%Y-%m-%d')`;
    case 'timestamp':
    case 'timestamptz':
      return `DATE_FORMAT(${c}, '%Y-%m-%d %H:%i:%s.%f')`;
    case 'char':
    case 'varchar':
    case 'string':
    case 'enum':
    case 'set':
      return `CONVERT(${c} USING utf8mb4)`;
    default:
      return `CAST(${c} AS CHAR)`;
  }
}

function rowText(table: ChecksumTable): string {
  const parts = table.columns.map((col) => {
    const e = canonical(col);
    return `IFNULL(CONCAT(LENGTH(${e}), ':', ${e}), 'N')`;
  });
  return `CONCAT_WS(',', ${parts.join(', ')})`;
}

/** A placeholder that compares exactly with the key column (never through floating point). */
function keyParam(type: DataType): string {
  switch (type.kind) {
    case 'int8':
    case 'int16':
    case 'int32':
    case 'int64':
    case 'year':
      return 'CAST(? AS SIGNED)';
    case 'uint8':
    case 'uint16':
    case 'uint32':
    case 'uint64':
      return 'CAST(? AS UNSIGNED)';
    case 'decimal':
      return `CAST(? AS DECIMAL(${type.precision}, ${type.scale}))`;
    case 'binary':
    case 'varbinary':
    case 'bytes':
      return 'UNHEX(?)';
    default:
      return '?';
  }
}

function where(table: ChecksumTable, lo: KeyBound, hi: KeyBound): { sql: string; params: unknown[] } {
  const conditions: string[] = [];
  const params: unknown[] = [];
  for (const f of table.filter ?? []) {
    conditions.push(`${quote(f.column)} = ?`);
    params.push(f.value);
  }
  const keyCols = table.key.map((k) => column(table, k));
  const tuple = (cols: readonly string[]) => (cols.length === 1 ? cols[0]! : `(${cols.join(', ')})`);
  const keys = tuple(keyCols.map((c) => quote(c.name)));
  const placeholders = tuple(keyCols.map((c) => keyParam(c.type)));
  if (lo) {
    conditions.push(`${keys} > ${placeholders}`);
    params.push(...lo);
  }
  if (hi) {
    conditions.push(`${keys} <= ${placeholders}`);
    params.push(...hi);
  }
  return { sql: conditions.length === 0 ? '' : ` WHERE ${conditions.join(' AND ')}`, params };
}
