import type pg from 'pg';
import type { ChangeEvent } from '../../core/change-event.js';
import { ChangeBuffer, type TableChanges } from '../sink-kit/change-buffer.js';
import { copyLines, copyRowFields } from './postgres-copy-stream.js';
import { displayName, qualifiedName, quoteIdent } from './postgres-ddl.js';
import type { PostgresModeWriter } from './postgres-mode-writer.js';
import type { PostgresStagingTables, StagingTable } from './postgres-staging-tables.js';
import type { PostgresTargetTables } from './postgres-target-tables.js';

/**
 * Write mode `upsert`: each batch is applied as it arrives, inside the open transaction. The batch is
 * collapsed per table and key (an `ON CONFLICT` statement may not touch one row twice), COPYed into a TEMP
 * staging table, and applied with one round trip: `DELETE … USING staging` for keys whose last state in the
 * batch is absent, `INSERT … SELECT … ON CONFLICT (key) DO UPDATE` for the rest. Memory is bounded by the
 * batch; the commit only adds the checkpoint row. (COPY into staging measured faster than one
 * `INSERT … SELECT FROM unnest($1::…[], …)` with array parameters, by up to a quarter for larger batches.)
 */
export class PostgresUpsertWriter implements PostgresModeWriter {
  private readonly buffer = new ChangeBuffer();
  /** Staging tables holding rows of an earlier batch of this transaction, to be emptied before reuse. */
  private readonly used = new Set<string>();
  currentTable: string | undefined;

  constructor(
    private readonly client: pg.Client,
    private readonly tables: PostgresTargetTables,
    private readonly staging: PostgresStagingTables,
  ) {}

  async write(events: readonly ChangeEvent[]): Promise<void> {
    this.buffer.add(events);
    for (const step of this.buffer.drain()) {
      const id = step.kind === 'schema' ? step.event.table : step.changes.table;
      this.currentTable = displayName(this.tables.nameOf(id));
      if (step.kind === 'schema') await this.tables.apply(step.event, step.previous);
      else await this.apply(step.changes);
    }
    this.currentTable = undefined;
  }

  flush(): Promise<void> {
    // ON COMMIT DELETE ROWS empties the staging tables with the commit.
    this.used.clear();
    return Promise.resolve();
  }

  rollback(): void {
    this.buffer.drain();
    this.used.clear();
  }

  restart(): void {
    this.buffer.reset();
    this.used.clear();
  }

  private async apply(changes: TableChanges): Promise<void> {
    if (changes.upserts.size === 0 && changes.deletes.size === 0) return;
    const target = await this.tables.target(changes.schema);
    const staging = await this.staging.for(target);
    // Emptied only when reused within a transaction: a commit per batch (a quiet source) then never pays for a
    // TRUNCATE, which gives a table written before the transaction a new file.
    if (this.used.has(staging.sql)) await this.client.query(`TRUNCATE ${staging.sql}`);
    this.used.add(staging.sql);

    const where = displayName(target.name);
    const keyIndexes = changes.keyIndexes;
    const schema = changes.schema;
    const lines = function* (): Generator<string> {
      for (const row of changes.upserts.values()) yield `\\N\tu\t${copyRowFields(row, schema, where)}\n`;
      for (const row of changes.deletes.values()) yield `\\N\td\t${copyRowFields(row, schema, where, keyIndexes)}\n`;
    };
    await copyLines(this.client, `COPY ${staging.sql} FROM STDIN`, lines());

    const statements: string[] = [];
    if (changes.deletes.size > 0) statements.push(deleteSql(staging));
    if (changes.upserts.size > 0) statements.push(upsertSql(staging));
    await this.client.query(statements.join(';\n'));
  }
}

function deleteSql(staging: StagingTable): string {
  const target = staging.target;
  const match = target.schema.primaryKey.map((c) => `t.${quoteIdent(c)} = s.${quoteIdent(c)}`).join(' AND ');
  return `DELETE FROM ${qualifiedName(target.name)} AS t USING ${staging.sql} AS s WHERE s.${staging.opColumn} = 'd' AND ${match}`;
}

function upsertSql(staging: StagingTable): string {
  const target = staging.target;
  const key = new Set(target.schema.primaryKey);
  const updates = target.schema.columns
    .filter((c) => !key.has(c.name))
    .map((c) => `${quoteIdent(c.name)} = EXCLUDED.${quoteIdent(c.name)}`);
  const conflict = `ON CONFLICT (${target.schema.primaryKey.map(quoteIdent).join(', ')}) ${updates.length === 0 ? 'DO NOTHING' : `DO UPDATE SET ${updates.join(', ')}`}`;
  const columns = staging.columns.join(', ');
  return (
    `INSERT INTO ${qualifiedName(target.name)} (${columns}) ` +
    `SELECT ${columns} FROM ${staging.sql} WHERE ${staging.opColumn} = 'u' ${conflict}`
  );
}
