import type { Connection, RowDataPacket } from 'mysql2/promise';
import { normalizeCharset } from '../protocol/charsets.js';
import { charsetOfCollationName, type DdlCharsetDefaults } from './ddl-charsets.js';

/**
 * Reads the default character sets that `applyDdl` needs: the server's, and those of `databases` and of
 * their tables (from information_schema, at the same moment as the schemas of the captured tables).
 */
export async function readCharsetDefaults(conn: Connection, databases: readonly string[]): Promise<DdlCharsetDefaults> {
  const [serverRows] = await conn.query<RowDataPacket[]>('SELECT @@character_set_server AS cs');
  const server: unknown = serverRows[0]?.['cs'];
  const databaseCharsets = new Map<string, string>();
  const tableCharsets = new Map<string, string>();
  if (databases.length > 0) {
    const [schemaRows] = await conn.query<RowDataPacket[]>(
      `SELECT SCHEMA_NAME AS db, DEFAULT_CHARACTER_SET_NAME AS cs FROM information_schema.SCHEMATA
       WHERE SCHEMA_NAME IN (?)`,
      [databases],
    );
    for (const r of schemaRows) databaseCharsets.set(String(r['db']), normalizeCharset(String(r['cs'])));
    const [tableRows] = await conn.query<RowDataPacket[]>(
      `SELECT TABLE_SCHEMA AS db, TABLE_NAME AS tbl, TABLE_COLLATION AS collation FROM information_schema.TABLES
       WHERE TABLE_SCHEMA IN (?) AND TABLE_COLLATION IS NOT NULL`,
      [databases],
    );
    for (const r of tableRows) {
      const charset = charsetOfCollationName(String(r['collation']));
      if (charset !== undefined) tableCharsets.set(`${String(r['db'])}.${String(r['tbl'])}`, charset);
    }
  }
  return {
    ...(typeof server === 'string' ? { server: normalizeCharset(server) } : {}),
    databases: databaseCharsets,
    tables: tableCharsets,
  };
}
