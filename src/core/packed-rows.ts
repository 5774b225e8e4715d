import type { ChangeEvent, SourceInfo } from './change-event.js';
import type { Row, Value } from './data-type.js';
import type { TableId } from './table-schema.js';

/**
 * How the fields of one column of {@link PackedRows} hold their values:
 * - `raw`: the bytes are the value's canonical text and hold no character that a text format escapes (integers,
 *   decimals, dates and timestamps written as the canonical value is);
 * - `text`: the bytes are the UTF-8 of the canonical string (strings, JSON, enums, times), to escape as any
 *   string;
 * - `bytes`: the bytes are the binary value itself;
 * - `decode`: no field is written as it is; {@link PackedRows.field} decodes each.
 * A single field of a `raw`, `text` or `bytes` column may still need decoding: its length says so (see
 * {@link PackedRows.fields}).
 */
export type PackedForm = 'raw' | 'text' | 'bytes' | 'decode';

/** A field's length in {@link PackedRows.fields} when the field is NULL. */
export const PACKED_NULL = -1;

/**
 * Snapshot rows still in the bytes the source read them in (MySQL's text-protocol row packets): the decoding into
 * values happens only where a stage needs the values. A sink that writes text (PostgreSQL's COPY) writes most
 * fields from these bytes as they are — the snapshot's largest cost otherwise is a JS value per field and an
 * array per row, made only to be written out again. Rows follow the table schema the source read them with.
 */
export interface PackedRows {
  readonly length: number;
  /** Columns per row. */
  readonly width: number;
  readonly forms: readonly PackedForm[];
  /** The bytes the field offsets point into. */
  readonly buffer: Buffer;
  /**
   * Per row, per column, two numbers: the field's start in {@link buffer} and its length; {@link PACKED_NULL} for
   * NULL; below −1 (−2 − its length) for a field whose bytes are not its canonical text (a zero date, a double in
   * exponent form …), which only {@link field} gives. A `decode` column's fields are all below −1 or NULL.
   */
  readonly fields: Int32Array;
  /** The value of one field, decoded as the source's general path decodes it. */
  field(row: number, column: number): Value;
  /** Row `index` decoded, exactly as the source's general path would have read it. */
  row(index: number): Row;
}

/**
 * A run of snapshot reads of one table in packed form: what `length` `read` events would say. Only stages that
 * declare they take them ({@link Operator.processPacked}, {@link Sink.writePacked}) ever see one; the runner asks
 * the source for them only when every stage after it does, and {@link unpackEvents} turns them into read events
 * for anyone else.
 */
export interface PackedReadEvent {
  readonly kind: 'packed';
  readonly table: TableId;
  readonly rows: PackedRows;
  readonly source: SourceInfo;
}

/** What a source's batch holds: change events, and packed snapshot reads where the pipeline asked for them. */
export type StreamEvent = ChangeEvent | PackedReadEvent;

/** Every row of `rows`, decoded. */
export function unpackRows(rows: PackedRows): Row[] {
  const out = new Array<Row>(rows.length);
  for (let i = 0; i < rows.length; i++) out[i] = rows.row(i);
  return out;
}

/** `events` with each packed run turned into its read events (the same array when there is none). */
export function unpackEvents(events: readonly StreamEvent[]): readonly ChangeEvent[] {
  if (!events.some((event) => event.kind === 'packed')) return events as readonly ChangeEvent[];
  const out: ChangeEvent[] = [];
  for (const event of events) {
    if (event.kind !== 'packed') {
      out.push(event);
      continue;
    }
    const { table, rows, source } = event;
    for (let i = 0; i < rows.length; i++) {
      out.push({ kind: 'data', table, op: 'read', before: null, after: rows.row(i), source });
    }
  }
  return out;
}

/** The row changes `event` stands for: a packed run's rows, else one. */
export function eventCount(event: StreamEvent): number {
  return event.kind === 'packed' ? event.rows.length : 1;
}

/** The row changes `events` stand for (see {@link eventCount}). */
export function countEvents(events: readonly StreamEvent[]): number {
  let count = 0;
  for (const event of events) count += eventCount(event);
  return count;
}
