import { BIGINT, VARCHAR, type DuckDBConnection } from '@duckdb/node-api';
import { TributaryError } from '../../core/errors.js';
import type { OperatorState } from '../../core/operator.js';
import type { Checkpoint } from '../../core/sink.js';
import type { SourcePosition } from '../../core/source.js';
import { qualifiedName, type DuckdbTableName } from './duckdb-ddl.js';

/**
 * The checkpoint table: one row per pipeline holding the last committed checkpoint, with the source position
 * and the operators' state (the sink tables' schemas, see src/core/operator.ts) as JSON. {@link save} runs inside the commit's transaction, so the row and the data it vouches for become
 * visible together, or neither does.
 *
 * ```sql
 * CREATE TABLE tributary.checkpoints (
 *   pipeline      VARCHAR PRIMARY KEY,
 *   checkpoint_id BIGINT NOT NULL,
 *   position      JSON NOT NULL,
 *   committed_at  TIMESTAMPTZ NOT NULL,
 *   operators     JSON               -- null in checkpoints of releases before operators had state
 * )
 * ```
 */
export class DuckdbCheckpointStore {
  constructor(
    private readonly connection: DuckDBConnection,
    readonly table: DuckdbTableName,
  ) {}

  /** SQL that creates the table if missing (the schema is created by the caller). */
  createSql(): string {
    return (
      `CREATE TABLE IF NOT EXISTS ${qualifiedName(this.table)} (\n` +
      '  pipeline VARCHAR PRIMARY KEY,\n' +
      '  checkpoint_id BIGINT NOT NULL,\n' +
      '  position JSON NOT NULL,\n' +
      '  committed_at TIMESTAMPTZ NOT NULL,\n' +
      '  operators JSON\n' +
      ')'
    );
  }

  /** Adds `operators` to a checkpoint table created by an earlier release. */
  migrateSql(): string {
    return `ALTER TABLE ${qualifiedName(this.table)} ADD COLUMN IF NOT EXISTS operators JSON`;
  }

  async load(pipeline: string): Promise<Checkpoint | null> {
    const reader = await this.connection.runAndReadAll(
      `SELECT checkpoint_id, CAST(position AS VARCHAR), epoch_us(committed_at), CAST(operators AS VARCHAR) FROM ${qualifiedName(this.table)} WHERE pipeline = $1`,
      [pipeline],
      [VARCHAR],
    );
    const row = reader.getRows()[0];
    if (row === undefined) return null;
    const [id, position, micros, operators] = row;
    if (
      typeof id !== 'bigint' ||
      typeof position !== 'string' ||
      typeof micros !== 'bigint' ||
      (operators !== null && typeof operators !== 'string')
    ) {
      throw new TributaryError(
        'STATE_CORRUPT',
        `the checkpoint row of ${pipeline} in ${qualifiedName(this.table)} is malformed`,
        {
          hint: 'run with --reset to start over with a new snapshot, or restore the checkpoint table',
        },
      );
    }
    return {
      pipeline,
      id: Number(id),
      position: JSON.parse(position) as SourcePosition,
      committedAt: new Date(Number(micros / 1000n)).toISOString(),
      ...(operators === null ? {} : { operators: JSON.parse(operators) as (OperatorState | null)[] }),
    };
  }

  async remove(pipeline: string): Promise<void> {
    await this.connection.run(`DELETE FROM ${qualifiedName(this.table)} WHERE pipeline = $1`, [pipeline], [VARCHAR]);
  }

  async save(checkpoint: Checkpoint): Promise<void> {
    await this.connection.run(
      `INSERT INTO ${qualifiedName(this.table)} (pipeline, checkpoint_id, position, committed_at, operators) ` +
        'VALUES ($1, $2, CAST($3 AS JSON), CAST($4 AS TIMESTAMPTZ), CAST($5 AS JSON)) ' +
        'ON CONFLICT (pipeline) DO UPDATE SET checkpoint_id = EXCLUDED.checkpoint_id, ' +
        'position = EXCLUDED.position, committed_at = EXCLUDED.committed_at, operators = EXCLUDED.operators',
      [
        checkpoint.pipeline,
        BigInt(checkpoint.id),
        JSON.stringify(checkpoint.position),
        checkpoint.committedAt,
        checkpoint.operators === undefined ? null : JSON.stringify(checkpoint.operators),
      ],
      [VARCHAR, BIGINT, VARCHAR, VARCHAR, VARCHAR],
    );
  }
}
