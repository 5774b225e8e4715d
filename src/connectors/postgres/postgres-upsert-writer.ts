import type pg from 'pg';
import type { StreamEvent } from '../../core/packed-rows.js';
import { ChangeBuffer, isRow, type TableChanges } from '../sink-kit/change-buffer.js';
import {
  copyPipelined,
  sliceRuns,
  writePackedRows,
  writeRowFields,
  type CopyRowSet,
  type PackedSlice,
} from './postgres-copy-stream.js';
import type { Row } from '../../core/data-type.js';
import { displayName, qualifiedName, quoteIdent } from './postgres-ddl.js';
import { copyDirect, copyInSavepoint, DirectCopyPolicy } from './postgres-direct-copy.js';
import type { PostgresModeWriter } from './postgres-mode-writer.js';
import type { PostgresStagingTables, StagingTable } from './postgres-staging-tables.js';
import type { PostgresTargetTables, TargetTable } from './postgres-target-tables.js';

/**
 * Write mode `upsert`: each batch is applied as it arrives, inside the open transaction. The batch is
 * collapsed per table and key (an `ON CONFLICT` statement may not touch one row twice), COPYed into a TEMP
 * staging table, and applied with one round trip: `DELETE … USING staging` for keys whose last state in the
 * batch is absent, `INSERT … SELECT … ON CONFLICT (key) DO UPDATE` for the rest. Memory is bounded by the
 * batch; the commit only adds the checkpoint row. (COPY into staging measured faster than one
 * `INSERT … SELECT FROM unnest($1::…[], …)` with array parameters, by up to a quarter for larger batches.)
 *
 * A table's batch without updates (snapshot reads and inserts: keys most likely new to the target) skips the
 * staging table: after its deletes, its rows are COPYed straight into the target inside a savepoint — half the
 * server work. If a key exists already (unique violation) the savepoint is rolled back and the rows take the
 * staging path, so the result is the same either way; the table then skips direct COPYs for a while. A table
 * this session created and has not written to since (a snapshot's new tables) is COPYed into together with the
 * others of its batch, under one savepoint, in one round trip: see {@link copyFresh}. A direct COPY is one query
 * too; the staging path two (the INSERT … ON CONFLICT in the COPY's query measured several times slower).
 */
export class PostgresUpsertWriter implements PostgresModeWriter {
  private readonly buffer = new ChangeBuffer();
  /** Staging tables holding rows of an earlier batch of this transaction, to be emptied before reuse. */
  private readonly used = new Set<string>();
  private readonly direct = new DirectCopyPolicy();
  currentTable: string | undefined;

  constructor(
    private readonly client: pg.Client,
    private readonly tables: PostgresTargetTables,
    private readonly staging: PostgresStagingTables,
    /**
     * Sink option `buffer.max-rows`: inserts, updates and deletes wait in {@link buffer} (collapsed per key) until
     * {@link flush} or until this many rows wait; 0: each batch is written as it arrives.
     */
    private readonly holdRows = 0,
  ) {}

  /**
   * Writes `events` — or, with {@link holdRows}, keeps them for later when they are row changes alone and fewer
   * than that many rows wait. Schema changes and snapshot reads are written at once, with what waits before them.
   * Packed snapshot reads of a fresh table or a direct COPY are written from their bytes.
   */
  async write(events: readonly StreamEvent[]): Promise<void> {
    this.buffer.add(events);
    if (this.holdRows > 0 && events.every(isRowChange) && this.buffer.rows() < this.holdRows) return;
    await this.writeBuffered();
  }

  /** Writes what {@link buffer} holds. */
  private async writeBuffered(): Promise<void> {
    // Runs for fresh tables wait here to go out together (copyFresh), before any other statement.
    let fresh: FreshRun[] = [];
    for (const step of this.buffer.drain()) {
      if (step.kind === 'schema') {
        await this.copyFresh(fresh);
        fresh = [];
        this.currentTable = displayName(this.tables.nameOf(step.event.table));
        await this.tables.apply(step.event, step.previous);
        continue;
      }
      const changes = step.changes;
      if (changes.upsertCount === 0 && changes.deletes.size === 0) continue;
      this.currentTable = displayName(this.tables.nameOf(changes.table));
      const target = await this.tables.target(changes.schema);
      // Asked of every run, so that a table's first write of any kind ends its freshness.
      const isFresh = this.tables.takeFresh(target.name);
      if (isFresh && changes.insertsOnly && changes.deletes.size === 0 && changes.upsertCount > 0) {
        if (fresh.length > 0 || this.direct.hasBudget()) {
          fresh.push({ target, changes });
          continue;
        }
      }
      await this.copyFresh(fresh);
      fresh = [];
      this.currentTable = displayName(target.name);
      await this.applyChecked(target, changes);
    }
    await this.copyFresh(fresh);
    this.currentTable = undefined;
  }

  async flush(): Promise<void> {
    // The changes held back (buffer.max-rows) go into this transaction, before its checkpoint.
    if (this.buffer.pending() > 0) await this.writeBuffered();
    // ON COMMIT DELETE ROWS empties the staging tables with the commit.
    this.used.clear();
    this.direct.endTransaction();
  }

  rollback(): void {
    this.buffer.drain();
    this.used.clear();
    this.direct.endTransaction();
  }

  restart(): void {
    this.buffer.reset();
    this.used.clear();
    this.direct.endTransaction();
  }

  /** A run the way every table but a fresh one is written: direct COPY in a savepoint, or staging. */
  private async applyChecked(target: TargetTable, changes: TableChanges): Promise<void> {
    const direct = changes.insertsOnly && changes.upsertCount > 0 && this.direct.shouldTry(target);
    if (!direct) return await this.viaStaging(target, changes, { upserts: true, deletes: true });
    await this.viaStaging(target, changes, { upserts: false, deletes: true });
    if (!(await copyDirect(this.client, this.direct, target, directRows(target, changes)))) {
      await this.viaStaging(target, changes, { upserts: true, deletes: false });
    }
  }

  /**
   * COPYs the runs of tables this session created and has not written to since (see
   * {@link PostgresTargetTables.takeFresh}) straight into them: only another session's rows, or a key twice in a
   * snapshot chunk as PostgreSQL compares keys, can make such a COPY fail. All of them go out as one query —
   * `SAVEPOINT; COPY a; COPY b; …; RELEASE` with every table's rows sent right behind it — one round trip and one
   * subtransaction for the lot, instead of ~2 round trips and a subtransaction per table. When a COPY fails on
   * a key (or a table refuses COPY), the savepoint is rolled back, undoing all of them, and each run is written
   * again the checked way ({@link applyChecked}): the same result, and the transaction goes on.
   */
  private async copyFresh(runs: readonly FreshRun[]): Promise<void> {
    if (runs.length === 0) return;
    this.direct.started();
    const names = runs.map(({ target }) => displayName(target.name));
    this.currentTable =
      names.length <= 3 ? names.join(', ') : `${names.slice(0, 3).join(', ')} … (${names.length} tables)`;
    const copies = runs.map(({ target, changes }) => ({ target, rows: directRows(target, changes) }));
    if ((await copyInSavepoint(this.client, FRESH_SAVEPOINT, copies)) === 'copied') return;
    for (const { target, changes } of runs) {
      this.currentTable = displayName(target.name);
      await this.applyChecked(target, changes);
    }
  }

  /** COPYs the chosen sets into the staging table and applies them: deletes first, then upserts. */
  private async viaStaging(
    target: TargetTable,
    changes: TableChanges,
    sets: { readonly upserts: boolean; readonly deletes: boolean },
  ): Promise<void> {
    const withUpserts = sets.upserts && changes.upsertCount > 0;
    const withDeletes = sets.deletes && changes.deletes.size > 0;
    if (!withUpserts && !withDeletes) return;
    const staging = await this.staging.for(target);
    // Emptied only when reused within a transaction: a commit per batch (a quiet source) then never pays for a
    // TRUNCATE, which gives a table written before the transaction a new file.
    const statements: string[] = [];
    if (this.used.has(staging.sql)) statements.push(`TRUNCATE ${staging.sql}`);
    this.used.add(staging.sql);

    const where = displayName(target.name);
    const keyIndexes = changes.keyIndexes;
    const schema = changes.schema;
    const rows: CopyRowSet<Row>[] = [];
    if (withUpserts) {
      rows.push({
        rows: changes.upserts.values(),
        append: (out, row) => {
          out.ascii('\\N\tu\t');
          writeRowFields(out, row, schema, where);
          out.char(NEWLINE);
        },
      });
    }
    if (withDeletes) {
      rows.push({
        rows: changes.deletes.values(),
        append: (out, row) => {
          out.ascii('\\N\td\t');
          writeRowFields(out, row, schema, where, keyIndexes);
          out.char(NEWLINE);
        },
      });
    }
    // TRUNCATE and COPY as one query, the rows right behind it; then the statements that apply the staged rows.
    statements.push(`COPY ${staging.sql} FROM STDIN`);
    await copyPipelined(this.client, statements.join(';\n'), [rows]);
    const apply: string[] = [];
    if (withDeletes) apply.push(deleteSql(staging));
    if (withUpserts) apply.push(upsertSql(staging));
    await this.client.query(apply.join(';\n'));
  }
}

/** The upserts as COPY lines for the target itself. */
function directRows(target: TargetTable, changes: TableChanges): CopyRowSet<Row | PackedSlice> {
  const where = displayName(target.name);
  const schema = changes.schema;
  const reads = changes.uncollapsedReads;
  return {
    // A snapshot chunk's reads as they came (a packed run written from its bytes, slice by slice): a key twice
    // would be a unique violation, and the staging path.
    rows: reads !== undefined ? sliceRuns(reads) : changes.upserts.values(),
    append: (out, read) => {
      if (!isRow(read)) return writePackedRows(out, read.packed, schema, where, read.from, read.to);
      writeRowFields(out, read, schema, where);
      out.char(NEWLINE);
    },
  };
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

/** The savepoint around the direct COPYs into fresh tables (see copyFresh), released by the same query. */
const FRESH_SAVEPOINT = 'tributary_fresh_copy';

/** A run for a fresh table, waiting to go out with the others of its batch. */
interface FreshRun {
  readonly target: TargetTable;
  readonly changes: TableChanges;
}

const NEWLINE = 0x0a;

/** An insert, update or delete: what {@link PostgresUpsertWriter} may hold back (not a schema change or a read). */
function isRowChange(event: StreamEvent): boolean {
  return event.kind === 'data' && event.op !== 'read';
}
