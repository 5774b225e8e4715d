/**
 * A binlog file and byte position (an event boundary), and their order. One implementation serves the
 * protocol layer and the source: these are the protocol's own names under the source's.
 */
export {
  compareBinlogPositions as compareLogPoints,
  type BinlogPosition as LogPoint,
} from './protocol/binlog-position.js';
