import type { Connection, RowDataPacket } from 'mysql2/promise';
import type { ValidationCheck } from '../../core/index.js';
import type { MysqlEndpoint } from './mysql-errors.js';

/**
 * Privileges a CDC account does not need and that let it change or administer the server: with them, leaked
 * replication credentials are credentials to the whole database. (Read-only extras such as `SHOW DATABASES`,
 * `RELOAD`, `LOCK TABLES` or `PROCESS`, which Flink CDC's and Debezium's guides grant, are not flagged.)
 */
const EXCESS = [
  'ALL PRIVILEGES',
  'SUPER',
  'GRANT OPTION',
  'INSERT',
  'UPDATE',
  'DELETE',
  'CREATE',
  'DROP',
  'ALTER',
  'INDEX',
  'REFERENCES',
  'CREATE VIEW',
  'CREATE ROUTINE',
  'ALTER ROUTINE',
  'EXECUTE',
  'TRIGGER',
  'EVENT',
  'CREATE TEMPORARY TABLES',
  'CREATE USER',
  'CREATE TABLESPACE',
  'FILE',
  'SHUTDOWN',
  'DELETE HISTORY',
  'CONNECTION ADMIN',
  'READ_ONLY ADMIN',
  'FEDERATED ADMIN',
  'SET USER',
  'REPLICATION MASTER ADMIN',
  'REPLICATION SLAVE ADMIN',
  'BINLOG ADMIN',
  'BINLOG REPLAY',
  'SLAVE MONITOR',
];

/** One `GRANT … ON object TO …` line of SHOW GRANTS: its privileges and object (never the rest: it may hold a password hash). */
function parseGrant(line: string): { privileges: string[]; object: string } | undefined {
  const match = /^GRANT (.+?) ON (\S+) TO /i.exec(line);
  if (match === null) return undefined;
  const privileges = match[1]!
    .replace(/\([^)]*\)/g, '') // column lists: SELECT (a, b)
    .split(',')
    .map((p) => p.trim().toUpperCase())
    .filter((p) => p !== '');
  if (/ WITH GRANT OPTION/i.test(line)) privileges.push('GRANT OPTION');
  return { privileges, object: match[2]! };
}

/** The least a CDC account needs for these databases, as GRANT statements. */
export function minimalGrants(endpoint: MysqlEndpoint, databases: readonly string[]): string[] {
  const account = `'${endpoint.user}'@'%'`;
  return [
    ...databases.map((db) => `GRANT SELECT ON \`${db.replace(/`/g, '``')}\`.* TO ${account}`),
    `GRANT REPLICATION SLAVE, REPLICATION CLIENT ON *.* TO ${account}`,
  ];
}

/**
 * What the account needs (an ok check naming the exact grants) and what it has beyond that (a warning per
 * object with the privileges to revoke). Reads SHOW GRANTS of the current user; roles granted to it are not
 * expanded.
 */
export async function privilegeReport(
  conn: Connection,
  endpoint: MysqlEndpoint,
  databases: readonly string[],
): Promise<{ check: string; warnings: ValidationCheck[] }> {
  const [rows] = await conn.query<RowDataPacket[]>('SHOW GRANTS');
  const needed = minimalGrants(endpoint, databases);
  const warnings: ValidationCheck[] = [];
  for (const row of rows) {
    const grant = parseGrant(String(Object.values(row)[0] ?? ''));
    if (grant === undefined) continue;
    const excess = grant.privileges.filter((p) => EXCESS.includes(p));
    if (excess.length === 0) continue;
    warnings.push({
      status: 'warning',
      message: `user '${endpoint.user}' holds ${excess.join(', ')} ON ${grant.object}, more than change data capture needs: whoever has its credentials can change or administer the server`,
      fix: `REVOKE ${excess.join(', ')} ON ${grant.object} FROM '${endpoint.user}'@'…'; it needs only: ${needed.join('; ')}`,
    });
  }
  return { check: `the grants this pipeline needs: ${needed.join('; ')}`, warnings };
}
