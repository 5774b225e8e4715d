import type pg from 'pg';
import type { Checkpoint } from '../../core/sink.js';
import type { SourcePosition } from '../../core/source.js';
import { qualifiedName, type PostgresTableName } from './postgres-ddl.js';

/**
 * The checkpoint table: one row per pipeline holding the last committed checkpoint, with the source position
 * as jsonb. {@link save} runs inside the commit's transaction, so the row and the data it vouches for become
 * visible together, or neither does.
 *
 * ```sql
 * CREATE TABLE tributary.checkpoints (
 *   pipeline      text PRIMARY KEY,
 *   checkpoint_id bigint NOT NULL,
 *   position      jsonb NOT NULL,
 *   committed_at  timestamptz NOT NULL
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
      '  committed_at timestamptz NOT NULL\n' +
      ')'
    );
  }

  async load(pipeline: string): Promise<Checkpoint | null> {
    const result = await this.client.query<{ checkpoint_id: string; position: SourcePosition; committed_at: Date }>(
      `SELECT checkpoint_id, position, committed_at FROM ${qualifiedName(this.table)} WHERE pipeline = $1`,
      [pipeline],
    );
    const row = result.rows[0];
    if (row === undefined) return null;
    return {
      pipeline,
      id: Number(row.checkpoint_id),
      position: row.position,
      committedAt: row.committed_at.toISOString(),
    };
  }

  async remove(pipeline: string): Promise<void> {
    await this.client.query(`DELETE FROM ${qualifiedName(this.table)} WHERE pipeline = $1`, [pipeline]);
  }

  async save(checkpoint: Checkpoint): Promise<void> {
    await this.client.query(
      `INSERT INTO ${qualifiedName(this.table)} (pipeline, checkpoint_id, position, committed_at) ` +
        'VALUES ($1, $2, $3::jsonb, $4::timestamptz) ' +
        'ON CONFLICT (pipeline) DO UPDATE SET checkpoint_id = EXCLUDED.checkpoint_id, ' +
        'position = EXCLUDED.position, committed_at = EXCLUDED.committed_at',
      [checkpoint.pipeline, checkpoint.id, JSON.stringify(checkpoint.position), checkpoint.committedAt],
    );
  }
}
