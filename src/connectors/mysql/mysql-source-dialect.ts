import type { Connection } from 'mysql2/promise';
import type { Value } from '../../core/index.js';
import type {
  ChunkReader,
  ChunkSplitterSession,
  LogReader,
  SourceDialect,
  TableChunkSplitter,
} from '../source-kit/index.js';
import type { BinlogStep } from './mysql-binlog-step.js';
import { MysqlChunkSplitter } from './mysql-chunk-splitter.js';
import { endMysqlConnection } from './mysql-errors.js';
import { compareLogPoints, type LogPoint } from './mysql-log-point.js';
import type { MysqlTable } from './mysql-schema-reader.js';
import { MysqlSnapshotReader } from './mysql-snapshot-reader.js';

export interface MysqlDialectOptions {
  /** A new connection (with the source's settings and guards). */
  readonly connect: () => Promise<Connection>;
  readonly flavor: 'mariadb' | 'mysql';
  /** Chunk rows stay packed (see Source.packReads). */
  readonly pack?: boolean;
  /** Opens the binlog reader at `from` (it knows the fingerprint and the tables). */
  readonly openLog: (from: LogPoint) => Promise<LogReader<BinlogStep>>;
}

/** MySQL / MariaDB for the source kit: binlog positions, primary-key chunks, chunk reads between watermarks. */
export function mysqlSourceDialect(options: MysqlDialectOptions): SourceDialect<LogPoint, BinlogStep, MysqlTable> {
  return {
    compareOffsets: compareLogPoints,
    openLog: options.openLog,
    // MariaDB's consistent snapshot reports its binlog position, and the reader takes it at or after the position
    // the source has pulled (MysqlSnapshotReader.startSnapshotAfter). MySQL's chunk is read between two watermarks.
    chunksHoldPulledSteps: options.flavor === 'mariadb',
    async openReader(): Promise<ChunkReader<LogPoint, MysqlTable>> {
      const conn = await options.connect();
      const reader = new MysqlSnapshotReader(conn, options.flavor, options.pack === true);
      try {
        await reader.prepare();
      } catch (error) {
        await endMysqlConnection(conn);
        throw error;
      }
      return reader;
    },
    async openSplitter(): Promise<ChunkSplitterSession<MysqlTable>> {
      const conn = await options.connect();
      try {
        // Key boundaries are read and compared as the chunk readers see them: TIMESTAMP keys as UTC text.
        await conn.query("SET SESSION time_zone = '+00:00'");
      } catch (error) {
        await endMysqlConnection(conn);
        throw error;
      }
      return {
        splitTable: (table: MysqlTable, chunkSize: number, start: Value[] | null): TableChunkSplitter<MysqlTable> =>
          new MysqlChunkSplitter(conn, table, chunkSize, start),
        close: () => endMysqlConnection(conn),
      };
    },
  };
}
