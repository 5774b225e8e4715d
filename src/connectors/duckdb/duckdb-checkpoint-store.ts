import { BIGINT, VARCHAR, type DuckDBConnection } from '@duckdb/node-api';
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
import { qualifiedName, type DuckdbTableName } from './duckdb-ddl.js';

/**
 * The checkpoint table: one row per pipeline holding the last committed checkpoint, with the source position
 * and the operators' state (the sink tables' schemas, see src/core/operator.ts) as JSON. Their bulky parts are
 * content-addressed chunks in a second table, written only when no earlier checkpoint stored them and listed
 * in `bulk` (src/core/checkpoint-chunks.ts), as in the PostgreSQL sink. {@link save} runs inside the
 * commit's transaction, so the row, its chunks and the data they vouch for become visible together, or none.
 *
 * ```sql
 * CREATE TABLE tributary.checkpoints (
 *   pipeline      VARCHAR PRIMARY KEY,
 *   checkpoint_id BIGINT NOT NULL,
 *   position      JSON NOT NULL,
 *   committed_at  TIMESTAMPTZ NOT NULL,
 *   operators     JSON,              -- null in checkpoints of releases before operators had state
 *   bulk          JSON               -- chunk ids in order; null in checkpoints of releases before chunks
 * )
 * CREATE TABLE tributary.checkpoints_chunks (
 *   pipeline VARCHAR NOT NULL, chunk VARCHAR NOT NULL, body VARCHAR NOT NULL, PRIMARY KEY (pipeline, chunk)
 * )
 * ```
 */
export class DuckdbCheckpointStore {
  /** The table of the bulk's chunks: the checkpoint table's name with `_chunks`. */
  readonly chunkTable: DuckdbTableName;
  private ledger = new ChunkLedger();
  private saving: ChunkedCheckpoint | undefined;
  /** What the last {@link save} wrote. */
  lastWrite: CheckpointWrite | undefined;

  constructor(
    private readonly connection: DuckDBConnection,
    readonly table: DuckdbTableName,
  ) {
    this.chunkTable = { ...table, table: `${table.table}_chunks` };
  }

  /** SQL that creates the tables if missing (the schema is created by the caller). */
  createSql(): string {
    return (
      `CREATE TABLE IF NOT EXISTS ${qualifiedName(this.table)} (\n` +
      '  pipeline VARCHAR PRIMARY KEY,\n' +
      '  checkpoint_id BIGINT NOT NULL,\n' +
      '  position JSON NOT NULL,\n' +
      '  committed_at TIMESTAMPTZ NOT NULL,\n' +
      '  operators JSON,\n' +
      '  bulk JSON\n' +
      ');\n' +
      `CREATE TABLE IF NOT EXISTS ${qualifiedName(this.chunkTable)} (\n` +
      '  pipeline VARCHAR NOT NULL,\n' +
      '  chunk VARCHAR NOT NULL,\n' +
      '  body VARCHAR NOT NULL,\n' +
      '  PRIMARY KEY (pipeline, chunk)\n' +
      ')'
    );
  }

  /** Adds `operators` and `bulk` to a checkpoint table created by an earlier release. */
  migrateSql(): string {
    return (
      `ALTER TABLE ${qualifiedName(this.table)} ADD COLUMN IF NOT EXISTS operators JSON;\n` +
      `ALTER TABLE ${qualifiedName(this.table)} ADD COLUMN IF NOT EXISTS bulk JSON`
    );
  }

  /**
   * The pipeline's checkpoint, its bulk joined back from the chunks, and which chunks are stored (for the next
   * {@link save}). `withBulk` false: a table of a release before chunks (read-only callers do not add them).
   */
  async load(pipeline: string, withBulk = true): Promise<Checkpoint | null> {
    this.ledger = new ChunkLedger();
    this.saving = undefined;
    const reader = await this.connection.runAndReadAll(
      `SELECT checkpoint_id, CAST(position AS VARCHAR), epoch_us(committed_at), CAST(operators AS VARCHAR), ` +
        `${withBulk ? 'CAST(bulk AS VARCHAR)' : 'NULL'} FROM ${qualifiedName(this.table)} WHERE pipeline = $1`,
      [pipeline],
      [VARCHAR],
    );
    const chunks = new Map<string, string>();
    if (withBulk) {
      const stored = await this.connection.runAndReadAll(
        `SELECT chunk, body FROM ${qualifiedName(this.chunkTable)} WHERE pipeline = $1`,
        [pipeline],
        [VARCHAR],
      );
      for (const [chunk, body] of stored.getRows()) {
        if (typeof chunk === 'string' && typeof body === 'string') chunks.set(chunk, body);
      }
      this.ledger = new ChunkLedger(chunks.keys());
    }
    const row = reader.getRows()[0];
    if (row === undefined) return null;
    const [id, position, micros, operators, bulk] = row;
    if (
      typeof id !== 'bigint' ||
      typeof position !== 'string' ||
      typeof micros !== 'bigint' ||
      (operators !== null && typeof operators !== 'string') ||
      (bulk !== null && typeof bulk !== 'string')
    ) {
      throw new TributaryError(
        'STATE_CORRUPT',
        `the checkpoint row of ${pipeline} in ${qualifiedName(this.table)} is malformed`,
        {
          hint: 'run with --reset to start over with a new snapshot, or restore the checkpoint table',
        },
      );
    }
    const head: Checkpoint = {
      pipeline,
      id: Number(id),
      position: JSON.parse(position) as SourcePosition,
      committedAt: new Date(Number(micros / 1000n)).toISOString(),
      ...(operators === null ? {} : { operators: JSON.parse(operators) as (OperatorState | null)[] }),
    };
    try {
      return joinCheckpoint(head, bulk === null ? null : (JSON.parse(bulk) as string[]), (c) => chunks.get(c));
    } catch (error) {
      throw new TributaryError(
        'STATE_CORRUPT',
        `the checkpoint of ${pipeline} in ${qualifiedName(this.table)} cannot be read: ${(error as Error).message} ` +
          `(${qualifiedName(this.chunkTable)})`,
        { cause: error, hint: 'restore the database file from a backup, or run with --reset to start over' },
      );
    }
  }

  /** Deletes the pipeline's row and chunks. */
  async remove(pipeline: string): Promise<void> {
    await this.connection.run(`DELETE FROM ${qualifiedName(this.table)} WHERE pipeline = $1`, [pipeline], [VARCHAR]);
    await this.connection.run(
      `DELETE FROM ${qualifiedName(this.chunkTable)} WHERE pipeline = $1`,
      [pipeline],
      [VARCHAR],
    );
    this.ledger.clear();
  }

  /**
   * Upserts the pipeline's row, writes the chunks of its bulk not stored yet and deletes those it no longer
   * references, inside the caller's transaction; call {@link committed} once it commits.
   */
  async save(checkpoint: Checkpoint): Promise<void> {
    const chunked = chunkCheckpoint(checkpoint);
    const { write, remove } = this.ledger.plan(chunked);
    const chunkTable = qualifiedName(this.chunkTable);
    for (const [chunk, body] of write) {
      await this.connection.run(
        `INSERT INTO ${chunkTable} (pipeline, chunk, body) VALUES ($1, $2, $3) ON CONFLICT DO NOTHING`,
        [checkpoint.pipeline, chunk, body],
        [VARCHAR, VARCHAR, VARCHAR],
      );
    }
    for (const chunk of remove) {
      await this.connection.run(
        `DELETE FROM ${chunkTable} WHERE pipeline = $1 AND chunk = $2`,
        [checkpoint.pipeline, chunk],
        [VARCHAR, VARCHAR],
      );
    }
    const { head } = chunked;
    const position = JSON.stringify(head.position);
    const operators = head.operators === undefined ? null : JSON.stringify(head.operators);
    const bulk = chunked.bulk.length === 0 ? null : JSON.stringify(chunked.bulk);
    await this.connection.run(
      `INSERT INTO ${qualifiedName(this.table)} (pipeline, checkpoint_id, position, committed_at, operators, bulk) ` +
        'VALUES ($1, $2, CAST($3 AS JSON), CAST($4 AS TIMESTAMPTZ), CAST($5 AS JSON), CAST($6 AS JSON)) ' +
        'ON CONFLICT (pipeline) DO UPDATE SET checkpoint_id = EXCLUDED.checkpoint_id, ' +
        'position = EXCLUDED.position, committed_at = EXCLUDED.committed_at, operators = EXCLUDED.operators, ' +
        'bulk = EXCLUDED.bulk',
      [checkpoint.pipeline, BigInt(checkpoint.id), position, checkpoint.committedAt, operators, bulk],
      [VARCHAR, BIGINT, VARCHAR, VARCHAR, VARCHAR, VARCHAR],
    );
    this.saving = chunked;
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
