import type pg from 'pg';
import { tableIdToString, type Row, type Value } from '../../core/index.js';
import type { ChunkRange, ChunkReader, SnapshotChunk } from '../source-kit/index.js';
import { parseLsn, type Lsn } from './pg-lsn.js';
import { keyAfter, keyAtMost } from './postgres-chunk-splitter.js';
import { quoteIdent, quoteTable, type PgTable } from './postgres-source-catalog.js';
import { valueError } from './postgres-source-types.js';

/**
 * Reads one chunk at a time on its own connection, between two watermarks written into the WAL with
 * `pg_logical_emit_message` (non-transactional, so they are decoded where they lie in the WAL, between the
 * transactions committed before and after them): the low watermark, then the chunk in a short REPEATABLE READ
 * transaction (its snapshot is taken by the SELECT), then the high watermark. Every transaction committed before
 * the low watermark is visible to the SELECT; every one committed after the high is not. No lock beyond a plain
 * SELECT's ACCESS SHARE.
 *
 * With `watermarks` off (snapshot only: no slot streams them) each chunk is consistent on its own, and the
 * watermarks are 0.
 */
/** How long a chunk waits for the transactions in progress at its low watermark (see awaitCommitting). */
const COMMITTING_WAIT_MS = 500;
/** How long it waits, beyond that, for one the commit log says committed but snapshots do not see yet. */
const COMMITTED_WAIT_MS = 10_000;

export class PgChunkReader implements ChunkReader<Lsn, PgTable> {
  /** Transactions found running longer than {@link COMMITTING_WAIT_MS}: not waited for by later chunks. */
  private readonly longRunning = new Set<string>();

  constructor(
    private readonly client: pg.Client,
    /** The prefix of the messages (`tributary:<slot>`), or undefined for none. */
    private readonly watermarkPrefix: string | undefined,
  ) {}

  async readChunk(range: ChunkRange<PgTable>, onHigh: (high: Lsn) => void): Promise<SnapshotChunk<Lsn, PgTable>> {
    const low = await this.watermark('low');
    if (this.watermarkPrefix !== undefined) await this.awaitCommitting();
    await this.client.query('BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY');
    let rows: Row[];
    try {
      rows = await readRows(this.client, range);
    } finally {
      await this.client.query('COMMIT');
    }
    const high = await this.watermark('high');
    onHigh(high);
    return { range, rows, low, high };
  }

  async close(): Promise<void> {
    await this.client.end().catch(() => undefined);
  }

  /**
   * Waits (briefly) for the transactions in progress now to end. A transaction's commit record is written to the
   * WAL before the transaction becomes visible to new snapshots; one caught between the two when the low
   * watermark was written lies before the watermark in the WAL (the stream delivers it before the chunk's window)
   * and yet would be invisible to the chunk's snapshot, which would then deliver an older row after the stream's
   * newer one. Such a transaction ends within moments, and once every transaction in progress after the low
   * watermark has ended, the chunk's snapshot sees every one committed before it. A transaction still running
   * after {@link COMMITTING_WAIT_MS} is a long one, not a committing one: it is not waited for (again) — unless the
   * commit log already says it committed (`txid_status`): then it is one whose backend was descheduled between
   * the two steps of a commit on a loaded machine, and it is waited for up to {@link COMMITTED_WAIT_MS} (the
   * conformance suite's "snapshot under writes" caught a key's older row after its newer one once more under a full
   * CI run with a busy loop beside it, at 500 ms).
   *
   * "Ended" is asked of a new snapshot (the server's list of running transactions, what the chunk's snapshot
   * will be taken from), not of `txid_status`: the commit log says `committed` as soon as the commit record is
   * flushed, before the transaction leaves that list, and a chunk read in between — a backend descheduled there
   * on a loaded machine — missed the transaction (source-conformance "snapshot under writes": a key's older row
   * after its newer one).
   *
   * A transaction whose session is idle in it (`pg_stat_activity`, matched by its xid) is not committing: its
   * commit record, when it comes, lies after the low watermark. It is not waited for — each batch of a sink on the
   * same server (another database: the list is the whole server's) holds one open between its statements, and
   * chunks waited the full 500 ms for it (an initial snapshot of 200,000 rows took 3.0–3.2 s instead of 2.2–2.6).
   * A session the reader may not see (another role's, without `pg_read_all_stats`) shows no xid: waited for.
   */
  private async awaitCommitting(): Promise<void> {
    const snapshot = await this.client.query<{ xid: string }>(
      'SELECT txid_snapshot_xip(txid_current_snapshot())::text AS xid',
    );
    let xids = snapshot.rows.map((r) => r.xid).filter((x) => !this.longRunning.has(x));
    const start = Date.now();
    let deadline = start + COMMITTING_WAIT_MS;
    while (xids.length > 0) {
      const open = await this.client.query<{ xid: string }>(
        `SELECT x::text AS xid FROM unnest($1::bigint[]) AS x
          WHERE NOT txid_visible_in_snapshot(x, txid_current_snapshot())
            AND NOT EXISTS (SELECT 1 FROM pg_stat_activity a
              WHERE a.backend_xid::text::bigint = x % 4294967296
                AND a.state IN ('idle in transaction', 'idle in transaction (aborted)'))`,
        [xids],
      );
      xids = open.rows.map((r) => r.xid);
      if (xids.length === 0) return;
      if (Date.now() >= deadline) {
        // Still invisible: running long, or committed in the commit log and not yet visible (wait for those).
        const committed = await this.client.query<{ xid: string }>(
          "SELECT x::text AS xid FROM unnest($1::bigint[]) AS x WHERE txid_status(x) = 'committed'",
          [xids],
        );
        const committing = new Set(committed.rows.map((r) => r.xid));
        if (this.longRunning.size > 10_000) this.longRunning.clear();
        for (const xid of xids) if (!committing.has(xid)) this.longRunning.add(xid);
        xids = xids.filter((x) => committing.has(x));
        if (xids.length === 0 || Date.now() >= start + COMMITTING_WAIT_MS + COMMITTED_WAIT_MS) return;
        deadline = start + COMMITTING_WAIT_MS + COMMITTED_WAIT_MS;
      }
      await new Promise((resolve) => setTimeout(resolve, 2));
    }
  }

  /**
   * Writes a watermark into the WAL. The high one is pushed to the stream at once: a non-transactional message is
   * not flushed by itself, and the walsender sends it only after the next WAL flush — on a quiet server, or one whose
   * writers commit asynchronously, the WAL writer's next round (`wal_writer_delay`, 200 ms). Every chunk waited that
   * long (5,000 rows in 50-row chunks: 12 s instead of 1), and the snapshot of a table growing faster than that under
   * a writer never ended. A transactional message committed with a local flush right after it (in the same round
   * trip) brings the stream to the watermark within milliseconds; measured, neither a flushed commit without a
   * decoded change (`txid_current()`) nor a transactional message without the flush did. The stream skips
   * transactional messages.
   */
  private async watermark(which: 'low' | 'high'): Promise<Lsn> {
    const prefix = this.watermarkPrefix;
    if (prefix === undefined) return 0n;
    if (which === 'low') {
      const result = await this.client.query<{ lsn: string }>(
        'SELECT pg_logical_emit_message(false, $1, $2)::text AS lsn',
        [prefix, which],
      );
      return parseLsn(result.rows[0]!.lsn);
    }
    const literal = this.client.escapeLiteral(prefix);
    let results: pg.QueryResult<{ lsn: string }>[];
    try {
      results = (await this.client.query(
        `BEGIN; SET LOCAL synchronous_commit TO local; ` +
          `SELECT pg_logical_emit_message(false, ${literal}, 'high')::text AS lsn; ` +
          `SELECT pg_logical_emit_message(true, ${literal}, 'push'); COMMIT`,
      )) as unknown as pg.QueryResult<{ lsn: string }>[];
    } catch (error) {
      await this.client.query('ROLLBACK').catch(() => undefined); // a failed statement leaves the block open
      throw error;
    }
    return parseLsn(results[2]!.rows[0]!.lsn);
  }
}

async function readRows(client: pg.Client, range: ChunkRange<PgTable>): Promise<Row[]> {
  const { table } = range;
  const columns = table.schema.columns.map((c) => quoteIdent(c.name)).join(', ');
  const where: string[] = [];
  const values: string[] = [];
  if (range.lo) where.push(keyAfter(table.schema.primaryKey, range.lo.map(String), values));
  if (range.hi) where.push(keyAtMost(table.schema.primaryKey, range.hi.map(String), values));
  const result = await client.query<(string | null)[]>({
    text: `SELECT ${columns} FROM ${quoteTable(table.schema.id)}${where.length ? ` WHERE ${where.join(' AND ')}` : ''}`,
    values,
    rowMode: 'array',
  });
  const name = tableIdToString(table.schema.id);
  return result.rows.map((row) => convertRow(row, table, name));
}

/** A row of server texts → canonical values, by the table's converters (the stream uses the same ones). */
export function convertRow(texts: readonly (string | null)[], table: PgTable, name: string): Value[] {
  const out: Value[] = new Array<Value>(texts.length);
  for (let i = 0; i < texts.length; i++) {
    const text = texts[i];
    if (text === null || text === undefined) {
      out[i] = null;
      continue;
    }
    try {
      out[i] = table.types[i]!.convert(text);
    } catch (error) {
      throw valueError(error, name, table.schema.columns[i]!.name);
    }
  }
  return out;
}
