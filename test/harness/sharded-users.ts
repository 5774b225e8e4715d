import { mysqlRows } from './compare.js';
import { mysqlAdmin } from './databases.js';

/**
 * The sharded-users scenario (fixtures/scenarios/sharded-users), shared by the end-to-end tests of every sink:
 * its fixture folder, the transform + route blocks of its pipeline, and the rows the target must hold.
 */
export const SHARDED_USERS_SCENARIO = new URL('../../fixtures/scenarios/sharded-users/', import.meta.url);

/** The `source.tables` patterns of the scenario's pipeline. */
export const SHARDED_USERS_TABLES = 'user_db[0-9]+.user[0-9]+, tpc_ds.\\.*';

/** Its transform (metadata columns, composite key) and routes (shards → public.users; tpc_ds kept), as YAML. */
export const SHARDED_USERS_TRANSFORM_AND_ROUTES = `transform:
  - source-table: user_db[0-9]+.user[0-9]+
    projection: \\*, __schema_name__ AS _db_name, __table_name__ AS _table_name
    primary-keys: _db_name, _table_name, id
route:
  - source-table: user_db[0-9]+.user[0-9]+
    sink-table: public.users
  - source-table: tpc_ds.\\.*
    sink-table: tpc_ds.<>
    replace-symbol: <>
`;

/** The users of every shard, as the target should hold them: (db, table, id, …) in key order. */
export async function sourceUsers(): Promise<string[][]> {
  const conn = await mysqlAdmin();
  try {
    const parts: string[] = [];
    for (const db of ['user_db1', 'user_db2', 'user_db3']) {
      for (const t of ['user01', 'user02', 'user03']) {
        parts.push(
          `SELECT '${db}' AS d, '${t}' AS t, CAST(id AS CHAR) AS id, name, address, phone_number, email FROM ${db}.${t}`,
        );
      }
    }
    return await mysqlRows(conn, `${parts.join(' UNION ALL ')} ORDER BY d, t, CAST(id AS UNSIGNED)`);
  } finally {
    await conn.end();
  }
}
