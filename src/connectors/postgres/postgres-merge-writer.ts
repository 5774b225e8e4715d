import type pg from 'pg';
import type { ChangeEvent, DataChangeEvent } from '../../core/change-event.js';
import type { Row } from '../../core/data-type.js';
import type { TableSchema } from '../../core/table-schema.js';
import { keyIndexesOf, rowKey } from '../sink-kit/row-key.js';
import { SchemaTracker } from '../sink-kit/schema-tracker.js';
import { copyRows, writeRowFields, type CopyRowSet } from './postgres-copy-stream.js';
import type { CopyTextWriter } from './postgres-copy-writer.js';
import { displayName, qualifiedName, quoteIdent } from './postgres-ddl.js';
import { copyDirect, DirectCopyPolicy } from './postgres-direct-copy.js';
import type { PostgresModeWriter } from './postgres-mode-writer.js';
import type { PostgresStagingTables, StagingTable } from './postgres-staging-tables.js';
import { writeInRuns, type TableRun } from './postgres-table-runs.js';
import type { PostgresTargetTables, TargetTable } from './postgres-target-tables.js';

/** PostgreSQL 15 brought MERGE. */
const MERGE_SERVER_VERSION = 150000;

/**
 * Write mode `merge` (the PieCloudDB scheme): changes are COPYed as they arrive into a TEMP staging table per
 * target table, each with a sequence number and an operation (`u` row, `d` delete; an update that changes the
 * key is a `d` of the old key and a `u` of the new one), never collapsed in memory. At the commit, per table,
 * one statement collapses them per key to the last operation (`DISTINCT ON (key) … ORDER BY key, seq DESC`)
 * and applies them — `MERGE` on PostgreSQL ≥ 15, else `DELETE` of every key touched and `INSERT` of the last
 * rows — in the transaction that also writes the checkpoint row. Memory does not grow with the checkpoint
 * interval; the staging tables do, until the commit.
 *
 * A run of inserts (or snapshot reads) for a table with nothing staged in this transaction yet is COPYed straight
 * into the target instead, in a savepoint (`postgres-direct-copy.ts`, as in upsert mode): half the server's work
 * for new rows. Nothing staged means nothing of this transaction is to be applied before them, and whatever is
 * staged after them is merged after them; a key that exists already rolls the COPY back and the run is staged.
 */
export class PostgresMergeWriter implements PostgresModeWriter {
  private readonly schemas = new SchemaTracker();
  /** Staging tables holding rows of this transaction, by target table. */
  private readonly staged = new Map<string, StagingTable>();
  private seq = 0;
  private readonly direct = new DirectCopyPolicy();
  currentTable: string | undefined;

  constructor(
    private readonly client: pg.Client,
    private readonly tables: PostgresTargetTables,
    private readonly staging: PostgresStagingTables,
    /** `server_version_num`: decides between MERGE and DELETE + INSERT. */
    private readonly serverVersion: number,
  ) {}

  async write(events: readonly ChangeEvent[]): Promise<void> {
    await writeInRuns(events, this.schemas, () => ++this.seq, {
      run: (run) => this.stage(run),
      schema: async (event, previous) => {
        // Rows staged before a schema change are applied before it, in the shape they were written in.
        for (const id of [event.table, event.schema.id]) {
          const staging = this.staged.get(targetKey(this.tables, id));
          if (staging === undefined) continue;
          await this.apply(staging);
          await this.client.query(`TRUNCATE ${staging.sql}`);
          this.staged.delete(targetKey(this.tables, id));
        }
        this.currentTable = displayName(this.tables.nameOf(event.table));
        await this.tables.apply(event, previous);
      },
    });
    this.currentTable = undefined;
  }

  async flush(): Promise<void> {
    for (const staging of this.staged.values()) await this.apply(staging);
    // ON COMMIT DELETE ROWS empties the staging tables with the commit.
    this.staged.clear();
    this.direct.endTransaction();
    this.currentTable = undefined;
  }

  rollback(): void {
    this.staged.clear();
    this.direct.endTransaction();
  }

  restart(): void {
    this.staged.clear();
    this.schemas.clear();
    this.direct.endTransaction();
  }

  private async stage(run: TableRun): Promise<void> {
    const target = await this.tables.target(run.schema);
    const where = displayName(target.name);
    this.currentTable = where;
    const key = targetKey(this.tables, run.schema.id);
    if (!this.staged.has(key) && insertsOnly(run) && this.direct.shouldTry(target)) {
      if (await copyDirect(this.client, this.direct, target, directRows(target, run))) return;
    }
    const staging = await this.staging.for(target);
    const schema = run.schema;
    const keyIndexes = keyIndexesOf(schema);
    const indexes = run.events.keys();
    const columns = [staging.seqColumn, staging.opColumn, ...staging.columns].join(', ');
    await copyRows(this.client, `COPY ${staging.sql} (${columns}) FROM STDIN`, [
      {
        rows: indexes,
        append: (out, i) => writeStagingLines(out, run.events[i]!, run.seqs[i]!, schema, keyIndexes, where),
      },
    ]);
    this.staged.set(key, staging);
  }

  private async apply(staging: StagingTable): Promise<void> {
    this.currentTable = displayName(staging.target.name);
    await this.client.query(this.serverVersion >= MERGE_SERVER_VERSION ? mergeSql(staging) : deleteInsertSql(staging));
  }
}

/** The staging lines of one change: `seq`, `u`/`d`, the columns (for `d` only the key, the rest NULL). */
function writeStagingLines(
  out: CopyTextWriter,
  event: DataChangeEvent,
  seq: number,
  schema: TableSchema,
  keyIndexes: readonly number[],
  where: string,
): void {
  const line = (op: 'u' | 'd', row: Row, only?: readonly number[]): void => {
    out.value(seq);
    out.ascii(op === 'u' ? '\tu\t' : '\td\t');
    writeRowFields(out, row, schema, where, only);
    out.char(NEWLINE);
  };
  switch (event.op) {
    case 'read':
    case 'insert':
      if (event.after !== null) line('u', event.after);
      return;
    case 'update':
      if (event.after === null) return;
      if (event.before !== null && rowKey(event.before, keyIndexes) !== rowKey(event.after, keyIndexes)) {
        line('d', event.before, keyIndexes);
      }
      line('u', event.after);
      return;
    case 'delete':
      if (event.before !== null) line('d', event.before, keyIndexes);
      return;
  }
}

const NEWLINE = 0x0a;

/** Whether every change of the run adds a row (inserts, snapshot reads). */
function insertsOnly(run: TableRun): boolean {
  return run.events.every((event) => (event.op === 'insert' || event.op === 'read') && event.after !== null);
}

/** The run's rows as COPY lines for the target itself (every column, in target order). */
function directRows(target: TargetTable, run: TableRun): CopyRowSet<DataChangeEvent> {
  const where = displayName(target.name);
  return {
    rows: run.events,
    append: (out, event) => {
      writeRowFields(out, event.after!, run.schema, where);
      out.char(NEWLINE);
    },
  };
}

/** The last staged operation per key, in the staging table's columns. */
function lastPerKey(staging: StagingTable): string {
  const key = staging.target.schema.primaryKey.map(quoteIdent).join(', ');
  return `SELECT DISTINCT ON (${key}) * FROM ${staging.sql} ORDER BY ${key}, ${staging.seqColumn} DESC`;
}

function keyMatch(staging: StagingTable): string {
  return staging.target.schema.primaryKey.map((c) => `t.${quoteIdent(c)} = s.${quoteIdent(c)}`).join(' AND ');
}

/** PostgreSQL ≥ 15: one MERGE; a key whose last operation is a delete and that the target lacks is skipped. */
function mergeSql(staging: StagingTable): string {
  const target = staging.target;
  const key = new Set(target.schema.primaryKey);
  const updates = target.schema.columns
    .filter((c) => !key.has(c.name))
    .map((c) => `${quoteIdent(c.name)} = s.${quoteIdent(c.name)}`);
  const op = `s.${staging.opColumn}`;
  return [
    `MERGE INTO ${qualifiedName(target.name)} AS t USING (${lastPerKey(staging)}) AS s ON ${keyMatch(staging)}`,
    `WHEN MATCHED AND ${op} = 'd' THEN DELETE`,
    ...(updates.length > 0 ? [`WHEN MATCHED THEN UPDATE SET ${updates.join(', ')}`] : []),
    `WHEN NOT MATCHED AND ${op} = 'u' THEN INSERT (${staging.columns.join(', ')}) VALUES (${staging.columns.map((c) => `s.${c}`).join(', ')})`,
  ].join('\n');
}

/** Before PostgreSQL 15: delete every key staged, then insert the last row of the keys that end as a row. */
function deleteInsertSql(staging: StagingTable): string {
  const target = qualifiedName(staging.target.name);
  const columns = staging.columns.join(', ');
  return (
    `DELETE FROM ${target} AS t USING ${staging.sql} AS s WHERE ${keyMatch(staging)};\n` +
    `INSERT INTO ${target} (${columns}) SELECT ${columns} FROM (${lastPerKey(staging)}) AS s WHERE s.${staging.opColumn} = 'u'`
  );
}

function targetKey(tables: PostgresTargetTables, id: { namespace: string; name: string }): string {
  const name = tables.nameOf(id);
  return `${name.schema}\u0000${name.table}`;
}
