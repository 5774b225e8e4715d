import type { Value } from '../../../core/data-type.js';
import { plural } from '../../../core/plural.js';
import { EventType, ROWS_STMT_END_F } from './binlog-constants.js';
import type { BinlogEventHeader, OtherEvent, RowsEvent, TableMap, TableMapEvent } from './binlog-event.js';
import { binlogProtocolError } from './binlog-errors.js';
import { ByteCursor } from './byte-cursor.js';
import type { ColumnInfo } from './canonical-types.js';
import { inflateMariadbPayload } from './mariadb-compression.js';
import { allColumnsPresent, prepareRowDecoder, type RowDecoder } from './row-decoder.js';
import { decodeTableMap } from './table-map-decoder.js';

/** What the caller tells the decoder about the tables it captures. */
export interface TableResolver {
  /**
   * Canonical columns of a table (see `prepareRowDecoder`); undefined → derived from the table map. Called
   * when the first rows event after a new table map arrives, so the caller has seen every event before it.
   * Return the same array again for an unchanged table: the prepared decoder is then reused.
   */
  columnsFor?:
    ((database: string, table: string, qualifiedName: string) => readonly ColumnInfo[] | undefined) | undefined;
  /** Tables whose rows events are not decoded at all: they come out as `other` events. */
  includeTable?: ((database: string, table: string) => boolean) | undefined;
}

const MAX_CACHED_TABLES = 4096;

/** A table id's current table map and (once rows arrive) its prepared row decoder. */
interface TableEntry {
  readonly map: TableMap;
  /** The table-map body, to recognise the identical map the server sends before every statement. */
  readonly body: Buffer;
  readonly included: boolean;
  /** `database.table` (see `RowsEvent.qualifiedName`). */
  readonly qualifiedName: string;
  decoder: RowDecoder | undefined;
  columns: readonly ColumnInfo[] | undefined;
}

/** Table maps by table id, with their prepared row decoders. */
export class TableMapCache {
  private readonly entries = new Map<number, TableEntry>();

  constructor(private readonly resolver: TableResolver = {}) {}

  get size(): number {
    return this.entries.size;
  }

  /** The table map with this id, if one has been seen. */
  get(tableId: number): TableMap | undefined {
    return this.entries.get(tableId)?.map;
  }

  clear(): void {
    this.entries.clear();
  }

  /** Decodes a TABLE_MAP body [pos, end) and records it; an identical repeat keeps the prepared decoder. */
  tableMap(
    header: BinlogEventHeader,
    buf: Buffer,
    pos: number,
    end: number,
    tableIdSize: number,
    flavor: 'mariadb' | 'mysql' = 'mysql',
  ): TableMapEvent {
    const tableId = tableIdSize === 6 ? buf.readUIntLE(pos, 6) : buf.readUInt32LE(pos);
    const previous = this.entries.get(tableId);
    const body = buf.subarray(pos, end);
    let map: TableMap;
    if (previous !== undefined && previous.body.equals(body)) {
      map = previous.map;
    } else {
      map = decodeTableMap(buf, pos, end, tableIdSize, flavor);
      const included = this.resolver.includeTable?.(map.database, map.table) ?? true;
      this.entries.set(tableId, {
        map,
        body: Buffer.from(body),
        included,
        qualifiedName: `${map.database}.${map.table}`,
        decoder: undefined,
        columns: undefined,
      });
    }
    return { kind: 'tableMap', header, map };
  }

  /** Decodes a rows event (v1, v2 and MariaDB compressed forms); the body is [19, end). */
  rows(header: BinlogEventHeader, buf: Buffer, end: number, tableIdSize: number): RowsEvent | OtherEvent {
    const type = header.type;
    const c = new ByteCursor(buf, 19, end);
    const tableId = tableIdSize === 6 ? c.u48() : c.u32();
    const flags = c.u16();
    const v2 =
      type === EventType.WRITE_ROWS_V2 ||
      type === EventType.UPDATE_ROWS_V2 ||
      type === EventType.DELETE_ROWS_V2 ||
      type >= EventType.WRITE_ROWS_COMPRESSED_V2;
    if (v2) c.skip(c.u16() - 2); // extra data, its length counting itself
    const count = c.packed();
    const bitmapBytes = (count + 7) >> 3;
    const action = rowsAction(type);
    const present = presentBitmap(c, count, bitmapBytes);
    const presentAfter = action === 'update' ? presentBitmap(c, count, bitmapBytes) : undefined;

    const entry = this.entries.get(tableId);
    if (entry === undefined) {
      // MySQL 5.1 ended statements with a dummy rows event for table id 0x00ffffff.
      if (tableId === 0xffffff && (flags & ROWS_STMT_END_F) !== 0) return { kind: 'other', header, type };
      throw binlogProtocolError(
        `rows event for table id ${tableId} without its table map (the stream must start at a transaction boundary)`,
      );
    }
    if (!entry.included) return { kind: 'other', header, type };
    const map = entry.map;
    if (map.columnTypes.length !== count) {
      throw binlogProtocolError(
        `rows event of ${map.database}.${map.table} has ${plural(count, 'column')}, its table map ${map.columnTypes.length}`,
      );
    }
    const decoder = this.decoderOf(entry);

    let rowsBuf = buf;
    let start = c.pos;
    let rowsEnd = end;
    if (type >= EventType.WRITE_ROWS_COMPRESSED_V1 && type <= EventType.DELETE_ROWS_COMPRESSED_V2) {
      try {
        rowsBuf = inflateMariadbPayload(buf, start, end);
      } catch (error) {
        throw binlogProtocolError(`cannot inflate a compressed rows event: ${(error as Error).message}`, error);
      }
      start = 0;
      rowsEnd = rowsBuf.length;
    }
    const rows: Value[][] = [];
    const partial = decoder.decodeRows(rowsBuf, start, rowsEnd, present, presentAfter, rows);
    // Every statement sends its table maps again, so at a statement end stale ids (tables reopened by DDL or
    // FLUSH) can be forgotten without losing one still needed.
    if ((flags & ROWS_STMT_END_F) !== 0 && this.entries.size > MAX_CACHED_TABLES) this.entries.clear();
    return {
      kind: 'rows',
      header,
      action,
      tableId,
      database: map.database,
      table: map.table,
      qualifiedName: entry.qualifiedName,
      rows,
      partial,
      flags,
    };
  }

  private decoderOf(entry: TableEntry): RowDecoder {
    const columns = this.resolver.columnsFor?.(entry.map.database, entry.map.table, entry.qualifiedName);
    if (entry.decoder === undefined || columns !== entry.columns) {
      entry.decoder = prepareRowDecoder(entry.map, columns);
      entry.columns = columns;
    }
    return entry.decoder;
  }
}

/**
 * The next columns-present bitmap of a rows event (`bytes` long, for `count` columns): where every column is present
 * (a FULL row image, nearly always) one shared array of ones, else a view of it — no view per event.
 */
function presentBitmap(c: ByteCursor, count: number, bytes: number): Uint8Array {
  const at = c.pos;
  c.skip(bytes);
  if (!allColumnsPresent(c.buf, at, count)) return c.buf.subarray(at, at + bytes);
  return (ALL_PRESENT[bytes] ??= new Uint8Array(bytes).fill(0xff));
}

/** All-ones bitmaps by length (see {@link presentBitmap}); never written. */
const ALL_PRESENT: Uint8Array[] = [];

function rowsAction(type: number): RowsEvent['action'] {
  switch (type) {
    case EventType.WRITE_ROWS_V1:
    case EventType.WRITE_ROWS_V2:
    case EventType.WRITE_ROWS_COMPRESSED_V1:
    case EventType.WRITE_ROWS_COMPRESSED_V2:
      return 'insert';
    case EventType.UPDATE_ROWS_V1:
    case EventType.UPDATE_ROWS_V2:
    case EventType.UPDATE_ROWS_COMPRESSED_V1:
    case EventType.UPDATE_ROWS_COMPRESSED_V2:
      return 'update';
    default:
      return 'delete';
  }
}
