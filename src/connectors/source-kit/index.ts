/**
 * The source kit: what every change-data-capture source shares — the DBLog merge of a log with snapshot
 * chunks, their scheduling, progress and resume — behind a small dialect a database implements.
 */
export { BatchTables } from './batch-tables.js';
export { changeIndexText } from './change-index.js';
export {
  ChangedKeys,
  ChunkWindow,
  decodedRows,
  isPacked,
  keyString,
  tableKeyOf,
  type ChunkRange,
  type ChunkRows,
  type SnapshotChunk,
  type SnapshotTable,
} from './chunk-window.js';
export { RepairJobs, type ChunkRepair, type RepairRange } from './repair-jobs.js';
export { DblogMerge, type DblogMergeOptions, type DblogMergeStart } from './dblog-merge.js';
export { SnapshotCoordinator, type ChunkTicket, type SnapshotCoordinatorOptions } from './snapshot-coordinator.js';
export {
  addTables,
  decodeKey,
  doneChunkAt,
  encodeKey,
  markChunkDone,
  removeTables,
  startSnapshot,
  type ChunkBounds,
  type JsonValue,
  type SnapshotProgress,
  type TableSnapshotProgress,
} from './snapshot-progress.js';
export {
  stepBefore,
  stepPosition,
  type ChunkReader,
  type ChunkSplitterSession,
  type LogReader,
  type LogStep,
  type SourceDialect,
  type TableChunkSplitter,
} from './source-dialect.js';
