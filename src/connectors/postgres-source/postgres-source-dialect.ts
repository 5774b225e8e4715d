import type pg from 'pg';
import type { Value } from '../../core/index.js';
import type { ChunkReader, ChunkSplitterSession, LogReader, SourceDialect } from '../source-kit/index.js';
import type { Lsn } from './pg-lsn.js';
import { PgChunkSplitter } from './postgres-chunk-splitter.js';
import type { PgTable } from './postgres-source-catalog.js';
import { PgChunkReader } from './postgres-source-snapshot.js';
import type { WalStep } from './postgres-wal-step.js';

export interface PostgresDialectOptions {
  /** A new connection (text values, the source's session settings). */
  readonly connect: () => Promise<pg.Client>;
  /** The prefix of the watermark messages; undefined when no slot streams (snapshot only). */
  readonly watermarkPrefix: string | undefined;
  readonly openLog: (from: Lsn) => Promise<LogReader<WalStep>>;
}

/** PostgreSQL for the source kit: LSNs, primary-key chunks, chunk reads between WAL watermarks. */
export function postgresSourceDialect(options: PostgresDialectOptions): SourceDialect<Lsn, WalStep, PgTable> {
  return {
    compareOffsets: (a, b) => (a < b ? -1 : a > b ? 1 : 0),
    openLog: options.openLog,
    async openReader(): Promise<ChunkReader<Lsn, PgTable>> {
      return new PgChunkReader(await options.connect(), options.watermarkPrefix);
    },
    async openSplitter(): Promise<ChunkSplitterSession<PgTable>> {
      const client = await options.connect();
      return {
        splitTable: (table: PgTable, chunkSize: number, start: Value[] | null) =>
          new PgChunkSplitter(client, table, chunkSize, start),
        close: () => client.end().catch(() => undefined),
      };
    },
  };
}
