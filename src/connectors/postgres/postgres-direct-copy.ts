import type pg from 'pg';
import { copyPipelined, type CopyRowSet } from './postgres-copy-stream.js';
import { qualifiedName, quoteIdent } from './postgres-ddl.js';
import type { TargetTable } from './postgres-target-tables.js';

/*
 * A direct COPY: rows that are most likely new to a target table (snapshot reads, inserts) COPYed straight into
 * it inside a savepoint instead of through a staging table — half the server's work. A key that exists already
 * rolls the savepoint back and the caller writes the rows its usual way, so the result is the same either way.
 * Both the upsert and the merge write modes use it.
 */

/** The savepoint around a direct COPY (released or rolled back before the next statement). */
const SAVEPOINT = 'tributary_direct_copy';
/** SQLSTATE unique_violation: a key of a direct COPY exists in the target already. */
const UNIQUE_VIOLATION = '23505';
/** SQLSTATE feature_not_supported: COPY FROM refuses a table whose row-level security applies to the role. */
const FEATURE_NOT_SUPPORTED = '0A000';
/**
 * Direct COPYs per transaction, at most. Each one is a subtransaction with its own XID, and PostgreSQL caches
 * only 64 of them per backend (PGPROC_MAX_CACHED_SUBXIDS); past that, every other session's snapshot checks
 * (and a hot standby's) look transactions up in pg_subtrans, which slows readers of the sink.
 */
const MAX_DIRECT_PER_TRANSACTION = 48;
/** After a conflict a table's next direct COPYs are skipped for this many batches, doubling up to the maximum. */
const FIRST_BACKOFF = 16;
const MAX_BACKOFF = 1024;

/** COPY into the target itself, every column in target order. */
function directCopySql(target: TargetTable): string {
  const columns = target.schema.columns.map((c) => quoteIdent(c.name)).join(', ');
  return `COPY ${qualifiedName(target.name)} (${columns}) FROM STDIN`;
}

/** What COPYs inside a savepoint came to: all made, or rolled back on an existing key or a table refusing COPY. */
export type SavepointCopyOutcome = 'copied' | 'conflict' | 'refused';

/** A target table and the rows to COPY straight into it. */
export interface DirectCopy<T> {
  readonly target: TargetTable;
  readonly rows: CopyRowSet<T>;
}

/**
 * COPYs each set of rows straight into its target inside one savepoint — `SAVEPOINT; COPY a; COPY b; …; RELEASE`
 * as one query, the rows sent right behind it ({@link copyPipelined}): one round trip and one subtransaction. On a
 * key that existed already (unique violation, 23505) or a table that refuses COPY (row-level security) the rest of
 * the query is skipped and the savepoint rolled back: nothing of any of the COPYs remains, and the caller writes
 * the rows its usual way. Any other error is thrown.
 */
export async function copyInSavepoint<T>(
  client: pg.Client,
  savepoint: string,
  copies: readonly DirectCopy<T>[],
): Promise<SavepointCopyOutcome> {
  const sql = [
    `SAVEPOINT ${savepoint}`,
    ...copies.map(({ target }) => directCopySql(target)),
    `RELEASE SAVEPOINT ${savepoint}`,
  ].join('; ');
  try {
    await copyPipelined(
      client,
      sql,
      copies.map(({ rows }) => [rows]),
    );
    return 'copied';
  } catch (error) {
    const code = (error as { code?: unknown } | null)?.code;
    if (code !== UNIQUE_VIOLATION && code !== FEATURE_NOT_SUPPORTED) throw error;
    await client.query(`ROLLBACK TO SAVEPOINT ${savepoint}; RELEASE SAVEPOINT ${savepoint}`);
    return code === UNIQUE_VIOLATION ? 'conflict' : 'refused';
  }
}

/**
 * COPYs `rows` straight into the target ({@link copyInSavepoint}), as `policy` allows and learns from. False when
 * the savepoint was rolled back: the caller writes the rows its usual way.
 */
export async function copyDirect<T>(
  client: pg.Client,
  policy: DirectCopyPolicy,
  target: TargetTable,
  rows: CopyRowSet<T>,
): Promise<boolean> {
  policy.started();
  const outcome = await copyInSavepoint(client, SAVEPOINT, [{ target, rows }]);
  if (outcome === 'conflict') policy.conflicted(target);
  else if (outcome === 'refused') policy.refused(target);
  else policy.succeeded(target);
  return outcome === 'copied';
}

/**
 * When to try a direct COPY: not after one of the table's recent attempts conflicted (a snapshot over a filled
 * target, or keys the binlog inserted before their chunk was read, would otherwise pay twice per batch), and
 * not past the transaction's budget of subtransactions.
 */
export class DirectCopyPolicy {
  private inTransaction = 0;
  /** Per table (`schema\0table`): batches still to skip, and the skip after the next conflict. */
  private readonly tables = new Map<string, { skip: number; backoff: number }>();

  /** Whether the transaction may take one more subtransaction. */
  hasBudget(): boolean {
    return this.inTransaction < MAX_DIRECT_PER_TRANSACTION;
  }

  shouldTry(target: TargetTable): boolean {
    if (!this.hasBudget()) return false;
    const state = this.tables.get(keyOf(target));
    if (state === undefined || state.skip === 0) return true;
    state.skip--;
    return false;
  }

  started(): void {
    this.inTransaction++;
  }

  conflicted(target: TargetTable): void {
    const key = keyOf(target);
    const backoff = Math.min(Math.max(FIRST_BACKOFF, (this.tables.get(key)?.backoff ?? 0) * 2), MAX_BACKOFF);
    this.tables.set(key, { skip: backoff, backoff });
  }

  /** The table cannot take a COPY (row-level security): never again on this connection. */
  refused(target: TargetTable): void {
    this.tables.set(keyOf(target), { skip: Number.POSITIVE_INFINITY, backoff: Number.POSITIVE_INFINITY });
  }

  succeeded(target: TargetTable): void {
    const key = keyOf(target);
    const state = this.tables.get(key);
    if (state === undefined) return;
    if (state.backoff <= FIRST_BACKOFF) this.tables.delete(key);
    else state.backoff /= 2;
  }

  endTransaction(): void {
    this.inTransaction = 0;
  }
}

function keyOf(target: TargetTable): string {
  return `${target.name.schema}\u0000${target.name.table}`;
}
