import type pg from 'pg';
import type { OperatorState } from '../../core/operator.js';
import type { Checkpoint } from '../../core/sink.js';
import type { SourcePosition } from '../../core/source.js';
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
 * and the operators' state (the sink tables' schemas, see src/core/operator.ts) as jsonb. {@link save} runs inside the commit's transaction, so the row and the data it vouches for become
 * visible together, or neither does.
 *
 * ```sql
 * CREATE TABLE tributary.checkpoints (
 *   pipeline      text PRIMARY KEY,
 *   checkpoint_id bigint NOT NULL,
 *   position      jsonb NOT NULL,
 *   committed_at  timestamptz NOT NULL,
 *   last_seq      bigint,            -- append mode only
 *   operators     jsonb              -- null in checkpoints of releases before operators had state
 * )
 * ```
 */
export class PostgresCheckpointStore {
  constructor(
    private readonly client: pg.Client,
    readonly table: PostgresTableName,
  ) {}

  /** SQL that creates the table if missing (the schema is created by the caller). */
  createSql(): string {
    return (
      `CREATE TABLE IF NOT EXISTS ${qualifiedName(this.table)} (\n` +
      '  pipeline text PRIMARY KEY,\n' +
      '  checkpoint_id bigint NOT NULL,\n' +
      '  position jsonb NOT NULL,\n' +
      '  committed_at timestamptz NOT NULL,\n' +
      '  last_seq bigint,\n' +
      '  operators jsonb\n' +
      ')'
    );
  }

  /**
   * Adds the columns that a checkpoint table created by an earlier release lacks: `operators`, and `last_seq`
   * (append mode) when `withSequence`. Checked first: ALTER TABLE needs ownership even when the column is there.
   */
  async ensureColumns(withSequence: boolean): Promise<void> {
    const table = await readCatalogTable(this.client, this.table);
    if (table === undefined) return;
    const wanted = withSequence ? ['operators jsonb', 'last_seq bigint'] : ['operators jsonb'];
    for (const column of wanted) {
      const [name = ''] = column.split(' ');
      if (table.columns.some((c) => c.name === name)) continue;
      await this.client.query(`ALTER TABLE ${qualifiedName(this.table)} ADD COLUMN IF NOT EXISTS ${column}`);
    }
  }

  /** `withOperators` false: a table of a release before operators had state (read-only callers do not add it). */
  async load(pipeline: string, withSequence: boolean, withOperators = true): Promise<StoredCheckpoint | null> {
    const result = await this.client.query<{
      checkpoint_id: string;
      position: SourcePosition;
      committed_at: Date;
      last_seq: string | null;
      operators: (OperatorState | null)[] | null;
    }>(
      `SELECT checkpoint_id, position, committed_at, ${withSequence ? 'last_seq::text' : 'NULL'} AS last_seq, ${withOperators ? 'operators' : 'NULL AS operators'} ` +
        `FROM ${qualifiedName(this.table)} WHERE pipeline = $1`,
      [pipeline],
    );
    const row = result.rows[0];
    if (row === undefined) return null;
    return {
      checkpoint: {
        pipeline,
        id: Number(row.checkpoint_id),
        position: row.position,
        committedAt: row.committed_at.toISOString(),
        ...(row.operators === null ? {} : { operators: row.operators }),
      },
      lastSeq: Number(row.last_seq ?? 0),
    };
  }

  async remove(pipeline: string): Promise<void> {
    await this.client.query(`DELETE FROM ${qualifiedName(this.table)} WHERE pipeline = $1`, [pipeline]);
  }

  /** Upserts the pipeline's row; `lastSeq` only in append mode (other modes leave the column as it is). */
  async save(checkpoint: Checkpoint, lastSeq?: number): Promise<void> {
    const values: unknown[] = [
      checkpoint.pipeline,
      checkpoint.id,
      JSON.stringify(checkpoint.position),
      checkpoint.committedAt,
      checkpoint.operators === undefined ? null : JSON.stringify(checkpoint.operators),
    ];
    const seq = lastSeq !== undefined;
    if (seq) values.push(lastSeq);
    await this.client.query(
      `INSERT INTO ${qualifiedName(this.table)} (pipeline, checkpoint_id, position, committed_at, operators${seq ? ', last_seq' : ''}) ` +
        `VALUES ($1, $2, $3::jsonb, $4::timestamptz, $5::jsonb${seq ? ', $6' : ''}) ` +
        'ON CONFLICT (pipeline) DO UPDATE SET checkpoint_id = EXCLUDED.checkpoint_id, position = EXCLUDED.position, ' +
        `committed_at = EXCLUDED.committed_at, operators = EXCLUDED.operators${seq ? ', last_seq = EXCLUDED.last_seq' : ''}`,
      values,
    );
  }
}
