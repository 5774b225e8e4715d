import type pg from 'pg';
import { TributaryError } from '../../core/errors.js';
import type { OperatorState } from '../../core/operator.js';
import type { Checkpoint } from '../../core/sink.js';
import type { SourcePosition } from '../../core/source.js';
import {
  ChunkLedger,
  chunkBytes,
  chunkCheckpoint,
  joinCheckpoint,
  type CheckpointWrite,
  type ChunkedCheckpoint,
} from '../../core/checkpoint-chunks.js';
import { readCatalogTable } from './postgres-catalog.js';
import { qualifiedName, type PostgresTableName } from './postgres-ddl.js';

/** A pipeline's row of the checkpoint table. */
export interface StoredCheckpoint {
  readonly checkpoint: Checkpoint;
  /** Append mode: the last `_seq` written into a changelog by the pipeline (0 when none). */
  readonly lastSeq: number;
}

/**
 * The checkpoint table: one row per pipeline holding the last committed checkpoint, with the source position
 * and the operators' state (the sink tables' schemas, see src/core/operator.ts) as jsonb. Their bulky parts
 * (schema history, snapshot progress, operators' state from a few KiB on) are content-addressed chunks in a
 * second table, written only when no earlier checkpoint stored them, and listed in order in `bulk`
 * (src/core/checkpoint-chunks.ts); the row keeps a marker `{"$chunked": <bytes>}` in their place.
 * {@link save} runs inside the commit's transaction — row, new chunks, and the deletion of chunks nothing
 * references any more — so the row, its chunks and the data they vouch for become visible together, or none.
 *
 * ```sql
 * CREATE TABLE tributary.checkpoints (
 *   pipeline      text PRIMARY KEY,
 *   checkpoint_id bigint NOT NULL,
 *   position      jsonb NOT NULL,
 *   committed_at  timestamptz NOT NULL,
 *   last_seq      bigint,            -- append mode only
 *   operators     jsonb,             -- null in checkpoints of releases before operators had state
 *   bulk          jsonb,             -- chunk ids in order; null in checkpoints of releases before chunks
 *   fence         numeric            -- scale-out apply workers: the largest fencing token that opened the
 *                                    -- pipeline; null: no fence (one process per pipeline)
 * )
 * CREATE TABLE tributary.checkpoints_chunks (
 *   pipeline text NOT NULL,
 *   chunk    text NOT NULL,          -- content hash of body
 *   body     text NOT NULL,          -- a piece of the bulk's JSON
 *   PRIMARY KEY (pipeline, chunk)
 * )
 * ```
 */
export class PostgresCheckpointStore {
  /** The table of the bulk's chunks: the checkpoint table's name with `_chunks`. */
  readonly chunkTable: PostgresTableName;
  /** The chunks stored for the pipeline as of the last committed checkpoint (set by {@link load}). */
  private ledger = new ChunkLedger();
  /** What the transaction in progress stores, for {@link committed}. */
  private saving: ChunkedCheckpoint | undefined;
  /** What the last {@link save} wrote. */
  lastWrite: CheckpointWrite | undefined;

  constructor(
    private readonly client: pg.Client,
    readonly table: PostgresTableName,
  ) {
    this.chunkTable = { schema: table.schema, table: `${table.table}_chunks` };
  }

  /** SQL that creates the tables if missing (the schema is created by the caller). */
  createSql(): string {
    return (
      `CREATE TABLE IF NOT EXISTS ${qualifiedName(this.table)} (\n` +
      '  pipeline text PRIMARY KEY,\n' +
      '  checkpoint_id bigint NOT NULL,\n' +
      '  position jsonb NOT NULL,\n' +
      '  committed_at timestamptz NOT NULL,\n' +
      '  last_seq bigint,\n' +
      '  operators jsonb,\n' +
      '  bulk jsonb,\n' +
      '  fence numeric\n' +
      ');\n' +
      `CREATE TABLE IF NOT EXISTS ${qualifiedName(this.chunkTable)} (\n` +
      '  pipeline text NOT NULL,\n' +
      '  chunk text NOT NULL,\n' +
      '  body text NOT NULL,\n' +
      '  PRIMARY KEY (pipeline, chunk)\n' +
      ')'
    );
  }

  /**
   * Adds the columns that a checkpoint table created by an earlier release lacks: `operators`, `bulk`,
   * `last_seq` (append mode) when `withSequence`, and `fence` when `withFence`. Checked first: ALTER TABLE needs
   * ownership even when the column is there.
   */
  async ensureColumns(withSequence: boolean, withFence = false): Promise<void> {
    const table = await readCatalogTable(this.client, this.table);
    if (table === undefined) return;
    const wanted = [
      'operators jsonb',
      'bulk jsonb',
      ...(withSequence ? ['last_seq bigint'] : []),
      ...(withFence ? ['fence numeric'] : []),
    ];
    for (const column of wanted) {
      const [name = ''] = column.split(' ');
      if (table.columns.some((c) => c.name === name)) continue;
      await this.client.query(`ALTER TABLE ${qualifiedName(this.table)} ADD COLUMN IF NOT EXISTS ${column}`);
    }
  }

  /**
   * Has the chunks' bodies compressed with lz4 where the server can (PostgreSQL 14 or later, built with lz4) and the
   * column still uses the default (pglz). A SQL job writes its state's delta, a megabyte or more, at every commit:
   * pglz took ~25 of the ~50 ms that write cost, lz4 a fraction of it, and the table ends smaller than without
   * compression. A server that refuses (an older one, a Postgres-compatible warehouse, a table owned by someone
   * else) keeps pglz: the same data, a little slower.
   */
  async preferLz4(): Promise<void> {
    try {
      const found = await this.client.query<{ compression: string }>(
        "SELECT attcompression::text AS compression FROM pg_attribute WHERE attrelid = to_regclass($1) AND attname = 'body'",
        [qualifiedName(this.chunkTable)],
      );
      if (found.rows[0]?.compression !== '') return;
      await this.client.query(`ALTER TABLE ${qualifiedName(this.chunkTable)} ALTER COLUMN body SET COMPRESSION lz4`);
    } catch {
      // pglz it stays (see above).
    }
  }

  /**
   * The pipeline's checkpoint, its bulk joined back from the chunks, and which chunks are stored (for the next
   * {@link save}). `columns`: what a read-only caller found in a table of an earlier release (`operators`,
   * `bulk`); the others have called {@link ensureColumns}.
   */
  async load(
    pipeline: string,
    withSequence: boolean,
    columns: { operators: boolean; bulk: boolean } = { operators: true, bulk: true },
  ): Promise<StoredCheckpoint | null> {
    this.ledger = new ChunkLedger();
    this.saving = undefined;
    const result = await this.client.query<{
      checkpoint_id: string;
      position: SourcePosition | null;
      committed_at: Date;
      last_seq: string | null;
      operators: (OperatorState | null)[] | null;
      bulk: string[] | null;
    }>(
      `SELECT checkpoint_id, position, committed_at, ${withSequence ? 'last_seq::text' : 'NULL'} AS last_seq, ` +
        `${columns.operators ? 'operators' : 'NULL AS operators'}, ${columns.bulk ? 'bulk' : 'NULL AS bulk'} ` +
        `FROM ${qualifiedName(this.table)} WHERE pipeline = $1`,
      [pipeline],
    );
    // Every chunk of the pipeline: after a commit exactly those its row lists (the commit deletes the others).
    const chunks = new Map<string, string>();
    if (columns.bulk) {
      const stored = await this.client.query<{ chunk: string; body: string }>(
        `SELECT chunk, body FROM ${qualifiedName(this.chunkTable)} WHERE pipeline = $1`,
        [pipeline],
      );
      for (const { chunk, body } of stored.rows) chunks.set(chunk, body);
      this.ledger = new ChunkLedger(chunks.keys());
    }
    const row = result.rows[0];
    // No row, or only the fence of an owner that has committed nothing yet (see raiseFence).
    if (row === undefined || row.position === null) return null;
    const head: Checkpoint = {
      pipeline,
      id: Number(row.checkpoint_id),
      position: row.position,
      committedAt: row.committed_at.toISOString(),
      ...(row.operators === null ? {} : { operators: row.operators }),
    };
    let checkpoint: Checkpoint;
    try {
      checkpoint = joinCheckpoint(head, row.bulk, (id) => chunks.get(id));
    } catch (error) {
      throw new TributaryError(
        'STATE_CORRUPT',
        `the checkpoint of ${pipeline} in ${qualifiedName(this.table)} cannot be read: ${(error as Error).message} ` +
          `(${qualifiedName(this.chunkTable)})`,
        { cause: error, hint: 'restore both checkpoint tables from a backup, or run with --reset to start over' },
      );
    }
    return { checkpoint, lastSeq: Number(row.last_seq ?? 0) };
  }

  /**
   * Stores `token` as the pipeline's fence unless a larger one is stored, in a statement of its own (committed
   * before the caller reads the checkpoint), and returns the fence stored now. Without a row yet it inserts a
   * fence-only one (`checkpoint_id` 0, `position` JSON null), which {@link load} reads as no checkpoint. The
   * upsert locks the row: an earlier owner's commit in flight either committed before this (and its position
   * is read next) or, waiting behind it, finds the larger fence and is refused by {@link save}.
   */
  async raiseFence(pipeline: string, token: bigint): Promise<bigint> {
    const result = await this.client.query<{ fence: string }>(
      `INSERT INTO ${qualifiedName(this.table)} AS c (pipeline, checkpoint_id, position, committed_at, fence) ` +
        "VALUES ($1, 0, 'null'::jsonb, now(), $2::numeric) " +
        'ON CONFLICT (pipeline) DO UPDATE SET fence = GREATEST(c.fence, EXCLUDED.fence) RETURNING c.fence::text AS fence',
      [pipeline, token.toString()],
    );
    return BigInt(result.rows[0]?.fence ?? token.toString());
  }

  /** The pipeline's stored fence, read without waiting for locks; undefined: none. */
  async storedFence(pipeline: string): Promise<bigint | undefined> {
    const result = await this.client.query<{ fence: string | null }>(
      `SELECT fence::text AS fence FROM ${qualifiedName(this.table)} WHERE pipeline = $1`,
      [pipeline],
    );
    const fence = result.rows[0]?.fence;
    return fence === null || fence === undefined ? undefined : BigInt(fence);
  }

  /** Deletes the pipeline's row and chunks. */
  async remove(pipeline: string): Promise<void> {
    await this.client.query(`DELETE FROM ${qualifiedName(this.table)} WHERE pipeline = $1`, [pipeline]);
    await this.client.query(`DELETE FROM ${qualifiedName(this.chunkTable)} WHERE pipeline = $1`, [pipeline]);
    this.ledger.clear();
  }

  /**
   * Upserts the pipeline's row, writes the chunks of its bulk that are not stored yet and deletes those it no
   * longer references, inside the caller's transaction; call {@link committed} once it commits. `lastSeq` only
   * in append mode (other modes leave the column as it is). With `fenceToken` the upsert updates the row only
   * while its fence is not larger — the same statement, no extra round trip — and throws SINK_FENCED (not
   * retryable; the caller rolls back) when it is.
   */
  async save(checkpoint: Checkpoint, lastSeq?: number, fenceToken?: bigint): Promise<void> {
    const chunked = chunkCheckpoint(checkpoint);
    const { write, remove } = this.ledger.plan(chunked);
    const chunkTable = qualifiedName(this.chunkTable);
    for (let first = 0; first < write.length; first += CHUNKS_PER_INSERT) {
      const batch = write.slice(first, first + CHUNKS_PER_INSERT);
      // A VALUES list, not arrays: a text[] parameter is escaped element by element by the client and parsed back
      // by the server, which cost a 1.6 MB chunk ~100 of its ~130 ms (bench/README.md, "Seed 004 end to end").
      const rows = batch.map((_, i) => `($1, $${2 * i + 2}, $${2 * i + 3})`).join(', ');
      await this.client.query(
        `INSERT INTO ${chunkTable} (pipeline, chunk, body) VALUES ${rows} ON CONFLICT (pipeline, chunk) DO NOTHING`,
        [checkpoint.pipeline, ...batch.flat()],
      );
    }
    if (remove.length > 0) {
      await this.client.query(`DELETE FROM ${chunkTable} WHERE pipeline = $1 AND chunk = ANY($2::text[])`, [
        checkpoint.pipeline,
        remove,
      ]);
    }
    const { head } = chunked;
    const position = JSON.stringify(head.position);
    const operators = head.operators === undefined ? null : JSON.stringify(head.operators);
    const values: unknown[] = [
      checkpoint.pipeline,
      checkpoint.id,
      position,
      checkpoint.committedAt,
      operators,
      chunked.bulk.length === 0 ? null : JSON.stringify(chunked.bulk),
    ];
    const seq = lastSeq !== undefined;
    if (seq) values.push(lastSeq);
    const fenced = fenceToken !== undefined;
    if (fenced) values.push(fenceToken.toString());
    const fence = `$${values.length}::numeric`;
    const upsert = await this.client.query(
      `INSERT INTO ${qualifiedName(this.table)}${fenced ? ' AS c' : ''} (pipeline, checkpoint_id, position, committed_at, operators, bulk${seq ? ', last_seq' : ''}${fenced ? ', fence' : ''}) ` +
        `VALUES ($1, $2, $3::jsonb, $4::timestamptz, $5::jsonb, $6::jsonb${seq ? ', $7' : ''}${fenced ? `, ${fence}` : ''}) ` +
        'ON CONFLICT (pipeline) DO UPDATE SET checkpoint_id = EXCLUDED.checkpoint_id, position = EXCLUDED.position, ' +
        `committed_at = EXCLUDED.committed_at, operators = EXCLUDED.operators, bulk = EXCLUDED.bulk${seq ? ', last_seq = EXCLUDED.last_seq' : ''}` +
        (fenced ? ` WHERE c.fence IS NULL OR c.fence <= ${fence}` : ''),
      values,
    );
    if (fenced && upsert.rowCount === 0) throw fencedError(checkpoint.pipeline, fenceToken, 'commit');
    this.saving = chunked;
    const bulk = values[5] as string | null;
    this.lastWrite = {
      headBytes: Buffer.byteLength(position) + Buffer.byteLength(operators ?? '') + (bulk?.length ?? 0),
      chunksWritten: write.length,
      chunkBytes: chunkBytes(write),
      chunksRemoved: remove.length,
    };
  }

  /** The transaction of the last {@link save} committed: its chunks are the stored ones now. */
  committed(): void {
    if (this.saving !== undefined) this.ledger.committed(this.saving);
    this.saving = undefined;
  }
}

/**
 * SINK_FENCED for a fenced owner: not retryable, since a retry with the same token is refused the same way; the
 * scale-out apply worker stops the partition on it (another worker took it over).
 */
export function fencedError(pipeline: string, token: bigint, when: 'open' | 'commit'): TributaryError {
  return new TributaryError(
    'SINK_FENCED',
    `${pipeline}: another owner with a larger fencing token took the pipeline over; this one's ${when} is refused (its token: ${token})`,
    {
      retryable: false,
      hint: 'nothing to do when a scale-out apply worker was cut off longer than the lease TTL: the new owner applies the partition. Otherwise run each pipeline once',
    },
  );
}

/** Chunks per INSERT: up to ~4 MiB of parameters per statement. */
const CHUNKS_PER_INSERT = 64;
