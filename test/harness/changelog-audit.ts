import type { Connection, RowDataPacket } from 'mysql2/promise';
import { textRows } from './compare.js';
import type { SinkQuery } from './faults.js';

/**
 * Counting changes on both sides of an append-mode pipeline. The source counts with triggers, which run inside
 * each writing transaction (so a rolled-back change is not counted) and know nothing of Tributary; the sink's
 * changelog is read back and counted, and folded into the table it describes.
 */

export type ChangeCounts = Record<'insert' | 'update' | 'delete', number>;

/** Creates `auditDb.changes` and AFTER triggers on each `db.table` that add one row per changed row. */
export async function installSourceChangeAudit(
  conn: Connection,
  tables: readonly string[],
  auditDb: string,
): Promise<void> {
  await conn.query(`CREATE DATABASE IF NOT EXISTS ${auditDb}`);
  await conn.query(
    `CREATE TABLE ${auditDb}.changes (n BIGINT AUTO_INCREMENT PRIMARY KEY, tbl VARCHAR(128) NOT NULL, op VARCHAR(6) NOT NULL)`,
  );
  for (const table of tables) {
    const name = table.split('.')[1]!;
    for (const op of ['insert', 'update', 'delete']) {
      await conn.query(
        `CREATE TRIGGER ${table}_audit_${op} AFTER ${op.toUpperCase()} ON ${table} FOR EACH ROW ` +
          `INSERT INTO ${auditDb}.changes (tbl, op) VALUES ('${name}', '${op}')`,
      );
    }
  }
}

/** Row changes the source committed, per table name, since the audit was installed. */
export async function sourceChangeCounts(conn: Connection, auditDb: string): Promise<Map<string, ChangeCounts>> {
  const [rows] = await conn.query<RowDataPacket[]>(
    `SELECT tbl, op, COUNT(*) AS n FROM ${auditDb}.changes GROUP BY tbl, op`,
  );
  const counts = new Map<string, ChangeCounts>();
  for (const r of rows) {
    const entry = counts.get(String(r['tbl'])) ?? { insert: 0, update: 0, delete: 0 };
    entry[String(r['op']) as keyof ChangeCounts] = Number(r['n']);
    counts.set(String(r['tbl']), entry);
  }
  return counts;
}

export interface ChangelogSummary {
  /** Snapshot reads and binlog changes recorded, by `_op`. */
  readonly reads: number;
  readonly changes: ChangeCounts;
  /** Rows whose `_position` another row also has (0 unless the unique index is gone). */
  readonly duplicatePositions: number;
  /** The table the changelog describes: reads, then every change in `_seq` order, as text rows by id. */
  readonly folded: string[][];
}

/**
 * Reads an items changelog (`schema.table_changelog`, see test/harness/faults.ts ITEMS_DDL) and folds it: a read
 * or insert puts the row image at its id, an update removes the before image's id and puts the after image, a
 * delete removes the id. The result is comparable with `mysqlRows(source, SOURCE_ITEMS_SQL)`.
 */
export async function readItemsChangelog(sink: SinkQuery, changelog: string): Promise<ChangelogSummary> {
  const rows = textRows(
    await sink(
      `SELECT _op AS c0, (_before->>'id') AS c1, id::text AS c2, grp::text AS c3, val AS c4, amount::text AS c5, ` +
        `rev::text AS c6, to_char(updated, 'YYYY-MM-DD HH24:MI:SS.US') AS c7 FROM ${changelog} ORDER BY _seq`,
    ),
  );
  const [dup] = await sink<{ n: string }>(
    `SELECT (count(_position) - count(DISTINCT _position))::text AS n FROM ${changelog}`,
  );
  const changes: ChangeCounts = { insert: 0, update: 0, delete: 0 };
  let reads = 0;
  const table = new Map<string, string[]>();
  for (const [op, beforeId, ...image] of rows) {
    const id = image[0]!;
    switch (op) {
      case 'read':
        reads++;
        table.set(id, image);
        break;
      case 'insert':
        changes.insert++;
        table.set(id, image);
        break;
      case 'update':
        changes.update++;
        table.delete(beforeId!);
        table.set(id, image);
        break;
      case 'delete':
        changes.delete++;
        table.delete(id);
        break;
    }
  }
  const folded = [...table.values()].sort((a, b) => Number(a[0]) - Number(b[0]));
  return { reads, changes, duplicatePositions: Number(dup?.n ?? 0), folded };
}
