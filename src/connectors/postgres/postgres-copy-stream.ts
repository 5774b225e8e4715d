import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import type pg from 'pg';
import { from as copyFrom } from 'pg-copy-streams';
import type { Row } from '../../core/data-type.js';
import { TributaryError } from '../../core/errors.js';
import { PACKED_NULL, type PackedRows } from '../../core/packed-rows.js';
import type { TableSchema } from '../../core/table-schema.js';
import { COPY_NULL, CopyNulCharacterError, encodeCopyValue } from './postgres-copy-encoder.js';
import { CopyTextWriter } from './postgres-copy-writer.js';
import { isRow } from '../sink-kit/change-buffer.js';

/** COPY data is handed to the socket in pieces of about this many characters: few writes, bounded memory. */
const COPY_CHUNK_CHARS = 1 << 20;

/**
 * Runs `sql` (a `COPY … FROM STDIN` in text format) with `lines`, each ending in a newline. The lines are
 * produced lazily and sent in ~1 MB pieces, so only one piece is in memory at a time.
 */
export async function copyLines(client: pg.Client, sql: string, lines: Iterable<string>): Promise<void> {
  await pipeline(Readable.from(chunks(lines)), client.query(copyFrom(sql)));
}

/** Rows of one kind for {@link copyRows}, and how one of them is written as COPY text. */
export interface CopyRowSet<T> {
  readonly rows: Iterable<T>;
  /** Writes the row's line, newline included (see {@link writeRowFields}). */
  readonly append: (out: CopyTextWriter, row: T) => void;
}

/**
 * Runs `sql` (a `COPY … FROM STDIN` in text format) with the rows of each set in turn, sent in pieces of ~64 KB
 * as they are written. Each row's fields are written as bytes straight into the piece being built
 * ({@link CopyTextWriter}), with no string per field, line or piece.
 */
export async function copyRows<T>(client: pg.Client, sql: string, sets: readonly CopyRowSet<T>[]): Promise<void> {
  await pipeline(Readable.from(rowChunks(sets)), client.query(copyFrom(sql)));
}

/**
 * Runs `sql` — statements holding one `COPY … FROM STDIN` (text format) per entry of `copies`, in that order — and
 * sends the rows of every COPY right behind the query, each COPY's ended by CopyDone, without waiting for the
 * server's CopyInResponse: the whole query costs one round trip, however many tables it fills. (The server reads
 * the rows of a COPY when it reaches it. After an error it skips the rest of the query and drops the COPY data
 * still coming — "any subsequent CopyData, CopyDone, or CopyFail messages issued by the frontend will simply be
 * dropped", protocol docs, COPY operations.) Rejects with the server's error, or with the error of writing a
 * row (a NUL character), after which the COPY being sent is failed with CopyFail. Sent in pieces as they are written
 * (each COPY's first rows go out while the rest are written), with the socket's back-pressure.
 */
export function copyPipelined<T>(
  client: pg.Client,
  sql: string,
  copies: readonly (readonly CopyRowSet<T>[])[],
): Promise<void> {
  return new Promise<void>((resolve, reject) => {
    client.query(new PipelinedCopy(sql, copies, resolve, reject));
  });
}

/** The pg "submittable" of {@link copyPipelined}: pg hands it the server's answers to its query. */
class PipelinedCopy<T> {
  /** Set when the query is over for us: the server failed it or the rows could not be written. */
  private failed = false;
  private rowError: unknown;

  constructor(
    private readonly text: string,
    private readonly copies: readonly (readonly CopyRowSet<T>[])[],
    private readonly resolve: () => void,
    private readonly reject: (error: unknown) => void,
  ) {}

  submit(connection: pg.Connection): void {
    connection.query(this.text);
    const stream = (connection as unknown as { stream: NodeJS.WritableStream & NodeJS.EventEmitter }).stream;
    this.pump(stream).catch((error: unknown) => {
      // The socket failed under us; pg fails the query too, whichever comes first is reported.
      if (this.failed) return;
      this.failed = true;
      this.reject(error);
    });
  }

  private async pump(stream: NodeJS.WritableStream & NodeJS.EventEmitter): Promise<void> {
    const out = writerOf(stream);
    out.discard(); // what an earlier COPY on this connection left when it was given up
    for (const sets of this.copies) {
      try {
        for (const piece of rowPieces(out, sets)) {
          if (this.failed) return;
          if (!writeCopyData(stream, piece)) await drained(stream);
          // Failed meanwhile: the next query's COPY may be writing into `out` now.
          if (this.failed) return;
        }
      } catch (error) {
        if (this.failed) return;
        this.rowError = error;
        stream.write(copyFail(error instanceof Error ? error.message : String(error)));
        return;
      }
      if (this.failed) return;
      stream.write(COPY_DONE);
    }
  }

  handleError(error: unknown): void {
    this.failed = true;
    this.reject(this.rowError ?? error);
  }

  handleReadyForQuery(): void {
    if (this.failed) return;
    this.failed = true; // nothing more to send either way
    if (this.rowError !== undefined) this.reject(this.rowError);
    else this.resolve();
  }

  handleCommandComplete(): void {}
  handleCopyInResponse(): void {}
  handleRowDescription(): void {}
  handleDataRow(): void {}
  handleEmptyQuery(): void {}
  handlePortalSuspended(): void {}
  handleCopyData(): void {}
  /** Replaced by pg when a query timeout is configured. */
  callback(): void {}
}

/**
 * The COPY text writer of a connection's socket: its pieces are views of a buffer written on from COPY to COPY
 * (see {@link CopyTextWriter}). One query runs at a time on a connection, and a pump whose query failed writes
 * nothing more, so two COPYs never write into it at once.
 */
function writerOf(stream: object): CopyTextWriter {
  let writer = writers.get(stream);
  if (writer === undefined) {
    writer = new CopyTextWriter();
    writers.set(stream, writer);
  }
  return writer;
}

const writers = new WeakMap<object, CopyTextWriter>();

/** Writes one CopyData message; false when the socket asks to wait for 'drain'. */
function writeCopyData(stream: NodeJS.WritableStream, piece: Buffer): boolean {
  const header = Buffer.allocUnsafe(5);
  header[0] = 0x64; // 'd'
  header.writeUInt32BE(piece.length + 4, 1);
  stream.write(header);
  return stream.write(piece);
}

function drained(stream: NodeJS.WritableStream & NodeJS.EventEmitter): Promise<void> {
  return new Promise((resolve) => {
    const done = () => {
      stream.off('drain', done);
      stream.off('close', done);
      resolve();
    };
    stream.once('drain', done);
    stream.once('close', done);
  });
}

/** CopyDone: 'c', length 4. */
const COPY_DONE = Buffer.from([0x63, 0, 0, 0, 4]);

/** CopyFail with `message`: the server fails the COPY with it. */
function copyFail(message: string): Buffer {
  const text = Buffer.from(`${message.replaceAll('\0', '')}\0`, 'utf8');
  const header = Buffer.allocUnsafe(5);
  header[0] = 0x66; // 'f'
  header.writeUInt32BE(text.length + 4, 1);
  return Buffer.concat([header, text]);
}

function* chunks(lines: Iterable<string>): Generator<Buffer> {
  let text = '';
  for (const line of lines) {
    text += line;
    if (text.length >= COPY_CHUNK_CHARS) {
      yield Buffer.from(text, 'utf8');
      text = '';
    }
  }
  if (text.length > 0) yield Buffer.from(text, 'utf8');
}

function rowChunks<T>(sets: readonly CopyRowSet<T>[]): Generator<Buffer> {
  return rowPieces(new CopyTextWriter(), sets);
}

/**
 * The COPY text of the rows of each set, written into `out` and handed on in pieces (see {@link CopyTextWriter}),
 * the last one short. An array of rows is walked by index: `for … of` inside a generator allocates an iterator
 * result per row.
 */
function* rowPieces<T>(out: CopyTextWriter, sets: readonly CopyRowSet<T>[]): Generator<Buffer> {
  for (const { rows, append } of sets) {
    if (Array.isArray(rows)) {
      const list = rows as readonly T[];
      for (let i = 0; i < list.length; i++) {
        append(out, list[i]!);
        if (out.hasFullPiece()) yield* out.take();
      }
      continue;
    }
    for (const row of rows) {
      append(out, row);
      if (out.hasFullPiece()) yield* out.take();
    }
  }
  yield* out.take();
}

/**
 * The COPY fields of `row` (tab-separated, no leading tab), all columns of `schema` or, with `only`, just
 * those (the others NULL). A string with a NUL character fails with SINK_WRITE_FAILED naming the table
 * (`where`, as messages show it) and the column.
 */
export function copyRowFields(row: Row, schema: TableSchema, where: string, only?: readonly number[]): string {
  return appendRowFields('', row, schema, where, only);
}

/** `text` followed by {@link copyRowFields} of the row (no newline). */
export function appendRowFields(
  text: string,
  row: Row,
  schema: TableSchema,
  where: string,
  only?: readonly number[],
): string {
  const width = schema.columns.length;
  let i = 0;
  try {
    for (; i < width; i++) {
      if (i > 0) text += '\t';
      text += only === undefined || only.includes(i) ? encodeCopyValue(row[i] ?? null) : COPY_NULL;
    }
  } catch (error) {
    if (error instanceof CopyNulCharacterError) throw nulError(error, where, schema.columns[i]?.name ?? `#${i + 1}`);
    throw error;
  }
  return text;
}

/** Writes {@link copyRowFields} of the row (no newline) to `out`. */
export function writeRowFields(
  out: CopyTextWriter,
  row: Row,
  schema: TableSchema,
  where: string,
  only?: readonly number[],
): void {
  const width = schema.columns.length;
  let i = 0;
  try {
    for (; i < width; i++) {
      if (i > 0) out.char(TAB);
      if (only === undefined || only.includes(i)) out.value(row[i] ?? null);
      else out.ascii(COPY_NULL);
    }
  } catch (error) {
    if (error instanceof CopyNulCharacterError) throw nulError(error, where, schema.columns[i]?.name ?? `#${i + 1}`);
    throw error;
  }
}

const TAB = 0x09;
const NEWLINE = 0x0a;

/** Rows of a packed run per {@link PackedSlice}: a piece can go out between two slices. */
const PACKED_SLICE_ROWS = 256;

/** Rows `[from, to)` of a packed run, written by one call of {@link writePackedRows}. */
export interface PackedSlice {
  readonly packed: PackedRows;
  readonly from: number;
  readonly to: number;
}

/**
 * `reads` with each packed run cut into slices of {@link PACKED_SLICE_ROWS} rows, for a {@link CopyRowSet}: the
 * set's pieces are handed on between rows, and a whole chunk written in one call would go out only at its end.
 */
export function sliceRuns(
  reads: readonly (Row | PackedRows)[],
  rowsPerSlice = PACKED_SLICE_ROWS,
): readonly (Row | PackedSlice)[] {
  if (reads.every(isRow)) return reads;
  const out: (Row | PackedSlice)[] = [];
  for (const read of reads) {
    if (isRow(read)) {
      out.push(read);
      continue;
    }
    for (let from = 0; from < read.length; from += rowsPerSlice) {
      out.push({ packed: read, from, to: Math.min(read.length, from + rowsPerSlice) });
    }
  }
  return out;
}

/**
 * Writes the COPY lines of packed snapshot rows ({@link PackedRows}) straight from their bytes: the same bytes as
 * {@link writeRowFields} of each decoded row, newline included. Fields not written as they were read (a `decode`
 * column, a field marked for decoding, text that is not valid UTF-8) are decoded one by one and written as values.
 */
export function writePackedRows(
  out: CopyTextWriter,
  rows: PackedRows,
  schema: TableSchema,
  where: string,
  from = 0,
  to = rows.length,
): void {
  const { buffer, fields, forms, width } = rows;
  if (width !== schema.columns.length) {
    throw new TributaryError(
      'INTERNAL',
      `${where}: packed rows of ${width} columns for a table of ${schema.columns.length}`,
    );
  }
  let column = 0;
  try {
    for (let r = from, f = from * width * 2; r < to; r++) {
      for (column = 0; column < width; column++, f += 2) {
        if (column > 0) out.char(TAB);
        const length = fields[f + 1]!;
        if (length === PACKED_NULL) {
          out.ascii(COPY_NULL);
          continue;
        }
        if (length >= 0) {
          const start = fields[f]!;
          switch (forms[column]) {
            case 'raw':
              out.bytes(buffer, start, start + length);
              continue;
            case 'text':
              if (out.utf8Text(buffer, start, start + length)) continue;
              break;
            case 'bytes':
              out.hex(buffer, start, start + length);
              continue;
          }
        }
        out.value(rows.field(r, column));
      }
      out.char(NEWLINE);
    }
  } catch (error) {
    if (error instanceof CopyNulCharacterError) {
      throw nulError(error, where, schema.columns[column]?.name ?? `#${column + 1}`);
    }
    throw error;
  }
}

/** SINK_WRITE_FAILED (not retryable) for a NUL character in `where`.`column`. */
export function nulError(error: CopyNulCharacterError, where: string, column: string): TributaryError {
  return new TributaryError('SINK_WRITE_FAILED', `${where}.${column}: ${error.message}`, {
    hint: 'remove NUL characters at the source, or map the column to a binary type',
    retryable: false,
  });
}
