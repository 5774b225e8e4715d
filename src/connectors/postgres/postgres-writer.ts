import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import type pg from 'pg';
import { from as copyFrom } from 'pg-copy-streams';
import type { Row } from '../../core/data-type.js';
import { TributaryError } from '../../core/errors.js';
import type { ApplyStep, TableChanges } from './postgres-change-buffer.js';
import { COPY_NULL, CopyNulCharacterError, encodeCopyValue } from './postgres-copy-encoder.js';
import { displayName, qualifiedName, quoteIdent } from './postgres-ddl.js';
import type { PostgresTargetTables, TargetTable } from './postgres-target-tables.js';

/** COPY data is handed to the socket in pieces of about this many characters: few writes, bounded memory. */
const COPY_CHUNK_CHARS = 1 << 20;

/** A session-local staging table for one target table and one column layout. */
interface StagingTable {
  readonly name: string;
  readonly layout: string;
  readonly opColumn: string;
  /** Holds rows from an earlier step of the current transaction (ON COMMIT DELETE ROWS empties it at commit). */
  used: boolean;
}

/**
 * Applies the steps of one commit inside the caller's open transaction. Per table run: COPY the collapsed
 * rows into a TEMP staging table (text format, built in ~1 MB chunks), then one round trip with
 * `DELETE … USING staging` for keys whose last state is absent and `INSERT … SELECT … ON CONFLICT (key) DO
 * UPDATE` for the rest. Never a round trip per row. Staging tables are created once per connection and
 * layout; they hold rows only until the transaction ends.
 */
export class PostgresWriter {
  private readonly staging = new Map<string, StagingTable>();
  private stagingCounter = 0;
  /** The sink table of the step being applied, for error messages. */
  currentTable: string | undefined;

  constructor(
    private readonly client: pg.Client,
    private readonly tables: PostgresTargetTables,
  ) {}

  /** Runs every step in order. On any error the caller must roll back and call {@link reset}. */
  async apply(steps: readonly ApplyStep[]): Promise<void> {
    for (const staging of this.staging.values()) staging.used = false;
    for (const step of steps) {
      const id = step.kind === 'schema' ? step.event.table : step.changes.table;
      this.currentTable = displayName(this.tables.nameOf(id));
      if (step.kind === 'schema') await this.tables.apply(step.event, step.previous);
      else await this.applyChanges(step.changes);
    }
    this.currentTable = undefined;
  }

  /** Forgets staging tables: after a rollback those created in the transaction no longer exist. */
  reset(): void {
    this.staging.clear();
  }

  private async applyChanges(changes: TableChanges): Promise<void> {
    if (changes.upserts.size === 0 && changes.deletes.size === 0) return;
    const target = await this.tables.target(changes.schema);
    const staging = await this.stagingFor(target);
    if (staging.used) await this.client.query(`TRUNCATE ${stagingName(staging)}`);
    staging.used = true;

    const copy = copyFrom(`COPY ${stagingName(staging)} FROM STDIN`);
    await pipeline(Readable.from(copyChunks(changes, target)), this.client.query(copy));

    const statements: string[] = [];
    if (changes.deletes.size > 0) statements.push(deleteSql(target, staging));
    if (changes.upserts.size > 0) statements.push(upsertSql(target, staging));
    await this.client.query(statements.join(';\n'));
  }

  private async stagingFor(target: TargetTable): Promise<StagingTable> {
    const key = `${target.name.schema}\u0000${target.name.table}`;
    const columns = target.schema.columns.map((c) => c.name);
    const layout = JSON.stringify([columns, target.columnTypes]);
    const existing = this.staging.get(key);
    if (existing !== undefined && existing.layout === layout) return existing;

    let opColumn = '_tributary_op';
    while (columns.includes(opColumn)) opColumn = `_${opColumn}`;
    const staging: StagingTable = { name: `tributary_staging_${++this.stagingCounter}`, layout, opColumn, used: false };
    const definitions = [`${quoteIdent(opColumn)} "char" NOT NULL`];
    columns.forEach((name, i) => definitions.push(`${quoteIdent(name)} ${target.columnTypes[i] ?? 'text'}`));
    const statements: string[] = [];
    if (existing !== undefined) statements.push(`DROP TABLE IF EXISTS ${stagingName(existing)}`);
    statements.push(`CREATE TEMP TABLE ${quoteIdent(staging.name)} (${definitions.join(', ')}) ON COMMIT DELETE ROWS`);
    await this.client.query(statements.join(';\n'));
    this.staging.set(key, staging);
    return staging;
  }
}

function stagingName(staging: StagingTable): string {
  return `pg_temp.${quoteIdent(staging.name)}`;
}

function deleteSql(target: TargetTable, staging: StagingTable): string {
  const match = target.schema.primaryKey.map((c) => `t.${quoteIdent(c)} = s.${quoteIdent(c)}`).join(' AND ');
  return `DELETE FROM ${qualifiedName(target.name)} AS t USING ${stagingName(staging)} AS s WHERE s.${quoteIdent(staging.opColumn)} = 'd' AND ${match}`;
}

function upsertSql(target: TargetTable, staging: StagingTable): string {
  const columns = target.schema.columns.map((c) => quoteIdent(c.name));
  const key = new Set(target.schema.primaryKey);
  const updates = target.schema.columns
    .filter((c) => !key.has(c.name))
    .map((c) => `${quoteIdent(c.name)} = EXCLUDED.${quoteIdent(c.name)}`);
  const conflict = `ON CONFLICT (${target.schema.primaryKey.map(quoteIdent).join(', ')}) ${updates.length === 0 ? 'DO NOTHING' : `DO UPDATE SET ${updates.join(', ')}`}`;
  return (
    `INSERT INTO ${qualifiedName(target.name)} (${columns.join(', ')}) ` +
    `SELECT ${columns.join(', ')} FROM ${stagingName(staging)} WHERE ${quoteIdent(staging.opColumn)} = 'u' ${conflict}`
  );
}

/**
 * The COPY text of the collapsed changes, in chunks: `u` rows carry every column, `d` rows only the key
 * (other columns NULL). A string with a NUL character fails with SINK_WRITE_FAILED naming table and column.
 */
function* copyChunks(changes: TableChanges, target: TargetTable): Generator<Buffer> {
  const width = target.schema.columns.length;
  const keyIndexes = changes.keyIndexes;
  const lines = function* (): Generator<string> {
    for (const row of changes.upserts.values()) yield encodeLine('u', row, width, undefined, target);
    for (const row of changes.deletes.values()) yield encodeLine('d', row, width, keyIndexes, target);
  };
  let parts: string[] = [];
  let size = 0;
  for (const line of lines()) {
    parts.push(line);
    size += line.length;
    if (size >= COPY_CHUNK_CHARS) {
      yield Buffer.from(parts.join(''), 'utf8');
      parts = [];
      size = 0;
    }
  }
  if (parts.length > 0) yield Buffer.from(parts.join(''), 'utf8');
}

function encodeLine(
  op: 'u' | 'd',
  row: Row,
  width: number,
  only: readonly number[] | undefined,
  target: TargetTable,
): string {
  let line = op;
  let i = 0;
  try {
    if (only === undefined) {
      for (; i < width; i++) line += '\t' + encodeCopyValue(row[i] ?? null);
    } else {
      for (; i < width; i++) line += '\t' + (only.includes(i) ? encodeCopyValue(row[i] ?? null) : COPY_NULL);
    }
  } catch (error) {
    if (error instanceof CopyNulCharacterError) {
      const column = target.schema.columns[i]?.name ?? `#${i + 1}`;
      throw new TributaryError('SINK_WRITE_FAILED', `${displayName(target.name)}.${column}: ${error.message}`, {
        hint: 'remove NUL characters at the source, or map the column to a binary type',
        retryable: false,
      });
    }
    throw error;
  }
  return line + '\n';
}
