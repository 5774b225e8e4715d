import type { Connection } from 'mysql2/promise';
import { mysqlRows, textRows } from './compare.js';
import type { FreshPostgresDatabase } from './databases.js';

/**
 * The `items` table of the two-process kill -9 tests (MySQL → a log → PostgreSQL, pipeline-kafka and
 * pipeline-nats): a column for each kind of value a trip through the log could bend (4-byte UTF-8, a decimal,
 * microseconds, an unsigned 64-bit integer, bytes).
 */

/** Creates database `db` with `items` and fills it with rows 1 … `rows`. */
export async function createItems(source: Connection, db: string, rows: number): Promise<void> {
  await source.query(`CREATE DATABASE ${db}`);
  await source.query(
    `CREATE TABLE ${db}.items (id BIGINT PRIMARY KEY, val VARCHAR(64), amount DECIMAL(14,4), updated DATETIME(6), big BIGINT UNSIGNED, bin VARBINARY(16))`,
  );
  await source.query(
    `INSERT INTO ${db}.items SELECT seq, CONCAT('row-', seq, '-ü€😀'), seq * 1.0001, TIMESTAMP('2024-01-01') + INTERVAL seq SECOND + INTERVAL seq MICROSECOND, 18446744073709551615 - seq, UNHEX(LPAD(HEX(seq), 8, '0')) FROM ${db}.seq_1_to_${rows}`,
  );
}

/** The comparisons of the PostgreSQL copy of `db`.items with the MySQL table (connections given as they are set). */
export function itemsComparison(source: () => Connection, sink: () => FreshPostgresDatabase, db: string) {
  const sourceRows = () =>
    mysqlRows(
      source(),
      `SELECT CAST(id AS CHAR), val, CAST(amount AS CHAR), DATE_FORMAT(updated, '%Y-%m-%d %H:%i:%s.%f'), CAST(big AS CHAR), HEX(bin) FROM ${db}.items ORDER BY id`,
    );
  const targetRows = async () =>
    textRows(
      await sink().query(
        `SELECT id::text AS id_text, val, amount::text, to_char(updated, 'YYYY-MM-DD HH24:MI:SS.US'), big::text, upper(encode(bin, 'hex')) FROM ${db}.items ORDER BY id`,
      ),
    );
  const targetCount = async () =>
    Number(
      (
        await sink()
          .query<{ n: string }>(`SELECT count(*)::text AS n FROM ${db}.items`)
          .catch(() => [{ n: '0' }])
      )[0]?.n ?? 0,
    );
  /** PostgreSQL holds exactly the rows MySQL holds. */
  const converged = async () =>
    JSON.stringify(await targetRows().catch(() => [])) === JSON.stringify(await sourceRows());
  return { sourceRows, targetRows, targetCount, converged };
}

/**
 * 30 rounds of updates (val `w-<victim>-<round>`), inserts (ids past `rows`, apart per victim) and deletes,
 * as a writer that keeps going while `victim` is killed.
 */
export async function churnItems(
  source: Connection,
  db: string,
  rows: number,
  victim: 'capture' | 'apply',
): Promise<void> {
  for (let i = 0; i < 30; i++) {
    await source.query(
      `UPDATE ${db}.items SET val = CONCAT('w-${victim}-', ${i}), amount = amount + 1 WHERE id % 37 = ${i}`,
    );
    await source.query(
      `INSERT INTO ${db}.items VALUES (${rows + 100 + i + (victim === 'apply' ? 100 : 0)}, 'w', 1, NULL, 1, NULL)`,
    );
    await source.query(`DELETE FROM ${db}.items WHERE id % 41 = ${i}`);
  }
}
