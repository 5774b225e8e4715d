import { columnDefaultFromCatalog } from './mysql-column-default.js';
import type { Connection, RowDataPacket } from 'mysql2/promise';
import { tableId, tableIdToString, type Column, type TableId, type TableSchema } from '../../core/index.js';
import { DEFAULT_TYPE_OPTIONS, mysqlColumn, type MysqlColumnInfo, type MysqlTypeOptions } from './mysql-types.js';

/** A captured table: its canonical schema plus what only the MySQL side needs (charsets for decoding). */
export interface MysqlTable {
  readonly schema: TableSchema;
  readonly charsets: readonly (string | null)[];
  /**
   * `error`: a zero date in this table stops the source (`zero-date.handling: error` when the schema was
   * built); absent: zero dates are NULL. Saved with the schema, like the types the options chose.
   */
  readonly zeroDates?: 'error';
}

/** The {@link MysqlTable.zeroDates} field for `options` (spread into a table). */
export function zeroDatesField(options: MysqlTypeOptions): { zeroDates?: 'error' } {
  return options.zeroDateHandling === 'error' ? { zeroDates: 'error' } : {};
}

const SYSTEM_SCHEMAS = ['mysql', 'information_schema', 'performance_schema', 'sys'];

/** Lists the base tables of the server (system schemas excluded), in name order. */
export async function listTables(conn: Connection): Promise<TableId[]> {
  const [rows] = await conn.query<RowDataPacket[]>(
    `SELECT TABLE_SCHEMA AS db, TABLE_NAME AS name FROM information_schema.TABLES
     WHERE TABLE_TYPE = 'BASE TABLE' AND TABLE_SCHEMA NOT IN (?) ORDER BY TABLE_SCHEMA, TABLE_NAME`,
    [SYSTEM_SCHEMAS],
  );
  return rows.map((r) => tableId(String(r['db']), String(r['name'])));
}

/**
 * Reads the schemas of `tables` from information_schema in three queries (not three per table).
 * `keyOverride` supplies the key of tables without a primary key (the configured chunk key column);
 * `typeOptions` the source options that change the type mapping (the source's configuration satisfies it);
 * `serverFlavor` how the server reports column defaults (asked of the server when not given).
 */
export async function readTableSchemas(
  conn: Connection,
  tables: readonly TableId[],
  keyOverride?: string,
  typeOptions: MysqlTypeOptions = DEFAULT_TYPE_OPTIONS,
  serverFlavor?: 'mariadb' | 'mysql',
): Promise<Map<string, MysqlTable>> {
  const result = new Map<string, MysqlTable>();
  if (tables.length === 0) return result;
  const databases = [...new Set(tables.map((t) => t.namespace))];
  const wanted = new Set(tables.map(tableIdToString));

  const [columnRows] = await conn.query<RowDataPacket[]>(
    `SELECT TABLE_SCHEMA AS db, TABLE_NAME AS tbl, COLUMN_NAME AS name, DATA_TYPE AS dataType, COLUMN_TYPE AS columnType,
            IS_NULLABLE AS nullable, CHARACTER_MAXIMUM_LENGTH AS charLength, NUMERIC_PRECISION AS numericPrecision,
            NUMERIC_SCALE AS numericScale, DATETIME_PRECISION AS datetimePrecision, CHARACTER_SET_NAME AS charset,
            COLUMN_DEFAULT AS columnDefault, EXTRA AS extra
     FROM information_schema.COLUMNS WHERE TABLE_SCHEMA IN (?) ORDER BY TABLE_SCHEMA, TABLE_NAME, ORDINAL_POSITION`,
    [databases],
  );
  const [keyRows] = await conn.query<RowDataPacket[]>(
    `SELECT TABLE_SCHEMA AS db, TABLE_NAME AS tbl, COLUMN_NAME AS name FROM information_schema.KEY_COLUMN_USAGE
     WHERE CONSTRAINT_NAME = 'PRIMARY' AND TABLE_SCHEMA IN (?) ORDER BY TABLE_SCHEMA, TABLE_NAME, ORDINAL_POSITION`,
    [databases],
  );
  const jsonColumns = await readJsonChecks(conn, databases);
  const flavor = serverFlavor ?? (await readFlavor(conn));

  const columns = new Map<string, { cols: Column[]; charsets: (string | null)[] }>();
  for (const r of columnRows) {
    const key = `${String(r['db'])}.${String(r['tbl'])}`;
    if (!wanted.has(key)) continue;
    const info: MysqlColumnInfo = {
      name: String(r['name']),
      dataType: String(r['dataType']).toLowerCase(),
      columnType: String(r['columnType']),
      charLength: numberOrNull(r['charLength']),
      numericPrecision: numberOrNull(r['numericPrecision']),
      numericScale: numberOrNull(r['numericScale']),
      datetimePrecision: numberOrNull(r['datetimePrecision']),
      charset: r['charset'] == null ? null : String(r['charset']),
      isJson: String(r['dataType']).toLowerCase() === 'json' || jsonColumns.has(`${key}.${String(r['name'])}`),
    };
    let entry = columns.get(key);
    if (!entry) columns.set(key, (entry = { cols: [], charsets: [] }));
    const column = mysqlColumn(info, r['nullable'] === 'YES', typeOptions);
    const defaultValue = columnDefaultFromCatalog(
      r['columnDefault'] == null ? null : String(r['columnDefault']),
      column.type,
      flavor,
      String(r['extra'] ?? ''),
    );
    entry.cols.push(defaultValue === undefined ? column : { ...column, defaultValue });
    entry.charsets.push(info.charset);
  }
  const keys = new Map<string, string[]>();
  for (const r of keyRows) {
    const key = `${String(r['db'])}.${String(r['tbl'])}`;
    const list = keys.get(key) ?? [];
    list.push(String(r['name']));
    keys.set(key, list);
  }
  for (const id of tables) {
    const key = tableIdToString(id);
    const entry = columns.get(key);
    if (!entry) continue; // dropped meanwhile
    let primaryKey = keys.get(key) ?? [];
    if (primaryKey.length === 0 && keyOverride && entry.cols.some((c) => c.name === keyOverride)) {
      primaryKey = [keyOverride];
    }
    result.set(key, {
      schema: { id, columns: entry.cols, primaryKey },
      charsets: entry.charsets,
      ...zeroDatesField(typeOptions),
    });
  }
  return result;
}

/** Columns with a `json_valid(col)` check: MariaDB's JSON type. Servers without CHECK_CONSTRAINTS have none. */
async function readJsonChecks(conn: Connection, databases: string[]): Promise<Set<string>> {
  const found = new Set<string>();
  try {
    const [rows] = await conn.query<RowDataPacket[]>(
      `SELECT CONSTRAINT_SCHEMA AS db, TABLE_NAME AS tbl, CHECK_CLAUSE AS clause FROM information_schema.CHECK_CONSTRAINTS
       WHERE CONSTRAINT_SCHEMA IN (?)`,
      [databases],
    );
    for (const r of rows) {
      const match = /^json_valid\(`?([^`)]+)`?\)$/i.exec(String(r['clause']).trim());
      if (match) found.add(`${String(r['db'])}.${String(r['tbl'])}.${match[1]}`);
    }
  } catch {
    // MySQL 5.7 has no CHECK_CONSTRAINTS table; it has a native JSON type instead.
  }
  return found;
}

function numberOrNull(value: unknown): number | null {
  return value === null || value === undefined ? null : Number(value);
}

/** MariaDB or MySQL, from VERSION(). */
async function readFlavor(conn: Connection): Promise<'mariadb' | 'mysql'> {
  const [rows] = await conn.query<RowDataPacket[]>('SELECT VERSION() AS v');
  return /mariadb/i.test(String(rows[0]?.['v'] ?? '')) ? 'mariadb' : 'mysql';
}
